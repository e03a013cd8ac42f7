//! A logging relay: forwards every byte between clients and a server unchanged, and reports
//! each frame it sees with whether the class key opens it (lab 3's live step, instead of a
//! packet capture that needs root).
//!
//! Generic on purpose: all it assumes of the protocol is "one token per line", and it opens
//! frames with `fernchat::crypto` only, so it reads any version of the protocol the same way.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::Sender;
use std::thread;
use std::time::Duration;

use fernchat::crypto::RoomKey;

use crate::STEP;

/// The longest line relayed: a frame is far shorter; anything longer ends the connection.
const MAX_LINE: u64 = 1 << 20;
/// How long a connection may stay silent before the relay gives up on it.
const IDLE: Duration = Duration::from_secs(600);
/// How much of a token or plaintext a report shows.
const SHOWN: usize = 72;

/// One line of report for one frame: direction, size, the token's start, and what the class
/// key makes of it.
pub fn describe(connection: u64, up: bool, frame: &[u8], class_key: &RoomKey) -> String {
    let arrow = if up {
        "client -> server"
    } else {
        "server -> client"
    };
    let text = String::from_utf8_lossy(frame);
    let verdict = match class_key.decrypt(frame) {
        Ok(opened) => format!(
            "OPENS with the class key: {}",
            cut(&String::from_utf8_lossy(&opened.plaintext))
        ),
        Err(_) => "does NOT open with the class key (another key sealed it)".to_owned(),
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
        for (from, to, up) in [(client_in, upstream, true), (upstream_in, client, false)] {
            let (log, key) = (log.clone(), class_key.clone());
            thread::spawn(move || pump(connection, from, to, up, &key, &log));
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
            let _ = log.send(describe(connection, up, frame, class_key));
        }
        if to.write_all(&line).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
