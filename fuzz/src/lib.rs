//! What the fuzz targets share: a byte reader with a simple, documented encoding (so that
//! `examples/make_seeds.rs` can write seed inputs field by field), the fixed keys, and the
//! line-by-line model of `FrameReader`.
//!
//! Nothing here depends on libFuzzer: the seed maker uses it too.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use fernchat::crypto::RoomKey;

/// The Fernet specification's test key: the class key of every target.
pub const KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
/// Another key, for tokens that are authentic but not ours.
pub const OTHER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
/// The passphrase of the sealed keyfiles in the keyfile target's seeds.
pub const PASSPHRASE: &str = "fuzz passphrase";
/// "Now" in the tests (2025-11-22), the centre of the timestamps the targets choose.
pub const NOW: u64 = 1_763_800_000;

/// The class key.
pub fn key() -> RoomKey {
    RoomKey::from_secret(KEY).expect("the spec key is valid")
}

/// The other key.
pub fn other_key() -> RoomKey {
    RoomKey::from_secret(OTHER_KEY).expect("a valid key")
}

/// The bytes a token string stands for, read as leniently as fernchat reads it (any trailing
/// `=` dropped), or `None` if it is not base64.
pub fn token_bytes(text: &[u8]) -> Option<Vec<u8>> {
    let end = text.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    URL_SAFE_NO_PAD.decode(&text[..end]).ok()
}

/// Reads fields from a fuzz input. Encoding: integers little-endian in exactly their size;
/// past the end of the input every field reads as zero. [`Writer`] writes the same encoding.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Input<'a> {
        Input { data }
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn bytes(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        head
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        self.bytes(self.data.len())
    }

    fn int<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let got = self.bytes(N);
        out[..got.len()].copy_from_slice(got);
        out
    }

    /// One byte.
    pub fn u8(&mut self) -> u8 {
        self.int::<1>()[0]
    }

    /// Two bytes.
    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.int())
    }

    /// Four bytes.
    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.int())
    }

    /// Eight bytes.
    pub fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.int())
    }

    /// A length byte, then that many bytes.
    pub fn short_bytes(&mut self) -> &'a [u8] {
        let n = self.u8();
        self.bytes(usize::from(n))
    }
}

/// Writes the encoding [`Input`] reads, for seed inputs.
#[derive(Default)]
pub struct Writer {
    /// What was written.
    pub out: Vec<u8>,
}

impl Writer {
    /// An empty input.
    pub fn new() -> Writer {
        Writer::default()
    }
    /// One byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.out.push(v);
        self
    }
    /// Two bytes.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.out.extend(v.to_le_bytes());
        self
    }
    /// Four bytes.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.out.extend(v.to_le_bytes());
        self
    }
    /// Eight bytes.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.out.extend(v.to_le_bytes());
        self
    }
    /// Raw bytes.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.out.extend_from_slice(v);
        self
    }
    /// A length byte, then the bytes (at most 255).
    pub fn short_bytes(&mut self, v: &[u8]) -> &mut Self {
        let v = &v[..v.len().min(255)];
        self.out.push(v.len() as u8);
        self.out.extend_from_slice(v);
        self
    }
}

/// One result of `FrameReader::read_frame` in the model's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A line, without its line ending.
    Line(Vec<u8>),
    /// `LineTooLong`.
    TooLong,
    /// `TruncatedAtEof`.
    Truncated,
}

/// What `FrameReader` must produce for `data` with limit `max`, worked out line by line
/// (the model of `tests/no_panic.rs`).
pub fn expected_frames(data: &[u8], max: usize) -> Vec<Frame> {
    let mut out = Vec::new();
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let partial = lines.pop().expect("split yields at least one piece");
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > max {
            out.push(Frame::TooLong);
        } else if !line.is_empty() {
            out.push(Frame::Line(line.to_vec()));
        }
    }
    if partial.len() > max.saturating_add(1) {
        // Refused while still arriving; the end of the stream then ends it quietly.
        out.push(Frame::TooLong);
    } else if !partial.is_empty() {
        out.push(Frame::Truncated);
    }
    out
}
