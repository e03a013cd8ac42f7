//! One load run: N measuring clients join, the first S of them send M messages each (as fast
//! as the server echoes them back, or at a paced rate), everyone counts what arrives.
//!
//! The order of a run, and why:
//!
//! 1. Every client joins, and starts its reading thread at once (joins are broadcast; a
//!    client that did not read could be evicted before the run starts).
//! 2. Client 0 says a synchronisation message; a client that has read it has also read every
//!    `joined` before it (the server keeps each client's order), so the room is quiet.
//! 3. The server's CPU time is read, the clock starts, *then* the senders are released:
//!    starting the clock after them would hide their first messages and inflate a short run.
//! 4. Senders stop after M messages or at the time bound; then the run waits (at most the drain
//!    time) until every client has every message, and reads the server's CPU time again.
//!
//! A message's text is `lg SENDER SEQ SENT_NANOS` and padding: the send time travels with it,
//! so latency is measured end to end on one clock (this process's). Sequence numbers show
//! loss, duplicates and reordering per sender.
//!
//! Senders are closed-loop: a sender may be at most `window` messages ahead of the slowest
//! client of the run. On a 2-core machine the load generator's own reading threads are the
//! slowest part, and a sender that only waited for its own echo would run ahead of the
//! others until the server rightly evicted them as too slow; this way every client's queue
//! stays far below the server's per-client budget, and a saturation run measures the server
//! rather than evicting the load generator.
//!
//! With a [`RoomLayout`] (the `rooms` scenario of issue 16) the clients are spread over rooms
//! of their own: each joins its room (the `join` event, answered with `entered`) before the
//! run, the senders say their messages in their room, and a message is expected by the
//! members of its room only. A probe message that reaches a client outside its room (or comes
//! marked with another room) is a *leak*: it is not counted as delivered, and it fails the run
//! like a lost one. Everyone is also in `#class` (the server puts them there at welcome), which
//! carries the synchronisation message of step 2.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::LoadError;
use crate::client::{self, Incoming, Receiver, Sender};
use crate::probe::{Probe, Sample};
use crate::stats::Latency;
use fernchat::crypto::RoomKey;
use fernchat::protocol::event::DEFAULT_ROOM;
use fernchat::protocol::{ClientEvent, ServerEvent};

/// How often reading threads wake up to check whether the run is over.
const READ_TICK: Duration = Duration::from_millis(100);

/// What to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The server.
    pub addr: std::net::SocketAddr,
    /// The class key.
    pub key: RoomKey,
    /// Clients connected (all of them receive).
    pub clients: usize,
    /// How many of them send.
    pub senders: usize,
    /// Messages per sender (the message bound).
    pub messages: u64,
    /// Messages per second per sender; `None` sends as fast as the window allows.
    pub rate: Option<f64>,
    /// The time bound of the sending phase.
    pub duration: Duration,
    /// How long to wait after sending for the last deliveries.
    pub drain: Duration,
    /// Characters of message text (at least what the header needs).
    pub size: usize,
    /// Messages a sender may be ahead of the slowest client of the run.
    pub window: u64,
    /// Bound on connecting and on each join.
    pub connect_timeout: Duration,
    /// Clients joining and leaving during the run (the soak test).
    pub churn: Option<Churn>,
    /// Read the server process every this often during the run (the soak test).
    pub sample_every: Option<Duration>,
    /// The server process, for its CPU time and memory.
    pub probe: Option<Probe>,
    /// Print progress to standard error.
    pub verbose: bool,
    /// Clients spread over rooms of their own (see [`RunConfig::in_rooms`]); `None`: everyone
    /// in `#class`, as before rooms.
    pub rooms: Option<RoomLayout>,
}

/// How the clients of a rooms run are spread: client `i` is a member of room `i / members`,
/// and the first `senders` members of each room talk in it. Sender `s` is member `s % senders`
/// of room `s / senders`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomLayout {
    /// Rooms (besides `#class`).
    pub rooms: usize,
    /// Members of each room.
    pub members: usize,
    /// Members of each room who send.
    pub senders: usize,
}

impl RoomLayout {
    /// The client that sender `s` is.
    fn client_of_sender(&self, s: usize) -> usize {
        (s / self.senders) * self.members + s % self.senders
    }

    /// The room of client `i`.
    fn room_of_client(&self, i: usize) -> usize {
        i / self.members
    }

    /// The room sender `s` talks in.
    fn room_of_sender(&self, s: usize) -> usize {
        s / self.senders
    }
}

/// The name of room `k` of the run tagged `tag`: `#lg` + tag + `r` + k, lower case and
/// well inside the rules of room names (`#` plus 2 to 24 of `a-z 0-9 _ -`), and new for
/// every run, so a room left over from an earlier run (or its history) cannot mix in.
fn room_name(tag: &str, k: usize) -> String {
    format!("#lg{tag}r{k}")
}

impl RunConfig {
    /// A run with the usual settings for the rest.
    pub fn new(
        addr: std::net::SocketAddr,
        key: RoomKey,
        clients: usize,
        senders: usize,
        messages: u64,
        duration: Duration,
    ) -> RunConfig {
        RunConfig {
            addr,
            key,
            clients,
            senders,
            messages,
            rate: None,
            duration,
            drain: Duration::from_secs(5),
            size: 40,
            window: 32,
            connect_timeout: Duration::from_secs(10),
            churn: None,
            sample_every: None,
            probe: None,
            verbose: false,
            rooms: None,
        }
    }

    /// A rooms run: `layout.rooms` rooms of `layout.members` clients each, of whom
    /// `layout.senders` per room send `messages` messages each in their room.
    pub fn in_rooms(
        addr: std::net::SocketAddr,
        key: RoomKey,
        layout: RoomLayout,
        messages: u64,
        duration: Duration,
    ) -> RunConfig {
        let mut config = RunConfig::new(
            addr,
            key,
            layout.rooms.saturating_mul(layout.members),
            layout.rooms.saturating_mul(layout.senders),
            messages,
            duration,
        );
        config.rooms = Some(layout);
        config
    }

    /// The client that sender `s` is.
    fn client_of_sender(&self, s: usize) -> usize {
        self.rooms.map_or(s, |l| l.client_of_sender(s))
    }

    /// How many clients receive each message.
    fn recipients(&self) -> u64 {
        self.rooms.map_or(self.clients, |l| l.members) as u64
    }
}

/// Clients that join, stay a moment and leave, over and over, alongside the run.
#[derive(Debug, Clone, Copy)]
pub struct Churn {
    /// Threads, each with at most one such client at a time.
    pub threads: usize,
    /// Longest stay, and longest pause between stays (each drawn at random up to this).
    pub pause: Duration,
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Clients connected.
    pub clients: usize,
    /// Of which sending.
    pub senders: usize,
    /// Messages sent.
    pub sent: u64,
    /// Deliveries expected: every message to every client.
    pub expected: u64,
    /// Deliveries that arrived (counted once per client and message).
    pub delivered: u64,
    /// Expected deliveries that never arrived.
    pub lost: u64,
    /// Frames that were not tokens made with the key, or not events.
    pub undecryptable: u64,
    /// Messages that arrived twice or out of order at one client.
    pub out_of_order: u64,
    /// Rooms runs: messages that reached a client outside the room they were said in (or
    /// came marked with another room). Always 0 without rooms.
    pub leaks: u64,
    /// Rooms runs: rooms x members x senders per room.
    pub rooms: Option<(usize, usize, usize)>,
    /// Error events by code (e.g. `RateLimited`).
    pub errors: BTreeMap<String, u64>,
    /// Clients the server said bye to (e.g. `TooSlow`), by code.
    pub evicted: BTreeMap<String, u64>,
    /// Seconds from the senders' release to the last delivery.
    pub elapsed_secs: f64,
    /// Deliveries per second over that time.
    pub deliveries_per_sec: f64,
    /// End-to-end latency of every delivery.
    pub latency: Latency,
    /// The server process, if probed.
    pub server: Option<ServerFigures>,
    /// Periodic samples of the server process: seconds since release, figures.
    pub samples: Vec<(f64, Sample)>,
    /// What the churning clients did.
    pub churn: Option<ChurnReport>,
}

impl Report {
    /// Whether anything was lost or garbled: the load generator then exits non-zero.
    pub fn failed(&self) -> bool {
        self.lost > 0 || self.undecryptable > 0 || self.out_of_order > 0 || self.leaks > 0
    }
}

/// The server's side of a run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ServerFigures {
    /// CPU seconds the server spent from release to the last delivery.
    pub cpu_secs: f64,
    /// The main figure: server CPU time per delivery, in microseconds.
    pub cpu_us_per_delivery: f64,
    /// The server when the senders were released.
    pub start: Sample,
    /// The server at the end.
    pub end: Sample,
}

/// Counts of the churning clients.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ChurnReport {
    /// Joins that were welcomed.
    pub joins: u64,
    /// Joins that failed (refused, timed out).
    pub failures: u64,
}

/// State the threads of a run share.
struct Shared {
    epoch: Instant,
    stop: AtomicBool,
    ready: AtomicUsize,
    sent: AtomicU64,
    delivered: AtomicU64,
    last_delivery_ns: AtomicU64,
    sync_text: String,
    /// `progress[r * senders + s]`: the last sequence number of sender `s` that client `r`
    /// has read (`u64::MAX` once `r` is gone, so that it holds nobody back).
    progress: Vec<AtomicU64>,
    senders: usize,
    /// Rooms runs: the layout and the rooms' names (index `k` is room `k`).
    rooms: Option<(RoomLayout, Vec<String>)>,
}

impl Shared {
    /// The last message of sender `s` that every client has read.
    fn slowest(&self, s: usize) -> u64 {
        self.progress
            .iter()
            .skip(s)
            .step_by(self.senders)
            .map(|p| p.load(Ordering::Acquire))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Whether a probe message from sender `s`, marked with `room`, belongs at client `r`: in
    /// a rooms run, `s` talks in `r`'s room and the server says so; otherwise the message is
    /// in `#class` (which is also what an unmarked message from a server before rooms reads
    /// as).
    fn belongs(&self, r: usize, s: usize, room: &str) -> bool {
        match &self.rooms {
            Some((layout, names)) => {
                let k = layout.room_of_client(r);
                layout.room_of_sender(s) == k && names.get(k).is_some_and(|name| name == room)
            }
            None => room == DEFAULT_ROOM,
        }
    }
}

/// What one reading thread counted.
#[derive(Debug, Default)]
struct Counts {
    delivered: u64,
    latencies: Vec<u64>,
    undecryptable: u64,
    out_of_order: u64,
    leaks: u64,
    errors: BTreeMap<String, u64>,
    evicted: Option<String>,
}

/// Closes every connection of a run when dropped, so an early error also ends its threads.
struct Connections {
    senders: Vec<Sender>,
    shared: Arc<Shared>,
}

impl Drop for Connections {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for sender in &self.senders {
            sender.shutdown();
        }
    }
}

/// Runs the load and reports; an `Err` means the run could not be carried out at all.
pub fn run(config: &RunConfig) -> Result<Report, LoadError> {
    validate(config)?;
    let tag = run_tag();
    let shared = Arc::new(Shared {
        epoch: Instant::now(),
        stop: AtomicBool::new(false),
        ready: AtomicUsize::new(0),
        sent: AtomicU64::new(0),
        delivered: AtomicU64::new(0),
        last_delivery_ns: AtomicU64::new(0),
        sync_text: format!("lgsync {tag}"),
        // A client outside a sender's room never reads its messages: it holds it back no
        // more than a client that is gone.
        progress: (0..config.clients * config.senders)
            .map(|i| {
                let (r, s) = (i / config.senders, i % config.senders);
                match config.rooms {
                    Some(l) if l.room_of_client(r) != l.room_of_sender(s) => u64::MAX,
                    _ => 0,
                }
            })
            .map(AtomicU64::new)
            .collect(),
        senders: config.senders,
        rooms: config
            .rooms
            .map(|l| (l, (0..l.rooms).map(|k| room_name(&tag, k)).collect())),
    });
    let mut connections = Connections {
        senders: Vec::with_capacity(config.clients),
        shared: Arc::clone(&shared),
    };
    let mut readers: Vec<JoinHandle<Counts>> = Vec::with_capacity(config.clients);

    // 1. Join everyone, each with its reading thread.
    for i in 0..config.clients {
        let nick = format!("lg{tag}n{i}");
        let mut joined = client::join(
            config.addr,
            &config.key,
            &nick,
            config.connect_timeout,
            READ_TICK,
        )?;
        if let Some((layout, names)) = &shared.rooms {
            let room = &names[layout.room_of_client(i)];
            client::enter_room(&mut joined, room, config.connect_timeout)?;
        }
        connections.senders.push(joined.sender.clone());
        let shared = Arc::clone(&shared);
        let senders = config.senders;
        let receiver = joined.receiver;
        readers.push(
            thread::Builder::new()
                .name(format!("lg-read-{i}"))
                .spawn(move || read_loop(i, senders, receiver, &shared))?,
        );
        if config.verbose && (i + 1) % 1000 == 0 {
            eprintln!("loadgen: {} clients joined", i + 1);
        }
    }

    // 2. Wait until every client has read everything up to a marker.
    connections.senders[0]
        .send(&ClientEvent::Say {
            text: shared.sync_text.clone(),
            room: None,
        })
        .map_err(LoadError::Io)?;
    let ready_by = Instant::now() + config.connect_timeout.max(Duration::from_secs(10));
    while shared.ready.load(Ordering::SeqCst) < config.clients {
        if Instant::now() > ready_by {
            return Err(LoadError::NotReady {
                secs: config
                    .connect_timeout
                    .max(Duration::from_secs(10))
                    .as_secs(),
                ready: shared.ready.load(Ordering::SeqCst),
                clients: config.clients,
            });
        }
        thread::sleep(Duration::from_millis(2));
    }

    // The senders wait on this gate; dropping its sending side releases them all at once.
    let (gate_tx, gate_rx) = crossbeam_channel::bounded::<()>(0);
    let mut senders = Vec::with_capacity(config.senders);
    for s in 0..config.senders {
        let sender = connections.senders[config.client_of_sender(s)].clone();
        let gate = gate_rx.clone();
        let plan = SendPlan::of(config, s, &shared);
        let shared = Arc::clone(&shared);
        senders.push(
            thread::Builder::new()
                .name(format!("lg-send-{s}"))
                .spawn(move || send_loop(s, &plan, &sender, &gate, &shared))?,
        );
    }
    drop(gate_rx);

    // 3. Read the server, start the clock, release the senders (in that order).
    let start_sample = config.probe.as_ref().map(Probe::sample).transpose()?;
    let released = Instant::now();
    let released_ns = nanos_since(shared.epoch, released);
    drop(gate_tx);
    let send_deadline = released + config.duration;

    let churners: Vec<JoinHandle<ChurnReport>> = match config.churn {
        Some(churn) => (0..churn.threads)
            .map(|t| {
                let config = config.clone();
                let shared = Arc::clone(&shared);
                let tag = tag.clone();
                thread::Builder::new()
                    .name(format!("lg-churn-{t}"))
                    .spawn(move || churn_loop(t, &tag, &config, churn, send_deadline, &shared))
            })
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };

    // 4. Wait for the senders (sampling the server meanwhile), then for the deliveries.
    let mut samples = Vec::new();
    let mut next_sample = released;
    let mut sample_now = |samples: &mut Vec<(f64, Sample)>| -> Result<(), LoadError> {
        if let (Some(every), Some(probe)) = (config.sample_every, &config.probe)
            && Instant::now() >= next_sample
        {
            let sample = probe.sample()?;
            let at = released.elapsed().as_secs_f64();
            if config.verbose {
                eprintln!(
                    "loadgen: {at:6.0} s  rss {} KiB  threads {}  fds {}  sent {}",
                    sample.rss_kib,
                    sample.threads,
                    sample.fds,
                    shared.sent.load(Ordering::Relaxed)
                );
            }
            samples.push((at, sample));
            next_sample += every;
        }
        Ok(())
    };
    while senders.iter().any(|s| !s.is_finished()) || churners.iter().any(|c| !c.is_finished()) {
        sample_now(&mut samples)?;
        thread::sleep(Duration::from_millis(5));
    }
    let sent = shared.sent.load(Ordering::SeqCst);
    let expected = sent * config.recipients();
    let drain_deadline = Instant::now() + config.drain;
    while shared.delivered.load(Ordering::SeqCst) < expected && Instant::now() < drain_deadline {
        thread::sleep(Duration::from_millis(1));
    }
    let end_sample = config.probe.as_ref().map(Probe::sample).transpose()?;
    if config.sample_every.is_some()
        && let Some(end) = end_sample
    {
        samples.push((released.elapsed().as_secs_f64(), end));
    }

    // Stop reading and collect.
    drop(connections);
    for sender in senders {
        let _ = sender.join();
    }
    let mut churn = ChurnReport::default();
    for churner in churners {
        if let Ok(report) = churner.join() {
            churn.joins += report.joins;
            churn.failures += report.failures;
        }
    }
    let mut total = Counts::default();
    let mut evicted: BTreeMap<String, u64> = BTreeMap::new();
    for reader in readers {
        let Ok(counts) = reader.join() else { continue };
        total.delivered += counts.delivered;
        total.undecryptable += counts.undecryptable;
        total.out_of_order += counts.out_of_order;
        total.leaks += counts.leaks;
        total.latencies.extend_from_slice(&counts.latencies);
        for (code, n) in counts.errors {
            *total.errors.entry(code).or_default() += n;
        }
        if let Some(code) = counts.evicted {
            *evicted.entry(code).or_default() += 1;
        }
    }
    let last = shared.last_delivery_ns.load(Ordering::SeqCst);
    let elapsed_secs = last.saturating_sub(released_ns) as f64 / 1e9;
    let server = match (start_sample, end_sample) {
        (Some(start), Some(end)) => {
            let cpu_secs = end.cpu_secs - start.cpu_secs;
            Some(ServerFigures {
                cpu_secs,
                cpu_us_per_delivery: if total.delivered > 0 {
                    cpu_secs * 1e6 / total.delivered as f64
                } else {
                    f64::NAN
                },
                start,
                end,
            })
        }
        _ => None,
    };
    Ok(Report {
        clients: config.clients,
        senders: config.senders,
        sent,
        expected,
        delivered: total.delivered,
        lost: expected.saturating_sub(total.delivered),
        undecryptable: total.undecryptable,
        out_of_order: total.out_of_order,
        leaks: total.leaks,
        rooms: config.rooms.map(|l| (l.rooms, l.members, l.senders)),
        errors: std::mem::take(&mut total.errors),
        evicted,
        elapsed_secs,
        deliveries_per_sec: if elapsed_secs > 0.0 {
            total.delivered as f64 / elapsed_secs
        } else {
            0.0
        },
        latency: Latency::from_nanos(&mut total.latencies),
        server,
        samples,
        churn: config.churn.map(|_| churn),
    })
}

fn validate(config: &RunConfig) -> Result<(), LoadError> {
    let fail = |why: &str| Err(LoadError::Config(why.to_owned()));
    if config.clients == 0 {
        return fail("at least one client is needed");
    }
    if config.senders == 0 || config.senders > config.clients {
        return fail("senders must be between 1 and the number of clients");
    }
    if config.messages == 0 {
        return fail("a message bound (messages per sender, at least 1) is required");
    }
    if config.duration.is_zero() {
        return fail("a time bound (a duration above zero) is required");
    }
    if config.window == 0 {
        return fail("the window must be at least 1");
    }
    if let Some(rate) = config.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        return fail("the rate must be a positive number of messages per second");
    }
    if let Some(l) = config.rooms {
        if l.rooms == 0 || l.members == 0 {
            return fail("a rooms run needs at least one room of at least one member");
        }
        if l.senders == 0 || l.senders > l.members {
            return fail("senders per room must be between 1 and the members of a room");
        }
        if config.clients != l.rooms * l.members || config.senders != l.rooms * l.senders {
            return fail(
                "a rooms run's clients and senders come from its layout (RunConfig::in_rooms)",
            );
        }
        if l.rooms > 1000 {
            return fail("at most 1000 rooms (room names have room for the index)");
        }
    }
    if config.size > 2000 {
        return fail("the message size must be at most 2000 characters (the server's default)");
    }
    Ok(())
}

/// A few hex digits that differ between runs, so nicks of a run that is still being cleaned
/// up on the server do not collide with the next run's.
fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(0);
    format!("{:04x}", (nanos ^ std::process::id()) & 0xffff)
}

fn nanos_since(epoch: Instant, at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(epoch).as_nanos()).unwrap_or(u64::MAX)
}

/// Parses `lg SENDER SEQ SENT_NANOS ...`.
fn parse_probe(text: &str) -> Option<(usize, u64, u64)> {
    let mut parts = text.split(' ');
    if parts.next()? != "lg" {
        return None;
    }
    let sender = parts.next()?.parse().ok()?;
    let seq = parts.next()?.parse().ok()?;
    let sent = parts.next()?.parse().ok()?;
    Some((sender, seq, sent))
}

fn read_loop(index: usize, senders: usize, mut receiver: Receiver, shared: &Shared) -> Counts {
    let mut counts = Counts::default();
    // Per sender, the last sequence number seen (they start at 1).
    let mut last_seq = vec![0u64; senders];
    let mut synced = false;
    while !shared.stop.load(Ordering::Relaxed) {
        match receiver.receive() {
            Incoming::Event(ServerEvent::Message { text, room, .. }) => {
                if let Some((sender, seq, sent_ns)) = parse_probe(&text) {
                    if sender < senders && !shared.belongs(index, sender, &room) {
                        counts.leaks += 1;
                        continue;
                    }
                    let now = nanos_since(shared.epoch, Instant::now());
                    counts.latencies.push(now.saturating_sub(sent_ns));
                    if sender < senders {
                        if seq <= last_seq[sender] {
                            counts.out_of_order += 1;
                        } else {
                            counts.delivered += 1;
                            shared.delivered.fetch_add(1, Ordering::Relaxed);
                        }
                        last_seq[sender] = last_seq[sender].max(seq);
                        shared.progress[index * senders + sender]
                            .store(last_seq[sender], Ordering::Release);
                    }
                    shared.last_delivery_ns.fetch_max(now, Ordering::Relaxed);
                } else if !synced && text == shared.sync_text {
                    synced = true;
                    shared.ready.fetch_add(1, Ordering::SeqCst);
                }
            }
            Incoming::Event(ServerEvent::Ping { id }) => {
                let _ = receiver.sender().send(&ClientEvent::Pong { id });
            }
            Incoming::Event(ServerEvent::Error { code, .. }) => {
                *counts.errors.entry(format!("{code:?}")).or_default() += 1;
            }
            Incoming::Event(ServerEvent::Bye { code, .. }) => {
                counts.evicted = Some(format!("{code:?}"));
            }
            Incoming::Event(_) | Incoming::Quiet | Incoming::Skipped => {}
            Incoming::Undecryptable => counts.undecryptable += 1,
            Incoming::Closed | Incoming::Failed(_) => break,
        }
    }
    // Gone: hold no sender back any more.
    for s in 0..senders {
        shared.progress[index * senders + s].store(u64::MAX, Ordering::Release);
    }
    counts
}

/// When one sender sends.
struct SendPlan {
    messages: u64,
    window: u64,
    duration: Duration,
    /// `None`: as fast as the window allows.
    interval: Option<Duration>,
    /// Senders at a paced rate start spread over one interval, not all at once.
    offset: Duration,
    size: usize,
    /// The room it talks in (`None`: `#class`, unmarked, as before rooms).
    room: Option<String>,
}

impl SendPlan {
    fn of(config: &RunConfig, s: usize, shared: &Shared) -> SendPlan {
        let interval = config.rate.map(|r| Duration::from_secs_f64(1.0 / r));
        SendPlan {
            messages: config.messages,
            window: config.window,
            duration: config.duration,
            interval,
            offset: interval
                .map(|i| i.mul_f64(s as f64 / config.senders as f64))
                .unwrap_or_default(),
            size: config.size,
            room: shared
                .rooms
                .as_ref()
                .and_then(|(layout, names)| names.get(layout.room_of_sender(s)).cloned()),
        }
    }
}

fn send_loop(
    s: usize,
    plan: &SendPlan,
    sender: &Sender,
    gate: &crossbeam_channel::Receiver<()>,
    shared: &Shared,
) {
    // Returns when the gate's sending side is dropped: the release.
    let _ = gate.recv();
    let start = Instant::now();
    let deadline = start + plan.duration;
    // What every client has read of ours, as last seen; re-read only when it holds us back.
    let mut slowest = 0u64;
    for seq in 1..=plan.messages {
        if let Some(interval) = plan.interval {
            // Due times are absolute, so a late message does not delay the ones after it.
            let due = start + plan.offset + interval.mul_f64((seq - 1) as f64);
            let now = Instant::now();
            if due > now {
                thread::sleep(due.min(deadline) - now);
            }
        }
        while seq > slowest.saturating_add(plan.window) {
            slowest = shared.slowest(s);
            if seq <= slowest.saturating_add(plan.window) || Instant::now() >= deadline {
                break;
            }
            // Short naps: the clients read thousands of messages a second.
            thread::sleep(Duration::from_micros(50));
        }
        if Instant::now() >= deadline || shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let sent_ns = nanos_since(shared.epoch, Instant::now());
        let mut text = format!("lg {s} {seq} {sent_ns} ");
        while text.len() < plan.size {
            text.push('x');
        }
        let room = plan.room.clone();
        if sender.send(&ClientEvent::Say { text, room }).is_err() {
            break;
        }
        shared.sent.fetch_add(1, Ordering::SeqCst);
    }
}

/// A small deterministic generator for churn timings (no dependency needed for this).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn up_to(&mut self, max: Duration) -> Duration {
        let millis = u64::try_from(max.as_millis()).unwrap_or(u64::MAX).max(1);
        Duration::from_millis(self.next() % millis)
    }
}

/// Joins, reads (and sometimes talks) for a moment, leaves politely or abruptly, pauses;
/// until `deadline`.
fn churn_loop(
    t: usize,
    tag: &str,
    config: &RunConfig,
    churn: Churn,
    deadline: Instant,
    shared: &Shared,
) -> ChurnReport {
    let mut report = ChurnReport::default();
    let mut rng = SplitMix(0x5EED ^ t as u64);
    let mut k = 0u64;
    while Instant::now() < deadline && !shared.stop.load(Ordering::Relaxed) {
        k += 1;
        let nick = format!("lg{tag}c{t}x{}", k % 100_000);
        let mut joined = match client::join(
            config.addr,
            &config.key,
            &nick,
            config.connect_timeout,
            READ_TICK,
        ) {
            Ok(joined) => joined,
            Err(_) => {
                report.failures += 1;
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        report.joins += 1;
        let stay_until = (Instant::now() + rng.up_to(churn.pause)).min(deadline);
        if rng.next().is_multiple_of(2) {
            let _ = joined.sender.send(&ClientEvent::Say {
                text: "churn says hi".into(),
                room: None,
            });
        }
        // Read (without decrypting) so this client never falls behind while it is here.
        while Instant::now() < stay_until {
            match joined.receiver.next_if(|_| false) {
                Incoming::Closed | Incoming::Failed(_) => break,
                _ => {}
            }
        }
        if rng.next().is_multiple_of(2) {
            let _ = joined.sender.send(&ClientEvent::Bye {
                reason: Some("churn".into()),
            });
        }
        joined.sender.shutdown();
        let pause = rng.up_to(churn.pause);
        let now = Instant::now();
        if now < deadline {
            thread::sleep(pause.min(deadline - now));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_text_parses_and_other_text_does_not() {
        assert_eq!(parse_probe("lg 3 17 123456 xxxx"), Some((3, 17, 123_456)));
        assert_eq!(parse_probe("lg 3 17 123456"), Some((3, 17, 123_456)));
        assert_eq!(parse_probe("lgsync abcd"), None);
        assert_eq!(parse_probe("hello lg 1 2 3"), None);
        assert_eq!(parse_probe("lg x 1 2"), None);
    }

    #[test]
    fn a_room_layout_puts_senders_and_members_in_their_rooms() {
        let layout = RoomLayout {
            rooms: 3,
            members: 4,
            senders: 2,
        };
        // Senders 0, 1 are members 0, 1 of room 0; senders 2, 3 members 0, 1 of room 1 ...
        let clients: Vec<usize> = (0..6).map(|s| layout.client_of_sender(s)).collect();
        assert_eq!(clients, [0, 1, 4, 5, 8, 9]);
        let rooms: Vec<usize> = (0..6).map(|s| layout.room_of_sender(s)).collect();
        assert_eq!(rooms, [0, 0, 1, 1, 2, 2]);
        for s in 0..6 {
            assert_eq!(
                layout.room_of_client(layout.client_of_sender(s)),
                layout.room_of_sender(s)
            );
        }
        assert_eq!(room_name("0a1f", 9), "#lg0a1fr9");
    }

    /// What a rooms run of 2 rooms of 2 members, one sender each, run tag `beef`, shares:
    /// clients 0, 1 are in room 0 (`#lgbeefr0`) with sender 0; clients 2, 3 in room 1 with
    /// sender 1.
    fn two_rooms_of_two() -> Shared {
        let layout = RoomLayout {
            rooms: 2,
            members: 2,
            senders: 1,
        };
        Shared {
            epoch: Instant::now(),
            stop: AtomicBool::new(false),
            ready: AtomicUsize::new(0),
            sent: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            last_delivery_ns: AtomicU64::new(0),
            sync_text: "lgsync beef".into(),
            progress: (0..4 * 2).map(|_| AtomicU64::new(0)).collect(),
            senders: 2,
            rooms: Some((layout, vec![room_name("beef", 0), room_name("beef", 1)])),
        }
    }

    /// The isolation check as a run's reader applies it: frames as a server would send them,
    /// over a real socket, to client 0 of room 0. A message of the other room's sender, and
    /// one marked with the other room, are leaks and not deliveries.
    #[test]
    fn a_reader_counts_messages_from_outside_its_room_as_leaks() {
        use fernchat::protocol::seal;
        use std::io::Write;
        use std::net::{TcpListener, TcpStream};

        let key = RoomKey::generate();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let ours = TcpStream::connect(listener.local_addr().expect("an address")).expect("connect");
        let (mut server, _) = listener.accept().expect("accept");
        // Bounded: the reader ends when the socket closes, or at worst after this.
        ours.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("a read timeout");
        let receiver = Receiver::from_stream(ours, &key, 4096).expect("a receiver");
        let message = |room: &str, text: &str| ServerEvent::Message {
            room: room.into(),
            id: 1,
            from: "lgbeefn0".into(),
            text: text.into(),
            time: 0,
        };
        for event in [
            message("#lgbeefr0", "lg 0 1 0 in its room"),
            message("#lgbeefr1", "lg 1 1 0 from sender 1, of room 1"),
            message("#lgbeefr1", "lg 0 2 0 marked with room 1"),
            message("#class", "lg 0 3 0 marked with #class"),
            message("#lgbeefr0", "lg 0 4 0 in its room again"),
        ] {
            server
                .write_all(&seal(&key, &event))
                .expect("write a frame");
        }
        drop(server);
        let shared = two_rooms_of_two();
        let counts = read_loop(0, 2, receiver, &shared);
        assert_eq!(counts.delivered, 2, "{counts:?}");
        assert_eq!(counts.leaks, 3, "{counts:?}");
        assert_eq!(counts.out_of_order, 0, "{counts:?}");
        assert_eq!(counts.undecryptable, 0, "{counts:?}");
    }

    /// The isolation check: a message reaches a client outside the sender's room, or comes
    /// marked with another room, and the run must count it as a leak.
    #[test]
    fn a_message_outside_its_room_does_not_belong() {
        let shared = two_rooms_of_two();
        // Clients 0, 1 are in room 0 with sender 0; clients 2, 3 in room 1 with sender 1.
        assert!(shared.belongs(1, 0, "#lgbeefr0"));
        assert!(shared.belongs(2, 1, "#lgbeefr1"));
        assert!(
            !shared.belongs(2, 0, "#lgbeefr0"),
            "sender 0 is not in room 1"
        );
        assert!(
            !shared.belongs(0, 0, "#lgbeefr1"),
            "marked with another room"
        );
        assert!(
            !shared.belongs(0, 0, DEFAULT_ROOM),
            "said in a room, arrived in #class"
        );
        let class = Shared {
            rooms: None,
            ..shared
        };
        assert!(class.belongs(3, 1, DEFAULT_ROOM));
        assert!(!class.belongs(3, 1, "#lgbeefr1"));
    }

    #[test]
    fn runs_without_bounds_are_refused() {
        let key = RoomKey::generate();
        let addr = "127.0.0.1:9".parse().unwrap();
        let mut config = RunConfig::new(addr, key, 2, 1, 10, Duration::from_secs(1));
        config.messages = 0;
        assert!(matches!(run(&config), Err(LoadError::Config(_))));
        config.messages = 10;
        config.duration = Duration::ZERO;
        assert!(matches!(run(&config), Err(LoadError::Config(_))));
        config.duration = Duration::from_secs(1);
        config.senders = 3;
        assert!(matches!(run(&config), Err(LoadError::Config(_))));
        let layout = RoomLayout {
            rooms: 2,
            members: 3,
            senders: 4,
        };
        let key = RoomKey::generate();
        let rooms = RunConfig::in_rooms(addr, key, layout, 10, Duration::from_secs(1));
        assert!(matches!(run(&rooms), Err(LoadError::Config(_))), "4 of 3");
    }
}
