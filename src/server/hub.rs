//! The hub: the one thread that owns the rooms. It alone knows who is connected, under which
//! nick, in which rooms (kept by [`Rooms`], whose rules it follows), and how far behind each
//! client's queue is; every other thread talks to it through one channel of [`HubEvent`]s, so
//! room state needs no lock.
//!
//! It never blocks on a client: queues are unbounded channels with a byte budget the hub
//! checks before queueing, and a client over budget is disconnected as too slow. In `psk`, a
//! broadcast is encrypted once per class key in use (one, except during a key rotation) and
//! the same bytes are shared by every recipient's queue: a room's broadcast goes to that
//! room's members only. Everything meant for one client (welcome, history, private, errors,
//! pongs, `entered`) is sealed with that client's own session key.
//!
//! It works in rounds: it handles every event already waiting (up to [`MAX_ROUND`]), staging
//! frames per client, and only then sends, one vectored non-blocking `send` per client (see
//! [`super::outbound`]). At chat-like load a round is one event; in a flood, rounds grow by
//! themselves and one system call carries many frames.
//!
//! It must not read sockets or decrypt: readers do that in parallel and send finished events.

use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};

use crate::crypto::RoomKey;
use crate::kex::Nonce;
use crate::protocol::codec::wrong_key_line;
use crate::protocol::confusable::{self, Skeletons};
use crate::protocol::event::{DEFAULT_ROOM, nick_key};
use crate::protocol::{self, ClientEvent, ErrorCode, PROTOCOL_VERSION, ServerEvent, unix_millis};
use crate::role::Role;
use crate::roster::Withdrawal;
use crate::roster::admit::{Member, withdrawn_message};
use crate::roster::reload::Reloaded;
use crate::server::ServerConfig;
use crate::server::admission::Admission;
use crate::server::history::{Entry, History};
use crate::server::moderation::Moderation;
use crate::server::outbound::Path;
pub use crate::server::outbound::{Frame, Outbound};
use crate::server::rooms::Rooms;
use crate::server::rotation::{Rotation, rfc3339};

/// Staff commands and the checks before anyone speaks or joins (`hub/staff.rs`): the hub's
/// side of moderation, kept out of this file so the room's flow stays readable.
mod staff;

/// The room commands (`join`, `part`, `list`, `who`, `invite`, `move`, `groups`): the hub's
/// side of [`Rooms`], which holds the rules.
mod room_commands;

/// Events the hub handles in one round before it sends what they produced. Large enough to
/// turn a flood into few system calls, small enough that the first event of a round is not
/// held back long (a round of 64 floods of 50 recipients takes well under a millisecond).
pub const MAX_ROUND: usize = 64;

/// Rounds of at most this many events are sent by the hub itself, larger ones through the
/// writer threads (`--direct-round`). The default is every round: handing floods to the
/// writers spreads the sending over the cores, but measured on 2 cores it cost 0.7 µs of
/// server CPU per delivery instead of 0.4 and gained no throughput (README, Performance).
pub const DIRECT_ROUND: usize = MAX_ROUND;

/// What the other threads tell the hub.
#[derive(Debug)]
pub enum HubEvent {
    /// The acceptor took a new connection and started its threads.
    Connected {
        /// The connection's number, unique for the server's lifetime.
        id: u64,
        /// Where it comes from, for the log.
        peer: SocketAddr,
        /// Its outgoing path (which also holds the socket, to cut off a client).
        outbound: Outbound,
        /// The writer thread, so shutdown can wait for the last `bye` to be flushed.
        writer: JoinHandle<()>,
    },
    /// A reader decoded and checked an event.
    Event {
        /// Which connection.
        id: u64,
        /// What it said.
        event: ClientEvent,
    },
    /// A reader accepted a hello (nick rules, version, key exchange); the hub checks that the
    /// nick is free and that there is room, then sends the `handshake`.
    Hello {
        /// Which connection.
        id: u64,
        /// The nick asked for.
        nick: String,
        /// The last message id the client saw, if it said.
        since: Option<u64>,
        /// The client program its hello named (checked by the reader), for `whois`.
        client: Option<String>,
        /// Which key of the ring opened the hello: the handshake and refusals are sealed
        /// with it.
        key_index: usize,
        /// The session's role, from the key that opened the hello.
        role: Role,
        /// The client's nonce, when refusals of this hello are to be signed (signed mode).
        signer: Option<Nonce>,
        /// The answer, ready to seal.
        handshake: ServerEvent,
        /// How this client's frames are sealed from the handshake on.
        session: Session,
    },
    /// A reader refused a hello: the `error` is sealed with the key that opened it (and
    /// signed, for a signed hello), and the connection closed.
    RefuseHello {
        /// Which connection.
        id: u64,
        /// Machine-readable reason.
        code: ErrorCode,
        /// What went wrong and what to do.
        message: String,
        /// Which key of the ring opened the hello.
        key_index: usize,
        /// The client's nonce, when the refusal is to be signed.
        signer: Option<Nonce>,
    },
    /// A reader refused a frame; the client is told why, and disconnected if `close`.
    Reject {
        /// Which connection.
        id: u64,
        /// Machine-readable reason.
        code: ErrorCode,
        /// What went wrong and what to do.
        message: String,
        /// Whether to end the connection.
        close: bool,
    },
    /// Roster mode: which key opened the hello and whose it is. Comes before the `Hello` or
    /// `RefuseHello` of the same connection, whose frames (before the session keys) are then
    /// sealed with `key` instead of a key of the server's ring.
    Identified {
        /// Which connection.
        id: u64,
        /// The key that opened the hello (a student's, a guest's class key, or a refused key).
        key: RoomKey,
        /// The student or guest; `None` for a refused key.
        member: Option<Member>,
        /// For a refused key, whose it is and why, for the log (never the key).
        refused: Option<String>,
    },
    /// The client proved it derived the same session keys (its `confirm`): it may join.
    Confirmed {
        /// Which connection.
        id: u64,
    },
    /// The first frame of a connection was not a token made with our key.
    WrongKey {
        /// Which connection.
        id: u64,
    },
    /// A reader ended: the client closed, or the socket failed or was shut down.
    Closed {
        /// Which connection.
        id: u64,
        /// What the reader saw, for the room and the log.
        why: String,
    },
}

/// How the server seals a client's frames once its hello is answered.
#[derive(Debug, Clone)]
pub struct Session {
    /// The server-to-client key: seals everything meant for this client alone.
    pub send: RoomKey,
    /// `psk`: the index in the server's ring of the key that seals room broadcasts to this
    /// client (the key of its hello), so that each broadcast is sealed once per key in use.
    /// `None` (the `x25519` modes): broadcasts too are sealed with `send`.
    pub broadcast: Option<usize>,
}

/// What the hub knows of one connection.
#[derive(Debug)]
struct Client {
    peer: SocketAddr,
    /// `None` until the hello is accepted.
    nick: Option<String>,
    outbound: Outbound,
    writer: JoinHandle<()>,
    connected_at: Instant,
    last_heard: Instant,
    /// Set when we pinged and have not heard back since.
    pinged: bool,
    /// The key of the ring that opened the hello (0 until one did): seals the handshake and
    /// refusals of the hello.
    hello_key: usize,
    /// The session, once the handshake is sent.
    session: Option<Session>,
    /// The nick asked for, while the handshake waits for the client's `confirm`. Not
    /// reserved: the client is not in the room, and nobody can reach it by this nick.
    joining: Option<String>,
    /// The hello's `since`, for the welcome and the history.
    since: Option<u64>,
    /// The hello's `client` (the program and its version), for `whois`.
    program: Option<String>,
    /// From the key that opened the hello (`student` until then).
    role: Role,
    /// When it joined the room (server time, ms), for `whois`.
    joined_at: u64,
    /// Roster mode: the key that opened the hello, which seals what comes before the session
    /// keys (instead of `hello_key`).
    hello_sealer: Option<RoomKey>,
    /// Roster mode: the student (or guest) this connection is.
    member: Option<Member>,
}

/// How a client leaves, for the room's `left` notice and the log.
enum Departure {
    /// Said bye, or the connection closed: nothing more to send.
    Gone,
    /// Refused before joining: send an `error` event (signed, for a signed hello), then close.
    Refused {
        code: ErrorCode,
        message: String,
        signer: Option<Nonce>,
    },
    /// Removed by the server: send a `bye` event, then close. `retry_after`: seconds before
    /// the server takes them back (kicks and bans).
    Removed {
        code: ErrorCode,
        message: String,
        retry_after: Option<u64>,
    },
}

/// The room's state and the hub thread's loop.
pub struct Hub {
    config: Arc<ServerConfig>,
    clients: HashMap<u64, Client>,
    /// Registered nicks by [`nick_key`], so uniqueness ignores ASCII case.
    nicks: HashMap<String, u64>,
    /// Their look-alike skeletons, so `aIice` is refused while `alice` is online.
    skeletons: Skeletons,
    /// Writers of clients already removed, kept until they finish flushing.
    closing: Vec<JoinHandle<()>>,
    /// Clients found over budget while broadcasting, removed once the broadcast is done.
    too_slow: Vec<u64>,
    /// Clients with frames staged in this round, to be sent at its end.
    staged: Vec<u64>,
    next_ping: u64,
    /// The rooms: members, limits, each room's history and message ids.
    rooms: Rooms,
    /// Each key of the ring on its own, by index: broadcasts to `psk` clients are sealed with
    /// the key of their hello.
    ring: Vec<RoomKey>,
    /// Mutes, bans, quiet and slow mode, the topic (see `hub/staff.rs`).
    moderation: Moderation,
    /// Roster mode: the index in `ring` of the room key, which seals room broadcasts to every
    /// `psk` member (sent in the welcome, changed by [`Hub::on_roster_reloaded`]).
    room: Option<usize>,
    /// The acceptor's admission, told of registered hellos; its tally logs what strangers
    /// cause. `None` logs every line as it is.
    admission: Option<Arc<Admission>>,
    /// The key rotation: the old keys' deadline, and what the clients of an old key are told.
    rotation: Rotation,
    /// Whether the old keys' deadline has been logged as passed (once).
    deadline_logged: bool,
}

impl Hub {
    /// An empty `#class`, with its history if it keeps one.
    pub fn new(config: Arc<ServerConfig>, history: Option<History>) -> Hub {
        // Staff keys too: a staff member's `psk` broadcasts are sealed with their key.
        let hello_ring = config.hello_ring();
        let mut ring: Vec<RoomKey> = (0..hello_ring.len())
            .filter_map(|i| hello_ring.nth(i))
            .collect();
        // Roster mode: every student has a key of their own, so broadcasts sealed "once per
        // key in use" would be sealed once per student; a room key, random per run, keeps it
        // once for everyone.
        let room = config.roster.as_ref().map(|_| {
            ring.push(RoomKey::generate());
            ring.len() - 1
        });
        // Other rooms' history files sit beside `#class`'s, sealed with the same key.
        let files = history
            .as_ref()
            .and(config.history.clone())
            .map(|h| (h, config.key.clone()));
        let rooms = Rooms::new(config.rooms.clone(), history, files);
        let (moderation, report) = Moderation::open(config.moderation_state.clone());
        if let Some(report) = report {
            config.log.line(format_args!("{report}"));
        }
        Hub {
            moderation,
            room,
            rotation: Rotation::of(&config),
            deadline_logged: false,
            ring,
            rooms,
            config,
            clients: HashMap::new(),
            nicks: HashMap::new(),
            skeletons: Skeletons::new(),
            closing: Vec::new(),
            too_slow: Vec::new(),
            staged: Vec::new(),
            next_ping: 1,
            admission: None,
        }
    }

    /// Tells `admission` of registered hellos, and logs what strangers cause through its tally.
    pub(crate) fn with_admission(mut self, admission: Arc<Admission>) -> Hub {
        self.admission = Some(admission);
        self
    }

    /// A log line that a stranger can cause at will: through the tally (a few lines per cause
    /// and interval), or as it is without one.
    fn log_stranger(&self, cause: &str, peer: SocketAddr, args: std::fmt::Arguments<'_>) {
        match &self.admission {
            Some(admission) => admission.tally.line(cause, peer.ip(), args),
            None => self.config.log.line(args),
        }
    }

    /// Serves events until `shutdown` fires or is dropped, then says goodbye to everyone.
    pub fn run(mut self, events: Receiver<HubEvent>, shutdown: Receiver<()>) {
        // Timers (hello timeout, pings, idle timeout) need a resolution of about a second.
        let ticker = crossbeam_channel::tick(Duration::from_millis(250));
        let mut reloads = self
            .config
            .roster
            .as_ref()
            .map_or_else(crossbeam_channel::never, |r| r.reloads());
        loop {
            // Events handled in this round.
            let mut round = 1;
            select! {
                recv(events) -> event => match event {
                    Ok(event) => {
                        self.handle(event);
                        // The rest of the round: what is already waiting, without blocking.
                        for event in events.try_iter().take(MAX_ROUND - 1) {
                            self.handle(event);
                            round += 1;
                        }
                    }
                    Err(_) => break,
                },
                recv(shutdown) -> _ => break,
                recv(ticker) -> _ => self.tick(Instant::now()),
                recv(reloads) -> reloaded => match reloaded {
                    Ok(reloaded) => self.on_roster_reloaded(&reloaded),
                    Err(_) => reloads = crossbeam_channel::never(),
                },
            }
            self.remove_too_slow();
            self.send_staged(if round <= self.config.direct_round {
                Path::Direct
            } else {
                Path::Writer
            });
        }
        self.shutdown();
    }

    /// Ends a round: sends every client what the round staged for it.
    fn send_staged(&mut self, path: Path) {
        for id in self.staged.drain(..) {
            if let Some(client) = self.clients.get_mut(&id) {
                client.outbound.flush_as(path);
            }
        }
    }

    fn handle(&mut self, event: HubEvent) {
        match event {
            HubEvent::Connected {
                id,
                peer,
                outbound,
                writer,
            } => {
                let now = Instant::now();
                self.log_stranger("connect", peer, format_args!("connect #{id} from {peer}"));
                self.clients.insert(
                    id,
                    Client {
                        peer,
                        nick: None,
                        outbound,
                        writer,
                        connected_at: now,
                        last_heard: now,
                        pinged: false,
                        hello_key: 0,
                        session: None,
                        joining: None,
                        since: None,
                        program: None,
                        role: Role::Student,
                        joined_at: 0,
                        hello_sealer: None,
                        member: None,
                    },
                );
            }
            HubEvent::Event { id, event } => self.on_event(id, event),
            HubEvent::Hello {
                id,
                nick,
                since,
                client: program,
                key_index,
                role,
                signer,
                handshake,
                session,
            } => {
                if let Some(client) = self.clients.get_mut(&id) {
                    client.last_heard = Instant::now();
                    client.hello_key = key_index;
                    client.since = since;
                    client.role = role;
                    client.program = program;
                }
                self.answer_hello(id, nick, signer, &handshake, session);
            }
            HubEvent::RefuseHello {
                id,
                code,
                message,
                key_index,
                signer,
            } => {
                if let Some(client) = self.clients.get_mut(&id) {
                    client.hello_key = key_index;
                }
                let refusal = Departure::Refused {
                    code,
                    message,
                    signer,
                };
                self.remove(id, refusal, "hello refused");
            }
            HubEvent::Reject {
                id,
                code,
                message,
                close,
            } => {
                if close {
                    let refusal = Departure::Refused {
                        code,
                        message,
                        signer: None,
                    };
                    self.remove(id, refusal, "refused");
                } else {
                    if let Some(client) = self.clients.get(&id) {
                        self.log_stranger(
                            &format!("refused_message {}", code_name(code)),
                            client.peer,
                            format_args!(
                                "refused a message from #{id} {} ({}): {}",
                                client.peer,
                                client.nick.as_deref().unwrap_or("-"),
                                code_name(code)
                            ),
                        );
                    }
                    self.send_error(id, code, message);
                }
            }
            HubEvent::Identified {
                id,
                key,
                member,
                refused,
            } => {
                if let Some(client) = self.clients.get_mut(&id) {
                    client.hello_sealer = Some(key);
                    client.member = member;
                    let peer = client.peer;
                    if let Some(refused) = refused {
                        // Anyone holding an old keyfile can cause this at will: tallied.
                        self.log_stranger(
                            "key_revoked",
                            peer,
                            format_args!("refused #{id} {peer}: {refused}"),
                        );
                    }
                }
            }
            HubEvent::Confirmed { id } => {
                if self.clients.get(&id).is_some_and(|c| c.joining.is_some()) {
                    self.welcome(id);
                }
            }
            HubEvent::WrongKey { id } => {
                if let Some(client) = self.clients.get(&id) {
                    self.log_stranger(
                        "wrong_key",
                        client.peer,
                        format_args!(
                            "refused #{id} {}: its first message was not made with our key \
                             (current fingerprint {}, the one the client is told); the client \
                             probably has a different keyfile",
                            client.peer,
                            self.config.key.fingerprint()
                        ),
                    );
                }
                if let Some(client) = self.clients.get_mut(&id) {
                    let mut line = wrong_key_line(self.config.key.fingerprint()).into_bytes();
                    line.push(b'\n');
                    // Staged here, sent by `remove` as it closes the connection.
                    client.outbound.stage(&Frame::from(line));
                }
                self.remove(id, Departure::Gone, "wrong key");
            }
            HubEvent::Closed { id, why } => self.remove(id, Departure::Gone, &why),
        }
    }

    fn on_event(&mut self, id: u64, event: ClientEvent) {
        let Some(client) = self.clients.get_mut(&id) else {
            // Already removed; its reader had a last event in flight.
            return;
        };
        client.last_heard = Instant::now();
        client.pinged = false;
        let Some(nick) = client.nick.clone() else {
            // Readers turn hellos into `HubEvent::Hello`; nothing else may come first.
            return self.remove(
                id,
                Departure::Refused {
                    code: ErrorCode::HelloFirst,
                    message: "the first message must be a hello, then a confirm: see PROTOCOL.md"
                        .into(),
                    signer: None,
                },
                "no hello",
            );
        };
        // Staff commands end here; so does speech that a mute or a mode refuses.
        let Some(event) = self.moderate(id, &nick, event) else {
            return;
        };
        let time = unix_millis();
        match event {
            ClientEvent::Hello { .. } => self.send_error(
                id,
                ErrorCode::HelloFirst,
                format!("you already said hello as {nick}; use /nick to change your nick"),
            ),
            // `moderate` resolved the room (one of the sender's, folded) before its modes
            // applied.
            ClientEvent::Say { text, room } => {
                let room = room.unwrap_or_else(|| DEFAULT_ROOM.to_owned());
                self.speak(room, false, nick, text, time);
            }
            ClientEvent::Me { text, room } => {
                let room = room.unwrap_or_else(|| DEFAULT_ROOM.to_owned());
                self.speak(room, true, nick, text, time);
            }
            ClientEvent::Msg { to, text } => self.private(id, nick, &to, text),
            ClientEvent::Who { room } => self.who(id, room),
            ClientEvent::Join {
                room,
                since,
                invite_only,
            } => self.join(id, &room, since, invite_only),
            ClientEvent::Part { room, reason } => self.part(id, &room, reason),
            ClientEvent::List => self.list(id),
            ClientEvent::Invite { nick: whom, room } => self.invite(id, &nick, &whom, &room),
            // `move` and `groups` are staff commands: `moderate` handled them above.
            ClientEvent::Nick { nick: new } => self.rename(id, nick, new),
            ClientEvent::Ping { id: ping } => self.send(id, &ServerEvent::Pong { id: ping }),
            // Readers check confirmations themselves and never pass one on.
            ClientEvent::Pong { .. } | ClientEvent::Confirm { .. } => {}
            ClientEvent::Bye { reason } => {
                // The reason is the user's own text: the room is told it, the log only its
                // length (the log never holds what people wrote; issue 12 item 8).
                let logged = match &reason {
                    Some(r) => format!("bye ({} characters of reason)", r.chars().count()),
                    None => "quit".to_owned(),
                };
                let reason = reason.unwrap_or_else(|| "quit".into());
                self.remove_telling(id, Departure::Gone, &logged, &reason);
            }
            // The staff events, which `moderate` handled and never passes on.
            _ => {}
        }
    }

    /// Why `nick` cannot join now, if it cannot.
    fn join_refusal(&self, nick: &str, id: u64) -> Option<(ErrorCode, String)> {
        if self.nicks.contains_key(&nick_key(nick)) {
            Some((
                ErrorCode::NickTaken,
                format!("the nick {nick} is taken (nicks ignore upper/lower case); choose another"),
            ))
        } else if let Some(online) = self.look_alike(nick, id) {
            Some((ErrorCode::NickTaken, confusable::refusal(nick, &online)))
        } else if self.nicks.len() >= self.seats_for(id) {
            Some((
                ErrorCode::ServerFull,
                format!(
                    "the server is full ({} users); try again in a few minutes, or tell your instructor",
                    self.config.max_clients
                ),
            ))
        } else {
            None
        }
    }

    /// Answers an accepted hello with the `handshake` (sealed with the key that opened the
    /// hello), or refuses it. The client joins only when its `confirm` arrives ([`Hub::welcome`]):
    /// a recorded hello replayed to us gets a handshake with a fresh nonce it can never
    /// confirm, so nothing reaches the room.
    fn answer_hello(
        &mut self,
        id: u64,
        nick: String,
        signer: Option<Nonce>,
        handshake: &ServerEvent,
        session: Session,
    ) {
        if self
            .clients
            .get(&id)
            .is_some_and(|c| c.nick.is_some() || c.joining.is_some())
        {
            return self.send_error(
                id,
                ErrorCode::HelloFirst,
                "you already said hello; use /nick to change your nick".into(),
            );
        }
        if let Some((code, message)) = self
            .join_refusal(&nick, id)
            .or_else(|| self.barred(id, &nick))
        {
            let refusal = Departure::Refused {
                code,
                message,
                signer,
            };
            return self.remove(id, refusal, "hello refused");
        }
        let Some(client) = self.clients.get(&id) else {
            return;
        };
        let frame = self.seal_for(client, handshake);
        self.offer(id, &frame);
        if let Some(admission) = &self.admission {
            admission.answered(id);
        }
        let mut session = session;
        if session.broadcast.is_some() && self.room.is_some() {
            session.broadcast = self.room;
        }
        if let Some(client) = self.clients.get_mut(&id) {
            client.joining = Some(nick);
            client.session = Some(session);
        }
    }

    /// The client confirmed its session keys: checks again that its nick is free and that
    /// there is room (another client may have confirmed first), then the `welcome` under the
    /// session key, and [`Hub::admit`].
    fn welcome(&mut self, id: u64) {
        let Some(nick) = self.clients.get_mut(&id).and_then(|c| c.joining.take()) else {
            return;
        };
        if let Some((code, message)) = self.join_refusal(&nick, id) {
            let refusal = Departure::Refused {
                code,
                message,
                signer: None,
            };
            return self.remove(id, refusal, "hello refused");
        }
        if let Some(why) = self.withdrawn_since_hello(id) {
            // A reload came between this client's hello and its confirm.
            let refusal = Departure::Refused {
                code: ErrorCode::KeyRevoked,
                message: withdrawn_message(why),
                signer: None,
            };
            return self.remove(id, refusal, "key withdrawn by a roster reload");
        }
        let room_key = self.room_key_for(id);
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        client.nick = Some(nick.clone());
        client.last_heard = Instant::now();
        client.joined_at = unix_millis();
        let role = client.role;
        let since = client.since;
        let hello_key = client.hello_key;
        self.nicks.insert(nick_key(&nick), id);
        self.skeletons.insert(&nick, id);
        self.rooms.enter_class(id);
        if let Some(admission) = &self.admission {
            // A user's seat now, no longer a place for connections waiting to say hello.
            admission.seated(id);
        }
        let class_last_id = self.rooms.class().last_id;
        let welcome = ServerEvent::Welcome {
            room: DEFAULT_ROOM.to_owned(),
            nick,
            users: self.room_users(DEFAULT_ROOM),
            version: PROTOCOL_VERSION,
            server: format!("fernchat {}", env!("CARGO_PKG_VERSION")),
            max_text: self.config.max_text,
            time: unix_millis(),
            room_key,
            missed: since.map(|since| class_last_id.saturating_sub(since)),
            role,
            roles: self.room_roles(DEFAULT_ROOM),
        };
        self.send(id, &welcome);
        // A client of an old key learns once, first thing, that a new one is in use. A
        // `notice`, so that every client shows it (PROTOCOL.md, key rotation).
        if let Some(text) = self
            .rotation
            .notice(hello_key, self.config.clock.now_millis())
        {
            self.send(
                id,
                &ServerEvent::Notice {
                    text,
                    time: unix_millis(),
                },
            );
        }
        self.admit(id);
        self.greet(id);
    }

    /// Puts a client that has just been welcomed in `#class`: the log line, the history, and
    /// `joined` for everyone else there.
    fn admit(&mut self, id: u64) {
        let Some(client) = self.clients.get(&id) else {
            return;
        };
        let Some(nick) = client.nick.clone() else {
            return;
        };
        let (peer, role) = (client.peer, client.role);
        // A roster member's description names their role; otherwise the key's role.
        let member = client
            .member
            .as_ref()
            .map_or_else(|| format!(", {role}"), |m| format!(", {}", m.describe()));
        self.config.log.line(format_args!(
            "join #{id} {peer} as {nick}{member} ({} online)",
            self.nicks.len()
        ));
        let time = unix_millis();
        let since = client.since;
        for frame in self.catch_up(id, DEFAULT_ROOM, since) {
            self.offer(id, &frame);
        }
        let joined = ServerEvent::Joined {
            room: DEFAULT_ROOM.to_owned(),
            nick,
            time,
            role,
        };
        self.broadcast_in(DEFAULT_ROOM, Some(id), &joined);
    }

    /// The history frames of `room` for a joining client, oldest first: the newest messages
    /// that fit in half its queue budget (a long replay must not get a newcomer evicted as too
    /// slow), after a notice saying how many older ones were left out. `since`: only what is
    /// newer than the last message the client saw there.
    fn catch_up(&self, id: u64, room: &str, since: Option<u64>) -> Vec<Frame> {
        let (Some(client), Some(history)) = (
            self.clients.get(&id),
            self.rooms.get(room).and_then(|r| r.history.as_ref()),
        ) else {
            return Vec::new();
        };
        let budget = self.config.outbound_budget / 2;
        let mut used = 0;
        let mut newest_first = Vec::new();
        let recent: Vec<&Entry> = history
            .recent()
            .filter(|e| since.is_none_or(|since| e.id > since))
            .collect();
        for entry in recent.iter().rev() {
            let frame = self.seal_for(client, &entry.to_event());
            used += frame.len();
            if used > budget {
                break;
            }
            newest_first.push(frame);
        }
        let left_out = recent.len() - newest_first.len();
        if left_out > 0 {
            let notice = ServerEvent::Notice {
                text: format!(
                    "{left_out} older messages of {room}'s history are not shown (too many to send at once)"
                ),
                time: unix_millis(),
            };
            newest_first.push(self.seal_for(client, &notice));
        }
        newest_first.reverse();
        newest_first
    }

    /// A room message (or, `action`, a `/me`) from `nick` (a member, checked by `moderate`):
    /// numbered in its room, written to the room's history, sent to its members.
    fn speak(&mut self, room: String, action: bool, from: String, text: String, time: u64) {
        let Some(id) = self.rooms.get_mut(&room).map(|r| r.next_id()) else {
            return;
        };
        let event = if action {
            ServerEvent::Action {
                room,
                id,
                from,
                text,
                time,
            }
        } else {
            ServerEvent::Message {
                room,
                id,
                from,
                text,
                time,
            }
        };
        self.broadcast_room(&event);
    }

    fn private(&mut self, from_id: u64, from: String, to: &str, text: String) {
        let Some(&to_id) = self.nicks.get(&nick_key(to)) else {
            return self.send_error(
                from_id,
                ErrorCode::NoSuchNick,
                format!("nobody called {to} is online; /who lists who is"),
            );
        };
        // Only clients in the room are in `nicks`: one still confirming its keys cannot be
        // written to (issue 12 item 8).
        let Some(to) = self.clients.get(&to_id).and_then(|c| c.nick.clone()) else {
            return self.send_error(
                from_id,
                ErrorCode::NoSuchNick,
                format!("nobody called {to} is online; /who lists who is"),
            );
        };
        let private = ServerEvent::Private {
            from,
            to,
            text,
            time: unix_millis(),
        };
        self.send(to_id, &private);
        if to_id != from_id {
            // The sender's copy confirms delivery and shows the server's timestamp.
            self.send(from_id, &private);
        }
    }

    /// The nick of someone else online whom `nick` could be mistaken for (issue 12 item 8).
    fn look_alike(&self, nick: &str, id: u64) -> Option<String> {
        let other = self.skeletons.clash(nick, id)?;
        let client = self.clients.get(&other)?;
        client.nick.clone().or_else(|| client.joining.clone())
    }

    fn rename(&mut self, id: u64, old: String, new: String) {
        let (old_key, new_key) = (nick_key(&old), nick_key(&new));
        if old == new {
            return self.send(
                id,
                &ServerEvent::Notice {
                    text: format!("you are already known as {new}"),
                    time: unix_millis(),
                },
            );
        }
        // Changing only the case of one's own nick is allowed; taking another's is not.
        if old_key != new_key && self.nicks.contains_key(&new_key) {
            return self.send_error(
                id,
                ErrorCode::NickTaken,
                format!(
                    "the nick {new} is taken (nicks ignore upper/lower case); you are still {old}"
                ),
            );
        }
        if let Some(online) = self.look_alike(&new, id) {
            let message = confusable::refusal(&new, &online);
            return self.send_error(id, ErrorCode::NickTaken, message);
        }
        self.skeletons.remove(&old, id);
        self.skeletons.insert(&new, id);
        self.nicks.remove(&old_key);
        self.nicks.insert(new_key, id);
        if let Some(client) = self.clients.get_mut(&id) {
            client.nick = Some(new.clone());
        }
        self.config
            .log
            .line(format_args!("rename #{id} {old} -> {new}"));
        self.broadcast(&ServerEvent::Renamed {
            from: old,
            to: new,
            time: unix_millis(),
        });
    }

    /// Removes a connection, tells it why if there is a why, and tells the room if it had joined.
    fn remove(&mut self, id: u64, departure: Departure, reason: &str) {
        self.remove_telling(id, departure, reason, reason);
    }

    /// [`Hub::remove`], with one reason for the log and another (`told`) for the room.
    fn remove_telling(&mut self, id: u64, departure: Departure, reason: &str, told: &str) {
        let Some(client) = self.clients.remove(&id) else {
            return;
        };
        let time = unix_millis();
        let last_words = match &departure {
            Departure::Refused {
                code,
                message,
                signer,
            } => Some(ServerEvent::Error {
                code: *code,
                message: message.clone(),
                time,
                signature: signer.as_ref().and_then(|nonce| {
                    let identity = self.config.identity.as_ref()?;
                    Some(identity.sign_refusal(nonce, &code_name(*code), message))
                }),
            }),
            Departure::Removed {
                code,
                message,
                retry_after,
            } => Some(ServerEvent::Bye {
                code: *code,
                reason: message.clone(),
                time,
                retry_after: *retry_after,
            }),
            Departure::Gone => None,
        };
        let mut client = client;
        if let Some(event) = last_words {
            // Past the budget, but one small frame: a client that is merely slow still learns
            // why; one that never reads is cut off by its writer's write timeout.
            let frame = self.seal_for(&client, &event);
            client.outbound.stage(&frame);
        }
        // Sends what is staged (in order, the last words last) and tells the writer to finish.
        client.outbound.close();
        let who = client.nick.as_deref().unwrap_or("-");
        let detail = match &departure {
            Departure::Refused { code, .. } | Departure::Removed { code, .. } => {
                format!(" [{}]", code_name(*code))
            }
            Departure::Gone => String::new(),
        };
        let line = format_args!("leave #{id} {} {who}: {reason}{detail}", client.peer);
        if client.nick.is_some() || client.joining.is_some() {
            self.config.log.line(line);
        } else {
            // Never said hello: anyone can cause this line at will.
            self.log_stranger(&format!("leave before hello{detail}"), client.peer, line);
        }
        // The writer flushes what it holds, then closes the socket.
        self.closing.push(client.writer);
        self.moderation.forget(id);
        if let Some(nick) = client.nick {
            self.nicks.remove(&nick_key(&nick));
            self.skeletons.remove(&nick, id);
            // One `left` in each room it was in, to that room's members.
            let rooms = self.rooms.leave_all(id);
            self.tell_left(&rooms, &nick, told, time);
        }
    }

    /// Tells each of `rooms` (sealed once per room and key) that `nick` left it.
    fn tell_left(&mut self, rooms: &[String], nick: &str, reason: &str, time: u64) {
        for room in rooms {
            let left = ServerEvent::Left {
                room: room.clone(),
                nick: nick.to_owned(),
                reason: reason.to_owned(),
                time,
            };
            self.broadcast_in(room, None, &left);
        }
    }

    fn remove_too_slow(&mut self) {
        // Removing one client broadcasts its departure, which may find another too slow:
        // the loop ends because every round removes a client.
        while let Some(id) = self.too_slow.pop() {
            if self.clients.contains_key(&id) {
                let message = format!(
                    "disconnected: more than {} KiB of messages were waiting for you; \
                     your connection or computer could not keep up with the room",
                    self.config.outbound_budget / 1024
                );
                self.remove(
                    id,
                    Departure::Removed {
                        code: ErrorCode::TooSlow,
                        message,
                        retry_after: None,
                    },
                    "too slow: could not keep up with the room",
                );
            }
        }
    }

    fn tick(&mut self, now: Instant) {
        if let Some(admission) = &self.admission {
            // The hello timeout shortened under pressure, and the log's summaries.
            admission.tick(now);
        }
        let mut late_hello = Vec::new();
        let mut idle = Vec::new();
        let mut to_ping = Vec::new();
        let mut retired = Vec::new();
        let past_deadline = self.rotation.past_deadline(self.config.clock.now_millis());
        for (&id, client) in &self.clients {
            let silent = now.saturating_duration_since(client.last_heard);
            // Every connection whose hello opened under an old key, joined or still
            // confirming (a hello the reader let through just before the deadline).
            if past_deadline && self.rotation.is_old(client.hello_key) && client.session.is_some() {
                retired.push((id, client.hello_key));
            } else if client.nick.is_none() {
                if now.saturating_duration_since(client.connected_at) > self.config.hello_timeout {
                    late_hello.push(id);
                }
            } else if silent > self.config.idle_timeout {
                idle.push(id);
            } else if silent > self.config.ping_interval && !client.pinged {
                to_ping.push(id);
            }
        }
        if past_deadline && !self.deadline_logged {
            self.deadline_logged = true;
            self.config.log.line(format_args!(
                "key rotation: the old keys' deadline {} has passed; closing {} connections \
                 under an old key, refusing old keys from now on",
                self.config.old_keys_until.map_or_else(String::new, rfc3339),
                retired.len()
            ));
        }
        for (id, key_index) in retired {
            let message = self.rotation.bye(key_index);
            self.remove(
                id,
                Departure::Removed {
                    code: ErrorCode::KeyRetired,
                    message,
                    retry_after: None,
                },
                "old class key past its deadline",
            );
        }
        for id in late_hello {
            let message = format!(
                "no hello and confirm within {} s: a client must send hello first, then confirm the handshake",
                self.config.hello_timeout.as_secs()
            );
            self.remove(
                id,
                Departure::Refused {
                    code: ErrorCode::HelloTimeout,
                    message,
                    signer: None,
                },
                "no hello in time",
            );
        }
        for id in idle {
            let message = format!(
                "nothing heard from you for {} s; reconnect",
                self.config.idle_timeout.as_secs()
            );
            self.remove(
                id,
                Departure::Removed {
                    code: ErrorCode::IdleTimeout,
                    message,
                    retry_after: None,
                },
                "timed out",
            );
        }
        for id in to_ping {
            let ping = self.next_ping;
            self.next_ping += 1;
            self.send(id, &ServerEvent::Ping { id: ping });
            if let Some(client) = self.clients.get_mut(&id) {
                client.pinged = true;
            }
        }
        self.closing.retain(|writer| !writer.is_finished());
    }

    /// Tells everyone the server is going, and waits (briefly) for the news to be written.
    fn shutdown(&mut self) {
        self.config.log.line(format_args!(
            "shutting down: telling {} connected clients",
            self.clients.len()
        ));
        let bye = ServerEvent::Bye {
            code: ErrorCode::Shutdown,
            reason: "the server is shutting down".into(),
            time: unix_millis(),
            retry_after: None,
        };
        let mut by_key = vec![None; self.ring.len()];
        let mut sockets = Vec::new();
        for (_, mut client) in std::mem::take(&mut self.clients) {
            let frame = self.room_frame(&client, &bye, &mut by_key);
            client.outbound.stage(&frame);
            client.outbound.close();
            sockets.push(client.outbound.socket());
            self.closing.push(client.writer);
        }
        self.nicks.clear();
        // Writers flush and exit once their queues are dropped (above). A writer stuck on a
        // client that stopped reading must not hold the server up: wait at most this long,
        // then cut every socket, which also ends the readers.
        let deadline = Instant::now() + Duration::from_millis(1500);
        for writer in self.closing.drain(..) {
            while !writer.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
        }
        for socket in sockets {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Roster mode, `psk`: the room key for `id`'s welcome, if broadcasts to it are sealed
    /// with it.
    fn room_key_for(&self, id: u64) -> Option<String> {
        let room = self.room?;
        let client = self.clients.get(&id)?;
        if client.session.as_ref()?.broadcast != Some(room) {
            return None;
        }
        Some(self.ring.get(room)?.expose_secret().to_owned())
    }

    /// Roster mode: why `id`'s key is no longer accepted, if a reload withdrew it after the
    /// reader looked the hello up (a reader holds the keyring it started with).
    fn withdrawn_since_hello(&self, id: u64) -> Option<Withdrawal> {
        let roster = self.config.roster.as_ref()?;
        let Member::Student {
            login, generation, ..
        } = self.clients.get(&id)?.member.as_ref()?
        else {
            return None;
        };
        let keyring = roster.current();
        match keyring.roster().find(login) {
            None => Some(Withdrawal::Removed),
            Some(entry) if entry.revoked => Some(Withdrawal::Revoked),
            Some(entry) if entry.generation != *generation => Some(Withdrawal::Replaced {
                generation: entry.generation,
            }),
            Some(_) => None,
        }
    }

    /// A roster reload: the connections of students whose key it withdrew are closed with the
    /// reason, and (if any key was withdrawn) the room key changes for everyone else first, so
    /// that the holder of a withdrawn key cannot read the room from then on, even from the
    /// network.
    fn on_roster_reloaded(&mut self, reloaded: &Reloaded) {
        let withdrawn: Vec<String> = reloaded
            .withdrawn
            .iter()
            .map(|w| format!("{} (generation {}: {:?})", w.login, w.generation, w.why))
            .collect();
        self.config.log.line(format_args!(
            "roster reloaded: {} students, {} revoked; keys withdrawn: {}",
            reloaded.students,
            reloaded.revoked,
            if withdrawn.is_empty() {
                "none".to_owned()
            } else {
                withdrawn.join(", ")
            }
        ));
        if reloaded.withdrawn.is_empty() {
            return;
        }
        let mut closing = Vec::new();
        for (&id, client) in &self.clients {
            let Some(Member::Student {
                login, generation, ..
            }) = &client.member
            else {
                continue;
            };
            if let Some(w) = reloaded
                .withdrawn
                .iter()
                .find(|w| w.login.eq_ignore_ascii_case(login) && w.generation == *generation)
            {
                closing.push((id, w.why));
            }
        }
        // Out of the room first, so that no withdrawn member receives anything more of it
        // (not even another's `left`); the room key changes; then each is told and closed,
        // and the room hears who left under the new key.
        let mut left = Vec::new();
        for (id, _) in &closing {
            if let Some(nick) = self.clients.get_mut(id).and_then(|c| c.nick.take()) {
                self.nicks.remove(&nick_key(&nick));
                self.skeletons.remove(&nick, *id);
                left.push((nick, self.rooms.leave_all(*id)));
            }
        }
        self.rotate_room_key(&closing.iter().map(|(id, _)| *id).collect::<Vec<_>>());
        for (id, why) in closing {
            let login = self
                .clients
                .get(&id)
                .and_then(|c| c.member.as_ref())
                .and_then(Member::login)
                .unwrap_or("-")
                .to_owned();
            self.remove(
                id,
                Departure::Removed {
                    code: ErrorCode::KeyRevoked,
                    message: withdrawn_message(why),
                    retry_after: None,
                },
                &format!("the key of {login} was withdrawn by a roster reload"),
            );
        }
        let time = unix_millis();
        for (nick, rooms) in left {
            self.tell_left(&rooms, &nick, "key withdrawn by the instructor", time);
        }
    }

    /// A new room key: sent to every member in the room that uses it (but `except`), under its
    /// own session key, before anything is sealed with it.
    fn rotate_room_key(&mut self, except: &[u64]) {
        let Some(room) = self.room else {
            return;
        };
        let key = RoomKey::generate();
        let rekey = ServerEvent::Rekey {
            room_key: key.expose_secret().to_owned(),
            time: unix_millis(),
        };
        let members: Vec<u64> = self
            .clients
            .iter()
            .filter(|(id, c)| {
                c.nick.is_some()
                    && !except.contains(id)
                    && c.session.as_ref().and_then(|s| s.broadcast) == Some(room)
            })
            .map(|(&id, _)| id)
            .collect();
        for &id in &members {
            self.send(id, &rekey);
        }
        if let Some(slot) = self.ring.get_mut(room) {
            *slot = key;
        }
        self.config.log.line(format_args!(
            "room key changed; {} members told",
            members.len()
        ));
    }

    /// The members of `room`, sorted case-insensitively (`#class`: everyone, unless some left
    /// it on a server that allows that).
    fn room_users(&self, room: &str) -> Vec<String> {
        let Some(room) = self.rooms.get(room) else {
            return Vec::new();
        };
        let mut users: Vec<String> = room
            .members()
            .filter_map(|id| self.clients.get(&id)?.nick.clone())
            .collect();
        users.sort_by_key(|nick| nick_key(nick));
        users
    }

    /// Seals with the ring's encrypting key: the frame of the history file, and of the room
    /// broadcast for the `psk` clients whose hello it opened.
    fn seal(&self, event: &ServerEvent) -> Frame {
        Frame::from(protocol::seal(&self.config.key, event))
    }

    /// Seals for one client alone: with its session key once the handshake is out, before
    /// that with the key that opened its hello.
    fn seal_for(&self, client: &Client, event: &ServerEvent) -> Frame {
        seal_alone(&self.ring, &self.config.key, client, event)
    }

    fn send(&mut self, id: u64, event: &ServerEvent) {
        if let Some(client) = self.clients.get(&id) {
            let frame = self.seal_for(client, event);
            self.offer(id, &frame);
        }
    }

    fn send_error(&mut self, id: u64, code: ErrorCode, message: String) {
        let time = unix_millis();
        self.send(
            id,
            &ServerEvent::Error {
                code,
                message,
                time,
                signature: None,
            },
        );
    }

    fn offer(&mut self, id: u64, frame: &Frame) {
        if let Some(client) = self.clients.get_mut(&id) {
            let fresh = !client.outbound.is_staged();
            if !client.outbound.offer(frame, self.config.outbound_budget) {
                self.too_slow.push(id);
            } else if fresh {
                self.staged.push(id);
            }
        }
    }

    /// Queues `event` for every registered client, whatever their rooms (`renamed`).
    fn broadcast(&mut self, event: &ServerEvent) {
        let mut by_key = vec![None; self.ring.len()];
        self.deliver(Audience::Everyone, None, event, &mut by_key);
    }

    /// Queues `event` for the members of `room` (but `except`).
    fn broadcast_in(&mut self, room: &str, except: Option<u64>, event: &ServerEvent) {
        let mut by_key = vec![None; self.ring.len()];
        self.deliver(Audience::Room(room), except, event, &mut by_key);
    }

    /// Broadcasts a room message to its room, writing it to the room's history first: once
    /// anyone has seen it, it is in the file. A history that cannot be written does not stop
    /// the chat.
    fn broadcast_room(&mut self, event: &ServerEvent) {
        let (ServerEvent::Message { room, .. }
        | ServerEvent::Action { room, .. }
        | ServerEvent::Announcement { room, .. }) = event
        else {
            return;
        };
        let frame = self.seal(event);
        if let Some(report) = self.rooms.history_for(room) {
            self.config.log.line(format_args!("{report}"));
        }
        let mut failed = None;
        if let Some(r) = self.rooms.get_mut(room)
            && let Some(history) = &mut r.history
            && let Some(entry) = Entry::of(event)
        {
            match history.record(&frame, entry) {
                Ok(()) if r.history_failing => {
                    r.history_failing = false;
                    self.config
                        .log
                        .line(format_args!("history {room}: saving works again"));
                }
                Ok(()) => {}
                Err(e) if !r.history_failing => {
                    r.history_failing = true;
                    failed = Some(e);
                }
                Err(_) => {}
            }
        }
        if let Some(e) = failed {
            self.config.log.line(format_args!(
                "history {room}: cannot save messages ({e}); the chat goes on without history"
            ));
            let notice = ServerEvent::Notice {
                text: format!(
                    "the server cannot save {room}'s history right now (is its disk full?); \
                     messages are still delivered, but people who join later will not see them"
                ),
                time: unix_millis(),
            };
            self.broadcast_in(room, None, &notice);
        }
        // The history's frame is the one for clients of the ring's first key: one seal.
        let mut by_key = vec![None; self.ring.len()];
        if let Some(first) = by_key.first_mut() {
            *first = Some(frame);
        }
        self.deliver(Audience::Room(room), None, event, &mut by_key);
    }

    /// The frame of a broadcast for `client` (see [`broadcast_frame`]).
    fn room_frame(
        &self,
        client: &Client,
        event: &ServerEvent,
        by_key: &mut [Option<Frame>],
    ) -> Frame {
        broadcast_frame(&self.ring, &self.config.key, client, event, by_key)
    }

    /// Stages `event` for the registered clients of `to` but `except`: in `psk`, the same
    /// bytes (sealed once per key in use, kept in `by_key`) for every client of that key; a
    /// frame of its own for each session of the other modes. Sent at the end of the round.
    /// One pass, one lookup per recipient: a room of 50 costs what the single room did.
    fn deliver(
        &mut self,
        to: Audience<'_>,
        except: Option<u64>,
        event: &ServerEvent,
        by_key: &mut [Option<Frame>],
    ) {
        let Hub {
            clients,
            rooms,
            ring,
            config,
            too_slow,
            staged,
            ..
        } = self;
        let mut offer = |id: u64, client: &mut Client| {
            if client.nick.is_none() || Some(id) == except {
                return;
            }
            let frame = broadcast_frame(ring, &config.key, client, event, by_key);
            let fresh = !client.outbound.is_staged();
            if !client.outbound.offer(&frame, config.outbound_budget) {
                too_slow.push(id);
            } else if fresh {
                staged.push(id);
            }
        };
        match to {
            Audience::Everyone => {
                for (&id, client) in clients.iter_mut() {
                    offer(id, client);
                }
            }
            Audience::Room(room) => {
                let Some(room) = rooms.get(room) else {
                    return;
                };
                for id in room.members() {
                    if let Some(client) = clients.get_mut(&id) {
                        offer(id, client);
                    }
                }
            }
        }
    }
}

/// Who a broadcast goes to.
#[derive(Clone, Copy)]
enum Audience<'a> {
    /// Every registered client.
    Everyone,
    /// The members of one room.
    Room(&'a str),
}

/// Seals `event` for `client` alone: with its session key once the handshake is out, before
/// that with the key that opened its hello (see [`Hub::seal_for`]).
fn seal_alone(ring: &[RoomKey], key: &RoomKey, client: &Client, event: &ServerEvent) -> Frame {
    match (&client.session, &client.hello_sealer) {
        (Some(session), _) => Frame::from(protocol::seal(&session.send, event)),
        (None, Some(key)) => Frame::from(protocol::seal(key, event)),
        (None, None) => match ring.get(client.hello_key) {
            Some(key) => Frame::from(protocol::seal(key, event)),
            None => Frame::from(protocol::seal(key, event)),
        },
    }
}

/// The frame of a broadcast for `client`: in `psk`, the one sealed with the key of its
/// hello, made once per key in use (`by_key` holds those made so far); in the other modes,
/// its own copy under its session key.
fn broadcast_frame(
    ring: &[RoomKey],
    key: &RoomKey,
    client: &Client,
    event: &ServerEvent,
    by_key: &mut [Option<Frame>],
) -> Frame {
    let index = client.session.as_ref().and_then(|s| s.broadcast);
    match index.and_then(|i| by_key.get_mut(i).zip(ring.get(i))) {
        Some((slot, key)) => {
            Frame::clone(slot.get_or_insert_with(|| Frame::from(protocol::seal(key, event))))
        }
        None => seal_alone(ring, key, client, event),
    }
}

/// The wire name of a code, for the log.
fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| format!("{code:?}"))
}
