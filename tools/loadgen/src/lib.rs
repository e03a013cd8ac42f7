//! The load generator: measuring clients that speak the real protocol through
//! [`fernchat::protocol`], and the runs built from them. It is tooling, not chat: it lives in
//! its own workspace member so that the `fernchat` package a student builds and reads is only
//! the product; the `loadgen` binary is `src/main.rs` here.
//!
//! - [`run`]: N clients, S of them senders, M messages each, optionally paced, bounded in time;
//!   reports deliveries per second, end-to-end latency (the send time travels in the message
//!   text), lost and undecryptable messages. Optional join/leave churn and periodic samples of
//!   the server process make the same run a soak test.
//! - [`idle`]: thousands of connected, silent clients; the server's memory per client, and a
//!   broadcast that must reach every one of them.
//! - [`bench`]: the standard matrix, against a server process it starts itself.
//! - [`hostile`]: attacks on a server process it starts itself, while a normal pair chats.
//! - [`probe`]: the server process as `/proc` shows it (CPU time, RSS, threads, descriptors).
//! - [`client`]: one measuring connection.
//!
//! Every loop here is bounded in count and in time: a load run stops by itself.
#![forbid(unsafe_code)]

pub mod bench;
pub mod client;
pub mod hostile;
pub mod idle;
pub mod probe;
pub mod run;
pub mod stats;

use std::io;
use std::net::SocketAddr;

/// Why a load run could not be carried out. (A run that completes but loses messages is not
/// an error: its [`run::Report`] says so.)
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The parameters make no sense or lack a bound.
    #[error("invalid load parameters: {0}")]
    Config(String),
    /// A client could not connect.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// Where it tried.
        addr: SocketAddr,
        /// What the system said.
        source: io::Error,
    },
    /// The server refused a client's hello, or answered with something else.
    #[error("the server did not accept {nick}: {reason}")]
    Refused {
        /// The nick that was refused.
        nick: String,
        /// What came back instead of a welcome.
        reason: String,
    },
    /// The clients never all saw the synchronisation message, so a clean start was impossible.
    #[error("the clients did not get ready within {secs} s ({ready} of {clients} ready)")]
    NotReady {
        /// How long we waited.
        secs: u64,
        /// Clients that were ready.
        ready: usize,
        /// Clients in the run.
        clients: usize,
    },
    /// The server process could not be read through `/proc`.
    #[error("cannot read the server process {pid} in /proc: {source}")]
    Probe {
        /// Its process id.
        pid: u32,
        /// What went wrong.
        source: io::Error,
    },
    /// The server process (for [`bench`]) could not be started or did not come up.
    #[error("cannot start the server: {0}")]
    Server(String),
    /// A thread could not be started, or another local I/O failure.
    #[error("{0}")]
    Io(#[from] io::Error),
}
