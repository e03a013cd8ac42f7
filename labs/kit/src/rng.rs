//! A tiny seeded generator (SplitMix64) for graders.
//!
//! Graders must not use fixed inputs only (a lab could be written to pass exactly those) nor
//! unseeded randomness (a failure could not be reproduced). So each grader runs over seeds of
//! its own (a `SEEDS` constant in the grader file, not here: nothing a student may change can
//! change what a grader checks) and makes its inputs from them at test time.
//!
//! **Not cryptographic.** It implements `CryptoRng` only so that graders can inject it where a
//! key generator expects one, and check that the code under test really draws its secrets from
//! the generator it was given.

use rand_core::{CryptoRng, RngCore};

/// SplitMix64: one 64-bit state, a fixed increment, a mixing function. Fast and well spread.
#[derive(Debug, Clone)]
pub struct SeededRng(u64);

impl SeededRng {
    /// A generator that starts from `seed`.
    pub fn new(seed: u64) -> SeededRng {
        SeededRng(seed)
    }

    /// The next 64 bits.
    pub fn word(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound` > 0). The tiny modulo bias does not matter for tests.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.word() % bound
    }

    /// `N` random bytes.
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        self.fill_bytes(&mut out);
        out
    }

    /// `len` random bytes.
    pub fn vec(&mut self, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        self.fill_bytes(&mut out);
        out
    }

    /// A line someone might type in a class chat: 1 to 8 words, sometimes with accents or an
    /// emoji, so multi-byte UTF-8 is exercised too.
    pub fn chat_line(&mut self) -> String {
        const WORDS: &[&str] = &[
            "hi", "is", "the", "lab", "due", "friday", "who", "has", "key", "ready", "café",
            "naïve", "question", "about", "hmac", "nonce", "thanks", "🙂", "ok", "see", "you",
            "tomorrow", "room", "B12", "server", "down?", "works", "now",
        ];
        let count = 1 + self.below(8) as usize;
        let words: Vec<&str> = (0..count)
            .map(|_| WORDS[self.below(WORDS.len() as u64) as usize])
            .collect();
        words.join(" ")
    }

    /// A valid nick (a letter, then 1 to 9 letters or digits).
    pub fn nick(&mut self) -> String {
        const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
        const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut nick = String::new();
        nick.push(LETTERS[self.below(26) as usize] as char);
        for _ in 0..=self.below(9) {
            nick.push(ALNUM[self.below(36) as usize] as char);
        }
        nick
    }
}

impl RngCore for SeededRng {
    fn next_u32(&mut self) -> u32 {
        (self.word() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.word()
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let word = self.word().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

/// See the module documentation: a test-only claim.
impl CryptoRng for SeededRng {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_other_seed_other_stream() {
        let mut a = SeededRng::new(7);
        let mut b = SeededRng::new(7);
        let mut c = SeededRng::new(8);
        let (x, y, z): ([u8; 32], [u8; 32], [u8; 32]) = (a.bytes(), b.bytes(), c.bytes());
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert!(fernchat::protocol::event::validate_nick(&a.nick()).is_ok());
        assert!(fernchat::protocol::event::validate_text(&a.chat_line(), 2000).is_ok());
    }
}
