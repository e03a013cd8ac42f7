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
//! ## `x25519-psk` and `x25519-psk-signed`: the same exchange, authenticated (labs 5 and 6)
//!
//! As Noise `NNpsk0` and WireGuard's optional pre-shared key do, the pre-shared key is mixed
//! into the derivation, and each side proves it derived the same keys before any chat message
//! (key confirmation). The `-signed` variant adds the server's long-term Ed25519 signature over
//! the transcript ([`crate::identity`]), which clients pin on first use:
//!
//! ```text
//! psk  = HKDF-SHA256(ikm = raw class key, salt = none, info = "fernchat psk v1", 32)
//! T    = SHA-256("fernchat handshake v1" || 0 || kex || 0 || nick || 0 || C || S || I)
//!                                                      I = server identity key, or empty
//! prk  = HKDF-Extract(salt = psk, ikm = X25519 shared secret)
//! client_to_server = HKDF-Expand(prk, "fernchat x25519-psk v1 client->server" || T, 32)
//! server_to_client = HKDF-Expand(prk, "fernchat x25519-psk v1 server->client" || T, 32)
//! confirm key K    = HKDF-Expand(prk, "fernchat x25519-psk v1 confirm" || T, 32)
//! welcome.kex_confirm = HMAC-SHA256(K, "server confirm" || T)
//! confirm.mac         = HMAC-SHA256(K, "client confirm" || T)   (the client's first frame)
//! welcome.kex_signature = Ed25519(identity, "fernchat x25519-psk-signed v1 signature" || T)
//! ```
//!
//! The PSK is derived from the class key under its own label, so it is never the Fernet key
//! itself: a program that merely holds the class key and runs the plain `x25519` derivation
//! (lab 4's proxy) ends up with other keys, and key confirmation catches it. Anyone who holds
//! the keyfile *and* knows this derivation can still sit in the middle of `x25519-psk`: the class
//! key proves membership, not identity. Only the signature proves which server answered.
//!
//! This module is pure: no sockets, no clock, no files. Randomness comes from the operating
//! system by default, or from a generator the caller injects (tests).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand_core::{CryptoRng, OsRng, RngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use x25519_dalek::{PublicKey, SharedSecret, StaticSecret};
use zeroize::Zeroizing;

use crate::crypto::RoomKey;

/// The `kex` value of a `hello` that asks for this exchange.
pub const KEX_X25519: &str = "x25519";

/// The `kex` of the exchange authenticated by the pre-shared key, with key confirmation (lab 5).
pub const KEX_X25519_PSK: &str = "x25519-psk";

/// The `kex` of [`KEX_X25519_PSK`] plus the server's signature over the transcript (lab 6).
pub const KEX_X25519_PSK_SIGNED: &str = "x25519-psk-signed";

/// Every key exchange this crate speaks, weakest first (`psk` is `crate::protocol::event::KEX_PSK`).
pub const ALL_KEX: [&str; 4] = ["psk", KEX_X25519, KEX_X25519_PSK, KEX_X25519_PSK_SIGNED];

/// Whether `kex` mixes in the pre-shared key and needs key confirmation.
pub fn is_confirmed(kex: &str) -> bool {
    kex == KEX_X25519_PSK || kex == KEX_X25519_PSK_SIGNED
}

/// The JSON field of `hello` (the client's) and `welcome` (the server's) that carries a public key.
pub const PUBLIC_FIELD: &str = "kex_public";

/// The `welcome` field with the server's key-confirmation MAC (`x25519-psk` and `-signed`).
pub const CONFIRM_FIELD: &str = "kex_confirm";
/// The `welcome` field with the server's Ed25519 identity key (`x25519-psk-signed`).
pub const IDENTITY_FIELD: &str = "kex_identity";
/// The `welcome` field with the server's signature over the transcript (`x25519-psk-signed`).
pub const SIGNATURE_FIELD: &str = "kex_signature";

/// HKDF `info` that turns the class key into the PSK. A label of its own, so the PSK is never
/// the Fernet key: holding the class key and knowing this label are both needed.
pub const PSK_INFO: &[u8] = b"fernchat psk v1";
/// The first field of the transcript hash: names the protocol, so no other hash collides.
pub const TRANSCRIPT_LABEL: &[u8] = b"fernchat handshake v1";
/// HKDF `info` label of the client-to-server key in the PSK exchanges (then the transcript).
pub const INFO_PSK_CLIENT_TO_SERVER: &[u8] = b"fernchat x25519-psk v1 client->server";
/// HKDF `info` label of the server-to-client key in the PSK exchanges.
pub const INFO_PSK_SERVER_TO_CLIENT: &[u8] = b"fernchat x25519-psk v1 server->client";
/// HKDF `info` label of the key-confirmation key.
pub const INFO_PSK_CONFIRM: &[u8] = b"fernchat x25519-psk v1 confirm";
/// What the server's confirmation MAC covers before the transcript. One label per side, so
/// the client cannot just echo the server's MAC back.
pub const CONFIRM_SERVER: &[u8] = b"server confirm";
/// What the client's confirmation MAC covers before the transcript.
pub const CONFIRM_CLIENT: &[u8] = b"client confirm";
/// What the server's identity key signs before the transcript: a signature made for this
/// protocol can never be passed off as one for another use of the same key.
pub const SIGNATURE_LABEL: &[u8] = b"fernchat x25519-psk-signed v1 signature";

/// HKDF `info` labels, one per direction. Each key gets its own label so the two keys are
/// independent: a frame the server sent can never verify as one the client sent (a reflection).
/// The version lets a future change of derivation make different keys instead of wrong ones.
/// Both labels have the same length, so `label || C || S` splits in exactly one way.
pub const INFO_CLIENT_TO_SERVER: &[u8] = b"fernchat x25519 v1 client->server";
/// See [`INFO_CLIENT_TO_SERVER`].
pub const INFO_SERVER_TO_CLIENT: &[u8] = b"fernchat x25519 v1 server->client";

/// HKDF `info` of the client-to-server key of a protocol-version-2 `psk` session.
pub const INFO_PSK_V2_CLIENT_TO_SERVER: &[u8] = b"fernchat psk v2 client->server";
/// HKDF `info` of the server-to-client key of a protocol-version-2 `psk` session.
pub const INFO_PSK_V2_SERVER_TO_CLIENT: &[u8] = b"fernchat psk v2 server->client";
/// What the server's identity signs before a refusal of an `x25519-psk-signed` hello.
pub const REFUSAL_LABEL: &[u8] = b"fernchat refusal v2";

/// A handshake nonce: 16 fresh random bytes from each side (`Nc` in the hello, `Ns` in the
/// handshake). Both go into the `psk` session keys, and the client's is echoed, so nothing
/// recorded on one connection can be accepted on another.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nonce(pub [u8; 16]);

impl fmt::Debug for Nonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Nonce({})", self.to_wire())
    }
}

impl Nonce {
    /// A fresh nonce from the operating system's generator.
    pub fn generate() -> Nonce {
        Nonce::from_rng(&mut OsRng)
    }

    /// A nonce from `rng` (tests inject a seeded one).
    pub fn from_rng<R: RngCore + CryptoRng>(rng: &mut R) -> Nonce {
        let mut bytes = [0u8; 16];
        rng.fill_bytes(&mut bytes);
        Nonce(bytes)
    }

    /// The JSON form: URL-safe base64 with padding (24 characters).
    pub fn to_wire(&self) -> String {
        URL_SAFE.encode(self.0)
    }

    /// Reads the JSON form (padding optional); `None` unless it is 16 bytes of base64.
    pub fn from_wire(text: &str) -> Option<Nonce> {
        let raw = URL_SAFE_NO_PAD
            .decode(text.trim().trim_end_matches('='))
            .ok()?;
        Some(Nonce(raw.as_slice().try_into().ok()?))
    }
}

/// The session keys of a protocol-version-2 `psk` session (PROTOCOL.md):
///
/// ```text
/// c2s = HKDF-SHA256(ikm = K, salt = Nc || Ns, info = "fernchat psk v2 client->server", 32)
/// s2c = HKDF-SHA256(ikm = K, salt = Nc || Ns, info = "fernchat psk v2 server->client", 32)
/// ```
///
/// `K` is the 32 raw bytes of the class key that opened the hello (the ring's encrypting key
/// of `key`). Fresh nonces from both sides make keys of this connection alone: a recorded
/// session opens under none of them, and a frame sealed for one direction never opens in the
/// other.
pub fn psk_session_keys(key: &RoomKey, client: &Nonce, server: &Nonce) -> DirectionKeys {
    let raw = key.raw_secret();
    let salt = [client.0, server.0].concat();
    let hkdf = Hkdf::<Sha256>::new(Some(&salt), raw.as_slice());
    let expand = |label: &[u8]| {
        let mut okm = Zeroizing::new([0u8; 32]);
        hkdf.expand(label, okm.as_mut())
            .expect("32 bytes is far below HKDF-SHA256's 8160-byte limit");
        fernet_key(&okm)
    };
    DirectionKeys {
        client_to_server: expand(INFO_PSK_V2_CLIENT_TO_SERVER),
        server_to_client: expand(INFO_PSK_V2_SERVER_TO_CLIENT),
    }
}

/// The bytes a server's identity signs to refuse an `x25519-psk-signed` hello:
/// `"fernchat refusal v2" || Nc || code || 0 || message`. The client's nonce makes it this
/// connection's refusal; the code and message are what the client will show.
pub fn refusal_to_be_signed(client: &Nonce, code: &str, message: &str) -> Vec<u8> {
    [
        REFUSAL_LABEL,
        &client.0,
        code.as_bytes(),
        &[0],
        message.as_bytes(),
    ]
    .concat()
}

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
    /// A confirmation MAC is not 32 bytes of URL-safe base64.
    #[error("the key-confirmation MAC is not 32 bytes of URL-safe base64")]
    BadConfirmation,
    /// The peer's confirmation MAC differs from ours: it derived other keys (another class key,
    /// or a man in the middle swapped a public key).
    #[error(
        "key confirmation failed: the other side derived different session keys (another class \
         key, or someone in the middle changed the handshake)"
    )]
    ConfirmationMismatch,
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

    /// The Diffie-Hellman step and the low-order check.
    fn shared(&self, peer: &PublicShare) -> Result<SharedSecret, KexError> {
        let shared = self.secret.diffie_hellman(&PublicKey::from(peer.0));
        // X25519 maps every point of small order to the all-zero output. Such a "shared
        // secret" is the same for every private key, so it is no secret: refuse it.
        // (`was_contributory` is a constant-time all-zero check.)
        if !shared.was_contributory() {
            return Err(KexError::LowOrder);
        }
        Ok(shared)
    }

    /// Completes an `x25519-psk` (or `-signed`) exchange: the Diffie-Hellman step, the
    /// low-order check, then HKDF with the PSK as salt and the transcript in every label.
    /// The result holds our session keys and both confirmation MACs.
    pub fn finish_psk(
        self,
        role: Role,
        peer: &PublicShare,
        psk: &Psk,
        transcript: &Transcript,
    ) -> Result<Confirming, KexError> {
        let shared = self.shared(peer)?;
        let keys = derive_psk(shared.as_bytes(), psk, transcript);
        let (send, receive, mine, theirs) = match role {
            Role::Client => (
                keys.client_to_server,
                keys.server_to_client,
                CONFIRM_CLIENT,
                CONFIRM_SERVER,
            ),
            Role::Server => (
                keys.server_to_client,
                keys.client_to_server,
                CONFIRM_SERVER,
                CONFIRM_CLIENT,
            ),
        };
        Ok(Confirming {
            keys: SessionKeys { send, receive },
            ours: confirmation_mac(&keys.confirm, mine, transcript),
            theirs: confirmation_mac(&keys.confirm, theirs, transcript),
        })
    }

    /// Completes the exchange with the peer's public key: the Diffie-Hellman step, the
    /// low-order check, then HKDF. `role` says which of the two keys we send with.
    pub fn finish(self, role: Role, peer: &PublicShare) -> Result<SessionKeys, KexError> {
        let shared = self.shared(peer)?;
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

/// The pre-shared key mixed into the `x25519-psk` exchanges: derived from the class key under
/// [`PSK_INFO`], never the class key itself. Wiped from memory when dropped.
pub struct Psk(Zeroizing<[u8; 32]>);

impl fmt::Debug for Psk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Psk(..)")
    }
}

impl Psk {
    /// The PSK of a class key (the ring's encrypting key: the one every client must hold).
    pub fn from_class_key(key: &RoomKey) -> Psk {
        let raw = Zeroizing::new(
            URL_SAFE
                .decode(key.expose_secret())
                .expect("a RoomKey's text is canonical URL-safe base64"),
        );
        let raw: &[u8; 32] = raw.as_slice().try_into().expect("a RoomKey holds 32 bytes");
        Psk::from_raw_class_key(raw)
    }

    /// The PSK of a class key given as its 32 raw bytes (test vectors).
    pub fn from_raw_class_key(raw: &[u8; 32]) -> Psk {
        let mut psk = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(None, raw)
            .expand(PSK_INFO, psk.as_mut())
            .expect("32 bytes is far below HKDF-SHA256's limit");
        Psk(psk)
    }

    /// The PSK's bytes, for a lab's grader to compare. Never print them.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

/// The transcript hash: everything both sides must agree on, hashed into 32 bytes that go into
/// every derived key, both confirmation MACs and the signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Transcript(pub [u8; 32]);

impl fmt::Debug for Transcript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Transcript({})", URL_SAFE.encode(self.0))
    }
}

impl Transcript {
    /// `SHA-256(TRANSCRIPT_LABEL || 0 || kex || 0 || nick || 0 || C || S || I)`. The kex name
    /// is in it so that a man in the middle cannot downgrade one exchange to another; the
    /// nick so that nobody can rename the hello; `I` (the server's identity key, signed mode
    /// only) so that a signature names the key that made it. Neither a kex name nor a valid
    /// nick contains a 0 byte, and the keys have fixed lengths: the encoding is unambiguous.
    pub fn new(
        kex: &str,
        nick: &str,
        client: &PublicShare,
        server: &PublicShare,
        identity: Option<&[u8; 32]>,
    ) -> Transcript {
        let mut hash = Sha256::new();
        hash.update(TRANSCRIPT_LABEL);
        hash.update([0]);
        hash.update(kex.as_bytes());
        hash.update([0]);
        hash.update(nick.as_bytes());
        hash.update([0]);
        hash.update(client.0);
        hash.update(server.0);
        if let Some(identity) = identity {
            hash.update(identity);
        }
        Transcript(hash.finalize().into())
    }

    /// The bytes an identity key signs: [`SIGNATURE_LABEL`] then the transcript.
    pub fn to_be_signed(&self) -> Vec<u8> {
        [SIGNATURE_LABEL, &self.0].concat()
    }
}

/// The keys of a PSK exchange, by direction, and the confirmation key.
pub struct PskKeys {
    /// Seals what the client sends.
    pub client_to_server: RoomKey,
    /// Seals what the server sends.
    pub server_to_client: RoomKey,
    /// Keys the two confirmation MACs; never used to seal anything.
    pub confirm: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for PskKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PskKeys")
            .field("client_to_server", &self.client_to_server)
            .field("server_to_client", &self.server_to_client)
            .finish_non_exhaustive()
    }
}

/// HKDF-SHA256 from a shared secret, the PSK and the transcript to the three keys of an
/// `x25519-psk` session. The PSK is the salt of HKDF-Extract (RFC 5869 allows a secret salt):
/// without it, the same shared secret gives unrelated keys.
pub fn derive_psk(shared: &[u8; 32], psk: &Psk, transcript: &Transcript) -> PskKeys {
    let hkdf = Hkdf::<Sha256>::new(Some(psk.0.as_slice()), shared);
    let expand = |label: &[u8]| {
        let info = [label, &transcript.0].concat();
        let mut okm = Zeroizing::new([0u8; 32]);
        hkdf.expand(&info, okm.as_mut())
            .expect("32 bytes is far below HKDF-SHA256's 8160-byte limit");
        okm
    };
    PskKeys {
        client_to_server: fernet_key(&expand(INFO_PSK_CLIENT_TO_SERVER)),
        server_to_client: fernet_key(&expand(INFO_PSK_SERVER_TO_CLIENT)),
        confirm: expand(INFO_PSK_CONFIRM),
    }
}

/// `HMAC-SHA256(key, side || transcript)`: one side's proof that it derived the keys.
pub fn confirmation_mac(key: &[u8; 32], side: &[u8], transcript: &Transcript) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(side);
    mac.update(&transcript.0);
    mac.finalize().into_bytes().into()
}

/// A finished PSK exchange whose peer has not yet proved it holds the same keys.
pub struct Confirming {
    /// Our session keys. Use them only once [`Confirming::check`] has passed.
    pub keys: SessionKeys,
    ours: [u8; 32],
    theirs: [u8; 32],
}

impl fmt::Debug for Confirming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Confirming")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl Confirming {
    /// Our confirmation MAC as it travels (URL-safe base64 with padding).
    pub fn ours_wire(&self) -> String {
        URL_SAFE.encode(self.ours)
    }

    /// Checks the peer's confirmation MAC (as it travels), in constant time: a comparison that
    /// stopped at the first wrong byte would tell an attacker, by its timing, how many leading
    /// bytes of a forged MAC were right.
    pub fn check(&self, theirs_wire: &str) -> Result<(), KexError> {
        let raw = URL_SAFE_NO_PAD
            .decode(theirs_wire.trim().trim_end_matches('='))
            .map_err(|_| KexError::BadConfirmation)?;
        if raw.len() != 32 {
            return Err(KexError::BadConfirmation);
        }
        if bool::from(raw.as_slice().ct_eq(&self.theirs)) {
            Ok(())
        } else {
            Err(KexError::ConfirmationMismatch)
        }
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

    fn hexn<const N: usize>(text: &str) -> [u8; N] {
        let mut out = [0u8; N];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    /// The PSK exchanges' known answer, computed independently with Python's `cryptography`
    /// (the snippet in PROTOCOL.md section 7): the Fernet specification's key as the class key,
    /// RFC 7748's Alice as the client and Bob as the server, nick `alice`, and RFC 8032's test
    /// 1 key as the server's identity.
    #[test]
    fn psk_exchange_known_answer() {
        let class_key =
            RoomKey::from_secret("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap();
        let psk = Psk::from_class_key(&class_key);
        assert_eq!(
            psk.expose(),
            &hexn::<32>("bbcf5d11c86f95ec1b0a2fa0deca6e2f69091338721d850c96132d892fc8fd85")
        );
        let client_secret =
            hex32("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let server_secret =
            hex32("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        let identity = crate::identity::ServerIdentity::from_seed(&hex32(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        ));
        let identity_key = identity.public();
        assert_eq!(
            identity_key.to_wire(),
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo="
        );
        let cases = [
            (
                KEX_X25519_PSK,
                None,
                "a9dde92905ec26aaab8510c757109bfaa5a49c4161a53418cf6ea92b8e6b3aa2",
                "tlhlPwhCgylIMfgQTNRY_C-7uAf13RthD44_MPsYSdY=",
                "lh-UVkU8Ns3kJF6qmcxXPyd3aq6VKIMROCmbkTkdlkI=",
                "Pm_uk02tqgNkXOWe0lyOm2DcIo34YbpRQvCaYpxpcl0=",
                "HTXC37jX9GiGJ_HnTJnZfZFdbXOOFCbQSNz77s1zZVs=",
            ),
            (
                KEX_X25519_PSK_SIGNED,
                Some(&identity_key.0),
                "1ba7ce2d4521fea98f6abea182286ce20d910e8281736ff8b29a6c381fed7568",
                "G77582W90WImdprfKsZh_HDesboV2Id1yIhZBOCj09o=",
                "crY4lXcZPHP4_TytaQnCwN7B6QzTlKQOe6tAl88uOG0=",
                "qK9Ui-wHZlpNoT4LpLL_Rw8gD2ffmh1WB66i5sIoAOU=",
                "S7v0tzQOpnMfasYUPhAa9_sn3-eCHwf5TbAJ4_PwiOk=",
            ),
        ];
        for (kex, identity_bytes, t, c2s, s2c, server_confirm, client_confirm) in cases {
            let client = Ephemeral::from_bytes(client_secret);
            let server = Ephemeral::from_bytes(server_secret);
            let (c, s) = (client.public(), server.public());
            let transcript = Transcript::new(kex, "alice", &c, &s, identity_bytes);
            assert_eq!(transcript.0, hexn::<32>(t), "{kex}: transcript");
            let on_client = client
                .finish_psk(Role::Client, &s, &psk, &transcript)
                .unwrap();
            let on_server = server
                .finish_psk(Role::Server, &c, &psk, &transcript)
                .unwrap();
            assert_eq!(on_client.keys.send.expose_secret(), c2s, "{kex}");
            assert_eq!(on_client.keys.receive.expose_secret(), s2c, "{kex}");
            assert_eq!(on_server.keys.send.expose_secret(), s2c, "{kex}");
            assert_eq!(on_server.keys.receive.expose_secret(), c2s, "{kex}");
            assert_eq!(
                on_server.ours_wire(),
                server_confirm,
                "{kex}: server confirm"
            );
            assert_eq!(
                on_client.ours_wire(),
                client_confirm,
                "{kex}: client confirm"
            );
            assert_eq!(on_client.check(server_confirm), Ok(()));
            assert_eq!(on_server.check(client_confirm), Ok(()));
            // Each side's MAC is its own: echoing the other's back does not confirm.
            assert_eq!(
                on_server.check(server_confirm),
                Err(KexError::ConfirmationMismatch)
            );
        }
        let signed = Transcript::new(
            KEX_X25519_PSK_SIGNED,
            "alice",
            &Ephemeral::from_bytes(client_secret).public(),
            &Ephemeral::from_bytes(server_secret).public(),
            Some(&identity_key.0),
        );
        // Ed25519 is deterministic, so the signature is a known answer too.
        let signature = identity.sign(&signed);
        assert_eq!(
            signature,
            "6WKuh_JM8RY6slDVIY0xT3dtttENnolCiQ5UUkvccfmNU3_8sNLZJBB63uhn6NWQtIaGESg_5FtAxcSFiEWLAA=="
        );
        assert!(identity_key.verify(&signed, &signature).is_ok());
    }

    /// Protocol version 2's `psk` session keys and a signed refusal, computed independently
    /// with Python's `cryptography` (the snippet in PROTOCOL.md section 3): the Fernet
    /// specification's key as the class key, `Nc` = bytes 0..16, `Ns` = bytes 16..32, and
    /// RFC 8032's test 1 key as the server's identity.
    #[test]
    fn psk_v2_session_keys_known_answer() {
        let class_key =
            RoomKey::from_secret("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=").unwrap();
        let mut counting = [0u8; 32];
        for (i, byte) in counting.iter_mut().enumerate() {
            *byte = i as u8;
        }
        let client = Nonce(counting[..16].try_into().unwrap());
        let server = Nonce(counting[16..].try_into().unwrap());
        assert_eq!(client.to_wire(), "AAECAwQFBgcICQoLDA0ODw==");
        assert_eq!(server.to_wire(), "EBESExQVFhcYGRobHB0eHw==");
        assert_eq!(Nonce::from_wire("AAECAwQFBgcICQoLDA0ODw"), Some(client));
        assert_eq!(Nonce::from_wire("AAAA"), None);
        let keys = psk_session_keys(&class_key, &client, &server);
        assert_eq!(
            keys.client_to_server.expose_secret(),
            "HAFtz7Wlb95s4Fh4YbnQn2M6fE1G22F6gYoV4OQYIOw="
        );
        assert_eq!(
            keys.server_to_client.expose_secret(),
            "m4YsZmrSyqbfzq5f-GAYNi4Y6rv4RiDhjyuNhh1Bbf0="
        );
        // PROTOCOL.md's worked example: the hello under K, the confirm under c2s.
        let hello = class_key
            .decrypt(b"gAAAAABpIXPAAAECAwQFBgcICQoLDA0OD8NZ8aRCRv7GyeS1CAYXVJn21D4T6PPw0zl1YpzTGG73iN3J-Se_N051MRlr5_KZ1jC3_hnYREpv8sXDJRChc7EvLF-Kv7ojhxKzaSmsRouivt8AgYGr0T8DZaJ_E_wVf8Zrn2FcBVGu93TrC_0gCYBEeis0tL-felTRNyxAZFwI")
            .unwrap();
        assert_eq!(
            hello.plaintext,
            br#"{"type":"hello","nick":"alice","version":2,"kex":"psk","nonce":"AAECAwQFBgcICQoLDA0ODw=="}"#
        );
        let confirm = keys
            .client_to_server
            .decrypt(b"gAAAAABpIXPBEBESExQVFhcYGRobHB0eHy4F3DTXGejYFH63R_ObBAq6cfCK_eYbPtRKFrDjoJ6LY6ZizXZfomiTO1urwbUaF9IxSs7rLVF7XLDbcObvaFY=")
            .unwrap();
        assert_eq!(confirm.plaintext, br#"{"type":"confirm"}"#);
        assert!(
            keys.server_to_client
                .decrypt(b"gAAAAABpIXPBEBESExQVFhcYGRobHB0eHy4F3DTXGejYFH63R_ObBAq6cfCK_eYbPtRKFrDjoJ6LY6ZizXZfomiTO1urwbUaF9IxSs7rLVF7XLDbcObvaFY=")
                .is_err(),
            "a frame for one direction never opens in the other"
        );
        // Either nonce changed, other keys: nothing recorded on another connection opens.
        let again = psk_session_keys(&class_key, &client, &client);
        assert_ne!(
            again.server_to_client.expose_secret(),
            keys.server_to_client.expose_secret()
        );
        let identity = crate::identity::ServerIdentity::from_seed(&hex32(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        ));
        let message = "this server offers the key exchanges \"x25519-psk-signed\"";
        let signature = identity.sign_refusal(&client, "kex_unsupported", message);
        assert_eq!(
            signature,
            "S-Q_j4KFvgewYpWHZvqpUUMa8Wr-I5nIo3k5T-CR-rI-6YmTOpyPIqpthEXLQWhwEKy3SJkrMK2iNkdWCPYvCQ=="
        );
        let public = identity.public();
        assert!(
            public
                .verify_refusal(&client, "kex_unsupported", message, &signature)
                .is_ok()
        );
        // Another connection's nonce, or another code: the signature does not verify.
        assert!(
            public
                .verify_refusal(&server, "kex_unsupported", message, &signature)
                .is_err()
        );
        assert!(
            public
                .verify_refusal(&client, "nick_taken", message, &signature)
                .is_err()
        );
    }

    #[test]
    fn the_psk_and_the_transcript_decide_the_keys() {
        let psk = Psk::from_class_key(&RoomKey::generate());
        let other_psk = Psk::from_class_key(&RoomKey::generate());
        let (c, s) = (PublicShare([1; 32]), PublicShare([2; 32]));
        let t = Transcript::new(KEX_X25519_PSK, "alice", &c, &s, None);
        let keys = derive_psk(&[3; 32], &psk, &t);
        // Another class key, another kex (a downgrade), another nick: other keys.
        let changed = [
            derive_psk(&[3; 32], &other_psk, &t),
            derive_psk(
                &[3; 32],
                &psk,
                &Transcript::new(KEX_X25519_PSK_SIGNED, "alice", &c, &s, None),
            ),
            derive_psk(
                &[3; 32],
                &psk,
                &Transcript::new(KEX_X25519_PSK, "mallory", &c, &s, None),
            ),
            derive_psk(
                &[3; 32],
                &psk,
                &Transcript::new(KEX_X25519_PSK, "alice", &s, &c, None),
            ),
        ];
        for other in &changed {
            assert_ne!(
                other.client_to_server.expose_secret(),
                keys.client_to_server.expose_secret()
            );
            assert_ne!(*other.confirm, *keys.confirm);
        }
        // The PSK exchange never gives the plain x25519 keys (what lab 4's proxy computes),
        // nor the class key itself.
        let plain = derive(&[3; 32], &c, &s);
        assert_ne!(
            plain.client_to_server.expose_secret(),
            keys.client_to_server.expose_secret()
        );
        assert_ne!(
            psk.expose().as_slice(),
            URL_SAFE
                .decode(RoomKey::generate().expose_secret())
                .unwrap()
                .as_slice()
        );
    }

    #[test]
    fn a_man_in_the_middle_without_the_psk_derivation_fails_confirmation() {
        let class_key = RoomKey::generate();
        let psk = Psk::from_class_key(&class_key);
        let client = Ephemeral::generate();
        let server = Ephemeral::generate();
        let (c, s) = (client.public(), server.public());
        // The middle swaps in its own key towards the client, and runs lab 4's derivation.
        let middle = Ephemeral::generate();
        let m = middle.public();
        let t_client = Transcript::new(KEX_X25519_PSK, "alice", &c, &m, None);
        let on_client = client
            .finish_psk(Role::Client, &m, &psk, &t_client)
            .unwrap();
        let forged = middle.finish(Role::Server, &c).unwrap();
        let fake_mac = confirmation_mac(&[0; 32], CONFIRM_SERVER, &t_client);
        assert_eq!(
            on_client.check(&URL_SAFE.encode(fake_mac)),
            Err(KexError::ConfirmationMismatch)
        );
        assert_ne!(
            forged.receive.expose_secret(),
            on_client.keys.send.expose_secret()
        );
        assert_eq!(on_client.check("!!"), Err(KexError::BadConfirmation));
        let _ = (server, s);
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
