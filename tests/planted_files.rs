//! Files someone else planted where fernchat reads or writes (issue 12 item 7), through the
//! library's public API. The binaries' side (`--log`, the server identity, the history's
//! compaction) is in tests/client_binary.rs, tests/server_binary.rs and tests/history.rs.

// The only test here is Unix-only (symbolic links and permission bits), so are its imports.
#[cfg(unix)]
use std::fs;

#[cfg(unix)]
use fernchat::client::pins::{KnownServers, Pin};
#[cfg(unix)]
use fernchat::identity::ServerIdentity;

/// `keys/known_servers` decides which server identity the client trusts. A symbolic link
/// planted under its name made the client append pins to the link's target, and a file others
/// may write let them pin their own key for a server. Failed on the old main (both were used).
/// Now both are refused, naming the fix, and the link's target is untouched.
#[cfg(unix)]
#[test]
fn a_planted_known_servers_file_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = ServerIdentity::generate().public();

    let rc = dir.path().join("bashrc");
    fs::write(&rc, "# my shell\n").unwrap();
    let link = dir.path().join("known_servers");
    std::os::unix::fs::symlink(&rc, &link).unwrap();
    let err = KnownServers::new(&link).check("h:1", &key).unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(fs::read_to_string(&rc).unwrap(), "# my shell\n");

    // Someone else's key pinned in a file they may write: refused, not trusted.
    let open = dir.path().join("open_known_servers");
    let planted = ServerIdentity::generate().public();
    fs::write(&open, format!("h:1 {}\n", planted.to_wire())).unwrap();
    fs::set_permissions(&open, fs::Permissions::from_mode(0o666)).unwrap();
    let err = KnownServers::new(&open).check("h:1", &planted).unwrap_err();
    assert!(err.to_string().contains("chmod go-w"), "{err}");

    // Our own file, readable by others (public keys) but writable by us only: fine.
    let own = dir.path().join("own_known_servers");
    assert_eq!(
        KnownServers::new(&own).check("h:1", &key).unwrap(),
        Pin::New
    );
    fs::set_permissions(&own, fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        KnownServers::new(&own).check("h:1", &key).unwrap(),
        Pin::Known
    );
}
