//! The proxy's plumbing: accept a client, connect to the server, and pass every frame in each
//! direction through the [`Interceptor`], logging what it could read. One thread per direction.
//!
//! A frame is logged *before* it is forwarded, so once the other end has received a frame,
//! the log already holds it: tests can compare without sleeping.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use labkit::conn::Conn;

use crate::{Direction, Interceptor};

/// How long a pump waits on a quiet socket before looking again; sockets stay open.
const POLL: Duration = Duration::from_millis(250);

/// One readable frame: which way it went and its plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// Which way.
    pub direction: Direction,
    /// The decrypted JSON.
    pub plaintext: String,
}

/// Accepts one client on `listener`, connects it to `server` through `interceptor`, and
/// returns once both directions are running. Readable frames go to `log`.
pub fn serve_one(
    listener: &TcpListener,
    server: SocketAddr,
    interceptor: Interceptor,
    log: Sender<Seen>,
) -> io::Result<()> {
    let (client, _) = listener.accept()?;
    let client = Conn::new(client, POLL)?;
    let server = Conn::new(TcpStream::connect_timeout(&server, labkit::STEP)?, POLL)?;
    relay(client, server, interceptor, log)
}

/// Runs both directions between two connected ends.
pub fn relay(
    client: Conn,
    server: Conn,
    interceptor: Interceptor,
    log: Sender<Seen>,
) -> io::Result<()> {
    let interceptor = Arc::new(Mutex::new(interceptor));
    let client_out = Conn::new(client.try_clone_stream()?, POLL)?;
    let server_out = Conn::new(server.try_clone_stream()?, POLL)?;
    for (from, to, direction) in [
        (client, server_out, Direction::ClientToServer),
        (server, client_out, Direction::ServerToClient),
    ] {
        let interceptor = Arc::clone(&interceptor);
        let log = log.clone();
        thread::spawn(move || pump(from, to, direction, &interceptor, &log));
    }
    Ok(())
}

fn pump(
    mut from: Conn,
    mut to: Conn,
    direction: Direction,
    interceptor: &Mutex<Interceptor>,
    log: &Sender<Seen>,
) {
    loop {
        let frame = match from.recv() {
            Ok(Some(frame)) => frame,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            // Closed or broken: close the other side too, so its pump ends as well.
            Ok(None) | Err(_) => break,
        };
        let relayed = {
            let mut interceptor = interceptor.lock().unwrap_or_else(|p| p.into_inner());
            match direction {
                Direction::ClientToServer => interceptor.from_client(&frame),
                Direction::ServerToClient => interceptor.from_server(&frame),
            }
        };
        if let Some(plaintext) = relayed.seen {
            let _ = log.send(Seen {
                direction,
                plaintext,
            });
        }
        if to.send(&relayed.forward).is_err() {
            break;
        }
    }
    from.shutdown();
    to.shutdown();
}
