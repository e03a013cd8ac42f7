//! One measuring connection: joins like a real client, then reads frames on one thread while
//! other threads may send through a shared [`Sender`].
//!
//! It decrypts every frame (so it can count undecryptable ones and read the send time out of
//! each message) but skips the replay and clock rules: it measures the server, it does not
//! defend against it.

use std::io::{self, BufReader, ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::LoadError;
use fernchat::crypto::RoomKey;
use fernchat::kex::{Nonce, psk_session_keys};
use fernchat::protocol::codec::{Decodable, decode_plaintext};
use fernchat::protocol::{
    CLIENT_MAX_LINE, ClientEvent, FrameError, FrameReader, PROTOCOL_VERSION, ServerEvent, seal,
};

/// Bytes read per system call. A flood delivers thousands of frames a second to each client;
/// reading them a few at a time would make the load generator, not the server, the bottleneck.
const READ_BUFFER: usize = 64 * 1024;

/// The sending half of a connection, shared by the thread that sends messages and the
/// reading thread (which answers the server's pings). The lock keeps two frames from
/// interleaving on the wire.
#[derive(Debug, Clone)]
pub struct Sender {
    stream: Arc<Mutex<TcpStream>>,
    key: RoomKey,
}

impl Sender {
    /// Encrypts and sends one event.
    pub fn send(&self, event: &ClientEvent) -> io::Result<()> {
        let frame = self.seal(event);
        self.send_raw(&frame)
    }

    /// Encrypts one event as this connection sends it (with its session key once joined).
    pub fn seal(&self, event: &ClientEvent) -> Vec<u8> {
        seal(&self.key, event)
    }

    /// Encrypts `plaintext` as it is (not an event) with the key this connection sends with:
    /// its client-to-server session key once joined. For attacks that must get past the
    /// key check to test what comes after it (bad JSON, say).
    pub fn seal_bytes(&self, plaintext: &[u8]) -> Vec<u8> {
        self.key.encrypt(plaintext).into_bytes()
    }

    /// Sends bytes as they are.
    pub fn send_raw(&self, bytes: &[u8]) -> io::Result<()> {
        let mut stream = self.stream.lock().unwrap_or_else(|p| p.into_inner());
        stream.write_all(bytes)
    }

    /// Closes both directions, which also ends a read blocked on this connection.
    pub fn shutdown(&self) {
        let stream = self.stream.lock().unwrap_or_else(|p| p.into_inner());
        let _ = stream.shutdown(Shutdown::Both);
    }
}

/// What one read produced.
#[derive(Debug)]
// One `Incoming` lives at a time per read; boxing the large variant would add an allocation
// per received message on the load generator's hot path, which it exists to measure.
#[allow(clippy::large_enum_variant)]
pub enum Incoming {
    /// A server event.
    Event(ServerEvent),
    /// A frame that is not a token made with our key, or not an event.
    Undecryptable,
    /// Nothing arrived within the read timeout.
    Quiet,
    /// The server closed the connection.
    Closed,
    /// The connection failed.
    Failed(io::Error),
    /// A frame that [`Receiver::next_if`] was told not to decrypt.
    Skipped,
}

/// The reading half of a connection.
#[derive(Debug)]
pub struct Receiver {
    frames: FrameReader<BufReader<TcpStream>>,
    key: RoomKey,
    sender: Sender,
}

impl Receiver {
    /// The next frame, decrypted and decoded.
    pub fn receive(&mut self) -> Incoming {
        self.next_if(|_| true)
    }

    /// Like [`Receiver::receive`], but decrypts a frame only if `wanted(its length)`; others
    /// come back as [`Incoming::Skipped`]. Thousands of idle clients must keep their queues
    /// empty without the load generator decrypting millions of `joined` events, yet still
    /// answer pings (which are short).
    pub fn next_if(&mut self, wanted: impl Fn(usize) -> bool) -> Incoming {
        match self.frames.read_frame() {
            Ok(Some(frame)) if !wanted(frame.len()) => Incoming::Skipped,
            Ok(Some(frame)) => match decode::<ServerEvent>(&self.key, frame) {
                Some(event) => Incoming::Event(event),
                None => Incoming::Undecryptable,
            },
            Ok(None) => Incoming::Closed,
            Err(e) if e.is_timeout() => Incoming::Quiet,
            Err(FrameError::Io(e))
                if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) =>
            {
                Incoming::Closed
            }
            Err(FrameError::Io(e)) => Incoming::Failed(e),
            Err(other) => Incoming::Failed(io::Error::new(ErrorKind::InvalidData, other)),
        }
    }

    /// The next frame as it came, not decrypted: `None` when the connection closed, failed or
    /// was quiet for the read timeout (attacks that send the server's own frames back).
    pub fn next_frame(&mut self) -> Option<Vec<u8>> {
        match self.frames.read_frame() {
            Ok(Some(frame)) => Some(frame.to_vec()),
            _ => None,
        }
    }

    /// Decrypts and decodes a frame from [`Receiver::next_frame`] with the keys this
    /// connection reads with (once joined: the class key for broadcasts, the server-to-client
    /// session key for the rest).
    pub fn open(&self, frame: &[u8]) -> Option<ServerEvent> {
        decode::<ServerEvent>(&self.key, frame)
    }

    /// A receiver (and its sender) for a connection made elsewhere, which has said nothing
    /// yet: for clients that misbehave on purpose. Reads with the stream's own timeouts.
    pub fn from_stream(stream: TcpStream, key: &RoomKey, buffer: usize) -> io::Result<Receiver> {
        let sender = Sender {
            stream: Arc::new(Mutex::new(stream.try_clone()?)),
            key: key.clone(),
        };
        Ok(Receiver {
            frames: FrameReader::new(BufReader::with_capacity(buffer, stream), CLIENT_MAX_LINE),
            key: key.clone(),
            sender,
        })
    }

    /// The sending half, to answer pings.
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// The socket, to change its timeout or blocking mode.
    pub fn stream(&self) -> &TcpStream {
        self.frames.get_ref().get_ref()
    }
}

/// Decrypts and decodes one frame, or `None` if it is not a token with our key carrying an
/// event.
pub fn decode<E: Decodable>(key: &RoomKey, frame: &[u8]) -> Option<E> {
    let opened = key.decrypt(frame).ok()?;
    decode_plaintext::<E>(&opened.plaintext).ok()
}

/// A connection that has said hello and been welcomed.
#[derive(Debug)]
pub struct Joined {
    /// The nick it joined under.
    pub nick: String,
    /// How many users the welcome listed (this one included).
    pub users: usize,
    /// Its sending half (clone it for other threads).
    pub sender: Sender,
    /// Its reading half.
    pub receiver: Receiver,
}

/// Connects to `addr`, says hello as `nick` and waits (at most `timeout`) for the welcome.
/// The connection then reads with `read_timeout`, so reading loops can check their deadlines.
pub fn join(
    addr: SocketAddr,
    key: &RoomKey,
    nick: &str,
    timeout: Duration,
    read_timeout: Duration,
) -> Result<Joined, LoadError> {
    join_with_buffer(addr, key, nick, timeout, read_timeout, READ_BUFFER)
}

/// [`join`] with a chosen read buffer: thousands of idle clients need less than a flood.
pub fn join_with_buffer(
    addr: SocketAddr,
    key: &RoomKey,
    nick: &str,
    timeout: Duration,
    read_timeout: Duration,
    buffer: usize,
) -> Result<Joined, LoadError> {
    let stream = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|source| LoadError::Connect { addr, source })?;
    join_stream(stream, key, nick, timeout, read_timeout, buffer)
}

/// [`join_with_buffer`] over a connection made elsewhere (from a chosen source address, say).
pub fn join_stream(
    stream: TcpStream,
    key: &RoomKey,
    nick: &str,
    timeout: Duration,
    read_timeout: Duration,
    buffer: usize,
) -> Result<Joined, LoadError> {
    // Nagle's algorithm would hold small frames back for tens of milliseconds and measure
    // the kernel's patience, not the server.
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let sender = Sender {
        stream: Arc::new(Mutex::new(stream.try_clone()?)),
        key: key.clone(),
    };
    let mut receiver = Receiver {
        frames: FrameReader::new(BufReader::with_capacity(buffer, stream), CLIENT_MAX_LINE),
        key: key.clone(),
        sender,
    };
    let refused = |reason: String| LoadError::Refused {
        nick: nick.to_owned(),
        reason,
    };
    // The version-2 handshake of the `psk` mode (PROTOCOL.md): hello with our nonce,
    // handshake with the server's, confirm under the new client-to-server key, welcome.
    let nonce = Nonce::generate();
    receiver
        .sender
        .send(&ClientEvent::Hello {
            kex_public: None,
            nick: nick.to_owned(),
            version: PROTOCOL_VERSION,
            kex: "psk".into(),
            nonce: Some(nonce.to_wire()),
            since: None,
            client: None,
        })
        .map_err(|e| refused(format!("could not send the hello: {e}")))?;
    let server_nonce = match receiver.receive() {
        Incoming::Event(ServerEvent::Handshake {
            nonce: echoed,
            server_nonce,
            ..
        }) if Nonce::from_wire(&echoed) == Some(nonce) => Nonce::from_wire(&server_nonce)
            .ok_or_else(|| refused("the handshake's server_nonce is not 16 bytes".into()))?,
        Incoming::Event(ServerEvent::Error { code, message, .. }) => {
            return Err(refused(format!("{code:?}: {message}")));
        }
        Incoming::Event(other) => return Err(refused(format!("got {other:?} before handshake"))),
        Incoming::Quiet => return Err(refused(format!("no handshake within {timeout:?}"))),
        _ => return Err(refused("no handshake (wrong keyfile, or closed)".into())),
    };
    let keys = psk_session_keys(key, &nonce, &server_nonce);
    receiver.sender.key = keys.client_to_server;
    // Broadcasts come under the class key, the rest under the session key. Most of a load
    // run's frames are broadcasts, so the class key is tried first: the other order costs a
    // failed HMAC check per broadcast (about 7% of deliveries per second, docs/PERFORMANCE.md).
    receiver.key = RoomKey::with_fallback(key, &keys.server_to_client);
    receiver
        .sender
        .send(&ClientEvent::Confirm { mac: None })
        .map_err(|e| refused(format!("could not send the confirm: {e}")))?;
    let sender = receiver.sender.clone();
    let users = match receiver.receive() {
        Incoming::Event(ServerEvent::Welcome { users, .. }) => users.len(),
        Incoming::Event(ServerEvent::Error { code, message, .. }) => {
            return Err(refused(format!("{code:?}: {message}")));
        }
        Incoming::Event(other) => return Err(refused(format!("got {other:?} before welcome"))),
        Incoming::Undecryptable | Incoming::Skipped => {
            return Err(refused(
                "the answer was not a token made with our key (wrong keyfile?)".into(),
            ));
        }
        Incoming::Quiet => return Err(refused(format!("no welcome within {timeout:?}"))),
        Incoming::Closed => return Err(refused("the server closed the connection".into())),
        Incoming::Failed(e) => return Err(refused(e.to_string())),
    };
    receiver.stream().set_read_timeout(Some(read_timeout))?;
    Ok(Joined {
        nick: nick.to_owned(),
        users,
        sender,
        receiver,
    })
}

/// Joins `room` (the `join` event of PROTOCOL.md's rooms) and waits, at most `timeout`, for
/// the server's `entered` for it, answering pings meanwhile. Everything else that arrives
/// before it (the room's history, `#class` traffic) is read and dropped.
pub fn enter_room(joined: &mut Joined, room: &str, timeout: Duration) -> Result<(), LoadError> {
    let refused = |reason: String| LoadError::Refused {
        nick: joined.nick.clone(),
        reason: format!("joining {room}: {reason}"),
    };
    joined
        .sender
        .send(&ClientEvent::Join {
            room: room.to_owned(),
            since: None,
            invite_only: false,
        })
        .map_err(|e| refused(format!("could not send the join: {e}")))?;
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match joined.receiver.receive() {
            Incoming::Event(ServerEvent::Entered { room: entered, .. }) if entered == room => {
                return Ok(());
            }
            Incoming::Event(ServerEvent::Error { code, message, .. }) => {
                // A server from before rooms answers `unknown_type`.
                return Err(refused(format!(
                    "{code:?}: {message} (a server from before rooms does not know `join`)"
                )));
            }
            Incoming::Event(ServerEvent::Bye { code, reason, .. }) => {
                return Err(refused(format!("closed, {code:?}: {reason}")));
            }
            Incoming::Event(ServerEvent::Ping { id }) => {
                let _ = joined.sender.send(&ClientEvent::Pong { id });
            }
            Incoming::Closed => return Err(refused("the server closed the connection".into())),
            Incoming::Failed(e) => return Err(refused(e.to_string())),
            Incoming::Event(_) | Incoming::Quiet | Incoming::Skipped | Incoming::Undecryptable => {}
        }
    }
    Err(refused(format!("no `entered` within {timeout:?}")))
}
