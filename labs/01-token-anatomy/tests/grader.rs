//! Lab 1's grader. Do not edit: your work is graded with the original.
//!
//! Inputs come from the Fernet specification, PROTOCOL.md, and tokens made at test time from
//! this file's `SEEDS`. Every "must refuse" is paired with a "must accept" of an input that
//! differs only in the rule being tested.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use fernchat::crypto::RoomKey;
use hmac::{Hmac, Mac};
use lab01::{
    KeyError, KeyHalves, ParseError, Token, compute_hmac, parse_token, plaintext_len_range, redate,
    split_key,
};
use labkit::limit::{hex, within};
use labkit::rng::SeededRng;
use sha2::Sha256;

/// This grader's own seeds: every generated input comes from them. They live here, not in the
/// kit, so that nothing outside this file can change what the grader checks.
const SEEDS: [u64; 4] = [0x01_5eed, 7, 20_260_101, 0x9e37_79b9_7f4a_7c15];

/// Every test's time limit, in seconds: the reference takes a small fraction of it.
const LIMIT: u64 = 5;

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

/// The bytes an HMAC covers, rebuilt by the grader from a token's fields.
fn signed_bytes(token: &Token) -> Vec<u8> {
    let mut bytes = vec![token.version];
    bytes.extend_from_slice(&token.timestamp.to_be_bytes());
    bytes.extend_from_slice(&token.iv);
    bytes.extend_from_slice(&token.ciphertext);
    bytes
}

/// Checks `compute_hmac` against the HMAC the grader computes itself, never against the tag in
/// the token (a function that copies the tag would pass that), and says both in hex.
fn check_hmac(signing: &[u8; 16], token: &Token, what: &str) {
    let expected = hmac_of(signing, &signed_bytes(token));
    let got = compute_hmac(signing, token);
    assert!(
        got == expected,
        "{what}: compute_hmac returned {}, but HMAC-SHA256 of version, timestamp, IV and \
         ciphertext under that signing key is {}",
        hex(&got),
        hex(&expected)
    );
}

fn raw_token(text: &str) -> Vec<u8> {
    URL_SAFE.decode(text).unwrap()
}

#[test]
fn the_specification_token_comes_apart_into_its_five_fields() {
    within(LIMIT, || {
        let raw = raw_token(SPEC_TOKEN);
        let token = parse_token(SPEC_TOKEN).expect("the specification's token is valid");
        assert_eq!(token.version, 0x80, "version");
        assert_eq!(
            token.timestamp, SPEC_TIME,
            "timestamp (1985-10-26T08:20:00Z)"
        );
        assert!(
            token.iv == IV_0_TO_15,
            "IV: expected {}, got {}",
            hex(&IV_0_TO_15),
            hex(&token.iv)
        );
        assert_eq!(
            token.ciphertext,
            raw[25..raw.len() - 32],
            "ciphertext: one block for \"hello\""
        );
        assert!(
            token.hmac[..] == raw[raw.len() - 32..],
            "HMAC: expected the last 32 bytes, {}, got {}",
            hex(&raw[raw.len() - 32..]),
            hex(&token.hmac)
        );
    });
}

#[test]
fn the_specification_key_splits_and_its_token_verifies() {
    within(LIMIT, || {
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
        // A wrong key first: the answer must be that key's HMAC, not the tag in the token.
        check_hmac(
            &halves.encryption,
            &token,
            "the specification's token, encryption half",
        );
        check_hmac(
            &halves.signing,
            &token,
            "the specification's token, signing half",
        );
    });
}

#[test]
fn the_protocol_worked_example_is_read_the_same_way() {
    within(LIMIT, || {
        let token = parse_token(PROTOCOL_TOKEN).expect("PROTOCOL.md's worked example parses");
        assert!(
            token.timestamp == 1_763_800_000,
            "timestamp: expected 1763800000 (2025-11-22T08:26:40Z), got {}",
            token.timestamp
        );
        assert!(
            token.iv == IV_0_TO_15,
            "IV: expected {}, got {}",
            hex(&IV_0_TO_15),
            hex(&token.iv)
        );
        assert!(
            token.ciphertext.len().is_multiple_of(16),
            "ciphertext: {} bytes is not whole 16-byte blocks",
            token.ciphertext.len()
        );
        let halves = split_key(SPEC_KEY).expect("the specification's key is valid");
        check_hmac(&halves.signing, &token, "PROTOCOL.md's worked example");
        assert!(
            compute_hmac(&halves.signing, &token) == token.hmac,
            "PROTOCOL.md's worked example: the recomputed HMAC {} is not the token's tag {}",
            hex(&compute_hmac(&halves.signing, &token)),
            hex(&token.hmac)
        );
    });
}

#[test]
fn generated_tokens_parse_into_exactly_their_parts_with_or_without_padding() {
    within(LIMIT, || {
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
    });
}

#[test]
fn real_fernet_tokens_verify_under_their_key_and_not_under_another() {
    within(LIMIT, || {
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
                // Wrong keys first, each compared with its own HMAC.
                check_hmac(
                    &theirs.signing,
                    &token,
                    &format!("seed {seed}: another key"),
                );
                check_hmac(
                    &ours.encryption,
                    &token,
                    &format!("seed {seed}: the wrong half"),
                );
                check_hmac(
                    &ours.signing,
                    &token,
                    &format!("seed {seed}: the right key"),
                );
                assert!(
                    compute_hmac(&ours.signing, &token) == token.hmac,
                    "seed {seed}: under its own key the HMAC is the token's tag {}",
                    hex(&token.hmac)
                );
            }
        }
    });
}

#[test]
fn the_hmac_covers_every_field_before_it() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let signing: [u8; 16] = rng.bytes();
            let built = build(&mut rng, &signing, 2);
            // Changed copies first (they keep the original tag), then the intact token.
            let mut changed = built.token.clone();
            changed.version = 0x81;
            check_hmac(&signing, &changed, &format!("seed {seed}: version changed"));
            let mut changed = built.token.clone();
            changed.timestamp ^= 1;
            check_hmac(
                &signing,
                &changed,
                &format!("seed {seed}: timestamp changed"),
            );
            let mut changed = built.token.clone();
            changed.iv[15] ^= 0x80;
            check_hmac(&signing, &changed, &format!("seed {seed}: IV changed"));
            let mut changed = built.token.clone();
            changed.ciphertext[31] ^= 1;
            check_hmac(
                &signing,
                &changed,
                &format!("seed {seed}: ciphertext changed"),
            );
            check_hmac(&signing, &built.token, &format!("seed {seed}: intact"));
            assert!(
                compute_hmac(&signing, &built.token) == built.token.hmac,
                "seed {seed}: intact, the HMAC is the tag {}",
                hex(&built.token.hmac)
            );
        }
    });
}

#[test]
fn a_wrong_version_byte_is_refused_and_0x80_accepted() {
    within(LIMIT, || {
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
                    Err(ParseError::BadVersion { found }),
                    "seed {seed}: version byte 0x{found:02x} must be refused as BadVersion"
                );
            }
        }
    });
}

#[test]
fn anything_shorter_than_73_bytes_is_refused_and_73_accepted() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let signing = rng.bytes();
            let built = build(&mut rng, &signing, 1);
            let raw = raw_token(&built.text);
            assert_eq!(
                raw.len(),
                73,
                "the grader's own one-block token is 73 bytes"
            );
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
    });
}

#[test]
fn a_ciphertext_of_partial_blocks_is_refused_and_whole_blocks_accepted() {
    within(LIMIT, || {
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
    });
}

#[test]
fn only_url_safe_base64_is_accepted() {
    within(LIMIT, || {
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
                Err(ParseError::NotBase64),
                "\"not a token at all\" is not base64: expected Err(NotBase64)"
            );
        }
        assert!(
            checked > 100,
            "the grader found too few tokens with '-' or '_' to test"
        );
    });
}

#[test]
fn keys_of_32_bytes_split_and_other_lengths_are_refused() {
    within(LIMIT, || {
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
            assert_eq!(
                split_key("this is not a key!"),
                Err(KeyError::NotBase64),
                "\"this is not a key!\" is not base64: expected Err(NotBase64)"
            );
        }
    });
}

// Stretch part: tokens made by the grader with keys it never shows.

#[test]
fn stretch_the_plaintext_length_is_known_to_within_a_block_without_the_key() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let key = RoomKey::from_secret(&URL_SAFE.encode(rng.bytes::<32>())).unwrap();
            for _ in 0..20 {
                let len = rng.below(100) as usize;
                let token = key.encrypt(&rng.vec(len));
                let blocks = (len / 16 + 1) * 16;
                assert_eq!(
                    plaintext_len_range(&token),
                    Some((blocks - 16, blocks - 1)),
                    "seed {seed}: a plaintext of {len} bytes made {blocks} bytes of ciphertext"
                );
            }
        }
        assert_eq!(
            plaintext_len_range("not a token"),
            None,
            "\"not a token\" is no token: expected None"
        );
    });
}

#[test]
fn stretch_a_redated_token_carries_the_new_time_and_is_refused() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let key = RoomKey::from_secret(&URL_SAFE.encode(rng.bytes::<32>())).unwrap();
            let made = 1_700_000_000 + rng.below(100_000_000);
            let token = key.encrypt_at(rng.chat_line().as_bytes(), made);
            let later = made + 1 + rng.below(1_000_000);
            let redated = redate(&token, later).expect("a token can be re-dated");
            let raw = raw_token(&token);
            let new = URL_SAFE_NO_PAD
                .decode(redated.trim_end_matches('='))
                .expect("redate returns base64");
            assert_eq!(new.len(), raw.len(), "seed {seed}: the same length");
            assert!(
                new[1..9] == later.to_be_bytes() && new[..1] == raw[..1] && new[9..] == raw[9..],
                "seed {seed}: only the timestamp (bytes 1 to 8) changes, to {later}"
            );
            assert!(
                key.decrypt(redated.as_bytes()).is_err(),
                "seed {seed}: the key refuses it (the HMAC covers the timestamp)"
            );
        }
    });
}
