//! Admission: which connections the server takes, and how long one may wait before its hello
//! (issue 12, items 1 and 6). The acceptor asks [`Admission::admit`] for every new connection;
//! the hub tells it when a hello was registered ([`Admission::seated`]) and calls
//! [`Admission::tick`] with its timer.
//!
//! The rules, each with a flag of `src/bin/server.rs`:
//!
//! - Seats are reserved: users who said hello (at most `--max-clients`, counted by the hub)
//!   and connections still waiting for their hello ("pending", at most `--max-pending`) are
//!   counted apart, so silent connections never take a user's seat.
//! - When every pending place is taken, a new connection still gets in: the oldest pending
//!   connection of the address with the most pending connections is closed to make room
//!   (`hello_timeout`). A real client says hello at once, so it is never the oldest for long;
//!   a crowd that connects and stays silent only pushes out its own.
//! - Per source address: at most `--max-pending-per-address` pending connections and
//!   `--max-per-address` connections in all; beyond them a connection is refused with
//!   `server_full`, whose message names the limit and the flag.
//! - Per source address, tokens before a registered hello share one bucket
//!   (`--address-rate`, `--address-burst`): many short connections from one address cannot
//!   each spend a whole burst allowance. After its hello a client has only its own limits, so
//!   a class behind one address is not slowed down.
//! - An "address" is an IPv4 address, or an IPv6 /64 prefix (one machine or home usually has
//!   a whole /64). An address's entry outlives its connections until its bucket has refilled.
//! - The hello timeout shortens under pressure: from `--hello-timeout` while at most half the
//!   pending places are taken, down to `--hello-timeout-min` when all are.
//! - Refusals are logged through a [`Tally`]: a few lines per cause and interval, whatever
//!   the crowd does.
//!
//! Nothing here reads or writes chat: it only counts, closes and refuses. The state is one
//! mutex taken once per accepted connection and once per hub tick, never per message.

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::protocol::{self, ErrorCode, ServerEvent};
use crate::server::ServerConfig;
use crate::server::flood::{AddressBucket, AddressLimits, FloodGuard, FloodLimits, PreHello};
use crate::server::log::Tally;

/// Interval of the refusal summaries in the log.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// The limits of [`Admission`], from [`ServerConfig`].
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_pending: usize,
    max_pending_per_address: usize,
    max_per_address: usize,
    /// Every connection at once: users, pending, and the few on their way out.
    max_live: usize,
    hello_timeout: Duration,
    hello_timeout_min: Duration,
    address: AddressLimits,
}

/// Who is connected from where; see the module comment.
#[derive(Debug)]
pub(crate) struct Admission {
    limits: Limits,
    key: crate::crypto::RoomKey,
    state: Mutex<State>,
    /// The log of what strangers cause, shared with the hub.
    pub(crate) tally: Tally,
}

#[derive(Debug, Default)]
struct State {
    /// Every connection holding a [`Ticket`].
    live: usize,
    /// Connections without a registered hello, by connection id.
    pending: HashMap<u64, Pending>,
    /// Per source address; removed when its last connection ends.
    addresses: HashMap<IpAddr, Address>,
}

#[derive(Debug)]
struct Pending {
    ip: IpAddr,
    since: Instant,
    /// A second handle on the socket, to close it (the reader then ends the connection).
    socket: TcpStream,
    /// Shared with the reader's flood guard: whether a frame arrived, and whether the hello
    /// is registered.
    pre: Arc<PreHello>,
    /// The hub answered its hello with a `handshake`: from then on only the hub may end it
    /// for being late, because only the hub can seal the refusal under the session key the
    /// client now expects.
    answered: bool,
}

#[derive(Debug)]
struct Address {
    connections: usize,
    pending: usize,
    tokens: Arc<AddressBucket>,
    /// When its last connection ended. The entry (and its bucket) outlives its connections
    /// until the bucket has refilled: otherwise one short connection after another from the
    /// same address would each find a full bucket.
    idle_since: Option<Instant>,
}

/// Addresses remembered at most (each a few dozen bytes). Past it, idle ones are forgotten
/// early: their buckets refill sooner than they should, but memory stays bounded.
const MAX_ADDRESSES: usize = 65_536;

/// The key of a source address for the limits per address: IPv4 as it is (an IPv4 address in
/// IPv6 clothing as IPv4), IPv6 by its /64 prefix, because one machine or home usually gets a
/// whole /64 and could otherwise use a fresh address for every connection.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !u128::from(u64::MAX);
                IpAddr::V6(std::net::Ipv6Addr::from(prefix))
            }
        },
    }
}

/// Why a connection was refused at the door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    /// For the log's tally.
    pub(crate) cause: &'static str,
    /// For the client (sent with `server_full`) and the log.
    pub(crate) message: String,
}

/// A connection's place, held by its reader thread; dropping it gives the place back.
#[derive(Debug)]
pub(crate) struct Ticket {
    id: u64,
    ip: IpAddr,
    admission: Arc<Admission>,
    tokens: Arc<AddressBucket>,
    pre: Arc<PreHello>,
}

impl Ticket {
    /// The reader's flood guard: the client's own limits, and before its hello is registered
    /// also its address's shared bucket.
    pub(crate) fn flood_guard(&self, limits: FloodLimits, now: Instant) -> FloodGuard {
        FloodGuard::new(limits, now).with_address(
            Arc::clone(&self.tokens),
            Arc::clone(&self.pre),
            self.admission.limits.address,
        )
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.admission.release(self.id, self.ip);
    }
}

impl Admission {
    /// Admission with the limits of `config`, logging through a tally of `config.log`.
    pub(crate) fn new(config: &ServerConfig) -> Admission {
        let limits = Limits {
            max_pending: config.max_pending.max(1),
            max_pending_per_address: config.max_pending_per_address.max(1),
            max_per_address: config.max_per_address.max(1),
            // Room for evicted connections whose threads are still ending, and for hellos the
            // hub has not registered yet; without a cap, a crowd faster than thread teardown
            // could grow them.
            max_live: config.max_clients + 2 * config.max_pending.max(1),
            hello_timeout: config.hello_timeout,
            hello_timeout_min: config.hello_timeout_min.min(config.hello_timeout),
            address: config.address_limits,
        };
        Admission {
            limits,
            key: config.key.clone(),
            state: Mutex::new(State::default()),
            tally: Tally::new(config.log, LOG_INTERVAL),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves counts that are still the best we have.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Decides on a new connection: a [`Ticket`] (maybe after closing the oldest pending
    /// connection of the busiest address), or a refusal, which the caller sends and logs.
    pub(crate) fn admit(
        self: &Arc<Self>,
        id: u64,
        peer: SocketAddr,
        stream: &TcpStream,
    ) -> Result<Ticket, Refused> {
        let now = Instant::now();
        let limits = self.limits;
        let ip = address_key(peer.ip());
        let socket = stream.try_clone().map_err(|e| Refused {
            cause: "no_descriptors",
            message: format!(
                "the server is out of file descriptors ({e}); try again in a minute, or tell \
                 your instructor (raise `ulimit -n`)"
            ),
        })?;
        let mut evicted = None;
        let ticket = {
            let mut state = self.state();
            if state.live >= limits.max_live {
                return Err(Refused {
                    cause: "server_full",
                    message: format!(
                        "the server is full ({} connections); try again in a minute, or tell \
                         your instructor",
                        state.live
                    ),
                });
            }
            if let Some(address) = state.addresses.get(&ip) {
                if address.connections >= limits.max_per_address {
                    return Err(Refused {
                        cause: "max_per_address",
                        message: format!(
                            "{} connections from your address ({ip}) are already open, the \
                             most the server allows (its --max-per-address); close some, or \
                             ask your instructor to raise it",
                            address.connections
                        ),
                    });
                }
                if address.pending >= limits.max_pending_per_address {
                    return Err(Refused {
                        cause: "max_pending_per_address",
                        message: format!(
                            "{} connections from your address ({ip}) are waiting to say hello, \
                             the most the server allows (its --max-pending-per-address); a \
                             client says hello as soon as it connects",
                            address.pending
                        ),
                    });
                }
            }
            if state.pending.len() >= limits.max_pending {
                evicted = state.evict_one();
            }
            state.live += 1;
            let address = state.addresses.entry(ip).or_insert_with(|| Address {
                connections: 0,
                pending: 0,
                tokens: Arc::new(AddressBucket::new(limits.address, now)),
                idle_since: None,
            });
            address.connections += 1;
            address.idle_since = None;
            address.pending += 1;
            let tokens = Arc::clone(&address.tokens);
            let pre = Arc::new(PreHello::default());
            state.pending.insert(
                id,
                Pending {
                    ip,
                    since: now,
                    socket,
                    pre: Arc::clone(&pre),
                    answered: false,
                },
            );
            Ticket {
                id,
                ip,
                admission: Arc::clone(self),
                tokens,
                pre,
            }
        };
        if let Some(victim) = evicted {
            self.close_pending(
                &victim,
                "evicted",
                format!(
                    "no hello yet and all {} places for connections waiting to say hello are \
                     taken: the oldest from the busiest address was closed to make room; a \
                     client says hello as soon as it connects",
                    limits.max_pending
                ),
            );
        }
        Ok(ticket)
    }

    /// The hub answered this connection's hello with a `handshake`; it still waits for its
    /// `confirm`, and the hub's own hello timeout ends it if that never comes.
    pub(crate) fn answered(&self, id: u64) {
        if let Some(pending) = self.state().pending.get_mut(&id) {
            pending.answered = true;
        }
    }

    /// The hub registered this connection's hello: it holds a user's seat now, not a pending
    /// place. (The hub enforces `--max-clients`.)
    pub(crate) fn seated(&self, id: u64) {
        let mut state = self.state();
        if let Some(pending) = state.pending.remove(&id) {
            pending.pre.seated.store(true, Ordering::SeqCst);
            if let Some(address) = state.addresses.get_mut(&pending.ip) {
                address.pending = address.pending.saturating_sub(1);
            }
        }
    }

    /// The hello timeout now: the configured one while at most half the pending places are
    /// taken, shrinking in proportion to the minimum when all of them are.
    pub(crate) fn hello_timeout(&self) -> Duration {
        let pending = self.state().pending.len();
        pressured_timeout(self.limits, pending)
    }

    /// The hub's timer: closes pending connections older than the hello timeout of the
    /// moment, and writes the log's summaries when their interval is over.
    pub(crate) fn tick(&self, now: Instant) {
        let late: Vec<Pending> = {
            let mut state = self.state();
            let timeout = pressured_timeout(self.limits, state.pending.len());
            let ids: Vec<u64> = state
                .pending
                .iter()
                .filter(|(_, p)| !p.answered && now.saturating_duration_since(p.since) > timeout)
                .map(|(&id, _)| id)
                .collect();
            let late = ids
                .into_iter()
                .filter_map(|id| state.remove_pending(id))
                .collect();
            state.forget_idle_addresses(now, self.limits.address);
            late
        };
        if !late.is_empty() {
            let timeout = self.hello_timeout();
            for pending in late {
                self.close_pending(
                    &pending,
                    "hello_timeout",
                    format!(
                        "no hello within {:.1} s (shorter than usual: many connections are \
                         waiting to say hello); a client must send hello first",
                        timeout.as_secs_f64()
                    ),
                );
            }
        }
        self.tally.flush(now);
    }

    /// Tells a pending connection why it is closed (one small frame, never blocking) and
    /// closes it; its reader then ends and the hub forgets it.
    fn close_pending(&self, pending: &Pending, cause: &'static str, message: String) {
        self.tally.line(
            cause,
            pending.ip,
            format_args!("closed a connection from {}: {message}", pending.ip),
        );
        send_refusal(&pending.socket, &self.key, ErrorCode::HelloTimeout, message);
        let _ = pending.socket.shutdown(Shutdown::Both);
    }

    /// A connection ended (its [`Ticket`] was dropped).
    fn release(&self, id: u64, ip: IpAddr) {
        // `ip` is already an address key (see `admit`).
        let mut state = self.state();
        state.remove_pending(id);
        state.live = state.live.saturating_sub(1);
        if let Some(address) = state.addresses.get_mut(&ip) {
            address.connections = address.connections.saturating_sub(1);
            if address.connections == 0 {
                address.idle_since = Some(Instant::now());
            }
        }
        if state.addresses.len() > MAX_ADDRESSES {
            state.forget_idle_addresses(Instant::now(), self.limits.address);
        }
    }

    /// Pending connections now (for tests and the log).
    #[cfg(test)]
    fn pending(&self) -> usize {
        self.state().pending.len()
    }
}

impl State {
    /// Forgets addresses without connections whose bucket has refilled by now (all idle
    /// ones when there are more than [`MAX_ADDRESSES`]).
    fn forget_idle_addresses(&mut self, now: Instant, limits: AddressLimits) {
        let refill = if limits.per_second > 0.0 {
            Duration::from_secs_f64((f64::from(limits.burst) / limits.per_second).min(3600.0))
        } else {
            Duration::ZERO
        };
        let crowded = self.addresses.len() > MAX_ADDRESSES;
        self.addresses.retain(|_, a| match a.idle_since {
            None => true,
            Some(since) => !crowded && now.saturating_duration_since(since) < refill,
        });
    }

    /// Forgets a pending connection, returning it (to close it) if it was pending.
    fn remove_pending(&mut self, id: u64) -> Option<Pending> {
        let pending = self.pending.remove(&id)?;
        if let Some(address) = self.addresses.get_mut(&pending.ip) {
            address.pending = address.pending.saturating_sub(1);
        }
        Some(pending)
    }

    /// Picks and forgets the pending connection to close for a newcomer: a silent one before
    /// one that sent a frame (its hello is most likely on its way to the hub), then of the
    /// address with the most pending connections, the oldest. One pass over at most
    /// `--max-pending`.
    fn evict_one(&mut self) -> Option<Pending> {
        let victim = self
            .pending
            .iter()
            .max_by_key(|(_, p)| {
                let silent = !p.pre.spoke.load(Ordering::Relaxed);
                let pending_here = self.addresses.get(&p.ip).map_or(0, |a| a.pending);
                // Silent first, then most pending, then the oldest (the smallest `since`).
                (silent, pending_here, std::cmp::Reverse(p.since))
            })
            .map(|(&id, _)| id)?;
        self.remove_pending(victim)
    }
}

/// The hello timeout with `pending` connections waiting (see [`Admission::hello_timeout`]).
fn pressured_timeout(limits: Limits, pending: usize) -> Duration {
    let half = limits.max_pending / 2;
    if pending <= half {
        return limits.hello_timeout;
    }
    let over = (pending - half) as f64 / (limits.max_pending - half).max(1) as f64;
    let span = limits
        .hello_timeout
        .saturating_sub(limits.hello_timeout_min)
        .as_secs_f64();
    limits
        .hello_timeout
        .saturating_sub(Duration::from_secs_f64(span * over.min(1.0)))
}

/// Sends an error to a connection the hub does not (or no longer) speak for. The frame is
/// small and the socket's buffer empty or nearly, so one non-blocking write takes it; if it
/// does not, the client learns only that it was closed.
///
/// The acceptor has not read the hello, so it does not know which key of the ring the client
/// holds: during a rotation the error goes out once under each key, the current one first, one
/// line each, and the client reads the first that opens with its key (PROTOCOL.md, the
/// wrong-key line). Otherwise a client of an old key would take a `server_full` for a wrong key.
pub(crate) fn send_refusal(
    stream: &TcpStream,
    key: &crate::crypto::RoomKey,
    code: ErrorCode,
    message: String,
) {
    let event = ServerEvent::Error {
        code,
        message,
        time: protocol::unix_millis(),
        signature: None,
    };
    let mut frames = protocol::seal(key, &event);
    for old in (1..key.len()).filter_map(|i| key.nth(i)) {
        frames.extend_from_slice(&protocol::seal(&old, &event));
    }
    let _ = stream.set_nonblocking(true);
    let _ = (&*stream).write_all(&frames);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::RoomKey;
    use crate::server::Log;
    use std::net::TcpListener;

    /// A connected pair on loopback: the client end, and the server end as accepted.
    fn pair(listener: &TcpListener) -> (TcpStream, TcpStream, SocketAddr) {
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, peer) = listener.accept().unwrap();
        (client, server, peer)
    }

    fn admission(tune: impl FnOnce(&mut ServerConfig)) -> Arc<Admission> {
        let mut config = ServerConfig::new(RoomKey::generate());
        config.log = Log::Silent;
        tune(&mut config);
        Arc::new(Admission::new(&config))
    }

    #[test]
    fn a_full_pending_pool_makes_room_by_closing_the_oldest_of_the_busiest_address() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let admission = admission(|c| c.max_pending = 3);
        let mut held = Vec::new();
        for id in 1..=3 {
            let (client, server, peer) = pair(&listener);
            let ticket = admission.admit(id, peer, &server).unwrap();
            held.push((client, server, ticket));
        }
        assert_eq!(admission.pending(), 3);
        let (_c, server, peer) = pair(&listener);
        let _fourth = admission.admit(4, peer, &server).unwrap();
        assert_eq!(admission.pending(), 3, "one was closed to make room");
        // The oldest (#1) was shut down: its client end reads the error, then the end.
        let mut first = &held[0].0;
        first
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut got = Vec::new();
        let _ = std::io::Read::read_to_end(&mut first, &mut got);
        assert!(!got.is_empty(), "the evicted connection was told why");
    }

    #[test]
    fn a_connection_that_sent_its_hello_is_closed_after_silent_ones() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let admission = admission(|c| c.max_pending = 2);
        let (_c1, s1, p1) = pair(&listener);
        let first = admission.admit(1, p1, &s1).unwrap();
        // The oldest has sent a frame (its hello, not yet registered by the hub).
        let mut guard = first.flood_guard(FloodLimits::default(), Instant::now());
        assert_eq!(
            guard.check(Instant::now()),
            crate::server::flood::Verdict::Allow
        );
        let (mut c2, s2, p2) = pair(&listener);
        let _second = admission.admit(2, p2, &s2).unwrap();
        let (_c3, s3, p3) = pair(&listener);
        let _third = admission.admit(3, p3, &s3).unwrap();
        // #2, silent, made room; #1 is still pending.
        let state = admission.state();
        assert!(state.pending.contains_key(&1) && !state.pending.contains_key(&2));
        drop(state);
        c2.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let _ = std::io::Read::read_to_end(&mut c2, &mut got);
        assert!(!got.is_empty(), "the silent one was told why");
    }

    #[test]
    fn an_address_over_its_pending_limit_is_refused_and_seated_users_do_not_count() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let admission = admission(|c| {
            c.max_pending_per_address = 2;
            c.max_per_address = 3;
        });
        let mut held = Vec::new();
        for id in 1..=2 {
            let (client, server, peer) = pair(&listener);
            held.push((client, admission.admit(id, peer, &server).unwrap()));
        }
        let (_c, server, peer) = pair(&listener);
        let refused = admission.admit(3, peer, &server).unwrap_err();
        assert_eq!(refused.cause, "max_pending_per_address");
        assert!(refused.message.contains("--max-pending-per-address"));
        // #1 says hello: one pending place comes free, but the address has 2 of its 3.
        admission.seated(1);
        let (_c3, server, peer) = pair(&listener);
        let third = admission.admit(3, peer, &server).unwrap();
        let (_c4, server, peer) = pair(&listener);
        let refused = admission.admit(4, peer, &server).unwrap_err();
        assert_eq!(refused.cause, "max_per_address");
        // A connection ending gives its place back.
        drop(third);
        let (_c5, server, peer) = pair(&listener);
        assert!(admission.admit(5, peer, &server).is_ok());
    }

    #[test]
    fn an_addresss_token_bucket_outlives_its_short_connections() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let admission = admission(|c| {
            c.address_limits = AddressLimits {
                burst: 3,
                per_second: 0.001,
            }
        });
        let mut allowed = 0;
        // One short connection after another, each trying 2 tokens: together only the
        // address's burst of 3 gets through.
        for id in 1..=5 {
            let (_client, server, peer) = pair(&listener);
            let ticket = admission.admit(id, peer, &server).unwrap();
            let mut guard = ticket.flood_guard(FloodLimits::default(), Instant::now());
            for _ in 0..2 {
                if guard.check(Instant::now()) == crate::server::flood::Verdict::Allow {
                    allowed += 1;
                }
            }
        }
        assert_eq!(allowed, 3);
    }

    #[test]
    fn ipv6_addresses_are_limited_by_their_64_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_ne!(address_key(a), address_key(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn the_hello_timeout_shrinks_from_half_full_to_the_minimum_when_full() {
        let limits = Limits {
            max_pending: 200,
            max_pending_per_address: 10,
            max_per_address: 64,
            max_live: 600,
            hello_timeout: Duration::from_secs(10),
            hello_timeout_min: Duration::from_secs(2),
            address: AddressLimits::default(),
        };
        assert_eq!(pressured_timeout(limits, 0), Duration::from_secs(10));
        assert_eq!(pressured_timeout(limits, 100), Duration::from_secs(10));
        assert_eq!(pressured_timeout(limits, 150), Duration::from_secs(6));
        assert_eq!(pressured_timeout(limits, 200), Duration::from_secs(2));
        assert_eq!(pressured_timeout(limits, 500), Duration::from_secs(2));
    }
}
