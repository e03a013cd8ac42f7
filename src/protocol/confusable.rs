//! Look-alike nicks: `aIice` (capital i) while `alice` is online reads as alice in most fonts,
//! and a private message or a "joined" line from it fools people (issue 12 item 8).
//!
//! A nick's *skeleton* maps every group of characters that look alike in a typical terminal
//! font to one representative; two nicks with the same skeleton can be mistaken for one
//! another, so the server refuses a nick whose skeleton is held by someone else online. Nicks
//! are ASCII letters, digits, `_` and `-` (`crate::protocol::event::validate_nick`), so the
//! table is small (Unicode's confusables list, UTS #39, is the idea in full):
//!
//! | look alike                   | skeleton |
//! |------------------------------|----------|
//! | upper and lower case         | lower    |
//! | `I` `i` `l` `L` `1`          | `l`      |
//! | `O` `o` `0`                  | `o`      |
//! | `rn` and `m`, `vv` and `w`   | `m`, `w` |
//! | `-` and `_`                  | `_`      |
//!
//! `5` and `s`, `2` and `z`, `8` and `B` are left apart: they look different enough.
//!
//! This module owns the table and the index of online skeletons; the hub calls it from its
//! nick checks. It must not know about connections.

use std::collections::HashMap;

/// The skeleton of `nick`: look-alike characters replaced by one representative.
pub fn skeleton(nick: &str) -> String {
    let single: String = nick
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            'i' | '1' => 'l',
            '0' => 'o',
            '-' => '_',
            other => other,
        })
        .collect();
    // Pairs after single characters: `rn` is `m` whatever the case of r and n.
    single.replace("rn", "m").replace("vv", "w")
}

/// The skeletons of the nicks online, each with its holder's id: a nick is refused if its
/// skeleton is held by *another* id (changing one's own nick to a look-alike is fine).
#[derive(Debug, Default)]
pub struct Skeletons {
    held: HashMap<String, u64>,
}

impl Skeletons {
    /// No nicks yet.
    pub fn new() -> Skeletons {
        Skeletons::default()
    }

    /// The nick of someone else online that `nick` could be mistaken for, as its holder's id.
    pub fn clash(&self, nick: &str, except: u64) -> Option<u64> {
        self.held
            .get(&skeleton(nick))
            .copied()
            .filter(|&id| id != except)
    }

    /// `id` holds `nick` now.
    pub fn insert(&mut self, nick: &str, id: u64) {
        self.held.insert(skeleton(nick), id);
    }

    /// `id` no longer holds `nick` (left or renamed); another holder's entry is kept.
    pub fn remove(&mut self, nick: &str, id: u64) {
        let key = skeleton(nick);
        if self.held.get(&key) == Some(&id) {
            self.held.remove(&key);
        }
    }
}

/// The error text for a look-alike nick.
pub fn refusal(nick: &str, online: &str) -> String {
    format!(
        "the nick {nick} looks too much like {online}, who is online (I, l and 1, O and 0, rn \
         and m, - and _ look alike); choose a nick that reads differently"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_share_a_skeleton() {
        for (a, b) in [
            ("alice", "aIice"),
            ("alice", "a1ice"),
            ("alice", "ALICE"),
            ("bob", "b0b"),
            ("mike", "rnike"),
            ("will", "vviII"),
            ("jo_ann", "jo-ann"),
            ("Olli", "0111"),
        ] {
            assert_eq!(skeleton(a), skeleton(b), "{a} / {b}");
        }
        for (a, b) in [
            ("alice", "alicia"),
            ("bob", "rob"),
            ("sam", "5am"),
            ("ann", "anne"),
        ] {
            assert_ne!(skeleton(a), skeleton(b), "{a} / {b}");
        }
    }

    #[test]
    fn only_someone_elses_skeleton_clashes() {
        let mut online = Skeletons::new();
        online.insert("alice", 1);
        assert_eq!(online.clash("aIice", 2), Some(1));
        assert_eq!(online.clash("aIice", 1), None, "one's own look-alike");
        assert_eq!(online.clash("bob", 2), None);
        online.remove("alice", 2);
        assert_eq!(online.clash("aIice", 2), Some(1), "not 2's to remove");
        online.remove("ALICE", 1);
        assert_eq!(online.clash("aIice", 2), None);
    }
}
