//! The `x25519` key exchange: fresh, per-session, per-direction Fernet keys from an ephemeral
//! Diffie-Hellman exchange (lab 3, "Ephemeral X25519 and HKDF"; PROTOCOL.md section 7).
//!
//! With the plain `psk` session every frame of every student uses the one class key, so anyone
//! who holds it reads everything, today and (from a recording) forever. Here each side makes a
//! throw-away X25519 key pair for one session, they swap public keys in `hello` and `welcome`,
//! and each derives the same two Fernet keys from the shared secret:
//!
//! ```text
//! client                                          server
//!   c = random scalar, C = X25519(c, 9)             s = random scalar, S = X25519(s, 9)
//!   -- hello {kex:"x25519", kex_public: C} ------>
//!   <----------- welcome {kex:"x25519", kex_public: S} --
//!   shared = X25519(c, S)                           shared = X25519(s, C)      (equal)
//!   refuse if shared is all zeros (a low-order point: the "secret" would be public)
//!   prk = HKDF-Extract(salt = none, ikm = shared)
//!   client_to_server = HKDF-Expand(prk, "fernchat x25519 v1 client->server" || C || S, 32)
//!   server_to_client = HKDF-Expand(prk, "fernchat x25519 v1 server->client" || C || S, 32)
//! ```
//!
//! Each 32-byte output is a Fernet key (16 bytes to sign, 16 to encrypt). The exchange is the
//! Noise framework's `NN` pattern: **neither side is authenticated** by it. A man in the middle
//! who can rewrite `hello` and `welcome` (any student: they are sealed with the class key) runs
//! one exchange with each side and reads everything; lab 4 does exactly that.
//!
//! This module is pure: no sockets, no clock. Randomness comes from the operating system by
//! default, or from a generator the caller injects (tests).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hkdf::Hkdf;
use rand_core::{CryptoRng, OsRng, RngCore};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::crypto::RoomKey;

/// The `kex` value of a `hello` that asks for this exchange.
pub const KEX_X25519: &str = "x25519";

/// The JSON field of `hello` (the client's) and `welcome` (the server's) that carries a public key.
pub const PUBLIC_FIELD: &str = "kex_public";

/// HKDF `info` labels, one per direction. Each key gets its own label so the two keys are
/// independent: a frame the server sent can never verify as one the client sent (a reflection).
/// The version lets a future change of derivation make different keys instead of wrong ones.
/// Both labels have the same length, so `label || C || S` splits in exactly one way.
pub const INFO_CLIENT_TO_SERVER: &[u8] = b"fernchat x25519 v1 client->server";
/// See [`INFO_CLIENT_TO_SERVER`].
pub const INFO_SERVER_TO_CLIENT: &[u8] = b"fernchat x25519 v1 server->client";

/// Which end of the exchange we are: it decides which derived key sends and which receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sent the `hello`.
    Client,
    /// Answered with the `welcome`.
    Server,
}

/// Why an exchange failed. Nothing here reveals a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KexError {
    /// The public key is not URL-safe base64.
    #[error("the {PUBLIC_FIELD} field is not URL-safe base64")]
    NotBase64,
    /// It decoded, but an X25519 public key is exactly 32 bytes.
    #[error("the {PUBLIC_FIELD} field decodes to {len} bytes; an X25519 public key is 32")]
    WrongLength {
        /// Decoded length.
        len: usize,
    },
    /// The peer's public key is a point of small order (or zero): the shared secret came out as
    /// all zeros, a value anyone can compute. Refused so that a peer or a man in the middle
    /// cannot force the session keys to known values.
    #[error("the peer's public key is a low-order point; the shared secret would be public")]
    LowOrder,
}

/// An X25519 public key as it travels: 32 bytes, written in JSON as URL-safe base64 with `=`
/// padding (44 characters, the same shape as a Fernet key).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicShare(pub [u8; 32]);

impl PublicShare {
    /// The JSON form: URL-safe base64 with padding.
    pub fn to_wire(&self) -> String {
        URL_SAFE.encode(self.0)
    }

    /// Reads the JSON form; padding is optional and surrounding whitespace ignored, as for keys.
    pub fn from_wire(text: &str) -> Result<PublicShare, KexError> {
        let raw = URL_SAFE_NO_PAD
            .decode(text.trim().trim_end_matches('='))
            .map_err(|_| KexError::NotBase64)?;
        let bytes: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| KexError::WrongLength { len: raw.len() })?;
        Ok(PublicShare(bytes))
    }
}

impl fmt::Debug for PublicShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Public, so safe to show; the wire form is what people will compare.
        write!(f, "PublicShare({})", self.to_wire())
    }
}

/// One side's throw-away key pair for one session. [`Ephemeral::finish`] consumes it, so a
/// secret cannot be used for a second session by mistake; it is wiped from memory when dropped.
pub struct Ephemeral {
    secret: StaticSecret,
    public: PublicShare,
}

impl fmt::Debug for Ephemeral {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ephemeral")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl Ephemeral {
    /// A fresh key pair from the operating system's random generator.
    pub fn generate() -> Ephemeral {
        Ephemeral::from_rng(&mut OsRng)
    }

    /// A fresh key pair from `rng`. Tests inject a seeded generator here so that runs are
    /// repeatable; real code uses [`Ephemeral::generate`].
    pub fn from_rng<R: RngCore + CryptoRng>(rng: &mut R) -> Ephemeral {
        Ephemeral::from_secret(StaticSecret::random_from_rng(rng))
    }

    /// A key pair from known secret bytes (RFC 7748's test vectors). X25519 "clamps" the bytes
    /// (clears the low 3 bits and the top bit, sets bit 254), so any 32 bytes are a valid secret.
    pub fn from_bytes(secret: [u8; 32]) -> Ephemeral {
        Ephemeral::from_secret(StaticSecret::from(secret))
    }

    fn from_secret(secret: StaticSecret) -> Ephemeral {
        let public = PublicShare(PublicKey::from(&secret).to_bytes());
        Ephemeral { secret, public }
    }

    /// Our public key, to send to the peer.
    pub fn public(&self) -> PublicShare {
        self.public
    }

    /// Completes the exchange with the peer's public key: the Diffie-Hellman step, the
    /// low-order check, then HKDF. `role` says which of the two keys we send with.
    pub fn finish(self, role: Role, peer: &PublicShare) -> Result<SessionKeys, KexError> {
        let shared = self.secret.diffie_hellman(&PublicKey::from(peer.0));
        // X25519 maps every point of small order to the all-zero output. Such a "shared
        // secret" is the same for every private key, so it is no secret: refuse it.
        // (`was_contributory` is a constant-time all-zero check.)
        if !shared.was_contributory() {
            return Err(KexError::LowOrder);
        }
        let (client, server) = match role {
            Role::Client => (self.public, *peer),
            Role::Server => (*peer, self.public),
        };
        let keys = derive(shared.as_bytes(), &client, &server);
        Ok(match role {
            Role::Client => SessionKeys {
                send: keys.client_to_server,
                receive: keys.server_to_client,
            },
            Role::Server => SessionKeys {
                send: keys.server_to_client,
                receive: keys.client_to_server,
            },
        })
    }
}

/// The two keys of a session, named by direction.
#[derive(Debug, Clone)]
pub struct DirectionKeys {
    /// Seals what the client sends and the server receives.
    pub client_to_server: RoomKey,
    /// Seals what the server sends and the client receives.
    pub server_to_client: RoomKey,
}

/// The two keys of a session from one side's point of view.
#[derive(Debug, Clone)]
pub struct SessionKeys {
    /// Seals every frame we send after the handshake.
    pub send: RoomKey,
    /// Opens every frame we receive after the handshake.
    pub receive: RoomKey,
}

/// HKDF-SHA256 from a shared secret to the two direction keys. The transcript (both public
/// keys, client's first) goes into `info`, so the keys belong to this exchange only: a man in
/// the middle who substitutes a public key gets keys that differ from the ones each honest side
/// derives, even in the (impossible in practice) case that the shared secrets collided.
pub fn derive(shared: &[u8; 32], client: &PublicShare, server: &PublicShare) -> DirectionKeys {
    // Extract: the shared secret is a curve point's coordinate, not uniformly random bytes;
    // HKDF-Extract concentrates its entropy into a pseudorandom key.
    let hkdf = Hkdf::<Sha256>::new(None, shared);
    let expand = |label: &[u8]| {
        let mut info = Vec::with_capacity(label.len() + 64);
        info.extend_from_slice(label);
        info.extend_from_slice(&client.0);
        info.extend_from_slice(&server.0);
        let mut okm = Zeroizing::new([0u8; 32]);
        hkdf.expand(&info, okm.as_mut())
            .expect("32 bytes is far below HKDF-SHA256's 8160-byte limit");
        fernet_key(&okm)
    };
    DirectionKeys {
        client_to_server: expand(INFO_CLIENT_TO_SERVER),
        server_to_client: expand(INFO_SERVER_TO_CLIENT),
    }
}

/// 32 key bytes as a Fernet key (the first 16 sign, the last 16 encrypt).
fn fernet_key(raw: &[u8; 32]) -> RoomKey {
    let text = Zeroizing::new(URL_SAFE.encode(raw));
    RoomKey::from_secret(&text).expect("32 bytes of URL-safe base64 is a valid Fernet key")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex32(text: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    /// The X25519 function itself, as RFC 7748 defines it: scalar times u-coordinate.
    fn x25519(scalar: [u8; 32], u: [u8; 32]) -> [u8; 32] {
        x25519_dalek::x25519(scalar, u)
    }

    #[test]
    fn rfc7748_section_5_2_vectors() {
        assert_eq!(
            x25519(
                hex32("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
                hex32("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")
            ),
            hex32("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552")
        );
        assert_eq!(
            x25519(
                hex32("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
                hex32("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493")
            ),
            hex32("95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957")
        );
        // The iterated test: k, u = X25519(k, u), k; after 1 and 1000 rounds.
        let (mut k, mut u) = (
            x25519_dalek::X25519_BASEPOINT_BYTES,
            x25519_dalek::X25519_BASEPOINT_BYTES,
        );
        for round in 1..=1000 {
            let next = x25519(k, u);
            u = k;
            k = next;
            if round == 1 {
                assert_eq!(
                    k,
                    hex32("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079")
                );
            }
        }
        assert_eq!(
            k,
            hex32("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51")
        );
    }

    #[test]
    fn rfc7748_section_6_1_diffie_hellman() {
        let alice = Ephemeral::from_bytes(hex32(
            "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
        ));
        let bob = Ephemeral::from_bytes(hex32(
            "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
        ));
        assert_eq!(
            alice.public().0,
            hex32("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        );
        assert_eq!(
            bob.public().0,
            hex32("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        );
        let shared = hex32("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        let (a_pub, b_pub) = (alice.public(), bob.public());
        let expected = derive(&shared, &a_pub, &b_pub);
        let client = alice.finish(Role::Client, &b_pub).unwrap();
        let server = bob.finish(Role::Server, &a_pub).unwrap();
        assert_eq!(
            client.send.fingerprint(),
            expected.client_to_server.fingerprint()
        );
        assert_eq!(
            server.send.fingerprint(),
            expected.server_to_client.fingerprint()
        );
        // What one side seals, the other opens; never with the same key in both directions.
        let token = client.send.encrypt(b"hi");
        assert_eq!(
            server.receive.decrypt(token.as_bytes()).unwrap().plaintext,
            b"hi"
        );
        assert!(client.receive.decrypt(token.as_bytes()).is_err());
        let token = server.send.encrypt(b"welcome");
        assert_eq!(
            client.receive.decrypt(token.as_bytes()).unwrap().plaintext,
            b"welcome"
        );
        assert!(server.receive.decrypt(token.as_bytes()).is_err());
    }

    /// A known answer for the whole derivation, so another implementation (PROTOCOL.md has the
    /// Python) can check itself against this one byte for byte.
    #[test]
    fn derivation_known_answer() {
        let client = PublicShare([1; 32]);
        let server = PublicShare([2; 32]);
        let keys = derive(&[3; 32], &client, &server);
        assert_eq!(
            keys.client_to_server.expose_secret(),
            KNOWN_CLIENT_TO_SERVER,
            "client->server"
        );
        assert_eq!(
            keys.server_to_client.expose_secret(),
            KNOWN_SERVER_TO_CLIENT,
            "server->client"
        );
    }

    // Computed independently with Python's `cryptography` (the snippet in PROTOCOL.md).
    const KNOWN_CLIENT_TO_SERVER: &str = "GY0p5qUhkmeXv_nm4ZMNvrEWTb594sgVQV9WubfCPO0=";
    const KNOWN_SERVER_TO_CLIENT: &str = "-Nnd-VdJ8ChCSFsA5lBMXObvnfSuBBwzYoxndzSmPDI=";

    #[test]
    fn low_order_points_are_refused_and_ordinary_ones_accepted() {
        // The points of small order on Curve25519 (and their non-canonical encodings): u = 0,
        // u = 1, two points of order 8, and p - 1, p, p + 1 (which reduce to the same).
        let mut low = vec![[0u8; 32], {
            let mut one = [0u8; 32];
            one[0] = 1;
            one
        }];
        low.push(hex32(
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        ));
        low.push(hex32(
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        ));
        low.push(hex32(
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ));
        low.push(hex32(
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ));
        low.push(hex32(
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ));
        for (i, point) in low.iter().enumerate() {
            for role in [Role::Client, Role::Server] {
                let result = Ephemeral::generate().finish(role, &PublicShare(*point));
                assert_eq!(result.unwrap_err(), KexError::LowOrder, "point {i}");
            }
        }
        let honest = Ephemeral::generate().public();
        assert!(Ephemeral::generate().finish(Role::Client, &honest).is_ok());
    }

    #[test]
    fn every_session_gets_fresh_keys() {
        let server_side = Ephemeral::generate();
        let first = Ephemeral::generate();
        let second = Ephemeral::generate();
        assert_ne!(first.public(), second.public());
        let server_pub = server_side.public();
        let a = first.finish(Role::Client, &server_pub).unwrap();
        let b = second.finish(Role::Client, &server_pub).unwrap();
        assert_ne!(a.send.fingerprint(), b.send.fingerprint());
        assert_ne!(a.receive.fingerprint(), b.receive.fingerprint());
        assert_ne!(a.send.fingerprint(), a.receive.fingerprint());
    }

    /// A counter pretending to be a CSPRNG, so the test knows exactly what the secret is.
    struct Counter(u8);
    impl RngCore for Counter {
        fn next_u32(&mut self) -> u32 {
            rand_core::impls::next_u32_via_fill(self)
        }
        fn next_u64(&mut self) -> u64 {
            rand_core::impls::next_u64_via_fill(self)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for byte in dest {
                *byte = self.0;
                self.0 = self.0.wrapping_add(1);
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl CryptoRng for Counter {}

    #[test]
    fn an_injected_generator_is_the_only_source_of_randomness() {
        let mut expected = [0u8; 32];
        Counter(7).fill_bytes(&mut expected);
        assert_eq!(
            Ephemeral::from_rng(&mut Counter(7)).public(),
            Ephemeral::from_bytes(expected).public()
        );
        assert_ne!(
            Ephemeral::from_rng(&mut Counter(7)).public(),
            Ephemeral::from_rng(&mut Counter(8)).public()
        );
    }

    #[test]
    fn public_keys_on_the_wire() {
        let share = Ephemeral::generate().public();
        let text = share.to_wire();
        assert_eq!(text.len(), 44);
        assert!(text.ends_with('='));
        assert_eq!(PublicShare::from_wire(&text), Ok(share));
        assert_eq!(
            PublicShare::from_wire(text.trim_end_matches('=')),
            Ok(share)
        );
        assert_eq!(
            PublicShare::from_wire("not base64!"),
            Err(KexError::NotBase64)
        );
        assert_eq!(
            PublicShare::from_wire(&URL_SAFE.encode([0u8; 31])),
            Err(KexError::WrongLength { len: 31 })
        );
    }
}
