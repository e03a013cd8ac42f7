//! Interoperability with Python's `cryptography` (the library the Python chats fernchat
//! replaces use), pinned as fixtures so that plain `cargo test` checks it offline.
//!
//! - `tests/fixtures/interop/python.json`: tokens made by `tests/interop/make_fixtures.py`;
//!   Rust must open every one, and refuse the few it refuses on purpose.
//! - `tests/fixtures/interop/rust.json` (+ `rust-sealed.key`): tokens and a sealed keyfile made
//!   by [`rust_tokens_for_python`] below; `tests/interop/check_rust_tokens.py` opens them in
//!   Python.
//!
//! `.ci/run` also does both directions fresh with the real library, through two environment
//! variables read here:
//!
//! - `FERNCHAT_INTEROP_PY=FILE`: a fresh `make_fixtures.py` output, checked like python.json;
//! - `FERNCHAT_INTEROP_OUT=FILE`: write fresh Rust tokens (and a sealed keyfile beside it) for
//!   the Python checker instead of checking rust.json. This is also how rust.json is remade:
//!   `FERNCHAT_INTEROP_OUT=tests/fixtures/interop/rust.json cargo test --test interop`.

use std::path::{Path, PathBuf};

use fernchat::crypto::{RoomKey, TokenError, TokenHeader};
use fernchat::keyfile::{self, KeyfileKind, Overwrite, SealParams};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

#[derive(Debug, Serialize, Deserialize)]
struct Token {
    plaintext: String,
    timestamp: u64,
    token: String,
}

#[derive(Debug, Deserialize)]
struct Refused {
    why: String,
    error: String,
    token: String,
}

#[derive(Debug, Deserialize)]
struct PythonFixture {
    key: String,
    fingerprint: String,
    tokens: Vec<Token>,
    refused: Vec<Refused>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Sealed {
    /// File name, relative to the JSON file's folder.
    keyfile: String,
    /// A throwaway passphrase for a throwaway key: this is a test fixture.
    passphrase: String,
    fingerprint: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct RustFixture {
    note: String,
    key: String,
    fingerprint: String,
    tokens: Vec<Token>,
    sealed: Sealed,
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/interop")
        .join(name)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> T {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn check_python_fixture(path: &Path) {
    let fixture: PythonFixture = read_json(path);
    let key = RoomKey::from_secret(&fixture.key).expect("Fernet.generate_key() makes a valid key");
    assert_eq!(
        key.fingerprint().to_string(),
        fixture.fingerprint,
        "{}: Python and Rust compute different fingerprints",
        path.display()
    );
    assert!(
        fixture.tokens.len() >= 10,
        "{}: too few tokens",
        path.display()
    );
    assert!(
        fixture.tokens.iter().any(|t| t.plaintext.is_empty()),
        "the empty plaintext is covered"
    );
    assert!(
        fixture.tokens.iter().any(|t| !t.plaintext.is_ascii()),
        "multi-byte UTF-8 is covered"
    );
    for t in &fixture.tokens {
        let opened = key.decrypt(t.token.as_bytes()).unwrap_or_else(|e| {
            panic!(
                "{}: Python token {:?} refused: {e}",
                path.display(),
                t.plaintext
            )
        });
        assert_eq!(opened.plaintext, t.plaintext.as_bytes());
        assert_eq!(opened.timestamp, t.timestamp);
        assert_eq!(opened.key_index, 0);
        let header = TokenHeader::parse(t.token.as_bytes()).expect("an opened token parses");
        assert_eq!(header.timestamp, t.timestamp);
    }
    assert!(!fixture.refused.is_empty());
    for r in &fixture.refused {
        let got = key.decrypt(r.token.as_bytes());
        let ok = match r.error.as_str() {
            "BadLength" => matches!(got, Err(TokenError::BadLength { .. })),
            "WrongKeyOrTampered" => matches!(got, Err(TokenError::WrongKeyOrTampered { .. })),
            other => panic!("{}: unknown expected error {other:?}", path.display()),
        };
        assert!(
            ok,
            "{} ({}): expected {}, got {got:?}",
            path.display(),
            r.why,
            r.error
        );
    }
}

/// Checks the committed python.json, and also the file named by `FERNCHAT_INTEROP_PY` when
/// set (`.ci/run` points it at tokens `make_fixtures.py` has just made with the real library).
#[test]
fn python_tokens_open_in_rust() {
    check_python_fixture(&fixture("python.json"));
    if let Some(fresh) = std::env::var_os("FERNCHAT_INTEROP_PY") {
        check_python_fixture(Path::new(&fresh));
        eprintln!(
            "checked fresh Python tokens in {}",
            Path::new(&fresh).display()
        );
    }
}

const PLAINTEXTS: &[&str] = &[
    "",
    "hello",
    "fifteen bytes!!",
    "sixteen bytes!!!",
    "seventeen bytes!!",
    "héllo wörld — naïve café",
    "你好，世界",
    "crab 🦀 and rocket 🚀",
    r#"{"type":"say","text":"hi all"}"#,
];

/// From the epoch to the largest timestamp fernchat makes and accepts (u64::MAX - 60).
const TIMESTAMPS: &[u64] = &[0, 1, 499_162_800, 1_763_800_000, 1 << 32, u64::MAX - 60];

/// Non-ASCII, so that both sides must agree the passphrase is hashed as UTF-8.
const TEST_PASSPHRASE: &str = "correct horse battery staple — ünïcode ✓";

fn make_rust_fixture(json_path: &Path) {
    let key = RoomKey::generate();
    let mut tokens: Vec<Token> = PLAINTEXTS
        .iter()
        .map(|text| Token {
            plaintext: (*text).to_owned(),
            timestamp: 1_763_800_000,
            token: key.encrypt_at(text.as_bytes(), 1_763_800_000),
        })
        .collect();
    let long = "long line ".repeat(400);
    tokens.push(Token {
        token: key.encrypt_at(long.as_bytes(), 1_763_800_000),
        plaintext: long,
        timestamp: 1_763_800_000,
    });
    for &ts in TIMESTAMPS
        .iter()
        .chain([fernchat::crypto::unix_now()].iter())
    {
        let text = format!("at {ts}");
        tokens.push(Token {
            token: key.encrypt_at(text.as_bytes(), ts),
            plaintext: text,
            timestamp: ts,
        });
    }

    let stem = json_path
        .file_stem()
        .and_then(|s| s.to_str())
        .expect("FERNCHAT_INTEROP_OUT names a file");
    let sealed_name = format!("{stem}-sealed.key");
    let sealed_path = json_path.with_file_name(&sealed_name);
    keyfile::write_sealed(
        &sealed_path,
        &key,
        TEST_PASSPHRASE,
        SealParams::OWASP,
        Overwrite::Replace,
    )
    .unwrap_or_else(|e| panic!("writing the sealed keyfile: {e}"));

    let fixture = RustFixture {
        note: "made by `FERNCHAT_INTEROP_OUT=FILE cargo test --test interop`; the key is a \
               throwaway test key and the passphrase a throwaway test passphrase"
            .to_owned(),
        key: key.expose_secret().to_owned(),
        fingerprint: key.fingerprint().to_string(),
        tokens,
        sealed: Sealed {
            keyfile: sealed_name,
            passphrase: TEST_PASSPHRASE.to_owned(),
            fingerprint: key.fingerprint().to_string(),
        },
    };
    let mut text = serde_json::to_string_pretty(&fixture).expect("the fixture serializes");
    text.push('\n');
    std::fs::write(json_path, text).unwrap_or_else(|e| panic!("{}: {e}", json_path.display()));
}

/// Everything the Python checker will check, checked in Rust first, so that a broken writer
/// fails here rather than as a puzzling Python mismatch.
fn check_rust_fixture(json_path: &Path) {
    let fixture: RustFixture = read_json(json_path);
    let key = RoomKey::from_secret(&fixture.key).expect("a Rust-made key");
    assert_eq!(key.fingerprint().to_string(), fixture.fingerprint);
    assert!(fixture.tokens.len() >= 10);
    for t in &fixture.tokens {
        let opened = key
            .decrypt(t.token.as_bytes())
            .expect("our own token opens");
        assert_eq!(opened.plaintext, t.plaintext.as_bytes());
        assert_eq!(opened.timestamp, t.timestamp);
    }
    let sealed_path = json_path.with_file_name(&fixture.sealed.keyfile);
    let mut asked = 0;
    let loaded = keyfile::load(&sealed_path, &mut |_| {
        asked += 1;
        Ok(Zeroizing::new(fixture.sealed.passphrase.clone()))
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(asked, 1);
    assert_eq!(loaded.kind, KeyfileKind::Sealed);
    assert_eq!(
        loaded.key.fingerprint().to_string(),
        fixture.sealed.fingerprint
    );
    assert_eq!(loaded.key.expose_secret(), key.expose_secret());
}

/// With `FERNCHAT_INTEROP_OUT` set, writes fresh Rust tokens there for
/// `tests/interop/check_rust_tokens.py`; without it, checks the committed rust.json.
#[test]
fn rust_tokens_for_python() {
    match std::env::var_os("FERNCHAT_INTEROP_OUT") {
        Some(out) => {
            let out = PathBuf::from(out);
            make_rust_fixture(&out);
            check_rust_fixture(&out);
            eprintln!("wrote Rust tokens for Python to {}", out.display());
        }
        None => check_rust_fixture(&fixture("rust.json")),
    }
}
