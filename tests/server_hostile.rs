//! Cases found worth keeping by the hostile-client harness (`loadgen hostile`), small and
//! quick: a slowloris, a crowd of silent connections beyond the capacity, connect-and-drop
//! churn. Each checks the attacker gets the right answer and the room is unharmed.

mod common;

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::{TestServer, message_text, quiet_config};
use fernchat::crypto::RoomKey;
use fernchat::protocol::ErrorCode;

#[test]
fn a_slowloris_trickling_bytes_is_cut_off_at_the_hello_timeout() {
    let mut config = quiet_config(RoomKey::generate());
    config.hello_timeout = Duration::from_millis(800);
    let server = TestServer::start(config);
    let mut alice = server.join("alice");
    let mut slow = server.peer();
    let started = Instant::now();
    // A byte every 100 ms, never a newline: bytes arriving are not a hello.
    let writer = {
        let mut stream = slow.stream.try_clone().unwrap();
        thread::spawn(move || {
            for _ in 0..30 {
                if stream.write_all(b"g").is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(100));
            }
        })
    };
    slow.expect_error(ErrorCode::HelloTimeout);
    slow.expect_closed(5);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "cut off after {took:?}");
    writer.join().unwrap();
    // The room did not notice.
    alice.say("still fine");
    assert_eq!(message_text(&alice.recv(), "alice"), "still fine");
}

#[test]
fn a_silent_crowd_from_one_address_is_refused_beyond_its_limit_then_timed_out() {
    let mut config = quiet_config(RoomKey::generate());
    config.max_clients = 2;
    config.max_pending = 3;
    config.max_pending_per_address = 2;
    config.hello_timeout = Duration::from_millis(800);
    let server = TestServer::start(config);
    let mut alice = server.join("alice");
    // alice holds a user's seat, not a pending place: two of the crowd may wait for their
    // hello (the limit per address), the other eight are refused at once.
    let mut crowd: Vec<_> = (0..10).map(|_| server.peer()).collect();
    let mut full = 0;
    let mut timed_out = 0;
    for peer in &mut crowd {
        match peer.recv() {
            fernchat::protocol::ServerEvent::Error {
                code: ErrorCode::ServerFull,
                message,
                ..
            } => {
                assert!(message.contains("--max-pending-per-address"), "{message}");
                full += 1;
            }
            fernchat::protocol::ServerEvent::Error {
                code: ErrorCode::HelloTimeout,
                ..
            } => timed_out += 1,
            other => panic!("expected server_full or hello_timeout, got {other:?}"),
        }
        peer.expect_closed(5);
    }
    assert_eq!((full, timed_out), (8, 2));
    // Their slots come free again (each when its reader thread has ended, just after the
    // close we saw): a latecomer joins, retrying a bounded number of times, and alice talks.
    let mut bob = None;
    for _ in 0..200 {
        let mut latecomer = server.peer();
        latecomer.hello("bob");
        match latecomer.recv() {
            fernchat::protocol::ServerEvent::Welcome { .. } => {
                bob = Some(latecomer);
                break;
            }
            fernchat::protocol::ServerEvent::Error {
                code: ErrorCode::ServerFull,
                ..
            } => latecomer.expect_closed(5),
            other => panic!("expected welcome or server_full, got {other:?}"),
        };
    }
    let mut bob = bob.expect("a slot came free");
    alice.say("hi bob");
    assert_eq!(message_text(&bob.recv(), "alice"), "hi bob");
}

/// Pending connections are counted apart from users: when all pending places are taken, a
/// newcomer still gets in and the oldest silent connection is closed to make room, so a silent
/// crowd cannot keep a user out (issue 12 item 6; tests/attacks_dos.rs runs it at scale).
#[test]
fn a_full_pending_pool_closes_its_oldest_silent_connection_for_a_newcomer() {
    let mut config = quiet_config(RoomKey::generate());
    config.max_clients = 2;
    config.max_pending = 3;
    let server = TestServer::start(config);
    let mut crowd: Vec<_> = (0..3).map(|_| server.peer()).collect();
    // Three silent connections fill the pending places; a newcomer joins anyway.
    let mut bob = server.join("bob");
    match crowd[0].recv() {
        fernchat::protocol::ServerEvent::Error {
            code: ErrorCode::HelloTimeout,
            message,
            ..
        } => assert!(message.contains("to make room"), "{message}"),
        other => panic!("expected hello_timeout for the oldest, got {other:?}"),
    }
    crowd[0].expect_closed(5);
    let mut alice = server.join("alice");
    bob.recv_until(5, |e| {
        matches!(e, fernchat::protocol::ServerEvent::Joined { .. })
    });
    alice.say("hi bob");
    assert_eq!(message_text(&bob.recv(), "alice"), "hi bob");
}

#[test]
fn connect_and_drop_churn_leaks_no_connection_slot() {
    let mut config = quiet_config(RoomKey::generate());
    config.max_clients = 2;
    config.max_pending = 2;
    let server = TestServer::start(config);
    let mut alice = server.join("alice");
    for i in 0..300 {
        let stream = TcpStream::connect(server.addr).unwrap();
        if i % 2 == 0 {
            let _ = stream.shutdown(Shutdown::Both);
        }
        drop(stream);
    }
    // Every dropped connection is noticed and its slot freed: with a capacity of 4, a
    // single leak per 75 drops would block this join.
    let deadline = Instant::now() + common::STEP;
    let mut bob = loop {
        let mut peer = server.peer();
        peer.hello("bob");
        match peer.recv() {
            fernchat::protocol::ServerEvent::Welcome { .. } => break peer,
            _ if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            other => panic!("bob could not join after the churn: {other:?}"),
        }
    };
    alice.recv();
    alice.say("after the churn");
    assert_eq!(message_text(&bob.recv(), "alice"), "after the churn");
}

#[test]
fn deeply_nested_json_is_refused_without_overflowing_a_readers_stack() {
    // JSON parsing recurses per level of nesting, on the reader thread's stack. The deepest
    // plaintext a 16 KiB line can carry must be refused, in the unoptimised build too, not
    // overflow the stack and abort the server. (It did, with 256 KiB reader stacks.)
    let server = TestServer::with_defaults();
    let mut alice = server.join("alice");
    for depth in [100, 127, 128, 129, 1000, 5000] {
        let json = format!(
            r#"{{"type":"say","text":"x","junk":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        );
        alice.send_json(&json);
        match alice.recv() {
            fernchat::protocol::ServerEvent::Message { .. } => {}
            fernchat::protocol::ServerEvent::Error { code, .. } => {
                assert_eq!(code, ErrorCode::BadJson, "depth {depth}")
            }
            other => panic!("depth {depth}: unexpected {other:?}"),
        }
    }
    // Nested objects as deep as a 16 KiB line allows.
    let json = format!(r#"{}1{}"#, r#"{"a":"#.repeat(1500), "}".repeat(1500));
    alice.send_json(&json);
    alice.expect_error(ErrorCode::BadJson);
    alice.say("still here");
    assert_eq!(message_text(&alice.recv(), "alice"), "still here");
}
