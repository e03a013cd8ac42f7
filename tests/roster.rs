//! Roster mode through the `keygen` binary: a keyfile per student, written from a roster file.
//!
//! Every test works in its own temporary folder (the binary gets it through `current_dir`), so
//! the tests run in parallel without sharing anything.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use fernchat::crypto::RoomKey;
use fernchat::keyfile::{self, KeyfileError};
use fernchat::roster::Roster;
use fernchat::roster::keys::{Identified, Keyring, RosterSecret};
use tempfile::TempDir;
use zeroize::Zeroizing;

const ROSTER: &str = "\
# CS 101
# login   gen  role        display name
alice     1    student     Alice Martin
bob       1    ta          Bob Okafor     # TA for group B
-dave     1    student     Dave Li        # left the course
erin
";

fn tmp() -> TempDir {
    tempfile::tempdir().expect("a temporary folder")
}

fn keygen(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keygen"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove(keyfile::PASSPHRASE_ENV)
        .output()
        .expect("keygen runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn never_asked(path: &Path) -> Result<Zeroizing<String>, KeyfileError> {
    panic!("{} asked for a passphrase", path.display())
}

fn load_key(path: &Path) -> RoomKey {
    keyfile::load(path, &mut never_asked)
        .expect("a plain keyfile")
        .key
}

fn load_secret(path: &Path) -> RosterSecret {
    RosterSecret::load(path, &mut never_asked)
        .expect("the roster secret")
        .0
}

/// No 12-character piece of `secret` appears in `shown`.
fn assert_no_secret(shown: &str, secret: &str) {
    let chars: Vec<char> = secret.chars().collect();
    for window in chars.windows(12) {
        let piece: String = window.iter().collect();
        assert!(!shown.contains(&piece), "output contains part of a key");
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn keygen_roster_writes_one_private_keyfile_per_student_and_says_the_server_command() {
    let dir = tmp();
    fs::write(dir.path().join("roster.txt"), ROSTER).unwrap();
    let out = keygen(dir.path(), &["--roster", "roster.txt"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");

    let secret_path = dir.path().join("keys/roster.secret");
    let secret = load_secret(&secret_path);
    for (login, generation) in [("alice", 1), ("bob", 1), ("erin", 1)] {
        let path = dir.path().join(format!("keys/students/{login}.key"));
        let key = load_key(&path);
        // The file holds exactly the documented construction's key.
        assert_eq!(
            key.expose_secret(),
            secret.student_key(login, generation).expose_secret()
        );
        let line = stdout
            .lines()
            .find(|l| l.starts_with(login))
            .unwrap_or_else(|| panic!("no line for {login}: {stdout}"));
        assert!(line.contains(&key.fingerprint().to_string()), "{line}");
        assert!(
            line.contains(&format!("keys/students/{login}.key")),
            "{line}"
        );
        assert!(line.ends_with("written"), "{line}");
        assert_no_secret(&stdout, key.expose_secret());
        assert_no_secret(&stderr, key.expose_secret());
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600, "{login}");
    }
    // The revoked student gets no file.
    assert!(!dir.path().join("keys/students/dave.key").exists());
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("dave") && l.contains("revoked"))
    );
    // The secret: private, never shown, and the exact server command is given.
    #[cfg(unix)]
    assert_eq!(mode(&secret_path), 0o600);
    let secret_text = fs::read_to_string(&secret_path).unwrap();
    let secret_line = secret_text.lines().last().unwrap();
    assert_no_secret(&stdout, secret_line);
    assert_no_secret(&stderr, secret_line);
    assert!(
        stderr.contains(&secret.fingerprint().to_string()),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "cargo run --bin server -- --roster roster.txt --roster-secret keys/roster.secret"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("Wrote a new roster secret"), "{stderr}");
}

#[test]
fn keygen_roster_again_replaces_only_the_student_whose_generation_was_raised() {
    let dir = tmp();
    let roster = dir.path().join("roster.txt");
    fs::write(&roster, ROSTER).unwrap();
    assert!(
        keygen(dir.path(), &["--roster", "roster.txt", "--out", "out"])
            .status
            .success()
    );
    let alice = dir.path().join("out/alice.key");
    let bob = dir.path().join("out/bob.key");
    let (alice_before, bob_before) = (fs::read(&alice).unwrap(), fs::read(&bob).unwrap());

    // Bob lost his keyfile: his generation goes up, nobody else's changes.
    fs::write(&roster, ROSTER.replace("bob       1", "bob       2")).unwrap();
    let out = keygen(dir.path(), &["--roster", "roster.txt", "--out", "out"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert_eq!(
        fs::read(&alice).unwrap(),
        alice_before,
        "alice's file was rewritten"
    );
    assert_ne!(fs::read(&bob).unwrap(), bob_before);
    let secret = load_secret(&dir.path().join("keys/roster.secret"));
    assert_eq!(
        load_key(&bob).expose_secret(),
        secret.student_key("bob", 2).expose_secret()
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("bob") && l.contains("REPLACED generation 1 by 2")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("alice") && l.ends_with("unchanged")),
        "{stdout}"
    );
    #[cfg(unix)]
    assert_eq!(mode(&bob), 0o600);
    // The secret was reused, not replaced.
    assert!(text(&out.stderr).contains("Used the roster secret"));
}

#[test]
fn keygen_roster_never_overwrites_a_file_it_did_not_make() {
    let dir = tmp();
    fs::write(dir.path().join("roster.txt"), ROSTER).unwrap();
    let foreign = dir.path().join("keys/students/alice.key");
    fs::create_dir_all(foreign.parent().unwrap()).unwrap();
    let stranger = RoomKey::generate();
    keyfile::write_plain(&foreign, &stranger, keyfile::Overwrite::Never).unwrap();
    let before = fs::read(&foreign).unwrap();

    let out = keygen(dir.path(), &["--roster", "roster.txt"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(fs::read(&foreign).unwrap(), before);
    let line = stdout.lines().find(|l| l.starts_with("alice")).unwrap();
    assert!(
        line.contains("NOT WRITTEN") && line.contains("move the file away"),
        "{line}"
    );
    // The others were still issued.
    assert!(dir.path().join("keys/students/bob.key").exists());

    // A generation lowered by mistake is explained, and the newer file kept.
    let bob = dir.path().join("keys/students/bob.key");
    fs::write(
        dir.path().join("roster.txt"),
        ROSTER.replace("bob       1", "bob       3"),
    )
    .unwrap();
    assert!(
        !keygen(dir.path(), &["--roster", "roster.txt"])
            .status
            .success()
    );
    let bob_at_3 = fs::read(&bob).unwrap();
    fs::write(dir.path().join("roster.txt"), ROSTER).unwrap();
    let stdout = text(&keygen(dir.path(), &["--roster", "roster.txt"]).stdout);
    assert_eq!(fs::read(&bob).unwrap(), bob_at_3);
    assert!(
        stdout.contains("generations only go up: write bob 4"),
        "{stdout}"
    );
}

#[test]
fn keygen_roster_errors_name_the_line_and_write_nothing() {
    let dir = tmp();
    fs::write(
        dir.path().join("roster.txt"),
        "alice 1 student Alice\nbob Bob Okafor\n",
    )
    .unwrap();
    let out = keygen(dir.path(), &["--roster", "roster.txt"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("roster.txt, line 2:"), "{stderr}");
    assert!(stderr.contains("bob 1 student"), "{stderr}");
    assert!(!dir.path().join("keys").exists(), "something was written");

    fs::write(dir.path().join("roster.txt"), "alice\nAlice 2\n").unwrap();
    let stderr = text(&keygen(dir.path(), &["--roster", "roster.txt"]).stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("line 1"),
        "{stderr}"
    );

    let stderr = text(&keygen(dir.path(), &["--roster", "missing.txt"]).stderr);
    assert!(stderr.contains("missing.txt"), "{stderr}");
}

#[test]
fn keygen_roster_refuses_to_put_the_secret_in_the_students_folder() {
    let dir = tmp();
    fs::write(dir.path().join("roster.txt"), ROSTER).unwrap();
    let out = keygen(
        dir.path(),
        &[
            "--roster",
            "roster.txt",
            "--out",
            "keys",
            "--roster-secret",
            "keys/roster.secret",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("inside the students' folder"));
    assert!(!dir.path().join("keys").exists());
}

#[test]
fn a_students_keyfile_from_keygen_identifies_that_student_to_the_server() {
    let dir = tmp();
    fs::write(dir.path().join("roster.txt"), ROSTER).unwrap();
    assert!(
        keygen(dir.path(), &["--roster", "roster.txt"])
            .status
            .success()
    );
    // What the server does: the roster and the secret, and nothing else.
    let roster = Roster::load(&dir.path().join("roster.txt")).unwrap();
    let secret = load_secret(&dir.path().join("keys/roster.secret"));
    let ring = Keyring::new(roster, &secret, None);

    let bob = load_key(&dir.path().join("keys/students/bob.key"));
    let hello = bob.encrypt(br#"{"type":"hello","nick":"bob"}"#);
    match ring.identify(hello.as_bytes()).unwrap() {
        Identified::Student { entry, opened, .. } => {
            assert_eq!(entry.login, "bob");
            assert_eq!(entry.display_name.as_deref(), Some("Bob Okafor"));
            assert_eq!(opened.plaintext, br#"{"type":"hello","nick":"bob"}"#);
        }
        other => panic!("{other:?}"),
    }
    // Dave was revoked: his key (made by hand from the secret) is named as revoked.
    let dave = secret.student_key("dave", 1).encrypt(b"{}");
    assert!(matches!(
        ring.identify(dave.as_bytes()).unwrap(),
        Identified::Refused { entry, .. } if entry.login == "dave"
    ));
}
