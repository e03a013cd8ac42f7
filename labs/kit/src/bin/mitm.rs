//! `cargo run -p labkit --bin labkit-mitm`: a reference man in the middle for the live steps
//! of labs 5 and 6, printing every frame it can read.
//!
//! Flags: `--port N` to listen on 127.0.0.1 (default 7476), `--server ADDR` to forward to
//! (default 127.0.0.1:7474, the class server), `--key PATH` (default keys/class.key), and
//! `--insider` to also run the PSK derivation (lab 5's limit) instead of lab 4's plain one.
//! Stop it with Ctrl-C.
#![forbid(unsafe_code)]

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;

use labkit::args;
use labkit::mitm::{self, Mode};

fn main() -> ExitCode {
    let run = || -> Result<(), String> {
        let server = args::server()?;
        let key = args::class_key()?;
        let port = args::number("port", 7476)?;
        let port = u16::try_from(port).map_err(|_| format!("--port {port} is not a port"))?;
        let insider = std::env::args().any(|a| a == "--insider");
        let mode = if insider { Mode::Insider } else { Mode::Lab4 };
        let listener = TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        eprintln!(
            "{} in the middle on 127.0.0.1:{port}, forwarding to {server}; point a client here",
            if insider {
                "an insider"
            } else {
                "lab 4's proxy"
            }
        );
        let (log, seen) = mpsc::channel::<String>();
        thread::spawn(move || {
            for plaintext in seen {
                println!("read: {plaintext}");
            }
        });
        mitm::serve(&listener, server, &key, mode, &log);
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("mitm: {message}");
            ExitCode::FAILURE
        }
    }
}
