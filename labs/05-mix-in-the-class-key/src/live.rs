//! Your functions inside a real client: `labkit`'s honest client hands this the welcome and
//! sends the `confirm` it returns. The Diffie-Hellman step is lab 3's (done here with
//! `x25519-dalek`); everything after it is yours. Used by the grader and by `chat`.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use fernchat::crypto::RoomKey;
use fernchat::kex::PublicShare;
use labkit::client::{Confirmed, ConfirmedHandshake};
use labkit::wire;
use rand_core::{OsRng, RngCore};
use serde_json::Value;
use x25519_dalek::{X25519_BASEPOINT_BYTES, x25519};

use crate::{
    KEX_X25519_PSK, Side, confirmation, confirmation_matches, derive_keys, psk_from_class_key,
    transcript,
};

/// The client's side of `x25519-psk`, done by your functions.
pub struct StudentPsk {
    class_key: [u8; 32],
    secret: [u8; 32],
    public: [u8; 32],
}

impl std::fmt::Debug for StudentPsk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StudentPsk").finish_non_exhaustive()
    }
}

impl StudentPsk {
    /// A fresh ephemeral key pair, for the class key `class_key`.
    pub fn new(class_key: &RoomKey) -> StudentPsk {
        let raw = URL_SAFE
            .decode(class_key.expose_secret())
            .expect("a RoomKey is base64");
        let mut secret = [0u8; 32];
        OsRng.fill_bytes(&mut secret);
        StudentPsk {
            class_key: raw.try_into().expect("a RoomKey holds 32 bytes"),
            secret,
            public: x25519(secret, X25519_BASEPOINT_BYTES),
        }
    }
}

impl ConfirmedHandshake for StudentPsk {
    fn kex(&self) -> &'static str {
        KEX_X25519_PSK
    }

    fn public(&self) -> PublicShare {
        PublicShare(self.public)
    }

    fn finish(self, nick: &str, welcome: &Value) -> Result<Confirmed, String> {
        if wire::kex_of(welcome) != KEX_X25519_PSK {
            return Err(format!(
                "the welcome answers kex {:?}",
                wire::kex_of(welcome)
            ));
        }
        let server = PublicShare::from_wire(wire::public_of(welcome).unwrap_or(""))
            .map_err(|e| format!("the server's public key: {e}"))?
            .0;
        let shared = x25519(self.secret, server);
        if shared == [0u8; 32] {
            return Err("the server's public key is a low-order point".into());
        }
        let psk = psk_from_class_key(&self.class_key);
        let t = transcript(KEX_X25519_PSK, nick, &self.public, &server, None);
        let keys = derive_keys(&shared, &psk, &t);
        let received = welcome
            .get("kex_confirm")
            .and_then(Value::as_str)
            .and_then(|text| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok())
            .unwrap_or_default();
        let expected = confirmation(&keys.confirm, Side::Server, &t);
        if !confirmation_matches(&expected, &received) {
            return Err(
                "the server's kex_confirm does not match ours: it derived other keys \
                 (another class key, or someone in the middle)"
                    .into(),
            );
        }
        Ok(Confirmed {
            send: keys.client_to_server,
            receive: keys.server_to_client,
            mac: URL_SAFE.encode(confirmation(&keys.confirm, Side::Client, &t)),
        })
    }
}
