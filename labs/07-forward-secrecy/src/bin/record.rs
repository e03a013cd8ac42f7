//! `cargo run -p lab07 --bin record`: a wiretap. Clients connect to 127.0.0.1:7477 (`--port`)
//! and are passed on to the class server (`--server`, default 127.0.0.1:7474) untouched; every
//! frame is appended to `recording.txt` (`--out PATH`) as `up TOKEN` or `down TOKEN`.
//! It holds no key. Stop it with Ctrl-C.
#![forbid(unsafe_code)]

use std::fs::OpenOptions;
use std::io::Write;
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;

use labkit::args;
use labkit::recorder::{self, Recorded};

fn main() -> ExitCode {
    let run = || -> Result<(), String> {
        let server = args::server()?;
        let port = args::number("port", 7477)?;
        let port = u16::try_from(port).map_err(|_| format!("--port {port} is not a port"))?;
        let out = args::flag("out").unwrap_or_else(|| "recording.txt".into());
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out)
            .map_err(|e| format!("cannot open {out}: {e}"))?;
        let listener = TcpListener::bind(("127.0.0.1", port))
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        eprintln!("recording 127.0.0.1:{port} -> {server} into {out}; point a client here");
        let (log, frames) = mpsc::channel::<Recorded>();
        thread::spawn(move || recorder::serve(&listener, server, &log));
        for frame in frames {
            let way = if frame.up { "up" } else { "down" };
            writeln!(file, "{way} {}", String::from_utf8_lossy(&frame.token))
                .map_err(|e| format!("cannot write {out}: {e}"))?;
        }
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("record: {message}");
            ExitCode::FAILURE
        }
    }
}
