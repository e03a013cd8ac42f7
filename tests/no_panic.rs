//! Fuzz-style property tests: whatever bytes a peer or a file supplies, the library answers
//! with a value or an error, never a panic, and never takes a damaged token for a good one.
//!
//! A small seeded PRNG (SplitMix64) drives every test and makes the keys, so a failure names
//! its seed and iteration and replays the same way (only the IVs that Fernet draws for each
//! token differ between runs, and no property here depends on them). The iteration counts are bounded so that `cargo
//! test` stays quick in a debug build; a dedicated fuzzer (cargo-fuzz) would run far longer.

use std::io::{self, Read};

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use fernchat::crypto::{PeerClock, RoomKey, TimePolicy, TokenError, TokenHeader};
use fernchat::keyfile::{self, KeyfileError, KeyfileKind};
use fernchat::protocol::codec::{self, DecodeError, decode_plaintext};
use fernchat::protocol::{ClientEvent, ErrorCode, FrameError, FrameReader, Inbound, ServerEvent};
use zeroize::Zeroizing;

const SEEDS: [u64; 4] = [1, 0x5EED_F00D, 0xDEAD_BEEF_CAFE_F00D, 20_251_122];
const NOW: u64 = 1_763_800_000;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// SplitMix64 (Steele, Lea and Flood, 2014): tiny, fast, and good enough to pick test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform enough in `0..n` for test-case selection (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    fn bytes_upto(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max);
        self.bytes(len)
    }

    fn base64ish_upto(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max);
        self.base64ish(len)
    }

    fn base64ish(&mut self, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| {
                if self.one_in(40) {
                    *self.pick(b"=+/ \n\r\t.%")
                } else {
                    *self.pick(ALPHABET)
                }
            })
            .collect()
    }
}

/// The bytes a token string stands for, read as leniently as fernchat reads it (padding is
/// optional), or `None` if it is not base64 at all.
fn token_bytes(text: &[u8]) -> Option<Vec<u8>> {
    let end = text.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1);
    URL_SAFE_NO_PAD.decode(&text[..end]).ok()
}

/// A key made from the PRNG, so that every run uses the same keys.
fn test_key(seed: u64) -> RoomKey {
    RoomKey::from_secret(&URL_SAFE.encode(Rng(seed).bytes(32))).expect("32 bytes are a key")
}

fn connection(key: &RoomKey) -> Inbound {
    let policy = TimePolicy::default();
    Inbound::new(key.clone(), policy, Inbound::shared_guard(policy, 1 << 16))
}

/// Feeds `frame` to everything that reads untrusted frames.
fn feed_everything(
    key: &RoomKey,
    client: &mut Inbound,
    server: &mut Inbound,
    frame: &[u8],
    now: u64,
) {
    let _ = TokenHeader::parse(frame);
    let _ = key.decrypt(frame);
    let _ = client.accept::<ServerEvent>(frame, now);
    let _ = server.accept::<ClientEvent>(frame, now);
    let _ = codec::parse_wrong_key_line(frame);
}

#[test]
fn random_bytes_are_refused_without_panicking() {
    let key = test_key(1);
    for seed in SEEDS {
        let mut rng = Rng(seed);
        let mut server = connection(&key);
        let mut client = connection(&key);
        for i in 0..20_000 {
            let len = if rng.one_in(10) {
                rng.below(2000)
            } else {
                rng.below(200)
            };
            let frame = if rng.one_in(2) {
                rng.bytes(len)
            } else {
                rng.base64ish(len)
            };
            let now = match rng.below(4) {
                0 => 0,
                1 => u64::MAX,
                2 => rng.next(),
                _ => NOW,
            };
            feed_everything(&key, &mut client, &mut server, &frame, now);
            // Forging a token by chance would take about 2^256 tries.
            assert!(key.decrypt(&frame).is_err(), "seed {seed} iteration {i}");
        }
    }
}

/// One way of damaging a token, in its text or in its bytes.
fn mutate(rng: &mut Rng, token: &[u8], other: &[u8]) -> Vec<u8> {
    let raw = token_bytes(token).expect("a token is base64");
    match rng.below(8) {
        // One bit flipped in the decoded token.
        0 => {
            let mut raw = raw;
            let at = rng.below(raw.len());
            raw[at] ^= 1 << rng.below(8);
            URL_SAFE.encode(raw).into_bytes()
        }
        // Decoded token cut short, or extended.
        1 => URL_SAFE.encode(&raw[..rng.below(raw.len())]).into_bytes(),
        2 => {
            let mut raw = raw;
            let at = rng.below(raw.len() + 1);
            for _ in 0..=rng.below(32) {
                raw.insert(at, rng.next() as u8);
            }
            URL_SAFE.encode(raw).into_bytes()
        }
        // Text cut short anywhere (may only drop padding, which is not damage).
        3 => token[..rng.below(token.len())].to_vec(),
        // Text characters replaced with base64 noise.
        4 => {
            let mut text = token.to_vec();
            for _ in 0..=rng.below(4) {
                let at = rng.below(text.len());
                text[at] = *rng.pick(ALPHABET);
            }
            text
        }
        // Characters inserted into the text.
        5 => {
            let mut text = token.to_vec();
            let at = rng.below(text.len() + 1);
            text.insert(at, *rng.pick(b"AQgw-_=+/ \n\0"));
            text
        }
        // Two tokens spliced together.
        6 => {
            let other = token_bytes(other).expect("base64");
            let cut = rng.below(raw.len());
            let mut spliced = raw[..cut].to_vec();
            spliced.extend_from_slice(&other[cut.min(other.len())..]);
            URL_SAFE.encode(spliced).into_bytes()
        }
        // Arbitrary bytes swapped in.
        _ => {
            let mut text = token.to_vec();
            let at = rng.below(text.len());
            text[at] = rng.next() as u8;
            text
        }
    }
}

#[test]
fn mutated_tokens_never_decrypt() {
    let key = test_key(2);
    let mut damaged_seen = 0u32;
    let mut same_seen = 0u32;
    for seed in SEEDS {
        let mut rng = Rng(seed);
        let mut server = connection(&key);
        let mut client = connection(&key);
        for i in 0..5_000 {
            let plaintext = rng.bytes_upto(100);
            let token = key.encrypt_at(&plaintext, NOW);
            let original = token_bytes(token.as_bytes()).expect("base64");
            let other = key.encrypt_at(&plaintext, NOW);
            let mutated = mutate(&mut rng, token.as_bytes(), other.as_bytes());
            feed_everything(&key, &mut client, &mut server, &mutated, NOW);
            let result = key.decrypt(&mutated);
            let bytes = token_bytes(&mutated);
            // A splice can cut so early that the result is the whole other token.
            if bytes.as_ref() == Some(&original) || bytes == token_bytes(other.as_bytes()) {
                // Only padding changed, or it is the other token: a real token, which must
                // still open.
                same_seen += 1;
                assert_eq!(
                    result.map(|o| o.plaintext),
                    Ok(plaintext),
                    "seed {seed} iteration {i}"
                );
            } else {
                damaged_seen += 1;
                assert!(
                    result.is_err(),
                    "seed {seed} iteration {i}: a damaged token decrypted: {:?}",
                    String::from_utf8_lossy(&mutated)
                );
                let mut fresh = connection(&key);
                let refusal = fresh
                    .accept::<ClientEvent>(&mutated, NOW)
                    .expect_err("refused");
                assert_eq!(refusal.code(), ErrorCode::Undecryptable);
            }
        }
    }
    // Both branches ran, so neither assertion above is vacuous.
    assert!(
        damaged_seen > 15_000 && same_seen > 0,
        "{damaged_seen} {same_seen}"
    );
}

#[test]
fn any_timestamp_is_handled() {
    let key = test_key(3);
    let policy = TimePolicy::default();
    let mut rng = Rng(SEEDS[0]);
    let mut stamps = vec![
        0,
        1,
        u64::MAX,
        u64::MAX - 60,
        u64::MAX - 59,
        i64::MAX as u64,
    ];
    stamps.extend((0..500).map(|_| rng.next()));
    let nows = [0, 1, NOW, u64::MAX, u64::MAX - 60, i64::MAX as u64];
    for &ts in &stamps {
        let token = key.encrypt_at(b"{\"type\":\"who\"}", ts);
        let header = TokenHeader::parse(token.as_bytes());
        let opened = key.decrypt(token.as_bytes());
        // Above u64::MAX - 60 the `fernet` crate's own `time + 60` would overflow, so such
        // tokens are refused as malformed; everything else opens with its timestamp.
        if ts > u64::MAX - 60 {
            assert!(matches!(header, Err(TokenError::BadLength { .. })), "{ts}");
            assert!(matches!(opened, Err(TokenError::BadLength { .. })), "{ts}");
        } else {
            assert_eq!(header.map(|h| h.timestamp), Ok(ts));
            assert_eq!(opened.map(|o| o.timestamp), Ok(ts));
        }
        for &now in nows
            .iter()
            .chain([ts, ts.wrapping_add(1), rng.next()].iter())
        {
            let mut inbound = connection(&key);
            let accepted = inbound.accept::<ClientEvent>(token.as_bytes(), now);
            // Accepted exactly when the clocks are within the tolerated offset.
            let close = ts <= u64::MAX - 60 && ts.abs_diff(now) <= 600;
            assert_eq!(accepted.is_ok(), close, "ts {ts} now {now}: {accepted:?}");
            let _ = PeerClock::measure(ts, now);
            for offset in [0, 1, -1, 600, -600, i64::MAX, i64::MIN, rng.next() as i64] {
                let _ = policy.check(
                    ts,
                    now,
                    PeerClock {
                        offset_secs: offset,
                    },
                );
            }
        }
    }
    for ttl in [0, 1, 60, u64::MAX / 2, u64::MAX] {
        for grace in [0, 60, u64::MAX] {
            let policy = TimePolicy {
                ttl_secs: ttl,
                future_grace_secs: grace,
            };
            let _ = policy.check(
                u64::MAX,
                0,
                PeerClock {
                    offset_secs: i64::MIN,
                },
            );
            let _ = policy.check(
                0,
                u64::MAX,
                PeerClock {
                    offset_secs: i64::MAX,
                },
            );
            // Saturates rather than overflows: a window that cannot be represented is
            // "forever", and a wrapped-around one would let replays through.
            let window = policy.replay_window_secs();
            assert!(
                window >= ttl && window >= grace,
                "ttl {ttl} grace {grace}: {window}"
            );
        }
    }
}

#[test]
fn huge_inputs_are_refused_quickly() {
    const MIB: usize = 1 << 20;
    let key = test_key(4);
    let mut server = connection(&key);
    let mut client = connection(&key);
    let mut rng = Rng(SEEDS[1]);
    let big_plain = rng.bytes(700 * 1024);
    let big_token = key.encrypt_at(&big_plain, NOW);
    assert!(big_token.len() > 900 * 1024);
    assert_eq!(
        key.decrypt(big_token.as_bytes()).map(|o| o.plaintext.len()),
        Ok(big_plain.len())
    );
    let mut flipped = big_token.clone().into_bytes();
    let at = flipped.len() / 2;
    flipped[at] = if flipped[at] == b'A' { b'B' } else { b'A' };
    assert!(key.decrypt(&flipped).is_err());

    let inputs: Vec<Vec<u8>> = vec![
        vec![b'A'; MIB],
        vec![b'='; MIB],
        vec![0; MIB],
        rng.bytes(MIB),
        rng.base64ish(MIB),
        flipped,
        [b"gAAAAA".as_slice(), &vec![b'A'; MIB]].concat(),
    ];
    for input in &inputs {
        feed_everything(&key, &mut client, &mut server, input, NOW);
        assert!(key.decrypt(input).is_err());
        let _ = decode_plaintext::<ClientEvent>(input);
        let mut reader = FrameReader::new(io::Cursor::new(input), 16 * 1024);
        for _ in 0..100 {
            match reader.read_frame() {
                Ok(None) => break,
                Ok(Some(frame)) => assert!(frame.len() <= 16 * 1024),
                Err(_) => {}
            }
        }
    }
    // Deeply nested JSON must hit the parser's depth limit, not the stack's.
    for open in [b'[', b'{'] {
        let nested = vec![open; MIB];
        let refused = decode_plaintext::<ClientEvent>(&nested).expect_err("not an event");
        assert!(matches!(refused, DecodeError::BadJson { .. }));
        let mut deep = b"{\"type\":\"say\",\"text\":".to_vec();
        deep.extend(std::iter::repeat_n(b'[', 100_000));
        assert!(decode_plaintext::<ClientEvent>(&deep).is_err());
    }
}

/// Fragments that make up JSON-ish text: enough structure to reach every decode branch.
const JSON_PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"type\"",
    "\"say\"",
    "\"hello\"",
    "\"text\"",
    "\"nick\"",
    "\"version\"",
    "\"id\"",
    "\"to\"",
    "\"msg\"",
    "\"who\"",
    "\"ping\"",
    "\"welcome\"",
    "\"error\"",
    "\"code\"",
    "\"time\"",
    "\"users\"",
    "\"bye\"",
    "\"reason\"",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "7",
    "1e999",
    "18446744073709551616",
    "4294967296",
    "0.5",
    "\"\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"\\\"\"",
    "\"é🦀\"",
    " ",
    "\n",
    "\"nick_taken\"",
    "\"x\"",
];

const KEYS: &[&str] = &[
    "type", "text", "nick", "version", "kex", "id", "to", "reason", "users", "time", "code",
];
const TYPE_NAMES: &[&str] = &[
    "hello", "say", "me", "msg", "who", "nick", "ping", "pong", "bye", "welcome", "dance", "",
    "SAY",
];
const VALUES: &[&str] = &[
    "\"x\"",
    "\"alice\"",
    "7",
    "-1",
    "1.5",
    "1e999",
    "18446744073709551616",
    "4294967296",
    "null",
    "true",
    "[]",
    "[\"a\"]",
    "{}",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"é🦀\"",
    "\"psk\"",
];

/// JSON-ish text of three kinds: fragments in random order (mostly not JSON), objects with
/// random fields (every decode outcome), and real events with one byte changed.
fn json_ish(rng: &mut Rng) -> Vec<u8> {
    match rng.below(3) {
        0 => {
            let mut text = Vec::new();
            for _ in 0..rng.below(24) {
                if rng.one_in(30) {
                    text.push(rng.next() as u8);
                } else {
                    text.extend_from_slice(rng.pick(JSON_PIECES).as_bytes());
                }
            }
            text
        }
        1 => {
            let mut fields = Vec::new();
            if !rng.one_in(6) {
                let kind = if rng.one_in(8) {
                    (*rng.pick(VALUES)).to_owned()
                } else {
                    format!("\"{}\"", rng.pick(TYPE_NAMES))
                };
                fields.push(format!("\"type\":{kind}"));
            }
            for _ in 0..rng.below(4) {
                fields.push(format!("\"{}\":{}", rng.pick(KEYS), rng.pick(VALUES)));
            }
            let len = fields.len();
            let start = rng.below(len + 1);
            fields.rotate_left(start.min(len));
            format!("{{{}}}", fields.join(",")).into_bytes()
        }
        _ => {
            let mut text = serde_json::to_vec(&random_client_event(rng)).expect("serializes");
            let at = rng.below(text.len());
            match rng.below(3) {
                0 => {
                    text.remove(at);
                }
                1 => text.insert(at, *rng.pick(b"{}[]\",:0a\\ ")),
                _ => text[at] = rng.next() as u8,
            }
            text
        }
    }
}

fn random_text(rng: &mut Rng) -> String {
    let pieces = [
        "a",
        "Z",
        " ",
        "é",
        "🦀",
        "\"",
        "\\",
        "\n",
        "\u{0}",
        "\u{1b}[2J",
        "}",
    ];
    (0..rng.below(12)).map(|_| *rng.pick(&pieces)).collect()
}

fn random_client_event(rng: &mut Rng) -> ClientEvent {
    match rng.below(13) {
        0 => ClientEvent::Hello {
            nonce: None,
            since: None,
            kex_public: None,
            nick: random_text(rng),
            version: rng.next() as u32,
            kex: random_text(rng),
            client: None,
        },
        1 => ClientEvent::Say {
            room: rng.one_in(2).then(|| random_text(rng)),
            text: random_text(rng),
        },
        2 => ClientEvent::Me {
            room: rng.one_in(2).then(|| random_text(rng)),
            text: random_text(rng),
        },
        3 => ClientEvent::Msg {
            to: random_text(rng),
            text: random_text(rng),
        },
        4 => ClientEvent::Who {
            room: rng.one_in(2).then(|| random_text(rng)),
        },
        5 => ClientEvent::Nick {
            nick: random_text(rng),
        },
        6 => ClientEvent::Ping { id: rng.next() },
        7 => ClientEvent::Pong { id: rng.next() },
        // Rooms (issue 16).
        8 => ClientEvent::Join {
            room: random_text(rng),
            since: rng.one_in(2).then(|| rng.next()),
            invite_only: rng.one_in(2),
        },
        9 => ClientEvent::Part {
            room: random_text(rng),
            reason: rng.one_in(2).then(|| random_text(rng)),
        },
        10 => ClientEvent::Invite {
            nick: random_text(rng),
            room: random_text(rng),
        },
        11 => ClientEvent::Groups {
            groups: vec![fernchat::protocol::event::Group {
                room: random_text(rng),
                members: vec![random_text(rng), random_text(rng)],
            }],
        },
        _ => ClientEvent::Bye {
            reason: rng.one_in(2).then(|| random_text(rng)),
        },
    }
}

#[test]
fn decode_plaintext_classifies_any_json_ish_text() {
    let mut outcomes = [0u32; 4];
    for seed in SEEDS {
        let mut rng = Rng(seed);
        for i in 0..20_000 {
            let text = json_ish(&mut rng);
            let _ = decode_plaintext::<ServerEvent>(&text);
            match decode_plaintext::<ClientEvent>(&text) {
                Ok(event) => {
                    outcomes[0] += 1;
                    // Whatever is accepted means the same thing when sent again.
                    let again = serde_json::to_vec(&event).expect("serializes");
                    assert_eq!(
                        decode_plaintext::<ClientEvent>(&again),
                        Ok(event),
                        "seed {seed} iteration {i}"
                    );
                }
                Err(DecodeError::BadJson { .. }) => outcomes[1] += 1,
                Err(DecodeError::MissingType | DecodeError::BadField { .. }) => outcomes[2] += 1,
                Err(DecodeError::UnknownType { found, .. }) => {
                    outcomes[3] += 1;
                    assert!(!ClientEvent::TYPES.contains(&found.as_str()));
                    assert!(found.chars().count() <= 40);
                }
                Err(DecodeError::Token(e)) => panic!("a plaintext cannot be a token error: {e}"),
            }
            // Well-formed events with arbitrary field values always decode to themselves.
            let event = random_client_event(&mut rng);
            let json = serde_json::to_vec(&event).expect("serializes");
            assert_eq!(decode_plaintext::<ClientEvent>(&json), Ok(event));
        }
    }
    // Every outcome was reached, so the generator exercises every branch.
    assert!(outcomes.iter().all(|&n| n > 0), "{outcomes:?}");
}

/// Hands out its bytes in random-sized chunks, with random read timeouts in between.
struct Chunked<'a> {
    data: &'a [u8],
    rng: Rng,
    max_chunk: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.rng.one_in(8) {
            return Err(io::Error::new(io::ErrorKind::WouldBlock, "timeout"));
        }
        let n = (1 + self.rng.below(self.max_chunk))
            .min(out.len())
            .min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// What `FrameReader` must produce for `data`, worked out line by line.
fn expected_frames(data: &[u8], max: usize) -> Vec<Result<Vec<u8>, &'static str>> {
    let mut out = Vec::new();
    let mut lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let partial = lines.pop().expect("split yields at least one piece");
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > max {
            out.push(Err("too long"));
        } else if !line.is_empty() {
            out.push(Ok(line.to_vec()));
        }
    }
    if partial.len() > max + 1 {
        // Refused while still arriving; the end of the stream then ends it quietly.
        out.push(Err("too long"));
    } else if !partial.is_empty() {
        out.push(Err("truncated"));
    }
    out
}

#[test]
fn frame_reader_agrees_with_a_line_by_line_model_in_any_chunking() {
    for seed in SEEDS {
        let mut rng = Rng(seed);
        for i in 0..1_500 {
            let max = 1 + rng.below(64);
            let mut data = Vec::new();
            for _ in 0..rng.below(12) {
                let len = match rng.below(4) {
                    0 => 0,
                    1 => max + rng.below(3),
                    2 => rng.below(4 * max),
                    _ => rng.below(max),
                };
                let mut line = rng.base64ish(len);
                line.retain(|&b| b != b'\n');
                data.extend(line);
                data.extend_from_slice(match rng.below(3) {
                    0 => b"\r\n",
                    _ => b"\n",
                });
            }
            if rng.one_in(3) {
                data.extend(rng.base64ish_upto(2 * max).iter().filter(|&&b| b != b'\n'));
            }
            let source = Chunked {
                data: &data,
                rng: Rng(rng.next()),
                max_chunk: 1 + rng.below(3 * max),
            };
            let mut reader = FrameReader::new(source, max);
            let mut got = Vec::new();
            let mut calls = 0;
            loop {
                calls += 1;
                assert!(
                    calls < 100 + 20 * data.len(),
                    "seed {seed} iteration {i}: no end"
                );
                match reader.read_frame() {
                    Ok(None) => break,
                    Ok(Some(frame)) => {
                        assert!(frame.len() <= max);
                        got.push(Ok(frame.to_vec()));
                    }
                    Err(e) if e.is_timeout() => {}
                    Err(FrameError::LineTooLong { limit }) => {
                        assert_eq!(limit, max);
                        got.push(Err("too long"));
                    }
                    Err(FrameError::TruncatedAtEof) => got.push(Err("truncated")),
                    Err(FrameError::Io(e)) => panic!("{e}"),
                }
            }
            assert_eq!(
                got,
                expected_frames(&data, max),
                "seed {seed} iteration {i}: max {max}, data {:?}",
                String::from_utf8_lossy(&data)
            );
        }
    }
}

#[test]
fn room_key_from_secret_accepts_only_32_byte_keys() {
    let real = test_key(5);
    let secret = real.expose_secret().as_bytes().to_vec();
    let mut accepted = 0;
    for seed in SEEDS {
        let mut rng = Rng(seed);
        for _ in 0..5_000 {
            let text = match rng.below(4) {
                0 => String::from_utf8_lossy(&rng.bytes_upto(80)).into_owned(),
                1 => {
                    let len = 40 + rng.below(10);
                    String::from_utf8_lossy(&rng.base64ish(len)).into_owned()
                }
                // A real key with a few characters changed: a different key or no key.
                _ => {
                    let mut text = secret.clone();
                    for _ in 0..=rng.below(3) {
                        let at = rng.below(43);
                        text[at] = *rng.pick(ALPHABET);
                    }
                    String::from_utf8(text).expect("ASCII")
                }
            };
            if let Ok(key) = RoomKey::from_secret(&text) {
                accepted += 1;
                let raw = URL_SAFE
                    .decode(key.expose_secret())
                    .expect("canonical form");
                assert_eq!(raw.len(), 32);
                let again = RoomKey::from_secret(key.expose_secret()).expect("round trip");
                assert_eq!(again.fingerprint(), key.fingerprint());
                assert_eq!(
                    key.fingerprint() == real.fingerprint(),
                    key.expose_secret() == real.expose_secret(),
                    "fingerprints tell keys apart"
                );
                // The key works: what it encrypts, it opens.
                let token = key.encrypt_at(text.as_bytes(), NOW);
                assert_eq!(
                    key.decrypt(token.as_bytes()).map(|o| o.plaintext),
                    Ok(text.into_bytes())
                );
            }
        }
    }
    assert!(accepted > 100, "{accepted}");
}

/// Random keyfile contents, built from the pieces real keyfiles are made of.
fn keyfile_text(rng: &mut Rng, key: &RoomKey, token: &str) -> Vec<u8> {
    if rng.one_in(5) {
        return rng.bytes_upto(300);
    }
    let mut text = Vec::new();
    for _ in 0..rng.below(6) {
        let line: Vec<u8> = match rng.below(7) {
            0 => b"# comment".to_vec(),
            1 => Vec::new(),
            2 => key.expose_secret().as_bytes().to_vec(),
            // Shorter than a key (43 characters), so never a valid key by chance.
            3 => rng.base64ish_upto(40),
            4 | 5 => {
                // A sealed line that is valid except, usually, for one field, which gets a
                // broken or absurd value. Valid parameters here are cheap (at most 2 MiB), so
                // no iteration is slow.
                let mut fields = vec![
                    "fernchat-sealed",
                    "v1",
                    "scrypt",
                    *rng.pick(&["10", "11"]),
                    *rng.pick(&["1", "8"]),
                    *rng.pick(&["1", "2"]),
                    *rng.pick(&["AAAAAAAAAAAAAAAAAAAAAA==", "", "AAAA"]),
                    token,
                ];
                let broken: [&[&str]; 8] = [
                    &["fernchat-sealedX", "x"],
                    &["v2", ""],
                    &["argon2", "SCRYPT"],
                    &["0", "9", "23", "64", "255", "256", "-1", "x", ""],
                    &["0", "33", "4294967296", "x"],
                    &["0", "17", "x"],
                    &["%%", "A"],
                    &["", "gAAAA", "%%"],
                ];
                if !rng.one_in(5) {
                    let field = rng.below(8);
                    fields[field] = *rng.pick(broken[field]);
                }
                match rng.below(8) {
                    0 => {
                        fields.truncate(rng.below(8));
                    }
                    1 => fields.push("extra"),
                    _ => {}
                }
                fields.join(":").into_bytes()
            }
            _ => rng.bytes_upto(40),
        };
        if rng.one_in(3) {
            text.extend_from_slice(b"  ");
        }
        text.extend(line);
        text.extend_from_slice(if rng.one_in(3) { b"\r\n" } else { b"\n" });
    }
    text
}

#[test]
fn keyfile_load_survives_any_contents() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("fuzz.key");
    let key = test_key(6);
    // A real token under a real key-encryption key, so some sealed lines get as far as
    // decryption (and fail it, since it was not made from the passphrase).
    let token = test_key(7).encrypt(key.expose_secret().as_bytes());
    let mut outcomes = [0u32; 3];
    for seed in SEEDS {
        let mut rng = Rng(seed);
        for i in 0..500 {
            let text = keyfile_text(&mut rng, &key, &token);
            std::fs::write(&path, &text).expect("write");
            let mut asked = false;
            let result = keyfile::load(&path, &mut |_| {
                asked = true;
                Ok(Zeroizing::new("passphrase".to_owned()))
            });
            match result {
                Ok(loaded) => {
                    outcomes[0] += 1;
                    // Only the real key line can load, and it loads as itself.
                    assert_eq!(loaded.kind, KeyfileKind::Plain, "seed {seed} iteration {i}");
                    assert_eq!(loaded.key.fingerprint(), key.fingerprint());
                    assert!(!asked);
                }
                Err(KeyfileError::WrongPassphrase { .. }) => {
                    outcomes[1] += 1;
                    assert!(asked);
                }
                Err(e) => {
                    outcomes[2] += 1;
                    let shown = e.to_string();
                    assert!(
                        !shown.contains(key.expose_secret()),
                        "an error shows the key"
                    );
                }
            }
        }
    }
    assert!(outcomes.iter().all(|&n| n > 0), "{outcomes:?}");
}
