//! The `kex` fields of `hello` and `handshake` as JSON (PROTOCOL.md section 7), and the nonces
//! of protocol version 2 (section 2).
//!
//! The labs handle these two events as JSON values (the event as the crate serializes it, plus
//! the `kex` fields) so that a student's proxy can read and rewrite any field, even one it does
//! not expect. Any other event is the crate's own.

use fernchat::kex::{KEX_X25519, Nonce, PUBLIC_FIELD, PublicShare};
use fernchat::protocol::codec::Decodable;
use fernchat::protocol::{ClientEvent, PROTOCOL_VERSION, ServerEvent};
use serde_json::{Value, json};

/// A client event as a JSON value: decrypted and judged by `Inbound` like any other, then read
/// as a [`ClientEvent`] and for its extra fields.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(transparent)]
pub struct AnyClientEvent(pub Value);

impl Decodable for AnyClientEvent {
    const TYPES: &'static [&'static str] = ClientEvent::TYPES;
}

/// A server event as a JSON value (see [`AnyClientEvent`]).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(transparent)]
pub struct AnyServerEvent(pub Value);

impl Decodable for AnyServerEvent {
    const TYPES: &'static [&'static str] = ServerEvent::TYPES;
}

/// A `hello` for `nick`, with a fresh nonce (`Nc`, see [`nonce_of`]): `psk` without a public
/// key, `x25519` with one.
pub fn hello(nick: &str, public: Option<PublicShare>) -> Value {
    let nonce = Nonce::generate().to_wire();
    match public {
        None => json!({
            "type": "hello", "nick": nick, "version": PROTOCOL_VERSION, "kex": "psk",
            "nonce": nonce,
        }),
        Some(share) => json!({
            "type": "hello", "nick": nick, "version": PROTOCOL_VERSION,
            "kex": KEX_X25519, PUBLIC_FIELD: share.to_wire(), "nonce": nonce,
        }),
    }
}

/// A `hello` for `nick` asking for `kex`, with our public key and a fresh nonce.
pub fn hello_kex(nick: &str, kex: &str, public: PublicShare) -> Value {
    json!({
        "type": "hello", "nick": nick, "version": PROTOCOL_VERSION,
        "kex": kex, PUBLIC_FIELD: public.to_wire(), "nonce": Nonce::generate().to_wire(),
    })
}

/// The `nonce` of a hello or a handshake (the client's `Nc`), if it is 16 bytes of base64.
pub fn nonce_of(event: &Value) -> Option<Nonce> {
    Nonce::from_wire(event.get("nonce")?.as_str()?)
}

/// The `server_nonce` of a handshake (`Ns`).
pub fn server_nonce_of(event: &Value) -> Option<Nonce> {
    Nonce::from_wire(event.get("server_nonce")?.as_str()?)
}

/// `event` (a `handshake`) with the server's public key added.
pub fn with_public(event: &ServerEvent, share: PublicShare) -> Value {
    let mut value = serde_json::to_value(event).expect("events serialize");
    value["kex"] = json!(KEX_X25519);
    value[PUBLIC_FIELD] = json!(share.to_wire());
    value
}

/// The `kex` an event asks for (`"psk"` when absent, as the protocol says).
pub fn kex_of(event: &Value) -> &str {
    event.get("kex").and_then(Value::as_str).unwrap_or("psk")
}

/// The `kex_public` field, if present and a string.
pub fn public_of(event: &Value) -> Option<&str> {
    event.get(PUBLIC_FIELD).and_then(Value::as_str)
}

/// The `type` of an event, or `""`.
pub fn type_of(event: &Value) -> &str {
    event.get("type").and_then(Value::as_str).unwrap_or("")
}
