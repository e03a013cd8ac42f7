//! `cargo run -p labkit --bin wiretap`: a logging relay in front of a server. Connect through
//! it and it prints every frame, each way, and whether the class key opens it: no root and no
//! packet capture needed (lab 3's live step).
//!
//! Flags: `--server ADDR` (default 127.0.0.1:7474), `--port N` (default 7477), `--key PATH`
//! (default `keys/class.key`). Listens on 127.0.0.1 only. Stop it with Ctrl-C.
#![forbid(unsafe_code)]

use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;

use labkit::{args, wiretap};

fn main() -> ExitCode {
    let run = || -> Result<(), String> {
        let key = args::class_key()?;
        let server = args::server()?;
        let port = args::number("port", 7477)?;
        let port = u16::try_from(port).map_err(|_| format!("--port {port} is not a port"))?;
        let listener = TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e} (try --port N)"))?;
        eprintln!(
            "wiretap on 127.0.0.1:{port}, relaying to {server}, class key fingerprint {}: connect \
             your client to 127.0.0.1:{port}; Ctrl-C stops it",
            key.fingerprint()
        );
        let (log, lines) = mpsc::channel();
        thread::spawn(move || wiretap::serve(&listener, server, &key, &log));
        for line in lines {
            println!("{line}");
        }
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("wiretap: {message}");
            ExitCode::FAILURE
        }
    }
}
