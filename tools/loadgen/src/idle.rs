//! Idle capacity: thousands of clients join and stay silent. Measures the server's resident
//! memory per connected client, then checks that one broadcast reaches every one of them.
//!
//! Each join is broadcast to everyone already there, so 5,000 joins make about 12 million
//! `joined` frames. The clients must read them (or the server rightly evicts them as too
//! slow), but decrypting them all would make this test about the load generator: a few
//! draining threads read every socket without blocking and decrypt only frames short enough
//! to be a `ping`, which they answer. For the final broadcast they decrypt everything.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::LoadError;
use crate::client::{self, Incoming, Receiver, Sender};
use crate::probe::{Probe, Sample};
use fernchat::crypto::RoomKey;
use fernchat::protocol::{ClientEvent, ServerEvent};

/// Longest frame that may be a `ping` (`{"type":"ping","id":N}` makes a token of about 120
/// characters); longer frames are `joined` events and are not decrypted while joining.
const PING_SIZED: usize = 140;

/// How long the final broadcast may take to reach everyone.
const BROADCAST_BOUND: Duration = Duration::from_secs(30);

/// What to run.
#[derive(Debug, Clone)]
pub struct IdleConfig {
    /// The server.
    pub addr: SocketAddr,
    /// The class key.
    pub key: RoomKey,
    /// Clients to connect.
    pub clients: usize,
    /// Bound on each connect and join.
    pub connect_timeout: Duration,
    /// The room is settled after this long without a frame (other than pings) for anyone.
    pub settle: Duration,
    /// The time bound of the join and settle phases (the broadcast has 30 s more).
    pub time_bound: Duration,
    /// Threads reading the sockets.
    pub drainers: usize,
    /// The server process, for its memory.
    pub probe: Option<Probe>,
    /// Print progress to standard error.
    pub verbose: bool,
}

/// What it measured.
#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    /// Clients asked for.
    pub clients: usize,
    /// Clients that joined.
    pub joined: usize,
    /// Seconds all the joins took.
    pub join_secs: f64,
    /// The server before the first client.
    pub before: Option<Sample>,
    /// The server with every client connected and the room settled.
    pub after: Option<Sample>,
    /// `(after - before) / joined`, in KiB.
    pub rss_per_client_kib: Option<f64>,
    /// Clients the final broadcast reached.
    pub broadcast_reached: usize,
    /// Milliseconds until it had reached them all (or the bound).
    pub broadcast_ms: f64,
    /// Clients the server disconnected while they were idle.
    pub dropped: usize,
}

impl IdleReport {
    /// Whether every client joined, stayed and got the broadcast.
    pub fn failed(&self) -> bool {
        self.joined < self.clients || self.broadcast_reached < self.joined || self.dropped > 0
    }
}

struct Shared {
    stop: AtomicBool,
    /// Decrypt every frame and look for `probe_text`.
    probing: AtomicBool,
    probe_text: String,
    reached: AtomicUsize,
    dropped: AtomicUsize,
    /// Nanoseconds since `epoch` when a drainer last read a frame other than a ping.
    last_frame_ns: AtomicU64,
    epoch: Instant,
}

struct Drained {
    receiver: Receiver,
    found: bool,
    open: bool,
}

/// Connects, settles, measures, broadcasts.
pub fn run(config: &IdleConfig) -> Result<IdleReport, LoadError> {
    if config.clients == 0 || config.time_bound.is_zero() || config.drainers == 0 {
        return Err(LoadError::Config(
            "an idle run needs clients, drainers and a time bound".into(),
        ));
    }
    let deadline = Instant::now() + config.time_bound;
    let tag = format!("{:04x}", std::process::id() & 0xffff);
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        probing: AtomicBool::new(false),
        probe_text: format!("lgprobe {tag}"),
        reached: AtomicUsize::new(0),
        dropped: AtomicUsize::new(0),
        last_frame_ns: AtomicU64::new(0),
        epoch: Instant::now(),
    });
    let before = config.probe.as_ref().map(Probe::sample).transpose()?;

    let mut feeds = Vec::new();
    let mut drainers: Vec<JoinHandle<()>> = Vec::new();
    for d in 0..config.drainers {
        let (tx, rx) = crossbeam_channel::unbounded::<Receiver>();
        feeds.push(tx);
        let shared = Arc::clone(&shared);
        drainers.push(
            thread::Builder::new()
                .name(format!("lg-drain-{d}"))
                .spawn(move || drain_loop(&rx, &shared))?,
        );
    }
    let mut senders: Vec<Sender> = Vec::with_capacity(config.clients);
    let closer = Closer {
        shared: Arc::clone(&shared),
    };

    let started = Instant::now();
    for i in 0..config.clients {
        if Instant::now() > deadline {
            break;
        }
        let nick = format!("lg{tag}i{i}");
        let joined = client::join_with_buffer(
            config.addr,
            &config.key,
            &nick,
            config.connect_timeout,
            Duration::from_secs(1),
            4096,
        )?;
        joined.receiver.stream().set_nonblocking(true)?;
        senders.push(joined.sender);
        let _ = feeds[i % feeds.len()].send(joined.receiver);
        if config.verbose && (i + 1) % 500 == 0 {
            eprintln!("loadgen idle: {} clients joined", i + 1);
        }
    }
    let join_secs = started.elapsed().as_secs_f64();
    drop(feeds);

    // Settled: nobody has received a frame for `settle`.
    loop {
        let now = Instant::now();
        let last = shared.epoch + Duration::from_nanos(shared.last_frame_ns.load(Ordering::SeqCst));
        if now.saturating_duration_since(last) >= config.settle || now > deadline {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let after = config.probe.as_ref().map(Probe::sample).transpose()?;

    // One broadcast must reach everyone.
    shared.probing.store(true, Ordering::SeqCst);
    let broadcast_at = Instant::now();
    if let Some(first) = senders.first() {
        first.send(&ClientEvent::Say {
            room: None,
            text: shared.probe_text.clone(),
        })?;
    }
    // Its own bound, so that a slow join phase that used up the time bound still gets its
    // broadcast checked: the whole run takes at most the time bound plus this.
    let reach_by = Instant::now() + BROADCAST_BOUND;
    while shared.reached.load(Ordering::SeqCst) < senders.len() && Instant::now() < reach_by {
        thread::sleep(Duration::from_millis(1));
    }
    let broadcast_ms = broadcast_at.elapsed().as_secs_f64() * 1e3;
    let reached = shared.reached.load(Ordering::SeqCst);
    let dropped = shared.dropped.load(Ordering::SeqCst);

    drop(closer);
    for sender in &senders {
        sender.shutdown();
    }
    for drainer in drainers {
        let _ = drainer.join();
    }
    let joined = senders.len();
    let rss_per_client_kib = match (before, after) {
        (Some(b), Some(a)) if joined > 0 => {
            Some((a.rss_kib as f64 - b.rss_kib as f64) / joined as f64)
        }
        _ => None,
    };
    Ok(IdleReport {
        clients: config.clients,
        joined,
        join_secs,
        before,
        after,
        rss_per_client_kib,
        broadcast_reached: reached,
        broadcast_ms,
        dropped,
    })
}

/// Stops the drainers when dropped, also on an early error.
struct Closer {
    shared: Arc<Shared>,
}

impl Drop for Closer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

fn drain_loop(feed: &crossbeam_channel::Receiver<Receiver>, shared: &Shared) {
    let mut owned: Vec<Drained> = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        while let Ok(receiver) = feed.try_recv() {
            owned.push(Drained {
                receiver,
                found: false,
                open: true,
            });
        }
        let probing = shared.probing.load(Ordering::Relaxed);
        let mut frames = 0u64;
        for client in owned.iter_mut().filter(|c| c.open) {
            // Bounded per client and pass, so one busy socket cannot starve the others.
            for _ in 0..4096 {
                let wanted = |len: usize| probing || len <= PING_SIZED;
                match client.receiver.next_if(wanted) {
                    Incoming::Quiet => break,
                    Incoming::Closed | Incoming::Failed(_) => {
                        client.open = false;
                        shared.dropped.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                    Incoming::Event(ServerEvent::Ping { id }) => {
                        // Not counted: the server pings idle clients for as long as they
                        // stay, so pings never let the room look settled.
                        let _ = client.receiver.sender().send(&ClientEvent::Pong { id });
                    }
                    Incoming::Event(ServerEvent::Message { text, .. })
                        if !client.found && text == shared.probe_text =>
                    {
                        frames += 1;
                        client.found = true;
                        shared.reached.fetch_add(1, Ordering::SeqCst);
                    }
                    Incoming::Event(_) | Incoming::Skipped | Incoming::Undecryptable => {
                        frames += 1;
                    }
                }
            }
        }
        if frames > 0 {
            let now = u64::try_from(shared.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
            shared.last_frame_ns.fetch_max(now, Ordering::SeqCst);
        } else {
            // Nothing anywhere: an idle pass over thousands of sockets is not free.
            thread::sleep(Duration::from_millis(2));
        }
    }
}
