//! Key rotation with a deadline (issue 14 item 1): a server holding a new and an old class key
//! serves the clients of both, tells the old key's clients once of the new key and of the
//! deadline, and at the deadline closes them and refuses the old key from then on. The
//! deadline is judged by an injected clock ([`Clock::manual`]), so no test waits for it.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::process::ServerProcess;
use common::{Peer, STEP, TestServer, client_config, quiet_config};
use fernchat::client::pins::KnownServers;
use fernchat::client::{
    Command as Say, ConnectError, KexChoice, KexSetup, Session, SessionError, Spawned,
};
use fernchat::crypto::RoomKey;
use fernchat::identity::ServerIdentity;
use fernchat::keyfile::{Overwrite, write_plain};
use fernchat::protocol::{ErrorCode, ServerEvent};
use fernchat::server::moderation::ManualClock;
use fernchat::server::rotation::rfc3339;
use fernchat::server::{Clock, ServerConfig};

/// 2026-11-27T18:00:00Z, the injected "now" of these tests.
const START: u64 = 1_795_802_400_000;
const WEEK: u64 = 7 * 86_400_000;

/// The first update whose text contains `needle` within `within`, as shown (`Debug`).
fn shown(session: &Spawned, needle: &str, within: Duration) -> Option<String> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match session.updates.recv_timeout(left) {
            Ok(update) => {
                let text = format!("{:?}", update.kind);
                if text.contains(needle) {
                    return Some(text);
                }
            }
            Err(_) => return None,
        }
    }
}

/// A server rotating from `old` to `new`, with old keys accepted until START + a week, judged
/// by the returned manual clock.
fn rotating(new: &RoomKey, old: &RoomKey) -> (TestServer, ManualClock) {
    let clock = Clock::manual(START);
    let mut config: ServerConfig =
        quiet_config(RoomKey::ring(vec![new.clone(), old.clone()]).unwrap());
    config.old_keys_until = Some(START + WEEK);
    config.clock = clock.clock();
    (TestServer::start(config), clock)
}

#[test]
fn old_and_new_key_clients_chat_until_the_deadline_then_the_old_one_is_closed_and_refused() {
    let new = RoomKey::generate();
    let old = RoomKey::generate();
    let (server, clock) = rotating(&new, &old);
    let new_fp = new.fingerprint().to_string();
    let old_fp = old.fingerprint().to_string();

    let on_old = Session::connect(client_config(server.addr, &old, "oldie"))
        .expect("a client with the old key joins before the deadline")
        .spawn()
        .unwrap();
    // Told once, right after the welcome: the new key, its own, and until when.
    let notice = shown(&on_old, "new class key", STEP).expect("the old key's client is told");
    assert!(notice.contains("Notice"), "{notice}");
    for part in [&new_fp, &old_fp, &rfc3339(START + WEEK), "in 7 days"] {
        assert!(notice.contains(part), "{notice} lacks {part}");
    }

    let on_new = Session::connect(client_config(server.addr, &new, "newbie"))
        .expect("a client with the new key joins")
        .spawn()
        .unwrap();
    on_old
        .commands
        .send(Say::Say("from the old key".into()))
        .unwrap();
    assert!(shown(&on_new, "from the old key", STEP).is_some());
    on_new
        .commands
        .send(Say::Say("from the new key".into()))
        .unwrap();
    assert!(shown(&on_old, "from the new key", STEP).is_some());

    // The deadline: the hub's next tick closes the old key's connection with the reason.
    clock.set(START + WEEK);
    let Spawned { thread, .. } = on_old;
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    thread::spawn(move || {
        let _ = done_tx.send(thread.join());
    });
    match done_rx
        .recv_timeout(STEP)
        .expect("the old key's session ends")
    {
        Err(removed @ SessionError::Removed { .. }) => {
            assert_eq!(removed.exit_code(), 4, "a key problem: {removed}");
            let SessionError::Removed { code, reason } = removed else {
                unreachable!()
            };
            assert_eq!(code, ErrorCode::KeyRetired);
            assert!(reason.contains(&new_fp), "{reason}");
            assert!(reason.contains(&old_fp), "{reason}");
            assert!(reason.contains("new keyfile"), "{reason}");
        }
        other => panic!("expected removal for the old key, got {other:?}"),
    }
    assert!(
        shown(&on_new, "oldie", STEP).is_some(),
        "the room sees oldie leave"
    );

    // And it cannot come back: both fingerprints, and what to do.
    match Session::connect(client_config(server.addr, &old, "oldie")) {
        Err(error @ ConnectError::KeyRetired { .. }) => {
            let text = error.to_string();
            assert!(text.contains(&new_fp), "{text}");
            assert!(text.contains(&old_fp), "{text}");
            assert!(text.contains("new keyfile from your instructor"), "{text}");
            assert_eq!(error.exit_code(), 4);
            assert!(!error.worth_retrying());
        }
        Err(other) => panic!("expected key_retired, got {other}"),
        Ok(_) => panic!("the old key joined after its deadline"),
    }

    // The new key's client goes on.
    on_new.commands.send(Say::Say("still here".into())).unwrap();
    assert!(shown(&on_new, "still here", STEP).is_some());
    let on_new2 = Session::connect(client_config(server.addr, &new, "newbie2"))
        .expect("the new key still joins after the deadline")
        .spawn()
        .unwrap();
    assert!(
        shown(&on_new2, "new class key", Duration::from_millis(300)).is_none(),
        "a client of the current key is not told to change it"
    );
}

#[test]
fn a_raw_old_key_peer_is_told_right_after_its_welcome_and_gets_a_bye_at_the_deadline() {
    let new = RoomKey::generate();
    let old = RoomKey::generate();
    let (server, clock) = rotating(&new, &old);
    let mut peer = Peer::connect(server.addr, old.clone());
    peer.hello("late");
    assert!(matches!(peer.recv(), ServerEvent::Welcome { .. }));
    match peer.recv() {
        ServerEvent::Notice { text, .. } => {
            assert!(text.contains(&new.fingerprint().to_string()), "{text}")
        }
        other => panic!("expected the rotation notice right after the welcome, got {other:?}"),
    }
    clock.set(START + WEEK + 1);
    let last = peer.expect_closed(50);
    assert!(
        last.iter().any(
            |e| matches!(e, ServerEvent::Bye { code: ErrorCode::KeyRetired, reason, .. }
                if reason.contains(&old.fingerprint().to_string()))
        ),
        "{last:?}"
    );
}

/// Before this change the acceptor sealed its refusals with the ring's first key only, so a
/// client of the old key took a full server for a wrong key (exit 4, "ask for the class
/// keyfile"). Seen failing that way before the fix: `WrongKey { server: None }`.
#[test]
fn a_refusal_before_the_hello_reaches_an_old_key_client_as_what_it_is() {
    let new = RoomKey::generate();
    let old = RoomKey::generate();
    let mut config = quiet_config(RoomKey::ring(vec![new.clone(), old.clone()]).unwrap());
    config.max_per_address = 1;
    let server = TestServer::start(config);
    // Takes the one place of 127.0.0.1 (the acceptor counts it before any hello).
    let _holder = Peer::connect(server.addr, new.clone());
    for key in [&old, &new] {
        let refused = Session::connect(client_config(server.addr, key, "crowded"));
        match refused {
            Err(ConnectError::Refused {
                code: ErrorCode::ServerFull,
                ..
            }) => {}
            Err(other) => panic!("expected server_full, got {other:?}"),
            Ok(_) => panic!("joined a full server"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Through the binaries.

fn keyfile(dir: &Path, name: &str, key: &RoomKey) -> PathBuf {
    let path = dir.join(name);
    write_plain(&path, key, Overwrite::Never).expect("write keyfile");
    path
}

/// The client binary in pipe mode with `key` and `input`; returns (exit code, stdout,
/// stderr). Bounded: killed (by its own handle) if it has not ended within two steps.
fn client_binary(port: u16, key: &Path, input: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_client"))
        .env_remove("FERNCHAT_KEYFILE")
        .env_remove("FERNCHAT_NICK")
        .env_remove("FERNCHAT_KEX")
        .env_remove("FERNCHAT_HOST")
        .env_remove("FERNCHAT_PORT")
        .env_remove("FERNCHAT_KNOWN_SERVERS")
        .args([
            "--port",
            &port.to_string(),
            "--nick",
            "student",
            "--no-reconnect",
        ])
        .arg("--key")
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the client binary");
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        let (tx, rx) = crossbeam_channel::bounded(1);
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            let _ = tx.send(text);
        });
        rx
    };
    let stdout = read_all(Box::new(child.stdout.take().unwrap()));
    let stderr = read_all(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + 2 * STEP;
    let (Ok(out), Ok(err)) = (
        stdout.recv_deadline(deadline),
        stderr.recv_deadline(deadline),
    ) else {
        let _ = child.kill();
        panic!("the client did not finish in time");
    };
    let status = child.wait().expect("wait for the client");
    (status.code().unwrap_or(-1), out, err)
}

/// The server binary in `dir` on a free port, without history, with `--key` for each of
/// `keys` and `--key-until until`.
fn server_binary(dir: &Path, keys: &[&str], until: &str) -> ServerProcess {
    let mut args = vec!["--port", "0", "--no-history", "--key-until", until];
    for key in keys {
        args.extend(["--key", key]);
    }
    ServerProcess::start(dir, &args)
}

#[test]
fn the_server_binary_says_its_rotation_plan_and_refuses_an_old_key_past_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let new = RoomKey::generate();
    let old = RoomKey::generate();
    let stranger = RoomKey::generate();
    let new_path = keyfile(dir.path(), "new.key", &new);
    let old_path = keyfile(dir.path(), "old.key", &old);
    let stranger_path = keyfile(dir.path(), "stranger.key", &stranger);
    // Given as one comma-separated --key, as the README shows.
    let server = server_binary(dir.path(), &["new.key,old.key"], "2020-01-01T00:00:00Z");
    let port = server.address().port();
    let plan = server.stdout_line("key rotation");
    for part in [
        new.fingerprint().to_string(),
        old.fingerprint().to_string(),
        "2020-01-01T00:00:00Z".to_owned(),
    ] {
        assert!(plan.contains(&part), "{plan} lacks {part}");
    }

    // The old key: exit 4 (a key problem), both fingerprints, what to do.
    let (code, _, stderr) = client_binary(port, &old_path, "");
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains(&old.fingerprint().to_string()), "{stderr}");
    assert!(stderr.contains(&new.fingerprint().to_string()), "{stderr}");
    assert!(
        stderr.contains("new keyfile from your instructor"),
        "{stderr}"
    );

    // A key the server does not hold: the plaintext wrong-key line names the current key.
    let (code, _, stderr) = client_binary(port, &stranger_path, "");
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(&stranger.fingerprint().to_string()),
        "{stderr}"
    );
    assert!(stderr.contains(&new.fingerprint().to_string()), "{stderr}");
    assert!(!stderr.contains(&old.fingerprint().to_string()), "{stderr}");

    // The current key joins.
    let (code, _, stderr) = client_binary(port, &new_path, "hello\n");
    assert_eq!(code, 0, "{stderr}");
    let log = server.stderr_text();
    assert!(log.contains("key rotation"), "{log}");
}

#[test]
fn a_bad_key_until_is_explained_and_one_key_alone_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let new = RoomKey::generate();
    let old = RoomKey::generate();
    keyfile(dir.path(), "new.key", &new);
    keyfile(dir.path(), "old.key", &old);
    let server = server_binary(dir.path(), &["new.key", "old.key"], "next friday");
    let log = server.stderr_text();
    assert_eq!(server.exit_code(), Some(2), "{log}");
    assert!(log.contains("2026-12-04T18:00:00Z"), "{log}");
    assert!(log.contains("7d"), "{log}");

    let server = server_binary(dir.path(), &["new.key"], "7d");
    let log = server.stderr_text();
    assert_eq!(server.exit_code(), Some(1), "{log}");
    assert!(log.contains("only one key"), "{log}");
}

#[test]
fn an_old_key_still_joins_before_a_deadline_given_as_a_duration() {
    let dir = tempfile::tempdir().unwrap();
    let new = RoomKey::generate();
    let old = RoomKey::generate();
    keyfile(dir.path(), "new.key", &new);
    let old_path = keyfile(dir.path(), "old.key", &old);
    let server = server_binary(dir.path(), &["new.key", "old.key"], "7d");
    let port = server.address().port();
    let plan = server.stdout_line("key rotation");
    assert!(
        plan.contains("in 6 days") || plan.contains("in 7 days"),
        "{plan}"
    );
    let (code, stdout, stderr) = client_binary(port, &old_path, "hi\n");
    assert_eq!(code, 0, "{stderr}");
    // Pipe mode shows the notice like any other: the new key's fingerprint and the deadline.
    let notice = stdout
        .lines()
        .find(|l| l.contains("new class key"))
        .unwrap_or_else(|| panic!("no rotation notice in {stdout}"));
    assert!(notice.contains(&new.fingerprint().to_string()), "{notice}");
    assert!(notice.contains("accepted until"), "{notice}");
}

/// The signed mode: the old key's client is told and closed like any other, and once the
/// server is pinned its `key_retired` refusal (signed over the client's nonce) is believed.
#[test]
fn in_the_signed_mode_an_old_key_is_told_closed_and_refused_with_a_signed_refusal() {
    let pins = tempfile::tempdir().unwrap();
    let new = RoomKey::generate();
    let old = RoomKey::generate();
    let clock = Clock::manual(START);
    let mut config = quiet_config(RoomKey::ring(vec![new.clone(), old.clone()]).unwrap());
    config.old_keys_until = Some(START + WEEK);
    config.clock = clock.clock();
    config.identity = Some(ServerIdentity::generate());
    let server = TestServer::start(config);
    let signed = |key: &RoomKey, nick: &str| {
        let mut config = client_config(server.addr, key, nick);
        config.kex = KexSetup {
            kex: KexChoice::X25519PskSigned,
            known_servers: KnownServers::new(pins.path().join("known_servers")),
        };
        config
    };
    let on_old = Session::connect(signed(&old, "oldie"))
        .expect("the old key joins in the signed mode before the deadline (and pins the server)")
        .spawn()
        .unwrap();
    let notice = shown(&on_old, "new class key", STEP).expect("told of the new key");
    assert!(notice.contains(&new.fingerprint().to_string()), "{notice}");
    clock.set(START + WEEK);
    let Spawned { thread, .. } = on_old;
    let (done_tx, done_rx) = crossbeam_channel::bounded(1);
    thread::spawn(move || {
        let _ = done_tx.send(thread.join());
    });
    assert!(matches!(
        done_rx
            .recv_timeout(STEP)
            .expect("the old key's session ends"),
        Err(SessionError::Removed {
            code: ErrorCode::KeyRetired,
            ..
        })
    ));
    match Session::connect(signed(&old, "oldie")) {
        Err(error @ ConnectError::KeyRetired { .. }) => {
            assert!(error.to_string().contains(&new.fingerprint().to_string()))
        }
        Err(other) => panic!("expected a verified key_retired, got {other}"),
        Ok(_) => panic!("the old key joined after its deadline"),
    }
}
