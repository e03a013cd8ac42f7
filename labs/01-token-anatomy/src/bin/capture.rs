//! `cargo run -p lab01 --bin capture`: joins the class server like any client and takes apart
//! every frame it sends and receives, with *your* `parse_token`, `split_key` and `compute_hmac`.
//!
//! Flags: `--server ADDR` (default 127.0.0.1:7474), `--key PATH` (default keys/class.key),
//! `--nick NICK` (default `capture`), `--count N` frames to receive (default 6).
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::Duration;

use fernchat::crypto::{RoomKey, unix_now};
use fernchat::protocol::{ClientEvent, seal};
use lab01::{compute_hmac, parse_token, split_key};
use labkit::args;
use labkit::client::psk_handshake;
use labkit::conn::Conn;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("capture: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let server = args::server()?;
    let key = args::class_key()?;
    let nick = args::flag("nick").unwrap_or_else(|| "capture".to_owned());
    let count = args::number("count", 6)?;
    // Long enough to chat from another terminal while this one waits.
    let mut conn = Conn::connect(server, Duration::from_secs(60)).map_err(|e| {
        format!("cannot connect to {server}: {e} (is `cargo run --bin server` running?)")
    })?;
    println!(
        "connected to {server}; class key fingerprint {}",
        key.fingerprint()
    );
    // Protocol version 2: hello and handshake under the class key, then keys of this
    // connection alone, derived from the class key and the two nonces (which anyone holding
    // the class key can read in the hello and the handshake).
    let session = psk_handshake(&mut conn, &key, &nick, |direction, frame, key| {
        show(direction, frame, &[key])
    })
    .map_err(|e| e.to_string())?;
    let send_key = session.send;
    let keys = [&session.own, &key];
    // Two requests the server answers at once, so there is something to look at even in an
    // empty room. Say something from another client to see `message` frames too.
    send(&mut conn, &send_key, &ClientEvent::Who { room: None })?;
    send(&mut conn, &send_key, &ClientEvent::Ping { id: 1 })?;
    for _ in 0..count {
        match conn.recv() {
            Ok(Some(frame)) => show("received", &frame, &keys),
            Ok(None) => return Err("the server closed the connection".into()),
            Err(e) => return Err(format!("no frame within a minute ({e})")),
        }
    }
    send(
        &mut conn,
        &send_key,
        &ClientEvent::Bye {
            reason: Some("capture done".into()),
        },
    )?;
    Ok(())
}

fn send(conn: &mut Conn, key: &RoomKey, event: &ClientEvent) -> Result<(), String> {
    let frame = seal(key, event);
    show("sent", frame.trim_ascii_end(), &[key]);
    conn.send(&frame).map_err(|e| format!("cannot send: {e}"))
}

/// Prints one frame as your parser sees it, then what the class key reveals.
/// `keys` are the keys that may have sealed it: the first that opens it is used.
fn show(direction: &str, frame: &[u8], keys: &[&RoomKey]) {
    let Some(&key) = keys
        .iter()
        .find(|k| k.decrypt(frame).is_ok())
        .or(keys.first())
    else {
        return;
    };
    let text = String::from_utf8_lossy(frame);
    println!("\n{direction} a frame of {} characters", text.len());
    match parse_token(&text) {
        Ok(token) => {
            let age = i128::from(unix_now()) - i128::from(token.timestamp);
            println!("  version    {:#04x}", token.version);
            println!("  timestamp  {} ({age} s ago)", token.timestamp);
            println!("  IV         {}", hex(&token.iv));
            println!(
                "  ciphertext {} bytes ({} blocks)",
                token.ciphertext.len(),
                token.ciphertext.len() / 16
            );
            println!("  HMAC       {}", hex(&token.hmac));
            match split_key(key.expose_secret()) {
                Ok(halves) => {
                    let verdict = if compute_hmac(&halves.signing, &token) == token.hmac {
                        "matches: made with this key, unaltered"
                    } else {
                        "does NOT match your recomputation"
                    };
                    println!("  recomputed HMAC {verdict}");
                }
                Err(e) => println!("  split_key refused the class key: {e:?}"),
            }
        }
        Err(e) => println!("  parse_token refused it: {e:?}"),
    }
    // What anyone holding the class key reads: everything.
    if let Ok(opened) = key.decrypt(frame) {
        println!(
            "  plaintext  {}",
            String::from_utf8_lossy(&opened.plaintext)
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
