//! A passive wiretap for lab 7: forwards every frame unchanged in both directions and keeps a
//! copy of each, as someone recording the lab network would. It holds no key.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread;
use std::time::Duration;

use fernchat::protocol::FrameReader;

use crate::STEP;

/// One recorded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// From the client (`true`) or from the server.
    pub up: bool,
    /// The token as it travelled, without its newline.
    pub token: Vec<u8>,
}

/// A wiretap in front of a server.
#[derive(Debug)]
pub struct Recorder {
    /// Where clients connect instead of the server.
    pub addr: SocketAddr,
    /// Every frame, in the order the recorder saw them (copied before it forwards each).
    pub frames: Receiver<Recorded>,
}

/// Records every connection made to the returned address, on its way to `server`.
pub fn start(server: SocketAddr) -> std::io::Result<Recorder> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (log, frames) = channel();
    thread::spawn(move || serve(&listener, server, &log));
    Ok(Recorder { addr, frames })
}

/// Records every connection to `listener` (the live step's binary). Never returns.
pub fn serve(listener: &TcpListener, server: SocketAddr, log: &Sender<Recorded>) {
    for client in listener.incoming().map_while(Result::ok) {
        let Ok(upstream) = TcpStream::connect_timeout(&server, STEP) else {
            continue;
        };
        let (Ok(client_in), Ok(upstream_in)) = (client.try_clone(), upstream.try_clone()) else {
            continue;
        };
        for (from, to, up) in [(client_in, upstream, true), (upstream_in, client, false)] {
            let log = log.clone();
            thread::spawn(move || pump(from, to, up, &log));
        }
    }
}

fn pump(from: TcpStream, mut to: TcpStream, up: bool, log: &Sender<Recorded>) {
    // The wiretap lives as long as the connection; this only bounds a forgotten one.
    let _ = from.set_read_timeout(Some(Duration::from_secs(60)));
    let Ok(reader) = from.try_clone() else {
        return;
    };
    let mut frames = FrameReader::new(reader, 1 << 20);
    while let Ok(Some(frame)) = frames.read_frame() {
        let token = frame.to_vec();
        let _ = log.send(Recorded {
            up,
            token: token.clone(),
        });
        let mut line = token;
        line.push(b'\n');
        if to.write_all(&line).is_err() {
            break;
        }
    }
    let _ = from.shutdown(std::net::Shutdown::Both);
    let _ = to.shutdown(std::net::Shutdown::Both);
}
