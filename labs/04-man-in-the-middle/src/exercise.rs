//! Lab 4: your code goes here. Every `TODO(student)` marks a place to change.
//!
//! The starter is a perfectly transparent proxy that reads nothing: the client and the server
//! work through it, and the grader's logs stay empty. Run the grader with `cargo test -p lab04`.

use fernchat::crypto::RoomKey;

use crate::Relayed;

/// The man in the middle's brain: sees every frame of one connection, in order, and decides
/// what to pass on.
#[derive(Debug)]
pub struct Interceptor {
    class_key: RoomKey,
    // TODO(student): what must you remember between frames? (Two key exchanges' worth.)
}

impl Interceptor {
    /// An interceptor for one connection, holding the class key (as every student does).
    pub fn new(class_key: RoomKey) -> Interceptor {
        Interceptor { class_key }
    }

    /// A frame from the client, on its way to the server.
    pub fn from_client(&mut self, frame: &[u8]) -> Relayed {
        // TODO(student): open the hello with the class key; if it asks for x25519, put your own
        // public key in its place (and keep the client's). After the handshake, open frames with
        // the key you share with the client and seal them again with the key you share with
        // the server. Report what you read in `seen`.
        let _ = &self.class_key;
        Relayed::unchanged(frame)
    }

    /// A frame from the server, on its way to the client.
    pub fn from_server(&mut self, frame: &[u8]) -> Relayed {
        // TODO(student): the handshake carries the server's public key: finish both exchanges
        // and hand the client *your* other public key instead. After that, re-seal as above.
        // (A `psk` handshake carries the server's nonce instead: with the client's, from its
        // hello, and the class key, that is all you need for that session's keys.)
        Relayed::unchanged(frame)
    }

    // -----------------------------------------------------------------------------------------
    // Stretch part (graded apart, no hints; see the README). TODO(stretch)

    /// After the handshake (`x25519` or `psk`): a frame for the server in which the client
    /// "says" `text`, though the client never did. `None` before the handshake is done.
    pub fn inject(&mut self, text: &str) -> Option<Vec<u8>> {
        // TODO(stretch)
        let _ = text;
        None
    }
}
