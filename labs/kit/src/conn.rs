//! A TCP connection that speaks frames (one token per line), with a timeout on every read.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use fernchat::protocol::{CLIENT_MAX_LINE, FrameError, FrameReader};

/// One end of a frame connection.
#[derive(Debug)]
pub struct Conn {
    writer: TcpStream,
    frames: FrameReader<TcpStream>,
}

impl Conn {
    /// Connects to `addr`; reads give up after `timeout`.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        Conn::new(stream, timeout)
    }

    /// Wraps an accepted or connected stream; reads give up after `timeout`.
    pub fn new(stream: TcpStream, timeout: Duration) -> io::Result<Conn> {
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            writer: stream.try_clone()?,
            frames: FrameReader::new(stream, CLIENT_MAX_LINE),
        })
    }

    /// Sends one frame: `frame` and a newline (added if missing).
    pub fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        let mut line = frame.to_vec();
        if line.last() != Some(&b'\n') {
            line.push(b'\n');
        }
        self.writer.write_all(&line)
    }

    /// The next frame without its newline; `Ok(None)` when the peer closed the connection.
    /// A timeout is an error of kind `WouldBlock` or `TimedOut`.
    pub fn recv(&mut self) -> io::Result<Option<Vec<u8>>> {
        match self.frames.read_frame() {
            Ok(frame) => Ok(frame.map(<[u8]>::to_vec)),
            Err(FrameError::Io(e)) => Err(e),
            Err(other) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                other.to_string(),
            )),
        }
    }

    /// The address of the other end.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.writer.peer_addr()
    }

    /// A second handle on the socket, for writing from another thread.
    pub fn try_clone_stream(&self) -> io::Result<TcpStream> {
        self.writer.try_clone()
    }

    /// Closes both directions; a thread blocked reading this connection wakes up.
    pub fn shutdown(&self) {
        let _ = self.writer.shutdown(std::net::Shutdown::Both);
    }
}
