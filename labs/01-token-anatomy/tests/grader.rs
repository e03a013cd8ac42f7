//! Lab 1's grader. Do not edit: your work is graded with the original.
//!
//! Inputs come from the Fernet specification, PROTOCOL.md, and tokens made at test time from
//! `labkit::rng::SEEDS`. Every "must refuse" is paired with a "must accept" of an input that
//! differs only in the rule being tested.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use fernchat::crypto::RoomKey;
use hmac::{Hmac, Mac};
use lab01::{KeyError, KeyHalves, ParseError, Token, compute_hmac, parse_token, split_key};
use labkit::rng::{SEEDS, SeededRng};
use sha2::Sha256;

/// The Fernet specification's test key and token ("hello", made at 1985-10-26T01:20:00-07:00
/// with the IV 00 01 .. 0f).
const SPEC_KEY: &str = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=";
const SPEC_TOKEN: &str = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==";
const SPEC_TIME: u64 = 499_162_800;
const IV_0_TO_15: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// The worked example of PROTOCOL.md section 6.
const PROTOCOL_TOKEN: &str = "gAAAAABpIXPAAAECAwQFBgcICQoLDA0OD8NZ8aRCRv7GyeS1CAYXVJn21D4T6PPw0zl1YpzTGG73puPDnxa0w8AQt5H67MYs2DZBTSTNS3seBD0m00tq0ZvV0YsCM4tqKy4AB6Z27r4i7GGIuEVOKVIsqyO6G-gZpQ==";

/// A token built by the grader from known parts, with a correct HMAC under `signing`.
struct Built {
    text: String,
    token: Token,
}

fn hmac_of(signing: &[u8], bytes: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(signing).unwrap();
    mac.update(bytes);
    mac.finalize().into_bytes().into()
}

fn build(rng: &mut SeededRng, signing: &[u8; 16], blocks: usize) -> Built {
    let timestamp = rng.below(4_000_000_000);
    let iv: [u8; 16] = rng.bytes();
    let ciphertext = rng.vec(16 * blocks);
    let mut raw = vec![0x80];
    raw.extend_from_slice(&timestamp.to_be_bytes());
    raw.extend_from_slice(&iv);
    raw.extend_from_slice(&ciphertext);
    let hmac = hmac_of(signing, &raw);
    raw.extend_from_slice(&hmac);
    Built {
        text: URL_SAFE.encode(&raw),
        token: Token {
            version: 0x80,
            timestamp,
            iv,
            ciphertext,
            hmac,
        },
    }
}

fn raw_token(text: &str) -> Vec<u8> {
    URL_SAFE.decode(text).unwrap()
}

#[test]
fn the_specification_token_comes_apart_into_its_five_fields() {
    let raw = raw_token(SPEC_TOKEN);
    let token = parse_token(SPEC_TOKEN).expect("the specification's token is valid");
    assert_eq!(token.version, 0x80, "version");
    assert_eq!(
        token.timestamp, SPEC_TIME,
        "timestamp (1985-10-26T08:20:00Z)"
    );
    assert_eq!(token.iv, IV_0_TO_15, "IV");
    assert_eq!(
        token.ciphertext,
        raw[25..raw.len() - 32],
        "ciphertext: one block for \"hello\""
    );
    assert_eq!(
        token.hmac[..],
        raw[raw.len() - 32..],
        "HMAC: the last 32 bytes"
    );
}

#[test]
fn the_specification_key_splits_and_its_token_verifies() {
    let raw = URL_SAFE.decode(SPEC_KEY).unwrap();
    let halves = split_key(SPEC_KEY).expect("the specification's key is valid");
    assert_eq!(
        halves.signing[..],
        raw[..16],
        "the signing key is the first half"
    );
    assert_eq!(
        halves.encryption[..],
        raw[16..],
        "the encryption key is the second half"
    );
    let token = parse_token(SPEC_TOKEN).unwrap();
    assert_eq!(
        compute_hmac(&halves.signing, &token),
        token.hmac,
        "recomputed HMAC"
    );
}

#[test]
fn the_protocol_worked_example_is_read_the_same_way() {
    let token = parse_token(PROTOCOL_TOKEN).unwrap();
    assert_eq!(token.timestamp, 1_763_800_000);
    assert_eq!(token.iv, IV_0_TO_15);
    assert_eq!(token.ciphertext.len() % 16, 0);
    let halves = split_key(SPEC_KEY).unwrap();
    assert_eq!(compute_hmac(&halves.signing, &token), token.hmac);
}

#[test]
fn generated_tokens_parse_into_exactly_their_parts_with_or_without_padding() {
    for seed in SEEDS {
        let mut rng = SeededRng::new(seed);
        let signing: [u8; 16] = rng.bytes();
        for blocks in 1..=6 {
            let built = build(&mut rng, &signing, blocks);
            assert_eq!(
                parse_token(&built.text).as_ref(),
                Ok(&built.token),
                "seed {seed}, {blocks} blocks"
            );
            let unpadded = built.text.trim_end_matches('=');
            assert_eq!(
                parse_token(unpadded).as_ref(),
                Ok(&built.token),
                "seed {seed}, no padding"
            );
            let line = format!("{}\n", built.text);
            assert_eq!(
                parse_token(&line).as_ref(),
                Ok(&built.token),
                "seed {seed}, with a newline"
            );
        }
    }
}

#[test]
fn real_fernet_tokens_verify_under_their_key_and_not_under_another() {
    for seed in SEEDS {
        let mut rng = SeededRng::new(seed);
        let key_text = URL_SAFE.encode(rng.bytes::<32>());
        let other_text = URL_SAFE_NO_PAD.encode(rng.bytes::<32>());
        let key = RoomKey::from_secret(&key_text).unwrap();
        let ours = split_key(&key_text).unwrap();
        let theirs = split_key(&other_text).unwrap();
        for _ in 0..8 {
            let len = rng.below(70) as usize;
            let plaintext = rng.vec(len);
            let when = 1_700_000_000 + rng.below(100_000_000);
            let text = key.encrypt_at(&plaintext, when);
            let token = parse_token(&text).unwrap();
            assert_eq!(token.timestamp, when, "seed {seed}");
            assert_eq!(
                token.ciphertext.len(),
                (plaintext.len() / 16 + 1) * 16,
                "PKCS#7 padding"
            );
            assert_eq!(
                compute_hmac(&ours.signing, &token),
                token.hmac,
                "seed {seed}: right key"
            );
            assert_ne!(
                compute_hmac(&theirs.signing, &token),
                token.hmac,
                "seed {seed}: wrong key"
            );
            assert_ne!(
                compute_hmac(&ours.encryption, &token),
                token.hmac,
                "seed {seed}: wrong half"
            );
        }
    }
}

#[test]
fn the_hmac_covers_every_field_before_it() {
    for seed in SEEDS {
        let mut rng = SeededRng::new(seed);
        let signing: [u8; 16] = rng.bytes();
        let built = build(&mut rng, &signing, 2);
        assert_eq!(
            compute_hmac(&signing, &built.token),
            built.token.hmac,
            "seed {seed}: intact"
        );
        let mut changed = built.token.clone();
        changed.version = 0x81;
        assert_ne!(
            compute_hmac(&signing, &changed),
            built.token.hmac,
            "version"
        );
        let mut changed = built.token.clone();
        changed.timestamp ^= 1;
        assert_ne!(
            compute_hmac(&signing, &changed),
            built.token.hmac,
            "timestamp"
        );
        let mut changed = built.token.clone();
        changed.iv[15] ^= 0x80;
        assert_ne!(compute_hmac(&signing, &changed), built.token.hmac, "IV");
        let mut changed = built.token.clone();
        changed.ciphertext[31] ^= 1;
        assert_ne!(
            compute_hmac(&signing, &changed),
            built.token.hmac,
            "ciphertext"
        );
    }
}

#[test]
fn a_wrong_version_byte_is_refused_and_0x80_accepted() {
    for seed in SEEDS {
        let mut rng = SeededRng::new(seed);
        let signing = rng.bytes();
        let built = build(&mut rng, &signing, 1);
        assert!(parse_token(&built.text).is_ok(), "seed {seed}: 0x80");
        for found in [0x00, 0x7f, 0x81, 0xff, rng.below(128) as u8] {
            let mut raw = raw_token(&built.text);
            raw[0] = found;
            assert_eq!(
                parse_token(&URL_SAFE.encode(&raw)),
                Err(ParseError::BadVersion { found })
            );
        }
    }
}

#[test]
fn anything_shorter_than_73_bytes_is_refused_and_73_accepted() {
    for seed in SEEDS {
        let mut rng = SeededRng::new(seed);
        let signing = rng.bytes();
        let built = build(&mut rng, &signing, 1);
        let raw = raw_token(&built.text);
        assert_eq!(raw.len(), 73);
        assert_eq!(
            parse_token(&built.text).as_ref(),
            Ok(&built.token),
            "seed {seed}: 73 bytes"
        );
        for len in [0, 1, 9, 25, 57, 72, rng.below(73) as usize] {
            assert_eq!(
                parse_token(&URL_SAFE.encode(&raw[..len])),
                Err(ParseError::TooShort { len }),
                "seed {seed}: {len} bytes"
            );
        }
    }
}

#[test]
fn a_ciphertext_of_partial_blocks_is_refused_and_whole_blocks_accepted() {
    for seed in SEEDS {
        let mut rng = SeededRng::new(seed);
        let signing = rng.bytes();
        let built = build(&mut rng, &signing, 2);
        assert!(
            parse_token(&built.text).is_ok(),
            "seed {seed}: 32 bytes of ciphertext"
        );
        for extra in [1, 5, 15, 1 + rng.below(15) as usize] {
            let mut raw = raw_token(&built.text);
            raw.splice(25..25, rng.vec(extra));
            assert_eq!(
                parse_token(&URL_SAFE.encode(&raw)),
                Err(ParseError::NotBlockAligned { len: 32 + extra }),
                "seed {seed}: {extra} extra bytes"
            );
        }
    }
}

#[test]
fn only_url_safe_base64_is_accepted() {
    let mut checked = 0;
    for seed in SEEDS {
        let mut rng = SeededRng::new(seed);
        let signing = rng.bytes();
        for _ in 0..50 {
            let built = build(&mut rng, &signing, 1);
            // The standard alphabet writes '+' and '/' where URL-safe writes '-' and '_'.
            let standard = STANDARD.encode(raw_token(&built.text));
            if standard == built.text {
                continue;
            }
            assert_eq!(
                parse_token(&built.text).as_ref(),
                Ok(&built.token),
                "seed {seed}"
            );
            assert_eq!(
                parse_token(&standard),
                Err(ParseError::NotBase64),
                "standard alphabet"
            );
            checked += 1;
        }
        let built = build(&mut rng, &signing, 1);
        let mut broken = built.text.clone();
        broken.replace_range(10..11, "!");
        assert_eq!(
            parse_token(&broken),
            Err(ParseError::NotBase64),
            "a '!' inside"
        );
        assert_eq!(
            parse_token("not a token at all"),
            Err(ParseError::NotBase64)
        );
    }
    assert!(
        checked > 100,
        "the grader found too few tokens with '-' or '_' to test"
    );
}

#[test]
fn keys_of_32_bytes_split_and_other_lengths_are_refused() {
    for seed in SEEDS {
        let mut rng = SeededRng::new(seed);
        let raw: [u8; 32] = rng.bytes();
        let expected = KeyHalves {
            signing: raw[..16].try_into().unwrap(),
            encryption: raw[16..].try_into().unwrap(),
        };
        assert_eq!(
            split_key(&URL_SAFE.encode(raw)),
            Ok(expected.clone()),
            "seed {seed}"
        );
        assert_eq!(
            split_key(&URL_SAFE_NO_PAD.encode(raw)),
            Ok(expected),
            "no padding"
        );
        for len in [0, 16, 31, 33, 64] {
            assert_eq!(
                split_key(&URL_SAFE.encode(rng.vec(len))),
                Err(KeyError::WrongLength { len }),
                "seed {seed}: {len} bytes"
            );
        }
        assert_eq!(split_key("this is not a key!"), Err(KeyError::NotBase64));
    }
}
