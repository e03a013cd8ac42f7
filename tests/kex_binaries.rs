//! The opt-in authenticated mode as an instructor and a student run it: `server --kex
//! x25519-psk-signed` (identity created on first start, beside the class key) and `client
//! --kex x25519-psk-signed` (pins on first use, refuses a changed identity, says how to reset).

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::STEP;
use common::process::ServerProcess;
use fernchat::identity::ServerIdentity;

/// A free port now (the servers below take it in turn, so pins keyed by address apply).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Runs the client binary in pipe mode in `dir`: (exit code, stdout, stderr).
fn client(dir: &Path, port: u16, kex: &str, input: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_client"))
        .current_dir(dir)
        .env_remove("FERNCHAT_KEX")
        .env_remove("FERNCHAT_KNOWN_SERVERS")
        .env_remove("FERNCHAT_KEYFILE")
        .env_remove("FERNCHAT_HOST")
        .env_remove("FERNCHAT_PORT")
        .env_remove("FERNCHAT_NICK")
        .args(["--port", &port.to_string(), "--kex", kex, "--nick", "alice"])
        .arg("--no-reconnect")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the client binary");
    // A client that refuses to go on (a changed identity, say) may exit before reading its
    // input: a closed pipe is then what the test expects, not a failure.
    if let Err(e) = child.stdin.take().unwrap().write_all(input.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    let read = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    // `std` has no wait with a timeout: poll; the pause paces the polling, it orders nothing.
    let deadline = Instant::now() + 2 * STEP;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the client did not exit in time");
        }
        thread::sleep(Duration::from_millis(10));
    };
    (
        status.code().unwrap_or(-1),
        stdout.join().unwrap(),
        stderr.join().unwrap(),
    )
}

#[test]
fn a_signed_class_pins_the_server_and_refuses_a_new_identity() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let args = ["--port", &port.to_string(), "--kex", "x25519-psk-signed"];
    let server = ServerProcess::start(dir.path(), &args);
    server.address();
    let banner = server.stdout_line("server identity");
    let identity_path = dir.path().join("keys/server.identity");
    let identity = ServerIdentity::load(&identity_path).expect("created on first start");
    let fingerprint = identity.public().fingerprint().to_string();
    assert!(banner.contains(&fingerprint), "{banner}");
    // Unix only: Windows has no mode bits (docs/PLATFORMS.md says what protects the file there).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&identity_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // First connection: pinned, said on stderr, chat works.
    let (code, stdout, stderr) = client(dir.path(), port, "x25519-psk-signed", "hello\n");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("now pinned") && stderr.contains(&fingerprint),
        "{stderr}"
    );
    assert!(stdout.contains("hello"), "{stdout}");
    let pins = std::fs::read_to_string(dir.path().join("keys/known_servers")).unwrap();
    assert!(pins.starts_with(&format!("127.0.0.1:{port} ")), "{pins}");
    // Second: the pin matches.
    let (code, _, stderr) = client(dir.path(), port, "x25519-psk-signed", "again\n");
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("matches your pin"), "{stderr}");
    // The server is pinned as a signed server: the client itself refuses a weaker exchange
    // with it (issue 12 item 5), before anything is sent.
    let (code, _, stderr) = client(dir.path(), port, "psk", "hi\n");
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("weaker psk"), "{stderr}");
    drop(server);

    // The identity file lost, the server restarted: it makes a new identity, and the pinned
    // client refuses it, naming both fingerprints and how to reset.
    std::fs::remove_file(&identity_path).unwrap();
    let server = ServerProcess::start(dir.path(), &args);
    server.address();
    let new = ServerIdentity::load(&identity_path)
        .unwrap()
        .public()
        .fingerprint()
        .to_string();
    let (code, stdout, stderr) = client(dir.path(), port, "x25519-psk-signed", "hello\n");
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(&fingerprint) && stderr.contains(&new),
        "{stderr}"
    );
    let pins_path = fernchat::client::pins::DEFAULT_KNOWN_SERVERS;
    assert!(stderr.contains(pins_path), "{stderr}");
    assert!(!stdout.contains("hello"), "nothing was said: {stdout}");
}
