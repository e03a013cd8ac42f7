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
