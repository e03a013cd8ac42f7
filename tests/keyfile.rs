//! Keyfiles through the public API of `fernchat::keyfile`, and the `keygen` binary end to end.
//!
//! Every test works in its own temporary folder and passes paths explicitly (the binary gets
//! its folder through `current_dir`), so the tests run in parallel without sharing anything.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use fernchat::crypto::{KeyError, RoomKey};
use fernchat::keyfile::{
    self, KeyfileError, KeyfileKind, KeyfileWarning, LoadedKey, Overwrite, SealParams,
};
use tempfile::TempDir;
use zeroize::Zeroizing;

/// Cheap scrypt parameters (1 MiB, milliseconds) for the tests that are not about the cost.
const FAST: SealParams = SealParams {
    log_n: 10,
    r: 8,
    p: 1,
};

fn tmp() -> TempDir {
    tempfile::tempdir().expect("a temporary folder")
}

/// The passphrase source for keyfiles that must not need one.
fn never_asked(path: &Path) -> Result<Zeroizing<String>, KeyfileError> {
    panic!("{} asked for a passphrase", path.display())
}

fn load_plain(path: &Path) -> Result<LoadedKey, KeyfileError> {
    keyfile::load(path, &mut never_asked)
}

fn load_with(path: &Path, phrase: &str) -> Result<LoadedKey, KeyfileError> {
    keyfile::load(path, &mut |_| Ok(Zeroizing::new(phrase.to_owned())))
}

fn same_key(a: &RoomKey, b: &RoomKey) -> bool {
    a.expose_secret() == b.expose_secret() && a.fingerprint() == b.fingerprint()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Writes `text` as a keyfile with owner-only permissions, so loads give no warnings.
fn write_file(path: &Path, text: impl AsRef<[u8]>) {
    fs::write(path, text).expect("write");
    #[cfg(unix)]
    set_mode(path, 0o600);
}

// ---------------------------------------------------------------------------------------
// Round trips

#[test]
fn plain_round_trip() {
    let dir = tmp();
    let path = dir.path().join("class.key");
    let key = RoomKey::generate();
    keyfile::write_plain(&path, &key, Overwrite::Never).expect("write");
    let loaded = load_plain(&path).expect("load");
    assert!(same_key(&loaded.key, &key));
    assert_eq!(loaded.kind, KeyfileKind::Plain);
    assert_eq!(loaded.warnings, vec![]);
    assert!(!keyfile::is_sealed(&path).expect("is_sealed"));
    assert_eq!(
        keyfile::fingerprint_of(&path, &mut never_asked).expect("fingerprint"),
        key.fingerprint()
    );
    // The header comment names the fingerprint, so a person can check a file by eye.
    let text = fs::read_to_string(&path).expect("read");
    assert!(text.contains(&format!("# fingerprint: {}", key.fingerprint())));
}

#[test]
fn sealed_round_trip_at_owasp_cost() {
    let dir = tmp();
    let path = dir.path().join("sealed.key");
    let key = RoomKey::generate();
    let phrase = "tr0ub4dor & 3 — ünïcode";
    let started = Instant::now();
    keyfile::write_sealed(&path, &key, phrase, SealParams::OWASP, Overwrite::Never).expect("seal");
    let sealed_at = started.elapsed();
    let text = fs::read_to_string(&path).expect("read");
    assert!(
        !text.contains(key.expose_secret()),
        "the sealed file holds the key in the clear"
    );
    assert!(text.contains("fernchat-sealed:v1:scrypt:17:8:1:"));
    assert!(keyfile::is_sealed(&path).expect("is_sealed"));

    let mut asked = Vec::new();
    let opened_at = Instant::now();
    let loaded = keyfile::load(&path, &mut |p| {
        asked.push(p.to_owned());
        Ok(Zeroizing::new(phrase.to_owned()))
    })
    .expect("open");
    let opened_in = opened_at.elapsed();
    assert_eq!(asked, vec![path.clone()], "asked once, naming the file");
    assert!(same_key(&loaded.key, &key));
    assert_eq!(loaded.kind, KeyfileKind::Sealed);
    eprintln!("scrypt at OWASP cost: sealing took {sealed_at:?}, opening took {opened_in:?}");
}

#[test]
fn sealed_with_wrong_passphrase_is_refused() {
    let dir = tmp();
    let path = dir.path().join("sealed.key");
    keyfile::write_sealed(&path, &RoomKey::generate(), "right", FAST, Overwrite::Never)
        .expect("seal");
    assert!(matches!(
        load_with(&path, "wrong"),
        Err(KeyfileError::WrongPassphrase { path: p }) if p == path
    ));
    assert!(matches!(
        load_with(&path, "Right"),
        Err(KeyfileError::WrongPassphrase { .. })
    ));
    assert!(load_with(&path, "right").is_ok());
}

#[test]
fn empty_passphrase_writes_nothing() {
    let dir = tmp();
    let path = dir.path().join("sealed.key");
    let err = keyfile::write_sealed(&path, &RoomKey::generate(), "", FAST, Overwrite::Never)
        .expect_err("an empty passphrase protects nothing");
    assert!(matches!(err, KeyfileError::EmptyPassphrase));
    assert!(!path.exists());
}

#[test]
fn write_creates_missing_folders() {
    let dir = tmp();
    let path = dir.path().join("a/b/keys/class.key");
    let key = RoomKey::generate();
    keyfile::write_plain(&path, &key, Overwrite::Never).expect("write");
    assert!(same_key(&load_plain(&path).expect("load").key, &key));
}

// ---------------------------------------------------------------------------------------
// What readers tolerate

#[test]
fn comments_blank_lines_whitespace_and_crlf_are_skipped() {
    let dir = tmp();
    let key = RoomKey::generate();
    let secret = key.expose_secret();
    let variants = [
        format!("# a comment\n\n{secret}\n"),
        format!("# a comment\r\n\r\n{secret}\r\n# trailing comment\r\n"),
        format!("\n\n   \t\n  # indented comment\n\t  {secret}  \t\n\n"),
        secret.to_owned(),
        format!("{secret}\r\n"),
        // Python's Fernet.generate_key() pads; a hand-copied key may lose the padding.
        secret.trim_end_matches('=').to_owned(),
    ];
    for (i, text) in variants.iter().enumerate() {
        let path = dir.path().join(format!("k{i}"));
        write_file(&path, text);
        let loaded = load_plain(&path).unwrap_or_else(|e| panic!("variant {i}: {e}"));
        assert!(same_key(&loaded.key, &key), "variant {i}");
    }
}

#[test]
fn a_bare_python_style_key_file_loads() {
    // What `open("class.key", "wb").write(Fernet.generate_key())` leaves: the key, no newline,
    // no comments, mode 0644. The key comes from a Python-made fixture.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/interop/python.json");
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(fixture).expect("python.json")).expect("json");
    let secret = json["key"].as_str().expect("a key");
    let dir = tmp();
    let path = dir.path().join("class.key");
    fs::write(&path, secret).expect("write");
    let loaded = load_plain(&path).expect("a bare key loads");
    assert_eq!(loaded.key.expose_secret(), secret);
    assert_eq!(
        loaded.key.fingerprint().to_string(),
        json["fingerprint"].as_str().expect("a fingerprint")
    );
}

// ---------------------------------------------------------------------------------------
// Writing never loses a key by accident

#[test]
fn never_overwrites_without_replace() {
    let dir = tmp();
    let path = dir.path().join("class.key");
    keyfile::write_plain(&path, &RoomKey::generate(), Overwrite::Never).expect("write");
    let before = fs::read(&path).expect("read");
    let err = keyfile::write_plain(&path, &RoomKey::generate(), Overwrite::Never)
        .expect_err("must refuse");
    assert!(matches!(&err, KeyfileError::AlreadyExists { path: p } if *p == path));
    assert!(err.to_string().contains("--force"), "{err}");
    let err = keyfile::write_sealed(&path, &RoomKey::generate(), "pw", FAST, Overwrite::Never)
        .expect_err("must refuse");
    assert!(matches!(err, KeyfileError::AlreadyExists { .. }));
    assert_eq!(
        fs::read(&path).expect("read"),
        before,
        "the file is unchanged"
    );
}

#[test]
fn replace_writes_the_new_key() {
    let dir = tmp();
    let path = dir.path().join("class.key");
    fs::write(
        &path,
        "old contents that are much longer than any key file would be ".repeat(10),
    )
    .expect("write");
    let key = RoomKey::generate();
    keyfile::write_plain(&path, &key, Overwrite::Replace).expect("replace");
    assert!(same_key(&load_plain(&path).expect("load").key, &key));
    let sealed_key = RoomKey::generate();
    keyfile::write_sealed(&path, &sealed_key, "pw", FAST, Overwrite::Replace).expect("replace");
    assert!(same_key(
        &load_with(&path, "pw").expect("load").key,
        &sealed_key
    ));
}

#[cfg(unix)]
#[test]
fn new_keyfiles_are_owner_only_and_replace_tightens_the_mode() {
    let dir = tmp();
    let plain = dir.path().join("plain.key");
    keyfile::write_plain(&plain, &RoomKey::generate(), Overwrite::Never).expect("write");
    assert_eq!(mode(&plain), 0o600);
    let sealed = dir.path().join("sealed.key");
    keyfile::write_sealed(&sealed, &RoomKey::generate(), "pw", FAST, Overwrite::Never)
        .expect("seal");
    assert_eq!(mode(&sealed), 0o600);

    set_mode(&plain, 0o644);
    keyfile::write_plain(&plain, &RoomKey::generate(), Overwrite::Replace).expect("replace");
    assert_eq!(mode(&plain), 0o600, "a replaced file is tightened");
    set_mode(&sealed, 0o666);
    keyfile::write_sealed(
        &sealed,
        &RoomKey::generate(),
        "pw",
        FAST,
        Overwrite::Replace,
    )
    .expect("replace");
    assert_eq!(mode(&sealed), 0o600);
}

#[cfg(unix)]
#[test]
fn a_keyfile_others_can_read_loads_with_a_warning() {
    let dir = tmp();
    let path = dir.path().join("class.key");
    let key = RoomKey::generate();
    keyfile::write_plain(&path, &key, Overwrite::Never).expect("write");
    assert_eq!(load_plain(&path).expect("load").warnings, vec![]);

    set_mode(&path, 0o644);
    let loaded = load_plain(&path).expect("still loads");
    assert!(same_key(&loaded.key, &key));
    assert_eq!(loaded.warnings.len(), 1);
    let KeyfileWarning::ReadableByOthers { path: warned, mode } = &loaded.warnings[0] else {
        panic!("{:?}", loaded.warnings);
    };
    assert_eq!(warned, &path);
    assert_eq!(mode & 0o777, 0o644);
    let shown = loaded.warnings[0].to_string();
    assert!(
        shown.contains("644") && shown.contains("chmod 600"),
        "{shown}"
    );

    // Group-readable alone is enough to warn.
    set_mode(&path, 0o640);
    assert_eq!(load_plain(&path).expect("load").warnings.len(), 1);

    // Writable by others (the keyfile rules the identity file now has too, issue 12 item 7):
    // a different, stronger warning.
    set_mode(&path, 0o666);
    let loaded = load_plain(&path).expect("still loads");
    assert!(
        matches!(
            &loaded.warnings[..],
            [KeyfileWarning::WritableByOthers { .. }]
        ),
        "{:?}",
        loaded.warnings
    );
    assert!(loaded.warnings[0].to_string().contains("swap in a key"));
}

/// A keyfile that belongs to another user loads with a warning that says how to keep one's
/// own copy (only root can make one in a test).
#[cfg(unix)]
#[test]
fn a_keyfile_of_another_user_loads_with_a_warning() {
    use std::os::unix::fs::MetadataExt;
    let dir = tmp();
    if fs::metadata(dir.path()).expect("metadata").uid() != 0 {
        return;
    }
    let path = dir.path().join("class.key");
    keyfile::write_plain(&path, &RoomKey::generate(), Overwrite::Never).expect("write");
    let status = Command::new("chown")
        .args(["65534", path.to_str().expect("utf-8")])
        .status()
        .expect("chown");
    assert!(status.success());
    let loaded = load_plain(&path).expect("still loads");
    assert!(
        matches!(
            &loaded.warnings[..],
            [KeyfileWarning::OwnedByOther { uid: 65534, .. }]
        ),
        "{:?}",
        loaded.warnings
    );
    assert!(loaded.warnings[0].to_string().contains("--key mine.key"));
}

// ---------------------------------------------------------------------------------------
// Refusals, each with its own error

#[test]
fn missing_file_is_not_found() {
    let dir = tmp();
    let path = dir.path().join("nope.key");
    assert!(matches!(
        load_plain(&path),
        Err(KeyfileError::NotFound { path: p }) if p == path
    ));
    assert!(matches!(
        keyfile::is_sealed(&path),
        Err(KeyfileError::NotFound { .. })
    ));
}

#[test]
fn empty_or_comment_only_file_has_no_key() {
    let dir = tmp();
    for (i, text) in ["", "\n\n", "# only\n# comments\n", "  \t\r\n"]
        .iter()
        .enumerate()
    {
        let path = dir.path().join(format!("k{i}"));
        write_file(&path, text);
        assert!(
            matches!(load_plain(&path), Err(KeyfileError::NoKey { .. })),
            "variant {i}"
        );
    }
}

#[test]
fn two_key_lines_are_refused_naming_the_second() {
    let dir = tmp();
    let path = dir.path().join("class.key");
    let (a, b) = (RoomKey::generate(), RoomKey::generate());
    write_file(
        &path,
        format!(
            "# two keys\n{}\n\n{}\n",
            a.expose_secret(),
            b.expose_secret()
        ),
    );
    assert!(matches!(
        load_plain(&path),
        Err(KeyfileError::ExtraLine { line: 4, .. })
    ));
}

#[test]
fn a_file_over_64_kib_is_refused() {
    let dir = tmp();
    let key = RoomKey::generate();
    // At the 64 KiB limit a file still loads...
    let limit = 64 * 1024;
    let line = format!("{}\n", key.expose_secret());
    let comment_len = limit - line.len();
    let at_limit = format!("#{}\n{line}", "x".repeat(comment_len - 2));
    assert_eq!(at_limit.len(), limit);
    let ok = dir.path().join("at-limit.key");
    write_file(&ok, &at_limit);
    assert!(same_key(&load_plain(&ok).expect("at the limit").key, &key));
    // ...one byte more and it is not a keyfile.
    let big = dir.path().join("big.key");
    write_file(&big, format!("#{at_limit}"));
    assert!(matches!(
        load_plain(&big),
        Err(KeyfileError::TooLarge { len, .. }) if len == limit as u64 + 1
    ));
}

/// A device or a pipe reports a length of 0, so the size check alone let `/dev/zero` be read
/// until memory ran out (and a FIFO fed 300 MB was read whole). The read itself is bounded.
#[cfg(unix)]
#[test]
fn an_endless_file_is_refused_after_the_limit() {
    let endless = Path::new("/dev/zero");
    assert!(matches!(
        load_plain(endless),
        Err(KeyfileError::TooLarge { len, .. }) if len > 64 * 1024
    ));
    assert!(matches!(
        keyfile::is_sealed(endless),
        Err(KeyfileError::TooLarge { .. })
    ));
}

#[test]
fn a_line_that_is_not_a_key_is_refused_without_showing_it() {
    let dir = tmp();
    let key = RoomKey::generate();
    let secret = key.expose_secret();
    // A real key with one character broken: the error must not echo the near-secret.
    let broken = format!("{}!{}", &secret[..20], &secret[21..]);
    let cases = [
        ("not base64", broken.clone(), KeyError::NotBase64),
        (
            "too short",
            secret[..20].to_owned(),
            KeyError::WrongLength { len: 15 },
        ),
        (
            "24 bytes",
            "A".repeat(32),
            KeyError::WrongLength { len: 24 },
        ),
        (
            "standard base64",
            secret.replace('-', "+").replace('_', "/") + "+/",
            KeyError::NotBase64,
        ),
    ];
    for (i, (what, line, expected)) in cases.iter().enumerate() {
        let path = dir.path().join(format!("k{i}"));
        write_file(&path, format!("# comment\n{line}\n"));
        match load_plain(&path) {
            Err(err @ KeyfileError::BadKey { line: 2, .. }) => {
                let KeyfileError::BadKey { source, .. } = &err else {
                    unreachable!()
                };
                assert_eq!(source, expected, "{what}");
                let shown = format!("{err} {err:?}");
                assert!(
                    !shown.contains(&line[..16]),
                    "{what}: the error shows the line"
                );
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn a_file_that_is_not_utf8_is_refused() {
    let dir = tmp();
    let path = dir.path().join("binary.key");
    write_file(&path, [0xff, 0xfe, 0x00, 0x80, 0xc3, b'\n']);
    assert!(matches!(
        load_plain(&path),
        Err(KeyfileError::BadKey { .. })
    ));
}

/// A valid sealed file made with cheap parameters, and its key line split into fields.
fn sealed_fields(dir: &Path) -> (String, Vec<String>) {
    let path = dir.join("template.key");
    keyfile::write_sealed(&path, &RoomKey::generate(), "pw", FAST, Overwrite::Never).expect("seal");
    assert!(load_with(&path, "pw").is_ok(), "the template itself opens");
    let text = fs::read_to_string(&path).expect("read");
    let line = text
        .lines()
        .find(|l| l.starts_with("fernchat-sealed:"))
        .expect("a sealed line")
        .to_owned();
    let fields = line.split(':').map(str::to_owned).collect();
    (line, fields)
}

/// Loads a keyfile whose key line is `line`, counting passphrase requests.
fn load_line(dir: &Path, name: &str, line: &str) -> (Result<LoadedKey, KeyfileError>, usize) {
    let path = dir.join(name);
    write_file(&path, format!("# sealed\n{line}\n"));
    let mut asked = 0;
    let result = keyfile::load(&path, &mut |_| {
        asked += 1;
        Ok(Zeroizing::new("pw".to_owned()))
    });
    (result, asked)
}

#[test]
fn malformed_sealed_lines_give_distinct_errors_before_asking_for_a_passphrase() {
    let dir = tmp();
    let (_, fields) = sealed_fields(dir.path());
    assert_eq!(fields.len(), 8);
    let with = |index: usize, value: &str| {
        let mut f = fields.clone();
        f[index] = value.to_owned();
        f.join(":")
    };
    let mut seen = Vec::new();
    let cases = [
        ("too few fields", "fernchat-sealed".to_owned()),
        ("7 fields", fields[..7].join(":")),
        ("9 fields", format!("{}:extra", fields.join(":"))),
        ("LOG_N", with(3, "seventeen")),
        ("R", with(4, "8x")),
        ("P", with(5, "-1")),
        ("SALT", with(6, "not base64!")),
        // A token cut short by copy and paste: this used to be reported as a wrong
        // passphrase, after asking for one and running scrypt.
        ("TOKEN", with(7, &fields[7][..fields[7].len() / 2])),
    ];
    for (i, (what, line)) in cases.iter().enumerate() {
        let (result, asked) = load_line(dir.path(), &format!("k{i}"), line);
        match result {
            Err(KeyfileError::BadSealedLine { what: reason, .. }) => seen.push(reason),
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(asked, 0, "{what}: asked for a passphrase for a broken file");
    }
    // "7 fields" and "9 fields" are the same mistake; every other field has its own message.
    seen.dedup();
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "{seen:?}");
    assert_eq!(seen.len(), cases.len() - 1, "{seen:?}");
    // Other ways a token field can be damaged are the same error.
    for token in ["", "%%%", &fields[6]] {
        let (result, asked) = load_line(dir.path(), "token.key", &with(7, token));
        assert!(
            matches!(&result, Err(KeyfileError::BadSealedLine { what, .. }) if what == seen.last().expect("seen")),
            "TOKEN {token:?}: {result:?}"
        );
        assert_eq!(asked, 0);
    }

    for (what, line, found) in [
        ("version", with(1, "v2"), "v2:scrypt"),
        ("kdf", with(2, "argon2id"), "v1:argon2id"),
    ] {
        let (result, asked) = load_line(dir.path(), what, &line);
        assert!(
            matches!(&result, Err(KeyfileError::UnsupportedSeal { found: f, .. }) if f == found),
            "{what}: {result:?}"
        );
        assert_eq!(asked, 0);
    }
}

#[test]
fn absurd_scrypt_parameters_are_refused_before_any_work() {
    let dir = tmp();
    let (_, fields) = sealed_fields(dir.path());
    let with_params = |log_n: &str, r: &str, p: &str| {
        let mut f = fields.clone();
        f[3] = log_n.to_owned();
        f[4] = r.to_owned();
        f[5] = p.to_owned();
        f.join(":")
    };
    // Each would need terabytes or hours if computed; the passphrase is never even asked for,
    // so scrypt cannot have run.
    for (log_n, r, p) in [
        ("63", "8", "1"),
        ("255", "8", "1"),
        ("30", "8", "1"),
        ("22", "32", "1"),
        ("17", "4294967295", "1"),
        ("17", "8", "4294967295"),
        ("17", "0", "1"),
        ("17", "8", "0"),
        ("0", "8", "1"),
        ("9", "8", "1"),
    ] {
        let (result, asked) = load_line(dir.path(), "absurd.key", &with_params(log_n, r, p));
        assert!(
            matches!(result, Err(KeyfileError::SealParamsOutOfRange { .. })),
            "log_n={log_n} r={r} p={p}: {result:?}"
        );
        assert_eq!(asked, 0);
    }
    // Writing refuses them too, and leaves no file.
    let path = dir.path().join("never.key");
    let absurd = SealParams {
        log_n: 40,
        r: 8,
        p: 1,
    };
    assert!(matches!(
        keyfile::write_sealed(&path, &RoomKey::generate(), "pw", absurd, Overwrite::Never),
        Err(KeyfileError::SealParamsOutOfRange { log_n: 40, .. })
    ));
    assert!(!path.exists());
}

// ---------------------------------------------------------------------------------------
// The keygen binary

fn keygen(dir: &Path, args: &[&str], passphrase: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keygen"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove(keyfile::PASSPHRASE_ENV);
    if let Some(phrase) = passphrase {
        cmd.env(keyfile::PASSPHRASE_ENV, phrase);
    }
    cmd.output().expect("keygen runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// No 12-character piece of the secret appears in `shown`.
fn assert_no_secret(shown: &str, secret: &str) {
    let chars: Vec<char> = secret.chars().collect();
    for window in chars.windows(12) {
        let piece: String = window.iter().collect();
        assert!(!shown.contains(&piece), "output contains part of the key");
    }
}

#[test]
fn keygen_writes_the_default_keyfile_and_says_only_the_fingerprint() {
    let dir = tmp();
    let out = keygen(dir.path(), &[], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "stdout: {}", text(&out.stdout));

    let path = dir.path().join(keyfile::DEFAULT_KEY_PATH);
    let loaded = load_plain(&path).expect("keygen wrote a plain keyfile");
    let stderr = text(&out.stderr);
    let fingerprint = loaded.key.fingerprint().to_string();
    assert!(stderr.contains(&fingerprint), "{stderr}");
    assert!(stderr.contains(keyfile::DEFAULT_KEY_PATH), "{stderr}");
    assert!(stderr.contains("cargo run --bin server"), "{stderr}");
    assert_no_secret(&stderr, loaded.key.expose_secret());
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);

    // `--fingerprint` prints the same fingerprint, alone, on stdout.
    let out = keygen(
        dir.path(),
        &["--fingerprint", keyfile::DEFAULT_KEY_PATH],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{fingerprint}\n"));
    assert_no_secret(&text(&out.stderr), loaded.key.expose_secret());
}

#[test]
fn keygen_refuses_to_overwrite_and_force_replaces() {
    let dir = tmp();
    let first = keygen(dir.path(), &["my.key"], None);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let path = dir.path().join("my.key");
    let before = fs::read(&path).expect("read");
    let old = load_plain(&path).expect("load").key;

    let again = keygen(dir.path(), &["my.key"], None);
    assert_eq!(again.status.code(), Some(1));
    let stderr = text(&again.stderr);
    assert!(
        stderr.contains("already exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert!(again.stdout.is_empty());
    assert_eq!(
        fs::read(&path).expect("read"),
        before,
        "the key is untouched"
    );

    // Sealing refuses too, before asking for a passphrase (none is set, stdin is closed).
    let sealed = keygen(dir.path(), &["--seal", "my.key"], None);
    assert_eq!(sealed.status.code(), Some(1));
    assert!(text(&sealed.stderr).contains("already exists"));
    assert_eq!(fs::read(&path).expect("read"), before);

    let forced = keygen(dir.path(), &["--force", "my.key"], None);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
    let new = load_plain(&path).expect("load").key;
    assert_ne!(new.fingerprint(), old.fingerprint());
    let stderr = text(&forced.stderr);
    assert!(stderr.contains(&new.fingerprint().to_string()), "{stderr}");
    assert!(stderr.contains("Replaced"), "{stderr}");
    assert_no_secret(&stderr, new.expose_secret());
}

#[test]
fn keygen_seals_with_the_passphrase_from_the_environment() {
    let dir = tmp();
    let phrase = "a passphrase for the test";
    let out = keygen(dir.path(), &["--seal", "sealed.key"], Some(phrase));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let path = dir.path().join("sealed.key");
    assert!(keyfile::is_sealed(&path).expect("is_sealed"));
    let loaded = load_with(&path, phrase).expect("opens with the passphrase");
    let fingerprint = loaded.key.fingerprint().to_string();
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&fingerprint), "{stderr}");
    assert!(!stderr.contains(phrase), "the passphrase is never shown");
    assert_no_secret(&stderr, loaded.key.expose_secret());

    let out = keygen(dir.path(), &["--fingerprint", "sealed.key"], Some(phrase));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{fingerprint}\n"));

    let out = keygen(
        dir.path(),
        &["--fingerprint", "sealed.key", "--verify"],
        Some("not it"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("wrong passphrase"));
}

#[cfg(unix)]
#[test]
fn keygen_fingerprint_warns_about_loose_permissions_on_stderr() {
    let dir = tmp();
    let path = dir.path().join("class.key");
    let key = RoomKey::generate();
    keyfile::write_plain(&path, &key, Overwrite::Never).expect("write");
    set_mode(&path, 0o644);
    let out = keygen(dir.path(), &["--fingerprint", "class.key"], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), format!("{}\n", key.fingerprint()));
    assert!(
        text(&out.stderr).contains("chmod 600"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn keygen_errors_name_the_cause_and_exit_nonzero() {
    let dir = tmp();
    let out = keygen(dir.path(), &["--fingerprint", "missing.key"], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("missing.key") && stderr.contains("no such keyfile"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cargo run --bin keygen"),
        "the fix is named: {stderr}"
    );

    let junk = dir.path().join("junk.key");
    write_file(&junk, "not a key\n");
    let out = keygen(dir.path(), &["--fingerprint", "junk.key"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("junk.key"));

    // Usage errors are status 2, as documented in --help.
    for args in [
        &["--bogus"][..],
        &["--fingerprint"],
        &["--fingerprint", "a.key", "--seal"],
        &["--fingerprint", "a.key", "--force"],
        &["--fingerprint", "a.key", "b.key"],
        &["a.key", "b.key"],
    ] {
        let out = keygen(dir.path(), args, None);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let help = keygen(dir.path(), &["--help"], None);
    assert_eq!(help.status.code(), Some(0));
    let help = text(&help.stdout);
    assert!(
        help.contains("Exit status") && help.contains("FERNCHAT_PASSPHRASE"),
        "{help}"
    );
    // Nothing above wrote a key.
    assert!(!dir.path().join("keys").exists());
    assert!(!dir.path().join("a.key").exists());
}

#[test]
fn keygen_output_paths_are_the_ones_given() {
    let dir = tmp();
    let nested: PathBuf = ["sub", "dir", "k.key"].iter().collect();
    let out = keygen(dir.path(), &[nested.to_str().expect("utf-8")], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(load_plain(&dir.path().join(&nested)).is_ok());
    assert!(!dir.path().join(keyfile::DEFAULT_KEY_PATH).exists());
}

#[test]
fn a_byte_order_mark_from_windows_notepad_is_not_part_of_the_key() {
    let dir = tmp();
    let path = dir.path().join("notepad.key");
    let key = RoomKey::generate();
    fs::write(&path, format!("\u{feff}{}\r\n", key.expose_secret())).expect("write");
    assert!(same_key(&load_plain(&path).expect("load").key, &key));
}

#[test]
fn only_the_exact_magic_word_makes_a_sealed_line() {
    let dir = tmp();
    let path = dir.path().join("odd.key");
    fs::write(&path, "fernchat-sealedX:v1:scrypt:10:8:1:AAAA:BBBB\n").expect("write");
    assert!(!keyfile::is_sealed(&path).expect("readable"));
    assert!(matches!(
        load_plain(&path),
        Err(KeyfileError::BadKey { .. })
    ));
}

#[test]
fn replacing_leaves_no_temporary_file_behind() {
    let dir = tmp();
    let path = dir.path().join("class.key");
    keyfile::write_plain(&path, &RoomKey::generate(), Overwrite::Never).expect("write");
    keyfile::write_plain(&path, &RoomKey::generate(), Overwrite::Replace).expect("replace");
    let names: Vec<_> = fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["class.key"]);
}

#[test]
fn parse_reads_contents_as_load_reads_the_file() {
    let dir = tmp();
    let plain = dir.path().join("plain.key");
    let sealed = dir.path().join("sealed.key");
    let key = RoomKey::generate();
    keyfile::write_plain(&plain, &key, Overwrite::Never).expect("write");
    keyfile::write_sealed(&sealed, &key, "right", FAST, Overwrite::Never).expect("seal");

    let contents = fs::read(&plain).expect("read");
    match keyfile::parse(&plain, &contents).expect("parses") {
        keyfile::ParsedKeyfile::Plain(parsed) => assert!(same_key(&parsed, &key)),
        other => panic!("{other:?}"),
    }
    let contents = fs::read(&sealed).expect("read");
    match keyfile::parse(&sealed, &contents).expect("parses") {
        keyfile::ParsedKeyfile::Sealed(parsed) => {
            assert_eq!(parsed.params(), FAST);
            assert!(same_key(
                &parsed.open(&sealed, "right").expect("opens"),
                &key
            ));
            assert!(matches!(
                parsed.open(&sealed, "wrong"),
                Err(KeyfileError::WrongPassphrase { path }) if path == sealed
            ));
        }
        other => panic!("{other:?}"),
    }
    // The path only names the file in errors: nothing is read from it.
    let nowhere = dir.path().join("does-not-exist.key");
    assert!(matches!(
        keyfile::parse(&nowhere, b"# only a comment\n"),
        Err(KeyfileError::NoKey { path }) if path == nowhere
    ));
    assert!(matches!(
        keyfile::parse(&nowhere, b"\xff\xfe not a key\n"),
        Err(KeyfileError::BadKey { line: 1, .. })
    ));
}

/// Found by the `keyfile` fuzz target (input `fernchat-sealed::N<key>xL`): a key line that
/// starts with the sealed magic but has an unknown version or KDF field was reported as
/// "sealed with :N<key>xL, which this fernchat does not know", showing the key. Unknown fields
/// are now shown only when they are short plain words.
#[test]
fn an_unsupported_seal_error_never_shows_what_looks_like_a_key() {
    let dir = tmp();
    let key = RoomKey::generate();
    let secret = key.expose_secret();
    for (i, line) in [
        format!("fernchat-sealed::N{secret}xL"),
        format!("fernchat-sealed:{secret}:scrypt:10:1:1:AAAA:gAAAA"),
        format!("fernchat-sealed:v1:{secret}"),
        format!("fernchat-sealed:v2:{}", secret.trim_end_matches('=')),
    ]
    .iter()
    .enumerate()
    {
        let path = dir.path().join(format!("k{i}.key"));
        write_file(&path, format!("{line}\n"));
        let err = load_plain(&path).expect_err("not a key");
        assert!(
            matches!(err, KeyfileError::UnsupportedSeal { .. }),
            "{line}: {err:?}"
        );
        let shown = format!("{err} {err:?}");
        // Not the key, nor any 12-character piece of it.
        let chars: Vec<char> = secret.chars().collect();
        for piece in chars.windows(12) {
            let piece: String = piece.iter().collect();
            assert!(!shown.contains(&piece), "{shown}");
        }
        assert!(shown.contains("characters"), "{shown}");
    }
    // Short plain names are still shown, as before.
    let path = dir.path().join("v2.key");
    write_file(&path, "fernchat-sealed:v2:scrypt:17:8:1:AAAA:gAAAA\n");
    assert!(matches!(
        load_plain(&path),
        Err(KeyfileError::UnsupportedSeal { found, .. }) if found == "v2:scrypt"
    ));
}

// ---------------------------------------------------------------------------------------
// Issue 12 item 7 and issue 14 item 3: scrypt's cost, keygen's advice, sealed fingerprints,
// passphrase tries and strength

/// Issue 12 item 7: a sealed keyfile could ask for p = 16 at N = 2^20 (72 s and 1 GiB to find
/// out a passphrase was wrong). Failed on the old main, which accepted up to 1 GiB and p = 16
/// and asked for the passphrase. Now total work and memory are capped at four times keygen's
/// own parameters, and the refusal comes before any passphrase is asked for.
#[test]
fn scrypt_work_is_capped_at_four_times_the_default_before_the_passphrase() {
    let dir = tmp();
    let (_, fields) = sealed_fields(dir.path());
    let with_params = |log_n: u8, r: u32, p: u32| {
        let mut f = fields.clone();
        f[3] = log_n.to_string();
        f[4] = r.to_string();
        f[5] = p.to_string();
        f.join(":")
    };
    for (log_n, r, p) in [(20, 8, 16), (20, 8, 1), (19, 8, 2), (17, 8, 5), (17, 32, 2)] {
        let (result, asked) = load_line(dir.path(), "costly.key", &with_params(log_n, r, p));
        let err = result.expect_err("refused");
        assert!(
            matches!(err, KeyfileError::SealParamsOutOfRange { .. }),
            "log_n={log_n} r={r} p={p}: {err:?}"
        );
        assert!(err.to_string().contains("before asking"), "{err}");
        assert_eq!(asked, 0, "no passphrase was asked for");
    }
    // Up to four times the default is accepted (parsed only: no scrypt runs here).
    for (log_n, r, p) in [(17, 8, 1), (17, 8, 4), (19, 8, 1), (18, 16, 1)] {
        let contents = format!("{}\n", with_params(log_n, r, p));
        assert!(
            matches!(
                keyfile::parse(Path::new("ok.key"), contents.as_bytes()),
                Ok(keyfile::ParsedKeyfile::Sealed(_))
            ),
            "log_n={log_n} r={r} p={p}"
        );
    }
}

/// Issue 14 item 3: a wrong passphrase ended the program at once. On a terminal there are
/// three tries; each new prompt says how many are left. Tested through the function that
/// takes the prompt's answers (tests have no terminal), fed from a buffer; the binaries pass
/// rpassword's terminal prompt.
#[test]
fn a_wrong_passphrase_gets_three_tries() {
    let dir = tmp();
    let path = dir.path().join("sealed.key");
    let key = RoomKey::generate();
    keyfile::write_sealed(&path, &key, "right one", FAST, Overwrite::Never).expect("seal");

    let answer = |typed: &str| {
        let mut reader = std::io::Cursor::new(typed.as_bytes().to_vec());
        let mut prompts = Vec::new();
        let result = keyfile::load_asking(
            &path,
            &mut |prompt: &str| {
                prompts.push(prompt.to_owned());
                // What a terminal gives: one line, without its newline; the end of input
                // is an error, as when there is no terminal.
                let mut line = String::new();
                match std::io::BufRead::read_line(&mut reader, &mut line)? {
                    0 => Err(std::io::ErrorKind::UnexpectedEof.into()),
                    _ => Ok(Zeroizing::new(line.trim_end_matches('\n').to_owned())),
                }
            },
            keyfile::PASSPHRASE_TRIES,
        );
        (result, prompts)
    };
    let (result, prompts) = answer("wrong\nwrong again\nright one\n");
    assert!(same_key(&result.expect("third try opens it").key, &key));
    assert_eq!(prompts.len(), 3);
    assert!(prompts[0].starts_with("Passphrase for"), "{prompts:?}");
    assert!(prompts[1].contains("2 tries left"), "{prompts:?}");
    assert!(prompts[2].contains("1 try left"), "{prompts:?}");

    let (result, prompts) = answer("a\nb\nc\nright one\n");
    assert!(matches!(result, Err(KeyfileError::WrongPassphrase { .. })));
    assert_eq!(prompts.len(), 3, "never a fourth try");

    // The end of input (no terminal) is "no passphrase", not a wrong one.
    let (result, _) = answer("wrong\n");
    assert!(matches!(result, Err(KeyfileError::NoPassphrase { .. })));
    // A plain file asks nothing.
    let plain = dir.path().join("plain.key");
    keyfile::write_plain(&plain, &key, Overwrite::Never).expect("write");
    let loaded = keyfile::load_asking(&plain, &mut |_| panic!("asked"), 3).expect("plain");
    assert_eq!(loaded.kind, KeyfileKind::Plain);
}

/// Issue 14 item 3: `keygen --fingerprint` on a sealed file asked for the passphrase, though
/// the header shows the fingerprint. Failed on the old main (no terminal, no passphrase: an
/// error). Now it prints the header's fingerprint, saying it is not verified; `--verify`
/// opens the file and catches an edited header.
#[test]
fn keygen_fingerprint_of_a_sealed_file_reads_its_header_and_verify_opens_it() {
    let dir = tmp();
    let phrase = "purple otter drinks tea";
    let out = keygen(dir.path(), &["--seal", "sealed.key"], Some(phrase));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let path = dir.path().join("sealed.key");
    let real = load_with(&path, phrase)
        .expect("opens")
        .key
        .fingerprint()
        .to_string();

    let out = keygen(dir.path(), &["--fingerprint", "sealed.key"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{real}\n"));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("NOT verified") && stderr.contains("--verify"),
        "{stderr}"
    );

    let out = keygen(
        dir.path(),
        &["--fingerprint", "sealed.key", "--verify"],
        Some(phrase),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{real}\n"));
    assert!(text(&out.stderr).contains("verified"));

    // Someone edits the header: --fingerprint repeats the claim (unverified), --verify tells.
    let edited = fs::read_to_string(&path)
        .expect("read")
        .replace(&real, "0000-1111-2222-3333");
    write_file(&path, edited);
    let out = keygen(dir.path(), &["--fingerprint", "sealed.key"], None);
    assert_eq!(text(&out.stdout), "0000-1111-2222-3333\n");
    let out = keygen(
        dir.path(),
        &["--fingerprint", "sealed.key", "--verify"],
        Some(phrase),
    );
    assert_eq!(text(&out.stdout), format!("{real}\n"));
    assert!(
        text(&out.stderr).contains("header was edited"),
        "{}",
        text(&out.stderr)
    );

    // Without a header line, it says how to find out instead of guessing.
    let bare: String = fs::read_to_string(&path)
        .expect("read")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    write_file(&path, bare);
    let out = keygen(dir.path(), &["--fingerprint", "sealed.key"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("--verify"),
        "{}",
        text(&out.stderr)
    );
    // --verify needs --fingerprint.
    assert_eq!(
        keygen(dir.path(), &["--verify"], None).status.code(),
        Some(2)
    );
}

/// Issue 14 item 3: `keygen --seal` accepted a 3-character passphrase for a file the README
/// suggests publishing. Failed on the old main (all three were sealed). Now short or common
/// passphrases are refused unless --weak-passphrase is given.
#[test]
fn keygen_seal_refuses_weak_passphrases_unless_told() {
    let dir = tmp();
    for weak in ["abc", "Password2024!", "aaaaaaaaaaaaaaaa"] {
        let out = keygen(dir.path(), &["--seal", "weak.key"], Some(weak));
        assert_eq!(out.status.code(), Some(1), "{weak}: {}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("too weak") && stderr.contains("--weak-passphrase"),
            "{stderr}"
        );
        assert!(!stderr.contains(weak), "the passphrase is never shown");
        assert!(!dir.path().join("weak.key").exists());
    }
    let out = keygen(
        dir.path(),
        &["--seal", "--weak-passphrase", "weak.key"],
        Some("abc"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(load_with(&dir.path().join("weak.key"), "abc").is_ok());
    // Without --seal the override means nothing: a usage error.
    let out = keygen(dir.path(), &["--weak-passphrase", "other.key"], None);
    assert_eq!(out.status.code(), Some(2));
}

/// Issue 14 item 3: keygen's "Next:" advice told to "copy it to keys/class.key first" for any
/// other path, which during a rotation overwrites the key students hold; and `--force` said
/// "Replaced a new class key". Failed on the old main. Now the advice names `--key PATH`, and
/// the rotation command when a class key already exists.
#[test]
fn keygen_advice_names_the_path_written_and_the_rotation_command() {
    let dir = tmp();
    let out = keygen(dir.path(), &["other.key"], None);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cargo run --bin server -- --key other.key"),
        "{stderr}"
    );
    assert!(!stderr.contains("copy it to"), "{stderr}");

    let out = keygen(dir.path(), &[], None);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("Start the server with: cargo run --bin server\n"),
        "{stderr}"
    );

    // A class key exists: a new key elsewhere is offered as a rotation.
    let new: PathBuf = ["keys", "new.key"].iter().collect();
    let new = new.to_str().expect("utf-8").to_owned();
    let out = keygen(dir.path(), &[&new], None);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "cargo run --bin server -- --key {new} --key {}",
            keyfile::DEFAULT_KEY_PATH
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("copy it to"), "{stderr}");

    let out = keygen(dir.path(), &["--force", keyfile::DEFAULT_KEY_PATH], None);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "Replaced the class key in {} with a new one",
            keyfile::DEFAULT_KEY_PATH
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("Replaced a new"), "{stderr}");
    assert!(stderr.contains("--key NEW --key OLD"), "{stderr}");

    let out = keygen(
        dir.path(),
        &["--seal", "sealed.key"],
        Some("purple otter drinks tea"),
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("--key sealed.key"), "{stderr}");
    assert!(stderr.contains("asks for the passphrase"), "{stderr}");
}
