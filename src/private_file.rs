//! Files that only their owner may read: keyfiles, the room history, chat transcripts.
//!
//! One place for the platform difference: on Unix a new file gets mode 0600; on Windows a new
//! file inherits its folder's ACL, which in the user's own profile already keeps other users
//! out, and there is no mode to set.

use std::fs::OpenOptions;

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

/// What a Windows user must do so that a new secret file (`path`) is theirs alone: nothing
/// here sets an ACL (that needs the Win32 security API, i.e. `unsafe` or an unmaintained
/// crate; see docs/PLATFORMS.md), so the file has its folder's permissions. keygen and the
/// server print this after creating a key.
#[cfg(windows)]
pub fn windows_privacy_note(path: &std::path::Path) -> String {
    let path = path.display();
    format!(
        "Windows: {path} has the permissions of its folder. Inside your user folder \
         (C:\\Users\\<you>) only you and administrators can read it; anywhere else (C:\\code, \
         a USB stick, a shared drive) make it yours alone with\n  \
         icacls {path} /inheritance:r /grant:r \"%USERNAME%:F\"        (Command Prompt)\n  \
         icacls {path} /inheritance:r /grant:r \"${{env:USERNAME}}:F\"   (PowerShell)"
    )
}
