//! `cargo run -p lab03 --bin lab03-chat`: chats over an `x25519` session made by *your* handshake.
//! Each line you type is said to the room; what the room says is printed.
//!
//! Flags: `--server ADDR` (default 127.0.0.1:7474; the toy room is on 127.0.0.1:7475),
//! `--key PATH` (default keys/class.key), `--nick NICK` (default `dh` and a number).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use lab03::live::StudentHandshake;
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
    let nick = args::flag("nick").unwrap_or_else(|| format!("dh{}", std::process::id() % 1000));
    let handshake = StudentHandshake::new();
    println!(
        "your public key: {}",
        fernchat::kex::PublicShare(handshake.0.public).to_wire()
    );
    let client = Client::join_with(server, &key, &nick, handshake).map_err(|e| {
        if matches!(&e, ClientError::Refused { code, .. } if code == "kex_unsupported") {
            format!(
                "{e}\nThis server offers only psk. Run the lab's toy room \
                 (`cargo run -p labkit --bin toy-server`) and add `--server 127.0.0.1:7475`."
            )
        } else {
            e.to_string()
        }
    })?;
    println!(
        "joined as {nick}; the server's public key: {}",
        labkit::wire::public_of(&client.handshake).unwrap_or("?")
    );
    println!("type lines to say them; an empty line reads what the room said; Ctrl-D quits");
    client.chat_from_stdin()
}
