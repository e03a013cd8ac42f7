//! One client connection: a reader thread and a writer thread.
//!
//! The reader does the expensive, per-client work in parallel with every other reader:
//! rate-limiting, decrypting, judging time and replays (in this connection's own replay
//! memory), decoding JSON, checking nicks and text, and the server's half of the version-2
//! handshake: it answers a hello with the session keys and waits for the client's `confirm`
//! under them before anything of this client reaches the room. It hands the hub only events
//! that are ready to act on, or a refusal to pass back.
//!
//! The writer drains what the hub hands off to the socket, coalescing what is waiting into
//! one write; the hub sends directly while the socket takes it without blocking (see
//! [`super::outbound`]). The writer alone may block on the socket, and only up to the write
//! timeout.
//!
//! Neither thread touches room state: that is the hub's. The hub ends a connection by closing
//! its queue: the writer flushes what is left (a `bye`), then shuts the socket down, which
//! ends the reader.
//!
//! The three users of the socket (reader, writer, the hub's direct sends and its cutting off
//! of a client) share one `Arc<TcpStream>`: one file descriptor per client, not three.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crossbeam_channel::Sender;

use crate::crypto::{RoomKey, unix_now};
use crate::kex::{
    Confirming, Ephemeral, KEX_X25519, KEX_X25519_PSK_SIGNED, Nonce, Psk, PublicShare, Role,
    Transcript, psk_session_keys,
};
use crate::protocol::event::{
    KEX_PSK, MAX_CLIENT_NAME, NickError, valid_client_name, validate_nick, validate_text,
};
use crate::protocol::{
    ClientEvent, DecodeError, ErrorCode, FrameError, FrameReader, Inbound, PROTOCOL_VERSION,
    Refusal, ServerEvent,
};
use crate::roster::admit::{Member, refused_key_message};
use crate::roster::keys::Identified;
use crate::server::LiveConnection;
use crate::server::ServerConfig;
use crate::server::flood::{FloodGuard, Verdict};
use crate::server::hub::{HubEvent, Session};
use crate::server::outbound::{self, OutState, Outbound};
use crate::server::rotation::Rotation;

/// Stack of a writer thread, which only copies bytes to a socket. Only the pages a thread
/// touches cost memory, so this is about address space (std's default is 2 MiB). Readers keep
/// the default: they parse what peers send, and JSON nested as deep as serde_json allows
/// overflowed a 256 KiB stack in the unoptimised build (tests/server_hostile.rs).
const WRITER_STACK: usize = 128 * 1024;

/// The incoming side of a new connection, with its own replay memory: a token can be replayed
/// only on the connection whose session keys made it, so the memory is this connection's alone
/// and dies with it. Its bound is what the rate limit lets the client send within the time
/// window (burst plus rate times window), never more than `config.replay_capacity`: the flood
/// guard refuses frames over the rate before they are decrypted, so an honest or hostile
/// client cannot reach it, and if it somehow did, only this connection would be refused
/// (`replay_memory_full`).
pub(crate) fn inbound_for(config: &ServerConfig) -> Inbound {
    let window = config.time_policy.connection_window_secs();
    let limits = config.flood;
    let by_rate = f64::from(limits.burst) + limits.per_second.max(0.0) * window as f64;
    // `as` saturates for floats: a huge rate gives usize::MAX, then capped below.
    let capacity = (by_rate.ceil() as usize)
        .saturating_add(16)
        .min(config.replay_capacity);
    Inbound::per_connection(config.hello_ring(), config.time_policy, capacity)
}

/// Starts the reader and writer threads for a new connection and introduces it to the hub.
pub(crate) fn spawn(
    id: u64,
    peer: SocketAddr,
    stream: TcpStream,
    inbound: Inbound,
    config: Arc<ServerConfig>,
    hub: Sender<HubEvent>,
    counted: LiveConnection,
) -> io::Result<()> {
    // Without TCP_NODELAY, Nagle's algorithm holds small frames back for tens of milliseconds.
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(config.write_timeout))?;
    let stream = Arc::new(stream);
    let (tx, rx) = crossbeam_channel::unbounded();
    let state = Arc::new(OutState::default());
    let writer = {
        let stream = Arc::clone(&stream);
        let state = Arc::clone(&state);
        thread::Builder::new()
            .name(format!("fernchat-write-{id}"))
            .stack_size(WRITER_STACK)
            .spawn(move || outbound::write_loop(stream, rx, state))?
    };
    let outbound = Outbound::new(tx, state, Arc::clone(&stream), writer.thread().clone());
    // The hub learns of the client before the reader can report anything about it.
    let _ = hub.send(HubEvent::Connected {
        id,
        peer,
        outbound,
        writer,
    });
    let reader_hub = hub.clone();
    let spawned = thread::Builder::new()
        .name(format!("fernchat-read-{id}"))
        .spawn(move || {
            let reader = Reader {
                id,
                phase: Phase::Hello,
                inbound,
                flood: counted.flood_guard(config.flood, Instant::now()),
                config,
                hub: reader_hub,
                hello_key: None,
                member: None,
            };
            reader.run(stream);
            // Counted until the reader is done with the socket.
            drop(counted);
        });
    if let Err(e) = spawned {
        let _ = hub.send(HubEvent::Closed {
            id,
            why: "the server could not start a thread for it".into(),
        });
        return Err(e);
    }
    Ok(())
}

/// The state of one reader thread.
struct Reader {
    id: u64,
    /// Where this connection is in the handshake.
    phase: Phase,
    inbound: Inbound,
    flood: FloodGuard,
    config: Arc<ServerConfig>,
    hub: Sender<HubEvent>,
    /// Roster mode: the key that opened the hello (the `K` of PROTOCOL.md), found by the
    /// roster lookup rather than in the server's ring.
    hello_key: Option<RoomKey>,
    /// Roster mode: the student (or guest) the hello's key belongs to.
    member: Option<Member>,
}

/// Where a connection is in the version-2 handshake (PROTOCOL.md section 2).
enum Phase {
    /// Waiting for the hello (sealed with a class key of the ring).
    Hello,
    /// The hello was accepted and the `handshake` sent; the next frame must be the client's
    /// `confirm`, opened with the client-to-server key (and, in the `x25519-psk` modes, with
    /// the MAC we expect). Until then nothing from this client reaches the room.
    Confirming(Option<Confirming>),
    /// Confirmed: chat events are passed to the hub.
    Joined,
}

/// What the reader does after one frame.
enum Next {
    Continue,
    Stop,
}

impl Reader {
    fn run(mut self, stream: Arc<TcpStream>) {
        let mut frames = FrameReader::new(&*stream, self.config.max_line);
        let why = loop {
            match frames.read_frame() {
                Ok(Some(frame)) => {
                    if let Next::Stop = self.on_frame(frame) {
                        break "refused".to_owned();
                    }
                }
                Ok(None) => break "connection closed".to_owned(),
                Err(FrameError::LineTooLong { limit }) => {
                    // The reader has already started discarding the rest of the line.
                    self.reject(
                        ErrorCode::LineTooLong,
                        format!("a line was longer than the server's limit of {limit} bytes and was dropped"),
                        false,
                    );
                }
                Err(FrameError::TruncatedAtEof) => {
                    break "connection closed mid-message".to_owned();
                }
                Err(FrameError::Io(e)) => break format!("connection lost ({})", e.kind()),
            }
        };
        let _ = self.hub.send(HubEvent::Closed { id: self.id, why });
    }

    fn on_frame(&mut self, frame: &[u8]) -> Next {
        // Rate limits come first so a flood of junk cannot make us spend CPU decrypting it.
        match self.flood.check(Instant::now()) {
            Verdict::Allow => {}
            Verdict::Refuse { notify } => {
                if notify {
                    let message = self.flood.refusal_message();
                    self.reject(ErrorCode::RateLimited, message, false);
                }
                return Next::Continue;
            }
            Verdict::Disconnect => {
                self.reject(
                    ErrorCode::Flooding,
                    "disconnected for flooding: you kept sending after being told to slow down"
                        .into(),
                    true,
                );
                return Next::Stop;
            }
        }
        let first = self.inbound.peer_clock().is_none();
        if matches!(self.phase, Phase::Hello)
            && let Next::Stop = self.identify(frame)
        {
            return Next::Stop;
        }
        match self.inbound.accept_opened::<ClientEvent>(frame, unix_now()) {
            Ok((event, key_index)) => self.on_event(event, key_index),
            Err(Refusal::Decode(DecodeError::Token(_))) if first => {
                let _ = self.hub.send(HubEvent::WrongKey { id: self.id });
                Next::Stop
            }
            Err(refusal) if matches!(self.phase, Phase::Confirming(_)) => {
                // The client's first frame after the handshake must open with the session
                // key: one that does not was sealed by someone who derived other keys, or is
                // a frame recorded on another connection.
                self.reject(
                    ErrorCode::KexFailed,
                    format!(
                        "key confirmation failed: your first message after the handshake was \
                         refused ({refusal}); you derived other session keys than the server \
                         (another class key, or someone in the middle)"
                    ),
                    true,
                );
                Next::Stop
            }
            Err(refusal) => {
                let message = match &refusal {
                    Refusal::Decode(DecodeError::Token(e)) => {
                        format!("a message could not be decrypted and was dropped: {e}")
                    }
                    Refusal::Clock(e) => format!("your clock is wrong: {e}"),
                    other => format!("a message was refused: {other}"),
                };
                // A connection whose first token is refused has not shown it belongs here.
                self.reject(refusal.code(), message, first);
                if first { Next::Stop } else { Next::Continue }
            }
        }
    }

    /// Checks the rules that need no room state, then passes the event to the hub.
    fn on_event(&mut self, event: ClientEvent, key_index: usize) -> Next {
        match std::mem::replace(&mut self.phase, Phase::Joined) {
            Phase::Confirming(confirming) => return self.on_confirm(confirming.as_ref(), event),
            Phase::Hello => {
                let ClientEvent::Hello {
                    nick,
                    version,
                    kex,
                    kex_public,
                    nonce,
                    since,
                    client,
                } = event
                else {
                    self.reject(
                        ErrorCode::HelloFirst,
                        "the first message must be a hello: {\"type\":\"hello\",\"nick\":...,\
                         \"version\":2,\"nonce\":...}"
                            .into(),
                        true,
                    );
                    return Next::Stop;
                };
                let hello = HelloFields {
                    nick,
                    version,
                    kex,
                    kex_public,
                    nonce,
                    since,
                    client,
                    key_index,
                };
                return self.on_hello(hello);
            }
            Phase::Joined => {}
        }
        if let ClientEvent::Confirm { .. } = event {
            self.reject(
                ErrorCode::KexFailed,
                "there is no key exchange to confirm on this connection".into(),
                false,
            );
            return Next::Continue;
        }
        if let ClientEvent::Hello { .. } = event {
            // A second key exchange would change keys under the hub's feet.
            self.reject(
                ErrorCode::HelloFirst,
                "you already said hello; use /nick to change your nick".into(),
                false,
            );
            return Next::Continue;
        }
        let max_text = self.config.max_text;
        let checked = match &event {
            ClientEvent::Nick { nick } => nick_rule(nick)
                .and_then(|()| self.member_may_use(nick))
                .map_err(|e| (e, false)),
            ClientEvent::Say { text, .. }
            | ClientEvent::Me { text, .. }
            | ClientEvent::Msg { text, .. } => validate_text(text, max_text).map_err(|e| {
                (
                    (ErrorCode::BadText, format!("message not sent: {e}")),
                    false,
                )
            }),
            _ => Ok(()),
        };
        let event = match event {
            // A reason is shown to the room; one that breaks the text rules is dropped, not
            // the goodbye.
            ClientEvent::Bye { reason } => ClientEvent::Bye {
                reason: reason.filter(|r| validate_text(r, 200).is_ok()),
            },
            ClientEvent::Part { room, reason } => ClientEvent::Part {
                room,
                reason: reason.filter(|r| validate_text(r, 200).is_ok()),
            },
            other => other,
        };
        match checked {
            Ok(()) => {
                let _ = self.hub.send(HubEvent::Event { id: self.id, event });
                Next::Continue
            }
            Err(((code, message), close)) => {
                self.reject(code, message, close);
                if close { Next::Stop } else { Next::Continue }
            }
        }
    }

    /// Checks a hello against every rule that needs no room state, runs the key exchange it
    /// asks for, and hands the hub a hello ready to answer with the `handshake` (the hub checks
    /// that the nick is free and that there is room).
    fn on_hello(&mut self, hello: HelloFields) -> Next {
        let HelloFields {
            nick,
            version,
            kex,
            kex_public,
            nonce,
            since,
            client,
            key_index,
        } = hello;
        // The key that opened the hello: everything we say before the session keys exist is
        // sealed with it, and in `psk` the session keys come from it (PROTOCOL.md).
        let Some(class_key) = self
            .hello_key
            .clone()
            .or_else(|| self.config.hello_ring().nth(key_index))
        else {
            return Next::Stop;
        };
        let client_nonce = nonce.as_deref().and_then(Nonce::from_wire);
        // Refusals of a signed hello are signed, over the client's nonce, so that a client in
        // the signed mode can tell them from a forgery (issue 12 item 5).
        let signer = match (kex.as_str(), client_nonce) {
            (KEX_X25519_PSK_SIGNED, Some(nonce)) if self.config.identity.is_some() => Some(nonce),
            _ => None,
        };
        let refuse = |reader: &Self, code: ErrorCode, message: String| {
            let _ = reader.hub.send(HubEvent::RefuseHello {
                id: reader.id,
                code,
                message,
                key_index,
                signer,
            });
            Next::Stop
        };
        // The version first: a hello of another version may lack what version 2 requires.
        if version != PROTOCOL_VERSION {
            return refuse(
                self,
                ErrorCode::VersionUnsupported,
                format!(
                    "this server speaks protocol version {PROTOCOL_VERSION} and your client \
                     speaks {version}; use a client of the same fernchat version"
                ),
            );
        }
        // An old key of a rotation, past its deadline: refused under that key, so that the
        // client can read why and whose keyfile to get.
        if key_index != 0 {
            let rotation = Rotation::of(&self.config);
            if rotation.retired(key_index, self.config.clock.now_millis()) {
                return refuse(self, ErrorCode::KeyRetired, rotation.refusal(key_index));
            }
        }
        let Some(client_nonce) = client_nonce else {
            return refuse(
                self,
                ErrorCode::BadField,
                "a version-2 hello needs \"nonce\": 16 random bytes in URL-safe base64".into(),
            );
        };
        if let Err((code, message)) = nick_rule(&nick).and_then(|()| self.member_may_use(&nick)) {
            return refuse(self, code, message);
        }
        // Shown to staff by `whois`: a name that could rewrite their terminal, or fill it, is
        // refused rather than cut, so that a client author sees the mistake at once.
        if client
            .as_deref()
            .is_some_and(|name| !valid_client_name(name))
        {
            return refuse(
                self,
                ErrorCode::BadField,
                format!(
                    "the hello's \"client\" names your program for staff: 1 to \
                     {MAX_CLIENT_NAME} printable ASCII characters, such as \"fernchat 0.1.0\" \
                     (leave it out if you have none)"
                ),
            );
        }
        let offered = self.offered();
        if !offered.contains(&kex.as_str()) {
            let message = format!(
                "this server offers the key exchanges {}; your client asked for {kex:?}",
                offered
                    .iter()
                    .map(|k| format!("\"{k}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return refuse(self, ErrorCode::KexUnsupported, message);
        }
        let server_nonce = Nonce::generate();
        let exchange = match kex.as_str() {
            KEX_PSK => {
                let keys = psk_session_keys(&class_key, &client_nonce, &server_nonce);
                Ok(Exchange {
                    receive: keys.client_to_server,
                    send: keys.server_to_client,
                    fields: KexFields::default(),
                    confirming: None,
                })
            }
            KEX_X25519 => exchange_x25519(kex_public.as_deref()),
            // `offered` holds nothing else: the two PSK exchanges.
            _ => self.exchange_psk(&class_key, &kex, &nick, kex_public.as_deref()),
        };
        let exchange = match exchange {
            Ok(exchange) => exchange,
            Err(message) => return refuse(self, ErrorCode::KexFailed, message),
        };
        // From here on this connection's frames open only with the client-to-server key: a
        // frame the server sealed (a ping, a broadcast) sent back to it is undecryptable.
        self.inbound.rekey(exchange.receive);
        self.phase = Phase::Confirming(exchange.confirming);
        let fields = exchange.fields;
        let handshake = ServerEvent::Handshake {
            version: PROTOCOL_VERSION,
            nonce: client_nonce.to_wire(),
            server_nonce: server_nonce.to_wire(),
            kex: kex.clone(),
            kex_public: fields.public,
            kex_confirm: fields.confirm,
            kex_identity: fields.identity,
            kex_signature: fields.signature,
        };
        let _ = self.hub.send(HubEvent::Hello {
            id: self.id,
            nick,
            since,
            client,
            key_index,
            // From the key that opened the hello, never from anything the client said: the
            // roster's entry for a student's own key, else a staff or class key of the ring.
            role: match &self.member {
                Some(member) => role_of(member),
                None => self.config.role_of_key(key_index),
            },
            signer,
            handshake,
            session: Session {
                send: exchange.send,
                // `psk`: room broadcasts go out once per class key in use, sealed with the
                // key of the hello; the other modes seal each client's copy with its own key.
                broadcast: (kex == KEX_PSK).then_some(key_index),
            },
        });
        Next::Continue
    }

    /// Roster mode: finds which key opened the hello (a student's, a guest's, or a withdrawn
    /// one) and sets this connection up to open it; tells the hub whose key it is. A withdrawn
    /// key is refused here, under that key, so its holder reads why. A key nobody holds falls
    /// through to the ordinary wrong-key answer.
    fn identify(&mut self, frame: &[u8]) -> Next {
        let Some(roster) = &self.config.roster else {
            return Next::Continue;
        };
        let keyring = roster.current();
        let (key, member) = match keyring.identify(frame) {
            Ok(Identified::Student { entry, key, .. }) => {
                (key.clone(), Some(Member::student(entry)))
            }
            Ok(Identified::Guest { opened }) => {
                let Some(guests) = keyring.guests() else {
                    return Next::Continue;
                };
                self.inbound.rekey(guests.clone());
                match guests.nth(opened.key_index) {
                    Some(key) => (key, Some(Member::Guest)),
                    None => return Next::Continue,
                }
            }
            Ok(Identified::Refused {
                entry,
                generation,
                fingerprint,
                key,
                why,
            }) => {
                let _ = self.hub.send(HubEvent::Identified {
                    id: self.id,
                    key: key.clone(),
                    member: None,
                    refused: Some(format!(
                        "the key of {} (generation {generation}, fingerprint {fingerprint}) is \
                         no longer accepted ({why})",
                        entry.login
                    )),
                });
                let _ = self.hub.send(HubEvent::RefuseHello {
                    id: self.id,
                    code: ErrorCode::KeyRevoked,
                    message: refused_key_message(&entry.login, generation, fingerprint, why),
                    key_index: 0,
                    signer: None,
                });
                return Next::Stop;
            }
            Ok(Identified::Unknown) | Err(_) => return Next::Continue,
        };
        if matches!(member, Some(Member::Student { .. })) {
            self.inbound.rekey(key.clone());
        }
        let _ = self.hub.send(HubEvent::Identified {
            id: self.id,
            key: key.clone(),
            member: member.clone(),
            refused: None,
        });
        self.hello_key = Some(key);
        self.member = member;
        Next::Continue
    }

    /// Roster mode: whether this connection's key may use `nick` (a student's nick is the
    /// login; a guest's starts with `guest-`).
    fn member_may_use(&self, nick: &str) -> Result<(), (ErrorCode, String)> {
        match &self.member {
            Some(member) => member
                .may_use(nick)
                .map_err(|message| (ErrorCode::NickReserved, message)),
            None => Ok(()),
        }
    }

    /// The key exchanges this server accepts: the configured ones it can serve (a signed
    /// exchange needs an identity key).
    fn offered(&self) -> Vec<&'static str> {
        self.config
            .kex
            .iter()
            .copied()
            .filter(|&k| crate::kex::ALL_KEX.contains(&k))
            .filter(|&k| k != KEX_X25519_PSK_SIGNED || self.config.identity.is_some())
            .collect()
    }

    /// The server's half of `x25519-psk` and `x25519-psk-signed` (PROTOCOL.md section 7): the
    /// `x25519` exchange with the PSK (of the class key that opened the hello) as HKDF salt
    /// and the transcript in every key; our confirmation MAC (and signature) for the
    /// handshake. The session is not usable until the client's `confirm` checks out
    /// ([`Reader::on_confirm`]).
    fn exchange_psk(
        &self,
        class_key: &RoomKey,
        kex: &str,
        nick: &str,
        kex_public: Option<&str>,
    ) -> Result<Exchange, String> {
        let client = parse_public(kex, kex_public)?;
        let ours = Ephemeral::generate();
        let public = ours.public();
        let identity = match kex {
            KEX_X25519_PSK_SIGNED => self.config.identity.as_ref(),
            _ => None,
        };
        let identity_key = identity.map(|i| i.public());
        let transcript = Transcript::new(
            kex,
            nick,
            &client,
            &public,
            identity_key.as_ref().map(|k| &k.0),
        );
        let psk = Psk::from_class_key(class_key);
        let confirming = ours
            .finish_psk(Role::Server, &client, &psk, &transcript)
            .map_err(|_| {
                "your public key is a low-order point: the shared secret would be public".to_owned()
            })?;
        Ok(Exchange {
            receive: confirming.keys.receive.clone(),
            send: confirming.keys.send.clone(),
            fields: KexFields {
                public: Some(public.to_wire()),
                confirm: Some(confirming.ours_wire()),
                identity: identity_key.map(|k| k.to_wire()),
                signature: identity.map(|i| i.sign(&transcript)),
            },
            confirming: Some(confirming),
        })
    }

    /// The first event after the `handshake`: it must be the client's `confirm`, opened with
    /// the session key (already checked by the reader) and, in the `x25519-psk` modes, with
    /// the MAC we expect. Anything else ends the connection before it reaches the room.
    fn on_confirm(&mut self, confirming: Option<&Confirming>, event: ClientEvent) -> Next {
        let checked = match (&event, confirming) {
            (ClientEvent::Confirm { mac: Some(mac) }, Some(confirming)) => {
                confirming.check(mac).map_err(|e| e.to_string())
            }
            (ClientEvent::Confirm { mac: None }, Some(_)) => {
                Err("the confirm of an x25519-psk exchange needs its \"mac\"".to_owned())
            }
            (ClientEvent::Confirm { .. }, None) => Ok(()),
            (other, _) => Err(format!(
                "the first message after the handshake must be \"confirm\", not {:?}",
                event_name(other)
            )),
        };
        match checked {
            Ok(()) => {
                let _ = self.hub.send(HubEvent::Confirmed { id: self.id });
                Next::Continue
            }
            Err(why) => {
                self.reject(ErrorCode::KexFailed, why, true);
                Next::Stop
            }
        }
    }

    fn reject(&self, code: ErrorCode, message: String, close: bool) {
        let _ = self.hub.send(HubEvent::Reject {
            id: self.id,
            code,
            message,
            close,
        });
    }
}

/// The fields of a hello, with the index (in the server's ring) of the key that opened it.
struct HelloFields {
    nick: String,
    version: u32,
    kex: String,
    kex_public: Option<String>,
    nonce: Option<String>,
    since: Option<u64>,
    client: Option<String>,
    key_index: usize,
}

/// The kex fields of a `handshake`.
#[derive(Default)]
struct KexFields {
    public: Option<String>,
    confirm: Option<String>,
    identity: Option<String>,
    signature: Option<String>,
}

/// What a key exchange gave the reader: the session keys, what the handshake carries, and
/// (in the `x25519-psk` modes) the confirmation to expect.
struct Exchange {
    receive: RoomKey,
    send: RoomKey,
    fields: KexFields,
    confirming: Option<Confirming>,
}

/// The server's half of the `x25519` exchange (PROTOCOL.md section 7): unauthenticated, so
/// the client's `confirm` has no MAC; opening under the new key is its proof.
fn exchange_x25519(kex_public: Option<&str>) -> Result<Exchange, String> {
    let client = parse_public(KEX_X25519, kex_public)?;
    let ours = Ephemeral::generate();
    let public = ours.public();
    let keys = ours.finish(Role::Server, &client).map_err(|_| {
        "your public key is a low-order point: the shared secret would be public".to_owned()
    })?;
    Ok(Exchange {
        receive: keys.receive,
        send: keys.send,
        fields: KexFields {
            public: Some(public.to_wire()),
            ..KexFields::default()
        },
        confirming: None,
    })
}

/// The client's public key from its hello.
fn parse_public(kex: &str, kex_public: Option<&str>) -> Result<PublicShare, String> {
    let text = kex_public
        .ok_or_else(|| format!("a hello with kex {kex:?} needs your public key in kex_public"))?;
    PublicShare::from_wire(text)
        .map_err(|_| "kex_public is not 32 bytes of URL-safe base64".to_owned())
}

/// A roster member's role: the roster's word (`student`, `ta`, `instructor`), or a guest.
fn role_of(member: &Member) -> crate::role::Role {
    match member {
        Member::Student { role, .. } => role.parse().unwrap_or_default(),
        Member::Guest => crate::role::Role::Guest,
    }
}

/// The wire `type` of a client event, for messages.
fn event_name(event: &ClientEvent) -> String {
    serde_json::to_value(event)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str().map(str::to_owned)))
        .unwrap_or_default()
}

fn nick_rule(nick: &str) -> Result<(), (ErrorCode, String)> {
    validate_nick(nick).map_err(|e| {
        let code = match e {
            NickError::Reserved { .. } => ErrorCode::NickReserved,
            _ => ErrorCode::NickInvalid,
        };
        (code, format!("nick {nick:?} refused: {e}; choose another"))
    })
}
