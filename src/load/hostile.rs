//! The hostile-client harness: a server process with its default limits, a pair of normal
//! clients chatting (measured like any load run), and around them the attacks a lab
//! network sees. Loopback only; every loop is bounded in count and time; it stops by itself.
//!
//! Attacks, and what the server must answer (see PROTOCOL.md, section 5):
//!
//! | attack | expected |
//! |---|---|
//! | slowloris: one byte a second, never a line | `hello_timeout`, then closed |
//! | 1,000 connections that never say hello | `server_full` beyond the capacity, `hello_timeout` for the rest; all closed |
//! | hello, then never reads while the room produces megabytes | `too_slow`: the room sees it leave, its stream ends with `bye too_slow` |
//! | connect-and-drop churn | nothing (no leak: descriptors and threads return to where they were) |
//! | a flood of valid messages from one client | `rate_limited` once, then `flooding` and closed |
//! | garbage first | the plaintext wrong-key line, then closed |
//! | garbage, an over-long line, bad JSON after a hello | `undecryptable`, `line_too_long`, `bad_json`; the connection goes on |
//!
//! Pass: the server is up at the end and a new client can join, its memory stays bounded
//! (the figure is reported), the normal pair loses nothing with a p99 latency under 50 ms,
//! and every attacker got the expected answer.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::crypto::RoomKey;
use crate::keyfile::{self, Overwrite};
use crate::load::LoadError;
use crate::load::bench::ServerProcess;
use crate::load::client::{self, Incoming};
use crate::load::probe::Probe;
use crate::load::run::{self, Report, RunConfig};
use crate::protocol::codec::WRONG_KEY_PREFIX;
use crate::protocol::{ClientEvent, ErrorCode, ServerEvent};

/// What to run.
#[derive(Debug, Clone)]
pub struct HostileConfig {
    /// The `server` binary.
    pub server_bin: PathBuf,
    /// Where the keyfile and the server log go.
    pub out_dir: PathBuf,
    /// Seconds the normal pair chats (the attacks fit inside; at least 20).
    pub secs: u64,
    /// Silent connections of the crowd.
    pub crowd: usize,
    /// Progress on standard error.
    pub verbose: bool,
}

/// One attack's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The attack.
    pub attack: String,
    /// What the server had to do.
    pub expected: String,
    /// What it did.
    pub observed: String,
    /// Whether that was right.
    pub pass: bool,
}

/// The harness's figures.
#[derive(Debug, Clone, Serialize)]
pub struct HostileReport {
    /// The normal pair's run.
    pub pair: Report,
    /// Each attack.
    pub attacks: Vec<Outcome>,
    /// Server RSS before the attacks, the largest seen during them, and at the end, in KiB.
    pub rss_kib: (u64, u64, u64),
    /// Server threads and descriptors before the attacks and at the end.
    pub threads: (u64, u64),
    /// Descriptors before and at the end.
    pub fds: (u64, u64),
    /// Whether the server process was still running, and a new client could join, at the end.
    pub server_up: bool,
}

impl HostileReport {
    /// Whether every criterion held.
    pub fn passed(&self) -> bool {
        self.server_up
            && !self.pair.failed()
            && self.pair.latency.p99_us < 50_000.0
            && self.attacks.iter().all(|a| a.pass)
    }
}

/// Longest time one attack step may wait for the server.
const STEP: Duration = Duration::from_secs(15);

/// Runs the harness.
pub fn run(config: &HostileConfig) -> Result<HostileReport, LoadError> {
    if config.secs < 20 {
        return Err(LoadError::Config(
            "the hostile harness needs at least 20 s: the hello timeout alone is 10 s".into(),
        ));
    }
    std::fs::create_dir_all(&config.out_dir)?;
    let key_path = config.out_dir.join("hostile.key");
    let key = RoomKey::generate();
    keyfile::write_plain(&key_path, &key, Overwrite::Replace)
        .map_err(|e| LoadError::Server(format!("cannot write {}: {e}", key_path.display())))?;
    // The server's defaults, as an instructor runs it: every limit is under test.
    let mut server = ServerProcess::spawn(&config.server_bin, &config.out_dir, &key_path, &[])?;
    let addr = server.addr;
    if !addr.ip().is_loopback() {
        return Err(LoadError::Config(
            "the hostile harness runs on loopback only".into(),
        ));
    }
    let probe = Probe::new(server.pid())?;
    let before = probe.sample()?;
    let log = |what: &str| {
        if config.verbose {
            eprintln!("hostile: {what}");
        }
    };

    // The watcher reads everything the room says and notes who left and why.
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let mut joined = client::join(addr, &key, "watcher", STEP, Duration::from_millis(100))?;
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut left: BTreeMap<String, String> = BTreeMap::new();
            while !stop.load(Ordering::Relaxed) {
                match joined.receiver.receive() {
                    Incoming::Event(ServerEvent::Left { nick, reason, .. }) => {
                        left.insert(nick, reason);
                    }
                    Incoming::Event(ServerEvent::Ping { id }) => {
                        let _ = joined.sender.send(&ClientEvent::Pong { id });
                    }
                    Incoming::Closed | Incoming::Failed(_) => break,
                    _ => {}
                }
            }
            left
        })
    };

    // The normal pair: 4 messages a second each, under the default rate limit.
    let pair = {
        let mut run_config = RunConfig::new(
            addr,
            key.clone(),
            2,
            2,
            4 * config.secs,
            Duration::from_secs(config.secs),
        );
        run_config.rate = Some(4.0);
        thread::spawn(move || run::run(&run_config))
    };
    thread::sleep(Duration::from_millis(500));
    let deadline = Instant::now() + Duration::from_secs(config.secs);

    // Memory, sampled while the attacks run.
    let peak = {
        let probe = probe.clone();
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut peak = 0;
            while !stop.load(Ordering::Relaxed) {
                if let Ok(s) = probe.sample() {
                    peak = peak.max(s.rss_kib);
                }
                thread::sleep(Duration::from_millis(200));
            }
            peak
        })
    };

    let mut attacks: Vec<JoinHandle<Outcome>> = Vec::new();
    let spawn = |f: Box<dyn FnOnce() -> Outcome + Send>| thread::spawn(f);
    log("never-reader, producers, slowloris, flooder, garbage");
    {
        let key = key.clone();
        attacks.push(spawn(Box::new(move || never_reader(addr, &key, deadline))));
    }
    {
        let key = key.clone();
        attacks.push(spawn(Box::new(move || slowloris(addr, &key))));
    }
    {
        let key = key.clone();
        attacks.push(spawn(Box::new(move || flooder(addr, &key))));
    }
    {
        attacks.push(spawn(Box::new(move || garbage_first(addr))));
    }
    {
        let key = key.clone();
        attacks.push(spawn(Box::new(move || garbage_after_hello(addr, &key))));
    }
    thread::sleep(Duration::from_secs(1));
    log("silent crowd, churn");
    {
        let crowd = config.crowd;
        let key = key.clone();
        attacks.push(spawn(Box::new(move || silent_crowd(addr, &key, crowd))));
    }
    {
        let churn_until = deadline - Duration::from_secs(5);
        attacks.push(spawn(Box::new(move || churn(addr, churn_until))));
    }

    let mut outcomes: Vec<Outcome> = attacks
        .into_iter()
        .map(|a| {
            a.join().unwrap_or_else(|_| Outcome {
                attack: "an attack thread".into(),
                expected: "to finish".into(),
                observed: "it panicked".into(),
                pass: false,
            })
        })
        .collect();
    let pair = pair
        .join()
        .map_err(|_| LoadError::Server("the pair's run panicked".into()))??;
    log("attacks and the pair are done");

    // The never-reader must have left as too slow, in the room's eyes too.
    thread::sleep(Duration::from_millis(500));
    let up_client = client::join(addr, &key, "latecomer", STEP, Duration::from_secs(1));
    let server_up = server.alive() && up_client.is_ok();
    if let Ok(joined) = up_client {
        let _ = joined.sender.send(&ClientEvent::Bye { reason: None });
    }
    stop.store(true, Ordering::SeqCst);
    let left = watcher.join().unwrap_or_default();
    let evicted = left.get("neverreads").cloned().unwrap_or_default();
    outcomes.push(Outcome {
        attack: "the room sees the never-reader leave".into(),
        expected: "left with a \"too slow\" reason".into(),
        observed: format!("left: {evicted:?}"),
        pass: evicted.contains("too slow"),
    });
    // Let the server finish closing what the attacks left behind, then count.
    thread::sleep(Duration::from_secs(2));
    let end = probe.sample()?;
    let peak = peak.join().unwrap_or(0).max(end.rss_kib);
    outcomes.push(Outcome {
        attack: "no leak after the attacks".into(),
        expected: "threads and descriptors back to where they were (±4)".into(),
        observed: format!(
            "threads {} -> {}, fds {} -> {}",
            before.threads, end.threads, before.fds, end.fds
        ),
        pass: end.threads <= before.threads + 4 && end.fds <= before.fds + 4,
    });
    server.stop();
    Ok(HostileReport {
        pair,
        attacks: outcomes,
        rss_kib: (before.rss_kib, peak, end.rss_kib),
        threads: (before.threads, end.threads),
        fds: (before.fds, end.fds),
        server_up,
    })
}

fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, STEP)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(STEP))?;
    stream.set_write_timeout(Some(STEP))?;
    Ok(stream)
}

/// Reads events from a connection until it closes (or `limit` events, or the step timeout),
/// returning the error and bye codes seen and whether it closed.
fn codes_until_closed(receiver: &mut client::Receiver, limit: usize) -> (Vec<ErrorCode>, bool) {
    let mut codes = Vec::new();
    for _ in 0..limit {
        match receiver.receive() {
            Incoming::Event(ServerEvent::Error { code, .. })
            | Incoming::Event(ServerEvent::Bye { code, .. }) => codes.push(code),
            Incoming::Event(_) | Incoming::Skipped | Incoming::Undecryptable => {}
            Incoming::Quiet => return (codes, false),
            Incoming::Closed | Incoming::Failed(_) => return (codes, true),
        }
    }
    (codes, false)
}

fn outcome(attack: &str, expected: &str, observed: String, pass: bool) -> Outcome {
    Outcome {
        attack: attack.into(),
        expected: expected.into(),
        observed,
        pass,
    }
}

/// Joins, then never reads, while producers fill the room with long messages (each under the
/// default rate limit) until the server gives up on it or the deadline passes.
fn never_reader(addr: SocketAddr, key: &RoomKey, deadline: Instant) -> Outcome {
    let name = "a client that says hello, then never reads";
    let expected = "evicted as too_slow; its stream ends with bye too_slow";
    let victim = match client::join(addr, key, "neverreads", STEP, STEP) {
        Ok(j) => j,
        Err(e) => return outcome(name, expected, format!("could not join: {e}"), false),
    };
    // Each under the default rate limit (4 a second of 1,900 characters), together about
    // 250 KB/s: more than the kernel buffers (several MB on loopback) within the run.
    let producers: Vec<_> = (0..24)
        .filter_map(|p| client::join(addr, key, &format!("producer{p}"), STEP, STEP).ok())
        .collect();
    let text = "m".repeat(1900);
    let mut produced = 0u64;
    let mut readers = Vec::new();
    let stop = Arc::new(AtomicBool::new(false));
    // Set by the first producer when the room is told the victim left.
    let evicted = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for (i, mut p) in producers.into_iter().enumerate() {
        senders.push(p.sender.clone());
        let stop = Arc::clone(&stop);
        let evicted = Arc::clone(&evicted);
        // Producers are normal clients: they read what the room says, on their own threads.
        // The first one decrypts, to notice the eviction; the others only keep up.
        readers.push(thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match p.receiver.next_if(|_| i == 0) {
                    Incoming::Event(ServerEvent::Left { nick, .. }) if nick == "neverreads" => {
                        evicted.store(true, Ordering::SeqCst);
                    }
                    Incoming::Closed | Incoming::Failed(_) => break,
                    _ => {}
                }
            }
        }));
    }
    let started = Instant::now();
    let mut evicted_after = None;
    // Bounded: 4 messages a second per producer (under the default rate limit) until the
    // eviction or the deadline.
    while Instant::now() < deadline {
        if evicted.load(Ordering::SeqCst) {
            evicted_after = Some(started.elapsed());
            break;
        }
        for sender in &senders {
            if sender
                .send(&ClientEvent::Say { text: text.clone() })
                .is_ok()
            {
                produced += 1;
            }
        }
        thread::sleep(Duration::from_millis(250));
    }
    stop.store(true, Ordering::SeqCst);
    for sender in &senders {
        sender.shutdown();
    }
    for r in readers {
        let _ = r.join();
    }
    // Now the victim reads everything it was sent, before the server's write timeout gives
    // up on it: the last event must say why it was cut off, then the stream ends.
    let mut receiver = victim.receiver;
    let mut last = None;
    let mut closed = false;
    for _ in 0..1_000_000 {
        match receiver.receive() {
            Incoming::Event(ServerEvent::Bye { code, .. }) => last = Some(code),
            Incoming::Event(_) => last = None,
            Incoming::Quiet => break,
            Incoming::Closed | Incoming::Failed(_) => {
                closed = true;
                break;
            }
            Incoming::Undecryptable | Incoming::Skipped => {}
        }
    }
    let pass = closed && last == Some(ErrorCode::TooSlow);
    outcome(
        name,
        expected,
        format!(
            "room produced {:.2} MB; evicted after {}; its stream ended with {last:?}, closed={closed}",
            produced as f64 * 2650.0 / 1e6,
            evicted_after
                .map(|d| format!("{:.1} s", d.as_secs_f64()))
                .unwrap_or_else(|| "never".into())
        ),
        pass,
    )
}

/// One byte a second of a line that never ends.
fn slowloris(addr: SocketAddr, key: &RoomKey) -> Outcome {
    let name = "slowloris: one byte a second, never a whole line";
    let expected = "hello_timeout, then closed (within about 10 s)";
    let Ok(stream) = connect(addr) else {
        return outcome(name, expected, "could not connect".into(), false);
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let Ok(mut receiver) = client::Receiver::from_stream(stream, key, 4096) else {
        return outcome(name, expected, "out of descriptors".into(), false);
    };
    let started = Instant::now();
    let mut codes = Vec::new();
    let mut closed = false;
    // Bounded: 30 bytes, about 30 seconds.
    for _ in 0..30 {
        if receiver.sender().send_raw(b"g").is_err() {
            break;
        }
        let (seen, done) = codes_until_closed(&mut receiver, 5);
        codes.extend(seen);
        if done {
            closed = true;
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let pass = closed && codes == [ErrorCode::HelloTimeout] && secs < 14.0;
    outcome(
        name,
        expected,
        format!("codes {codes:?}, closed={closed} after {secs:.1} s"),
        pass,
    )
}

/// Many connections that never say anything.
fn silent_crowd(addr: SocketAddr, key: &RoomKey, crowd: usize) -> Outcome {
    let name = "connections that never say hello";
    let expected = "server_full beyond the capacity, hello_timeout for the rest; all closed";
    let mut receivers = Vec::new();
    let mut failed = 0;
    for _ in 0..crowd {
        match connect(addr).and_then(|stream| client::Receiver::from_stream(stream, key, 1024)) {
            Ok(receiver) => receivers.push(receiver),
            Err(_) => failed += 1,
        }
    }
    // The hello timeout is 10 s; the hub checks every 250 ms.
    thread::sleep(Duration::from_secs(11));
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut open = 0;
    for receiver in &mut receivers {
        // Everything is already there: short waits, so a wrong answer cannot stall the run.
        let _ = receiver
            .stream()
            .set_read_timeout(Some(Duration::from_millis(200)));
        let (seen, closed) = codes_until_closed(receiver, 5);
        if !closed {
            open += 1;
        }
        let key = match seen.first() {
            Some(code) => format!("{code:?}"),
            None => "nothing".into(),
        };
        *codes.entry(key).or_default() += 1;
    }
    let right = codes.get("ServerFull").copied().unwrap_or(0)
        + codes.get("HelloTimeout").copied().unwrap_or(0);
    let pass = open == 0 && right == receivers.len();
    outcome(
        name,
        expected,
        format!(
            "{} connected ({failed} could not): {codes:?}, {open} still open",
            receivers.len()
        ),
        pass,
    )
}

/// Connect and drop, over and over, until `until`.
fn churn(addr: SocketAddr, until: Instant) -> Outcome {
    let mut done = 0u64;
    // Bounded in count too.
    while Instant::now() < until && done < 20_000 {
        if let Ok(stream) = TcpStream::connect_timeout(&addr, STEP) {
            let _ = stream.shutdown(Shutdown::Both);
        }
        done += 1;
        if done.is_multiple_of(50) {
            thread::sleep(Duration::from_millis(10));
        }
    }
    outcome(
        "connect-and-drop churn",
        "nothing (the leak check below counts what is left)",
        format!("{done} connections opened and dropped"),
        done > 0,
    )
}

/// A client that sends valid messages as fast as it can.
fn flooder(addr: SocketAddr, key: &RoomKey) -> Outcome {
    let name = "a flood of valid messages from one client";
    let expected = "rate_limited once, then flooding and closed";
    let mut joined = match client::join(addr, key, "flooder", STEP, STEP) {
        Ok(j) => j,
        Err(e) => return outcome(name, expected, format!("could not join: {e}"), false),
    };
    let mut burst = Vec::new();
    for i in 0..500 {
        burst.extend(joined.sender.seal(&ClientEvent::Say {
            text: format!("flood {i}"),
        }));
    }
    let _ = joined.sender.send_raw(&burst);
    let (codes, closed) = codes_until_closed(&mut joined.receiver, 2000);
    let limited = codes
        .iter()
        .filter(|c| **c == ErrorCode::RateLimited)
        .count();
    let pass = closed && limited == 1 && codes.last() == Some(&ErrorCode::Flooding);
    outcome(
        name,
        expected,
        format!("codes {codes:?}, closed={closed}"),
        pass,
    )
}

/// Garbage as the first line of a connection.
fn garbage_first(addr: SocketAddr) -> Outcome {
    let name = "garbage as the first line";
    let expected = "the plaintext wrong-key line, then closed";
    let Ok(mut stream) = connect(addr) else {
        return outcome(name, expected, "could not connect".into(), false);
    };
    let _ = stream.write_all(b"GET / HTTP/1.0\r\n\r\n");
    let mut answer = Vec::new();
    let closed = stream.read_to_end(&mut answer).is_ok();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let pass = closed && text.starts_with(WRONG_KEY_PREFIX);
    outcome(
        name,
        expected,
        format!(
            "{:?}, closed={closed}",
            text.chars().take(40).collect::<String>()
        ),
        pass,
    )
}

/// Garbage, an over-long line and bad JSON after a proper hello.
fn garbage_after_hello(addr: SocketAddr, key: &RoomKey) -> Outcome {
    let name = "garbage, an over-long line and bad JSON after a hello";
    let expected = "undecryptable, line_too_long, bad_json; the connection goes on";
    let mut joined = match client::join(addr, key, "garbler", STEP, STEP) {
        Ok(j) => j,
        Err(e) => return outcome(name, expected, format!("could not join: {e}"), false),
    };
    let mut bad_json = key.encrypt(b"{not json").into_bytes();
    bad_json.push(b'\n');
    let mut long = vec![b'A'; 40_000];
    long.push(b'\n');
    let sent = [b"this is not a token\n".to_vec(), long, bad_json]
        .iter()
        .all(|bytes| joined.sender.send_raw(bytes).is_ok());
    let _ = joined.sender.send(&ClientEvent::Who);
    let mut codes = Vec::new();
    let mut alive = false;
    for _ in 0..100 {
        match joined.receiver.receive() {
            Incoming::Event(ServerEvent::Error { code, .. }) => codes.push(code),
            Incoming::Event(ServerEvent::Users { .. }) => {
                alive = true;
                break;
            }
            Incoming::Event(_) | Incoming::Skipped | Incoming::Undecryptable => {}
            Incoming::Quiet | Incoming::Closed | Incoming::Failed(_) => break,
        }
    }
    let pass = sent
        && alive
        && codes
            == [
                ErrorCode::Undecryptable,
                ErrorCode::LineTooLong,
                ErrorCode::BadJson,
            ];
    let _ = joined.sender.send(&ClientEvent::Bye { reason: None });
    outcome(
        name,
        expected,
        format!("codes {codes:?}, still answering: {alive}"),
        pass,
    )
}
