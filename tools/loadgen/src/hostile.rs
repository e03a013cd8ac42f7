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
//! | class-key flood: short connections from many addresses, 10 valid tokens each, no hello (issue 12, 1) | newcomers join throughout, nobody is refused as `replayed` |
//! | the server's own frames (`pong`, `users`, `message`) sent back to it (issue 12, 3) | each refused as `undecryptable`, nothing else answered (protocol 2; protocol 1 opens them) |
//! | 600 silent connections from many addresses, reopened as soon as closed (issue 12, 6) | every newcomer joins; the server log grows by less than 64 KiB |
//!
//! The crowds of the last rows come from 127.0.0.2 .. 127.0.0.250 on Linux (all of 127/8 is
//! loopback there) and their newcomers from 127.0.0.251; elsewhere all from 127.0.0.1.
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

use crate::LoadError;
use crate::bench::ServerProcess;
use crate::client::{self, Incoming};
use crate::probe::Probe;
use crate::run::{self, Report, RunConfig};
use fernchat::crypto::RoomKey;
use fernchat::keyfile::{self, Overwrite};
use fernchat::protocol::codec::WRONG_KEY_PREFIX;
use fernchat::protocol::{ClientEvent, ErrorCode, ServerEvent, seal};

/// What to run.
#[derive(Debug, Clone)]
pub struct HostileConfig {
    /// The `server` binary.
    pub server_bin: PathBuf,
    /// Where the keyfile and the server log go.
    pub out_dir: PathBuf,
    /// Seconds the normal pair chats (the attacks fit inside; at least 20).
    pub secs: u64,
    /// Silent connections of the crowd from 127.0.0.1 (the server's limits per address).
    pub crowd: usize,
    /// Silent connections of the crowd from many addresses, reopened as soon as closed.
    pub crowd_many: usize,
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
    log("never-reader, producers, slowloris, flooder, garbage, own frames back");
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
        attacks.push(spawn(Box::new(move || own_frames_back(addr, &key))));
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
    log("class-key flood, silent crowd from many addresses");
    {
        let key = key.clone();
        let until = deadline - Duration::from_secs(5);
        attacks.push(spawn(Box::new(move || class_key_flood(addr, &key, until))));
    }
    {
        let key = key.clone();
        let until = deadline - Duration::from_secs(5);
        let crowd = config.crowd_many;
        let server_log = config.out_dir.join("server.log");
        attacks.push(spawn(Box::new(move || {
            silent_crowd_many(addr, &key, crowd, until, &server_log)
        })));
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
                .send(&ClientEvent::Say {
                    room: None,
                    text: text.clone(),
                })
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
    let expected = "hello_timeout, then closed (within 10 s, sooner while many connections wait)";
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
            room: None,
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
    // Sealed with the session key (c2s): under protocol 2 the class key after the hello is
    // `undecryptable`, and the server would never get as far as the JSON.
    let mut bad_json = joined.sender.seal_bytes(b"{not json");
    bad_json.push(b'\n');
    let mut long = vec![b'A'; 40_000];
    long.push(b'\n');
    let sent = [b"this is not a token\n".to_vec(), long, bad_json]
        .iter()
        .all(|bytes| joined.sender.send_raw(bytes).is_ok());
    let (codes, alive) = codes_before_who(&mut joined, 100);
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

/// Source addresses of the crowds: on Linux all of 127.0.0.0/8 is loopback, so the crowds come
/// from 127.0.0.2 ..= 127.0.0.250 and the server's limits per address cannot stop them alone.
/// Elsewhere only 127.0.0.1 answers, and a crowd comes from there (the limits per address
/// then do most of the work, which the figures show).
const SOURCES: u64 = 249;

/// Connects to `addr` from source address number `n` of the crowd (see [`SOURCES`]).
fn connect_from(n: u64, addr: SocketAddr) -> std::io::Result<TcpStream> {
    connect_from_host(2 + (n % SOURCES) as u8, addr)
}

/// Connects to `addr` from 127.0.0.`last` on Linux, from 127.0.0.1 elsewhere.
fn connect_from_host(last: u8, addr: SocketAddr) -> std::io::Result<TcpStream> {
    #[cfg(target_os = "linux")]
    {
        use socket2::{Domain, Socket, Type};
        let from = SocketAddr::from(([127, 0, 0, last], 0));
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        socket.bind(&from.into())?;
        socket.connect_timeout(&addr.into(), STEP)?;
        Ok(socket.into())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = last;
        TcpStream::connect_timeout(&addr, STEP)
    }
}

/// Where the crowds come from, for the figures.
fn sources() -> &'static str {
    if cfg!(target_os = "linux") {
        "127.0.0.2-250"
    } else {
        "127.0.0.1"
    }
}

/// Joins as `nick` and leaves: whether a newcomer gets in, and what it got instead. On Linux
/// the newcomer comes from 127.0.0.251, an address no crowd uses (another student's machine);
/// elsewhere from 127.0.0.1, which it shares with the crowds and their limits per address.
fn newcomer(addr: SocketAddr, key: &RoomKey, nick: &str) -> Result<(), String> {
    let stream = connect_from_host(251, addr).map_err(|e| format!("connect: {e}"))?;
    let joined =
        client::join_stream(stream, key, nick, STEP, STEP, 4096).map_err(|e| e.to_string())?;
    let _ = joined.sender.send(&ClientEvent::Bye { reason: None });
    Ok(())
}

/// A newcomer every 2 s until `until`, nicks `prefix1`, `prefix2`, ...: how many tried, and
/// why those that failed did.
fn newcomers_until(
    addr: SocketAddr,
    key: &RoomKey,
    prefix: &str,
    until: Instant,
) -> (u32, Vec<String>) {
    let (mut tried, mut failures) = (0u32, Vec::new());
    // Bounded by the deadline.
    while Instant::now() + Duration::from_secs(2) < until {
        thread::sleep(Duration::from_secs(2));
        tried += 1;
        if let Err(e) = newcomer(addr, key, &format!("{prefix}{tried}")) {
            failures.push(e);
        }
    }
    (tried, failures)
}

/// Sends `who` and reads (at most `limit` events) until its `users` answer: the error codes
/// the server sent before it (about what was sent before the `who`), and whether it answered.
fn codes_before_who(joined: &mut client::Joined, limit: usize) -> (Vec<ErrorCode>, bool) {
    let _ = joined.sender.send(&ClientEvent::Who { room: None });
    let mut codes = Vec::new();
    for _ in 0..limit {
        match joined.receiver.receive() {
            Incoming::Event(ServerEvent::Error { code, .. }) => codes.push(code),
            Incoming::Event(ServerEvent::Users { .. }) => return (codes, true),
            Incoming::Event(_) | Incoming::Skipped | Incoming::Undecryptable => {}
            Incoming::Quiet | Incoming::Closed | Incoming::Failed(_) => break,
        }
    }
    (codes, false)
}

/// Issue 12, attack 1: many short connections from many addresses, each sending 10 valid
/// class-key tokens (a whole burst allowance) and no hello, until `until`, while newcomers
/// try to join every 2 s. Under protocol 1 every token went into one process-wide replay
/// memory; once full, everybody's tokens were refused as `replayed`.
pub(crate) fn class_key_flood(addr: SocketAddr, key: &RoomKey, until: Instant) -> Outcome {
    let name = "class-key flood: short connections from many addresses, 10 tokens each, no hello";
    let expected = "newcomers join throughout; nobody is refused as replayed";
    const THREADS: u64 = 8;
    let stop = Arc::new(AtomicBool::new(false));
    let flooders: Vec<JoinHandle<(u64, u64)>> = (0..THREADS)
        .map(|t| {
            let (key, stop) = (key.clone(), Arc::clone(&stop));
            thread::spawn(move || {
                let (mut connections, mut tokens) = (0u64, 0u64);
                let mut n = t;
                // Bounded by the deadline; every step by the socket timeouts.
                while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                    n += THREADS;
                    let Ok(mut stream) = connect_from(n, addr) else {
                        continue;
                    };
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                    let mut burst = Vec::new();
                    for i in 0..10 {
                        burst.extend(seal(&key, &ClientEvent::Ping { id: n * 16 + i }));
                    }
                    if stream.write_all(&burst).is_ok() {
                        tokens += 10;
                    }
                    connections += 1;
                    let _ = stream.shutdown(Shutdown::Write);
                    // Until the server closes: it has read the burst.
                    let mut sink = [0u8; 4096];
                    for _ in 0..64 {
                        match stream.read(&mut sink) {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        }
                    }
                }
                (connections, tokens)
            })
        })
        .collect();
    let started = Instant::now();
    let (tried, failures) = newcomers_until(addr, key, "floodnew", until);
    stop.store(true, Ordering::SeqCst);
    let (connections, tokens) = flooders
        .into_iter()
        .filter_map(|f| f.join().ok())
        .fold((0, 0), |(c, t), (c1, t1)| (c + c1, t + t1));
    let secs = started.elapsed().as_secs_f64().max(0.001);
    let replayed = failures.iter().any(|f| f.contains("Replayed"));
    outcome(
        name,
        expected,
        format!(
            "{connections} connections from {}, {tokens} tokens ({:.0}/s); newcomers joined {} \
             of {tried}{}",
            sources(),
            tokens as f64 / secs,
            tried as usize - failures.len(),
            failures
                .first()
                .map(|f| format!(", first refusal: {f}"))
                .unwrap_or_default()
        ),
        failures.is_empty() && !replayed && tried > 0,
    )
}

/// Issue 12, attack 3: the server's own frames sent back to it. A joined client makes the
/// server send it a `pong`, a `users` list and a room `message`, and sends each back
/// unchanged. Protocol 1 opened them as client frames (the pong was accepted, the others were
/// answered as unknown types). Protocol 2 seals the `pong` and the `users` for this client
/// alone with its server-to-client session key, the `message` (a broadcast) with the class
/// key, and opens a client frame after the hello only with the client-to-server key: each
/// must be refused as `undecryptable`, and nothing else answered to it.
pub(crate) fn own_frames_back(addr: SocketAddr, key: &RoomKey) -> Outcome {
    let name = "the server's own frames sent back to it";
    let expected = "each refused as undecryptable and nothing else answered (a frame sealed for \
                    one direction is not accepted in the other)";
    // From an address of its own (on Linux): the crowds' limits per address are not its.
    let joined = connect_from_host(252, addr)
        .map_err(|source| LoadError::Connect { addr, source })
        .and_then(|stream| {
            client::join_stream(stream, key, "mirror", STEP, Duration::from_secs(2), 4096)
        });
    let mut mirror = match joined {
        Ok(j) => j,
        Err(e) => return outcome(name, expected, format!("could not join: {e}"), false),
    };
    let asked = [
        ClientEvent::Ping { id: 4242 },
        ClientEvent::Who { room: None },
        ClientEvent::Say {
            room: None,
            text: "mirror, mirror".into(),
        },
    ];
    for event in &asked {
        let _ = mirror.sender.send(event);
    }
    // The server's answers, raw (with the newline that ends a frame), among the history and
    // the room's traffic, recognised with this connection's keys (the session key for the
    // `pong` and the `users`, the class key for the `message`). Bounded: at most 2,000
    // frames, each within the read timeout.
    let mut frames: Vec<(String, Vec<u8>)> = Vec::new();
    for _ in 0..2000 {
        let Some(mut frame) = mirror.receiver.next_frame() else {
            break;
        };
        let kind = match mirror.receiver.open(&frame) {
            Some(ServerEvent::Pong { id: 4242 }) => "pong",
            Some(ServerEvent::Users { .. }) => "users",
            Some(ServerEvent::Message { text, .. }) if text == "mirror, mirror" => "message",
            _ => continue,
        };
        frame.push(b'\n');
        if !frames.iter().any(|(k, _)| k == kind) {
            frames.push((kind.to_owned(), frame));
        }
        if frames.len() == asked.len() {
            break;
        }
    }
    let found: Vec<&str> = frames.iter().map(|(k, _)| k.as_str()).collect();
    let mut verdicts = Vec::new();
    let mut refused = 0;
    for (kind, frame) in &frames {
        // Pacing, not synchronisation: every frame after the hello counts against the rate
        // limit (5 a second, bursts of 10), refused ones too. The joining, the three requests
        // and two frames per reflection (the echo and the `who` marker) would spend the whole
        // burst, and the last marker would be dropped as `rate_limited`. A second refills it.
        thread::sleep(Duration::from_secs(1));
        if mirror.sender.send_raw(frame).is_err() {
            verdicts.push(format!("{kind}: connection closed"));
            continue;
        }
        let (codes, answers, marked) = reflection_answers(&mut mirror, 2000);
        let verdict = match (codes.as_slice(), answers.as_slice(), marked) {
            (_, _, false) => format!("no answer to the who marker (codes {codes:?})"),
            ([ErrorCode::Undecryptable], [], true) => {
                refused += 1;
                "refused (undecryptable)".to_owned()
            }
            ([], [], true) => "accepted silently".to_owned(),
            (codes, answers, true) => format!("opened: codes {codes:?}, answers {answers:?}"),
        };
        verdicts.push(format!("{kind}: {verdict}"));
    }
    let _ = mirror.sender.send(&ClientEvent::Bye { reason: None });
    if frames.len() < asked.len() {
        verdicts.push(format!(
            "only {found:?} of pong, users, message came back to reflect"
        ));
    }
    let pass = frames.len() == asked.len() && refused == asked.len();
    outcome(name, expected, verdicts.join("; "), pass)
}

/// After one reflected frame: sends `who` as a marker and reads (at most `limit` events)
/// until its `users` answer. Returns the error codes the server sent before it, what it
/// answered that only a reflected frame opened as a client frame could cause (a `pong` 4242,
/// a `message` "mirror, mirror" broadcast again), and whether the marker was answered.
fn reflection_answers(
    joined: &mut client::Joined,
    limit: usize,
) -> (Vec<ErrorCode>, Vec<String>, bool) {
    let _ = joined.sender.send(&ClientEvent::Who { room: None });
    let (mut codes, mut answers) = (Vec::new(), Vec::new());
    for _ in 0..limit {
        match joined.receiver.receive() {
            Incoming::Event(ServerEvent::Error { code, .. }) => codes.push(code),
            Incoming::Event(ServerEvent::Users { .. }) => return (codes, answers, true),
            Incoming::Event(ServerEvent::Pong { id: 4242 }) => answers.push("pong 4242".into()),
            Incoming::Event(ServerEvent::Message { text, .. }) if text == "mirror, mirror" => {
                answers.push("message \"mirror, mirror\"".into())
            }
            Incoming::Event(_) | Incoming::Skipped | Incoming::Undecryptable => {}
            Incoming::Quiet | Incoming::Closed | Incoming::Failed(_) => break,
        }
    }
    (codes, answers, false)
}

/// Issue 12, attack 6: `crowd` connections from many addresses that never say hello, each
/// reopened as soon as the server closes it, until `until`, while a newcomer joins every 2 s.
/// `log` is the server's log file: how much it grew during the attack is reported.
pub(crate) fn silent_crowd_many(
    addr: SocketAddr,
    key: &RoomKey,
    crowd: usize,
    until: Instant,
    log: &std::path::Path,
) -> Outcome {
    let name = "a silent crowd from many addresses, reopened as soon as closed";
    let expected = "every newcomer joins; the server log grows by less than 64 KiB";
    const LOG_BOUND: u64 = 64 * 1024;
    let log_size = || std::fs::metadata(log).map(|m| m.len()).unwrap_or(0);
    let log_before = log_size();
    let stop = Arc::new(AtomicBool::new(false));
    let members: Vec<JoinHandle<u64>> = (0..crowd)
        .filter_map(|c| {
            let stop = Arc::clone(&stop);
            thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    let mut opened = 0u64;
                    let mut sink = [0u8; 256];
                    // Bounded by the deadline; each read waits at most 250 ms.
                    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                        let Ok(mut stream) = connect_from(c as u64, addr) else {
                            continue;
                        };
                        opened += 1;
                        let _ = stream.set_read_timeout(Some(Duration::from_millis(250)));
                        while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                            match stream.read(&mut sink) {
                                Ok(0) => break,
                                Ok(_) => {}
                                Err(e)
                                    if matches!(
                                        e.kind(),
                                        std::io::ErrorKind::WouldBlock
                                            | std::io::ErrorKind::TimedOut
                                    ) => {}
                                Err(_) => break,
                            }
                        }
                    }
                    opened
                })
                .ok()
        })
        .collect();
    let started = Instant::now();
    let (tried, failures) = newcomers_until(addr, key, "crowdnew", until);
    stop.store(true, Ordering::SeqCst);
    let started_members = members.len();
    let opened: u64 = members.into_iter().filter_map(|m| m.join().ok()).sum();
    let grown = log_size().saturating_sub(log_before);
    outcome(
        name,
        expected,
        format!(
            "{started_members} silent connections from {}, {opened} opened in {:.0} s; \
             newcomers joined {} of {tried}{}; the log grew {grown} bytes (all attacks together)",
            sources(),
            started.elapsed().as_secs_f64(),
            tried as usize - failures.len(),
            failures
                .first()
                .map(|f| format!(", first refusal: {f}"))
                .unwrap_or_default()
        ),
        failures.is_empty() && tried > 0 && grown < LOG_BOUND,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use fernchat::server::{Log, Server, ServerConfig};
    use std::net::TcpListener;

    /// Runs `check` against a quiet server with the default limits in this process, on
    /// 127.0.0.1 port 0, and stops the server (within [`STEP`]) afterwards.
    fn against_a_server(check: impl FnOnce(SocketAddr, &RoomKey) -> Outcome) -> Outcome {
        let key = RoomKey::generate();
        let mut config = ServerConfig::new(key.clone());
        config.log = Log::Silent;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let server = Server::new(listener, config).expect("the server starts");
        let addr = server.local_addr().expect("the server's address");
        let (stop, stop_rx) = crossbeam_channel::bounded(1);
        let (done, done_rx) = crossbeam_channel::bounded(1);
        thread::spawn(move || {
            let _ = server.run(stop_rx);
            let _ = done.send(());
        });
        let result = check(addr, &key);
        let _ = stop.send(());
        done_rx
            .recv_timeout(STEP)
            .expect("the server stops within the step timeout");
        result
    }

    // Both failed on the old main (protocol 1 checks against a protocol 2 server): the bad
    // JSON, sealed with the class key, came back `undecryptable` instead of `bad_json`; the
    // `pong` and `users` replies, looked for under the class key, were never found.

    #[test]
    fn bad_json_after_a_hello_is_sealed_with_the_session_key() {
        let outcome = against_a_server(garbage_after_hello);
        assert!(outcome.pass, "{outcome:?}");
    }

    #[test]
    fn the_servers_own_frames_sent_back_are_each_refused() {
        let outcome = against_a_server(own_frames_back);
        assert!(outcome.pass, "{outcome:?}");
    }
}
