//! The `server` binary as an instructor runs it: first start creates the class key, an
//! explicitly named key must exist, the banner says how to join, Ctrl-C tells every client.

mod common;

#[cfg(unix)]
use std::process::Command;

#[cfg(unix)]
use common::Peer;
use common::process::ServerProcess;
#[cfg(unix)]
use fernchat::keyfile;
#[cfg(unix)]
use fernchat::protocol::ServerEvent;

#[test]
fn an_explicit_key_path_that_does_not_exist_is_an_error_not_a_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &["--port", "0", "--key", "keys/typo.key"]);
    let stderr = server.stderr_text();
    assert_eq!(server.exit_code(), Some(1));
    assert!(
        stderr.contains("keys/typo.key: no such keyfile"),
        "{stderr}"
    );
    assert!(
        stderr.contains("keygen"),
        "the message says how to make one: {stderr}"
    );
    assert!(!dir.path().join("keys").exists());
}

#[cfg(unix)]
#[test]
fn first_start_creates_the_class_key_and_ctrl_c_tells_every_client() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &["--port", "0"]);
    let addr = server.address();
    assert!(
        addr.ip().is_loopback(),
        "listens on 127.0.0.1 by default: {addr}"
    );

    let key_path = dir.path().join(keyfile::DEFAULT_KEY_PATH);
    let mode = std::fs::metadata(&key_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let loaded = keyfile::load(&key_path, &mut |_| panic!("not sealed")).unwrap();
    let mut peer = Peer::connect(addr, loaded.key.clone());
    peer.hello("alice");
    assert!(matches!(peer.recv(), ServerEvent::Welcome { .. }));

    let status = Command::new("kill")
        .args(["-INT", &server.child.as_ref().unwrap().id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let seen = peer.expect_closed(5);
    assert!(
        seen.iter().any(|e| matches!(e, ServerEvent::Bye { .. })),
        "saw {seen:?}"
    );
    let stderr = server.stderr_text();
    assert_eq!(server.exit_code(), Some(0));

    let fingerprint = loaded.key.fingerprint().to_string();
    assert!(
        stderr.contains(&fingerprint),
        "the creation notice names the fingerprint: {stderr}"
    );
    assert!(stderr.contains("hand a copy"), "{stderr}");
    // The log names joins, never message text or the key.
    assert!(stderr.contains("join #"), "{stderr}");
    assert!(!stderr.contains(loaded.key.expose_secret()));
}

/// SIGTERM (`kill`, systemd, `docker stop`) stops the server like Ctrl-C: every client is
/// told. Before the server handled it, SIGTERM ended the process and clients only saw the
/// connection drop.
#[cfg(unix)]
#[test]
fn sigterm_stops_the_server_and_tells_every_client() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(dir.path(), &["--port", "0"]);
    let addr = server.address();
    let key_path = dir.path().join(keyfile::DEFAULT_KEY_PATH);
    let loaded = keyfile::load(&key_path, &mut |_| panic!("not sealed")).unwrap();
    let mut peer = Peer::connect(addr, loaded.key.clone());
    peer.hello("alice");
    assert!(matches!(peer.recv(), ServerEvent::Welcome { .. }));

    let status = Command::new("kill")
        .args(["-TERM", &server.child.as_ref().unwrap().id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let seen = peer.expect_closed(5);
    assert!(
        seen.iter().any(|e| matches!(e, ServerEvent::Bye { .. })),
        "saw {seen:?}"
    );
    assert_eq!(server.exit_code(), Some(0));
}
