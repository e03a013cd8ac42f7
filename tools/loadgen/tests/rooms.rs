//! The rooms scenario of the load generator (issue 16), at a tiny size, against the real
//! server: the library's `Server`, the code the `server` binary runs, in this process on
//! 127.0.0.1 port 0 (a binary would have to be built first, and a stale one would test old
//! code). Each test is bounded: the run has its own time bounds, and the test gives up on it
//! after [`BOUND`].

use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use fernchat::crypto::RoomKey;
use fernchat::server::{Log, Server, ServerConfig};
use loadgen::run::{self, Report, RoomLayout, RunConfig};

/// How long a whole test may take: the runs below need about a second.
const BOUND: Duration = Duration::from_secs(60);

/// Starts a quiet server with rate limits above the load, runs `config_for(addr, key)` against
/// it within [`BOUND`], stops the server, and returns the report.
fn run_against_a_server(config_for: impl FnOnce(SocketAddr, RoomKey) -> RunConfig) -> Report {
    let key = RoomKey::generate();
    let mut config = ServerConfig::new(key.clone());
    config.log = Log::Silent;
    // The defaults (5 messages a second) are for people; the runs send 20 a second.
    config.flood.per_second = 1000.0;
    config.flood.burst = 1000;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let server = Server::new(listener, config).expect("the server starts");
    let addr = server.local_addr().expect("the server's address");
    let (stop, stop_rx) = crossbeam_channel::bounded(1);
    let (done, done_rx) = crossbeam_channel::bounded(1);
    thread::spawn(move || {
        let _ = server.run(stop_rx);
        let _ = done.send(());
    });
    let run_config = config_for(addr, key);
    let (report_tx, report_rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = report_tx.send(run::run(&run_config));
    });
    let report = report_rx
        .recv_timeout(BOUND)
        .expect("the run ends within its bound")
        .expect("the run can be carried out");
    let _ = stop.send(());
    done_rx
        .recv_timeout(BOUND)
        .expect("the server stops within the bound");
    report
}

#[test]
fn a_rooms_run_delivers_each_message_to_its_room_only() {
    let layout = RoomLayout {
        rooms: 3,
        members: 4,
        senders: 2,
    };
    let report = run_against_a_server(|addr, key| {
        let mut config = RunConfig::in_rooms(addr, key, layout, 10, Duration::from_secs(5));
        config.rate = Some(20.0);
        config.window = 64;
        config
    });
    assert_eq!(report.rooms, Some((3, 4, 2)), "{report:?}");
    assert_eq!(
        report.sent,
        3 * 2 * 10,
        "every sender sent its 10: {report:?}"
    );
    // Each message reaches the 4 members of its room, and nobody else.
    assert_eq!(report.expected, report.sent * 4, "{report:?}");
    assert_eq!(report.delivered, report.expected, "{report:?}");
    assert_eq!(report.lost, 0, "{report:?}");
    assert_eq!(report.leaks, 0, "{report:?}");
    assert_eq!(report.undecryptable, 0, "{report:?}");
    assert!(report.errors.is_empty(), "{report:?}");
    assert!(!report.failed(), "{report:?}");
    assert_eq!(report.latency.count, report.delivered, "{report:?}");
}

#[test]
fn a_run_without_rooms_still_reaches_everyone_in_class() {
    let report = run_against_a_server(|addr, key| {
        let mut config = RunConfig::new(addr, key, 6, 2, 10, Duration::from_secs(5));
        config.rate = Some(20.0);
        config
    });
    assert_eq!(report.rooms, None);
    assert_eq!(report.sent, 20, "{report:?}");
    assert_eq!(report.delivered, 20 * 6, "{report:?}");
    assert_eq!(report.leaks, 0, "{report:?}");
    assert!(!report.failed(), "{report:?}");
}
