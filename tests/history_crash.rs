//! Nothing acknowledged is lost: a real server process killed with SIGKILL in the middle of a
//! stream of messages restarts with every message anyone had seen.
#![cfg(unix)]

mod common;

use std::collections::HashSet;

use common::process::ServerProcess;
use common::{Got, Peer};
use fernchat::crypto::RoomKey;
use fernchat::keyfile::{self, Overwrite};
use fernchat::protocol::{ClientEvent, ServerEvent, seal};
use fernchat::server::{History, HistoryConfig};

const SERVER_ARGS: &[&str] = &[
    "--port",
    "0",
    "--key",
    "class.key",
    "--history",
    "room.log",
    "--history-replay",
    "100000",
    "--history-max",
    "100000",
    "--flood-rate",
    "1000000",
    "--flood-burst",
    "1000000",
];

#[test]
fn a_server_killed_mid_stream_restarts_with_every_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let key = RoomKey::generate();
    keyfile::write_plain(&dir.path().join("class.key"), &key, Overwrite::Never).unwrap();
    let mut acknowledged = Vec::new();
    // Three kills, each at a different point of a stream, all into the same history.
    for (round, in_flight) in [(0, 7), (1, 50), (2, 200)] {
        let server = ServerProcess::start(dir.path(), SERVER_ARGS);
        let mut writer = Peer::connect(server.address(), key.clone());
        writer.hello(&format!("writer{round}"));
        assert!(matches!(writer.recv(), ServerEvent::Welcome { .. }));
        // Whatever history came first is not what this round counts.
        let mut frames = Vec::new();
        for i in 0..100 + in_flight {
            let text = format!("round {round} message {i} {}", "x".repeat(300));
            frames.extend(seal(&writer.key, &ClientEvent::Say { room: None, text }));
        }
        writer.send_raw(&frames);
        // Read 100 echoes, then kill the server while the rest are still being handled.
        let mut seen = 0;
        while seen < 100 {
            match writer.recv() {
                ServerEvent::Message { text, .. } => {
                    acknowledged.push(text);
                    seen += 1;
                }
                ServerEvent::History { .. } | ServerEvent::Notice { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        let mut process = server;
        process.child.as_mut().unwrap().kill().unwrap();
        // Echoes that reached us before the kill were acknowledged too.
        for _ in 0..in_flight + 1 {
            match writer.next() {
                Got::Event(ServerEvent::Message { text, .. }) => acknowledged.push(text),
                Got::Closed => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(process.exit_code(), None, "killed by a signal");
    }

    // What a restart reads back: every complete record (a torn last one is cut off).
    let (history, report) = History::open(
        HistoryConfig {
            path: dir.path().join("room.log"),
            replay: 100_000,
            max_records: 100_000,
        },
        &key,
    )
    .expect("the history opens after the kills");
    let kept: Vec<String> = history.recent().map(|entry| entry.text.clone()).collect();
    assert_eq!(report.unreadable, 0);
    drop(history);

    // And the server restarts on it and shows the newest of it to a newcomer.
    let server = ServerProcess::start(dir.path(), SERVER_ARGS);
    let mut reader = Peer::connect(server.address(), key.clone());
    reader.hello("reader");
    assert!(matches!(reader.recv(), ServerEvent::Welcome { .. }));
    reader.say("marker");
    let mut replayed = Vec::new();
    for _ in 0..10_000 {
        match reader.recv() {
            ServerEvent::History { text, .. } => replayed.push(text),
            ServerEvent::Notice { .. } => {}
            ServerEvent::Message { text, .. } if text == "marker" => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    // The newest record, which may be newer than anything acknowledged: a message can be in
    // the file and broadcast without having been read by anyone when the kill landed.
    assert_eq!(
        replayed.last(),
        kept.last(),
        "the newest record is replayed"
    );

    let kept_set: HashSet<&String> = kept.iter().collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|t| !kept_set.contains(t))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged messages lost, first {:?}",
        lost.len(),
        lost.first()
    );
    // And in the order they were said.
    let order: Vec<&String> = kept.iter().filter(|t| acknowledged.contains(t)).collect();
    assert_eq!(order, acknowledged.iter().collect::<Vec<_>>());
    assert!(acknowledged.len() >= 300);
}
