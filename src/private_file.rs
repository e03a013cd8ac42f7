//! Files that only their owner may read: keyfiles, the room history, chat transcripts, pins.
//!
//! One place for the platform difference: on Unix a new file gets mode 0600; on Windows a new
//! file inherits its folder's ACL, which in the user's own profile already keeps other users
//! out, and there is no mode to set.
//!
//! It also owns the rules for *existing* files that fernchat writes into or trusts (the
//! `--log` transcript, `keys/known_servers`, the server's identity) and for temporary files. In
//! a folder other people can write to (a shared lab disk, `/tmp`), someone can plant a file
//! there before we run: a symbolic link to the user's shell start-up file (chat lines get
//! appended to it), a file they own or may write (they read or change what we put there), or
//! the temporary file's name (we would write into their file). So, on Unix:
//! - [`open_checked`] never follows a symbolic link at the last component (`O_NOFOLLOW`), and
//!   refuses an existing file owned by another user or writable by group or others, with an
//!   error that names the fix;
//! - [`create_temporary`] makes a new file (never an existing one) under a name nobody can
//!   guess in advance.
//!
//! Elsewhere these checks are skipped (Windows has ACLs, not modes; see `cfg` below).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Options for creating a file readable and writable by its owner only (the caller adds
/// `write`, `append`, `create_new` ... as it needs).
pub fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    restrict(&mut options);
    options
}

#[cfg(unix)]
fn restrict(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    options.mode(0o600);
}

#[cfg(not(unix))]
fn restrict(_options: &mut OpenOptions) {}

/// Who else may have access to an existing file we open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Others {
    /// Others may read it but not write it (pins: public keys, but they decide whom we trust).
    MayRead,
    /// Nobody else may read or write it (a chat transcript, a secret key).
    NoAccess,
}

/// Opens `path` with `options` (from [`options`], so a new file is 0600) without following a
/// symbolic link, then checks the file: on Unix an existing regular file must belong to us and
/// must not be writable by group or others (nor readable, with [`Others::NoAccess`]). The
/// error's text says what is wrong and how to fix it; it does not repeat the path, which the
/// caller's error names.
///
/// Character devices (`/dev/null`, a terminal) are let through: they keep nothing on disk,
/// and the user named them on purpose.
pub fn open_checked(path: &Path, mut options: OpenOptions, others: Others) -> io::Result<File> {
    no_follow(&mut options);
    let file = options.open(path).map_err(|e| {
        // Linux and macOS say ELOOP, FreeBSD EMLINK: ask the file system instead of the code.
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            refusal(
                io::ErrorKind::InvalidInput,
                "it is a symbolic link, which fernchat does not follow for files it writes or \
                 trusts (someone could point it at another of your files); delete the link, or \
                 give the real file's path"
                    .to_owned(),
            )
        } else {
            e
        }
    })?;
    check_owner_and_mode(&file, path, others)?;
    Ok(file)
}

/// Checks an open file's owner and mode as [`open_checked`] does (for files read without it).
pub fn check_owner_and_mode(file: &File, path: &Path, others: Others) -> io::Result<()> {
    platform_check(file, path, others)
}

/// Why [`open_checked`] refused a file it could have opened (inside the `io::Error`).
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn refusal(kind: io::ErrorKind, why: String) -> io::Error {
    io::Error::new(kind, Refused(why))
}

/// Whether `error` is one of our refusals (a link, another owner, a loose mode) rather than
/// the operating system's: callers say "refusing" instead of "cannot read".
pub fn is_refusal(error: &io::Error) -> bool {
    error.get_ref().is_some_and(|inner| inner.is::<Refused>())
}

#[cfg(unix)]
fn no_follow(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    options.custom_flags(libc::O_NOFOLLOW);
}

#[cfg(not(unix))]
fn no_follow(_options: &mut OpenOptions) {}

#[cfg(unix)]
fn platform_check(file: &File, path: &Path, others: Others) -> io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = file.metadata()?;
    if meta.file_type().is_char_device() {
        return Ok(());
    }
    let refused = |why: String| Err(refusal(io::ErrorKind::PermissionDenied, why));
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return refused(format!(
            "it belongs to another user (uid {}, you are {me}), who could read or change it; \
             delete it if you may, or choose a path in a folder of your own",
            meta.uid()
        ));
    }
    let mode = meta.mode() & 0o777;
    let forbidden = match others {
        Others::MayRead => 0o022,
        Others::NoAccess => 0o077,
    };
    if mode & forbidden != 0 {
        let fix = match others {
            Others::MayRead => "chmod go-w",
            Others::NoAccess => "chmod 600",
        };
        let who = if mode & 0o022 != 0 { "write" } else { "read" };
        return refused(format!(
            "other users of this computer may {who} it (mode {mode:o}); fix it with: {fix} {}",
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn platform_check(_file: &File, _path: &Path, _others: Others) -> io::Result<()> {
    Ok(())
}

/// Creates a new private file beside `path`, named `<name>.<suffix>-<16 random hex digits>`,
/// for writing. It never opens an existing file (create-new, no symbolic links), and the name
/// cannot be guessed, so nobody can plant it in advance. The caller renames it over `path`
/// or deletes it.
pub fn create_temporary(path: &Path, suffix: &str) -> io::Result<(PathBuf, File)> {
    let mut random = [0u8; 8];
    getrandom::getrandom(&mut random).map_err(io::Error::other)?;
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let mut name = temporary_prefix(path, suffix).into_os_string();
    name.push(hex);
    let temporary = PathBuf::from(name);
    let mut options = options();
    options.write(true).create_new(true);
    no_follow(&mut options);
    let file = options.open(&temporary)?;
    Ok((temporary, file))
}

/// What every temporary of [`create_temporary`] for `path` and `suffix` starts with, so that
/// leftovers of a crash can be found and removed.
pub fn temporary_prefix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{suffix}-"));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn append() -> OpenOptions {
        let mut o = options();
        o.create(true).append(true);
        o
    }

    #[test]
    fn a_new_file_is_made_and_an_own_private_one_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        open_checked(&path, append(), Others::NoAccess)
            .unwrap()
            .write_all(b"one\n")
            .unwrap();
        open_checked(&path, append(), Others::NoAccess)
            .unwrap()
            .write_all(b"two\n")
            .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
    }

    #[cfg(unix)]
    #[test]
    fn links_and_loose_modes_are_refused_naming_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("bashrc");
        std::fs::write(&target, "# rc\n").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = open_checked(&link, append(), Others::MayRead).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(is_refusal(&err));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "# rc\n");

        let loose = dir.path().join("loose");
        std::fs::write(&loose, "").unwrap();
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o666)).unwrap();
        let err = open_checked(&loose, append(), Others::MayRead).unwrap_err();
        assert!(err.to_string().contains("chmod go-w"), "{err}");
        std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(open_checked(&loose, append(), Others::MayRead).is_ok());
        let err = open_checked(&loose, append(), Others::NoAccess).unwrap_err();
        assert!(err.to_string().contains("chmod 600"), "{err}");
        // A device is not a file on disk: /dev/null is root's and 0666, and still fine.
        assert!(open_checked(Path::new("/dev/null"), append(), Others::NoAccess).is_ok());
    }

    #[test]
    fn temporaries_are_new_and_unpredictable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.jsonl");
        let (a, _) = create_temporary(&path, "compacting").unwrap();
        let (b, _) = create_temporary(&path, "compacting").unwrap();
        assert_ne!(a, b);
        let prefix = temporary_prefix(&path, "compacting");
        for t in [&a, &b] {
            let shown = t.to_string_lossy();
            assert!(shown.starts_with(&*prefix.to_string_lossy()), "{shown}");
            assert_eq!(shown.len(), prefix.to_string_lossy().len() + 16);
        }
    }
}
