//! A toy chat room that offers both `psk` and `x25519` (PROTOCOL.md section 7).
//!
//! It is the "reference server" of labs 3 and 4: small enough to read in one sitting, and it
//! does the server's side of the handshake with `fernchat::kex`. It keeps the protocol's
//! shape (hello, handshake, confirm, welcome, say, message, who, ping, bye, errors; protocol
//! version 2) but none of the class server's protections beyond the codec's (no flood control,
//! no idle timeouts): never expose it to a network. A thread per connection; every read has a
//! short timeout so [`Room`] stops promptly.

use std::collections::HashMap;
use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use fernchat::crypto::{RoomKey, TimePolicy, unix_now};
use fernchat::kex::{Ephemeral, KEX_X25519, Nonce, PublicShare, Role, psk_session_keys};
use fernchat::protocol::codec::wrong_key_line;
use fernchat::protocol::event::{KEX_PSK, nick_key, validate_nick, validate_text};
use fernchat::protocol::{
    ClientEvent, DecodeError, ErrorCode, Inbound, PROTOCOL_VERSION, Refusal, ServerEvent, seal,
    unix_millis,
};
use serde_json::Value;

use crate::STEP;
use crate::conn::Conn;
use crate::wire::{self, AnyClientEvent};

/// How often a waiting connection looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);
/// Connections served at once; more are closed at once.
const MAX_CONNECTIONS: usize = 64;

/// What the room received from someone, after opening and judging it.
#[derive(Debug, Clone, PartialEq)]
pub struct Heard {
    /// The nick of the sender (from their hello).
    pub nick: String,
    /// The event as JSON, exactly as it was decrypted.
    pub event: Value,
}

struct Member {
    nick: String,
    out: TcpStream,
    /// Seals what is meant for this member alone (its server-to-client key).
    send: RoomKey,
    /// Seals room broadcasts to it: the class key in `psk`, `send` with `x25519`.
    room: RoomKey,
}

struct Shared {
    class_key: RoomKey,
    policy: TimePolicy,
    members: Mutex<HashMap<u64, Member>>,
    heard: Mutex<Vec<Heard>>,
    stop: AtomicBool,
    live: AtomicUsize,
    log: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running room. Dropping it stops it.
pub struct Room {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl Room {
    /// A quiet room on 127.0.0.1, port 0, with `class_key`.
    pub fn start(class_key: RoomKey) -> std::io::Result<Room> {
        Room::serve(TcpListener::bind("127.0.0.1:0")?, class_key, false)
    }

    /// A room on `listener`; `log` prints joins and leaves to standard error.
    pub fn serve(listener: TcpListener, class_key: RoomKey, log: bool) -> std::io::Result<Room> {
        let addr = listener.local_addr()?;
        let policy = TimePolicy::default();
        let shared = Arc::new(Shared {
            class_key,
            policy,
            members: Mutex::new(HashMap::new()),
            heard: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            log,
        });
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || accept_loop(listener, shared))
        };
        Ok(Room {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// Everything the room has received so far, in order.
    pub fn heard(&self) -> Vec<Heard> {
        lock(&self.shared.heard).clone()
    }

    /// Blocks until the acceptor ends (it ends only when the room is dropped elsewhere: for
    /// the toy-server binary, that is never).
    pub fn wait(mut self) {
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // `accept` blocks; a connection of our own wakes it to see the flag.
        let _ = TcpStream::connect_timeout(&self.addr, STEP);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut next_id = 0u64;
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        if shared.live.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            continue;
        }
        shared.live.fetch_add(1, Ordering::SeqCst);
        next_id += 1;
        let id = next_id;
        let shared = Arc::clone(&shared);
        thread::spawn(move || {
            if let Ok(conn) = Conn::new(stream, POLL) {
                Session::run(id, conn, &shared);
            }
            shared.live.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// One connection from hello to goodbye.
struct Session<'a> {
    id: u64,
    conn: Conn,
    shared: &'a Shared,
}

impl Session<'_> {
    fn run(id: u64, conn: Conn, shared: &Shared) {
        let mut session = Session { id, conn, shared };
        let Some((nick, inbound)) = session.hello() else {
            return;
        };
        if shared.log {
            eprintln!("toy room: {nick} joined");
        }
        let why = session.chat(&nick, inbound);
        if shared.log {
            eprintln!("toy room: {nick} left ({why})");
        }
        lock(&shared.members).remove(&id);
        session.broadcast(&ServerEvent::Left {
            room: "#class".into(),
            nick,
            reason: why.to_owned(),
            time: unix_millis(),
        });
    }

    /// Waits for one frame, polling the stop flag; `None` when closed, stopped or out of time.
    fn next_frame(&mut self, deadline: Option<Instant>) -> Option<Vec<u8>> {
        loop {
            if self.shared.stop.load(Ordering::SeqCst) {
                return None;
            }
            match self.conn.recv() {
                Ok(frame) => return frame,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if deadline.is_some_and(|d| Instant::now() > d) {
                        return None;
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// Reads and answers the hello (with the `handshake`), then reads the client's `confirm`
    /// under the new key and welcomes it. On success the nick and the inbound side of the
    /// session.
    fn hello(&mut self) -> Option<(String, Inbound)> {
        let shared = self.shared;
        let deadline = Instant::now() + STEP;
        let frame = self.next_frame(Some(deadline))?;
        // This connection's own replay memory (protocol version 2).
        let mut inbound = Inbound::per_connection(shared.class_key.clone(), shared.policy, 10_000);
        let value = match inbound.accept::<AnyClientEvent>(&frame, unix_now()) {
            Ok(AnyClientEvent(value)) => value,
            Err(Refusal::Decode(DecodeError::Token(_))) => {
                // We cannot seal a reply the sender could read: the plaintext line, as the
                // class server does.
                let _ = self
                    .conn
                    .send(wrong_key_line(shared.class_key.fingerprint()).as_bytes());
                return None;
            }
            Err(refusal) => {
                self.refuse(refusal.code(), refusal.to_string());
                return None;
            }
        };
        let (nick, version) = match serde_json::from_value::<ClientEvent>(value.clone()) {
            Ok(ClientEvent::Hello { nick, version, .. }) => (nick, version),
            Ok(_) => {
                self.refuse(
                    ErrorCode::HelloFirst,
                    "the first message must be a hello".into(),
                );
                return None;
            }
            Err(e) => {
                self.refuse(ErrorCode::BadField, format!("bad hello: {e}"));
                return None;
            }
        };
        if version != PROTOCOL_VERSION {
            self.refuse(
                ErrorCode::VersionUnsupported,
                format!("this room speaks protocol version {PROTOCOL_VERSION}"),
            );
            return None;
        }
        let Some(client_nonce) = wire::nonce_of(&value) else {
            self.refuse(
                ErrorCode::BadField,
                "a version-2 hello needs a 16-byte nonce".into(),
            );
            return None;
        };
        if let Err(e) = validate_nick(&nick) {
            self.refuse(ErrorCode::NickInvalid, e.to_string());
            return None;
        }
        let server_nonce = Nonce::generate();
        let (send, receive, room, server_public) = match wire::kex_of(&value) {
            KEX_PSK => {
                let keys = psk_session_keys(&shared.class_key, &client_nonce, &server_nonce);
                let room = shared.class_key.clone();
                (keys.server_to_client, keys.client_to_server, room, None)
            }
            KEX_X25519 => {
                let client = match wire::public_of(&value).map(PublicShare::from_wire) {
                    Some(Ok(client)) => client,
                    Some(Err(e)) => {
                        self.refuse(ErrorCode::KexFailed, e.to_string());
                        return None;
                    }
                    None => {
                        self.refuse(
                            ErrorCode::KexFailed,
                            "an x25519 hello needs kex_public".into(),
                        );
                        return None;
                    }
                };
                let ours = Ephemeral::generate();
                let public = ours.public();
                match ours.finish(Role::Server, &client) {
                    Ok(keys) => (keys.send.clone(), keys.receive, keys.send, Some(public)),
                    Err(e) => {
                        self.refuse(ErrorCode::KexFailed, e.to_string());
                        return None;
                    }
                }
            }
            other => {
                self.refuse(
                    ErrorCode::KexUnsupported,
                    format!("this room offers psk and x25519, not {other:?}"),
                );
                return None;
            }
        };
        if lock(&shared.members)
            .values()
            .any(|m| nick_key(&m.nick) == nick_key(&nick))
        {
            self.refuse(ErrorCode::NickTaken, format!("the nick {nick} is taken"));
            return None;
        }
        let handshake = ServerEvent::Handshake {
            version: PROTOCOL_VERSION,
            nonce: client_nonce.to_wire(),
            server_nonce: server_nonce.to_wire(),
            kex: wire::kex_of(&value).to_owned(),
            // Filled in below by `wire::with_public` for an x25519 session.
            kex_public: None,
            kex_confirm: None,
            kex_identity: None,
            kex_signature: None,
        };
        let handshake = match server_public {
            Some(public) => wire::with_public(&handshake, public),
            None => serde_json::to_value(&handshake).expect("events serialize"),
        };
        // The handshake goes under the class key: the client cannot have the session key
        // before it has read our nonce (and public key) from this very message.
        let _ = self.conn.send(&seal(&shared.class_key, &handshake));
        // The client's confirm, under its new key: the proof that it derived the same keys.
        inbound.rekey(receive);
        let frame = self.next_frame(Some(deadline))?;
        let confirm = match inbound.accept::<AnyClientEvent>(&frame, unix_now()) {
            Ok(AnyClientEvent(value)) if wire::type_of(&value) == "confirm" => value,
            Ok(_) | Err(_) => {
                let event = ServerEvent::Error {
                    code: ErrorCode::KexFailed,
                    message: "the first frame after the handshake must be a confirm under the \
                              session key"
                        .into(),
                    time: unix_millis(),
                    signature: None,
                };
                let _ = self.conn.send(&seal(&send, &event));
                return None;
            }
        };
        let welcome = {
            let mut members = lock(&shared.members);
            if members
                .values()
                .any(|m| nick_key(&m.nick) == nick_key(&nick))
            {
                drop(members);
                self.refuse(ErrorCode::NickTaken, format!("the nick {nick} is taken"));
                return None;
            }
            let Ok(out) = self.conn.try_clone_stream() else {
                return None;
            };
            members.insert(
                self.id,
                Member {
                    nick: nick.clone(),
                    out,
                    send: send.clone(),
                    room,
                },
            );
            let mut users: Vec<String> = members.values().map(|m| m.nick.clone()).collect();
            users.sort_by_key(|n| nick_key(n));
            ServerEvent::Welcome {
                room: "#class".into(),
                nick: nick.clone(),
                users,
                version: PROTOCOL_VERSION,
                server: "labkit toy room".into(),
                max_text: fernchat::protocol::event::DEFAULT_MAX_TEXT,
                time: unix_millis(),
                room_key: None,
                missed: None,
                // The toy room has no staff: everyone is a student.
                role: Default::default(),
                roles: Default::default(),
            }
        };
        lock(&shared.heard).extend([value, confirm].map(|event| Heard {
            nick: nick.clone(),
            event,
        }));
        // The welcome, like everything meant for this member alone, under its session key.
        let _ = self.conn.send(&seal(&send, &welcome));
        self.broadcast_except(
            Some(self.id),
            &ServerEvent::Joined {
                room: "#class".into(),
                nick: nick.clone(),
                time: unix_millis(),
                role: Default::default(),
            },
        );
        Some((nick, inbound))
    }

    /// The chat after the welcome, until bye, close or stop. Returns why it ended.
    fn chat(&mut self, nick: &str, mut inbound: Inbound) -> &'static str {
        while let Some(frame) = self.next_frame(None) {
            let value = match inbound.accept::<AnyClientEvent>(&frame, unix_now()) {
                Ok(AnyClientEvent(value)) => value,
                Err(refusal) => {
                    self.error(refusal.code(), refusal.to_string());
                    continue;
                }
            };
            lock(&self.shared.heard).push(Heard {
                nick: nick.to_owned(),
                event: value.clone(),
            });
            let time = unix_millis();
            match serde_json::from_value::<ClientEvent>(value) {
                Ok(ClientEvent::Say { room: _, text }) | Ok(ClientEvent::Me { room: _, text })
                    if validate_text(&text, 2000).is_err() =>
                {
                    self.error(
                        ErrorCode::BadText,
                        "message not sent: empty, too long or with control characters".into(),
                    );
                }
                Ok(ClientEvent::Say { room: _, text }) => {
                    self.broadcast(&ServerEvent::Message {
                        room: "#class".into(),
                        id: 0,
                        from: nick.to_owned(),
                        text,
                        time,
                    });
                }
                Ok(ClientEvent::Me { room: _, text }) => {
                    self.broadcast(&ServerEvent::Action {
                        room: "#class".into(),
                        id: 0,
                        from: nick.to_owned(),
                        text,
                        time,
                    });
                }
                Ok(ClientEvent::Who { .. }) => {
                    let mut users: Vec<String> = lock(&self.shared.members)
                        .values()
                        .map(|m| m.nick.clone())
                        .collect();
                    users.sort_by_key(|n| nick_key(n));
                    self.reply(&ServerEvent::Users {
                        room: "#class".into(),
                        users,
                        time,
                        roles: Default::default(),
                    });
                }
                Ok(ClientEvent::Ping { id }) => self.reply(&ServerEvent::Pong { id }),
                Ok(ClientEvent::Pong { .. }) => {}
                Ok(ClientEvent::Confirm { .. }) => self.error(
                    ErrorCode::KexFailed,
                    "the toy room has no key exchange to confirm".into(),
                ),
                Ok(ClientEvent::Bye { .. }) => return "quit",
                Ok(ClientEvent::Hello { .. }) => {
                    self.error(ErrorCode::HelloFirst, "you already said hello".into())
                }
                Ok(ClientEvent::Msg { .. } | ClientEvent::Nick { .. }) => {
                    self.error(
                        ErrorCode::UnknownType,
                        "the toy room has no private messages or nick changes".into(),
                    );
                }
                // Staff commands (PROTOCOL.md section 9): the toy room has no staff.
                Ok(_) => self.error(
                    ErrorCode::NotPermitted,
                    "the toy room has no staff commands".into(),
                ),
                Err(e) => self.error(ErrorCode::BadField, e.to_string()),
            }
        }
        "connection closed"
    }

    /// Refuses a hello: an error under the class key (no session key exists yet).
    fn refuse(&mut self, code: ErrorCode, message: String) {
        let event = ServerEvent::Error {
            code,
            message,
            time: unix_millis(),
            signature: None,
        };
        let _ = self.conn.send(&seal(&self.shared.class_key, &event));
    }

    /// An error to this member, under its session key.
    fn error(&mut self, code: ErrorCode, message: String) {
        self.reply(&ServerEvent::Error {
            code,
            message,
            time: unix_millis(),
            signature: None,
        });
    }

    fn reply(&mut self, event: &ServerEvent) {
        let mut members = lock(&self.shared.members);
        if let Some(member) = members.get_mut(&self.id) {
            let _ = member.out.write_all(&seal(&member.send, event));
        }
    }

    fn broadcast(&self, event: &ServerEvent) {
        self.broadcast_except(None, event);
    }

    /// Sends `event` to every member but `except`, under its room key: the class key in
    /// `psk`, its own session key with `x25519`. (The class server seals a `psk` broadcast once
    /// for everybody; a toy room seals it per member.)
    fn broadcast_except(&self, except: Option<u64>, event: &ServerEvent) {
        let mut members = lock(&self.shared.members);
        for (id, member) in members.iter_mut() {
            if Some(*id) != except {
                let _ = member.out.write_all(&seal(&member.room, event));
            }
        }
    }
}
