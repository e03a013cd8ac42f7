//! Frames: the bytes layer. A frame is one line: a Fernet token followed by `\n` (`\r\n` is
//! accepted on input). This module finds line boundaries and enforces the line-length limit
//! *while reading*, so a peer can never make us buffer more than the limit.
//!
//! It knows nothing of tokens or events: it hands out byte slices.

use std::io::{self, Read};

/// Why no frame could be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// A line grew past the limit before its newline arrived. The rest of that line is
    /// discarded as it arrives; the next call resumes with the following line.
    #[error("a line longer than {limit} bytes")]
    LineTooLong {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The peer closed the connection in the middle of a line.
    #[error("the connection closed in the middle of a line")]
    TruncatedAtEof,
    /// The socket failed, or a read timeout expired (kind `WouldBlock` or `TimedOut`). After a
    /// timeout the reader is intact and the call may be repeated.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl FrameError {
    /// Whether this is a read timeout, after which reading may simply continue.
    pub fn is_timeout(&self) -> bool {
        matches!(self, FrameError::Io(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut))
    }
}

/// The first buffer a connection gets. It grows (by doubling) only while a longer line is
/// arriving, up to the limit, so thousands of idle connections stay cheap.
const INITIAL_BUFFER: usize = 1024;

/// Reads newline-terminated frames from a byte stream with a hard length limit.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// Bytes before this index (from `start`) hold no newline: do not scan them again.
    scanned: usize,
    max_line: usize,
    /// Discarding the remainder of an over-long line.
    skipping: bool,
}

impl<R: Read> FrameReader<R> {
    /// Reads frames from `inner`; a line (without its `\r\n`) may be at most `max_line` bytes.
    /// Any `max_line` works, `usize::MAX` included (no limit in practice).
    pub fn new(inner: R, max_line: usize) -> FrameReader<R> {
        FrameReader {
            inner,
            buf: vec![0; INITIAL_BUFFER.min(buffer_ceiling(max_line))],
            start: 0,
            end: 0,
            scanned: 0,
            max_line,
            skipping: false,
        }
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The next frame without its line ending, `Ok(None)` at a clean end of stream. Empty
    /// lines are skipped (they carry nothing, and netcat users press Enter).
    pub fn read_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        loop {
            if let Some(offset) = self.buf[self.scanned..self.end]
                .iter()
                .position(|&b| b == b'\n')
            {
                let newline = self.scanned + offset;
                let line_start = self.start;
                self.start = newline + 1;
                self.scanned = self.start;
                if self.skipping {
                    self.skipping = false;
                    continue;
                }
                let mut line_end = newline;
                if line_end > line_start && self.buf[line_end - 1] == b'\r' {
                    line_end -= 1;
                }
                if line_end - line_start > self.max_line {
                    return Err(FrameError::LineTooLong {
                        limit: self.max_line,
                    });
                }
                if line_end == line_start {
                    continue;
                }
                return Ok(Some(&self.buf[line_start..line_end]));
            }
            self.scanned = self.end;
            // No newline yet. `+ 1` leaves room for a `\r` that `\n` would then strip.
            if self.end - self.start > self.max_line.saturating_add(1) {
                self.start = self.end;
                self.scanned = self.end;
                if !self.skipping {
                    self.skipping = true;
                    return Err(FrameError::LineTooLong {
                        limit: self.max_line,
                    });
                }
            }
            self.make_room();
            let n = match self.inner.read(&mut self.buf[self.end..]) {
                Ok(n) => n,
                // A signal arrived mid-read: nothing was lost, read again.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                let partial = self.end > self.start && !self.skipping;
                self.start = self.end;
                return if partial {
                    Err(FrameError::TruncatedAtEof)
                } else {
                    Ok(None)
                };
            }
            self.end += n;
        }
    }

    /// Moves pending bytes to the front, and grows the buffer (up to the limit) when full.
    fn make_room(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            self.scanned = 0;
            if self.buf.len() > INITIAL_BUFFER * 8 {
                // A long line has passed; give its memory back.
                self.buf = vec![0; INITIAL_BUFFER.min(buffer_ceiling(self.max_line))];
            }
        } else if self.start > 0 && self.end == self.buf.len() {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scanned -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // Full with `start == 0` means fewer than `max_line + 2` bytes are pending (more
            // would have been refused above), so doubling up to that ceiling always adds room.
            let grown = self
                .buf
                .len()
                .saturating_mul(2)
                .min(buffer_ceiling(self.max_line));
            self.buf.resize(grown, 0);
        }
    }
}

/// The most a line can need in the buffer: `max_line` bytes and its `\r\n`. Saturating: with
/// a limit near `usize::MAX` a wrapped-around sum would make an empty buffer, and a read into
/// an empty buffer returns 0, which looks like the end of the stream.
fn buffer_ceiling(max_line: usize) -> usize {
    max_line.saturating_add(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out its bytes `chunk` at a time, like a slow socket.
    struct Trickle<'a> {
        data: &'a [u8],
        chunk: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.chunk.min(out.len()).min(self.data.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn frames(data: &[u8], chunk: usize, max: usize) -> Vec<Result<Vec<u8>, String>> {
        let mut reader = FrameReader::new(Trickle { data, chunk }, max);
        let mut out = Vec::new();
        for _ in 0..1000 {
            match reader.read_frame() {
                Ok(Some(line)) => out.push(Ok(line.to_vec())),
                Ok(None) => return out,
                Err(e) => out.push(Err(e.to_string())),
            }
        }
        panic!("reader did not reach the end of a finite input");
    }

    #[test]
    fn splits_lines_in_any_chunking() {
        for chunk in [1, 2, 3, 7, 64, 4096] {
            let got = frames(b"abc\r\n\ndef\nxyz\n", chunk, 10);
            assert_eq!(
                got,
                vec![
                    Ok(b"abc".to_vec()),
                    Ok(b"def".to_vec()),
                    Ok(b"xyz".to_vec())
                ]
            );
        }
    }

    #[test]
    fn over_long_line_is_an_error_then_reading_resumes() {
        for chunk in [1, 5, 4096] {
            let got = frames(b"ok\n0123456789ABCDEF\nnext\n", chunk, 8);
            assert_eq!(got.len(), 3, "chunk {chunk}: {got:?}");
            assert_eq!(got[0], Ok(b"ok".to_vec()));
            assert!(got[1].is_err());
            assert_eq!(got[2], Ok(b"next".to_vec()));
        }
    }

    #[test]
    fn line_of_exactly_the_limit_passes_with_crlf() {
        let got = frames(b"12345678\r\n", 3, 8);
        assert_eq!(got, vec![Ok(b"12345678".to_vec())]);
    }

    #[test]
    fn partial_line_at_eof_is_reported() {
        let got = frames(b"done\npart", 2, 8);
        assert_eq!(got[0], Ok(b"done".to_vec()));
        assert!(got[1].as_ref().unwrap_err().contains("middle"));
    }

    #[test]
    fn buffer_never_exceeds_the_limit() {
        let data = vec![b'x'; 1 << 20];
        let mut reader = FrameReader::new(
            Trickle {
                data: &data,
                chunk: 10_000,
            },
            100,
        );
        let _ = reader.read_frame();
        for _ in 0..200 {
            assert!(reader.buf.len() <= 102);
            match reader.read_frame() {
                Ok(None) => break,
                Ok(Some(_)) => panic!("no newline, no frame"),
                Err(_) => {}
            }
        }
    }
}
