//! The real `client` binary against the real server, as a student scripting it through a pipe
//! would use them: talking, refusals with their exit codes, and reconnecting after the server
//! restarts.

mod common;

use std::thread;

use common::process::ClientProcess;
use common::{TestServer, message_text, quiet_config};
use fernchat::crypto::RoomKey;
use fernchat::keyfile::{self, Overwrite};
use fernchat::protocol::ServerEvent;

/// A running client process fed through its stdin, with its stdout as a stream of lines.
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
