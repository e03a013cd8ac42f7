//! A client's outgoing path: the hub writes to the socket itself while it can, and hands off
//! to the client's writer thread only when the socket would block.
//!
//! Why: at chat-like load (a message every few milliseconds) each delivery used to wake the
//! client's writer thread: a futex wake-up, a context switch, a spin on an empty channel
//! (`sched_yield`) and then one `send`. Most of the server's CPU went into that hand-over,
//! not into the `send`. Now the hub, which already holds the frame, tries a *non-blocking*
//! send; a writer thread wakes only for a client whose socket buffer is full (a flood, or a
//! slow reader), and then it writes in large coalesced batches as before.
//!
//! The rules that keep this correct, and readable:
//!
//! - **Order.** The hub writes directly only when the writer holds nothing: `queued` (bytes
//!   handed to the writer and not yet written) is zero. The writer decrements it only after
//!   its `write` returned, so a zero means everything handed off is already in the socket,
//!   and the hub's bytes come after it. Once anything is handed off, every later frame goes
//!   through the queue too, until the writer has caught up.
//! - **The hub never blocks.** Its send uses `MSG_DONTWAIT`: it takes what fits in the socket
//!   buffer and returns at once. The unsent remainder of a frame (a partial write) and the
//!   frames after it go to the writer, which may block (up to the write timeout).
//! - **Batching.** Within one round of the hub's loop, frames for a client are only
//!   *staged*; [`Outbound::flush`] then sends all of them in one vectored `send`.
//! - **Who sends a flood.** The hub could hand large rounds to the writers, so that the
//!   sending is spread over the cores (`--direct-round`, [`Path`]). Measured on 2 cores,
//!   that cost 0.7 µs of server CPU per delivery in a flood instead of 0.4 (a writer is
//!   woken per client per round) and bought no throughput, so by default the hub sends
//!   every round itself and a writer works only for a client whose socket is full.
//! - **Memory.** The budget counts staged and queued bytes; a client over budget is too slow
//!   and is disconnected by the hub. Nothing is preallocated per client.
//! - **Parking.** An idle writer parks at once (no spinning), and the hub unparks it when it
//!   hands something off; see [`OutState`].

#[cfg(unix)]
use std::io::IoSlice;
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
use std::thread::{self, Thread};

use crossbeam_channel::{Receiver, Sender, TryRecvError};

/// One frame ready for the wire (token and newline), shared by every queue it is in.
pub type Frame = Arc<[u8]>;

/// Bytes one writer `write` may gather from the queue: large enough to make a flood cheap,
/// small enough that one write does not hold much memory.
const MAX_BATCH: usize = 64 * 1024;

/// Frames one vectored `send` may carry (Linux's `IOV_MAX` is 1024).
#[cfg(unix)]
const MAX_IOV: usize = 256;

/// Who sends a round's frames when the writer holds nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// The hub, without blocking (what it cannot send goes to the writer).
    Direct,
    /// The writer thread.
    Writer,
}

/// A piece of a frame handed to the writer: `frame[from..]` is still to be written (a direct
/// send may have written the start of it).
#[derive(Debug)]
pub struct Chunk {
    frame: Frame,
    from: usize,
}

impl Chunk {
    fn bytes(&self) -> &[u8] {
        &self.frame[self.from..]
    }
}

/// What the hub and the writer share.
#[derive(Debug, Default)]
pub struct OutState {
    /// Bytes handed to the writer and not yet written (see the module's rules).
    queued: AtomicUsize,
    /// The writer has found its queue empty and is parked, or about to park. The writer sets
    /// it and then looks at the queue once more; the hub queues and then looks at it. With a
    /// `SeqCst` fence between the two steps on each side, at least one of them sees the other
    /// (the classic store-then-load handshake), so a wake-up is never lost.
    parked: AtomicBool,
}

impl OutState {
    /// Bytes waiting for the writer.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }
}

/// The hub's end of one client's outgoing path.
#[derive(Debug)]
pub struct Outbound {
    /// `None` once closed; dropping it tells the writer to finish.
    queue: Option<Sender<Chunk>>,
    state: Arc<OutState>,
    stream: Arc<TcpStream>,
    writer: Thread,
    /// Frames of the hub's current round, not yet sent or queued.
    staged: Vec<Frame>,
    staged_bytes: usize,
    /// Whether the hub may send directly (only where the non-blocking send exists).
    direct: bool,
}

impl Outbound {
    /// The hub's end of a path whose writer thread is `writer`, running [`write_loop`] on
    /// the other end of `queue`.
    pub fn new(
        queue: Sender<Chunk>,
        state: Arc<OutState>,
        stream: Arc<TcpStream>,
        writer: Thread,
    ) -> Outbound {
        Outbound {
            queue: Some(queue),
            state,
            stream,
            writer,
            staged: Vec::new(),
            staged_bytes: 0,
            direct: cfg!(unix),
        }
    }

    /// Always hand off to the writer, never send from the hub (tests of the writer path).
    pub fn without_direct_writes(mut self) -> Outbound {
        self.direct = false;
        self
    }

    /// The socket, to cut off a client.
    pub fn socket(&self) -> Arc<TcpStream> {
        Arc::clone(&self.stream)
    }

    /// Bytes staged or waiting for the writer.
    pub fn pending(&self) -> usize {
        self.staged_bytes + self.state.queued()
    }

    /// Stages `frame` if it fits `budget`; `false` means the client is too far behind.
    pub fn offer(&mut self, frame: &Frame, budget: usize) -> bool {
        if self.pending() + frame.len() > budget {
            return false;
        }
        self.stage(frame);
        true
    }

    /// Stages `frame` whatever the budget: for the last words to a client being disconnected.
    pub fn stage(&mut self, frame: &Frame) {
        self.staged_bytes += frame.len();
        self.staged.push(Arc::clone(frame));
    }

    /// Whether frames are staged.
    pub fn is_staged(&self) -> bool {
        !self.staged.is_empty()
    }

    /// Sends what is staged: directly while the writer holds nothing and the socket takes it,
    /// the rest through the writer. Never blocks.
    pub fn flush(&mut self) {
        self.flush_as(Path::Direct);
    }

    /// Like [`Outbound::flush`], but `Path::Writer` hands everything to the writer even when
    /// the hub could send it: the hub does that in a flood (see `hub::DIRECT_ROUND`).
    pub fn flush_as(&mut self, path: Path) {
        if self.staged.is_empty() {
            return;
        }
        let mut staged = std::mem::take(&mut self.staged);
        self.staged_bytes = 0;
        let mut first_unsent = 0;
        let mut offset = 0;
        if self.direct && path == Path::Direct && self.state.queued() == 0 {
            match send_now(&self.stream, &staged) {
                Ok(written) => (first_unsent, offset) = locate(&staged, written),
                // The socket buffer is full: everything goes to the writer.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The connection is broken: its reader reports it and the hub removes the
                // client; nothing we could queue would ever arrive.
                Err(_) => first_unsent = staged.len(),
            }
        }
        let mut handed = false;
        if let Some(queue) = &self.queue {
            for (i, frame) in staged.drain(..).enumerate().skip(first_unsent) {
                let from = if i == first_unsent { offset } else { 0 };
                self.state
                    .queued
                    .fetch_add(frame.len() - from, Ordering::AcqRel);
                // If the writer is gone the socket is dead and the reader will report it.
                let _ = queue.send(Chunk { frame, from });
                handed = true;
            }
        }
        if handed {
            self.wake_writer();
        }
        // Keep the vector for the next round unless a burst made it large.
        staged.clear();
        if staged.capacity() <= 64 {
            self.staged = staged;
        }
    }

    /// Flushes, then lets the writer finish what it holds and close the socket.
    pub fn close(&mut self) {
        self.flush();
        self.queue = None;
        self.wake_writer();
    }

    fn wake_writer(&self) {
        // Pairs with the fence in `write_loop`: see `OutState::parked`.
        fence(Ordering::SeqCst);
        if self.state.parked.swap(false, Ordering::Relaxed) {
            self.writer.unpark();
        }
    }
}

impl Drop for Outbound {
    fn drop(&mut self) {
        // Staged frames are dropped: `close` is the way to say last words.
        self.queue = None;
        self.wake_writer();
    }
}

/// Which staged frame holds byte `written` of the concatenation, and where in it.
fn locate(frames: &[Frame], mut written: usize) -> (usize, usize) {
    for (i, frame) in frames.iter().enumerate() {
        if written < frame.len() {
            return (i, written);
        }
        written -= frame.len();
    }
    (frames.len(), 0)
}

/// One non-blocking vectored send of (a prefix of) `frames`.
#[cfg(unix)]
fn send_now(stream: &TcpStream, frames: &[Frame]) -> io::Result<usize> {
    let slices: Vec<IoSlice<'_>> = frames
        .iter()
        .take(MAX_IOV)
        .map(|f| IoSlice::new(f))
        .collect();
    // MSG_DONTWAIT makes this one call non-blocking without changing the socket, which the
    // reader and writer threads use in blocking mode. MSG_NOSIGNAL: a closed peer is an error
    // here, never a SIGPIPE.
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    loop {
        match socket2::SockRef::from(stream).send_vectored_with_flags(&slices, flags) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[cfg(not(unix))]
fn send_now(_stream: &TcpStream, _frames: &[Frame]) -> io::Result<usize> {
    Err(io::ErrorKind::WouldBlock.into())
}

/// The writer thread: writes what the hub hands off until the hub closes the queue or the
/// socket fails, then shuts the socket down (which also ends the reader).
pub fn write_loop(stream: Arc<TcpStream>, queue: Receiver<Chunk>, state: Arc<OutState>) {
    let mut batch: Vec<u8> = Vec::new();
    loop {
        let first = match queue.try_recv() {
            Ok(chunk) => chunk,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                // Nothing to do: park at once. A channel's own blocking `recv` would spin and
                // yield first, which costs more than it saves when the hub writes directly
                // and hands off rarely.
                state.parked.store(true, Ordering::Relaxed);
                fence(Ordering::SeqCst);
                match queue.try_recv() {
                    Ok(chunk) => {
                        state.parked.store(false, Ordering::Relaxed);
                        chunk
                    }
                    Err(TryRecvError::Disconnected) => break,
                    Err(TryRecvError::Empty) => {
                        // Unparked by the hub, or spuriously: either way, look again.
                        thread::park();
                        continue;
                    }
                }
            }
        };
        batch.extend_from_slice(first.bytes());
        // Whatever else is already waiting goes out in the same write: one syscall, not many.
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(more) => batch.extend_from_slice(more.bytes()),
                Err(_) => break,
            }
        }
        let written = (&*stream).write_all(&batch);
        // Only now: a zero lets the hub write directly again (see the module's rules).
        state.queued.fetch_sub(batch.len(), Ordering::AcqRel);
        if written.is_err() {
            break;
        }
        batch.clear();
        if batch.capacity() > 4096 && queue.is_empty() {
            // The burst has passed: a writer about to park should not keep up to 128 KiB
            // for a client that may stay idle for hours (thousands of them add up).
            batch = Vec::new();
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::time::Duration;

    fn frames(lens: &[usize]) -> Vec<Frame> {
        lens.iter().map(|&n| Frame::from(vec![b'x'; n])).collect()
    }

    #[test]
    fn locate_finds_the_first_unsent_byte() {
        let f = frames(&[3, 4, 5]);
        assert_eq!(locate(&f, 0), (0, 0));
        assert_eq!(locate(&f, 2), (0, 2));
        assert_eq!(locate(&f, 3), (1, 0));
        assert_eq!(locate(&f, 8), (2, 1));
        assert_eq!(locate(&f, 12), (3, 0));
    }

    /// A connected pair on loopback: (the server's end, the client's end).
    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        (server, client)
    }

    /// Line `i`: its number, padding, a newline; about 1 KiB, so a few thousand fill any
    /// loopback socket buffer.
    fn line(i: usize) -> Frame {
        let mut text = format!("{i:06} ");
        text.push_str(&"y".repeat(1000 + i % 37));
        text.push('\n');
        Frame::from(text.into_bytes())
    }

    /// Reads lines `from..to` and checks each arrived whole and in order.
    fn expect_lines(client: &mut TcpStream, from: usize, to: usize) {
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 1 << 16];
        let mut next = from;
        while next < to {
            let n = client.read(&mut chunk).expect("the lines arrive");
            assert!(n > 0, "closed before line {next} of {from}..{to}");
            buf.extend_from_slice(&chunk[..n]);
            while let Some(end) = buf.iter().position(|&b| b == b'\n') {
                let got: Vec<u8> = buf.drain(..=end).collect();
                assert!(
                    got[..] == line(next)[..],
                    "line {next} arrived whole and in order; got {:?}...",
                    String::from_utf8_lossy(&got[..got.len().min(12)])
                );
                next += 1;
            }
        }
        assert!(buf.is_empty(), "nothing after line {to}");
    }

    #[cfg(unix)]
    #[test]
    fn direct_send_then_hand_off_keeps_every_byte_in_order() {
        let (server, mut client) = pair();
        let stream = Arc::new(server);
        let (tx, rx) = crossbeam_channel::unbounded();
        let state = Arc::new(OutState::default());
        // The writer waits at a gate: until the test opens it, what the hub hands off stays
        // queued, so each path can be watched on its own.
        let (open_gate, gate) = crossbeam_channel::bounded::<()>(0);
        let writer = {
            let (stream, state, rx) = (Arc::clone(&stream), Arc::clone(&state), rx.clone());
            thread::spawn(move || {
                let _ = gate.recv();
                write_loop(stream, rx, state);
            })
        };
        let mut out = Outbound::new(
            tx,
            Arc::clone(&state),
            Arc::clone(&stream),
            writer.thread().clone(),
        );

        // An empty queue: the hub sends itself and nothing is handed off.
        out.stage(&line(0));
        out.flush();
        assert_eq!(state.queued(), 0, "a small frame went out directly");
        assert!(rx.is_empty());
        expect_lines(&mut client, 0, 1);

        // The client stops reading; rounds of frames fill the socket until a send is partial
        // or would block, and the rest is handed off.
        let mut next = 1;
        while state.queued() == 0 {
            for _ in 0..16 {
                out.stage(&line(next));
                next += 1;
            }
            out.flush();
            assert!(next < 100_000, "the socket never filled");
        }
        let handed_chunks = rx.len();
        // From now on every frame is queued, even if the socket had room: the writer holds
        // bytes that must go first.
        for _ in 0..50 {
            out.stage(&line(next));
            next += 1;
            out.flush();
        }
        assert_eq!(
            rx.len(),
            handed_chunks + 50,
            "later frames all went to the queue"
        );

        // The writer drains the queue; the client reads everything, split anywhere, in order.
        drop(rx);
        drop(open_gate);
        expect_lines(&mut client, 1, next);
        drop(out);
        writer.join().unwrap();
        assert_eq!(state.queued(), 0, "the writer accounted for every byte");
    }

    #[test]
    fn a_real_writer_keeps_order_across_both_paths_and_closes_after_the_last_words() {
        for direct in [true, false] {
            let (server, mut client) = pair();
            let stream = Arc::new(server);
            let (tx, rx) = crossbeam_channel::unbounded();
            let state = Arc::new(OutState::default());
            let writer = {
                let (stream, state) = (Arc::clone(&stream), Arc::clone(&state));
                thread::spawn(move || write_loop(stream, rx, state))
            };
            let mut out = Outbound::new(tx, state, stream, writer.thread().clone());
            if !direct {
                out = out.without_direct_writes();
            }
            // Rounds of varied size while the client reads slowly on another thread.
            let total = 3000;
            let reader = thread::spawn(move || {
                thread::sleep(Duration::from_millis(50));
                expect_lines(&mut client, 0, total);
                let mut rest = Vec::new();
                client.read_to_end(&mut rest).unwrap();
                rest
            });
            let mut i = 0;
            while i < total - 1 {
                for _ in 0..(1 + i % 7).min(total - 1 - i) {
                    out.stage(&line(i));
                    i += 1;
                }
                out.flush();
            }
            out.stage(&line(total - 1));
            out.close();
            drop(out);
            let rest = reader.join().unwrap();
            assert!(
                rest.is_empty(),
                "nothing after the last words, then end of stream"
            );
            writer.join().unwrap();
        }
    }
}
