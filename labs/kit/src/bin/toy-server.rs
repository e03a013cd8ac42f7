//! `cargo run -p labkit --bin toy-server`: the toy room of labs 3 and 4 on a real port, for
//! the live steps while the class server offers only `psk`.
//!
//! Flags: `--port N` (default 7475), `--key PATH` (default `keys/class.key`). Listens on
//! 127.0.0.1 only. Stop it with Ctrl-C.
#![forbid(unsafe_code)]

use std::net::TcpListener;
use std::process::ExitCode;

use labkit::{args, room::Room};

fn main() -> ExitCode {
    let run = || -> Result<(), String> {
        let key = args::class_key()?;
        let port = args::number("port", 7475)?;
        let port = u16::try_from(port).map_err(|_| format!("--port {port} is not a port"))?;
        let listener = TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        let room = Room::serve(listener, key.clone(), true).map_err(|e| e.to_string())?;
        eprintln!(
            "toy room on {} (psk and x25519), class key fingerprint {}; Ctrl-C stops it",
            room.addr,
            key.fingerprint()
        );
        room.wait();
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("toy-server: {message}");
            ExitCode::FAILURE
        }
    }
}
