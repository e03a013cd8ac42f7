//! Your handshake inside a real client: `labkit`'s honest client asks this for its public key
//! and, once the welcome arrives, for the session keys. Used by the grader and by `chat`.

use fernchat::crypto::RoomKey;
use fernchat::kex::PublicShare;
use labkit::client::ClientHandshake;
use rand_core::OsRng;

use crate::{KeyPair, Role, generate, session_keys};

/// The client's side of the `x25519` exchange, done by your functions.
#[derive(Debug)]
pub struct StudentHandshake(pub KeyPair);

impl StudentHandshake {
    /// A fresh key pair from the operating system's generator, through your `generate`.
    pub fn new() -> StudentHandshake {
        StudentHandshake(generate(&mut OsRng))
    }
}

impl Default for StudentHandshake {
    fn default() -> Self {
        StudentHandshake::new()
    }
}

impl ClientHandshake for StudentHandshake {
    fn public(&self) -> PublicShare {
        PublicShare(self.0.public)
    }

    fn finish(self, server: &PublicShare) -> Result<(RoomKey, RoomKey), String> {
        let keys = session_keys(Role::Client, &self.0, &server.0)
            .map_err(|_| "the server's public key is a low-order point".to_owned())?;
        Ok((keys.send, keys.receive))
    }
}
