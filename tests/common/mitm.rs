//! Lab 4's man in the middle, for the product's tests: a proxy that holds the class key, swaps
//! its own public keys into every `hello` and `handshake` that carries one (whatever the `kex`),
//! and re-seals the frames after them with the two plain `x25519` sessions it then shares
//! with each side. It knows nothing of the PSK derivation: against `x25519` it reads
//! everything; against `x25519-psk` key confirmation must stop it.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use fernchat::crypto::RoomKey;
use fernchat::kex::{Ephemeral, PUBLIC_FIELD, PublicShare, Role, SessionKeys};
use fernchat::protocol::{FrameError, FrameReader};
use serde_json::Value;

use super::STEP;

/// A proxy for one client connection.
pub struct Mitm {
    /// Where the client connects instead of the server.
    pub addr: SocketAddr,
    /// Every plaintext the proxy could read, in order.
    pub seen: Receiver<String>,
}

#[derive(Default)]
struct State {
    client_public: Option<PublicShare>,
    toward_client: Option<Ephemeral>,
    toward_server: Option<Ephemeral>,
    /// After the handshake: (with the client, with the server).
    sessions: Option<(SessionKeys, SessionKeys)>,
}

/// Starts a proxy to `server` for the next client that connects.
pub fn start(server: SocketAddr, class_key: RoomKey) -> Mitm {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (log, seen) = crossbeam_channel::unbounded();
    thread::spawn(move || {
        let Ok((client, _)) = listener.accept() else {
            return;
        };
        let Ok(upstream) = TcpStream::connect_timeout(&server, STEP) else {
            return;
        };
        let state = Arc::new(Mutex::new(State::default()));
        for (from, to, up) in [
            (
                client.try_clone().unwrap(),
                upstream.try_clone().unwrap(),
                true,
            ),
            (upstream, client, false),
        ] {
            let (state, key, log) = (Arc::clone(&state), class_key.clone(), log.clone());
            thread::spawn(move || pump(from, to, up, &key, &state, &log));
        }
    });
    Mitm { addr, seen }
}

fn pump(
    from: TcpStream,
    mut to: TcpStream,
    up: bool,
    key: &RoomKey,
    state: &Mutex<State>,
    log: &Sender<String>,
) {
    // A generous bound: the proxy lives as long as the test's connection.
    from.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut frames = FrameReader::new(from.try_clone().unwrap(), 1 << 20);
    loop {
        let frame = match frames.read_frame() {
            Ok(Some(frame)) => frame.to_vec(),
            Err(FrameError::Io(e)) if e.kind() == ErrorKind::Interrupted => continue,
            _ => break,
        };
        let mut state = state.lock().unwrap();
        let (forward, read) = intercept(&frame, up, key, &mut state);
        drop(state);
        if let Some(read) = read {
            let _ = log.send(read);
        }
        let mut line = forward;
        line.push(b'\n');
        if to.write_all(&line).is_err() {
            break;
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}

/// What to forward, and what was read.
fn intercept(
    frame: &[u8],
    up: bool,
    key: &RoomKey,
    state: &mut State,
) -> (Vec<u8>, Option<String>) {
    if let Some((with_client, with_server)) = &state.sessions {
        let (open, seal) = if up {
            (&with_client.receive, &with_server.send)
        } else {
            (&with_server.receive, &with_client.send)
        };
        return match open.decrypt(frame) {
            Ok(opened) => (
                seal.encrypt_at(&opened.plaintext, opened.timestamp)
                    .into_bytes(),
                Some(String::from_utf8_lossy(&opened.plaintext).into_owned()),
            ),
            Err(_) => (frame.to_vec(), None),
        };
    }
    let Ok(opened) = key.decrypt(frame) else {
        return (frame.to_vec(), None);
    };
    let read = Some(String::from_utf8_lossy(&opened.plaintext).into_owned());
    let Ok(mut event) = serde_json::from_slice::<Value>(&opened.plaintext) else {
        return (frame.to_vec(), read);
    };
    let Some(theirs) = event
        .get(PUBLIC_FIELD)
        .and_then(Value::as_str)
        .and_then(|t| PublicShare::from_wire(t).ok())
    else {
        return (frame.to_vec(), read);
    };
    if up && event["type"] == "hello" {
        let (toward_client, toward_server) = (Ephemeral::generate(), Ephemeral::generate());
        event[PUBLIC_FIELD] = toward_server.public().to_wire().into();
        state.client_public = Some(theirs);
        state.toward_client = Some(toward_client);
        state.toward_server = Some(toward_server);
    } else if !up && event["type"] == "handshake" {
        let (Some(toward_client), Some(toward_server), Some(client)) = (
            state.toward_client.take(),
            state.toward_server.take(),
            state.client_public,
        ) else {
            return (frame.to_vec(), read);
        };
        event[PUBLIC_FIELD] = toward_client.public().to_wire().into();
        let with_client = toward_client.finish(Role::Server, &client).unwrap();
        let with_server = toward_server.finish(Role::Client, &theirs).unwrap();
        state.sessions = Some((with_client, with_server));
    } else {
        return (frame.to_vec(), read);
    }
    let forward = key.encrypt_at(event.to_string().as_bytes(), opened.timestamp);
    (forward.into_bytes(), read)
}
