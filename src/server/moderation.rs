//! The room's moderation: mutes with an expiry, bans and kicks (a kick is a short ban, so it
//! sticks), quiet (exam) mode, slow mode, the topic and the latest announcement. Owned by the
//! hub thread, which asks it before letting anyone speak or join and tells it what staff
//! decided; it has no thread, lock or socket of its own, and its clock is handed in (`now`,
//! ms since the Unix epoch) so tests can move time.
//!
//! Who may *impose* a sanction is not decided here but in [`crate::server::policy`]; this module
//! keeps what was imposed, and saves it after every change through
//! [`crate::server::moderation_state`] (so it survives a restart).
//!
//! Rooms (issue 16): the topic, quiet and slow mode are per room (named by the caller);
//! sanctions and the latest announcement are server-wide (a sanction is on the person, so a
//! muted student cannot escape by `/join`).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::crypto::describe_secs;
use crate::protocol::ErrorCode;
use crate::protocol::event::DEFAULT_ROOM;
use crate::role::Role;
use crate::server::moderation_state::{
    self, Identity, Kind, Loaded, RoomModes, Sanction, SavedState, Stamped,
};

/// How long a kicked user may not come back by default (`--kick-wait` changes it; their
/// client waits that long, told in the `bye`, then rejoins by itself): long enough to end a
/// disruption, short enough that a kick by mistake costs a student two minutes.
pub const KICK_SECS: u64 = 120;

/// How long `/mute NICK` without minutes lasts.
pub const DEFAULT_MUTE_MINUTES: u64 = 10;

/// Slow mode remembers when each connection last spoke in a room; past this many it forgets
/// those whose wait is over, so the map stays bounded by the room.
const SLOW_MEMORY: usize = 1024;

/// The server's wall clock, in ms since the Unix epoch, for what it judges by the calendar
/// (mute and ban expiry, slow mode, the old keys' deadline): the system clock, or one a test
/// moves by hand.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> u64 + Send + Sync>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(crate::protocol::unix_millis))
    }

    /// A clock that reads `now` (tests).
    pub fn from_fn(now: impl Fn() -> u64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// A clock that shows `unix_millis` until [`ManualClock::set`] moves it (tests).
    pub fn manual(unix_millis: u64) -> ManualClock {
        let now = Arc::new(std::sync::atomic::AtomicU64::new(unix_millis));
        let read = Arc::clone(&now);
        ManualClock {
            clock: Clock::from_fn(move || read.load(std::sync::atomic::Ordering::SeqCst)),
            now,
        }
    }

    /// The time now, in ms since the Unix epoch.
    pub fn now(&self) -> u64 {
        (self.0)()
    }

    /// The same as [`Clock::now`].
    pub fn now_millis(&self) -> u64 {
        self.now()
    }
}

/// A [`Clock`] a test moves by hand; it derefs to the clock it drives.
#[derive(Clone)]
pub struct ManualClock {
    clock: Clock,
    now: Arc<std::sync::atomic::AtomicU64>,
}

impl ManualClock {
    /// Moves the clock (and every clone of it) to `unix_millis`.
    pub fn set(&self, unix_millis: u64) {
        self.now
            .store(unix_millis, std::sync::atomic::Ordering::SeqCst);
    }

    /// The clock to put in a `ServerConfig`.
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

/// "for 10 min", "until staff lift it": how long a sanction imposed now lasts.
pub fn lasting(until: Option<u64>, now: u64) -> String {
    match until {
        Some(until) => format!("for {}", span(until.saturating_sub(now).div_ceil(1000))),
        None => "until staff lift it".to_owned(),
    }
}

/// "for 9 min 12 s more", "until staff lift it": how long a sanction still lasts.
pub fn remaining(until: Option<u64>, now: u64) -> String {
    match until {
        Some(until) => format!(
            "for {} more",
            span(until.saturating_sub(now).div_ceil(1000))
        ),
        None => "until staff lift it".to_owned(),
    }
}

/// A duration for people: whole minutes as "5 min", anything else as [`describe_secs`] does.
fn span(secs: u64) -> String {
    if (60..7200).contains(&secs) && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        describe_secs(secs)
    }
}

/// The moderation state of the room.
#[derive(Debug)]
pub struct Moderation {
    state: SavedState,
    /// Where it is saved; `None`: kept in memory only (tests, `--no-history`).
    path: Option<PathBuf>,
    /// Slow mode: when each connection last said something, by room.
    last_spoke: HashMap<String, HashMap<u64, u64>>,
}

/// No topic, no modes: the state of a room staff never touched.
static UNTOUCHED: RoomModes = RoomModes {
    topic: None,
    quiet: false,
    slow_secs: 0,
};

impl Moderation {
    /// Loads the state from `path` (or starts fresh in memory). The string, if any, is for the
    /// server's log: what loading found.
    pub fn open(path: Option<PathBuf>) -> (Moderation, Option<String>) {
        let (state, report) = match &path {
            None => (SavedState::default(), None),
            Some(p) => match moderation_state::load(p) {
                Ok((state, Loaded::Fresh)) => (state, None),
                Ok((state, Loaded::Read)) => {
                    let line = format!(
                        "moderation {}: {} mutes/bans in force{}{}",
                        p.display(),
                        state.sanctions.len(),
                        if state.class.quiet {
                            ", quiet mode on"
                        } else {
                            ""
                        },
                        if state.class.slow_secs > 0 {
                            format!(", slow mode {} s", state.class.slow_secs)
                        } else {
                            String::new()
                        }
                    );
                    (state, Some(line))
                }
                Ok((state, Loaded::SetAside(aside, why))) => (
                    state,
                    Some(format!(
                        "moderation {}: could not read it ({why}); set it aside as {} and started \
                         with no mutes, bans or modes",
                        p.display(),
                        aside.display()
                    )),
                ),
                Err(e) => (
                    SavedState::default(),
                    Some(format!(
                        "moderation {}: cannot read it ({e}); starting with no mutes, bans or \
                         modes, and changes may not be saved: check the folder's permissions",
                        p.display()
                    )),
                ),
            },
        };
        let moderation = Moderation {
            state,
            path,
            last_spoke: HashMap::new(),
        };
        (moderation, report)
    }

    /// Saves the state (after each change). `Err` says why, for the log.
    fn save(&self) -> Result<(), String> {
        match &self.path {
            Some(path) => moderation_state::save(path, &self.state).map_err(|e| {
                format!(
                    "moderation {}: cannot save ({e}); the change holds until the server stops",
                    path.display()
                )
            }),
            None => Ok(()),
        }
    }

    /// Drops sanctions that have run out.
    fn expire(&mut self, now: u64) {
        self.state
            .sanctions
            .retain(|s| s.until.is_none_or(|until| until > now));
    }

    /// The topic and modes of `room`.
    fn modes(&self, room: &str) -> &RoomModes {
        if room == DEFAULT_ROOM {
            &self.state.class
        } else {
            self.state.rooms.get(room).unwrap_or(&UNTOUCHED)
        }
    }

    /// Changes the topic or modes of `room`; a room left with none is no longer saved.
    fn change(&mut self, room: &str, change: impl FnOnce(&mut RoomModes)) {
        if room == DEFAULT_ROOM {
            change(&mut self.state.class);
        } else {
            let modes = self.state.rooms.entry(room.to_owned()).or_default();
            change(modes);
            if modes.is_empty() {
                self.state.rooms.remove(room);
            }
        }
    }

    /// May the session `id` (who, of `role`) say something now? `to_room`: a message to that
    /// room (its quiet and slow mode apply), else (`None`) a private one to a student (mute,
    /// and `#class`'s quiet mode, apply: a muted student or an exam must not move to private
    /// messages; the hub lets anyone write privately to staff).
    /// On success a room message is counted for slow mode. `Err` holds the refusal's code and
    /// what to tell them.
    pub fn may_speak(
        &mut self,
        id: u64,
        (who, nick): (&Identity, &str),
        role: Role,
        to_room: Option<&str>,
        now: u64,
    ) -> Result<(), (ErrorCode, String)> {
        if let Some(mute) = self.sanction_on(Kind::Mute, who, nick, now) {
            let reason = if mute.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", mute.reason)
            };
            return Err((
                ErrorCode::Muted,
                format!(
                    "you are muted by {}{reason} {}: you can still read, and write privately \
                     to staff",
                    mute.by,
                    remaining(mute.until, now)
                ),
            ));
        }
        if role.is_staff() {
            return Ok(());
        }
        // A private message during an exam: refused if `#class` (where exams are) is quiet.
        let room = to_room.unwrap_or(DEFAULT_ROOM);
        let modes = self.modes(room);
        if modes.quiet {
            // `#class` is "the room", as before rooms; another room is named.
            let which = if room == DEFAULT_ROOM {
                "the room"
            } else {
                room
            };
            return Err((
                ErrorCode::Quiet,
                format!(
                    "{which} is in quiet mode (an exam): only staff may speak; you can still \
                     write privately to staff"
                ),
            ));
        }
        let slow_secs = modes.slow_secs;
        let slow = slow_secs.saturating_mul(1000);
        if let (Some(room), true) = (to_room, slow > 0) {
            let spoke = self.last_spoke.entry(room.to_owned()).or_default();
            if let Some(&last) = spoke.get(&id) {
                let next = last.saturating_add(slow);
                if now < next {
                    return Err((
                        ErrorCode::SlowMode,
                        format!(
                            "slow mode in {room}: one message per {} each; wait {} (your message was not sent)",
                            describe_secs(slow_secs),
                            describe_secs((next - now).div_ceil(1000))
                        ),
                    ));
                }
            }
            if spoke.len() >= SLOW_MEMORY {
                spoke.retain(|_, &mut t| t.saturating_add(slow) > now);
            }
            spoke.insert(id, now);
        }
        Ok(())
    }

    /// Whether anything can refuse speech now (a mute, quiet or slow mode in any room): when
    /// nothing can, the hub skips the checks, so an unmoderated server pays nothing per message.
    pub fn restricts_speech(&self) -> bool {
        let moded = |m: &RoomModes| m.quiet || m.slow_secs > 0;
        moded(&self.state.class)
            || self.state.rooms.values().any(moded)
            || self.state.sanctions.iter().any(|s| s.kind == Kind::Mute)
    }

    /// Whether `who`, called `nick`, is muted now.
    pub fn is_muted(&mut self, who: &Identity, nick: &str, now: u64) -> bool {
        self.sanction_on(Kind::Mute, who, nick, now).is_some()
    }

    /// The sanction of `kind` in force on `who`, called `nick`, if any.
    fn sanction_on(
        &mut self,
        kind: Kind,
        who: &Identity,
        nick: &str,
        now: u64,
    ) -> Option<&Sanction> {
        self.expire(now);
        self.state
            .sanctions
            .iter()
            .find(|s| s.kind == kind && s.applies_to(who, nick))
    }

    /// Why `who` may not join now (a ban, or a kick not yet over), if they may not: the
    /// refusal's code, what to tell them, and (a kick) how many seconds until they may.
    pub fn barred(
        &mut self,
        who: &Identity,
        nick: &str,
        now: u64,
    ) -> Option<(ErrorCode, String, u64)> {
        self.expire(now);
        let found = self
            .state
            .sanctions
            .iter()
            .find(|s| s.kind != Kind::Mute && s.applies_to(who, nick))?;
        let reason = if found.reason.is_empty() {
            String::new()
        } else {
            format!(" ({})", found.reason)
        };
        let wait = found
            .until
            .map_or(0, |until| until.saturating_sub(now).div_ceil(1000));
        let (code, what) = match found.kind {
            Kind::Kick => (ErrorCode::Kicked, "kicked"),
            _ => (ErrorCode::Banned, "banned"),
        };
        let message = format!(
            "you were {what} from this room by {}{reason}; you may not join {}",
            found.by,
            match found.until {
                Some(until) => remaining(Some(until), now),
                None => "until staff lift the ban (ask your instructor)".to_owned(),
            }
        );
        Some((code, message, wait))
    }

    /// Imposes a sanction, replacing one of the same kind on the same person. `Err`: it holds,
    /// but could not be saved (for the log).
    pub fn impose(&mut self, sanction: Sanction) -> Result<(), String> {
        self.expire(sanction.time);
        self.state
            .sanctions
            .retain(|s| !(s.kind == sanction.kind && s.applies_to(&sanction.who, &sanction.nick)));
        self.state.sanctions.push(sanction);
        self.save()
    }

    /// Lifts the sanctions of `kinds` on `who` (an online user) or, offline, on whoever had
    /// `nick` when sanctioned (ASCII case ignored). Returns what was lifted, and whether it was
    /// saved.
    pub fn lift(
        &mut self,
        kinds: &[Kind],
        nick: &str,
        who: Option<&Identity>,
    ) -> (Vec<Sanction>, Result<(), String>) {
        let (lifted, kept) = std::mem::take(&mut self.state.sanctions)
            .into_iter()
            .partition(|s| {
                kinds.contains(&s.kind)
                    && (s.nick.eq_ignore_ascii_case(nick) || who.is_some_and(|w| s.who.matches(w)))
            });
        self.state.sanctions = kept;
        let saved = if lifted.is_empty() {
            Ok(())
        } else {
            self.save()
        };
        (lifted, saved)
    }

    /// Turns quiet mode on or off in `room`; `Ok(false)`: it already was.
    pub fn set_quiet(&mut self, room: &str, on: bool) -> Result<bool, String> {
        if self.modes(room).quiet == on {
            return Ok(false);
        }
        self.change(room, |m| m.quiet = on);
        self.save().map(|()| true)
    }

    /// Sets slow mode in `room` (0: off).
    pub fn set_slow(&mut self, room: &str, secs: u64) -> Result<(), String> {
        self.change(room, |m| m.slow_secs = secs);
        self.last_spoke.remove(room);
        self.save()
    }

    /// Sets (or, `None`, clears) the topic of `room`.
    pub fn set_topic(&mut self, room: &str, topic: Option<Stamped>) -> Result<(), String> {
        self.change(room, |m| m.topic = topic);
        self.save()
    }

    /// Keeps the latest announcement (shown to each joiner).
    pub fn set_announcement(&mut self, announcement: Stamped) -> Result<(), String> {
        self.state.announcement = Some(announcement);
        self.save()
    }

    /// The topic of `room`, if any.
    pub fn topic(&self, room: &str) -> Option<&Stamped> {
        self.modes(room).topic.as_ref()
    }

    /// The latest announcement, if any.
    pub fn announcement(&self) -> Option<&Stamped> {
        self.state.announcement.as_ref()
    }

    /// Whether quiet mode is on in `room`.
    pub fn quiet(&self, room: &str) -> bool {
        self.modes(room).quiet
    }

    /// Slow mode's seconds in `room` (0: off).
    pub fn slow_secs(&self, room: &str) -> u64 {
        self.modes(room).slow_secs
    }

    /// A connection is gone: slow mode forgets it.
    pub fn forget(&mut self, id: u64) {
        for spoke in self.last_spoke.values_mut() {
            spoke.remove(&id);
        }
        self.last_spoke.retain(|_, spoke| !spoke.is_empty());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;

    fn student(ip: &str) -> Identity {
        Identity {
            login: None,
            fingerprint: Some("class".into()),
            address: Some(ip.parse().unwrap()),
        }
    }

    fn sanction(kind: Kind, nick: &str, who: Identity, until: Option<u64>) -> Sanction {
        Sanction {
            kind,
            nick: nick.into(),
            who,
            until,
            reason: "spam".into(),
            by: "prof".into(),
            time: 0,
        }
    }

    #[test]
    fn a_mute_refuses_until_it_expires() {
        let (mut m, _) = Moderation::open(None);
        let ann = student("192.0.2.1");
        m.impose(sanction(Kind::Mute, "ann", ann.clone(), Some(10 * MIN)))
            .unwrap();
        let (code, text) = m
            .may_speak(1, (&ann, "ann"), Role::Student, Some(DEFAULT_ROOM), MIN)
            .unwrap_err();
        assert_eq!(code, ErrorCode::Muted);
        assert!(text.contains("muted by prof (spam) for 9 min"), "{text}");
        // Someone else on another address is not muted.
        assert!(
            m.may_speak(
                2,
                (&student("192.0.2.2"), "ann"),
                Role::Student,
                Some(DEFAULT_ROOM),
                MIN
            )
            .is_ok()
        );
        // A classmate with the same key behind the same address is not muted with ann.
        assert!(
            m.may_speak(3, (&ann, "bob"), Role::Student, Some(DEFAULT_ROOM), MIN)
                .is_ok()
        );
        // Expired at 10 minutes.
        assert!(
            m.may_speak(
                1,
                (&ann, "ann"),
                Role::Student,
                Some(DEFAULT_ROOM),
                10 * MIN
            )
            .is_ok()
        );
    }

    #[test]
    fn quiet_mode_silences_students_not_staff() {
        let (mut m, _) = Moderation::open(None);
        assert!(!m.restricts_speech());
        assert!(m.set_quiet(DEFAULT_ROOM, true).unwrap());
        assert!(!m.set_quiet(DEFAULT_ROOM, true).unwrap());
        assert!(m.restricts_speech());
        let ann = student("192.0.2.1");
        for role in [Role::Student, Role::Guest] {
            let (code, _) = m
                .may_speak(1, (&ann, "ann"), role, Some(DEFAULT_ROOM), 0)
                .unwrap_err();
            assert_eq!(code, ErrorCode::Quiet);
        }
        assert!(
            m.may_speak(1, (&ann, "ann"), Role::Ta, Some(DEFAULT_ROOM), 0)
                .is_ok()
        );
        assert!(
            m.may_speak(1, (&ann, "ann"), Role::Instructor, Some(DEFAULT_ROOM), 0)
                .is_ok()
        );
        m.set_quiet(DEFAULT_ROOM, false).unwrap();
        assert!(
            m.may_speak(1, (&ann, "ann"), Role::Student, Some(DEFAULT_ROOM), 0)
                .is_ok()
        );
    }

    #[test]
    fn slow_mode_counts_per_connection_with_the_injected_clock() {
        let (mut m, _) = Moderation::open(None);
        m.set_slow(DEFAULT_ROOM, 30).unwrap();
        let ann = student("192.0.2.1");
        assert!(
            m.may_speak(1, (&ann, "ann"), Role::Student, Some(DEFAULT_ROOM), 1_000)
                .is_ok()
        );
        let (code, text) = m
            .may_speak(1, (&ann, "ann"), Role::Student, Some(DEFAULT_ROOM), 21_000)
            .unwrap_err();
        assert_eq!(code, ErrorCode::SlowMode);
        assert!(text.contains("wait 10 s"), "{text}");
        // Another connection has its own allowance; private messages and staff are not slowed.
        assert!(
            m.may_speak(2, (&ann, "ann"), Role::Student, Some(DEFAULT_ROOM), 21_000)
                .is_ok()
        );
        assert!(
            m.may_speak(1, (&ann, "ann"), Role::Student, None, 21_000)
                .is_ok()
        );
        assert!(
            m.may_speak(1, (&ann, "ann"), Role::Ta, Some(DEFAULT_ROOM), 21_000)
                .is_ok()
        );
        assert!(
            m.may_speak(1, (&ann, "ann"), Role::Student, Some(DEFAULT_ROOM), 31_000)
                .is_ok()
        );
        m.set_slow(DEFAULT_ROOM, 0).unwrap();
        assert!(
            m.may_speak(1, (&ann, "ann"), Role::Student, Some(DEFAULT_ROOM), 31_001)
                .is_ok()
        );
    }

    #[test]
    fn bans_and_kicks_bar_joining_and_lift() {
        let (mut m, _) = Moderation::open(None);
        let ann = student("192.0.2.1");
        let bob = student("192.0.2.2");
        m.impose(sanction(
            Kind::Kick,
            "ann",
            ann.clone(),
            Some(KICK_SECS * 1000),
        ))
        .unwrap();
        m.impose(sanction(Kind::Ban, "bob", bob.clone(), None))
            .unwrap();
        let (code, text, wait) = m.barred(&ann, "ann", 20_000).unwrap();
        assert_eq!((code, wait), (ErrorCode::Kicked, 100));
        assert!(text.contains("kicked"), "{text}");
        assert!(m.barred(&ann, "ann", KICK_SECS * 1000).is_none());
        // A kick is for the one user; a class-key ban bars the key at that address.
        assert!(m.barred(&ann, "carol", 20_000).is_none());
        assert!(m.barred(&bob, "dave", 20_000).is_some());
        let (code, text, _) = m.barred(&bob, "bob", u64::MAX / 2).unwrap();
        assert_eq!(code, ErrorCode::Banned);
        assert!(text.contains("until staff lift"), "{text}");
        // A ban does not mute, and a mute does not bar.
        assert!(
            m.may_speak(9, (&bob, "ann"), Role::Student, Some(DEFAULT_ROOM), 0)
                .is_ok()
        );
        let (lifted, saved) = m.lift(&[Kind::Ban, Kind::Kick], "BOB", None);
        assert!(saved.is_ok());
        assert_eq!(lifted.len(), 1);
        assert!(m.barred(&bob, "bob", 0).is_none());
    }

    #[test]
    fn state_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(moderation_state::FILE_NAME);
        let (mut m, report) = Moderation::open(Some(path.clone()));
        assert_eq!(report, None);
        let ann = student("192.0.2.1");
        m.impose(sanction(Kind::Ban, "ann", ann.clone(), None))
            .unwrap();
        m.set_quiet(DEFAULT_ROOM, true).unwrap();
        m.set_slow(DEFAULT_ROOM, 5).unwrap();
        m.set_topic(
            DEFAULT_ROOM,
            Some(Stamped {
                text: "exam".into(),
                by: "prof".into(),
                time: 1,
                id: None,
            }),
        )
        .unwrap();
        // Another room's modes are its own, saved beside #class's (issue 16).
        m.set_slow("#lab1", 9).unwrap();
        m.set_topic(
            "#lab1",
            Some(Stamped {
                text: "lab".into(),
                by: "prof".into(),
                time: 1,
                id: None,
            }),
        )
        .unwrap();
        assert!(!m.quiet("#lab1"));
        let (mut again, report) = Moderation::open(Some(path));
        assert_eq!(again.slow_secs("#lab1"), 9);
        assert_eq!(again.topic("#lab1").unwrap().text, "lab");
        assert!(!again.quiet("#lab1"));
        assert_eq!(again.topic("#lab2"), None);
        assert!(
            report
                .unwrap()
                .contains("1 mutes/bans in force, quiet mode on, slow mode 5 s")
        );
        assert!(again.barred(&ann, "ann", 0).is_some());
        assert!(again.quiet(DEFAULT_ROOM));
        assert_eq!(again.slow_secs(DEFAULT_ROOM), 5);
        assert_eq!(again.topic(DEFAULT_ROOM).unwrap().text, "exam");
    }
}
