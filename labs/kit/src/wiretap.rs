//! A logging relay: forwards every byte between clients and a server unchanged, and reports
//! each frame it sees with whether the class key opens it (lab 3's live step, instead of a
//! packet capture that needs root).
//!
//! It assumes of the protocol only "one token per line", plus one step of version 2: a `psk`
//! session's frames after the handshake are sealed with keys derived from the class key and the
//! two nonces of `hello` and `handshake` (PROTOCOL.md section 2), which the class key opens. So
//! the relay remembers the nonces of each connection and derives those keys too: what it shows
//! is what anyone holding the class key reads. An `x25519` session's keys it cannot derive.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use fernchat::crypto::RoomKey;
use fernchat::kex::{Nonce, psk_session_keys};
use serde_json::Value;

use crate::{STEP, wire};

/// The longest line relayed: a frame is far shorter; anything longer ends the connection.
const MAX_LINE: u64 = 1 << 20;
/// How long a connection may stay silent before the relay gives up on it.
const IDLE: Duration = Duration::from_secs(600);
/// How much of a token or plaintext a report shows.
const SHOWN: usize = 72;

/// What the relay has learnt of one connection from the frames the class key opened: the
/// client's nonce, then (for a `psk` session) the session's two keys.
#[derive(Debug, Default)]
pub struct Learnt {
    client_nonce: Option<Nonce>,
    session: Vec<RoomKey>,
}

impl Learnt {
    /// Reads what a frame the class key opened teaches: the hello's nonce, and from a `psk`
    /// handshake the session's keys.
    fn learn(&mut self, class_key: &RoomKey, plaintext: &[u8]) {
        let Ok(event) = serde_json::from_slice::<Value>(plaintext) else {
            return;
        };
        match wire::type_of(&event) {
            "hello" => self.client_nonce = wire::nonce_of(&event),
            "handshake" if wire::kex_of(&event) == "psk" => {
                if let (Some(client), Some(server)) =
                    (self.client_nonce, wire::server_nonce_of(&event))
                {
                    let keys = psk_session_keys(class_key, &client, &server);
                    self.session = vec![keys.client_to_server, keys.server_to_client];
                }
            }
            _ => {}
        }
    }
}

/// One line of report for one frame: direction, size, the token's start, and what the class
/// key (directly, or through the `psk` session keys `learnt` holds) makes of it.
pub fn describe(
    connection: u64,
    up: bool,
    frame: &[u8],
    class_key: &RoomKey,
    learnt: &mut Learnt,
) -> String {
    let arrow = if up {
        "client -> server"
    } else {
        "server -> client"
    };
    let text = String::from_utf8_lossy(frame);
    let verdict = if let Ok(opened) = class_key.decrypt(frame) {
        learnt.learn(class_key, &opened.plaintext);
        format!(
            "OPENS with the class key: {}",
            cut(&String::from_utf8_lossy(&opened.plaintext))
        )
    } else if let Some(opened) = learnt.session.iter().find_map(|k| k.decrypt(frame).ok()) {
        format!(
            "OPENS with the class key and the two nonces (psk session key): {}",
            cut(&String::from_utf8_lossy(&opened.plaintext))
        )
    } else {
        "does NOT open with the class key or anything derived from it (another key sealed it)"
            .to_owned()
    };
    format!(
        "[{connection}] {arrow} {} bytes {}\n    {verdict}",
        frame.len(),
        cut(&text)
    )
}

fn cut(text: &str) -> String {
    let mut shown: String = text.chars().take(SHOWN).collect();
    if text.chars().count() > SHOWN {
        shown.push_str("...");
    }
    shown
}

/// Relays every connection to `listener` on to `server`, sending a report of each frame to
/// `log`. Never returns.
pub fn serve(
    listener: &TcpListener,
    server: SocketAddr,
    class_key: &RoomKey,
    log: &Sender<String>,
) {
    for (connection, client) in (1u64..).zip(listener.incoming()) {
        let Ok(client) = client else { continue };
        let Ok(upstream) = TcpStream::connect_timeout(&server, STEP) else {
            let _ = log.send(format!(
                "[{connection}] cannot reach the server at {server}"
            ));
            continue;
        };
        let (Ok(client_in), Ok(upstream_in)) = (client.try_clone(), upstream.try_clone()) else {
            continue;
        };
        // Both directions of a connection learn into one place: the nonce goes up, the
        // handshake comes down.
        let learnt = Arc::new(Mutex::new(Learnt::default()));
        for (from, to, up) in [(client_in, upstream, true), (upstream_in, client, false)] {
            let (log, key, learnt) = (log.clone(), class_key.clone(), Arc::clone(&learnt));
            thread::spawn(move || pump(connection, from, to, up, &key, &learnt, &log));
        }
    }
}

/// Copies lines from `from` to `to`, reporting each.
fn pump(
    connection: u64,
    from: TcpStream,
    mut to: TcpStream,
    up: bool,
    class_key: &RoomKey,
    learnt: &Mutex<Learnt>,
    log: &Sender<String>,
) {
    let _ = from.set_read_timeout(Some(IDLE));
    let Ok(reader) = from.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(reader);
    loop {
        let mut line = Vec::new();
        match (&mut reader)
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line.len() as u64 > MAX_LINE {
            let _ = log.send(format!("[{connection}] a line over 1 MiB: closing"));
            break;
        }
        let frame = line.strip_suffix(b"\n").unwrap_or(&line);
        let frame = frame.strip_suffix(b"\r").unwrap_or(frame);
        if !frame.is_empty() {
            let mut learnt = learnt.lock().unwrap_or_else(PoisonError::into_inner);
            let _ = log.send(describe(connection, up, frame, class_key, &mut learnt));
        }
        if to.write_all(&line).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
