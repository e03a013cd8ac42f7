//! `FrameReader`: arbitrary bytes from a peer, delivered in arbitrary chunks with read
//! timeouts and interruptions in between, under an arbitrary line limit.
//!
//! Input: `LIMIT_SEL: u8` (below 200 it is the limit; below 250 a `u16` limit follows;
//! otherwise a `u64` limit follows, so any `usize`), `N: u8` and `N % 16 + 1` chunk bytes
//! (0: the read is interrupted, 255: it times out, otherwise that many bytes at most), then
//! the stream itself.
//!
//! Checks: the frames and errors are exactly those of the line-by-line model; no line is
//! longer than the limit, empty, or holds `\n`; the reader never asks for more than
//! `limit + 2` bytes at once (its buffer is bounded) nor for zero bytes (which a reader
//! answers like the end of the stream); it reaches the end in a bounded number of calls.
#![no_main]

use std::io::{self, Read};

use fernchat::protocol::{FrameError, FrameReader};
use fernchat_fuzz::{Frame, Input, expected_frames};
use libfuzzer_sys::fuzz_target;

/// At most this many interruptions and timeouts in one run, so every run reaches the end.
const MAX_HICCUPS: usize = 64;

struct Chunked<'a> {
    data: &'a [u8],
    chunks: Vec<u8>,
    next: usize,
    hiccups: usize,
    limit: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        assert!(!out.is_empty(), "read with an empty buffer looks like EOF");
        assert!(
            out.len() <= self.limit.saturating_add(2),
            "read of {} bytes with limit {}: the buffer outgrew the limit",
            out.len(),
            self.limit
        );
        let chunk = self.chunks[self.next % self.chunks.len()];
        self.next += 1;
        if self.hiccups < MAX_HICCUPS {
            match chunk {
                0 => {
                    self.hiccups += 1;
                    return Err(io::Error::from(io::ErrorKind::Interrupted));
                }
                255 => {
                    self.hiccups += 1;
                    return Err(io::Error::new(io::ErrorKind::WouldBlock, "timeout"));
                }
                _ => {}
            }
        }
        let n = usize::from(chunk.max(1))
            .min(out.len())
            .min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input::new(data);
    let selector = input.u8();
    let limit = match selector {
        0..200 => usize::from(selector),
        200..250 => usize::from(input.u16()),
        _ => input.u64() as usize,
    };
    let count = usize::from(input.u8() % 16) + 1;
    let chunks = input.bytes(count).to_vec();
    let chunks = if chunks.is_empty() { vec![1] } else { chunks };
    let stream = input.rest();

    let source = Chunked {
        data: stream,
        chunks,
        next: 0,
        hiccups: 0,
        limit,
    };
    let mut reader = FrameReader::new(source, limit);
    let mut got = Vec::new();
    let mut calls = 0usize;
    loop {
        calls += 1;
        assert!(
            calls <= 2 * stream.len() + MAX_HICCUPS + 2,
            "no end after {calls} calls"
        );
        match reader.read_frame() {
            Ok(None) => break,
            Ok(Some(line)) => {
                assert!(line.len() <= limit, "a line of {} > {limit}", line.len());
                assert!(!line.is_empty(), "an empty line was returned");
                assert!(!line.contains(&b'\n'), "a line holds a newline");
                got.push(Frame::Line(line.to_vec()));
            }
            Err(e) if e.is_timeout() => {}
            Err(FrameError::LineTooLong { limit: reported }) => {
                assert_eq!(reported, limit);
                got.push(Frame::TooLong);
            }
            Err(FrameError::TruncatedAtEof) => got.push(Frame::Truncated),
            Err(FrameError::Io(e)) => panic!("an I/O error the source never made: {e}"),
        }
    }
    // After the end, the end again (past any timeouts still to come).
    for _ in 0..=MAX_HICCUPS {
        match reader.read_frame() {
            Err(e) if e.is_timeout() => continue,
            Ok(None) => break,
            other => panic!("after the end: {other:?}"),
        }
    }
    assert_eq!(got, expected_frames(stream, limit));
});
