//! An honest client: joins with `psk` or `x25519`, then sends and receives events.
//!
//! The handshake is a trait, [`ClientHandshake`], so lab 3 can run this same client with the
//! student's handshake in place of `fernchat::kex`.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use fernchat::crypto::{RoomKey, TimePolicy, unix_now};
use fernchat::kex::{Ephemeral, PublicShare, Role};
use fernchat::protocol::codec::parse_wrong_key_line;
use fernchat::protocol::{ClientEvent, Inbound, Refusal, seal};
use serde_json::Value;

use crate::STEP;
use crate::conn::Conn;
use crate::wire::{self, AnyServerEvent};

/// The client's half of an `x25519` handshake.
pub trait ClientHandshake {
    /// Our public key, for the hello.
    fn public(&self) -> PublicShare;
    /// Given the server's public key from the welcome: `(send key, receive key)`.
    fn finish(self, server: &PublicShare) -> Result<(RoomKey, RoomKey), String>;
}

impl ClientHandshake for Ephemeral {
    fn public(&self) -> PublicShare {
        Ephemeral::public(self)
    }

    fn finish(self, server: &PublicShare) -> Result<(RoomKey, RoomKey), String> {
        let keys = Ephemeral::finish(self, Role::Client, server).map_err(|e| e.to_string())?;
        Ok((keys.send, keys.receive))
    }
}

/// Why joining or talking failed.
#[derive(Debug)]
pub enum ClientError {
    /// The socket failed or a read timed out.
    Io(io::Error),
    /// The server closed the connection.
    Closed,
    /// The server refused with an `error` event (or sent the plaintext wrong-key line).
    Refused {
        /// The `code` field.
        code: String,
        /// The `message` field.
        message: String,
    },
    /// A frame from the server could not be opened or judged (wrong key, stale, replayed).
    Unreadable(Refusal),
    /// The server said something the protocol does not allow here.
    Protocol(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "connection problem: {e}"),
            ClientError::Closed => write!(f, "the server closed the connection"),
            ClientError::Refused { code, message } => write!(f, "refused ({code}): {message}"),
            ClientError::Unreadable(r) => {
                write!(f, "a frame from the server could not be opened: {r}")
            }
            ClientError::Protocol(what) => write!(f, "protocol error: {what}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<io::Error> for ClientError {
    fn from(e: io::Error) -> Self {
        ClientError::Io(e)
    }
}

/// A joined client.
#[derive(Debug)]
pub struct Client {
    conn: Conn,
    send_key: RoomKey,
    inbound: Inbound,
    /// The nick we joined as.
    pub nick: String,
    /// The server's welcome, as JSON.
    pub welcome: Value,
    /// Every event we sent, as JSON, the hello first.
    pub sent: Vec<Value>,
}

fn inbound(key: RoomKey) -> Inbound {
    let policy = TimePolicy::default();
    Inbound::new(key, policy, Inbound::shared_guard(policy, 100_000))
}

impl Client {
    /// Joins with the plain class key.
    pub fn join_psk(
        addr: SocketAddr,
        class_key: &RoomKey,
        nick: &str,
    ) -> Result<Client, ClientError> {
        Client::join(addr, class_key, nick, None::<Ephemeral>)
    }

    /// Joins with an `x25519` handshake done by `fernchat::kex`.
    pub fn join_x25519(
        addr: SocketAddr,
        class_key: &RoomKey,
        nick: &str,
    ) -> Result<Client, ClientError> {
        Client::join(addr, class_key, nick, Some(Ephemeral::generate()))
    }

    /// Joins with an `x25519` handshake done by `handshake`.
    pub fn join_with<H: ClientHandshake>(
        addr: SocketAddr,
        class_key: &RoomKey,
        nick: &str,
        handshake: H,
    ) -> Result<Client, ClientError> {
        Client::join(addr, class_key, nick, Some(handshake))
    }

    fn join<H: ClientHandshake>(
        addr: SocketAddr,
        class_key: &RoomKey,
        nick: &str,
        handshake: Option<H>,
    ) -> Result<Client, ClientError> {
        let mut conn = Conn::connect(addr, STEP)?;
        let hello = wire::hello(nick, handshake.as_ref().map(|h| h.public()));
        // The hello and the welcome travel under the class key: no session key exists yet.
        conn.send(&seal(class_key, &hello))?;
        let mut class_inbound = inbound(class_key.clone());
        let welcome = next_event(&mut conn, &mut class_inbound)?;
        if wire::type_of(&welcome) != "welcome" {
            return Err(ClientError::Protocol(format!(
                "expected a welcome, got {welcome}"
            )));
        }
        let (send_key, inbound) = match handshake {
            None => (class_key.clone(), class_inbound),
            Some(handshake) => {
                let server = wire::public_of(&welcome).ok_or_else(|| {
                    ClientError::Protocol(
                        "the welcome has no kex_public: the server did not do the x25519 exchange"
                            .into(),
                    )
                })?;
                let server = PublicShare::from_wire(server)
                    .map_err(|e| ClientError::Protocol(format!("the server's public key: {e}")))?;
                let (send, receive) = handshake.finish(&server).map_err(ClientError::Protocol)?;
                (send, inbound(receive))
            }
        };
        Ok(Client {
            conn,
            send_key,
            inbound,
            nick: nick.to_owned(),
            welcome,
            sent: vec![hello],
        })
    }

    /// Seals and sends one event.
    pub fn send(&mut self, event: &ClientEvent) -> Result<(), ClientError> {
        self.sent
            .push(serde_json::to_value(event).expect("events serialize"));
        Ok(self.conn.send(&seal(&self.send_key, event))?)
    }

    /// Says `text` to the room.
    pub fn say(&mut self, text: &str) -> Result<(), ClientError> {
        self.send(&ClientEvent::Say {
            text: text.to_owned(),
        })
    }

    /// The next event from the server, as JSON; an `error` event is returned, not raised.
    pub fn recv(&mut self) -> Result<Value, ClientError> {
        next_event(&mut self.conn, &mut self.inbound).or_else(|e| match e {
            ClientError::Refused { code, message } => Ok(serde_json::json!({
                "type": "error", "code": code, "message": message
            })),
            other => Err(other),
        })
    }

    /// Reads events until one of type `kind` arrives (at most 100 events).
    pub fn recv_type(&mut self, kind: &str) -> Result<Value, ClientError> {
        for _ in 0..100 {
            let event = self.recv()?;
            if wire::type_of(&event) == kind {
                return Ok(event);
            }
        }
        Err(ClientError::Protocol(format!("no {kind} event among 100")))
    }

    /// Says goodbye and closes.
    pub fn bye(mut self) {
        let _ = self.send(&ClientEvent::Bye { reason: None });
        self.conn.shutdown();
    }
}

/// Reads one frame and opens it; an `error` event becomes [`ClientError::Refused`].
fn next_event(conn: &mut Conn, inbound: &mut Inbound) -> Result<Value, ClientError> {
    let frame = conn.recv()?.ok_or(ClientError::Closed)?;
    if let Some(fingerprint) = parse_wrong_key_line(&frame) {
        return Err(ClientError::Refused {
            code: "wrong_key".into(),
            message: format!("the server (key fingerprint {fingerprint}) could not read our hello"),
        });
    }
    let AnyServerEvent(event) = inbound
        .accept::<AnyServerEvent>(&frame, unix_now())
        .map_err(ClientError::Unreadable)?;
    if wire::type_of(&event) == "error" {
        let field = |name: &str| {
            event
                .get(name)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        return Err(ClientError::Refused {
            code: field("code"),
            message: field("message"),
        });
    }
    Ok(event)
}
