//! A client written in Python from PROTOCOL.md alone chats with a Rust peer through the real
//! server: the protocol document is enough to write a client.
//!
//! Needs a Python with `cryptography`. `.ci/run` installs one and names it in
//! `FERNCHAT_PYTHON`, which makes this test mandatory; without that variable the test runs if
//! `python3` can import `cryptography` and otherwise says it was skipped.

mod common;

use std::process::{Command, Stdio};
use std::thread;

use common::{STEP, TestServer, message_text, python, quiet_config};
use fernchat::crypto::RoomKey;
use fernchat::keyfile::{self, Overwrite};
use fernchat::protocol::{ClientEvent, ServerEvent};

#[test]
fn a_python_client_chats_with_a_rust_client() {
    let Some(python) = python() else {
        eprintln!(
            "skipped: no python3 with cryptography (set FERNCHAT_PYTHON to require this test)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let key = RoomKey::generate();
    let key_path = dir.path().join("class.key");
    keyfile::write_plain(&key_path, &key, Overwrite::Never).unwrap();
    let server = TestServer::start(quiet_config(key));
    let mut rusty = server.join("rusty");

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/chat_client.py");
    let child = Command::new(&python)
        .arg(script)
        .args(["--port", &server.addr.port().to_string()])
        .arg("--key")
        .arg(&key_path)
        .args([
            "--nick",
            "pybot",
            "--say",
            "hello from python ✓",
            "--expect",
            "hello from rust",
        ])
        .args(["--timeout", &STEP.as_secs().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python client");
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });

    assert!(matches!(rusty.recv(), ServerEvent::Joined { nick, .. } if nick == "pybot"));
    assert_eq!(message_text(&rusty.recv(), "pybot"), "hello from python ✓");
    rusty.say("hello from rust");
    assert_eq!(message_text(&rusty.recv(), "rusty"), "hello from rust");
    let left = rusty.recv();
    assert!(
        matches!(&left, ServerEvent::Left { nick, reason, .. } if nick == "pybot" && reason == "python client done"),
        "{left:?}"
    );

    let output = done_rx
        .recv_timeout(STEP)
        .expect("the Python client exits")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains(r#""type": "welcome""#), "{stdout}");
    assert!(stdout.contains(r#""from": "rusty""#), "{stdout}");
}

/// Issue 15: the Python client accepts and prints the moderation broadcasts (`topic`,
/// `announcement`, `moderation`) that a staff member's actions send the room, and keeps chatting.
#[test]
fn a_python_client_shows_what_staff_do() {
    let Some(python) = python() else {
        eprintln!(
            "skipped: no python3 with cryptography (set FERNCHAT_PYTHON to require this test)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (key, staff) = (RoomKey::generate(), RoomKey::generate());
    let key_path = dir.path().join("class.key");
    keyfile::write_plain(&key_path, &key, Overwrite::Never).unwrap();
    let mut config = quiet_config(key);
    config.staff_keys = vec![staff.clone()];
    let server = TestServer::start(config);
    let mut prof = common::Peer::connect(server.addr, staff);
    prof.hello("prof");
    assert!(matches!(prof.recv(), ServerEvent::Welcome { .. }));

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/chat_client.py");
    let child = Command::new(&python)
        .arg(script)
        .args(["--port", &server.addr.port().to_string()])
        .arg("--key")
        .arg(&key_path)
        .args(["--nick", "pybot", "--expect", "carry on"])
        .args(["--timeout", &STEP.as_secs().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the Python client");
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });
    assert!(matches!(prof.recv(), ServerEvent::Joined { nick, .. } if nick == "pybot"));
    for event in [
        ClientEvent::Topic {
            room: None,
            text: "Exam".into(),
        },
        ClientEvent::Announce {
            room: None,
            all: false,
            text: "pens down".into(),
        },
        ClientEvent::Quiet {
            room: None,
            on: true,
        },
        ClientEvent::Quiet {
            room: None,
            on: false,
        },
        ClientEvent::Say {
            room: None,
            text: "carry on".into(),
        },
    ] {
        prof.send(&event);
    }
    let output = done_rx
        .recv_timeout(STEP)
        .expect("the Python client exits")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for shown in [
        r#""type": "topic""#,
        r#""type": "announcement""#,
        r#""text": "prof turned quiet mode on: only staff may speak until it is off""#,
        r#""roles": {"prof": "instructor"}"#,
    ] {
        assert!(stdout.contains(shown), "{shown} missing from {stdout}");
    }
}
