//! The chat server, built from std threads that pass messages through `crossbeam-channel`:
//!
//! ```text
//!                      ┌──────────────┐  HubEvent   ┌─────────┐  frames  ┌──────────────┐
//!  socket ──bytes──▶   │ reader (1/c) │ ──────────▶ │   hub   │ ───────▶ │ writer (1/c) │ ──▶ socket
//!                      └──────────────┘             └─────────┘          └──────────────┘
//!  acceptor ─ spawns a reader and a writer per connection, tells the hub ─┘
//! ```
//!
//! - [`connection`]: the reader (decrypts, validates, rate-limits, in parallel across clients)
//!   and the writer thread of each client.
//! - [`outbound`]: a client's outgoing path: the hub sends directly while the socket takes
//!   it without blocking, and hands off to the writer (which drains a per-client queue to the
//!   socket) only when it would block.
//! - [`hub`]: the one thread that owns the room: who is connected under which nick. It encrypts
//!   each broadcast once and hands the same bytes to every writer; it never blocks on a client.
//! - [`flood`]: per-client rate limits (and per-address ones before the hello).
//! - `admission`: which connections the acceptor takes: users' seats apart from connections
//!   waiting for their hello, limits per source address, the hello timeout under pressure.
//! - `log`: the log, and the tally that keeps what strangers cause to a few lines.
//! - [`policy`]: who may moderate whom; [`moderation`]: mutes, bans, kicks, quiet and slow mode,
//!   the topic, kept by the hub; [`moderation_state`]: their file, so they survive a restart.
//! - [`rotation`]: old keys of the ring, their deadline, and what the server says about them.
//! - [`rooms`]: which rooms exist, who is in which, who may create or join one, each room's
//!   history (issue 16); the hub owns them.
//!
//! [`run`] takes an already-bound listener, so tests bind port 0 and the binary binds
//! `--bind`/`--port`. This module must not read keyfiles or parse arguments: `src/bin/server.rs`
//! does that and hands over a [`ServerConfig`].

mod admission;
pub mod connection;
pub mod flood;
pub mod history;
pub mod hub;
mod log;
pub mod moderation;
pub mod moderation_state;
pub mod outbound;
pub mod policy;
pub mod rooms;
pub mod rotation;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use crate::crypto::{RoomKey, TimePolicy};
use crate::identity::ServerIdentity;
use crate::protocol::{self, ErrorCode};
use crate::role::Role;
use admission::Admission;

pub use flood::{AddressLimits, FloodLimits};
pub use history::{History, HistoryConfig};
pub use log::{Log, LogMemory, Tally};
pub use rotation::Clock;

/// Everything the server needs to run. [`ServerConfig::new`] gives the documented defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The room key ring: the first key encrypts, all decrypt (rotation).
    pub key: RoomKey,
    /// Until when (Unix milliseconds) the old keys of the ring (all but the first) are
    /// accepted; from then on their hellos are refused (`key_retired`) and connections still
    /// open under one are closed. `None`: accepted as long as they are in the ring.
    pub old_keys_until: Option<u64>,
    /// The wall clock that `old_keys_until` is judged by (the system's; tests set their own).
    pub clock: Clock,
    /// Longest line accepted, in bytes; longer lines are refused while being read.
    pub max_line: usize,
    /// Longest message text, in characters.
    pub max_text: usize,
    /// Users that may be registered at once; the next hello gets `server_full`.
    pub max_clients: usize,
    /// Connections that may wait for their hello at once, on top of `max_clients` (counted
    /// apart, so they never take a user's seat): bounds the threads a crowd of silent
    /// connections can cost. When all are taken, a newcomer still gets in and the oldest
    /// pending connection of the busiest address is closed (see `admission`).
    pub max_pending: usize,
    /// Connections from one source address that may wait for their hello at once; more are
    /// refused with `server_full`.
    pub max_pending_per_address: usize,
    /// Connections from one source address at once, users and pending together; more are
    /// refused with `server_full`. Raise it for a class behind one address (a school NAT).
    pub max_per_address: usize,
    /// Tokens the connections of one source address may send together before their hello is
    /// registered.
    pub address_limits: AddressLimits,
    /// How old a token may be, and how far the clock rules reach (see [`TimePolicy`]).
    pub time_policy: TimePolicy,
    /// The most token ids one connection's replay memory may hold. Each connection has its
    /// own (protocol version 2: nothing is remembered across connections), sized by the rate
    /// limit times the time window, and never more than this.
    pub replay_capacity: usize,
    /// How long a new connection has to say hello.
    pub hello_timeout: Duration,
    /// The hello timeout when every pending place is taken; between half full and full it
    /// shrinks from `hello_timeout` to this.
    pub hello_timeout_min: Duration,
    /// Silence after which the server pings a client.
    pub ping_interval: Duration,
    /// Silence after which a client is removed as dead.
    pub idle_timeout: Duration,
    /// Per-client rate limits.
    pub flood: FloodLimits,
    /// Bytes that may wait in one client's outgoing queue; a client that falls further behind
    /// is disconnected as too slow, so it cannot stall anyone or grow our memory.
    pub outbound_budget: usize,
    /// How long one socket write may block before the client is given up on.
    pub write_timeout: Duration,
    /// Rounds of the hub of at most this many events are sent by the hub itself, larger ones
    /// by the writer threads (see [`hub::DIRECT_ROUND`], the default, and `outbound`).
    pub direct_round: usize,
    /// Where log lines go.
    pub log: Log,
    /// The room history file; `None` keeps no history (the library's default; the `server`
    /// binary keeps one unless told `--no-history`).
    pub history: Option<HistoryConfig>,
    /// The key exchanges (`kex` in the hello) this server accepts; others are refused with
    /// `kex_unsupported`. All of them by default: the client chooses, `psk` unless told.
    /// An instructor who wants every session authenticated keeps only `x25519-psk-signed`.
    pub kex: Vec<&'static str>,
    /// The server's identity key, which signs `x25519-psk-signed` handshakes; without one that
    /// exchange is refused with `kex_unsupported`.
    pub identity: Option<ServerIdentity>,
    /// Staff keys (`--staff-key`): a hello opened by one of these gives its session the
    /// instructor role. Tried after the class keys; never used to seal anything for students.
    pub staff_keys: Vec<RoomKey>,
    /// Where mutes, bans, modes and the topic are saved (`None`: in memory only).
    pub moderation_state: Option<PathBuf>,
    /// How long a kicked user is refused, in seconds (`--kick-wait`; the `bye`'s
    /// `retry_after`, after which their client rejoins by itself).
    pub kick_secs: u64,
    /// Roster mode (`--roster`): hellos are opened by the students' own keys, each nick is
    /// bound to its student, and `key` is the server's own key (it seals the history) plus
    /// nothing a client holds. See [`crate::roster`].
    pub roster: Option<crate::roster::reload::RosterMode>,
    /// Who may create rooms, how many, and whether users may leave `#class` (issue 16).
    pub rooms: rooms::RoomLimits,
}

impl ServerConfig {
    /// The documented defaults, with `key`.
    pub fn new(key: RoomKey) -> ServerConfig {
        ServerConfig {
            key,
            old_keys_until: None,
            clock: Clock::system(),
            max_line: protocol::DEFAULT_MAX_LINE,
            max_text: protocol::event::DEFAULT_MAX_TEXT,
            max_clients: 200,
            max_pending: 200,
            max_pending_per_address: 10,
            max_per_address: 64,
            address_limits: AddressLimits::default(),
            time_policy: TimePolicy::default(),
            replay_capacity: 100_000,
            hello_timeout: Duration::from_secs(10),
            hello_timeout_min: Duration::from_secs(2),
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            flood: FloodLimits::default(),
            outbound_budget: 256 * 1024,
            write_timeout: Duration::from_secs(10),
            direct_round: hub::DIRECT_ROUND,
            log: Log::Stderr,
            history: None,
            kex: crate::kex::ALL_KEX.to_vec(),
            identity: None,
            roster: None,
            staff_keys: Vec::new(),
            moderation_state: None,
            rooms: rooms::RoomLimits::default(),
            kick_secs: moderation::KICK_SECS,
        }
    }

    /// Every key that may open a hello: the class ring, then the staff keys. A hello's
    /// `key_index` counts in this ring.
    pub fn hello_ring(&self) -> RoomKey {
        let mut ring = vec![self.key.clone()];
        ring.extend(self.staff_keys.iter().cloned());
        // Never empty: the class ring holds at least one key.
        RoomKey::ring(ring).unwrap_or_else(|_| self.key.clone())
    }

    /// The role a hello opened by key `key_index` of [`ServerConfig::hello_ring`] gives: a staff
    /// key makes an instructor, a class key a student. (Roster mode sets roles from its own
    /// keys in the reader, where it finds the student.)
    pub fn role_of_key(&self, key_index: usize) -> Role {
        if key_index >= self.key.len() {
            Role::Instructor
        } else {
            Role::Student
        }
    }
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listener could not be inspected.
    #[error("cannot use the listening socket: {0}")]
    Listener(io::Error),
    /// A thread could not be started (the system is out of threads or memory).
    #[error("cannot start a server thread: {0}")]
    Spawn(io::Error),
    /// The history file could not be opened.
    #[error(transparent)]
    History(#[from] history::HistoryError),
}

/// Connections the kernel may queue for the acceptor (the kernel caps it, e.g. at
/// `net.core.somaxconn`, 4096 on current Linux). std's `TcpListener::bind` asks for 128: a
/// crowd that reconnects as fast as it is closed keeps that queue full, and a real user's
/// connection attempt is then dropped and retried by its system only after 1, 3, 7 s. With a
/// queue longer than the crowd, it waits its turn instead (a few milliseconds per connection
/// ahead of it).
pub const LISTEN_BACKLOG: i32 = 1024;

/// Binds a listening socket with [`LISTEN_BACKLOG`] (the `server` binary and the tests use it).
/// On other platforms than Unix, std's `TcpListener::bind` and its queue of 128.
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    #[cfg(unix)]
    {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        // As std does: a restarted server can bind at once, while old connections linger.
        socket.set_reuse_address(true)?;
        socket.bind(&addr.into())?;
        socket.listen(LISTEN_BACKLOG)?;
        Ok(socket.into())
    }
    #[cfg(not(unix))]
    {
        TcpListener::bind(addr)
    }
}

/// A way to stop a running server: send `()` or drop it. Disconnection is the shutdown signal.
pub type ShutdownSender = Sender<()>;

/// The server's end of [`ShutdownSender`], for [`Server::run`].
pub type ShutdownReceiver = Receiver<()>;

/// A pair to stop a server with, for programs that do not use `crossbeam-channel` themselves
/// (the labs' graders).
pub fn shutdown_channel() -> (ShutdownSender, ShutdownReceiver) {
    crossbeam_channel::bounded(1)
}

/// A server ready to run: its listener bound and its history (if any) opened, so that every
/// start-up error is known before the server announces itself.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    config: ServerConfig,
    history: Option<History>,
}

impl Server {
    /// Prepares a server on an already-bound listener (tests bind port 0).
    pub fn new(listener: TcpListener, config: ServerConfig) -> Result<Server, ServerError> {
        let history = match &config.history {
            None => None,
            Some(wanted) => {
                let (history, report) = History::open(wanted.clone(), &config.key)?;
                log_history(&config.log, wanted, &report);
                Some(history)
            }
        };
        Ok(Server::with_history(listener, config, history))
    }

    /// Prepares a server with a history opened by the caller (`config.history` is ignored).
    pub fn with_history(
        listener: TcpListener,
        config: ServerConfig,
        history: Option<History>,
    ) -> Server {
        Server {
            listener,
            config,
            history,
        }
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Runs until `shutdown` receives a message or is disconnected. Then every client gets a
    /// `bye` with code `shutdown`, and `run` returns once their writers have flushed it (at
    /// most about a second later).
    pub fn run(self, shutdown: Receiver<()>) -> Result<(), ServerError> {
        let Server {
            listener,
            config,
            history,
        } = self;
        serve(listener, config, history, shutdown)
    }
}

/// [`Server::new`] and [`Server::run`] in one call.
pub fn run(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: Receiver<()>,
) -> Result<(), ServerError> {
    Server::new(listener, config)?.run(shutdown)
}

fn log_history(log: &Log, wanted: &HistoryConfig, report: &history::OpenReport) {
    let path = wanted.path.display();
    log.line(format_args!(
        "history {path}: {} messages kept, the last {} shown to people who join",
        report.loaded, wanted.replay
    ));
    if report.torn_bytes > 0 {
        log.line(format_args!(
            "history {path}: the last record was incomplete ({} bytes, a crash mid-write) and was removed",
            report.torn_bytes
        ));
    }
    if report.unreadable > 0 {
        log.line(format_args!(
            "history {path}: {} damaged records skipped",
            report.unreadable
        ));
    }
    if let Some(old) = report.migrated_from {
        log.line(format_args!(
            "history {path}: re-encrypted from the older key {old} to the current key"
        ));
    }
    if let Some(aside) = &report.moved_aside {
        log.line(format_args!(
            "history {path}: was written with a key this server does not hold; left untouched as {} and a new history started",
            aside.display()
        ));
    }
}

fn serve(
    listener: TcpListener,
    config: ServerConfig,
    history: Option<History>,
    shutdown: Receiver<()>,
) -> Result<(), ServerError> {
    let local = listener.local_addr().map_err(ServerError::Listener)?;
    config.log.line(format_args!(
        "listening on {local}, key fingerprint {}",
        config.key.fingerprint()
    ));
    if let Some(plan) = rotation::Rotation::of(&config).plan(config.clock.now_millis()) {
        config.log.line(format_args!("{plan}"));
    }
    if let Some(identity) = &config.identity {
        config.log.line(format_args!(
            "server identity fingerprint {} (signs {} handshakes)",
            identity.public().fingerprint(),
            crate::kex::KEX_X25519_PSK_SIGNED
        ));
    }
    for staff in &config.staff_keys {
        config.log.line(format_args!(
            "staff key fingerprint {} (its holders are instructors)",
            staff.fingerprint()
        ));
    }
    let admission = Arc::new(Admission::new(&config));
    let config = Arc::new(config);
    let (hub_tx, hub_rx) = crossbeam_channel::unbounded();
    let stopping = Arc::new(AtomicBool::new(false));

    let acceptor = {
        let config = Arc::clone(&config);
        let stopping = Arc::clone(&stopping);
        let admission = Arc::clone(&admission);
        thread::Builder::new()
            .name("fernchat-accept".into())
            .spawn(move || accept_loop(listener, config, admission, hub_tx, stopping))
            .map_err(ServerError::Spawn)?
    };

    let hub = {
        let config = Arc::clone(&config);
        thread::Builder::new()
            .name("fernchat-hub".into())
            .spawn(move || {
                hub::Hub::new(config, history)
                    .with_admission(admission)
                    .run(hub_rx, shutdown)
            })
            .map_err(ServerError::Spawn)?
    };

    // The hub returns once shutdown was requested and the clients were told.
    let _ = hub.join();
    stopping.store(true, Ordering::SeqCst);
    // `accept` blocks; a connection of our own wakes it to see the flag.
    let _ = TcpStream::connect_timeout(&wake_address(local), Duration::from_secs(1));
    let _ = acceptor.join();
    Ok(())
}

/// Where to connect to wake our own acceptor: a wildcard bind is reached on loopback.
fn wake_address(local: SocketAddr) -> SocketAddr {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port())
}

/// A live connection's place (see `admission`); given back when the reader of the
/// connection ends and drops it.
pub(crate) type LiveConnection = admission::Ticket;

fn accept_loop(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    admission: Arc<Admission>,
    hub: Sender<hub::HubEvent>,
    stopping: Arc<AtomicBool>,
) {
    let mut next_id: u64 = 1;
    for stream in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            break;
        }
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                // Out of file descriptors, or a connection reset before accept: keep serving.
                admission.tally.line(
                    "accept_failed",
                    IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    format_args!("accept failed: {e}"),
                );
                // Avoid spinning if the error repeats (e.g. EMFILE).
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let peer = match stream.peer_addr() {
            Ok(peer) => peer,
            Err(_) => continue,
        };
        let id = next_id;
        next_id += 1;
        let counted = match admission.admit(id, peer, &stream) {
            Ok(ticket) => ticket,
            Err(refused) => {
                admission.tally.line(
                    refused.cause,
                    peer.ip(),
                    format_args!("refused {peer}: {}", refused.message),
                );
                admission::send_refusal(
                    &stream,
                    &config.key,
                    ErrorCode::ServerFull,
                    refused.message,
                );
                continue;
            }
        };
        let inbound = connection::inbound_for(&config);
        if let Err(e) = connection::spawn(
            id,
            peer,
            stream,
            inbound,
            Arc::clone(&config),
            hub.clone(),
            counted,
        ) {
            admission.tally.line(
                "cannot_serve",
                peer.ip(),
                format_args!("cannot serve {peer}: {e}"),
            );
        }
    }
}
