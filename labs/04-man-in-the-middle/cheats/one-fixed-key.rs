//! CHEAT (instructors only; never in the students' copy): one fixed key pair for both sides and every connection
//!
//! Lab 4: the proxy's two key pairs come from a constant seed: the client and the server are
//! shown the same public key, and it is the same on every connection (a fingerprint any client
//! that remembers keys would spot; and not the fresh ephemeral keys lab 3 taught). It passed the
//! old grader, which only checked that each side got a key that was not its peer's. The grader
//! now checks that the two sides get different keys and that two connections get different
//! keys. (Protocol version 2: the reference's psk step is kept, so only the cheat differs.)

use fernchat::crypto::RoomKey;
use fernchat::kex::{
    Ephemeral, KEX_X25519, Nonce, PUBLIC_FIELD, PublicShare, Role, SessionKeys, psk_session_keys,
};
use serde_json::Value;

use crate::Relayed;

#[derive(Debug)]
pub struct Interceptor {
    class_key: RoomKey,
    /// The client's public key, from its hello.
    client_public: Option<PublicShare>,
    /// The client's nonce, from its hello: with the server's, and the class key, it gives a
    /// `psk` session's keys (protocol version 2).
    client_nonce: Option<Nonce>,
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
            client_nonce: None,
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
        if let Ok(event) = serde_json::from_slice::<Value>(&opened.plaintext)
            && event["type"] == "hello"
        {
            self.client_nonce = nonce_of(&event, "nonce");
        }
        let Some(mut hello) = x25519_event(&opened.plaintext, "hello") else {
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
        // One fixed key pair, toward both sides, on every connection.
        let toward_client = Ephemeral::from_rng(&mut labkit::rng::SeededRng::new(7));
        let toward_server = Ephemeral::from_rng(&mut labkit::rng::SeededRng::new(7));
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
        if let Some(sessions) = self.psk_sessions(&opened.plaintext) {
            // A `psk` session: its keys come from the class key and two nonces that both
            // travelled under the class key. Nothing to swap; read everything from here on.
            self.sessions = Some(sessions);
            return Relayed {
                forward: frame.to_vec(),
                seen: Some(seen),
            };
        }
        let welcome = x25519_event(&opened.plaintext, "handshake");
        let server_public = welcome.as_ref().and_then(public_of);
        let (Some(mut welcome), Some(server_public)) = (welcome, server_public) else {
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
        welcome[PUBLIC_FIELD] = our_public.to_wire().into();
        let forward = self
            .class_key
            .encrypt_at(welcome.to_string().as_bytes(), opened.timestamp);
        Relayed {
            forward: forward.into_bytes(),
            seen: Some(seen),
        }
    }

    /// If `plaintext` is the handshake of a `psk` session, both sides' keys as the proxy uses
    /// them: it reads the server's frames under the server-to-client key or, for room
    /// broadcasts, the class key, and passes everything on as it is (resealed under the same
    /// session keys).
    fn psk_sessions(&self, plaintext: &[u8]) -> Option<Sessions> {
        let event: Value = serde_json::from_slice(plaintext).ok()?;
        if event["type"] != "handshake" || event["kex"] != "psk" {
            return None;
        }
        let server_nonce = nonce_of(&event, "server_nonce")?;
        let keys = psk_session_keys(&self.class_key, &self.client_nonce?, &server_nonce);
        let (c2s, s2c) = (keys.client_to_server, keys.server_to_client);
        Some(Sessions {
            with_client: SessionKeys {
                send: s2c.clone(),
                receive: c2s.clone(),
            },
            with_server: SessionKeys {
                send: c2s,
                receive: RoomKey::with_fallback(&s2c, &self.class_key),
            },
        })
    }
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
            room: None,
        };
        let mut frame = fernchat::protocol::seal(&sessions.with_server.send, &event);
        frame.pop(); // the newline: frames here are without it
        Some(frame)
    }
}

fn nonce_of(event: &Value, field: &str) -> Option<Nonce> {
    Nonce::from_wire(event.get(field)?.as_str()?)
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
