//! The `server` binary as an instructor runs it: first start creates the class key, an
//! explicitly named key must exist, the banner says how to join, Ctrl-C tells every client.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;

use common::{Peer, STEP};
use crossbeam_channel::Receiver;
use fernchat::keyfile;
use fernchat::protocol::ServerEvent;

/// A running server process and its output, line by line.
struct ServerProcess {
    /// `None` once waited for.
    child: Option<Child>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl ServerProcess {
    fn start(cwd: &Path, args: &[&str]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(args)
            .current_dir(cwd)
            .env_remove("FERNCHAT_KEYFILE")
            .env_remove("FERNCHAT_PORT")
            .env_remove("FERNCHAT_BIND")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server binary");
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        ServerProcess {
            child: Some(child),
            stdout,
            stderr,
        }
    }

    /// Reads stdout until the "listening on" line, returning the address.
    fn address(&self) -> SocketAddr {
        for _ in 0..20 {
            let line = self
                .stdout
                .recv_timeout(STEP)
                .expect("the server prints its banner");
            if let Some(rest) = line.split("listening on ").nth(1) {
                return rest
                    .trim()
                    .parse()
                    .expect("an address after 'listening on'");
            }
        }
        panic!("no 'listening on' line");
    }

    /// Waits (bounded) for the process to exit and returns its exit code.
    fn exit_code(mut self) -> Option<i32> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let mut child = self.child.take().expect("still running");
        thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = rx
            .recv_timeout(STEP)
            .expect("the server exits in time")
            .unwrap();
        status.code()
    }

    fn stderr_text(&self) -> String {
        let mut text = String::new();
        while let Ok(line) = self
            .stderr
            .recv_timeout(std::time::Duration::from_millis(200))
        {
            text.push_str(&line);
            text.push('\n');
        }
        text
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn lines(pipe: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = crossbeam_channel::unbounded();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

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
