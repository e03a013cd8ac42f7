//! fernchat: a teaching chat in which every frame on the wire is a Fernet token made with a
//! pre-shared class key.
//!
//! The binaries in `src/bin/` are thin; everything lives here:
//!
//! - [`crypto`]: the one place that knows Fernet (keys, fingerprints, time and replay rules);
//! - [`keyfile`]: keys on disk, plain or sealed under a passphrase;
//! - [`private_file`]: creating files only their owner can read (keys, history, transcripts);
//! - [`kex`]: the key exchanges: per-session, per-direction Fernet keys (lab 3), mixed with the
//!   pre-shared key and confirmed (lab 5), signed by the server (lab 6);
//! - [`identity`]: the server's Ed25519 identity key and its file;
//! - [`protocol`]: frames, the codec and the events of the wire protocol;
//! - [`server`]: the threaded chat server (acceptor, readers, writers, the hub);
//! - [`client`]: the chat client's core (session, connection, state) and its line front end.
#![forbid(unsafe_code)]

pub mod client;
pub mod crypto;
pub mod identity;
pub mod kex;
pub mod keyfile;
pub mod private_file;
pub mod protocol;
pub mod server;
