//! fernchat: a teaching chat in which every frame on the wire is a Fernet token made with a
//! pre-shared class key.
//!
//! The binaries in `src/bin/` are thin; everything lives here:
//!
//! - [`crypto`]: the one place that knows Fernet (keys, fingerprints, time and replay rules);
//! - [`keyfile`]: keys on disk, plain or sealed under a passphrase;
//! - [`protocol`]: frames, the codec and the events of the wire protocol.
//! - [`server`]: the threaded chat server (acceptor, readers, writers, the hub).
//! - [`load`]: the load generator, benchmarks and soak test (`src/bin/loadgen.rs`).
#![forbid(unsafe_code)]

pub mod crypto;
pub mod keyfile;
pub mod load;
pub mod protocol;
pub mod server;
