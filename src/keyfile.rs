//! Keyfiles: how a class key is stored on disk, plain or sealed under a passphrase.
//!
//! This module owns the file formats, file permissions and passphrase prompting. It must not
//! know Fernet's internals (it asks [`crate::crypto`] for keys and tokens) nor print anything:
//! it returns warnings and errors for the binaries to show.
//!
//! # Format (plain)
//!
//! In the style of age's key files: `#` comment lines, then the key on its own line.
//!
//! ```text
//! # fernchat class key: hand this file to the students of one class; keep it off websites
//! # created: 2026-11-22T10:15:00+00:00
//! # fingerprint: 3F2A-9C01-77D4-B0E8
//! cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=
//! ```
//!
//! Readers skip `#` lines and blank lines and trim whitespace, so a file holding just the
//! output of Python's `Fernet.generate_key()` works too. Comments are not trusted: the
//! fingerprint shown is always computed from the key.
//!
//! # Format (sealed)
//!
//! The key line is replaced by one line of colon-separated fields:
//!
//! ```text
//! fernchat-sealed:v1:scrypt:LOG_N:R:P:SALT:TOKEN
//! ```
//!
//! - `LOG_N`, `R`, `P`: scrypt's cost parameters (N = 2^LOG_N), decimal.
//! - `SALT`: 16 random bytes, URL-safe base64 with padding.
//! - `TOKEN`: a Fernet token whose plaintext is the key's text form, made with the Fernet key
//!   `urlsafe_b64encode(scrypt(passphrase as UTF-8, SALT, N, R, P, dklen=32))`.
//!
//! Opening one in Python (standard library plus `cryptography`):
//!
//! ```python
//! import base64, hashlib, getpass
//! from cryptography.fernet import Fernet
//! line = next(l.strip() for l in open("keys/class.key") if l.strip() and not l.startswith("#"))
//! magic, version, kdf, log_n, r, p, salt, token = line.split(":")
//! assert (magic, version, kdf) == ("fernchat-sealed", "v1", "scrypt")
//! n, r, p = 2 ** int(log_n), int(r), int(p)
//! kek = hashlib.scrypt(getpass.getpass().encode(), salt=base64.urlsafe_b64decode(salt),
//!                      n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)
//! key = Fernet(base64.urlsafe_b64encode(kek)).decrypt(token.encode())
//! ```

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use zeroize::Zeroizing;

use crate::crypto::{Fingerprint, KeyError, RoomKey, TokenHeader};

mod strength;
pub use strength::weakness as passphrase_weakness;

/// How many times a passphrase is asked for on a terminal before giving up: a typo should not
/// mean starting the server or client again.
pub const PASSPHRASE_TRIES: usize = 3;

/// Where `keygen`, the server and the client look for the class key by default (written the
/// platform's way, as messages show it).
#[cfg(not(windows))]
pub const DEFAULT_KEY_PATH: &str = "keys/class.key";
#[cfg(windows)]
pub const DEFAULT_KEY_PATH: &str = r"keys\class.key";

/// The environment variable that supplies a sealed keyfile's passphrase to scripts and tests.
pub const PASSPHRASE_ENV: &str = "FERNCHAT_PASSPHRASE";

/// Starts the key line of a sealed keyfile.
const SEALED_MAGIC: &str = "fernchat-sealed";

/// A keyfile larger than this is not a keyfile; refusing it bounds what we read.
const MAX_KEYFILE_BYTES: u64 = 64 * 1024;

/// scrypt's cost parameters for sealing a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealParams {
    /// N = 2^log_n: the memory and time cost.
    pub log_n: u8,
    /// Block size.
    pub r: u32,
    /// Parallelism.
    pub p: u32,
}

impl SealParams {
    /// OWASP's Password Storage Cheat Sheet minimum for scrypt: N=2^17 (128 MiB), r=8, p=1.
    pub const OWASP: SealParams = SealParams {
        log_n: 17,
        r: 8,
        p: 1,
    };

    /// How many times [`SealParams::OWASP`]'s work and memory a sealed file may ask for.
    pub const MAX_COST_FACTOR: u64 = 4;

    /// scrypt's work, in units of one block mix: N·r·p (the default is 2^17·8·1 = 2^20).
    pub fn work(self) -> u64 {
        (1u64 << self.log_n.min(63)) * u64::from(self.r) * u64::from(self.p)
    }

    /// scrypt's memory in bytes: 128·N·r (the default needs 128 MiB).
    pub fn memory(self) -> u64 {
        128 * (1u64 << self.log_n.min(56)) * u64::from(self.r)
    }

    /// Refuses parameters that would make opening a file take absurd memory or time, before any
    /// passphrase is asked for: a file could otherwise ask for terabytes, or for p = 16 at
    /// N = 2^20 (72 s and 1 GiB to find out the passphrase was wrong). The cap is
    /// [`SealParams::MAX_COST_FACTOR`] times the default's work and memory.
    fn check(self) -> Result<(), KeyfileError> {
        let fits = (10..=22).contains(&self.log_n)
            && (1..=32).contains(&self.r)
            && (1..=16).contains(&self.p)
            && self.work() <= SealParams::OWASP.work() * SealParams::MAX_COST_FACTOR
            && self.memory() <= SealParams::OWASP.memory() * SealParams::MAX_COST_FACTOR;
        if fits {
            Ok(())
        } else {
            Err(KeyfileError::SealParamsOutOfRange {
                log_n: self.log_n,
                r: self.r,
                p: self.p,
            })
        }
    }
}

/// What went wrong with a keyfile. Every variant names the file; none holds key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyfileError {
    /// The file is not there.
    #[error("{path}: no such keyfile")]
    NotFound {
        /// The path looked for.
        path: PathBuf,
    },
    /// Reading or writing failed for another reason.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// Refused to replace an existing keyfile.
    #[error(
        "{path} already exists; refusing to overwrite a key (students may hold it). \
         Choose another path, or pass --force to replace it"
    )]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// Too large to be a keyfile.
    #[error("{path} is {len} bytes, too large to be a keyfile")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
    },
    /// Only comments and blank lines.
    #[error("{path} holds no key (only comments or blank lines)")]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// More than one key line.
    #[error(
        "{path} has more than one key line (line {line}); a keyfile holds one key. \
         For rotation, give the server several keyfiles"
    )]
    ExtraLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the second key line.
        line: usize,
    },
    /// The key line is not a valid key.
    #[error("{path}, line {line}: {source}")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// Why it is not a key.
        source: KeyError,
    },
    /// A sealed key line that does not follow the format.
    #[error("{path}: the sealed key line is malformed ({what})")]
    BadSealedLine {
        /// The file.
        path: PathBuf,
        /// Which field is wrong.
        what: &'static str,
    },
    /// A sealed file from a newer fernchat, or another KDF.
    #[error("{path}: sealed with {found}, which this fernchat does not know (it reads v1:scrypt)")]
    UnsupportedSeal {
        /// The file.
        path: PathBuf,
        /// The version and KDF found, each shown only if it is a short plain word (see
        /// `shown_field`), so that key material pasted into the line never appears here.
        found: String,
    },
    /// scrypt parameters outside what we are willing to compute.
    #[error(
        "the sealing parameters log_n={log_n} r={r} p={p} ask for more scrypt work or memory \
         than fernchat accepts (at most {} times keygen's log_n=17 r=8 p=1, 512 MiB); \
         refused before asking for the passphrase",
        SealParams::MAX_COST_FACTOR
    )]
    SealParamsOutOfRange {
        /// log2 of N.
        log_n: u8,
        /// Block size.
        r: u32,
        /// Parallelism.
        p: u32,
    },
    /// The passphrase did not open the sealed key.
    #[error("{path}: wrong passphrase (or the file was altered)")]
    WrongPassphrase {
        /// The file.
        path: PathBuf,
    },
    /// No passphrase could be obtained (no terminal and no environment variable).
    #[error(
        "{path} is sealed and needs its passphrase: no terminal to ask on; \
         set {PASSPHRASE_ENV} for scripts"
    )]
    NoPassphrase {
        /// The file.
        path: PathBuf,
    },
    /// The two passphrases typed for sealing differ.
    #[error("the two passphrases differ; nothing was written")]
    PassphraseMismatch,
    /// An empty passphrase protects nothing.
    #[error("an empty passphrase protects nothing; nothing was written")]
    EmptyPassphrase,
}

/// Something worth telling the user that does not stop the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyfileWarning {
    /// Other users of the machine can read the key.
    ReadableByOthers {
        /// The file.
        path: PathBuf,
        /// Its Unix permission bits.
        mode: u32,
    },
    /// Other users of the machine can change the key (a keyfile planted, or left writable, in
    /// a shared folder: they could swap in a key of their choosing).
    WritableByOthers {
        /// The file.
        path: PathBuf,
        /// Its Unix permission bits.
        mode: u32,
    },
    /// The file belongs to another user, who can replace it at any time.
    OwnedByOther {
        /// The file.
        path: PathBuf,
        /// The owner's user id.
        uid: u32,
    },
}

impl std::fmt::Display for KeyfileWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyfileWarning::ReadableByOthers { path, mode } => write!(
                f,
                "{} can be read by other users of this computer (mode {:o}); \
                 fix it with: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            ),
            KeyfileWarning::WritableByOthers { path, mode } => write!(
                f,
                "{} can be changed by other users of this computer (mode {:o}), who could \
                 swap in a key of their own; fix it with: chmod 600 {}",
                path.display(),
                mode & 0o777,
                path.display()
            ),
            KeyfileWarning::OwnedByOther { path, uid } => write!(
                f,
                "{} belongs to another user (uid {uid}), who can replace the key at any time; \
                 keep your own copy: cp {} mine.key && chmod 600 mine.key, then use --key mine.key",
                path.display(),
                path.display()
            ),
        }
    }
}

/// Whether a keyfile is plain or sealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyfileKind {
    /// The key is written in the clear.
    Plain,
    /// The key is encrypted under a passphrase.
    Sealed,
}

/// A key read from a file, with what the user should be told about the file.
#[derive(Debug)]
pub struct LoadedKey {
    /// The key.
    pub key: RoomKey,
    /// Plain or sealed.
    pub kind: KeyfileKind,
    /// Non-fatal problems (loose permissions).
    pub warnings: Vec<KeyfileWarning>,
}

/// Reads a keyfile, asking `passphrase` for the passphrase only if the file is sealed.
pub fn load(
    path: &Path,
    passphrase: &mut dyn FnMut(&Path) -> Result<Zeroizing<String>, KeyfileError>,
) -> Result<LoadedKey, KeyfileError> {
    load_with_tries(path, &mut |_| passphrase(path), 1)
}

/// Reads a keyfile as the binaries do: a sealed file's passphrase comes from
/// [`PASSPHRASE_ENV`] (one try: a script cannot type another) or else from the terminal,
/// without echo, with [`PASSPHRASE_TRIES`] tries.
pub fn load_from_env_or_terminal(path: &Path) -> Result<LoadedKey, KeyfileError> {
    if let Ok(phrase) = std::env::var(PASSPHRASE_ENV) {
        let phrase = Zeroizing::new(phrase);
        return load(path, &mut |_| Ok(phrase.clone()));
    }
    load_asking(
        path,
        &mut |prompt| rpassword::prompt_password(prompt).map(Zeroizing::new),
        PASSPHRASE_TRIES,
    )
}

/// Reads a keyfile, asking `ask(prompt)` for a sealed file's passphrase up to `tries` times;
/// after a wrong one the next prompt says so and how many tries are left. `ask` failing (no
/// terminal) is [`KeyfileError::NoPassphrase`]; the last wrong passphrase is
/// [`KeyfileError::WrongPassphrase`]. Tests pass a closure that reads from a buffer.
pub fn load_asking(
    path: &Path,
    ask: &mut dyn FnMut(&str) -> io::Result<Zeroizing<String>>,
    tries: usize,
) -> Result<LoadedKey, KeyfileError> {
    let mut ask = |prompt: &str| {
        ask(prompt).map_err(|_| KeyfileError::NoPassphrase {
            path: path.to_owned(),
        })
    };
    load_with_tries(path, &mut ask, tries)
}

/// [`load`] and [`load_asking`]: `ask(prompt)` gives a sealed file's passphrase, up to `tries`
/// times (at least once) while it is wrong.
fn load_with_tries(
    path: &Path,
    ask: &mut dyn FnMut(&str) -> Result<Zeroizing<String>, KeyfileError>,
    tries: usize,
) -> Result<LoadedKey, KeyfileError> {
    let contents = read_small(path)?;
    let warnings = permission_warnings(path);
    let sealed = match parse(path, &contents)? {
        ParsedKeyfile::Plain(key) => {
            return Ok(LoadedKey {
                key,
                kind: KeyfileKind::Plain,
                warnings,
            });
        }
        ParsedKeyfile::Sealed(sealed) => sealed,
    };
    let tries = tries.max(1);
    for attempt in 1..=tries {
        let prompt = if attempt == 1 {
            format!("Passphrase for {}: ", path.display())
        } else {
            let left = tries + 1 - attempt;
            let plural = if left == 1 { "try" } else { "tries" };
            format!(
                "Wrong passphrase ({left} {plural} left; it is case-sensitive). \
                 Passphrase for {}: ",
                path.display()
            )
        };
        let phrase = ask(&prompt)?;
        match sealed.open(path, &phrase) {
            Ok(key) => {
                return Ok(LoadedKey {
                    key,
                    kind: KeyfileKind::Sealed,
                    warnings,
                });
            }
            Err(KeyfileError::WrongPassphrase { .. }) if attempt < tries => continue,
            Err(other) => return Err(other),
        }
    }
    Err(KeyfileError::WrongPassphrase {
        path: path.to_owned(),
    })
}

/// What can be said about a keyfile's fingerprint without its passphrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FingerprintView {
    /// A plain file: computed from the key itself.
    Verified(Fingerprint),
    /// A sealed file: what its `# fingerprint:` comment says. Anyone can edit a comment, so
    /// only opening the file with the passphrase confirms it.
    Claimed(String),
    /// A sealed file without a well-formed `# fingerprint:` comment.
    Unknown,
}

/// The fingerprint of the key in `path` without asking for a passphrase (`keygen
/// --fingerprint`), with the file's warnings.
pub fn fingerprint_without_passphrase(
    path: &Path,
) -> Result<(FingerprintView, Vec<KeyfileWarning>), KeyfileError> {
    let contents = read_small(path)?;
    let warnings = permission_warnings(path);
    let view = match parse(path, &contents)? {
        ParsedKeyfile::Plain(key) => FingerprintView::Verified(key.fingerprint()),
        ParsedKeyfile::Sealed(_) => match claimed_fingerprint(&contents) {
            Some(claimed) => FingerprintView::Claimed(claimed),
            None => FingerprintView::Unknown,
        },
    };
    Ok((view, warnings))
}

/// The `# fingerprint: XXXX-XXXX-XXXX-XXXX` comment keygen writes, if there is exactly such a
/// line: 4 groups of 4 upper-case hexadecimal digits, so that nothing else in a comment (let
/// alone a key) is ever shown.
pub fn claimed_fingerprint(contents: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(contents);
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("# fingerprint:"))
        .map(str::trim)
        .find(|f| {
            let groups: Vec<&str> = f.split('-').collect();
            groups.len() == 4
                && groups.iter().all(|g| {
                    g.len() == 4
                        && g.chars()
                            .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c))
                })
        })
        .map(str::to_owned)
}

/// A keyfile's contents after parsing, before any passphrase is asked for.
#[derive(Debug)]
pub enum ParsedKeyfile {
    /// A plain keyfile: the key itself.
    Plain(RoomKey),
    /// A sealed keyfile whose key line is well formed; [`SealedKey::open`] opens it.
    Sealed(SealedKey),
}

/// Parses a keyfile's contents (the bytes of the file) as [`load`] does, without touching the
/// file system and without asking for a passphrase. `path` only names the file in errors.
///
/// Bytes that are not UTF-8 are read lossily, so the error names the line they are on. Every
/// check that needs no passphrase is made here, including the sealed line's scrypt parameters,
/// so a file asking for absurd work is refused before anything is computed.
pub fn parse(path: &Path, contents: &[u8]) -> Result<ParsedKeyfile, KeyfileError> {
    // Not UTF-8 cannot be a key; lossy conversion makes the error below name the line.
    let text = Zeroizing::new(String::from_utf8_lossy(contents).into_owned());
    let (line_no, line) = key_line(path, &text)?;
    if is_sealed_line(line) {
        return SealedKey::parse(path, line).map(ParsedKeyfile::Sealed);
    }
    let key = RoomKey::from_secret(line).map_err(|source| KeyfileError::BadKey {
        path: path.to_owned(),
        line: line_no,
        source,
    })?;
    Ok(ParsedKeyfile::Plain(key))
}

/// Whether `path` holds a sealed key, without opening it.
pub fn is_sealed(path: &Path) -> Result<bool, KeyfileError> {
    let bytes = read_small(path)?;
    // Not UTF-8 cannot be a key; lossy conversion makes errors name the line.
    let text = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
    let (_, line) = key_line(path, &text)?;
    Ok(is_sealed_line(line))
}

/// How a new keyfile is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Refuse if the file exists (the default everywhere).
    Never,
    /// Replace an existing file (keygen `--force`).
    Replace,
}

/// Writes `key` to a new plain keyfile, mode 0600 on Unix. Creates missing parent folders.
pub fn write_plain(path: &Path, key: &RoomKey, overwrite: Overwrite) -> Result<(), KeyfileError> {
    let mut body = header(
        key,
        "fernchat class key: hand this file to your students; keep it off public websites",
    );
    body.push_str(key.expose_secret());
    body.push('\n');
    write_secret_file(path, &body, overwrite)
}

/// Writes `key` sealed under `passphrase` with scrypt at `params`, mode 0600 on Unix.
pub fn write_sealed(
    path: &Path,
    key: &RoomKey,
    passphrase: &str,
    params: SealParams,
    overwrite: Overwrite,
) -> Result<(), KeyfileError> {
    if passphrase.is_empty() {
        return Err(KeyfileError::EmptyPassphrase);
    }
    params.check()?;
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).map_err(|e| KeyfileError::Io {
        path: path.to_owned(),
        source: io::Error::other(e),
    })?;
    let kek = derive_kek(passphrase, &salt, params)?;
    let token = kek.encrypt(key.expose_secret().as_bytes());
    let mut body = header(
        key,
        "fernchat sealed class key: the key inside is encrypted; it opens with its passphrase",
    );
    body.push_str(&format!(
        "# sealed with scrypt log_n={} r={} p={}\n{SEALED_MAGIC}:v1:scrypt:{}:{}:{}:{}:{}\n",
        params.log_n,
        params.r,
        params.p,
        params.log_n,
        params.r,
        params.p,
        URL_SAFE.encode(salt),
        token
    ));
    write_secret_file(path, &body, overwrite)
}

/// The passphrase from [`PASSPHRASE_ENV`], or else asked on the terminal without echo.
pub fn passphrase_from_env_or_prompt(path: &Path) -> Result<Zeroizing<String>, KeyfileError> {
    if let Ok(phrase) = std::env::var(PASSPHRASE_ENV) {
        return Ok(Zeroizing::new(phrase));
    }
    rpassword::prompt_password(format!("Passphrase for {}: ", path.display()))
        .map(Zeroizing::new)
        .map_err(|_| KeyfileError::NoPassphrase {
            path: path.to_owned(),
        })
}

/// Asks for a new passphrase twice (or takes it from [`PASSPHRASE_ENV`]) for sealing.
pub fn new_passphrase(path: &Path) -> Result<Zeroizing<String>, KeyfileError> {
    if let Ok(phrase) = std::env::var(PASSPHRASE_ENV) {
        return Ok(Zeroizing::new(phrase));
    }
    let no_terminal = |_| KeyfileError::NoPassphrase {
        path: path.to_owned(),
    };
    let first = Zeroizing::new(
        rpassword::prompt_password(format!("New passphrase for {}: ", path.display()))
            .map_err(no_terminal)?,
    );
    let second =
        Zeroizing::new(rpassword::prompt_password("Same passphrase again: ").map_err(no_terminal)?);
    if *first != *second {
        return Err(KeyfileError::PassphraseMismatch);
    }
    Ok(first)
}

fn header(key: &RoomKey, what: &str) -> String {
    format!(
        "# {what}\n# created: {}\n# fingerprint: {}\n",
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        key.fingerprint()
    )
}

fn derive_kek(passphrase: &str, salt: &[u8], params: SealParams) -> Result<RoomKey, KeyfileError> {
    let scrypt_params =
        scrypt::Params::new(params.log_n, params.r, params.p, 32).map_err(|_| {
            KeyfileError::SealParamsOutOfRange {
                log_n: params.log_n,
                r: params.r,
                p: params.p,
            }
        })?;
    let mut kek = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(
        passphrase.as_bytes(),
        salt,
        &scrypt_params,
        kek.as_mut_slice(),
    )
    .map_err(|_| KeyfileError::SealParamsOutOfRange {
        log_n: params.log_n,
        r: params.r,
        p: params.p,
    })?;
    let text = Zeroizing::new(URL_SAFE.encode(kek.as_slice()));
    Ok(RoomKey::from_secret(&text).expect("32 bytes always make a Fernet key"))
}

/// The parsed fields of a sealed key line: everything but the key, which needs the passphrase.
/// None of it is secret (the key inside is encrypted).
#[derive(Debug, Clone)]
pub struct SealedKey {
    params: SealParams,
    salt: Vec<u8>,
    token: String,
}

impl SealedKey {
    fn parse(path: &Path, line: &str) -> Result<SealedKey, KeyfileError> {
        let bad = |what| KeyfileError::BadSealedLine {
            path: path.to_owned(),
            what,
        };
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 3 {
            return Err(bad("too few fields"));
        }
        if fields[1] != "v1" || fields[2] != "scrypt" {
            return Err(KeyfileError::UnsupportedSeal {
                path: path.to_owned(),
                found: format!("{}:{}", shown_field(fields[1]), shown_field(fields[2])),
            });
        }
        let [_, _, _, log_n, r, p, salt, token] = fields[..] else {
            return Err(bad("expected 8 colon-separated fields"));
        };
        let params = SealParams {
            log_n: log_n.parse().map_err(|_| bad("LOG_N is not a number"))?,
            r: r.parse().map_err(|_| bad("R is not a number"))?,
            p: p.parse().map_err(|_| bad("P is not a number"))?,
        };
        params.check()?;
        let salt = URL_SAFE
            .decode(salt)
            .map_err(|_| bad("SALT is not base64"))?;
        // Checked here, before a passphrase is asked for: a damaged token would otherwise
        // be reported as a wrong passphrase, and the user would retype a correct one.
        TokenHeader::parse(token.as_bytes()).map_err(|_| bad("TOKEN is not a Fernet token"))?;
        Ok(SealedKey {
            params,
            salt,
            token: token.to_owned(),
        })
    }

    /// The scrypt parameters the file asks for (already checked to be in the accepted range).
    pub fn params(&self) -> SealParams {
        self.params
    }

    /// Derives the key-encryption key from `passphrase` (scrypt at [`SealedKey::params`]) and
    /// opens the key. `path` only names the file in errors.
    pub fn open(&self, path: &Path, passphrase: &str) -> Result<RoomKey, KeyfileError> {
        let kek = derive_kek(passphrase, &self.salt, self.params)?;
        let opened =
            kek.decrypt(self.token.as_bytes())
                .map_err(|_| KeyfileError::WrongPassphrase {
                    path: path.to_owned(),
                })?;
        let secret = Zeroizing::new(opened.plaintext);
        let text = std::str::from_utf8(&secret).map_err(|_| KeyfileError::BadSealedLine {
            path: path.to_owned(),
            what: "the sealed key is not text",
        })?;
        RoomKey::from_secret(text).map_err(|source| KeyfileError::BadKey {
            path: path.to_owned(),
            line: 0,
            source,
        })
    }
}

fn read_small(path: &Path) -> Result<Zeroizing<Vec<u8>>, KeyfileError> {
    let io_err = |source: io::Error| {
        if source.kind() == io::ErrorKind::NotFound {
            KeyfileError::NotFound {
                path: path.to_owned(),
            }
        } else {
            KeyfileError::Io {
                path: path.to_owned(),
                source,
            }
        }
    };
    let len = fs::metadata(path).map_err(io_err)?.len();
    if len > MAX_KEYFILE_BYTES {
        return Err(KeyfileError::TooLarge {
            path: path.to_owned(),
            len,
        });
    }
    // The length above is 0 for devices and pipes (`/dev/zero`, a FIFO), so the read itself
    // must stop at the limit too. Capacity for the whole file up front: growing the buffer
    // would leave copies of the key behind in freed memory.
    let mut bytes = Zeroizing::new(Vec::with_capacity(len as usize + 1));
    File::open(path)
        .map_err(io_err)?
        .take(MAX_KEYFILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_KEYFILE_BYTES {
        return Err(KeyfileError::TooLarge {
            path: path.to_owned(),
            len: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

/// A field of a sealed line as an error may show it: whole if it is a short plain word (a
/// version or KDF name such as `v2` or `argon2id`), otherwise only its length. A key is 43 or
/// more characters without `:`, so it can never be shown, whole or in part.
fn shown_field(field: &str) -> String {
    let plain = field
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if field.len() <= 16 && plain {
        field.to_owned()
    } else {
        format!("<{} characters>", field.chars().count())
    }
}

/// Whether a key line is in the sealed format (its first field is exactly the magic word).
fn is_sealed_line(line: &str) -> bool {
    line.split(':').next() == Some(SEALED_MAGIC)
}

/// The one line that is not a comment or blank, with its 1-based number.
fn key_line<'t>(path: &Path, text: &'t str) -> Result<(usize, &'t str), KeyfileError> {
    let mut found = None;
    for (index, raw) in text.lines().enumerate() {
        // Windows Notepad may start a UTF-8 file with a byte-order mark; it is not part of the key.
        let line = raw.trim_start_matches('\u{feff}').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if found.is_some() {
            return Err(KeyfileError::ExtraLine {
                path: path.to_owned(),
                line: index + 1,
            });
        }
        found = Some((index + 1, line));
    }
    found.ok_or_else(|| KeyfileError::NoKey {
        path: path.to_owned(),
    })
}

/// Writes a private file (mode 0600 on Unix) holding `body`, making missing parent folders:
/// keyfiles here, and the roster's secret and student keyfiles (`crate::roster`).
pub(crate) fn write_secret_file(
    path: &Path,
    body: &str,
    overwrite: Overwrite,
) -> Result<(), KeyfileError> {
    let io_err = |source| KeyfileError::Io {
        path: path.to_owned(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io_err)?;
    }
    match overwrite {
        // create-new is the refusal to overwrite, atomic even against another keygen.
        Overwrite::Never => create_new_secret(path, body),
        // The new key goes to a temporary file first and then replaces the old one in one
        // rename, so a failed write (disk full) leaves the old key intact, not a truncated file.
        // Its name is unpredictable and it is created new, so nobody can plant it.
        Overwrite::Replace => {
            let (temporary, file) =
                crate::private_file::create_temporary(path, "tmp").map_err(io_err)?;
            let written = write_durably(file, &temporary, body)
                .and_then(|()| fs::rename(&temporary, path).map_err(io_err));
            if written.is_err() {
                let _ = fs::remove_file(&temporary);
            }
            written
        }
    }
}

/// Creates `path` (which must not exist) with mode 0600 on Unix and writes `body` durably.
fn create_new_secret(path: &Path, body: &str) -> Result<(), KeyfileError> {
    let io_err = |source| KeyfileError::Io {
        path: path.to_owned(),
        source,
    };
    let file: File = crate::private_file::options()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| {
            if source.kind() == io::ErrorKind::AlreadyExists {
                KeyfileError::AlreadyExists {
                    path: path.to_owned(),
                }
            } else {
                io_err(source)
            }
        })?;
    write_durably(file, path, body)
}

/// Writes `body` to the new `file` (at `path`, for errors) and flushes it to disk.
fn write_durably(mut file: File, path: &Path, body: &str) -> Result<(), KeyfileError> {
    let io_err = |source| KeyfileError::Io {
        path: path.to_owned(),
        source,
    };
    file.write_all(body.as_bytes()).map_err(io_err)?;
    file.sync_all().map_err(io_err)
}

/// The one warning a keyfile's owner and mode deserve, the most serious first. Warnings, not
/// refusals: a class key is shared with the whole class anyway, and a student's copy in a
/// shared lab folder should still work; the server's identity file, which must stay secret,
/// is refused instead (`crate::identity`).
#[cfg(unix)]
fn permission_warnings(path: &Path) -> Vec<KeyfileWarning> {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs::metadata(path) else {
        return Vec::new();
    };
    let path = path.to_owned();
    let mode = meta.mode();
    let warning = if meta.uid() != rustix::process::geteuid().as_raw() {
        KeyfileWarning::OwnedByOther {
            path,
            uid: meta.uid(),
        }
    } else if mode & 0o022 != 0 {
        KeyfileWarning::WritableByOthers { path, mode }
    } else if mode & 0o077 != 0 {
        KeyfileWarning::ReadableByOthers { path, mode }
    } else {
        return Vec::new();
    };
    vec![warning]
}

#[cfg(not(unix))]
fn permission_warnings(_path: &Path) -> Vec<KeyfileWarning> {
    Vec::new()
}

/// The fingerprint of the key in `path` (asks for a passphrase if the file is sealed).
pub fn fingerprint_of(
    path: &Path,
    passphrase: &mut dyn FnMut(&Path) -> Result<Zeroizing<String>, KeyfileError>,
) -> Result<Fingerprint, KeyfileError> {
    load(path, passphrase).map(|loaded| loaded.key.fingerprint())
}
