//! Chat-like load in roster mode against class-key mode, one right after the other: the
//! `chat-50` shape of `loadgen bench` (50 clients, each saying a 40-character line 10 times a
//! second), each mode on a fresh `server` process, measured by the server's CPU time per
//! delivered message (from `/proc/PID/stat`, Linux) and the delivery latency.
//!
//! ```text
//! cargo run --release --example roster_load -- [SERVER_BIN] [SECONDS] [CLIENTS]
//! ```
//!
//! `SERVER_BIN` defaults to `server` next to this example's folder (`target/<profile>/server`);
//! build it first (`cargo build --release --bin server`). Until `loadgen` speaks roster mode,
//! this is the comparison the issue asks for.
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use fernchat::crypto::{RoomKey, TimePolicy, unix_now};
use fernchat::kex::{Nonce, psk_session_keys};
use fernchat::keyfile::{self, Overwrite};
use fernchat::protocol::{ClientEvent, FrameReader, Inbound, PROTOCOL_VERSION, ServerEvent, seal};
use fernchat::roster::keys::RosterSecret;

const STEP: Duration = Duration::from_secs(10);

fn main() {
    let mut args = std::env::args().skip(1);
    let server_bin = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(default_server);
    // The server runs in a scratch folder: a relative path must not be read from there.
    let server_bin = std::path::absolute(&server_bin).expect("the server's path");
    let secs: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(10)
        .clamp(1, 600);
    let clients: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(50)
        .clamp(2, 500);
    let dir = std::env::temp_dir().join(format!("fernchat-roster-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");

    let logins: Vec<String> = (0..clients).map(|i| format!("lg{i:04}")).collect();
    // Class-key mode: one key for everyone.
    let class = RoomKey::generate();
    keyfile::write_plain(&dir.join("class.key"), &class, Overwrite::Replace).expect("keyfile");
    // Roster mode: a key per client, from a roster secret.
    let secret = RosterSecret::generate();
    secret
        .create(&dir.join("roster.secret"))
        .expect("the secret");
    let roster: String = logins.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(dir.join("roster.txt"), roster).expect("the roster");

    println!(
        "{clients} clients x 10 messages/s x {secs} s, server {}, load before: {}",
        server_bin.display(),
        loadavg()
    );
    let common = [
        "--port",
        "0",
        "--no-history",
        "--kex",
        "psk",
        "--flood-rate",
        "1000000",
        "--flood-burst",
        "1000000",
        "--max-clients",
        "1000",
        "--max-pending",
        "1000",
        "--idle-timeout",
        "600",
    ];
    let class_keys: Vec<RoomKey> = logins.iter().map(|_| class.clone()).collect();
    let class_run = run(
        &server_bin,
        &dir,
        &[&common[..], &["--key", "class.key"]].concat(),
        &logins,
        &class_keys,
        secs,
    );
    let student_keys: Vec<RoomKey> = logins.iter().map(|l| secret.student_key(l, 1)).collect();
    let roster_run = run(
        &server_bin,
        &dir,
        &[
            &common[..],
            &["--roster", "roster.txt", "--roster-secret", "roster.secret"],
        ]
        .concat(),
        &logins,
        &student_keys,
        secs,
    );
    println!(
        "{:<10} {:>12} {:>12} {:>10} {:>10} {:>8}",
        "mode", "deliveries", "us/delivery", "p50 ms", "p99 ms", "lost"
    );
    for (name, r) in [("class key", &class_run), ("roster", &roster_run)] {
        println!(
            "{name:<10} {:>12} {:>12.2} {:>10.2} {:>10.2} {:>8}",
            r.deliveries, r.cpu_us_per_delivery, r.p50_ms, r.p99_ms, r.lost
        );
    }
    println!(
        "roster / class key: {:.2}x server CPU per delivery; load after: {}",
        roster_run.cpu_us_per_delivery / class_run.cpu_us_per_delivery,
        loadavg()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn default_server() -> PathBuf {
    let exe = std::env::current_exe().expect("our own path");
    // target/<profile>/examples/roster_load -> target/<profile>/server
    exe.parent()
        .and_then(Path::parent)
        .map(|p| p.join("server"))
        .expect("a target folder")
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

struct RunResult {
    deliveries: u64,
    cpu_us_per_delivery: f64,
    p50_ms: f64,
    p99_ms: f64,
    lost: u64,
}

/// One run on a fresh server: everyone joins, then every client says a line 10 times a second
/// for `secs`, phases spread; then a bounded drain.
fn run(
    server_bin: &Path,
    dir: &Path,
    server_args: &[&str],
    logins: &[String],
    keys: &[RoomKey],
    secs: u64,
) -> RunResult {
    let mut server = Command::new(server_bin)
        .args(server_args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the server");
    let addr = listening_on(&mut server);
    let mut senders = Vec::new();
    let delivered = Arc::new(AtomicU64::new(0));
    let (lat_tx, lat_rx) = crossbeam_channel::unbounded::<Vec<u64>>();
    let start = Instant::now();
    let mut readers = Vec::new();
    for (login, key) in logins.iter().zip(keys) {
        let (sender, reader, inbound) = join(addr, key, login);
        senders.push(sender);
        let delivered = Arc::clone(&delivered);
        let lat_tx = lat_tx.clone();
        readers.push(thread::spawn(move || {
            read_loop(reader, inbound, &delivered, start, &lat_tx)
        }));
    }
    drop(lat_tx);
    let cpu_before = server_cpu(server.id());
    let delivered_before = delivered.load(Ordering::Relaxed);
    // 10 messages a second per client, phases spread: one send every 100 ms / clients.
    let gap = Duration::from_micros(100_000 / logins.len() as u64);
    let total = secs * 10 * logins.len() as u64;
    let began = Instant::now();
    for n in 0..total {
        let due = began + gap * n as u32;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        let who = (n % logins.len() as u64) as usize;
        let text = format!("t={:>12} {}", start.elapsed().as_micros(), "x".repeat(20));
        let (stream, key) = &mut senders[who];
        let _ = stream.write_all(&seal(key, &ClientEvent::Say { room: None, text }));
    }
    let expected = total * logins.len() as u64;
    let drain_until = Instant::now() + Duration::from_secs(5);
    while delivered.load(Ordering::Relaxed) - delivered_before < expected
        && Instant::now() < drain_until
    {
        thread::sleep(Duration::from_millis(20));
    }
    let cpu_after = server_cpu(server.id());
    let got = delivered.load(Ordering::Relaxed) - delivered_before;
    for (stream, _) in &senders {
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
    let _ = server.kill();
    let _ = server.wait();
    for reader in readers {
        let _ = reader.join();
    }
    let mut latencies: Vec<u64> = lat_rx.iter().flatten().collect();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .map_or(0.0, |&us| us as f64 / 1000.0)
    };
    RunResult {
        deliveries: got,
        cpu_us_per_delivery: (cpu_after - cpu_before) * 1e6 / got.max(1) as f64,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        lost: expected.saturating_sub(got),
    }
}

fn listening_on(server: &mut Child) -> SocketAddr {
    let stdout = BufReader::new(server.stdout.take().expect("stdout"));
    let (tx, rx) = crossbeam_channel::unbounded();
    thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    for _ in 0..40 {
        let line = rx.recv_timeout(STEP).expect("the server's banner");
        if let Some(addr) = line.split("listening on ").nth(1) {
            return addr.trim().parse().expect("an address");
        }
    }
    panic!("no 'listening on' line");
}

/// The server's user + system CPU seconds, from /proc (Linux).
fn server_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// The psk handshake of PROTOCOL.md with `key`; broadcasts open with the welcome's `room_key`
/// when it has one (roster mode), else with `key`.
fn join(
    addr: SocketAddr,
    key: &RoomKey,
    nick: &str,
) -> ((TcpStream, RoomKey), FrameReader<TcpStream>, Inbound) {
    let mut stream = TcpStream::connect_timeout(&addr, STEP).expect("connect");
    stream.set_read_timeout(Some(STEP)).unwrap();
    stream.set_nodelay(true).unwrap();
    let mut reader = FrameReader::new(stream.try_clone().unwrap(), 1 << 20);
    let mut inbound = Inbound::per_connection(key.clone(), TimePolicy::default(), 1 << 22);
    let nonce = Nonce::generate();
    let hello = ClientEvent::Hello {
        nick: nick.into(),
        version: PROTOCOL_VERSION,
        kex: "psk".into(),
        nonce: Some(nonce.to_wire()),
        kex_public: None,
        since: None,
        client: None,
    };
    stream.write_all(&seal(key, &hello)).expect("hello");
    let mut next = |inbound: &mut Inbound| {
        let line = reader
            .read_frame()
            .expect("read")
            .expect("not closed")
            .to_vec();
        inbound
            .accept::<ServerEvent>(&line, unix_now())
            .expect("a frame we open")
    };
    let ServerEvent::Handshake { server_nonce, .. } = next(&mut inbound) else {
        panic!("{nick}: no handshake");
    };
    let keys = psk_session_keys(
        key,
        &nonce,
        &Nonce::from_wire(&server_nonce).expect("nonce"),
    );
    inbound.rekey(keys.server_to_client.clone());
    stream
        .write_all(&seal(
            &keys.client_to_server,
            &ClientEvent::Confirm { mac: None },
        ))
        .expect("confirm");
    let room = loop {
        match next(&mut inbound) {
            ServerEvent::Welcome { room_key, .. } => {
                break room_key.map_or_else(
                    || key.clone(),
                    |k| RoomKey::from_secret(&k).expect("room key"),
                );
            }
            ServerEvent::Error { message, .. } => panic!("{nick}: refused: {message}"),
            _ => {}
        }
    };
    inbound.rekey(RoomKey::with_fallback(&keys.server_to_client, &room));
    ((stream, keys.client_to_server), reader, inbound)
}

fn read_loop(
    mut reader: FrameReader<TcpStream>,
    mut inbound: Inbound,
    delivered: &AtomicU64,
    start: Instant,
    latencies: &crossbeam_channel::Sender<Vec<u64>>,
) {
    let mut mine = Vec::new();
    // Bounded: ends when the connection closes or stays silent for the read timeout.
    while let Ok(Some(line)) = reader.read_frame() {
        if let Ok(ServerEvent::Message { text, .. }) =
            inbound.accept::<ServerEvent>(line, unix_now())
        {
            delivered.fetch_add(1, Ordering::Relaxed);
            if let Some(sent) = text
                .strip_prefix("t=")
                .and_then(|t| t.split_whitespace().next())
                .and_then(|t| t.parse::<u64>().ok())
            {
                mine.push((start.elapsed().as_micros() as u64).saturating_sub(sent));
            }
        }
    }
    let _ = latencies.send(mine);
}
