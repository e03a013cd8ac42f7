//! Key rotation: which keys of the ring are old, until when they are accepted, and what the
//! server says about it to the clients of an old key and to the log (issue 14 item 1).
//!
//! The ring's first key is the current one; every other key is old. Until the deadline
//! (`--key-until`, [`ServerConfig::old_keys_until`]) a client of an old key is served under
//! its key and told once, right after its welcome, that a new class key is in use. From the
//! deadline on, a hello under an old key is refused (`key_retired`) and the hub closes the
//! connections still open under one. Without a deadline, old keys are accepted until the
//! instructor drops them from `--key`.
//!
//! It also owns the server's wall clock ([`Clock`]), which tests set by hand so that no test
//! waits for a deadline.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::crypto::{Fingerprint, describe_secs};
use crate::server::ServerConfig;

pub use crate::server::moderation::Clock;

/// The rotation as one server sees it: its current key, its old ones, and their deadline.
#[derive(Debug, Clone)]
pub struct Rotation {
    current: Fingerprint,
    /// Every key of the ring with its index, the current one first.
    ring: Vec<Fingerprint>,
    /// Until when (Unix milliseconds) old keys are accepted; `None`: no deadline.
    until: Option<u64>,
}

impl Rotation {
    /// The rotation of `config`'s ring and deadline.
    pub fn of(config: &ServerConfig) -> Rotation {
        Rotation {
            current: config.key.fingerprint(),
            ring: config.key.fingerprints(),
            until: config.old_keys_until,
        }
    }

    /// Whether a hello under the key at `key_index` is refused at `now` (Unix milliseconds):
    /// an old key once its deadline has come.
    pub fn retired(&self, key_index: usize, now: u64) -> bool {
        self.is_old(key_index) && self.until.is_some_and(|until| now >= until)
    }

    /// Whether `key_index` (of the hello ring: the class ring, then the staff keys) is an old
    /// class key. A staff key (past the class ring) is never old: it is not rotated with it.
    pub fn is_old(&self, key_index: usize) -> bool {
        key_index != 0 && key_index < self.ring.len()
    }

    /// Whether the deadline has come at `now`.
    pub fn past_deadline(&self, now: u64) -> bool {
        self.ring.len() > 1 && self.until.is_some_and(|until| now >= until)
    }

    fn fingerprint(&self, key_index: usize) -> String {
        self.ring
            .get(key_index)
            .map_or_else(|| "?".to_owned(), Fingerprint::to_string)
    }

    /// The notice for a client that joined under the old key at `key_index` (none for the
    /// current key): the new key's fingerprint, and until when its own is accepted.
    pub fn notice(&self, key_index: usize, now: u64) -> Option<String> {
        if !self.is_old(key_index) {
            return None;
        }
        let until = match self.until {
            Some(until) => format!(
                "is accepted until {} ({})",
                rfc3339(until),
                from_now(until, now)
            ),
            None => "is still accepted, until the instructor stops accepting it".to_owned(),
        };
        Some(format!(
            "a new class key is in use (fingerprint {}); your key (fingerprint {}) {until}. \
             Get the new keyfile from your instructor",
            self.current,
            self.fingerprint(key_index)
        ))
    }

    /// The `key_retired` refusal of a hello under the old key at `key_index`: both
    /// fingerprints, so that even a client that does not know the code says what to do.
    pub fn refusal(&self, key_index: usize) -> String {
        format!(
            "the class key was replaced: the server's current key has fingerprint {}, and the \
             old key (fingerprint {}) was accepted until {}. Get the new keyfile from your \
             instructor",
            self.current,
            self.fingerprint(key_index),
            self.until.map_or_else(|| "now".to_owned(), rfc3339)
        )
    }

    /// The `bye` reason for a connection still open under an old key at the deadline.
    pub fn bye(&self, key_index: usize) -> String {
        format!(
            "the old class key (fingerprint {}) is no longer accepted since {}: the class now uses \
             the key with fingerprint {}. Get the new keyfile from your instructor, then reconnect",
            self.fingerprint(key_index),
            self.until.map_or_else(|| "now".to_owned(), rfc3339),
            self.current
        )
    }

    /// The log line at start for a ring of several keys (none for one key).
    pub fn plan(&self, now: u64) -> Option<String> {
        let old: Vec<String> = self.ring.iter().skip(1).map(|f| f.to_string()).collect();
        if old.is_empty() {
            return None;
        }
        let until = match self.until {
            Some(until) if now >= until => format!(
                "refused since {} (clients holding them are told to get the new keyfile)",
                rfc3339(until)
            ),
            Some(until) => format!(
                "accepted until {} ({}), then refused",
                rfc3339(until),
                from_now(until, now)
            ),
            None => "accepted with no deadline (set one with --key-until)".to_owned(),
        };
        Some(format!(
            "key rotation: current key {}; old key{} {} {until}",
            self.current,
            if old.len() > 1 { "s" } else { "" },
            old.join(", ")
        ))
    }
}

/// `unix_millis` as an RFC 3339 date-time in UTC (`2026-12-04T18:00:00Z`).
pub fn rfc3339(unix_millis: u64) -> String {
    i64::try_from(unix_millis)
        .ok()
        .and_then(DateTime::<Utc>::from_timestamp_millis)
        .map_or_else(
            || format!("{unix_millis} ms after 1970"),
            |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
        )
}

fn from_now(until: u64, now: u64) -> String {
    format!("in {}", describe_secs(until.saturating_sub(now) / 1000))
}

/// Parses `--key-until`: an RFC 3339 date-time (`2026-12-04T18:00:00Z`,
/// `2026-12-04T19:00:00+01:00`) or a duration from `start`: a whole number and one unit
/// among `s`, `m`, `h`, `d`, `w` (`7d`, `36h`, `90m`). Returns Unix milliseconds.
pub fn parse_key_until(text: &str, start: DateTime<Utc>) -> Result<u64, String> {
    let text = text.trim();
    let at = match DateTime::parse_from_rfc3339(text) {
        Ok(at) => at.with_timezone(&Utc),
        Err(_) => parse_duration(text)
            .and_then(|delta| start.checked_add_signed(delta))
            .ok_or_else(|| key_until_help(text))?,
    };
    u64::try_from(at.timestamp_millis()).map_err(|_| key_until_help(text))
}

fn parse_duration(text: &str) -> Option<chrono::TimeDelta> {
    let unit = text.chars().last()?;
    let number: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    if number < 0 {
        return None;
    }
    match unit {
        's' => chrono::TimeDelta::try_seconds(number),
        'm' => chrono::TimeDelta::try_minutes(number),
        'h' => chrono::TimeDelta::try_hours(number),
        'd' => chrono::TimeDelta::try_days(number),
        'w' => chrono::TimeDelta::try_weeks(number),
        _ => None,
    }
}

fn key_until_help(text: &str) -> String {
    format!(
        "{text:?} is neither a date-time nor a duration. Give an RFC 3339 date-time such as \
         2026-12-04T18:00:00Z (or with your offset, 2026-12-04T19:00:00+01:00), or a time \
         from the server's start such as 7d, 36h or 90m (units s, m, h, d, w)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::RoomKey;

    fn start() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-27T18:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn key_until_takes_a_date_time_or_a_duration_from_start() {
        let at = |t| parse_key_until(t, start()).map(rfc3339);
        assert_eq!(at("2026-12-04T18:00:00Z").unwrap(), "2026-12-04T18:00:00Z");
        assert_eq!(
            at("2026-12-04T19:00:00+01:00").unwrap(),
            "2026-12-04T18:00:00Z"
        );
        assert_eq!(at("7d").unwrap(), "2026-12-04T18:00:00Z");
        assert_eq!(at("36h").unwrap(), "2026-11-29T06:00:00Z");
        assert_eq!(at("90m").unwrap(), "2026-11-27T19:30:00Z");
        assert_eq!(at("1w").unwrap(), "2026-12-04T18:00:00Z");
    }

    #[test]
    fn a_bad_key_until_is_explained_with_examples() {
        for bad in [
            "tomorrow",
            "7",
            "7y",
            "-3d",
            "2026-12-04",
            "",
            "d",
            "99999999999999w",
        ] {
            let message = parse_key_until(bad, start()).unwrap_err();
            assert!(message.contains("2026-12-04T18:00:00Z"), "{message}");
            assert!(message.contains("7d"), "{message}");
        }
    }

    #[test]
    fn only_old_keys_retire_and_only_at_the_deadline() {
        let ring = RoomKey::ring(vec![RoomKey::generate(), RoomKey::generate()]).unwrap();
        let mut config = ServerConfig::new(ring);
        config.old_keys_until = Some(1_000_000);
        let rotation = Rotation::of(&config);
        assert!(!rotation.retired(1, 999_999));
        assert!(rotation.retired(1, 1_000_000));
        assert!(!rotation.retired(0, 2_000_000));
        config.old_keys_until = None;
        assert!(!Rotation::of(&config).retired(1, u64::MAX));
    }

    #[test]
    fn the_notice_and_the_plan_name_both_fingerprints_and_the_deadline() {
        let new = RoomKey::generate();
        let old = RoomKey::generate();
        let mut config = ServerConfig::new(RoomKey::ring(vec![new.clone(), old.clone()]).unwrap());
        config.old_keys_until = Some(1_796_407_200_000);
        let rotation = Rotation::of(&config);
        let now = 1_796_407_200_000 - 86_400_000 * 3;
        assert_eq!(rotation.notice(0, now), None);
        let notice = rotation.notice(1, now).unwrap();
        for part in [
            new.fingerprint().to_string(),
            old.fingerprint().to_string(),
            rfc3339(1_796_407_200_000),
            "in 3 days".to_owned(),
        ] {
            assert!(notice.contains(&part), "{notice} lacks {part}");
        }
        let plan = rotation.plan(now).unwrap();
        assert!(plan.contains(&new.fingerprint().to_string()), "{plan}");
        assert!(plan.contains(&old.fingerprint().to_string()), "{plan}");
        assert!(plan.contains(&rfc3339(1_796_407_200_000)), "{plan}");
        let one = ServerConfig::new(new);
        assert_eq!(Rotation::of(&one).plan(now), None);
    }
}
