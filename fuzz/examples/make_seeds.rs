//! Writes the seed corpora, `seeds/TARGET/`, from the inputs of the test suite: the frames of
//! `tests/protocol.rs` and `src/protocol/frame.rs`, the Fernet specification vectors, the
//! examples of PROTOCOL.md, the keyfiles of `tests/keyfile.rs`, and the time and replay cases
//! of `tests/protocol.rs` as steps of the handshake target.
//!
//! Run from `fuzz/`: `cargo run --example make_seeds` (no sanitizer, no nightly flags). It
//! replaces the `seed-*` files in `seeds/`, and leaves the `found-*` files (inputs the fuzzer
//! found, picked as fuzz/README.md says) alone. The tokens it makes have random IVs, so a new run differs
//! byte for byte; that is harmless.

use std::fs;
use std::path::{Path, PathBuf};

use fernchat::keyfile::{self, Overwrite, SealParams};
use fernchat_fuzz::{KEY, NOW, PASSPHRASE, Writer, key, other_key};

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    fs::write(dir.join(name), bytes).expect("write a seed");
}

fn target_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(name);
    fs::create_dir_all(&dir).expect("seed folder");
    // Replaces its own `seed-*` files; inputs the fuzzer found (`found-*`) stay.
    for entry in fs::read_dir(&dir).expect("seed folder") {
        let path = entry.expect("an entry").path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("seed-"))
        {
            fs::remove_file(path).expect("remove an old seed");
        }
    }
    dir
}

/// The strings of a JSON fixture's `"field"` entries.
fn fixture_strings(file: &str, field: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/fernet-spec")
        .join(file);
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(path).expect("fixture")).expect("JSON");
    json.as_array()
        .expect("an array")
        .iter()
        .filter_map(|v| v[field].as_str().map(str::to_owned))
        .collect()
}

const EXAMPLES: &[&str] = &[
    r#"{"type":"hello","nick":"alice","version":1,"kex":"psk"}"#,
    r#"{"type":"hello","nick":"al","version":1}"#,
    r#"{"type":"say","text":"hi all"}"#,
    r#"{"type":"me","text":"waves"}"#,
    r#"{"type":"msg","to":"bob","text":"psst"}"#,
    r#"{"type":"who"}"#,
    r#"{"type":"nick","nick":"alice2"}"#,
    r#"{"type":"ping","id":7}"#,
    r#"{"type":"pong","id":3}"#,
    r#"{"type":"bye","reason":"lunch"}"#,
    r#"{"type":"bye"}"#,
    r#"{"type":"welcome","nick":"alice","users":["alice","bob"],"version":1,"server":"fernchat 0.1.0","max_text":2000,"time":1763800000000}"#,
    r#"{"type":"message","from":"alice","text":"hi all","time":1763800000000}"#,
    r#"{"type":"action","from":"alice","text":"waves","time":1763800000000}"#,
    r#"{"type":"private","from":"alice","to":"bob","text":"psst","time":1763800000000}"#,
    r#"{"type":"users","users":["alice","bob"],"time":1763800000000}"#,
    r#"{"type":"joined","nick":"carol","time":1763800000000}"#,
    r#"{"type":"left","nick":"carol","reason":"lunch","time":1763800000000}"#,
    r#"{"type":"renamed","from":"carol","to":"caroline","time":1763800000000}"#,
    r#"{"type":"notice","text":"you are already known as alice","time":1763800000000}"#,
    r#"{"type":"error","code":"nick_taken","message":"the nick bob is taken","time":1763800000000}"#,
    r#"{"type":"error","code":"from_the_future_version","message":"x","time":1}"#,
    r#"{"type":"bye","code":"shutdown","reason":"the server is shutting down","time":1763800000000}"#,
    // The refusals of tests/protocol.rs and the edge values of tests/no_panic.rs.
    r#"{"type":"dance"}"#,
    r#"{"text":"no type"}"#,
    r#"{"type":7}"#,
    r#"{"type":"say"}"#,
    r#"{"type":"say","text":7}"#,
    r#"{"type":"ping","id":-1}"#,
    r#"{"type":"ping","id":18446744073709551616}"#,
    r#"{"type":"hello","nick":"al","version":4294967296}"#,
    r#"{"type":"say","text":"\ud800"}"#,
    r#"{"type":"say","text":"\u0000 é🦀 \u001b[2J"}"#,
    r#"{"type":"say","text":"a","type":"me"}"#,
    r#"[1,2]"#,
    r#""say""#,
    "not json",
    "",
    "{\"type\":\"say\",\"text\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
];

fn frame_reader() {
    let dir = target_dir("frame_reader");
    // LIMIT_SEL, N, N % 16 + 1 chunk sizes, the stream.
    let seed = |limit: Writer, chunks: &[u8], stream: &[u8]| {
        let mut w = limit;
        w.u8((chunks.len() - 1) as u8).bytes(chunks).bytes(stream);
        w.out
    };
    let small = |limit: u8| {
        let mut w = Writer::new();
        w.u8(limit);
        w
    };
    let medium = |limit: u16| {
        let mut w = Writer::new();
        w.u8(200).u16(limit);
        w
    };
    let mut n = 0;
    let mut put = |bytes: Vec<u8>| {
        write(&dir, &format!("seed-{n:02}"), &bytes);
        n += 1;
    };
    for chunks in [&[1u8][..], &[2], &[3], &[7], &[64], &[200]] {
        put(seed(small(10), chunks, b"abc\r\n\ndef\nxyz\n"));
    }
    put(seed(
        small(8),
        &[1, 5, 254],
        b"ok\n0123456789ABCDEF\nnext\n",
    ));
    put(seed(small(8), &[3], b"12345678\r\n"));
    put(seed(small(8), &[2], b"done\npart"));
    put(seed(small(0), &[1], b"\n\r\nx\n"));
    // Read timeouts (255) and interruptions (0) between chunks.
    put(seed(
        small(16),
        &[255, 4, 0, 9],
        b"first\nsecond line\r\nthird\n",
    ));
    let mut long = b"first\n".to_vec();
    long.extend(std::iter::repeat_n(b'x', 500));
    long.extend(b"\nafter\n");
    put(seed(medium(100), &[64, 255, 100], &long));
    let key = key();
    let mut frames = Vec::new();
    for event in &EXAMPLES[..4] {
        frames.extend(key.encrypt_at(event.as_bytes(), NOW).into_bytes());
        frames.extend(b"\r\n");
    }
    put(seed(medium(16 * 1024), &[128, 17, 255], &frames));
    put(seed(medium(150), &[254], &frames));
    let mut huge = Writer::new();
    huge.u8(250).u64(1 << 40);
    put(seed(huge, &[33], b"no limit to speak of\n"));
}

fn token_decrypt() {
    let dir = target_dir("token_decrypt");
    let key = key();
    let mut n = 0;
    let mut put = |bytes: Vec<u8>| {
        write(&dir, &format!("seed-{n:02}"), &bytes);
        n += 1;
    };
    let raw = |frame: &[u8]| {
        let mut w = Writer::new();
        w.u8(0).bytes(frame);
        w.out
    };
    // The Fernet specification's vectors and PROTOCOL.md's worked example.
    for token in fixture_strings("generate.json", "token")
        .into_iter()
        .chain(fixture_strings("invalid.json", "token"))
    {
        put(raw(token.as_bytes()));
    }
    put(raw(b"gAAAAABpIXPAAAECAwQFBgcICQoLDA0OD8NZ8aRCRv7GyeS1CAYXVJn21D4T6PPw0zl1YpzTGG73puPDnxa0w8AQt5H67MYs2DZBTSTNS3seBD0m00tq0ZvV0YsCM4tqKy4AB6Z27r4i7GGIuEVOKVIsqyO6G-gZpQ=="));
    // Our own tokens, one without padding, one from another key, and not tokens at all.
    let token = key.encrypt_at(EXAMPLES[0].as_bytes(), NOW);
    put(raw(token.as_bytes()));
    put(raw(token.trim_end_matches('=').as_bytes()));
    put(raw(other_key()
        .encrypt_at(b"{\"type\":\"who\"}", NOW)
        .as_bytes()));
    put(raw(key.encrypt_at(b"x", u64::MAX - 60).as_bytes()));
    put(raw(b"!fernchat wrong-key server-fingerprint=6895-B5E5-9608-FE14 the server could not decrypt your first message; use the class keyfile"));
    put(raw(b"gAAAAA"));
    // Structured: TIMESTAMP, NOW, TTL, GRACE, OFFSET, PLAINTEXT_SEL [, LEN, BYTES], damages.
    let structured = |ts: u64, now: u64, ttl: u64, grace: u64, offset: i64, event: u8| {
        let mut w = Writer::new();
        w.u8(1)
            .u64(ts)
            .u64(now)
            .u64(ttl)
            .u64(grace)
            .u64(offset as u64)
            .u8(event);
        w
    };
    for (ts, now) in [
        (NOW, NOW),
        (NOW + 600, NOW),
        (NOW - 601, NOW),
        (0, 0),
        (u64::MAX - 60, u64::MAX),
        (u64::MAX, NOW),
    ] {
        put(structured(ts, now, 60, 60, 0, 0).out);
    }
    put(structured(NOW - 61, NOW, 60, 60, 0, 1).out);
    put(structured(NOW + 61, NOW, 60, 60, 0, 3).out);
    put(structured(NOW, NOW, u64::MAX, u64::MAX, i64::MIN, 4).out);
    let mut w = structured(NOW, NOW, 60, 60, 600, 200);
    w.short_bytes(b"{\"type\":\"ping\",\"id\":7}");
    put(w.out);
    // Damages: a bit flip, a cut, padding, a timestamp change.
    for (kind, at, value) in [
        (0u8, 40u16, 3u8),
        (1, 30, 0),
        (3, 200, 0),
        (6, 0, 2),
        (7, 5, 0),
    ] {
        let mut w = structured(NOW, NOW, 60, 60, 0, 1);
        w.u8(kind).u16(at).u8(value);
        put(w.out);
    }
}

fn event_decoder() {
    let dir = target_dir("event_decoder");
    for (n, example) in EXAMPLES.iter().enumerate() {
        write(&dir, &format!("seed-{n:02}"), example.as_bytes());
    }
}

fn keyfile() {
    let dir = target_dir("keyfile");
    let scratch = tempfile::tempdir().expect("temporary folder");
    let key = key();
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        write(&dir, &format!("seed-{n:02}"), bytes);
        n += 1;
    };
    let plain = scratch.path().join("plain.key");
    keyfile::write_plain(&plain, &key, Overwrite::Never).expect("write");
    let plain = fs::read(&plain).expect("read");
    put(&plain);
    put(format!("{KEY}\n").as_bytes());
    put(format!("  {}  \r\n", KEY.trim_end_matches('=')).as_bytes());
    put(format!("\u{feff}{KEY}\r\n").as_bytes());
    put(b"# only a comment\n\n");
    put(format!("{KEY}\n# x\n{KEY}\n").as_bytes());
    put(b"not a key\n");
    put(b"\xff\xfe\x00k\x00e\x00y\n");
    // Sealed under the fixed passphrase with the cheapest accepted parameters, so the fuzzer
    // reaches a sealed key that opens; then the malformed lines of tests/keyfile.rs.
    let cheap = SealParams {
        log_n: 10,
        r: 1,
        p: 1,
    };
    let sealed = scratch.path().join("sealed.key");
    keyfile::write_sealed(&sealed, &key, PASSPHRASE, cheap, Overwrite::Never).expect("seal");
    let sealed = String::from_utf8(fs::read(&sealed).expect("read")).expect("UTF-8");
    put(sealed.as_bytes());
    let line = sealed
        .lines()
        .find(|l| l.starts_with("fernchat-sealed:"))
        .expect("a sealed line");
    let fields: Vec<&str> = line.split(':').collect();
    let with = |index: usize, value: &str| {
        let mut f = fields.clone();
        f[index] = value;
        f.join(":") + "\n"
    };
    let half = &fields[7][..fields[7].len() / 2];
    for broken in [
        "fernchat-sealed\n".to_owned(),
        fields[..7].join(":") + "\n",
        format!("{line}:extra\n"),
        with(1, "v2"),
        with(2, "argon2id"),
        with(3, "seventeen"),
        with(3, "64"),
        with(3, "22"),
        with(4, "8x"),
        with(4, "4294967296"),
        with(5, "-1"),
        with(5, "16"),
        with(6, "not base64!"),
        with(7, half),
        with(7, ""),
        format!("fernchat-sealedX:{}\n", fields[1..].join(":")),
    ] {
        put(broken.as_bytes());
    }
    // The committed interop fixture: OWASP cost, so it is parsed but never opened here.
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/interop/rust-sealed.key");
    put(&fs::read(fixture).expect("fixture"));
}

fn handshake() {
    let dir = target_dir("handshake");
    // POLICY, then steps: OP (low nibble % 11 = kind, high nibble % 4 = connection).
    let fresh = |w: &mut Writer, conn: u8, delta: i16, event: u8| {
        w.u8(3 | (conn << 4)).u16(delta as u16).u8(event);
    };
    let mut n = 0;
    let mut put = |w: &Writer| {
        write(&dir, &format!("seed-{n:02}"), &w.out);
        n += 1;
    };
    // A hello, then chat.
    let mut w = Writer::new();
    w.u8(0);
    fresh(&mut w, 0, 0, 0);
    fresh(&mut w, 0, 1, 3);
    w.u8(0).u16(5);
    fresh(&mut w, 0, 0, 6);
    put(&w);
    // A replay on the same connection, with other padding, on another connection.
    let mut w = Writer::new();
    w.u8(0);
    fresh(&mut w, 0, 0, 0);
    w.u8(5).u8(0).u8(6).u8(0).u8(5 | (1 << 4)).u8(0);
    put(&w);
    // Clocks 600 s ahead and 601 s behind; then a token judged by the measured offset.
    let mut w = Writer::new();
    w.u8(0);
    fresh(&mut w, 0, 600, 0);
    fresh(&mut w, 0, 661, 3);
    fresh(&mut w, 1, -601, 1);
    fresh(&mut w, 1, -600, 1);
    put(&w);
    // Expired and from the future, at the limits.
    let mut w = Writer::new();
    w.u8(0);
    fresh(&mut w, 0, 0, 0);
    fresh(&mut w, 0, -60, 3);
    fresh(&mut w, 0, -61, 3);
    fresh(&mut w, 0, 60, 3);
    fresh(&mut w, 0, 61, 3);
    put(&w);
    // A replay at the very end of the window (tests/protocol.rs), on a new connection.
    let mut w = Writer::new();
    w.u8(0);
    fresh(&mut w, 0, 0, 0);
    w.u8(0).u16(1320).u8(10 | (1 << 4)).u8(5 | (1 << 4)).u8(0);
    put(&w);
    // Damage, garbage, another key; a guard of capacity 1 that fills up.
    let mut w = Writer::new();
    w.u8(1 << 5);
    fresh(&mut w, 0, 0, 0);
    w.u8(7).u8(0).u16(20).u8(1);
    w.u8(8).short_bytes(b"gAAAAABpIXPA");
    w.u8(9).u16(0);
    fresh(&mut w, 1, 0, 1);
    put(&w);
    // A timestamp far away, with an unbounded TTL.
    let mut w = Writer::new();
    w.u8(6);
    w.u8(3).u16(i16::MIN as u16).u64(u64::MAX - 60).u8(0);
    w.u8(1).u32(u32::MAX);
    fresh(&mut w, 2, 0, 0);
    put(&w);
}

fn main() {
    frame_reader();
    token_decrypt();
    event_decoder();
    keyfile();
    handshake();
    println!("seeds written to {}/seeds", env!("CARGO_MANIFEST_DIR"));
}
