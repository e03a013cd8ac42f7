//! Your functions inside a real client: the `x25519-psk` part of the handshake is lab 5's (done
//! here with `fernchat::kex`); the signature check and the pin are yours. Used by the grader
//! and by `chat`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fernchat::crypto::RoomKey;
use fernchat::kex::{Ephemeral, Psk, PublicShare, Role, Transcript};
use labkit::client::{Confirmed, ConfirmedHandshake};
use labkit::wire;
use serde_json::Value;

use crate::{KEX_X25519_PSK_SIGNED, PinError, Pins, verify_transcript};

/// The client's side of `x25519-psk-signed`, with your signature check and pins.
#[derive(Debug)]
pub struct StudentSigned {
    class_key: RoomKey,
    ephemeral: Ephemeral,
    pins: Pins,
    server: String,
}

impl StudentSigned {
    /// A fresh handshake that pins the server under the name `server` in `pins`.
    pub fn new(class_key: &RoomKey, pins: Pins, server: &str) -> StudentSigned {
        StudentSigned {
            class_key: class_key.clone(),
            ephemeral: Ephemeral::generate(),
            pins,
            server: server.to_owned(),
        }
    }
}

fn bytes<const N: usize>(welcome: &Value, field: &str) -> Result<[u8; N], String> {
    welcome
        .get(field)
        .and_then(Value::as_str)
        .and_then(|text| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok())
        .and_then(|raw| <[u8; N]>::try_from(raw).ok())
        .ok_or_else(|| format!("the welcome's {field} is missing or malformed"))
}

impl ConfirmedHandshake for StudentSigned {
    fn kex(&self) -> &'static str {
        KEX_X25519_PSK_SIGNED
    }

    fn public(&self) -> PublicShare {
        self.ephemeral.public()
    }

    fn finish(mut self, nick: &str, welcome: &Value) -> Result<Confirmed, String> {
        if wire::kex_of(welcome) != KEX_X25519_PSK_SIGNED {
            return Err(format!(
                "the welcome answers kex {:?}",
                wire::kex_of(welcome)
            ));
        }
        let server = PublicShare(bytes::<32>(welcome, "kex_public")?);
        let identity = bytes::<32>(welcome, "kex_identity")?;
        let signature = bytes::<64>(welcome, "kex_signature")?;
        let public = self.ephemeral.public();
        let transcript = Transcript::new(
            KEX_X25519_PSK_SIGNED,
            nick,
            &public,
            &server,
            Some(&identity),
        );
        verify_transcript(&identity, &transcript.0, &signature)
            .map_err(|_| "the server's signature over this handshake does not verify".to_owned())?;
        match self.pins.check(&self.server, &identity) {
            Ok(_) => {}
            Err(PinError::Changed { .. }) => {
                return Err(format!(
                    "{} shows another identity key than the one pinned on first use",
                    self.server
                ));
            }
            Err(PinError::Storage(e)) => return Err(format!("the pin file: {e}")),
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
            .check(
                welcome
                    .get("kex_confirm")
                    .and_then(Value::as_str)
                    .unwrap_or(""),
            )
            .map_err(|e| e.to_string())?;
        Ok(Confirmed {
            mac: confirming.ours_wire(),
            send: confirming.keys.send,
            receive: confirming.keys.receive,
        })
    }
}
