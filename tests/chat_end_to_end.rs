//! The real `client` binary against the real server, as a student scripting it through a pipe
//! would use them: talking, refusals with their exit codes, and reconnecting after the server
//! restarts.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;

use common::process::lines;
use common::{STEP, TestServer, history_server, message_text, quiet_config, restart_after};
use crossbeam_channel::Receiver;
use fernchat::crypto::RoomKey;
use fernchat::keyfile::{self, Overwrite};
use fernchat::protocol::ServerEvent;

/// A running client process fed through its stdin, with its stdout as a stream of lines.
struct ClientProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl ClientProcess {
    fn start(port: u16, key_path: &Path, extra: &[&str]) -> ClientProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_client"));
        for var in [
            "FERNCHAT_HOST",
            "FERNCHAT_PORT",
            "FERNCHAT_KEYFILE",
            "FERNCHAT_NICK",
        ] {
            command.env_remove(var);
        }
        let mut child = command
            .args(["--port", &port.to_string()])
            .arg("--key")
            .arg(key_path)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the client binary");
        ClientProcess {
            stdin: child.stdin.take(),
            stdout: lines(child.stdout.take().unwrap()),
            stderr: lines(child.stderr.take().unwrap()),
            child,
        }
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to the client");
    }

    /// Reads stdout until a line contains `needle`, returning it (bounded in lines and time).
    fn expect_line(&self, needle: &str) -> String {
        let mut read = self.lines_until(needle);
        read.pop().unwrap_or_default()
    }

    /// Every line of stdout up to and including the first that contains `needle` (bounded in
    /// lines and time).
    fn lines_until(&self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        for _ in 0..50 {
            match self.stdout.recv_timeout(STEP) {
                Ok(line) => {
                    let found = line.contains(needle);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no line with {needle:?}; saw {seen:#?}");
    }

    /// Closes stdin and waits (bounded) for the exit code; returns it with stderr.
    fn finish(mut self) -> (Option<i32>, String) {
        drop(self.stdin.take());
        let (tx, rx) = crossbeam_channel::bounded(1);
        let mut child = self.child;
        thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = rx
            .recv_timeout(STEP)
            .expect("the client exits in time")
            .unwrap();
        // The process has exited, but the thread reading its stderr may not have passed the
        // last lines on yet: read until that thread ends at the pipe's end (bounded).
        let mut stderr = Vec::new();
        while let Ok(line) = self.stderr.recv_timeout(STEP) {
            stderr.push(line);
        }
        (status.code(), stderr.join("\n"))
    }
}

fn keyfile_for(key: &RoomKey) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("class.key");
    keyfile::write_plain(&path, key, Overwrite::Never).unwrap();
    (dir, path)
}

#[test]
fn a_scripted_client_chats_with_everything_a_student_types() {
    let server = TestServer::with_defaults();
    let (_dir, key_path) = keyfile_for(&server.key);
    let mut bob = server.join("bob");
    let mut alice = ClientProcess::start(server.addr.port(), &key_path, &["--nick", "alice"]);
    alice.expect_line("connected to");
    assert!(matches!(bob.recv(), ServerEvent::Joined { nick, .. } if nick == "alice"));

    alice.type_line("hello bob");
    assert_eq!(message_text(&bob.recv(), "alice"), "hello bob");
    assert!(alice.expect_line("<alice>").ends_with("<alice> hello bob"));

    bob.say("hi alice");
    assert_eq!(message_text(&bob.recv(), "bob"), "hi alice");
    assert!(alice.expect_line("<bob>").ends_with("<bob> hi alice"));

    alice.type_line("/me waves");
    assert!(
        matches!(bob.recv(), ServerEvent::Action { from, text, .. } if from == "alice" && text == "waves")
    );
    alice.type_line("/msg bob psst");
    assert!(matches!(bob.recv(), ServerEvent::Private { text, .. } if text == "psst"));
    alice.expect_line("*bob* psst");

    alice.type_line("/nosuchcommand");
    alice.expect_line("unknown command");
    alice.type_line("//etc/passwd is a path");
    assert_eq!(message_text(&bob.recv(), "alice"), "/etc/passwd is a path");

    // The answer to a /who typed just before /quit still arrives and is shown.
    alice.type_line("/who");
    alice.type_line("/quit see you");
    let users = alice.expect_line("bob");
    assert!(users.contains("alice"), "{users}");
    assert!(
        matches!(bob.recv(), ServerEvent::Left { nick, reason, .. } if nick == "alice" && reason == "see you")
    );
    let (code, _) = alice.finish();
    assert_eq!(code, Some(0));
}

#[test]
fn a_client_with_the_wrong_key_exits_4_naming_both_fingerprints() {
    let server = TestServer::with_defaults();
    let other = RoomKey::generate();
    let (_dir, key_path) = keyfile_for(&other);
    let client = ClientProcess::start(server.addr.port(), &key_path, &["--nick", "alice"]);
    let (code, stderr) = client.finish();
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains(&server.key.fingerprint().to_string()),
        "{stderr}"
    );
    assert!(
        stderr.contains(&other.fingerprint().to_string()),
        "{stderr}"
    );
}

#[test]
fn a_taken_nick_exits_5_and_end_of_input_exits_0() {
    let server = TestServer::with_defaults();
    let (_dir, key_path) = keyfile_for(&server.key);
    let _alice = server.join("alice");
    let client = ClientProcess::start(server.addr.port(), &key_path, &["--nick", "ALICE"]);
    let (code, stderr) = client.finish();
    assert_eq!(code, Some(5), "{stderr}");
    assert!(stderr.contains("taken"), "{stderr}");

    // Without --nick, the first line of a pipe is the nick; closing the pipe quits cleanly.
    let mut piped = ClientProcess::start(server.addr.port(), &key_path, &[]);
    piped.type_line("carol");
    piped.expect_line("as carol");
    let (code, stderr) = piped.finish();
    assert_eq!(code, Some(0), "{stderr}");
}

#[test]
fn the_client_reconnects_when_the_server_comes_back() {
    let key = RoomKey::generate();
    let mut first = TestServer::start(quiet_config(key.clone()));
    let port = first.addr.port();
    let (_dir, key_path) = keyfile_for(&key);
    let mut alice = ClientProcess::start(port, &key_path, &["--nick", "alice"]);
    alice.expect_line("connected to");
    first.shutdown();
    alice.expect_line("shutting down");

    // The same address again (std sets SO_REUSEADDR on Unix, so the port is free at once).
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("rebind the port");
    let (stop, stop_rx) = crossbeam_channel::bounded::<()>(1);
    let server = thread::spawn(move || fernchat::server::run(listener, quiet_config(key), stop_rx));
    alice.expect_line("connected to");
    alice.type_line("back again");
    alice.expect_line("<alice> back again");
    let (code, _) = alice.finish();
    assert_eq!(code, Some(0));
    drop(stop);
    server.join().unwrap().unwrap();
}

#[test]
fn history_is_shown_as_such_and_the_transcript_is_logged_and_saved() {
    let dir = tempfile::tempdir().unwrap();
    let key = RoomKey::generate();
    let mut config = quiet_config(key.clone());
    config.history = Some(fernchat::server::HistoryConfig::at(
        dir.path().join("room.log"),
    ));
    let server = TestServer::start(config);
    let (_key_dir, key_path) = keyfile_for(&key);
    let mut bob = server.join("bob");
    bob.say("said before alice came");
    bob.recv();

    let log = dir.path().join("alice.log");
    let log_arg = log.to_str().unwrap();
    let mut alice = ClientProcess::start(
        server.addr.port(),
        &key_path,
        &["--nick", "alice", "--log", log_arg],
    );
    alice.expect_line("connected to");
    let replayed = alice.expect_line("said before alice came");
    assert!(replayed.contains("[history] <bob>"), "{replayed}");

    alice.type_line("hello");
    alice.expect_line("<alice> hello");
    let saved = dir.path().join("saved.txt");
    alice.type_line(&format!("/save {}", saved.display()));
    alice.expect_line("saved");
    alice.type_line(&format!("/save {}", saved.display()));
    alice.expect_line("already exists");
    let (code, _) = alice.finish();
    assert_eq!(code, Some(0));

    for file in [&log, &saved] {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(
            text.contains("[history] <bob> said before alice came"),
            "{text}"
        );
        assert!(text.contains("<alice> hello"), "{text}");
        assert!(!text.contains('\u{1b}'), "plain text");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{}", file.display());
        }
    }
    // The log goes on to the end; the saved copy is what had been seen when it was made.
    assert!(std::fs::read_to_string(&log).unwrap().contains("you left"));
}

#[test]
fn a_client_back_from_two_restarts_shows_each_message_once_and_marks_the_gaps() {
    // On the old main each reconnect replayed the last 50 messages again, so after two the
    // screen, the log and /save held "before alice came" three times (issue 18).
    let dir = tempfile::tempdir().unwrap();
    let key = RoomKey::generate();
    let (_key_dir, key_path) = keyfile_for(&key);
    let room = dir.path().join("room.log");
    let mut server = history_server(&key, &room, 4, 0);
    let port = server.addr.port();
    let mut bob = server.join("bob");
    bob.say("before alice came");
    bob.recv();

    let log = dir.path().join("alice.log");
    let mut alice = ClientProcess::start(
        port,
        &key_path,
        &["--nick", "alice", "--log", log.to_str().unwrap()],
    );
    // Every line alice's screen showed, in order.
    let mut shown = alice.lines_until("[history] <bob> before alice came");
    bob.say("live before the restart");
    shown.extend(alice.lines_until("<bob> live before the restart"));

    // Away twice. Each time the server stops; while nothing listens on alice's port, bob says
    // `said` on a server sharing the history file (so alice cannot be back before he is done);
    // then the server comes back on her port.
    for (round, said) in [
        &["while away 1a", "while away 1b", "while away 1c"][..],
        &[
            "away 2a", "away 2b", "away 2c", "away 2d", "away 2e", "away 2f",
        ][..],
    ]
    .into_iter()
    .enumerate()
    {
        drop(bob);
        restart_after(&mut server, &room, 4, said);
        shown.extend(alice.lines_until("reconnected to"));
        shown.extend(alice.lines_until("while you were away"));
        let gap = shown.last().unwrap();
        assert!(
            gap.ends_with(&format!(
                "-- {} messages while you were away --",
                said.len()
            )),
            "{gap}"
        );
        // The replay: the newest four at most, and a word about the rest.
        let replayed = &said[said.len().saturating_sub(4)..];
        for text in replayed {
            shown.extend(alice.lines_until(&format!("[history] <bob> {text}")));
        }
        if round == 1 {
            shown.extend(alice.lines_until("not shown"));
            let notice = shown.last().unwrap();
            assert!(
                notice.contains("2 of the 6 messages said while you were away are not shown"),
                "{notice}"
            );
        }
        bob = server.join("bob");
        let live = format!("live after return {}", round + 1);
        bob.say(&live);
        shown.extend(alice.lines_until(&format!("<bob> {live}")));
        alice.type_line(&format!("alice back {}", round + 1));
        shown.extend(alice.lines_until(&format!("<alice> alice back {}", round + 1)));
    }
    let saved = dir.path().join("saved.txt");
    alice.type_line(&format!("/save {}", saved.display()));
    alice.expect_line("saved");
    let (code, stderr) = alice.finish();
    assert_eq!(code, Some(0), "{stderr}");

    // The screen, the log and the saved copy each show every room line exactly once.
    let log_text = std::fs::read_to_string(&log).unwrap();
    let saved_text = std::fs::read_to_string(&saved).unwrap();
    let screen = shown.join("\n");
    for text in [
        "before alice came",
        "live before the restart",
        "while away 1a",
        "while away 1c",
        "live after return 1",
        "alice back 1",
        "away 2c",
        "away 2f",
        "live after return 2",
        "alice back 2",
    ] {
        for (what, all) in [
            ("screen", &screen),
            ("log", &log_text),
            ("/save", &saved_text),
        ] {
            let times = all.lines().filter(|l| l.ends_with(text)).count();
            assert_eq!(times, 1, "{text:?} on the {what} {times} times:\n{all}");
        }
    }
    // Too many to replay: never shown, and said so.
    for all in [&screen, &log_text, &saved_text] {
        assert!(
            !all.contains("away 2a") && !all.contains("away 2b"),
            "{all}"
        );
        assert_eq!(all.matches("while you were away --").count(), 2, "{all}");
    }
}
