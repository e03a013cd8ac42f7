//! `cargo run -p lab04 --bin lab04-mitm`: *your* interceptor as a proxy, printing every frame it reads.
//!
//! Flags: `--port N` to listen on 127.0.0.1 (default 7476), `--server ADDR` to forward to
//! (default 127.0.0.1:7475, the toy room), `--key PATH` (default keys/class.key).
//! Point a client at 127.0.0.1:7476 instead of the server. Stop it with Ctrl-C.
#![forbid(unsafe_code)]

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;

use lab04::proxy::{self, Seen};
use lab04::{Direction, Interceptor};
use labkit::args;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mitm: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let server = args::flag("server").unwrap_or_else(|| "127.0.0.1:7475".to_owned());
    let server = server
        .parse()
        .map_err(|_| format!("--server {server:?} is not an address"))?;
    let key = args::class_key()?;
    let port = args::number("port", 7476)?;
    let port = u16::try_from(port).map_err(|_| format!("--port {port} is not a port"))?;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| format!("cannot listen on port {port}: {e}"))?;
    eprintln!("man in the middle on 127.0.0.1:{port}, forwarding to {server}; point a client here");
    let (log, seen) = mpsc::channel::<Seen>();
    thread::spawn(move || {
        for Seen {
            direction,
            plaintext,
        } in seen
        {
            let arrow = match direction {
                Direction::ClientToServer => "client -> server",
                Direction::ServerToClient => "server -> client",
            };
            println!("{arrow}: {plaintext}");
        }
    });
    loop {
        if let Err(e) = proxy::serve_one(
            &listener,
            server,
            Interceptor::new(key.clone()),
            log.clone(),
        ) {
            eprintln!("mitm: a connection failed: {e}");
        }
    }
}
