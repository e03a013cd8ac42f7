//! Delivery guarantees of the outgoing path (src/server/outbound.rs): the hub writes to a
//! client's socket directly while it takes the bytes, hands off to the client's writer thread
//! when it would block, and the client sees every message once, in order, either way.

mod common;

use std::thread;
use std::time::Duration;

use common::{TestServer, quiet_config};
use fernchat::crypto::RoomKey;
use fernchat::protocol::ServerEvent;
use fernchat::server::FloodLimits;

/// Messages `0..total` from `from`, in order, skipping anything else the room says.
fn expect_in_order(peer: &mut common::Peer, from: &str, total: usize) {
    let mut next = 0;
    for _ in 0..total * 2 + 100 {
        if next == total {
            return;
        }
        match peer.recv() {
            ServerEvent::Message { from: f, text, .. } if f == from => {
                let n: usize = text
                    .split(' ')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("a numbered message");
                assert_eq!(n, next, "message {next} arrived once and in order");
                next += 1;
            }
            ServerEvent::Left { nick, reason, .. } => panic!("{nick} left: {reason}"),
            _ => {}
        }
    }
    panic!("only {next} of {total} messages arrived");
}

#[test]
fn a_reader_that_pauses_then_catches_up_gets_everything_in_order() {
    let mut config = quiet_config(RoomKey::generate());
    // Room for the whole backlog: this test is about order, not about the budget.
    config.outbound_budget = 64 * 1024 * 1024;
    config.flood = FloodLimits {
        burst: 100_000,
        per_second: 100_000.0,
        strikes: 10,
    };
    let server = TestServer::start(config);
    let mut talker = server.join("talker");
    let mut paused = server.join("paused");
    talker.recv();

    // More than loopback socket buffers hold (about 10 MB): the paused client's socket fills,
    // the hub's direct sends become partial, and the rest goes through its writer thread.
    let total = 4000;
    let text = "z".repeat(1900);
    let (sent_tx, sent_rx) = crossbeam_channel::bounded(1);
    let sender = thread::spawn(move || {
        for i in 0..total {
            talker.say(&format!("{i} {text}"));
        }
        let _ = sent_tx.send(());
        // The talker reads its own echoes too (they are its delivery receipts).
        expect_in_order(&mut talker, "talker", total);
        talker
    });
    // Not a byte read until everything was sent, and a moment for the hub to relay it.
    // 4000 messages of 2 KB through a debug build: seconds on a quiet machine, more on a loaded
    // one (CI shares its two cores), so this bound is for the whole stream, not one step.
    sent_rx
        .recv_timeout(6 * common::STEP)
        .expect("the talker sent everything");
    thread::sleep(Duration::from_millis(200));
    expect_in_order(&mut paused, "talker", total);
    let mut talker = sender.join().expect("the talker got all its echoes");

    // Both paths are now idle again, and a new message goes straight through.
    talker.say("0 after");
    expect_in_order(&mut paused, "talker", 1);
}
