//! The connection: one TCP socket to the server, from dialling to closing.
//!
//! This module owns dialling (with the teaching errors for "no server here"), the handshake of
//! protocol version 2 (`hello` with our nonce → `handshake` echoing it → our `confirm` under
//! the new session key → `welcome`, or a refusal, within a time limit; with `--kex`, the key
//! exchange, its key confirmation, the server's signature, the identity pin and signed
//! refusals), and the two threads that run a joined connection:
//!
//! - the **reader** decodes every frame through [`Inbound`] (key, freshness, this
//!   connection's replay memory, JSON), accepts what is meant for us alone only under the
//!   session key (room broadcasts also under the room's key), answers the server's pings
//!   itself, and forwards everything else to the session;
//! - the **writer** sends the frames the session queues, so a server that stops reading can
//!   never block the session (the queue is bounded; when full, sending fails at once).
//!
//! It must not keep chat state or decide about reconnecting: that is the session's job. It
//! never panics on anything the server sends.

use std::fmt;
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::client::error::{ConnectError, code_name};
use crate::client::pins::{KnownServers, Pin};
use crate::crypto::{Fingerprint, RoomKey, TimePolicy, TokenError, unix_now};
use crate::identity::{IdentityFingerprint, IdentityKey};
use crate::kex::{
    Ephemeral, KEX_X25519, KEX_X25519_PSK, KEX_X25519_PSK_SIGNED, Nonce, Psk, PublicShare, Role,
    Transcript, psk_session_keys,
};
use crate::protocol::codec::parse_wrong_key_line;
use crate::protocol::event::KEX_PSK;
use crate::protocol::{
    CLIENT_MAX_LINE, ClientEvent, DecodeError, ErrorCode, FrameError, FrameReader, Inbound,
    PROTOCOL_VERSION, Refusal, ServerEvent, seal,
};

/// Where the server is: a host name or IP address, and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddr {
    /// Name or address (`127.0.0.1`, `::1`, `chat.example.org`).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl ServerAddr {
    /// `host` and `port`.
    pub fn new(host: impl Into<String>, port: u16) -> ServerAddr {
        ServerAddr {
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An IPv6 address needs brackets, or its colons run into the port's.
        if self.host.contains(':') && !self.host.starts_with('[') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Every time limit of a connection. Each one bounds a wait that would otherwise be forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To establish the TCP connection, per address tried.
    pub connect: Duration,
    /// From sending `hello` to reading `welcome`.
    pub handshake: Duration,
    /// Silence after which the connection counts as dead. The server pings about every 30 s,
    /// so hearing nothing for much longer means the network or the server is gone even if no
    /// TCP error says so (a laptop lid closed, a cable pulled).
    pub silence: Duration,
    /// For one write to complete.
    pub write: Duration,
    /// After `bye`, how long to wait for the server to close, so our last frames arrive.
    pub quit: Duration,
    /// How often to ping the server ourselves. Its pong proves the connection alive even if
    /// the room is quiet, so `silence` never fires on a healthy connection, whatever the
    /// server's own ping interval.
    pub keepalive: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            handshake: Duration::from_secs(10),
            silence: Duration::from_secs(90),
            write: Duration::from_secs(10),
            quit: Duration::from_secs(2),
            keepalive: Duration::from_secs(30),
        }
    }
}

/// The key exchange the client asks for (`client --kex`, PROTOCOL.md section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KexChoice {
    /// Every frame under the class key (the default).
    #[default]
    Psk,
    /// Per-session keys from an ephemeral exchange, unauthenticated (lab 3).
    X25519,
    /// The exchange mixed with the PSK, with key confirmation (lab 5).
    X25519Psk,
    /// And the server's signature, pinned on first use (lab 6).
    X25519PskSigned,
}

impl KexChoice {
    /// Every choice, weakest first.
    pub const ALL: [KexChoice; 4] = [
        KexChoice::Psk,
        KexChoice::X25519,
        KexChoice::X25519Psk,
        KexChoice::X25519PskSigned,
    ];

    /// The `kex` of the hello.
    pub fn name(self) -> &'static str {
        match self {
            KexChoice::Psk => KEX_PSK,
            KexChoice::X25519 => KEX_X25519,
            KexChoice::X25519Psk => KEX_X25519_PSK,
            KexChoice::X25519PskSigned => KEX_X25519_PSK_SIGNED,
        }
    }

    /// The choice called `name`.
    pub fn from_name(name: &str) -> Option<KexChoice> {
        KexChoice::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// What the handshake established about the session's keys, for the front end to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Security {
    /// The key exchange of the session.
    pub kex: KexChoice,
    /// The server's identity and whether it was pinned just now (`x25519-psk-signed` only).
    pub identity: Option<(IdentityFingerprint, Pin)>,
}

impl Security {
    /// One sentence on what the key exchange established, for the front end to show once
    /// after joining; `None` for plain `psk`, which has nothing to add.
    pub fn describe(&self) -> Option<String> {
        if self.kex == KexChoice::Psk {
            return None;
        }
        let mut line = format!("session keys from {}", self.kex.name());
        match &self.identity {
            Some((fingerprint, Pin::New)) => line.push_str(&format!(
                "; first connection to this server: its identity {fingerprint} is now pinned. \
                 Check it with your instructor: from now on a different one is refused"
            )),
            Some((fingerprint, Pin::Known)) => {
                line.push_str(&format!("; server identity {fingerprint} matches your pin"))
            }
            None => {}
        }
        Some(line)
    }
}

/// What the server said in its `welcome`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    /// Our nick as registered.
    pub nick: String,
    /// Everyone online, including us.
    pub users: Vec<String>,
    /// The protocol version the server speaks.
    pub version: u32,
    /// Server software and version.
    pub server: String,
    /// The longest message text accepted, in characters.
    pub max_text: usize,
    /// The session's key exchange and the server's identity.
    pub security: Security,
    /// Our role, from the key we joined with.
    pub role: crate::role::Role,
    /// The role of everyone listed who is not a student.
    pub roles: std::collections::BTreeMap<String, crate::role::Role>,
    /// When we rejoined with `since`: how many room messages were said after it (the server
    /// replays the newest of them, perhaps not all).
    pub missed: Option<u64>,
}

/// A joined connection, between the handshake and [`Link::start`].
#[derive(Debug)]
pub(crate) struct Connection {
    stream: TcpStream,
    /// Keeps any bytes the server sent right after `welcome` (they may share a TCP segment).
    reader: FrameReader<TcpStream>,
    /// Keeps the server's clock offset measured from `welcome`; opens with the session's
    /// receive key.
    inbound: Inbound,
    /// Seals what we send: the class key, or the session's send key after a key exchange.
    send_key: RoomKey,
    /// `psk` with a `room_key` in the welcome (a roster server): the session's receive key,
    /// to pair with the new room key of a `rekey`.
    rekeyable: Option<RoomKey>,
    pub(crate) welcome: Welcome,
}

/// The most frames read while waiting for `welcome` (pings, say) before giving up.
const MAX_HANDSHAKE_FRAMES: usize = 32;

/// The most tokens that do not open with our key read before the first answer: a server in a
/// key rotation refuses a connection before its hello (`server_full`) once per key of its
/// ring, one line each, and we take the first that opens (PROTOCOL.md, section 5).
const MAX_REFUSAL_LINES: usize = 8;

/// How to run the key exchange: which one, and where the pins of server identities are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexSetup {
    /// The key exchange to ask for.
    pub kex: KexChoice,
    /// The pins for `x25519-psk-signed`.
    pub known_servers: KnownServers,
}

impl Default for KexSetup {
    fn default() -> Self {
        KexSetup {
            kex: KexChoice::Psk,
            known_servers: KnownServers::new(crate::client::pins::DEFAULT_KNOWN_SERVERS),
        }
    }
}

/// How many tokens one connection's replay memory may hold (it dies with the connection).
const REPLAY_CAPACITY: usize = 100_000;

/// Dials `target` and runs the version-2 handshake (PROTOCOL.md): `hello` with our nonce,
/// the server's `handshake` (which must echo it), our `confirm` under the new session key,
/// and the `welcome` under the server's. With a key exchange, also checks the server's
/// confirmation (and signature and pin). `since` is the id of the last room message shown
/// (when rejoining): the server then replays only newer ones.
pub(crate) fn open(
    target: &ServerAddr,
    key: &RoomKey,
    nick: &str,
    since: Option<u64>,
    timeouts: &Timeouts,
    setup: &KexSetup,
) -> Result<Connection, ConnectError> {
    let shown = target.to_string();
    let signed = setup.kex == KexChoice::X25519PskSigned;
    // A server pinned as a signed server is never spoken to in a weaker mode: someone in the
    // middle could have talked the user into it (issue 12 item 5). An unreadable pin file
    // does not stop the other modes; the signed mode reports it when it checks the pin.
    let pinned = setup.known_servers.get(&shown);
    if !signed && let Ok(Some(identity)) = &pinned {
        return Err(ConnectError::WeakerThanPin {
            target: shown,
            asked: setup.kex.name(),
            fingerprint: identity.fingerprint(),
            path: setup.known_servers.path().display().to_string(),
        });
    }
    let pinned = if signed {
        pinned.map_err(ConnectError::Pin)?
    } else {
        None
    };
    let stream = dial(target, timeouts.connect)?;
    let io_err = |source: io::Error| handshake_io_error(&shown, timeouts, source);
    let deadline = Instant::now() + timeouts.handshake;
    // Chat lines are small and typed by people: send each at once instead of letting Nagle's
    // algorithm hold it back to batch with the next one.
    stream.set_nodelay(true).map_err(io_err)?;
    stream
        .set_write_timeout(Some(timeouts.handshake))
        .map_err(io_err)?;
    let nonce = Nonce::generate();
    let ephemeral = (setup.kex != KexChoice::Psk).then(Ephemeral::generate);
    let hello = ClientEvent::Hello {
        kex_public: ephemeral.as_ref().map(|e| e.public().to_wire()),
        nick: nick.to_owned(),
        version: PROTOCOL_VERSION,
        kex: setup.kex.name().to_owned(),
        nonce: Some(nonce.to_wire()),
        since,
        // For staff's `/whois` (PROTOCOL.md section 9).
        client: Some(format!("fernchat {}", env!("CARGO_PKG_VERSION"))),
    };
    (&stream).write_all(&seal(key, &hello)).map_err(io_err)?;

    let mut reader = FrameReader::new(stream.try_clone().map_err(io_err)?, CLIENT_MAX_LINE);
    let mut inbound = Inbound::per_connection(key.clone(), TimePolicy::default(), REPLAY_CAPACITY);
    let handshake = Handshake {
        setup,
        class_key: key,
        nick,
        target: &shown,
        nonce,
        pinned,
    };
    let read = |reader: &mut FrameReader<TcpStream>| -> Result<Vec<u8>, ConnectError> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(handshake_timeout(&shown, timeouts));
        }
        stream.set_read_timeout(Some(remaining)).map_err(io_err)?;
        match reader.read_frame() {
            Ok(Some(line)) => Ok(line.to_vec()),
            Ok(None) | Err(FrameError::TruncatedAtEof) => {
                Err(ConnectError::ClosedDuringHandshake {
                    target: shown.clone(),
                })
            }
            Err(e) if e.is_timeout() => Err(handshake_timeout(&shown, timeouts)),
            Err(FrameError::LineTooLong { limit }) => Err(ConnectError::NotFernchat {
                target: shown.clone(),
                detail: format!("it sent a line longer than {limit} bytes"),
            }),
            Err(FrameError::Io(e)) => Err(io_err(e)),
        }
    };

    // 1. The server's handshake (or a refusal), sealed with the class key: the first frame.
    let answer = {
        let line = read(&mut reader)?;
        // The one plaintext line a fernchat server sends: checked before decrypting, because
        // it is by design not a token. Anyone can send it, so in the signed mode it is not
        // enough to blame the user's key.
        if let Some(server) = parse_wrong_key_line(&line) {
            if signed {
                return Err(handshake.unverified(format!(
                    "a plaintext line claiming that the server (key {server}) cannot read your \
                     hello (your key is {})",
                    key.fingerprint()
                )));
            }
            return Err(ConnectError::WrongKey {
                ours: key.fingerprint(),
                server: Some(server),
            });
        }
        // A token that does not open with our key may be a refusal under another key of a
        // rotating server's ring, followed by the same under ours: read on, a few lines at most.
        let mut opened = inbound.accept::<ServerEvent>(&line, unix_now());
        for _ in 0..MAX_REFUSAL_LINES {
            if !matches!(
                opened,
                Err(Refusal::Decode(DecodeError::Token(
                    TokenError::WrongKeyOrTampered { .. }
                )))
            ) {
                break;
            }
            // Closed, or anything but a token: the first line's verdict stands.
            let Ok(next) = read(&mut reader) else { break };
            match inbound.accept::<ServerEvent>(&next, unix_now()) {
                Err(Refusal::Decode(DecodeError::Token(_))) => {}
                other => opened = other,
            }
        }
        match opened {
            Ok(event @ ServerEvent::Handshake { .. }) => event,
            Ok(ServerEvent::Error {
                code,
                message,
                signature,
                ..
            }) => return Err(handshake.refusal(code, &message, signature.as_deref())),
            Ok(ServerEvent::Bye { code, reason, .. }) => {
                return Err(handshake.refusal(code, &reason, None));
            }
            // Nothing else may come before the handshake (its clock is the first we trust).
            Ok(other) => {
                return Err(ConnectError::BadReply {
                    detail: format!(
                        "expected the server's handshake, got a {:?} event",
                        event_type(&other)
                    ),
                });
            }
            Err(Refusal::Decode(DecodeError::Token(TokenError::WrongKeyOrTampered { .. })))
                if signed =>
            {
                return Err(handshake
                    .unverified("an answer that does not open with your class key".to_owned()));
            }
            Err(Refusal::Decode(DecodeError::Token(TokenError::WrongKeyOrTampered { .. }))) => {
                return Err(ConnectError::WrongKey {
                    ours: key.fingerprint(),
                    server: None,
                });
            }
            Err(Refusal::Decode(DecodeError::Token(not_a_token))) => {
                return Err(ConnectError::NotFernchat {
                    target: shown,
                    detail: not_a_token.to_string(),
                });
            }
            Err(Refusal::Clock(clock)) => return Err(ConnectError::ClockSkew(clock)),
            Err(other) => {
                return Err(ConnectError::BadReply {
                    detail: other.to_string(),
                });
            }
        }
    };
    let session = handshake.finish(&answer, ephemeral)?;
    // 2. Our confirm, the first frame under our new key: the server admits us only then.
    (&stream)
        .write_all(&seal(
            &session.send,
            &ClientEvent::Confirm {
                mac: session.confirm.clone(),
            },
        ))
        .map_err(io_err)?;
    // 3. The welcome, under the server-to-client key alone. In `psk`, room broadcasts come
    //    sealed with the class key (once for everyone): that key opens those, and only those.
    let receive = match setup.kex {
        KexChoice::Psk => RoomKey::with_fallback(&session.receive, key),
        _ => session.receive.clone(),
    };
    inbound.rekey(receive);
    for _ in 0..MAX_HANDSHAKE_FRAMES {
        let line = read(&mut reader)?;
        let (event, key_index) = match inbound.accept_opened::<ServerEvent>(&line, unix_now()) {
            Ok(opened) => opened,
            Err(Refusal::Decode(DecodeError::Token(_))) => {
                return Err(handshake.failed(
                    "the answer to our confirm does not open with the session key".into(),
                ));
            }
            Err(other) => {
                return Err(ConnectError::BadReply {
                    detail: other.to_string(),
                });
            }
        };
        if key_index != 0 {
            // Only broadcasts may come under the class key, and we are not in the room yet.
            continue;
        }
        match event {
            ServerEvent::Welcome {
                nick: given,
                users,
                version,
                server,
                max_text,
                room_key,
                role,
                roles,
                missed,
                ..
            } => {
                // The nick we asked for, or a refusal: a welcome that names another would
                // have us speak (and rejoin) as someone else.
                if !given.eq_ignore_ascii_case(nick) {
                    return Err(ConnectError::BadReply {
                        detail: format!(
                            "we asked for the nick {nick:?} and the welcome names {given:?}"
                        ),
                    });
                }
                let mut rekeyable = None;
                if setup.kex == KexChoice::Psk
                    && let Some(room_key) = room_key
                {
                    let room_key =
                        RoomKey::from_secret(&room_key).map_err(|e| ConnectError::BadReply {
                            detail: format!("the welcome's room_key: {e}"),
                        })?;
                    inbound.rekey(RoomKey::with_fallback(&session.receive, &room_key));
                    rekeyable = Some(session.receive.clone());
                }
                let welcome = Welcome {
                    nick: given,
                    users,
                    version,
                    server,
                    max_text,
                    security: session.security,
                    role,
                    roles,
                    missed,
                };
                return Ok(Connection {
                    stream,
                    reader,
                    inbound,
                    send_key: session.send,
                    rekeyable,
                    welcome,
                });
            }
            ServerEvent::Error { code, message, .. } => {
                return Err(ConnectError::refused_holding(
                    key.fingerprint(),
                    code,
                    &message,
                ));
            }
            ServerEvent::Bye { code, reason, .. } => {
                return Err(ConnectError::refused_holding(
                    key.fingerprint(),
                    code,
                    &reason,
                ));
            }
            _ => {}
        }
    }
    Err(ConnectError::BadReply {
        detail: format!("no welcome among the first {MAX_HANDSHAKE_FRAMES} messages"),
    })
}

/// The keys a handshake agreed on, and what to show and send about them.
struct Agreed {
    /// Seals what we send.
    send: RoomKey,
    /// Opens what the server sends us alone.
    receive: RoomKey,
    security: Security,
    /// The MAC of our `confirm` (the `x25519-psk` modes).
    confirm: Option<String>,
}

/// The client's side of the handshake.
struct Handshake<'a> {
    setup: &'a KexSetup,
    class_key: &'a RoomKey,
    nick: &'a str,
    target: &'a str,
    /// Our `Nc`: the handshake must echo it, and signed refusals cover it.
    nonce: Nonce,
    /// The server's pinned identity (signed mode), to check refusals with.
    pinned: Option<IdentityKey>,
}

impl Handshake<'_> {
    /// A refusal of our hello. In the signed mode it counts only if the pinned identity
    /// signed it over our nonce; with no pin yet it is shown as unverified; anything else is
    /// a network fault, never a reason to change key or mode (issue 12 item 5).
    fn refusal(&self, code: ErrorCode, message: &str, signature: Option<&str>) -> ConnectError {
        let ours = self.class_key.fingerprint();
        if self.setup.kex != KexChoice::X25519PskSigned {
            return ConnectError::refused_holding(ours, code, message);
        }
        match (&self.pinned, signature) {
            (Some(identity), Some(signature))
                if identity
                    .verify_refusal(&self.nonce, &code_name(code), message, signature)
                    .is_ok() =>
            {
                ConnectError::refused_holding(ours, code, message)
            }
            (Some(_), _) => self.unverified(format!(
                "a refusal ({}) not signed by the server's pinned identity",
                code_name(code)
            )),
            (None, _) => ConnectError::RefusedUnverified {
                code,
                message: crate::client::display::clean(message, 500),
            },
        }
    }

    fn unverified(&self, what: String) -> ConnectError {
        ConnectError::Unverified {
            target: self.target.to_owned(),
            what,
        }
    }

    /// Checks the server's `handshake` (our nonce echoed, the version, the key exchange's
    /// fields) and derives the session's keys.
    fn finish(
        &self,
        answer: &ServerEvent,
        ephemeral: Option<Ephemeral>,
    ) -> Result<Agreed, ConnectError> {
        let ServerEvent::Handshake {
            version,
            nonce,
            server_nonce,
            kex,
            kex_public,
            kex_confirm,
            kex_identity,
            kex_signature,
        } = answer
        else {
            return Err(self.failed("the server's answer is not a handshake".into()));
        };
        // A handshake recorded on another connection echoes another nonce: refused before
        // anything in it is used (issue 12 item 2).
        if Nonce::from_wire(nonce) != Some(self.nonce) {
            return Err(ConnectError::BadReply {
                detail: "the handshake does not answer our hello (its nonce is not ours): a \
                         recorded or replayed session"
                    .into(),
            });
        }
        if *version != PROTOCOL_VERSION {
            return Err(ConnectError::BadReply {
                detail: format!(
                    "the server speaks protocol version {version}, we speak {PROTOCOL_VERSION}"
                ),
            });
        }
        let asked = self.setup.kex;
        let security = |identity| Security {
            kex: asked,
            identity,
        };
        // Exactly what we asked for, or nothing: a server (or someone in the middle) that
        // answers with a weaker exchange must not get a session we did not agree to.
        if kex != asked.name() {
            return Err(self.failed(format!(
                "we asked for {:?} and the server answered {kex:?}; a server that does not \
                 offer {:?} refuses it instead, so someone may have changed the handshake",
                asked.name(),
                asked.name()
            )));
        }
        let Some(ephemeral) = ephemeral else {
            let server_nonce = Nonce::from_wire(server_nonce)
                .ok_or_else(|| self.failed("the server_nonce is not 16 bytes of base64".into()))?;
            let keys = psk_session_keys(self.class_key, &self.nonce, &server_nonce);
            return Ok(Agreed {
                send: keys.client_to_server,
                receive: keys.server_to_client,
                security: security(None),
                confirm: None,
            });
        };
        let server = kex_public
            .as_deref()
            .ok_or_else(|| self.failed("the handshake has no kex_public".into()))
            .and_then(|text| {
                PublicShare::from_wire(text)
                    .map_err(|e| self.failed(format!("the server's public key: {e}")))
            })?;
        if asked == KexChoice::X25519 {
            let keys = ephemeral
                .finish(Role::Client, &server)
                .map_err(|e| self.failed(e.to_string()))?;
            return Ok(Agreed {
                send: keys.send,
                receive: keys.receive,
                security: security(None),
                confirm: None,
            });
        }
        let identity = match asked {
            KexChoice::X25519PskSigned => Some(
                kex_identity
                    .as_deref()
                    .ok_or_else(|| self.failed("the handshake has no kex_identity".into()))
                    .and_then(|text| {
                        IdentityKey::from_wire(text).map_err(|e| self.failed(e.to_string()))
                    })?,
            ),
            _ => None,
        };
        let transcript = Transcript::new(
            asked.name(),
            self.nick,
            &ephemeral.public(),
            &server,
            identity.as_ref().map(|k| &k.0),
        );
        // The signature first: it says *who* answered. Then the pin: whether that is who
        // answered last time. Only then does the MAC matter.
        let pinned = match identity {
            None => None,
            Some(identity) => {
                let signature = kex_signature
                    .as_deref()
                    .ok_or_else(|| self.failed("the handshake has no kex_signature".into()))?;
                identity
                    .verify(&transcript, signature)
                    .map_err(|e| self.failed(e.to_string()))?;
                let pin = self
                    .setup
                    .known_servers
                    .check(self.target, &identity)
                    .map_err(ConnectError::Pin)?;
                Some((identity.fingerprint(), pin))
            }
        };
        let psk = Psk::from_class_key(self.class_key);
        let confirming = ephemeral
            .finish_psk(Role::Client, &server, &psk, &transcript)
            .map_err(|e| self.failed(e.to_string()))?;
        let theirs = kex_confirm
            .as_deref()
            .ok_or_else(|| self.failed("the handshake has no kex_confirm".into()))?;
        confirming
            .check(theirs)
            .map_err(|e| self.failed(e.to_string()))?;
        Ok(Agreed {
            send: confirming.keys.send.clone(),
            receive: confirming.keys.receive.clone(),
            security: security(pinned),
            confirm: Some(confirming.ours_wire()),
        })
    }

    fn failed(&self, detail: String) -> ConnectError {
        ConnectError::KexFailed {
            target: self.target.to_owned(),
            kex: self.setup.kex.name(),
            detail,
        }
    }
}

fn handshake_timeout(target: &str, timeouts: &Timeouts) -> ConnectError {
    ConnectError::HandshakeTimeout {
        target: target.to_owned(),
        secs: timeouts.handshake.as_secs_f64().ceil() as u64,
    }
}

fn handshake_io_error(target: &str, timeouts: &Timeouts, source: io::Error) -> ConnectError {
    match source.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => handshake_timeout(target, timeouts),
        // A server that closes at once (full, or not fernchat) often shows up as a reset.
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => ConnectError::ClosedDuringHandshake {
            target: target.to_owned(),
        },
        _ => ConnectError::Io {
            target: target.to_owned(),
            source,
        },
    }
}

/// Connects to the first address of `target` that accepts.
fn dial(target: &ServerAddr, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let shown = target.to_string();
    let host = target.host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = (host, target.port)
        .to_socket_addrs()
        .map_err(|source| ConnectError::Resolve {
            host: target.host.clone(),
            source,
        })?
        .collect();
    let mut other_error = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(e) => other_error = Some(e),
        }
    }
    // "Refused" everywhere means the machine answered and nothing listens on the port: the
    // usual first-day mistake of starting the client before the server.
    match other_error {
        Some(source) => Err(ConnectError::Unreachable {
            target: shown,
            source,
        }),
        None if addrs.is_empty() => Err(ConnectError::Resolve {
            host: target.host.clone(),
            source: io::Error::new(io::ErrorKind::NotFound, "the name has no addresses"),
        }),
        None => Err(ConnectError::NoServer { target: shown }),
    }
}

/// What a connection's threads tell the session. `generation` says which connection: after a
/// reconnect, late news from the old one is recognised and ignored.
#[derive(Debug)]
pub(crate) struct NetEvent {
    pub(crate) generation: u64,
    pub(crate) what: Net,
}

#[derive(Debug)]
pub(crate) enum Net {
    /// An event from the server (never `ping`: the reader answers those itself).
    Event(ServerEvent),
    /// A frame that failed a check and was dropped. The connection goes on.
    Dropped(String),
    /// The connection is over; no more events will come from it.
    Closed(String),
}

/// What the session asks the writer to do.
#[derive(Debug)]
enum Outgoing {
    Frame(Vec<u8>),
    /// Send nothing more: half-close the socket so the server sees our end after the last
    /// frame, then stop.
    Finish,
}

/// Frames waiting to be written. Small: people do not type hundreds of lines a second, and a
/// full queue means the server stopped reading.
const OUTGOING_QUEUE: usize = 256;

/// Why a frame could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendFailure {
    /// The server is not reading what we send.
    QueueFull,
    /// The writer has stopped: the connection is closing.
    Closed,
}

/// A running connection: its writer queue and a handle on the socket to close it.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) generation: u64,
    /// Seals what we send: the class key or the session's send key.
    key: RoomKey,
    out: Sender<Outgoing>,
    socket: TcpStream,
}

impl Link {
    /// Starts the reader and writer threads of a joined connection.
    pub(crate) fn start(
        connection: Connection,
        key: &RoomKey,
        generation: u64,
        events: Sender<NetEvent>,
        timeouts: &Timeouts,
    ) -> io::Result<Link> {
        let Connection {
            stream,
            reader,
            inbound,
            send_key,
            rekeyable,
            ..
        } = connection;
        stream.set_read_timeout(Some(timeouts.silence))?;
        stream.set_write_timeout(Some(timeouts.write))?;
        let socket = stream.try_clone()?;
        let (out, queue) = crossbeam_channel::bounded(OUTGOING_QUEUE);

        let reader_thread = ReaderThread {
            reader,
            inbound,
            key: send_key.clone(),
            rekeyable,
            class_fingerprint: key.fingerprint(),
            out: out.clone(),
            events: events.clone(),
            generation,
            silence: timeouts.silence,
        };
        thread::Builder::new()
            .name(format!("fernchat-reader-{generation}"))
            .spawn(move || reader_thread.run())?;
        thread::Builder::new()
            .name(format!("fernchat-writer-{generation}"))
            .spawn(move || write_loop(stream, queue, events, generation))?;
        Ok(Link {
            generation,
            key: send_key,
            out,
            socket,
        })
    }

    /// Seals and queues one event. Never blocks.
    pub(crate) fn send(&self, event: &ClientEvent) -> Result<(), SendFailure> {
        self.out
            .try_send(Outgoing::Frame(seal(&self.key, event)))
            .map_err(|e| match e {
                TrySendError::Full(_) => SendFailure::QueueFull,
                TrySendError::Disconnected(_) => SendFailure::Closed,
            })
    }

    /// Asks the writer to half-close the socket after the frames already queued.
    pub(crate) fn finish(&self) {
        let _ = self.out.try_send(Outgoing::Finish);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Wakes the reader (its read fails) so both threads end and the socket is released.
        let _ = self.socket.shutdown(Shutdown::Both);
    }
}

struct ReaderThread {
    reader: FrameReader<TcpStream>,
    inbound: Inbound,
    /// Seals our pongs: the session's send key.
    key: RoomKey,
    /// See [`Connection`]: set when the server may change the room key with `rekey`.
    rekeyable: Option<RoomKey>,
    /// The class key's, for the wrong-key message.
    class_fingerprint: Fingerprint,
    out: Sender<Outgoing>,
    events: Sender<NetEvent>,
    generation: u64,
    silence: Duration,
}

impl ReaderThread {
    fn run(mut self) {
        let reason = self.read_until_closed();
        let _ = self.events.send(NetEvent {
            generation: self.generation,
            what: Net::Closed(reason),
        });
    }

    /// Reads until the connection ends, returning why it ended.
    fn read_until_closed(&mut self) -> String {
        loop {
            let line = match self.reader.read_frame() {
                Ok(Some(line)) => line,
                Ok(None) => return "the server closed the connection".to_owned(),
                Err(e) if e.is_timeout() => {
                    return format!(
                        "heard nothing from the server for {} s",
                        self.silence.as_secs()
                    );
                }
                Err(FrameError::LineTooLong { limit }) => {
                    // The reader discards the rest of that line and resumes after it.
                    if !self.tell(Net::Dropped(format!(
                        "ignored a line from the server longer than {limit} bytes"
                    ))) {
                        return "the session ended".to_owned();
                    }
                    continue;
                }
                Err(FrameError::TruncatedAtEof) => {
                    return "the server closed the connection in the middle of a message"
                        .to_owned();
                }
                Err(FrameError::Io(e)) => return format!("the connection failed: {e}"),
            };
            if let Some(server) = parse_wrong_key_line(line) {
                return format!(
                    "the server says it cannot read our messages: its key is {server}, ours is {}",
                    self.class_fingerprint
                );
            }
            let news = match self.inbound.accept_opened::<ServerEvent>(line, unix_now()) {
                // Only the server's session key seals what is meant for us alone: the room's
                // key (which every key holder has) opens broadcasts, and nothing else.
                Ok((event, key_index)) if key_index != 0 && event.is_per_recipient() => {
                    Net::Dropped(format!(
                        "ignored a {:?} sealed with the room's key: only the session key may \
                         seal what is meant for this connection alone",
                        event_type(&event)
                    ))
                }
                Ok((ServerEvent::Rekey { room_key, .. }, _)) => {
                    // Only under the session key (checked above): from now on broadcasts come
                    // under the new room key, and the old one opens nothing.
                    match (&self.rekeyable, RoomKey::from_secret(&room_key)) {
                        (Some(receive), Ok(room_key)) => {
                            self.inbound
                                .rekey(RoomKey::with_fallback(receive, &room_key));
                            continue;
                        }
                        _ => Net::Dropped(
                            "ignored a rekey: this session has no room key to change".into(),
                        ),
                    }
                }
                Ok((ServerEvent::Ping { id }, _)) => {
                    // Answered here, not by the session: a pong must not wait behind a busy
                    // front end, or the server drops us as idle.
                    let _ = self
                        .out
                        .try_send(Outgoing::Frame(seal(&self.key, &ClientEvent::Pong { id })));
                    continue;
                }
                Ok((event, _)) => Net::Event(event),
                Err(refusal) => {
                    Net::Dropped(format!("ignored a message from the server: {refusal}"))
                }
            };
            if !self.tell(news) {
                return "the session ended".to_owned();
            }
        }
    }

    fn tell(&self, what: Net) -> bool {
        self.events
            .send(NetEvent {
                generation: self.generation,
                what,
            })
            .is_ok()
    }
}

/// The wire `type` of a server event, for messages.
fn event_type(event: &ServerEvent) -> String {
    serde_json::to_value(event)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str().map(str::to_owned)))
        .unwrap_or_default()
}

fn write_loop(
    mut stream: TcpStream,
    queue: Receiver<Outgoing>,
    events: Sender<NetEvent>,
    generation: u64,
) {
    // Ends when the session sends Finish, or when every sender is gone (the session dropped
    // the link and the reader stopped).
    for outgoing in queue {
        match outgoing {
            Outgoing::Frame(frame) => {
                if let Err(e) = stream.write_all(&frame) {
                    let reason = if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) {
                        "the server stopped reading our messages".to_owned()
                    } else {
                        format!("could not send: {e}")
                    };
                    let _ = events.send(NetEvent {
                        generation,
                        what: Net::Closed(reason),
                    });
                    return;
                }
            }
            Outgoing::Finish => {
                let _ = stream.flush();
                let _ = stream.shutdown(Shutdown::Write);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_print_with_brackets_for_ipv6() {
        assert_eq!(
            ServerAddr::new("127.0.0.1", 7474).to_string(),
            "127.0.0.1:7474"
        );
        assert_eq!(ServerAddr::new("::1", 7474).to_string(), "[::1]:7474");
        assert_eq!(ServerAddr::new("[::1]", 7474).to_string(), "[::1]:7474");
        assert_eq!(ServerAddr::new("chat.lan", 1).to_string(), "chat.lan:1");
    }

    #[test]
    fn a_closed_port_is_no_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        match dial(&ServerAddr::new("127.0.0.1", port), Duration::from_secs(2)) {
            Err(ConnectError::NoServer { target }) => {
                assert_eq!(target, format!("127.0.0.1:{port}"));
            }
            other => panic!("expected NoServer, got {other:?}"),
        }
    }
}
