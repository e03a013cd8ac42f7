//! keygen: makes the class key, and tells which key a keyfile holds.
//!
//! A thin front end over [`fernchat::keyfile`]: that module owns the file formats, modes and
//! passphrase prompts; this binary only turns arguments into calls and results into messages.
//!
//! Everything it says goes to stderr, except the one thing a script may want to capture: the
//! fingerprint printed by `--fingerprint`. The key itself is never printed.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use fernchat::crypto::RoomKey;
use fernchat::keyfile::{self, FingerprintView, KeyfileError, KeyfileKind, Overwrite, SealParams};

/// Makes a new fernchat class key, or shows the fingerprint of an existing one.
///
/// The new keyfile is created with mode 0600 and never replaces an existing file unless
/// --force is given. Only the key's fingerprint is shown, never the key.
#[derive(Debug, Parser)]
#[command(
    name = "keygen",
    version,
    after_help = "\
Examples:
  cargo run --bin keygen                          write keys/class.key
  cargo run --bin keygen -- --seal                the same, encrypted under a passphrase
  cargo run --bin keygen -- --fingerprint keys/class.key
                                                  which key does this file hold? (a sealed
                                                  file: what its header says, unverified)
  cargo run --bin keygen -- --fingerprint keys/class.key --verify
                                                  the same, opening a sealed file with its
                                                  passphrase to check
  cargo run --bin keygen -- keys/new.key          a new key for rotation, beside the old one:
                                                  then `server --key keys/new.key --key keys/class.key`
  cargo run --bin keygen -- --identity            write keys/server.identity, the server's
                                                  Ed25519 key for --kex x25519-psk-signed

Environment:
  FERNCHAT_PASSPHRASE  the passphrase for --seal and for opening a sealed keyfile, instead of
                       asking on the terminal (for scripts; it is visible to other programs of
                       the same user, so prefer the prompt when typing by hand)

Exit status:
  0  success
  1  error (the message says what went wrong and how to fix it)
  2  usage error (unknown option, missing value)"
)]
struct Args {
    /// Where to write the new keyfile.
    #[arg(value_name = "PATH", default_value = keyfile::DEFAULT_KEY_PATH)]
    path: PathBuf,

    /// Replace PATH if it already exists. Anyone holding the old key can no longer join.
    #[arg(long, conflicts_with = "fingerprint")]
    force: bool,

    /// Encrypt the key under a passphrase (asked twice) with scrypt at OWASP's cost. Short or
    /// common passphrases are refused (at least 12 characters, not a common password).
    #[arg(long, conflicts_with = "fingerprint")]
    seal: bool,

    /// With --seal: accept a passphrase that the strength rule refuses.
    #[arg(long, requires = "seal")]
    weak_passphrase: bool,

    /// Print the fingerprint of the key in this existing keyfile to stdout, and write nothing.
    /// For a sealed file this is what its header says, without asking for the passphrase (and
    /// not verified); add --verify to open it and check.
    #[arg(long, value_name = "KEYFILE", conflicts_with = "path")]
    fingerprint: Option<PathBuf>,

    /// With --fingerprint: open a sealed file with its passphrase and print the fingerprint of
    /// the key inside (three tries on a terminal).
    #[arg(long, requires = "fingerprint")]
    verify: bool,

    /// Write a new server identity key (Ed25519, for `--kex x25519-psk-signed`) to PATH
    /// (default keys/server.identity) and print its fingerprint; or, if PATH exists, print the
    /// fingerprint of the identity it holds. An identity file is never replaced: clients have
    /// pinned it.
    #[arg(
        long,
        value_name = "PATH",
        num_args = 0..=1,
        default_missing_value = fernchat::identity::DEFAULT_IDENTITY_PATH,
        conflicts_with_all = ["path", "fingerprint", "seal", "force"]
    )]
    identity: Option<PathBuf>,
}

/// Why keygen failed: a keyfile error, or one that only makes sense for writing a new key.
#[derive(Debug)]
enum Failure {
    Keyfile(KeyfileError),
    /// `--seal` with neither a terminal to ask on nor the environment variable. The library's
    /// own message for this speaks of opening an existing sealed file.
    NoPassphraseToSeal,
    /// `--seal` with a passphrase the strength rule refuses: why.
    WeakPassphrase(String),
    /// `--fingerprint` on a sealed file whose header names no fingerprint.
    NoClaimedFingerprint(PathBuf),
}

impl Failure {
    /// What to do next, when the message alone does not say it.
    fn hint(&self) -> Option<&'static str> {
        match self {
            Failure::Keyfile(err) => keyfile_hint(err),
            Failure::NoPassphraseToSeal
            | Failure::WeakPassphrase(_)
            | Failure::NoClaimedFingerprint(_) => None,
        }
    }
}

impl From<KeyfileError> for Failure {
    fn from(err: KeyfileError) -> Failure {
        Failure::Keyfile(err)
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Keyfile(err) => err.fmt(f),
            Failure::NoPassphraseToSeal => write!(
                f,
                "--seal needs a passphrase, but there is no terminal to ask on; \
                 run keygen in a terminal, or set {} for scripts",
                keyfile::PASSPHRASE_ENV
            ),
            Failure::WeakPassphrase(why) => write!(
                f,
                "that passphrase is too weak to seal a class key under: {why}. Nothing was \
                 written. Choose another, or pass --weak-passphrase if you accept that a \
                 published sealed file could be opened by guessing"
            ),
            Failure::NoClaimedFingerprint(path) => write!(
                f,
                "{} is sealed and its header names no fingerprint; open it with \
                 `cargo run --bin keygen -- --fingerprint {} --verify` (asks for the passphrase)",
                path.display(),
                path.display()
            ),
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(path) = &args.identity {
        return identity(path);
    }
    let result = match &args.fingerprint {
        Some(path) => show_fingerprint(path, args.verify),
        None => write_new_key(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keygen: error: {err}");
            if let Some(hint) = err.hint() {
                eprintln!("keygen: {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

fn write_new_key(args: &Args) -> Result<(), Failure> {
    let path = args.path.as_path();
    let overwrite = if args.force {
        Overwrite::Replace
    } else {
        Overwrite::Never
    };
    // Only for the message: the library's create-new open is what actually prevents
    // overwriting, even if another program creates the file in between.
    let existed = path.exists();
    if args.seal && existed && overwrite == Overwrite::Never {
        // Refuse before asking for a passphrase that would be typed for nothing.
        return Err(KeyfileError::AlreadyExists {
            path: path.to_owned(),
        }
        .into());
    }

    let key = RoomKey::generate();
    if args.seal {
        let phrase = keyfile::new_passphrase(path).map_err(|err| match err {
            KeyfileError::NoPassphrase { .. } => Failure::NoPassphraseToSeal,
            other => Failure::Keyfile(other),
        })?;
        if !args.weak_passphrase
            && let Some(why) = keyfile::passphrase_weakness(&phrase)
        {
            return Err(Failure::WeakPassphrase(why));
        }
        keyfile::write_sealed(path, &key, &phrase, SealParams::OWASP, overwrite)?;
    } else {
        keyfile::write_plain(path, &key, overwrite)?;
    }
    print_next_steps(path, &key, args.seal, existed);
    Ok(())
}

/// What was written and what to do next. The advice names the file actually written: a key
/// written elsewhere is started with `--key PATH` (never "copy it over keys/class.key", which
/// during a rotation would destroy the key the students still hold), and a key written beside
/// an existing class key is offered as a rotation.
fn print_next_steps(path: &Path, key: &RoomKey, sealed: bool, replaced: bool) {
    let kind = if sealed {
        "sealed class key"
    } else {
        "class key"
    };
    let mode = if cfg!(unix) { " (mode 0600)" } else { "" };
    let shown = path.display();
    if replaced {
        eprintln!("Replaced the {kind} in {shown} with a new one{mode}");
    } else {
        eprintln!("Wrote a new {kind}: {shown}{mode}");
    }
    eprintln!("Fingerprint: {}", key.fingerprint());
    if replaced {
        eprintln!(
            "The previous key is gone: anyone who holds only the old file can no longer join. \
             Hand out the new one. (To let students move at their own pace instead, write the \
             new key to another file and give the server both: --key NEW --key OLD.)"
        );
    }
    let default = Path::new(keyfile::DEFAULT_KEY_PATH);
    let is_default = path == default;
    // Another class key is already in use: the new one is (probably) its successor.
    let rotating = !is_default && default.is_file();
    eprintln!();
    eprintln!("Next:");
    eprintln!(
        "  1. Hand {shown} to your students; they save it as {} in their fernchat folder \
         (or start the client with --key and the path where they saved it).",
        keyfile::DEFAULT_KEY_PATH
    );
    if sealed {
        eprintln!(
            "     Tell them the passphrase another way than the file (not in the same email)."
        );
    }
    let key_args = if is_default {
        String::new()
    } else {
        format!(" -- --key {shown}")
    };
    if rotating {
        eprintln!(
            "  2. Rotate to it: cargo run --bin server -- --key {shown} --key {}",
            keyfile::DEFAULT_KEY_PATH
        );
        eprintln!(
            "     The server accepts both keys, so students move to the new one at their own \
             pace; drop the old --key once everyone has."
        );
        eprintln!("     Or, for the new key alone: cargo run --bin server{key_args}");
    } else {
        eprintln!("  2. Start the server with: cargo run --bin server{key_args}");
    }
    if sealed {
        eprintln!(
            "     It asks for the passphrase on its terminal (or reads {} in scripts).",
            keyfile::PASSPHRASE_ENV
        );
    }
    eprintln!(
        "  3. Everyone checks they hold this key: \
         cargo run --bin keygen -- --fingerprint {} (or their path)",
        keyfile::DEFAULT_KEY_PATH
    );
    eprintln!(
        "     must print {}, the fingerprint the server shows too.",
        key.fingerprint()
    );
}

/// `--identity`: makes the server's identity key, or shows the fingerprint of an existing one
/// (on stdout, like `--fingerprint`).
fn identity(path: &Path) -> ExitCode {
    use fernchat::identity::{IdentityError, ServerIdentity};
    match ServerIdentity::load(path) {
        Ok(existing) => {
            eprintln!(
                "{} already holds a server identity; it is never replaced (clients pinned it)",
                path.display()
            );
            println!("{}", existing.public().fingerprint());
            ExitCode::SUCCESS
        }
        Err(IdentityError::NotFound { .. }) => {
            let identity = ServerIdentity::generate();
            if let Err(e) = identity.create(path) {
                eprintln!("keygen: error: {e}");
                return ExitCode::FAILURE;
            }
            let mode = if cfg!(unix) { " (mode 0600)" } else { "" };
            eprintln!("Wrote a new server identity: {}{mode}", path.display());
            eprintln!(
                "Start the server with: cargo run --bin server -- --kex x25519-psk-signed --identity {}",
                path.display()
            );
            eprintln!(
                "Publish the fingerprint below; students' clients pin it on first connection."
            );
            println!("{}", identity.public().fingerprint());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("keygen: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--fingerprint`: from the key itself for a plain file; from a sealed file's header
/// (unverified) unless `verify`, which opens it with the passphrase.
fn show_fingerprint(path: &Path, verify: bool) -> Result<(), Failure> {
    let (view, warnings) = keyfile::fingerprint_without_passphrase(path)?;
    for warning in &warnings {
        eprintln!("keygen: warning: {warning}");
    }
    if !verify {
        match view {
            FingerprintView::Verified(fingerprint) => println!("{fingerprint}"),
            FingerprintView::Claimed(claimed) => {
                eprintln!(
                    "{} is sealed: this fingerprint is read from its header and was NOT \
                     verified (anyone can edit a comment). To check it, open the file with \
                     its passphrase: cargo run --bin keygen -- --fingerprint {} --verify",
                    path.display(),
                    path.display()
                );
                println!("{claimed}");
            }
            FingerprintView::Unknown => {
                return Err(Failure::NoClaimedFingerprint(path.to_owned()));
            }
        }
        return Ok(());
    }
    let loaded = keyfile::load_from_env_or_terminal(path)?;
    let fingerprint = loaded.key.fingerprint();
    if loaded.kind == KeyfileKind::Sealed {
        eprintln!(
            "{} is sealed; its passphrase opened it, and this is the key inside (verified).",
            path.display()
        );
        if let FingerprintView::Claimed(claimed) = view
            && claimed != fingerprint.to_string()
        {
            eprintln!(
                "keygen: warning: the file's header claims {claimed}, but the key inside is \
                 {fingerprint}: the header was edited; trust the key's fingerprint"
            );
        }
    }
    println!("{fingerprint}");
    Ok(())
}

/// What to do next, for the keyfile errors whose message alone does not say it.
fn keyfile_hint(err: &KeyfileError) -> Option<&'static str> {
    match err {
        KeyfileError::NotFound { .. } => Some(
            "check the path; make a new key with `cargo run --bin keygen`, \
             or ask your instructor for the class keyfile",
        ),
        KeyfileError::Io { .. } => {
            Some("check that the folder exists and that you may write there (or read the file)")
        }
        KeyfileError::TooLarge { .. }
        | KeyfileError::NoKey { .. }
        | KeyfileError::BadKey { .. }
        | KeyfileError::ExtraLine { .. } => {
            Some("this is not a fernchat keyfile: ask for a fresh copy of the class keyfile")
        }
        KeyfileError::BadSealedLine { .. } | KeyfileError::SealParamsOutOfRange { .. } => {
            Some("the sealed keyfile is damaged: ask for a fresh copy of the class keyfile")
        }
        KeyfileError::UnsupportedSeal { .. } => {
            Some("update fernchat (git pull), or ask for a keyfile this version reads")
        }
        KeyfileError::WrongPassphrase { .. } => {
            Some("type the passphrase again (it is case-sensitive), or check FERNCHAT_PASSPHRASE")
        }
        KeyfileError::PassphraseMismatch | KeyfileError::EmptyPassphrase => {
            Some("run keygen --seal again")
        }
        KeyfileError::AlreadyExists { .. } | KeyfileError::NoPassphrase { .. } => None,
    }
}
