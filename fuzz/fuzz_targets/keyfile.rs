//! Keyfiles: arbitrary file contents through `keyfile::parse` (plain and sealed), and the same
//! contents written to a file through `keyfile::load`.
//!
//! Input: the file's bytes.
//!
//! Checks: nothing panics; the outcome agrees with a model of the format (one key line after
//! skipping blank and `#` lines and a byte-order mark; `NoKey` and `ExtraLine` name the right
//! line; a plain key is that line's key; a sealed line has parameters in the accepted range);
//! `load` from a file gives the same key or the same error as `parse`; no error shows the
//! class key. A sealed key is opened (once) with the fixed passphrase only when its scrypt
//! parameters are the cheapest accepted (128 KiB), so the fuzzer spends its time parsing, not
//! in scrypt; `load` is given no passphrase. The parser itself refuses absurd parameters, and
//! that is checked against the documented range.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use fernchat::crypto::RoomKey;
use fernchat::keyfile::{self, KeyfileError, KeyfileKind, ParsedKeyfile, SealParams};
use fernchat_fuzz::{KEY, PASSPHRASE};
use libfuzzer_sys::fuzz_target;

/// scrypt memory (128 · r · N · p bytes) up to which a sealed key is opened: the cheapest
/// parameters the parser accepts (log_n 10, r 1, p 1), which the seeds use.
const CHEAP_SCRYPT_BYTES: u64 = 128 * 1024;

fn scratch() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary folder"))
        .path()
}

fn cheap(params: SealParams) -> bool {
    128 * u64::from(params.r) * (1u64 << params.log_n) * u64::from(params.p) <= CHEAP_SCRYPT_BYTES
}

fn in_range(params: SealParams) -> bool {
    (10..=22).contains(&params.log_n)
        && (1..=32).contains(&params.r)
        && (1..=16).contains(&params.p)
        && 128u64 * u64::from(params.r) * (1u64 << params.log_n) <= 1 << 30
}

/// The key lines of a keyfile by the format's rules, with their 1-based numbers.
fn key_lines(text: &str) -> Vec<(usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, raw)| (i + 1, raw.trim_start_matches('\u{feff}').trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .collect()
}

/// A key, or an error's text: what both ways of reading a keyfile must agree on.
fn outcome(result: Result<RoomKey, KeyfileError>) -> Result<String, String> {
    result
        .map(|key| key.fingerprint().to_string())
        .map_err(|e| e.to_string())
}

fuzz_target!(|data: &[u8]| {
    // The path only names the file in `parse`'s errors; `load` reads this same path.
    let path: PathBuf = scratch().join("fuzz.key");
    let text = String::from_utf8_lossy(data);
    let lines = key_lines(&text);
    let parsed = keyfile::parse(&path, data);
    let mut sealed_params = None;
    // What `load` must agree with: the key, or the error. For a sealed file that is the
    // refusal to give a passphrase, so `load` never runs scrypt; `parse` opens it here.
    let expected = match parsed {
        Ok(ParsedKeyfile::Plain(key)) => {
            let [(_, line)] = lines[..] else {
                panic!("a key from {} key lines", lines.len())
            };
            assert!(!line.starts_with("fernchat-sealed:") && line != "fernchat-sealed");
            let expected = RoomKey::from_secret(line).expect("the key line is a key");
            assert_eq!(expected.fingerprint(), key.fingerprint());
            assert_eq!(expected.expose_secret(), key.expose_secret());
            Ok(key)
        }
        Ok(ParsedKeyfile::Sealed(sealed)) => {
            let [(_, line)] = lines[..] else {
                panic!("a sealed key from {} key lines", lines.len())
            };
            assert_eq!(line.split(':').next(), Some("fernchat-sealed"));
            let params = sealed.params();
            assert!(in_range(params), "{params:?} accepted");
            sealed_params = Some(params);
            if cheap(params) {
                match sealed.open(&path, PASSPHRASE) {
                    Ok(key) => assert!(!key.expose_secret().is_empty()),
                    Err(e) => assert!(
                        matches!(
                            e,
                            KeyfileError::WrongPassphrase { .. }
                                | KeyfileError::BadSealedLine { .. }
                                | KeyfileError::BadKey { .. }
                        ),
                        "{e}"
                    ),
                }
            }
            Err(KeyfileError::NoPassphrase { path: path.clone() })
        }
        Err(e) => {
            match &e {
                KeyfileError::NoKey { .. } => assert!(lines.is_empty()),
                KeyfileError::ExtraLine { line, .. } => {
                    assert!(lines.len() >= 2);
                    assert_eq!(*line, lines[1].0);
                }
                KeyfileError::BadKey { line, .. } => assert_eq!(lines, [(*line, lines[0].1)]),
                KeyfileError::SealParamsOutOfRange { log_n, r, p } => {
                    assert!(!in_range(SealParams {
                        log_n: *log_n,
                        r: *r,
                        p: *p
                    }))
                }
                KeyfileError::BadSealedLine { .. } | KeyfileError::UnsupportedSeal { .. } => {
                    assert_eq!(lines.len(), 1)
                }
                other => panic!("parse cannot fail this way: {other}"),
            }
            assert!(!e.to_string().contains(KEY), "an error shows the key");
            Err(e)
        }
    };

    // The same contents from a file.
    std::fs::write(&path, data).expect("write");
    let mut asked = false;
    let loaded = keyfile::load(&path, &mut |p| {
        asked = true;
        Err(KeyfileError::NoPassphrase { path: p.to_owned() })
    });
    assert_eq!(asked, sealed_params.is_some());
    if let Ok(loaded) = &loaded {
        assert_eq!(loaded.kind, KeyfileKind::Plain);
    }
    assert_eq!(outcome(loaded.map(|l| l.key)), outcome(expected));
});
