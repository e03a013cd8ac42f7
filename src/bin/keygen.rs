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
use fernchat::keyfile::{self, KeyfileError, KeyfileKind, Overwrite, SealParams};

/// Makes a new fernchat class key, or shows the fingerprint of an existing one.
///
/// The new keyfile is created with mode 0600 (on Windows: see what keygen prints) and never replaces an existing file unless
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
                                                  which key does this file hold?
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

    /// Encrypt the key under a passphrase (asked twice) with scrypt at OWASP's cost.
    #[arg(long, conflicts_with = "fingerprint")]
    seal: bool,

    /// Print the fingerprint of the key in this existing keyfile (plain or sealed) to stdout,
    /// and write nothing.
    #[arg(long, value_name = "KEYFILE", conflicts_with = "path")]
    fingerprint: Option<PathBuf>,

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
}

impl Failure {
    /// What to do next, when the message alone does not say it.
    fn hint(&self) -> Option<&'static str> {
        match self {
            Failure::Keyfile(err) => keyfile_hint(err),
            Failure::NoPassphraseToSeal => None,
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
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(path) = &args.identity {
        return identity(path);
    }
    let result = match &args.fingerprint {
        Some(path) => show_fingerprint(path),
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
        keyfile::write_sealed(path, &key, &phrase, SealParams::OWASP, overwrite)?;
    } else {
        keyfile::write_plain(path, &key, overwrite)?;
    }

    let kind = if args.seal {
        "sealed class key"
    } else {
        "class key"
    };
    let mode = if cfg!(unix) { " (mode 0600)" } else { "" };
    let verb = if existed { "Replaced" } else { "Wrote" };
    eprintln!("{verb} a new {kind}: {}{mode}", path.display());
    eprintln!("Fingerprint: {}", key.fingerprint());
    #[cfg(windows)]
    eprintln!("{}", fernchat::private_file::windows_privacy_note(path));
    if existed {
        eprintln!(
            "The previous key is gone: anyone who holds the old file can no longer join. \
             Hand out the new one."
        );
    }
    eprintln!();
    eprintln!("Next:");
    eprintln!(
        "  1. Hand this file to your students; they save it as {} in their fernchat folder.",
        keyfile::DEFAULT_KEY_PATH
    );
    if args.seal {
        eprintln!(
            "     Tell them the passphrase another way than the file (not in the same email)."
        );
    }
    let server_key = if path == Path::new(keyfile::DEFAULT_KEY_PATH) {
        String::new()
    } else {
        format!(" (copy it to {} first)", keyfile::DEFAULT_KEY_PATH)
    };
    eprintln!("  2. Start the server with: cargo run --bin server{server_key}");
    eprintln!(
        "  3. Everyone checks they hold this key: \
         cargo run --bin keygen -- --fingerprint {}",
        keyfile::DEFAULT_KEY_PATH
    );
    eprintln!(
        "     must print {}, the fingerprint the server shows too.",
        key.fingerprint()
    );
    Ok(())
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
            #[cfg(windows)]
            eprintln!("{}", fernchat::private_file::windows_privacy_note(path));
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

fn show_fingerprint(path: &Path) -> Result<(), Failure> {
    let loaded = keyfile::load(path, &mut keyfile::passphrase_from_env_or_prompt)?;
    for warning in &loaded.warnings {
        eprintln!("keygen: warning: {warning}");
    }
    if loaded.kind == KeyfileKind::Sealed {
        eprintln!("{} is sealed; its passphrase opened it.", path.display());
    }
    println!("{}", loaded.key.fingerprint());
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
