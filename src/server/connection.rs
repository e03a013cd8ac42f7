//! One client connection: a reader thread and a writer thread.
//!
//! The reader does the expensive, per-client work in parallel with every other reader:
//! rate-limiting, decrypting, judging time and replays, decoding JSON, checking nicks and text.
//! It hands the hub only events that are ready to act on, or a refusal to pass back.
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

use crate::crypto::unix_now;
use crate::kex::{
    Confirming, Ephemeral, KEX_X25519, KEX_X25519_PSK_SIGNED, Psk, PublicShare, Role, Transcript,
};
use crate::protocol::event::{KEX_PSK, NickError, validate_nick, validate_text};
use crate::protocol::{
    ClientEvent, DecodeError, ErrorCode, FrameError, FrameReader, Inbound, PROTOCOL_VERSION,
    Refusal,
};
use crate::server::LiveConnection;
use crate::server::ServerConfig;
use crate::server::flood::{FloodGuard, Verdict};
use crate::server::hub::{HubEvent, SessionKey, WelcomeKex};
use crate::server::outbound::{self, OutState, Outbound};

/// Stack of a writer thread, which only copies bytes to a socket. Only the pages a thread
/// touches cost memory, so this is about address space (std's default is 2 MiB). Readers keep
/// the default: they parse what peers send, and JSON nested as deep as serde_json allows
/// overflowed a 256 KiB stack in the unoptimised build (tests/server_hostile.rs).
const WRITER_STACK: usize = 128 * 1024;

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
                said_hello: false,
                confirming: None,
                inbound,
                flood: counted.flood_guard(config.flood, Instant::now()),
                config,
                hub: reader_hub,
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
    /// A hello was accepted on this connection (its key exchange is done).
    said_hello: bool,
    /// After an `x25519-psk` hello: the exchange whose confirmation we wait for. Until it
    /// comes, nothing else from this client is accepted (and the hub delivers nothing to it).
    confirming: Option<Confirming>,
    inbound: Inbound,
    flood: FloodGuard,
    config: Arc<ServerConfig>,
    hub: Sender<HubEvent>,
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
        match self.inbound.accept::<ClientEvent>(frame, unix_now()) {
            Ok(event) => self.on_event(event),
            Err(Refusal::Decode(DecodeError::Token(_))) if first => {
                let _ = self.hub.send(HubEvent::WrongKey { id: self.id });
                Next::Stop
            }
            Err(refusal) if self.confirming.is_some() => {
                // The client's first frame after the welcome must open with the session key:
                // one that does not was sealed by someone who derived other keys.
                self.reject(
                    ErrorCode::KexFailed,
                    format!(
                        "key confirmation failed: your first message after the welcome was \
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
    fn on_event(&mut self, event: ClientEvent) -> Next {
        if let Some(confirming) = self.confirming.take() {
            return self.on_confirm(&confirming, event);
        }
        if let ClientEvent::Confirm { .. } = event {
            self.reject(
                ErrorCode::KexFailed,
                "there is no key exchange to confirm on this connection".into(),
                false,
            );
            return Next::Continue;
        }
        if let ClientEvent::Hello {
            nick,
            version,
            kex,
            kex_public,
        } = event
        {
            if self.said_hello {
                // A second key exchange would change keys under the hub's feet.
                self.reject(
                    ErrorCode::HelloFirst,
                    "you already said hello; use /nick to change your nick".into(),
                    false,
                );
                return Next::Continue;
            }
            self.said_hello = true;
            return self.on_hello(nick, version, &kex, kex_public.as_deref());
        }
        let max_text = self.config.max_text;
        let checked = match &event {
            ClientEvent::Nick { nick } => nick_rule(nick).map_err(|e| (e, false)),
            ClientEvent::Say { text }
            | ClientEvent::Me { text }
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
    /// asks for, and hands the hub a hello ready to register (the hub checks the nick is free).
    fn on_hello(
        &mut self,
        nick: String,
        version: u32,
        kex: &str,
        kex_public: Option<&str>,
    ) -> Next {
        let refusal = if let Err(refusal) = nick_rule(&nick) {
            Some(refusal)
        } else if version != PROTOCOL_VERSION {
            Some((
                ErrorCode::VersionUnsupported,
                format!(
                    "this server speaks protocol version {PROTOCOL_VERSION} and your client \
                     speaks {version}; use a client of the same fernchat version"
                ),
            ))
        } else {
            None
        };
        if let Some((code, message)) = refusal {
            self.reject(code, message, true);
            return Next::Stop;
        }
        let offered = self.offered();
        if !offered.contains(&kex) {
            let message = format!(
                "this server offers the key exchanges {}; your client asked for {kex:?}",
                offered
                    .iter()
                    .map(|k| format!("\"{k}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            self.reject(ErrorCode::KexUnsupported, message, true);
            return Next::Stop;
        }
        let session = match kex {
            KEX_PSK => Ok(SessionKey::ClassKey),
            KEX_X25519 => self.exchange(kex_public),
            // `offered` holds nothing else: the two PSK exchanges.
            _ => self.exchange_psk(kex, &nick, kex_public),
        };
        let session = match session {
            Ok(session) => session,
            Err(message) => {
                self.reject(ErrorCode::KexFailed, message, true);
                return Next::Stop;
            }
        };
        let _ = self.hub.send(HubEvent::Hello {
            id: self.id,
            nick,
            session,
        });
        Next::Continue
    }

    /// The server's half of the `x25519` exchange (PROTOCOL.md section 7). From here on this
    /// reader opens the client's frames with the client-to-server key; the hub seals ours with
    /// the server-to-client key once the welcome (under the class key) is out.
    fn exchange(&mut self, kex_public: Option<&str>) -> Result<SessionKey, String> {
        let client = parse_public(KEX_X25519, kex_public)?;
        let ours = Ephemeral::generate();
        let public = ours.public();
        let keys = ours.finish(Role::Server, &client).map_err(|_| {
            "your public key is a low-order point: the shared secret would be public".to_owned()
        })?;
        self.inbound.rekey(keys.receive);
        Ok(SessionKey::X25519 {
            send: keys.send,
            server_public: public.to_wire(),
        })
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
    /// `x25519` exchange with the PSK as HKDF salt and the transcript in every key; our
    /// confirmation MAC (and signature) for the welcome. The session is not usable until the
    /// client's `confirm` checks out ([`Reader::on_confirm`]).
    fn exchange_psk(
        &mut self,
        kex: &str,
        nick: &str,
        kex_public: Option<&str>,
    ) -> Result<SessionKey, String> {
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
        // The PSK of the encrypting key: the one every client must hold to read the welcome.
        let psk = Psk::from_class_key(&self.config.key);
        let confirming = ours
            .finish_psk(Role::Server, &client, &psk, &transcript)
            .map_err(|_| {
                "your public key is a low-order point: the shared secret would be public".to_owned()
            })?;
        self.inbound.rekey(confirming.keys.receive.clone());
        let session = SessionKey::Confirming {
            send: confirming.keys.send.clone(),
            welcome: WelcomeKex {
                kex: crate::kex::ALL_KEX
                    .iter()
                    .find(|&&k| k == kex)
                    .copied()
                    .unwrap_or(KEX_X25519_PSK_SIGNED),
                public: public.to_wire(),
                confirm: confirming.ours_wire(),
                identity: identity_key.map(|k| k.to_wire()),
                signature: identity.map(|i| i.sign(&transcript)),
            },
        };
        self.confirming = Some(confirming);
        Ok(session)
    }

    /// The first event after an `x25519-psk` welcome: it must be the client's `confirm`, with
    /// the MAC we expect. Anything else ends the connection before a chat message is accepted.
    fn on_confirm(&mut self, confirming: &Confirming, event: ClientEvent) -> Next {
        let checked = match &event {
            ClientEvent::Confirm { mac } => confirming.check(mac).map_err(|e| e.to_string()),
            other => Err(format!(
                "the first message after the welcome must be \"confirm\", not {:?}",
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

/// The client's public key from its hello.
fn parse_public(kex: &str, kex_public: Option<&str>) -> Result<PublicShare, String> {
    let text = kex_public
        .ok_or_else(|| format!("a hello with kex {kex:?} needs your public key in kex_public"))?;
    PublicShare::from_wire(text)
        .map_err(|_| "kex_public is not 32 bytes of URL-safe base64".to_owned())
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
