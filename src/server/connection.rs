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
use crate::protocol::event::{NickError, validate_nick, validate_text};
use crate::protocol::{
    ClientEvent, DecodeError, ErrorCode, FrameError, FrameReader, Inbound, Refusal,
};
use crate::server::LiveConnection;
use crate::server::ServerConfig;
use crate::server::flood::{FloodGuard, Verdict};
use crate::server::hub::HubEvent;
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
                inbound,
                flood: FloodGuard::new(config.flood, Instant::now()),
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
                    let limits = self.config.flood;
                    self.reject(
                        ErrorCode::RateLimited,
                        format!(
                            "you are sending faster than {} messages per second (bursts of {}); \
                             messages are being dropped, slow down",
                            limits.per_second, limits.burst
                        ),
                        false,
                    );
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
        let max_text = self.config.max_text;
        let checked = match &event {
            ClientEvent::Hello { nick, .. } => nick_rule(nick).map_err(|e| (e, true)),
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

    fn reject(&self, code: ErrorCode, message: String, close: bool) {
        let _ = self.hub.send(HubEvent::Reject {
            id: self.id,
            code,
            message,
            close,
        });
    }
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
