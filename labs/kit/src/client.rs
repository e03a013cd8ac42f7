//! An honest client: joins with `psk`, `x25519`, `x25519-psk` or `x25519-psk-signed`, then
//! sends and receives events.
//!
//! The handshakes are traits, [`ClientHandshake`] and [`ConfirmedHandshake`], so labs 3, 5 and
//! 6 can run this same client with the student's handshake in place of `fernchat::kex`.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use fernchat::client::pins::{KnownServers, Pin};
use fernchat::crypto::{RoomKey, TimePolicy, unix_now};
use fernchat::identity::IdentityKey;
use fernchat::kex::{
    CONFIRM_FIELD, Ephemeral, IDENTITY_FIELD, KEX_X25519_PSK, KEX_X25519_PSK_SIGNED, Psk,
    PublicShare, Role, SIGNATURE_FIELD, Transcript, psk_session_keys,
};
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
    /// Given the server's public key from its `handshake`: `(send key, receive key)`.
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

/// What the client's half of a confirmed exchange (`x25519-psk`, `-signed`) gives once the
/// server's `handshake` checked out.
#[derive(Debug)]
pub struct Confirmed {
    /// Seals what we send.
    pub send: RoomKey,
    /// Opens what we receive.
    pub receive: RoomKey,
    /// Our confirmation MAC, for the `confirm` event (URL-safe base64).
    pub mac: String,
}

/// The client's half of an exchange with key confirmation: it asks for `kex`, sends `public`
/// in the hello, and judges the server's answer. An `Err` from `finish` means the client
/// refuses the session: [`Client::join_confirmed`] then sends nothing more and closes.
///
/// The answer is the `handshake` event of protocol version 2 (PROTOCOL.md section 7), which
/// carries the `kex_*` fields that version 1's `welcome` carried; the parameter keeps its
/// version-1 name so the labs' handshakes read the same fields as before.
pub trait ConfirmedHandshake {
    /// The `kex` of the hello.
    fn kex(&self) -> &'static str;
    /// Our public key, for the hello.
    fn public(&self) -> PublicShare;
    /// Given our nick and the server's handshake (JSON): check it, derive the keys.
    fn finish(self, nick: &str, welcome: &Value) -> Result<Confirmed, String>;
}

/// `fernchat::kex`'s client half of `x25519-psk` (and, with pins, `x25519-psk-signed`): the
/// reference the labs' handshakes are compared with.
#[derive(Debug)]
pub struct ReferencePsk {
    class_key: RoomKey,
    ephemeral: Ephemeral,
    /// For the signed exchange: the pin file and the name the server is pinned under.
    pins: Option<(KnownServers, String)>,
}

impl ReferencePsk {
    /// An `x25519-psk` handshake with `class_key`.
    pub fn new(class_key: &RoomKey) -> ReferencePsk {
        ReferencePsk {
            class_key: class_key.clone(),
            ephemeral: Ephemeral::generate(),
            pins: None,
        }
    }

    /// An `x25519-psk-signed` handshake that pins the server as `target` in `pins`.
    pub fn signed(class_key: &RoomKey, pins: KnownServers, target: &str) -> ReferencePsk {
        ReferencePsk {
            pins: Some((pins, target.to_owned())),
            ..ReferencePsk::new(class_key)
        }
    }
}

impl ConfirmedHandshake for ReferencePsk {
    fn kex(&self) -> &'static str {
        if self.pins.is_some() {
            KEX_X25519_PSK_SIGNED
        } else {
            KEX_X25519_PSK
        }
    }

    fn public(&self) -> PublicShare {
        self.ephemeral.public()
    }

    fn finish(self, nick: &str, welcome: &Value) -> Result<Confirmed, String> {
        let kex = self.kex();
        if wire::kex_of(welcome) != kex {
            return Err(format!(
                "the handshake answers kex {:?}",
                wire::kex_of(welcome)
            ));
        }
        let field = |name: &str| welcome.get(name).and_then(Value::as_str);
        let server = PublicShare::from_wire(wire::public_of(welcome).unwrap_or(""))
            .map_err(|e| format!("the server's public key: {e}"))?;
        let identity = match &self.pins {
            None => None,
            Some(_) => Some(
                IdentityKey::from_wire(field(IDENTITY_FIELD).unwrap_or(""))
                    .map_err(|e| e.to_string())?,
            ),
        };
        let public = self.ephemeral.public();
        let transcript =
            Transcript::new(kex, nick, &public, &server, identity.as_ref().map(|k| &k.0));
        if let (Some(identity), Some((pins, target))) = (identity, &self.pins) {
            identity
                .verify(&transcript, field(SIGNATURE_FIELD).unwrap_or(""))
                .map_err(|e| e.to_string())?;
            let _: Pin = pins.check(target, &identity).map_err(|e| e.to_string())?;
        }
        let confirming = self
            .ephemeral
            .finish_psk(
                Role::Client,
                &server,
                &Psk::from_class_key(&self.class_key),
                &transcript,
            )
            .map_err(|e| e.to_string())?;
        confirming
            .check(field(CONFIRM_FIELD).unwrap_or(""))
            .map_err(|e| e.to_string())?;
        Ok(Confirmed {
            mac: confirming.ours_wire(),
            send: confirming.keys.send,
            receive: confirming.keys.receive,
        })
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
    /// Our handshake refused the server's handshake (confirmation, signature or pin):
    /// nothing more was sent.
    HandshakeRefused(String),
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
            ClientError::HandshakeRefused(why) => {
                write!(
                    f,
                    "our handshake refused the server, nothing was sent: {why}"
                )
            }
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
    /// The server's handshake, as JSON (its `kex_*` fields).
    pub handshake: Value,
    /// The server's welcome, as JSON.
    pub welcome: Value,
    /// Every event we sent, as JSON, the hello first.
    pub sent: Vec<Value>,
}

/// The incoming side of one connection, with its own replay memory (protocol version 2).
fn inbound(key: RoomKey) -> Inbound {
    Inbound::per_connection(key, TimePolicy::default(), 100_000)
}

/// Sends `hello` under the class key and reads the server's `handshake`, which must echo the
/// hello's nonce (a recorded one would not). Returns it and the inbound side, whose clock was
/// measured from it.
fn hello_and_handshake(
    conn: &mut Conn,
    class_key: &RoomKey,
    hello: &Value,
) -> Result<(Value, Inbound), ClientError> {
    conn.send(&seal(class_key, hello))?;
    let mut class_inbound = inbound(class_key.clone());
    let handshake = next_event(conn, &mut class_inbound)?;
    if wire::type_of(&handshake) != "handshake" {
        return Err(ClientError::Protocol(format!(
            "expected a handshake, got {handshake}"
        )));
    }
    if wire::nonce_of(&handshake).is_none() || wire::nonce_of(&handshake) != wire::nonce_of(hello) {
        return Err(ClientError::Protocol(
            "the handshake does not echo our nonce: a recorded or replayed answer".into(),
        ));
    }
    Ok((handshake, class_inbound))
}

/// Sends `confirm` under `send` and reads the `welcome` (under the session key, which
/// `inbound` opens by now).
fn confirm_and_welcome(
    conn: &mut Conn,
    send: &RoomKey,
    inbound: &mut Inbound,
    mac: Option<String>,
) -> Result<(Value, Value), ClientError> {
    let confirm = ClientEvent::Confirm { mac };
    conn.send(&seal(send, &confirm))?;
    let welcome = next_event(conn, inbound)?;
    if wire::type_of(&welcome) != "welcome" {
        return Err(ClientError::Protocol(format!(
            "expected a welcome, got {welcome}"
        )));
    }
    Ok((
        serde_json::to_value(&confirm).expect("events serialize"),
        welcome,
    ))
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

    /// Joins with an exchange that has key confirmation (`x25519-psk`, `-signed`): hello,
    /// handshake, `handshake.finish`, then `confirm` under the new key and the welcome. If
    /// `finish` refuses, nothing more is sent and the connection is closed.
    pub fn join_confirmed<H: ConfirmedHandshake>(
        addr: SocketAddr,
        class_key: &RoomKey,
        nick: &str,
        handshake: H,
    ) -> Result<Client, ClientError> {
        let mut conn = Conn::connect(addr, STEP)?;
        let hello = wire::hello_kex(nick, handshake.kex(), handshake.public());
        let (answer, mut inbound) = hello_and_handshake(&mut conn, class_key, &hello)?;
        let confirmed = match handshake.finish(nick, &answer) {
            Ok(confirmed) => confirmed,
            Err(why) => {
                conn.shutdown();
                return Err(ClientError::HandshakeRefused(why));
            }
        };
        inbound.rekey(confirmed.receive);
        let (confirm, welcome) = confirm_and_welcome(
            &mut conn,
            &confirmed.send,
            &mut inbound,
            Some(confirmed.mac),
        )?;
        Ok(Client {
            conn,
            send_key: confirmed.send,
            inbound,
            nick: nick.to_owned(),
            handshake: answer,
            welcome,
            sent: vec![hello, confirm],
        })
    }

    /// Hello, handshake, confirm, welcome (PROTOCOL.md section 4): `psk` derives the session
    /// keys from the class key and both nonces; `x25519` from the exchange.
    fn join<H: ClientHandshake>(
        addr: SocketAddr,
        class_key: &RoomKey,
        nick: &str,
        handshake: Option<H>,
    ) -> Result<Client, ClientError> {
        let mut conn = Conn::connect(addr, STEP)?;
        let hello = wire::hello(nick, handshake.as_ref().map(|h| h.public()));
        // The hello and the handshake travel under the class key: no session key exists yet.
        let (answer, mut inbound) = hello_and_handshake(&mut conn, class_key, &hello)?;
        let (send_key, receive) = match handshake {
            None => {
                let (Some(client), Some(server)) =
                    (wire::nonce_of(&hello), wire::server_nonce_of(&answer))
                else {
                    return Err(ClientError::Protocol(
                        "the handshake has no 16-byte server_nonce".into(),
                    ));
                };
                let keys = psk_session_keys(class_key, &client, &server);
                // Room broadcasts come under the class key, the rest under the session key.
                let receive = RoomKey::with_fallback(&keys.server_to_client, class_key);
                (keys.client_to_server, receive)
            }
            Some(handshake) => {
                let server = wire::public_of(&answer).ok_or_else(|| {
                    ClientError::Protocol(
                        "the handshake has no kex_public: the server did not do the x25519 \
                         exchange"
                            .into(),
                    )
                })?;
                let server = PublicShare::from_wire(server)
                    .map_err(|e| ClientError::Protocol(format!("the server's public key: {e}")))?;
                handshake.finish(&server).map_err(ClientError::Protocol)?
            }
        };
        inbound.rekey(receive);
        let (confirm, welcome) = confirm_and_welcome(&mut conn, &send_key, &mut inbound, None)?;
        Ok(Client {
            conn,
            send_key,
            inbound,
            nick: nick.to_owned(),
            handshake: answer,
            welcome,
            sent: vec![hello, confirm],
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
            room: None,
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
    /// The live steps' chat: says each line read from standard input to the room and prints
    /// what has arrived after it, up to our own message coming back (the delivery receipt).
    /// Ends with `bye` at the end of input.
    pub fn chat_from_stdin(mut self) -> Result<(), String> {
        use std::io::BufRead;
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| e.to_string())?;
            if !line.trim().is_empty() {
                self.say(&line).map_err(|e| e.to_string())?;
            }
            loop {
                match self.recv() {
                    Ok(event) => {
                        println!("{event}");
                        if crate::wire::type_of(&event) == "message" {
                            break;
                        }
                    }
                    // A read timeout: nothing more has arrived for now.
                    Err(ClientError::Io(_)) => break,
                    Err(e) => return Err(e.to_string()),
                }
            }
        }
        self.bye();
        Ok(())
    }

    pub fn bye(mut self) {
        let _ = self.send(&ClientEvent::Bye { reason: None });
        self.conn.shutdown();
    }
}

/// A `psk` session's keys, from [`psk_handshake`].
#[derive(Debug)]
pub struct PskSession {
    /// Seals what we send (the client-to-server key).
    pub send: RoomKey,
    /// Opens what the server sends us alone (the server-to-client key).
    pub own: RoomKey,
    /// The incoming side, clock measured from the handshake, opening `own` and (for room
    /// broadcasts) the class key.
    pub inbound: Inbound,
}

/// The `psk` handshake of protocol version 2 on a raw connection, for the live steps that look
/// at frames themselves (labs 1 and 2): hello, handshake, confirm. The welcome is the next
/// frame on `conn`. `seen` is told each frame sent or received, with the key that sealed it.
pub fn psk_handshake(
    conn: &mut Conn,
    class_key: &RoomKey,
    nick: &str,
    mut seen: impl FnMut(&str, &[u8], &RoomKey),
) -> Result<PskSession, ClientError> {
    let hello = wire::hello(nick, None);
    let frame = seal(class_key, &hello);
    seen("sent", frame.trim_ascii_end(), class_key);
    conn.send(&frame)?;
    let raw = conn.recv()?.ok_or(ClientError::Closed)?;
    seen("received", &raw, class_key);
    let mut inbound = inbound(class_key.clone());
    if let Some(fingerprint) = parse_wrong_key_line(&raw) {
        return Err(ClientError::Refused {
            code: "wrong_key".into(),
            message: format!("the server (key fingerprint {fingerprint}) could not read our hello"),
        });
    }
    let AnyServerEvent(answer) = inbound
        .accept::<AnyServerEvent>(&raw, unix_now())
        .map_err(ClientError::Unreadable)?;
    let (Some(client), Some(server)) = (wire::nonce_of(&hello), wire::server_nonce_of(&answer))
    else {
        return Err(ClientError::Protocol(format!(
            "expected a handshake, got {answer}"
        )));
    };
    if wire::nonce_of(&answer) != Some(client) {
        return Err(ClientError::Protocol(
            "the handshake does not echo our nonce: a recorded or replayed answer".into(),
        ));
    }
    let keys = psk_session_keys(class_key, &client, &server);
    let frame = seal(&keys.client_to_server, &ClientEvent::Confirm { mac: None });
    seen("sent", frame.trim_ascii_end(), &keys.client_to_server);
    conn.send(&frame)?;
    inbound.rekey(RoomKey::with_fallback(&keys.server_to_client, class_key));
    Ok(PskSession {
        send: keys.client_to_server,
        own: keys.server_to_client,
        inbound,
    })
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
