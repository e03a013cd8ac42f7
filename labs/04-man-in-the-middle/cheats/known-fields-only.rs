//! CHEAT (instructors only; never in the students' copy): rebuilds the hello and the welcome from the fields it knows
//!
//! Lab 4: the proxy forwards a hello and a welcome rebuilt from a fixed list of fields, so any
//! other field the client or the server sent is silently dropped (a proxy that breaks every
//! protocol extension, and that a careful client would notice). It passed the old grader, whose
//! hello and welcome held exactly those fields. The grader's hello and welcome now carry extra
//! fields with generated values.

use fernchat::crypto::RoomKey;
use fernchat::kex::{Ephemeral, KEX_X25519, PUBLIC_FIELD, PublicShare, Role, SessionKeys};
use serde_json::Value;

use crate::Relayed;

#[derive(Debug)]
pub struct Interceptor {
    class_key: RoomKey,
    /// The client's public key, from its hello.
    client_public: Option<PublicShare>,
    /// Our key pair facing the client (we play the server there) ...
    toward_client: Option<Ephemeral>,
    /// ... and facing the server (we play the client there).
    toward_server: Option<Ephemeral>,
    /// Once both exchanges are done: our keys in each session.
    sessions: Option<Sessions>,
}

#[derive(Debug)]
struct Sessions {
    /// The session with the client: we receive its frames with `receive`, answer with `send`.
    with_client: SessionKeys,
    /// The session with the server.
    with_server: SessionKeys,
}

/// Opens `frame` with `from` and seals the same plaintext with `to`, keeping the timestamp so
/// the receiver's clock checks see what the sender meant. `None` if it does not open.
fn reseal(frame: &[u8], from: &RoomKey, to: &RoomKey) -> Option<(Vec<u8>, String)> {
    let opened = from.decrypt(frame).ok()?;
    let forward = to
        .encrypt_at(&opened.plaintext, opened.timestamp)
        .into_bytes();
    Some((
        forward,
        String::from_utf8_lossy(&opened.plaintext).into_owned(),
    ))
}

impl Interceptor {
    pub fn new(class_key: RoomKey) -> Interceptor {
        Interceptor {
            class_key,
            client_public: None,
            toward_client: None,
            toward_server: None,
            sessions: None,
        }
    }

    pub fn from_client(&mut self, frame: &[u8]) -> Relayed {
        if let Some(sessions) = &self.sessions {
            return relay(
                frame,
                &sessions.with_client.receive,
                &sessions.with_server.send,
            );
        }
        let Ok(opened) = self.class_key.decrypt(frame) else {
            return Relayed::unchanged(frame);
        };
        let seen = String::from_utf8_lossy(&opened.plaintext).into_owned();
        let Some(hello) = x25519_event(&opened.plaintext, "hello") else {
            // A psk session (or anything before the exchange): the class key reads it as is.
            return Relayed {
                forward: frame.to_vec(),
                seen: Some(seen),
            };
        };
        let Some(client_public) = public_of(&hello) else {
            return Relayed {
                forward: frame.to_vec(),
                seen: Some(seen),
            };
        };
        // Two fresh key pairs: one to answer the client with, one to greet the server with.
        let toward_client = Ephemeral::generate();
        let toward_server = Ephemeral::generate();
        // Rebuilt from the fields this proxy knows about: anything else the client said is lost.
        let mut hello = known_fields(&hello, &["type", "nick", "version", "kex"]);
        hello[PUBLIC_FIELD] = toward_server.public().to_wire().into();
        self.client_public = Some(client_public);
        self.toward_client = Some(toward_client);
        self.toward_server = Some(toward_server);
        // The hello is sealed with the class key, so we can make a new, valid one.
        let forward = self
            .class_key
            .encrypt_at(hello.to_string().as_bytes(), opened.timestamp);
        Relayed {
            forward: forward.into_bytes(),
            seen: Some(seen),
        }
    }

    pub fn from_server(&mut self, frame: &[u8]) -> Relayed {
        if let Some(sessions) = &self.sessions {
            return relay(
                frame,
                &sessions.with_server.receive,
                &sessions.with_client.send,
            );
        }
        let Ok(opened) = self.class_key.decrypt(frame) else {
            return Relayed::unchanged(frame);
        };
        let seen = String::from_utf8_lossy(&opened.plaintext).into_owned();
        let welcome = x25519_event(&opened.plaintext, "welcome");
        let server_public = welcome.as_ref().and_then(public_of);
        let (Some(welcome), Some(server_public)) = (welcome, server_public) else {
            return Relayed {
                forward: frame.to_vec(),
                seen: Some(seen),
            };
        };
        let (Some(toward_client), Some(toward_server), Some(client_public)) = (
            self.toward_client.take(),
            self.toward_server.take(),
            self.client_public,
        ) else {
            return Relayed {
                forward: frame.to_vec(),
                seen: Some(seen),
            };
        };
        let our_public = toward_client.public();
        // Each side now runs an honest exchange, with us.
        let (Ok(with_client), Ok(with_server)) = (
            toward_client.finish(Role::Server, &client_public),
            toward_server.finish(Role::Client, &server_public),
        ) else {
            return Relayed {
                forward: frame.to_vec(),
                seen: Some(seen),
            };
        };
        self.sessions = Some(Sessions {
            with_client,
            with_server,
        });
        let mut welcome = known_fields(
            &welcome,
            &[
                "type", "nick", "users", "version", "server", "max_text", "time", "kex",
            ],
        );
        welcome[PUBLIC_FIELD] = our_public.to_wire().into();
        let forward = self
            .class_key
            .encrypt_at(welcome.to_string().as_bytes(), opened.timestamp);
        Relayed {
            forward: forward.into_bytes(),
            seen: Some(seen),
        }
    }
}

/// After the handshake: read with one session's key, pass on under the other's.
fn relay(frame: &[u8], from: &RoomKey, to: &RoomKey) -> Relayed {
    match reseal(frame, from, to) {
        Some((forward, seen)) => Relayed {
            forward,
            seen: Some(seen),
        },
        None => Relayed::unchanged(frame),
    }
}

/// The JSON event if it has type `kind` and asks for (or answers with) `x25519`.
fn x25519_event(plaintext: &[u8], kind: &str) -> Option<Value> {
    let event: Value = serde_json::from_slice(plaintext).ok()?;
    (event["type"] == kind && event["kex"] == KEX_X25519).then_some(event)
}

fn public_of(event: &Value) -> Option<PublicShare> {
    PublicShare::from_wire(event.get(PUBLIC_FIELD)?.as_str()?).ok()
}

/// A copy of `event` with only the `fields` named.
fn known_fields(event: &Value, fields: &[&str]) -> Value {
    let mut out = serde_json::Map::new();
    for field in fields {
        if let Some(value) = event.get(*field) {
            out.insert((*field).to_owned(), value.clone());
        }
    }
    Value::Object(out)
}

impl Interceptor {
    // Stretch part.

    pub fn inject(&mut self, text: &str) -> Option<Vec<u8>> {
        // The server opens what the client sends with the key it shares with *us*: anything we
        // seal with it is, to the server, the client speaking. Nothing binds a frame to the
        // person who typed it, only to whoever holds the session key.
        let sessions = self.sessions.as_ref()?;
        let event = fernchat::protocol::ClientEvent::Say {
            text: text.to_owned(),
        };
        let mut frame = fernchat::protocol::seal(&sessions.with_server.send, &event);
        frame.pop(); // the newline: frames here are without it
        Some(frame)
    }
}
