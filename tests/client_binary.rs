//! The `client` binary in pipe mode against the fake server: what a script or a student piping
//! lines in sees, and the exit code and message of each failure.

mod client_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use client_support::{FakeServer, STEP, now_ms};
use fernchat::crypto::RoomKey;
use fernchat::keyfile::{Overwrite, SealParams, write_plain, write_sealed};
use fernchat::protocol::codec::wrong_key_line;
use fernchat::protocol::{ClientEvent, ErrorCode, ServerEvent};

/// A keyfile holding `key` in a fresh temporary folder (kept alive by the returned guard).
fn keyfile(key: &RoomKey) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("class.key");
    write_plain(&path, key, Overwrite::Never).expect("write keyfile");
    (dir, path)
}

/// The client binary with a clean environment (no FERNCHAT_* from the developer's shell).
fn client(port: u16, key_path: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_client"));
    for var in [
        "FERNCHAT_HOST",
        "FERNCHAT_PORT",
        "FERNCHAT_KEYFILE",
        "FERNCHAT_NICK",
        "FERNCHAT_PASSPHRASE",
        "FERNCHAT_KEX",
        "FERNCHAT_KNOWN_SERVERS",
    ] {
        command.env_remove(var);
    }
    command
        .arg("--port")
        .arg(port.to_string())
        .arg("--key")
        .arg(key_path)
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for the child to exit, killing it after `limit`. Polls `try_wait` because `std` has
/// no wait with a timeout; the pause only paces the polling, it orders nothing.
fn wait_bounded(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the client did not exit within {limit:?}");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Runs the client with `input` on stdin (then closed) and returns (exit code, stdout, stderr).
fn run(mut command: Command, input: &str) -> (i32, String, String) {
    let mut child = command.spawn().expect("spawn client");
    let mut stdin = child.stdin.take().expect("stdin");
    // A client that refuses to start (a bad --log, say) may exit before reading a byte: its
    // closed stdin is then part of what the test expects, not a failure.
    if let Err(e) = stdin.write_all(input.as_bytes()) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    drop(stdin);
    let stdout = read_all_in_background(child.stdout.take().expect("stdout"));
    let stderr = read_all_in_background(child.stderr.take().expect("stderr"));
    let status = wait_bounded(&mut child, 2 * STEP);
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");
    (status.code().unwrap_or(-1), stdout, stderr)
}

fn read_all_in_background(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    port
}

#[test]
fn pipe_mode_takes_the_nick_from_the_first_line_and_quits_at_end_of_input() {
    let key = RoomKey::generate();
    let (_dir, path) = keyfile(&key);
    let server = FakeServer::start(&key, 1);
    let script = {
        let server = server.clone();
        thread::spawn(move || {
            let mut peer = server.accept();
            let nick = peer.join(&["bob"], 100);
            let said = peer.recv();
            let bye = peer.recv();
            assert!(peer.recv_eof());
            (nick, said, bye)
        })
    };
    // `--line` is what a pipe gets anyway; asking for it changes nothing.
    let (code, stdout, stderr) = run(
        client(server.port, &path, &["--line"]),
        "alice\nhello there\n",
    );
    let (nick, said, bye) = script.join().expect("server script");
    assert_eq!(code, 0, "stderr: {stderr}");
    assert_eq!(nick, "alice");
    assert_eq!(
        said,
        ClientEvent::Say {
            room: None,
            text: "hello there".into()
        }
    );
    assert_eq!(bye, ClientEvent::Bye { reason: None });
    assert!(
        stdout.contains(&format!("connected to 127.0.0.1:{}", server.port)),
        "{stdout}"
    );
    assert!(!stdout.contains('\x1b'), "no colour in a pipe: {stdout:?}");
}

#[test]
fn pipe_mode_prints_what_the_room_says() {
    let key = RoomKey::generate();
    let (_dir, path) = keyfile(&key);
    let server = FakeServer::start(&key, 1);
    let script = {
        let server = server.clone();
        thread::spawn(move || {
            let mut peer = server.accept();
            peer.join(&["bob"], 100);
            peer.send(&ServerEvent::Message {
                room: "#class".into(),
                id: 0,
                from: "bob".into(),
                text: "hi \u{1b}[2Jalice".into(),
                time: now_ms(),
            });
            let who = peer.recv();
            let bye = peer.recv();
            (who, bye)
        })
    };
    let mut child = client(server.port, &path, &["--nick", "alice"])
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let (lines_tx, lines) = crossbeam_channel::unbounded();
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok).take(100) {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });
    // Stdin stays open until bob's message has been printed: then the order is certain.
    let mut printed = None;
    for _ in 0..20 {
        let line: String = lines.recv_timeout(STEP).expect("a line from the client");
        if line.contains("<bob>") {
            printed = Some(line);
            break;
        }
    }
    let printed = printed.expect("bob's message printed");
    assert!(printed.ends_with(" <bob> hi ^[[2Jalice"), "{printed:?}");
    assert_eq!(&printed[2..3], ":", "starts with HH:MM: {printed:?}");
    stdin.write_all(b"!users\n/nosuch\n").expect("write");
    drop(stdin);
    let status = wait_bounded(&mut child, 2 * STEP);
    assert_eq!(status.code(), Some(0));
    let (who, bye) = script.join().expect("server script");
    assert_eq!(
        who,
        ClientEvent::Who { room: None },
        "the unknown command was not sent"
    );
    assert_eq!(bye, ClientEvent::Bye { reason: None });
    let rest: Vec<String> = lines.try_iter().collect();
    assert!(
        rest.iter().any(|l| l.contains("unknown command /nosuch")),
        "{rest:?}"
    );
}

#[test]
fn a_missing_keyfile_exits_4_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("class.key");
    let (code, _, stderr) = run(client(closed_port(), &path, &["--nick", "alice"]), "");
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("not found: ask your instructor for the class keyfile and save it there, or pass --key PATH"),
        "{stderr}"
    );
}

#[test]
fn no_server_exits_3_and_says_how_to_start_one() {
    let key = RoomKey::generate();
    let (_dir, path) = keyfile(&key);
    let port = closed_port();
    let (code, _, stderr) = run(client(port, &path, &["--nick", "alice"]), "");
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "no fernchat server is listening at 127.0.0.1:{port}"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("cargo run --bin server"), "{stderr}");
}

#[test]
fn a_wrong_key_exits_4_with_both_fingerprints() {
    let server_key = RoomKey::generate();
    let client_key = RoomKey::generate();
    let (_dir, path) = keyfile(&client_key);
    let server = FakeServer::start(&server_key, 1);
    let script = {
        let server = server.clone();
        let fingerprint = server_key.fingerprint();
        thread::spawn(move || {
            let mut peer = server.accept();
            peer.recv_line();
            peer.send_raw(format!("{}\n", wrong_key_line(fingerprint)).as_bytes());
        })
    };
    let (code, _, stderr) = run(client(server.port, &path, &["--nick", "alice"]), "");
    script.join().expect("server script");
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(&client_key.fingerprint().to_string()),
        "{stderr}"
    );
    assert!(
        stderr.contains(&server_key.fingerprint().to_string()),
        "{stderr}"
    );
}

#[test]
fn a_taken_nick_in_a_pipe_exits_5_without_retrying() {
    let key = RoomKey::generate();
    let (_dir, path) = keyfile(&key);
    let server = FakeServer::start(&key, 2);
    let script = {
        let server = server.clone();
        thread::spawn(move || {
            let mut peer = server.accept();
            peer.expect_hello();
            peer.send(&ServerEvent::Error {
                signature: None,
                code: ErrorCode::NickTaken,
                message: "the nick bob is taken; choose another".into(),
                time: now_ms(),
            });
        })
    };
    let (code, _, stderr) = run(client(server.port, &path, &[]), "bob\nhi\n");
    script.join().expect("server script");
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("the nick bob is taken"), "{stderr}");
}

#[test]
fn an_invalid_nick_is_refused_before_connecting() {
    let key = RoomKey::generate();
    let (_dir, path) = keyfile(&key);
    let (code, _, stderr) = run(client(closed_port(), &path, &["--nick", "9lives"]), "");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("starts with a letter"), "{stderr}");
}

#[test]
fn empty_input_without_nick_exits_2() {
    let key = RoomKey::generate();
    let (_dir, path) = keyfile(&key);
    let (code, _, stderr) = run(client(closed_port(), &path, &[]), "");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no nick"), "{stderr}");
}

#[test]
fn a_sealed_keyfile_opens_with_the_passphrase_from_the_environment() {
    let key = RoomKey::generate();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sealed.key");
    // The smallest parameters the keyfile module accepts, to keep the test quick.
    let params = SealParams {
        log_n: 10,
        r: 8,
        p: 1,
    };
    write_sealed(&path, &key, "correct horse", params, Overwrite::Never).unwrap();
    let server = FakeServer::start(&key, 1);
    let script = {
        let server = server.clone();
        thread::spawn(move || {
            let mut peer = server.accept();
            let nick = peer.join(&[], 100);
            let bye = peer.recv();
            (nick, bye)
        })
    };
    let mut command = client(server.port, &path, &["--nick", "alice"]);
    command.env("FERNCHAT_PASSPHRASE", "correct horse");
    let (code, _, stderr) = run(command, "");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        script.join().expect("server script"),
        ("alice".into(), ClientEvent::Bye { reason: None })
    );

    let mut command = client(closed_port(), &path, &["--nick", "alice"]);
    command.env("FERNCHAT_PASSPHRASE", "wrong");
    let (code, _, stderr) = run(command, "");
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("wrong passphrase"), "{stderr}");
}

#[test]
fn help_documents_the_exit_codes_and_flags() {
    let output = Command::new(env!("CARGO_BIN_EXE_client"))
        .arg("--help")
        .output()
        .expect("run --help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--host",
        "--port",
        "--key",
        "--nick",
        "--no-reconnect",
        "--line",
        "nick list",
        "F2",
        "Exit codes",
        "FERNCHAT_PORT",
    ] {
        assert!(
            help.contains(needle),
            "{needle} missing from --help:\n{help}"
        );
    }
}

/// Issue 12 item 7: `--log` followed a symbolic link (a link to a shell start-up file got the
/// chat appended to it) and reused a file others could write (a pre-created 0666 log stayed
/// 0666 and got the chat). Failed on the old main: the client joined and wrote into both. Now
/// it refuses both before connecting, naming the fix, and leaves them as they were.
#[cfg(unix)]
#[test]
fn the_log_is_never_written_through_a_link_or_into_a_file_others_may_write() {
    use std::os::unix::fs::PermissionsExt;
    let key = RoomKey::generate();
    let (dir, key_path) = keyfile(&key);
    let rc = dir.path().join("bashrc");
    std::fs::write(&rc, "# my shell\n").unwrap();
    let link = dir.path().join("chat.log");
    std::os::unix::fs::symlink(&rc, &link).unwrap();
    let open = dir.path().join("open.log");
    std::fs::write(&open, "").unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o666)).unwrap();
    for (log, fix) in [(&link, "symbolic link"), (&open, "chmod 600")] {
        let server = FakeServer::start(&key, 1);
        // Plays the server if the client connects (the old one did; this one never does, and
        // the script's thread then ends at its accept timeout, unwaited).
        let script = server.clone();
        thread::spawn(move || {
            let mut peer = script.accept();
            peer.join(&[], 100);
            let _ = peer.recv();
        });
        let log = log.to_str().unwrap();
        let command = client(server.port, &key_path, &["--nick", "alice", "--log", log]);
        let (code, _, stderr) = run(command, "hello\n");
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains(fix), "{stderr}");
    }
    assert_eq!(std::fs::read_to_string(&rc).unwrap(), "# my shell\n");
    assert_eq!(std::fs::read_to_string(&open).unwrap(), "");
}
