//! `cargo run -p lab06 --bin lab06-chat`: chats over an `x25519-psk-signed` session, checking the
//! server's signature and pin with *your* functions.
//!
//! Flags: `--server ADDR` (default 127.0.0.1:7474), `--key PATH` (default keys/class.key),
//! `--nick NICK`, `--pins PATH` (default keys/lab06_known_servers), `--pin-as NAME` (the name the
//! server is pinned under; default its address: give another server the same name to play an
//! impostor on the network path).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use lab06::Pins;
use lab06::live::StudentSigned;
use labkit::args;
use labkit::client::{Client, ClientError};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("chat: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let server = args::server()?;
    let key = args::class_key()?;
    let nick = args::flag("nick").unwrap_or_else(|| format!("id{}", std::process::id() % 1000));
    let pins =
        PathBuf::from(args::flag("pins").unwrap_or_else(|| "keys/lab06_known_servers".into()));
    let name = args::flag("pin-as").unwrap_or_else(|| server.to_string());
    let handshake = StudentSigned::new(&key, Pins::open(&pins), &name);
    let client = Client::join_confirmed(server, &key, &nick, handshake).map_err(|e| {
        if matches!(&e, ClientError::Refused { code, .. } if code == "kex_unsupported") {
            format!("{e}\nStart the class server with `cargo run --bin server -- --kex x25519-psk-signed`.")
        } else {
            e.to_string()
        }
    })?;
    println!(
        "joined as {nick}: {name}'s signature verified and its identity {} matches {}",
        client.handshake["kex_identity"].as_str().unwrap_or("?"),
        pins.display()
    );
    println!("type lines to say them; an empty line reads what the room said; Ctrl-D quits");
    client.chat_from_stdin()
}
