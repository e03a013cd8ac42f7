//! Reference men in the middle, for the graders of labs 5 and 6 (never an exercise).
//!
//! Both hold the class key and swap their own public keys into every `hello` and `handshake`
//! that carries one, then re-seal every later frame between the two sessions they run:
//!
//! - [`Mode::Lab4`] is lab 4's proxy as it stands: it runs the plain `x25519` derivation. It
//!   reads an `x25519` session; against `x25519-psk` key confirmation must catch it.
//! - [`Mode::Insider`] also knows lab 5's PSK derivation (anyone in the class can read it in
//!   PROTOCOL.md): it makes the confirmation MACs each side expects, and so reads an
//!   `x25519-psk` session too. The class key proves membership, not identity. Only a
//!   signature with a key the insider does not hold (lab 6) stops it: the insider can pass
//!   the server's signature on, but it signs another transcript than the client's.
//!
//! A frame is logged before it is forwarded, so once the far end has it, the log holds it.

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use fernchat::crypto::RoomKey;
use fernchat::identity::IdentityKey;
use fernchat::kex::{
    CONFIRM_FIELD, Ephemeral, IDENTITY_FIELD, PUBLIC_FIELD, Psk, PublicShare, Role, SessionKeys,
    Transcript, is_confirmed,
};
use fernchat::protocol::{ClientEvent, FrameReader, seal};
use serde_json::Value;

use crate::STEP;

/// Which man in the middle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Lab 4's proxy: the plain `x25519` derivation only.
    Lab4,
    /// A class member who also knows the PSK derivation.
    Insider,
}

/// A proxy for the next client that connects.
#[derive(Debug)]
pub struct Mitm {
    /// Where the client connects instead of the server.
    pub addr: SocketAddr,
    /// Every plaintext the proxy could read, in order.
    pub seen: Receiver<String>,
}

#[derive(Default)]
struct State {
    hello: Option<Value>,
    client_public: Option<PublicShare>,
    toward_client: Option<Ephemeral>,
    toward_server: Option<Ephemeral>,
    /// After the handshake: the session with the client, the one with the server.
    sessions: Option<(SessionKeys, SessionKeys)>,
    /// Insider only: our confirmation for the server, sent in place of the client's.
    confirm_for_server: Option<String>,
}

/// Starts a proxy to `server` for the next client that connects to `addr`.
pub fn start(server: SocketAddr, class_key: RoomKey, mode: Mode) -> std::io::Result<Mitm> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (log, seen) = channel();
    thread::spawn(move || {
        if let Ok((client, _)) = listener.accept() {
            proxy(client, server, &class_key, mode, &log);
        }
    });
    Ok(Mitm { addr, seen })
}

/// Serves every client that connects to `listener`, each through its own proxy, logging what
/// it reads to `log` (the live steps' `cargo run -p labkit --bin labkit-mitm`). Never
/// returns.
pub fn serve(
    listener: &TcpListener,
    server: SocketAddr,
    class_key: &RoomKey,
    mode: Mode,
    log: &Sender<String>,
) {
    for client in listener.incoming().map_while(Result::ok) {
        proxy(client, server, class_key, mode, log);
    }
}

/// Connects one client to `server` through the proxy; returns once both directions run.
fn proxy(
    client: TcpStream,
    server: SocketAddr,
    class_key: &RoomKey,
    mode: Mode,
    log: &Sender<String>,
) {
    let Ok(upstream) = TcpStream::connect_timeout(&server, STEP) else {
        return;
    };
    let state = Arc::new(Mutex::new(State::default()));
    let (Ok(client_in), Ok(upstream_in)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    for (from, to, up) in [(client_in, upstream, true), (upstream_in, client, false)] {
        let (state, key, log) = (Arc::clone(&state), class_key.clone(), log.clone());
        thread::spawn(move || pump(from, to, up, mode, &key, &state, &log));
    }
}

fn pump(
    from: TcpStream,
    mut to: TcpStream,
    up: bool,
    mode: Mode,
    key: &RoomKey,
    state: &Mutex<State>,
    log: &Sender<String>,
) {
    // The proxy lives as long as the connection; this only bounds a forgotten one.
    let _ = from.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(reader) = from.try_clone() else {
        return;
    };
    let mut frames = FrameReader::new(reader, 1 << 20);
    loop {
        let frame = match frames.read_frame() {
            Ok(Some(frame)) => frame.to_vec(),
            Err(fernchat::protocol::FrameError::Io(e)) if e.kind() == ErrorKind::Interrupted => {
                continue;
            }
            _ => break,
        };
        let (forward, read) = {
            let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
            intercept(&frame, up, mode, key, &mut state)
        };
        if let Some(read) = read {
            let _ = log.send(read);
        }
        let mut line = forward;
        if line.last() != Some(&b'\n') {
            line.push(b'\n');
        }
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
    mode: Mode,
    key: &RoomKey,
    state: &mut State,
) -> (Vec<u8>, Option<String>) {
    if let Some((with_client, with_server)) = &state.sessions {
        let (open, reseal) = if up {
            (&with_client.receive, &with_server.send)
        } else {
            (&with_server.receive, &with_client.send)
        };
        let Ok(opened) = open.decrypt(frame) else {
            return (frame.to_vec(), None);
        };
        let read = Some(String::from_utf8_lossy(&opened.plaintext).into_owned());
        // The insider swaps the client's confirmation (made for the client's transcript) for
        // its own (made for the server's).
        if up && let Some(mac) = state.confirm_for_server.take() {
            let confirm = ClientEvent::Confirm { mac: Some(mac) };
            return (seal(&with_server.send, &confirm), read);
        }
        let forward = reseal.encrypt_at(&opened.plaintext, opened.timestamp);
        return (forward.into_bytes(), read);
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
        state.hello = Some(event.clone());
        event[PUBLIC_FIELD] = toward_server.public().to_wire().into();
        state.client_public = Some(theirs);
        state.toward_client = Some(toward_client);
        state.toward_server = Some(toward_server);
    } else if !up && event["type"] == "handshake" {
        let (Some(toward_client), Some(toward_server), Some(client), Some(hello)) = (
            state.toward_client.take(),
            state.toward_server.take(),
            state.client_public,
            state.hello.take(),
        ) else {
            return (frame.to_vec(), read);
        };
        let ours = toward_client.public();
        event[PUBLIC_FIELD] = ours.to_wire().into();
        let kex = event["kex"].as_str().unwrap_or("").to_owned();
        let sessions = if mode == Mode::Insider && is_confirmed(&kex) {
            let psk = Psk::from_class_key(key);
            let nick = hello["nick"].as_str().unwrap_or("");
            let identity = event
                .get(IDENTITY_FIELD)
                .and_then(Value::as_str)
                .and_then(|t| IdentityKey::from_wire(t).ok());
            let identity = identity.as_ref().map(|k| &k.0);
            let to_server = Transcript::new(&kex, nick, &toward_server.public(), &theirs, identity);
            let to_client = Transcript::new(&kex, nick, &client, &ours, identity);
            let (Ok(with_server), Ok(with_client)) = (
                toward_server.finish_psk(Role::Client, &theirs, &psk, &to_server),
                toward_client.finish_psk(Role::Server, &client, &psk, &to_client),
            ) else {
                return (frame.to_vec(), read);
            };
            event[CONFIRM_FIELD] = with_client.ours_wire().into();
            state.confirm_for_server = Some(with_server.ours_wire());
            (with_client.keys, with_server.keys)
        } else {
            let (Ok(with_client), Ok(with_server)) = (
                toward_client.finish(Role::Server, &client),
                toward_server.finish(Role::Client, &theirs),
            ) else {
                return (frame.to_vec(), read);
            };
            (with_client, with_server)
        };
        state.sessions = Some(sessions);
    } else {
        return (frame.to_vec(), read);
    }
    let forward = key.encrypt_at(event.to_string().as_bytes(), opened.timestamp);
    (forward.into_bytes(), read)
}
