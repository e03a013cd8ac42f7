//! `cargo run -p lab05 --bin lab05-chat`: chats over an `x25519-psk` session made by *your*
//! functions, with key confirmation. Each line you type is said to the room; what the room
//! says is printed.
//!
//! Flags: `--server ADDR` (default 127.0.0.1:7474, the class server), `--key PATH` (default
//! keys/class.key), `--nick NICK` (default `psk` and a number).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use lab05::live::StudentPsk;
use labkit::args;
use labkit::client::Client;

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
    let nick = args::flag("nick").unwrap_or_else(|| format!("psk{}", std::process::id() % 1000));
    let client = Client::join_confirmed(server, &key, &nick, StudentPsk::new(&key))
        .map_err(|e| e.to_string())?;
    println!(
        "joined as {nick} over x25519-psk: the server's confirmation matched, ours is sent; \
         the server's public key: {}",
        labkit::wire::public_of(&client.handshake).unwrap_or("?")
    );
    println!("type lines to say them; an empty line reads what the room said; Ctrl-D quits");
    client.chat_from_stdin()
}
