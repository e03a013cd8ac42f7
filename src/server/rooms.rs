//! Rooms (issue 16): who is in which room, which rooms exist, who may create or join one, and
//! each room's history file and message ids. Owned by the hub thread (one owner, no lock); it
//! decides, the hub acts (sends, seals, logs). It must not know about sockets or sealing.
//!
//! The rules, all in this file:
//! - everyone is in `#class` from their welcome; leaving it needs `--allow-part-class`;
//! - a `join` of a room that does not exist creates it, if the creator may (`--rooms open`:
//!   anyone; `--rooms staff`: staff only) and the limits allow (`--max-rooms` rooms on the
//!   server, `#class` included; `--max-rooms-per-user` rooms per user besides `#class`);
//! - an invite-only room needs an invite (staff need none); an invite is for one connection
//!   and one join, and is dropped when that connection goes;
//! - a room's history file is made by its first message, not by a join (rooms only looked into
//!   leave no file);
//! - a room nobody is in is forgotten (never `#class`), but its history file stays, so a room
//!   re-created later, even after a restart, shows its history. Forgotten rooms' open history
//!   files are kept (up to `--max-rooms` of them) so that joining and parting in a loop does
//!   not re-read a file each time.
//!
//! `#class` keeps the history file it always had (`--history`, default `history/room.log`);
//! another room `#lab1` keeps `rooms/lab1.log` in the same folder. Room names are checked by
//! [`validate_room`](crate::protocol::event::validate_room) first: only `a-z 0-9 _ -`, so a
//! name is always a safe file name.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::str::FromStr;

use crate::crypto::RoomKey;
use crate::protocol::ErrorCode;
use crate::protocol::event::{DEFAULT_ROOM, RoomInfo};
use crate::server::history::{History, HistoryConfig};

/// Rooms on a server unless `--max-rooms` says otherwise (`#class` included).
pub const DEFAULT_MAX_ROOMS: usize = 64;

/// Rooms one user may be in besides `#class`, unless `--max-rooms-per-user` says otherwise.
pub const DEFAULT_MAX_ROOMS_PER_USER: usize = 10;

/// Who may create rooms (`--rooms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Creators {
    /// Anyone (the default): groups make their own rooms.
    #[default]
    Open,
    /// Staff only: students join the rooms staff made (or are moved into them).
    Staff,
}

impl FromStr for Creators {
    type Err = String;

    fn from_str(s: &str) -> Result<Creators, String> {
        match s {
            "open" => Ok(Creators::Open),
            "staff" => Ok(Creators::Staff),
            other => Err(format!(
                "--rooms takes open (anyone may create rooms) or staff (only staff may), not {other:?}"
            )),
        }
    }
}

/// The server's room rules (flags of the `server` binary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomLimits {
    /// Who may create rooms.
    pub creators: Creators,
    /// Rooms that may exist at once, `#class` included.
    pub max_rooms: usize,
    /// Rooms one user may be in at once besides `#class`.
    pub max_per_user: usize,
    /// Whether a user may leave `#class`.
    pub allow_part_class: bool,
}

impl Default for RoomLimits {
    fn default() -> RoomLimits {
        RoomLimits {
            creators: Creators::Open,
            max_rooms: DEFAULT_MAX_ROOMS,
            max_per_user: DEFAULT_MAX_ROOMS_PER_USER,
            allow_part_class: false,
        }
    }
}

/// A refusal: the code, and what to tell the user.
pub type Refusal = (ErrorCode, String);

/// One room.
#[derive(Debug)]
pub struct Room {
    /// Its (folded) name.
    pub name: String,
    /// Its members' connection ids.
    members: HashSet<u64>,
    /// Whether joining needs an invite.
    pub invite_only: bool,
    /// Its history file, if the server keeps history.
    pub history: Option<History>,
    /// The id of its last message (`message` or `action`); ids increase per room.
    pub last_id: u64,
    /// Whether the last history write failed (a full disk is reported once, not per message).
    pub history_failing: bool,
}

impl Room {
    /// A room without members.
    fn new(name: &str, invite_only: bool, history: Option<History>, last_id: u64) -> Room {
        Room {
            name: name.to_owned(),
            members: HashSet::new(),
            invite_only,
            history,
            last_id,
            history_failing: false,
        }
    }

    /// Its members' connection ids (in no order).
    pub fn members(&self) -> impl Iterator<Item = u64> + '_ {
        self.members.iter().copied()
    }

    /// How many members it has.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether it has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether `id` is a member.
    pub fn has(&self, id: u64) -> bool {
        self.members.contains(&id)
    }

    /// The next message id of this room.
    pub fn next_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }
}

/// What a forgotten room leaves behind for its next creation this run.
#[derive(Debug)]
struct Dormant {
    history: Option<History>,
    last_id: u64,
}

/// How a `join` goes, when it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joining {
    /// Already a member: nothing changes (the client is told `entered` again).
    Already,
    /// Into an existing room.
    Existing,
    /// The room is created.
    Create,
}

/// Every room of the server.
#[derive(Debug)]
pub struct Rooms {
    rooms: HashMap<String, Room>,
    limits: RoomLimits,
    /// Invites not yet used: (connection, room).
    invites: HashSet<(u64, String)>,
    /// Forgotten rooms' histories, by name (at most `max_rooms`).
    dormant: HashMap<String, Dormant>,
    /// Where rooms other than `#class` keep their history, and with which key.
    files: Option<(HistoryConfig, RoomKey)>,
}

impl Rooms {
    /// The rooms of a server that has just started: `#class` alone, with `class_history`.
    /// `files`: the `#class` history's config and key, after which the other rooms' files are
    /// made (`None`: they keep no history).
    pub fn new(
        limits: RoomLimits,
        class_history: Option<History>,
        files: Option<(HistoryConfig, RoomKey)>,
    ) -> Rooms {
        let last_id = class_history.as_ref().map_or(0, History::last_id);
        let class = Room::new(DEFAULT_ROOM, false, class_history, last_id);
        Rooms {
            rooms: HashMap::from([(DEFAULT_ROOM.to_owned(), class)]),
            limits,
            invites: HashSet::new(),
            dormant: HashMap::new(),
            files,
        }
    }

    /// The room rules in force.
    pub fn limits(&self) -> &RoomLimits {
        &self.limits
    }

    /// The room called `name` (folded), if it exists.
    pub fn get(&self, name: &str) -> Option<&Room> {
        self.rooms.get(name)
    }

    /// The room called `name`, to change.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Room> {
        self.rooms.get_mut(name)
    }

    /// Whether `id` is a member of `room`.
    pub fn is_member(&self, room: &str, id: u64) -> bool {
        self.rooms.get(room).is_some_and(|r| r.has(id))
    }

    /// `#class`, where everyone starts.
    pub fn class(&mut self) -> &mut Room {
        self.rooms
            .entry(DEFAULT_ROOM.to_owned())
            .or_insert_with(|| Room::new(DEFAULT_ROOM, false, None, 0))
    }

    /// Puts a client that has just been welcomed in `#class`.
    pub fn enter_class(&mut self, id: u64) {
        self.class().members.insert(id);
    }

    /// The rooms `id` is in, sorted by name (`#class` first, when it is one).
    pub fn rooms_of(&self, id: u64) -> Vec<String> {
        let mut names: Vec<String> = self
            .rooms
            .values()
            .filter(|r| r.has(id))
            .map(|r| r.name.clone())
            .collect();
        names.sort_by_key(|n| (n != DEFAULT_ROOM, n.clone()));
        names
    }

    /// How many rooms besides `#class` `id` is in.
    fn joined_by(&self, id: u64) -> usize {
        self.rooms
            .values()
            .filter(|r| r.name != DEFAULT_ROOM && r.has(id))
            .count()
    }

    /// May `id` (staff or not) join `room` (a valid, folded name)? `moved`: staff put them
    /// there (`move`, `groups`): the staff member's right to create counts, not theirs, and
    /// invites do not matter.
    pub fn may_join(
        &self,
        room: &str,
        id: u64,
        staff: bool,
        moved: bool,
    ) -> Result<Joining, Refusal> {
        let per_user = || {
            // A move takes the user out of every other room first: it never needs more.
            if !moved && room != DEFAULT_ROOM && self.joined_by(id) >= self.limits.max_per_user {
                return Err((
                    ErrorCode::RoomLimit,
                    format!(
                        "you are in {} rooms besides #class, the most this server allows \
                         (--max-rooms-per-user {}); /part one first",
                        self.limits.max_per_user, self.limits.max_per_user
                    ),
                ));
            }
            Ok(())
        };
        match self.rooms.get(room) {
            Some(r) if r.has(id) => Ok(Joining::Already),
            Some(r) => {
                if r.invite_only
                    && !staff
                    && !moved
                    && !self.invites.contains(&(id, room.to_owned()))
                {
                    return Err((
                        ErrorCode::InviteOnly,
                        format!("{room} is invite-only: ask a member to /invite you"),
                    ));
                }
                per_user()?;
                Ok(Joining::Existing)
            }
            None => {
                if self.limits.creators == Creators::Staff && !staff && !moved {
                    return Err((
                        ErrorCode::NotPermitted,
                        format!(
                            "{room} does not exist, and on this server only staff create rooms \
                             (--rooms staff); /list shows the rooms there are"
                        ),
                    ));
                }
                if self.rooms.len() >= self.limits.max_rooms {
                    return Err((
                        ErrorCode::RoomLimit,
                        format!(
                            "the server has {} rooms, the most it allows (--max-rooms {}); \
                             join one of them (/list) or ask staff",
                            self.rooms.len(),
                            self.limits.max_rooms
                        ),
                    ));
                }
                per_user()?;
                Ok(Joining::Create)
            }
        }
    }

    /// Puts `id` in `room` (after [`Rooms::may_join`] said it may), creating the room
    /// (invite-only if `invite_only`) if it does not exist; uses up `id`'s invite to it. The
    /// string, if any, is for the log: the room's history file could not be opened.
    pub fn join(&mut self, room: &str, id: u64, invite_only: bool) -> Option<String> {
        self.invites.remove(&(id, room.to_owned()));
        let mut report = None;
        if !self.rooms.contains_key(room) {
            let (history, last_id) = match self.dormant.remove(room) {
                Some(dormant) => (dormant.history, dormant.last_id),
                None => {
                    let (history, why) = self.open_history(room, false);
                    report = why;
                    let last_id = history.as_ref().map_or(0, History::last_id);
                    (history, last_id)
                }
            };
            self.rooms.insert(
                room.to_owned(),
                Room::new(room, invite_only, history, last_id),
            );
        }
        if let Some(r) = self.rooms.get_mut(room) {
            r.members.insert(id);
        }
        report
    }

    /// Makes sure `room` has its history file before a message is recorded in it, creating
    /// the file on the room's first message. The string, if any, is for the log: it could not
    /// be made (tried once per room; the room works without it).
    pub fn history_for(&mut self, room: &str) -> Option<String> {
        let r = self.rooms.get(room)?;
        if r.history.is_some() || r.history_failing || self.files.is_none() {
            return None;
        }
        let (history, report) = self.open_history(room, true);
        let r = self.rooms.get_mut(room)?;
        r.history_failing = history.is_none();
        r.history = history;
        report
    }

    /// Opens the history file of `room`, if the server keeps history: an existing one, or
    /// (`create`) a new one.
    fn open_history(&self, room: &str, create: bool) -> (Option<History>, Option<String>) {
        let Some((class, key)) = &self.files else {
            return (None, None);
        };
        let path = history_path(&class.path, room);
        if !create && !path.exists() {
            return (None, None);
        }
        let config = HistoryConfig {
            path: path.clone(),
            ..class.clone()
        };
        match History::open(config, key) {
            Ok((history, _)) => (Some(history), None),
            Err(e) => (
                None,
                Some(format!(
                    "room {room}: no history ({e}); the room works without it"
                )),
            ),
        }
    }

    /// May `id` leave `room`?
    pub fn may_part(&self, room: &str, id: u64) -> Result<(), Refusal> {
        let Some(r) = self.rooms.get(room) else {
            return Err(no_such_room(room));
        };
        if !r.has(id) {
            return Err(not_in_room(room));
        }
        if room == DEFAULT_ROOM && !self.limits.allow_part_class {
            return Err((
                ErrorCode::NotPermitted,
                "#class is where the whole class and announcements are: you may not leave it on \
                 this server (it was not started with --allow-part-class)"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// Takes `id` out of `room`; a room left empty is forgotten (never `#class`).
    pub fn part(&mut self, room: &str, id: u64) {
        let Some(r) = self.rooms.get_mut(room) else {
            return;
        };
        r.members.remove(&id);
        if r.members.is_empty() && room != DEFAULT_ROOM {
            self.forget(room);
        }
    }

    /// Drops an empty room, keeping its open history for a later re-creation (bounded).
    fn forget(&mut self, room: &str) {
        let Some(r) = self.rooms.remove(room) else {
            return;
        };
        if self.dormant.len() >= self.limits.max_rooms {
            // Any one: it is only a cache of open files, the files themselves stay.
            if let Some(other) = self.dormant.keys().next().cloned() {
                self.dormant.remove(&other);
            }
        }
        self.dormant.insert(
            r.name,
            Dormant {
                history: r.history,
                last_id: r.last_id,
            },
        );
    }

    /// A connection is gone: out of every room it was in (returned, `#class` first) and its
    /// invites dropped.
    pub fn leave_all(&mut self, id: u64) -> Vec<String> {
        let rooms = self.rooms_of(id);
        for room in &rooms {
            self.part(room, id);
        }
        self.invites.retain(|(who, _)| *who != id);
        rooms
    }

    /// May `inviter` (staff or not) invite someone to `room`?
    pub fn may_invite(&self, room: &str, inviter: u64, staff: bool) -> Result<(), Refusal> {
        let Some(r) = self.rooms.get(room) else {
            return Err(no_such_room(room));
        };
        if !staff && !r.has(inviter) {
            return Err(not_in_room(room));
        }
        Ok(())
    }

    /// Lets `id` join `room` once.
    pub fn invite(&mut self, room: &str, id: u64) {
        self.invites.insert((id, room.to_owned()));
    }

    /// Every room, sorted by name, with its topic from `topic`.
    pub fn list(&self, topic: impl Fn(&str) -> Option<String>) -> Vec<RoomInfo> {
        let mut rooms: Vec<RoomInfo> = self
            .rooms
            .values()
            .filter(|r| !r.is_empty())
            .map(|r| RoomInfo {
                room: r.name.clone(),
                members: r.len(),
                topic: topic(&r.name),
                invite_only: r.invite_only,
            })
            .collect();
        rooms.sort_by(|a, b| a.room.cmp(&b.room));
        rooms
    }

    /// How many rooms there are (`#class` included).
    pub fn count(&self) -> usize {
        self.rooms.len()
    }

    /// Every room's name.
    pub fn names(&self) -> Vec<String> {
        self.rooms.keys().cloned().collect()
    }
}

/// The history file of `room`, after that of `#class` (`class`).
pub fn history_path(class: &std::path::Path, room: &str) -> PathBuf {
    if room == DEFAULT_ROOM {
        return class.to_owned();
    }
    let name = room.trim_start_matches('#');
    class
        .parent()
        .unwrap_or_else(|| std::path::Path::new(""))
        .join("rooms")
        .join(format!("{name}.log"))
}

/// The refusal for a room that does not exist.
pub fn no_such_room(room: &str) -> Refusal {
    (
        ErrorCode::NoSuchRoom,
        format!("there is no room {room} (nobody is in it); /list shows the rooms there are"),
    )
}

/// The refusal for a room one is not in.
pub fn not_in_room(room: &str) -> Refusal {
    (
        ErrorCode::NotInRoom,
        format!("you are not in {room}; /join {room} first"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rooms(limits: RoomLimits) -> Rooms {
        Rooms::new(limits, None, None)
    }

    #[test]
    fn creating_joining_and_forgetting() {
        let mut r = rooms(RoomLimits::default());
        r.enter_class(1);
        r.enter_class(2);
        assert_eq!(r.may_join("#lab1", 1, false, false), Ok(Joining::Create));
        r.join("#lab1", 1, false);
        assert_eq!(r.may_join("#lab1", 1, false, false), Ok(Joining::Already));
        assert_eq!(r.may_join("#lab1", 2, false, false), Ok(Joining::Existing));
        r.join("#lab1", 2, false);
        assert_eq!(r.rooms_of(2), ["#class", "#lab1"]);
        assert_eq!(r.list(|_| None).len(), 2);
        r.part("#lab1", 1);
        r.part("#lab1", 2);
        assert!(r.get("#lab1").is_none(), "an empty room is forgotten");
        assert_eq!(
            r.may_part("#class", 1).unwrap_err().0,
            ErrorCode::NotPermitted
        );
        assert_eq!(r.may_part("#lab1", 1).unwrap_err().0, ErrorCode::NoSuchRoom);
        assert_eq!(r.leave_all(1), ["#class"]);
        assert!(r.get("#class").is_some(), "#class is never forgotten");
    }

    #[test]
    fn a_forgotten_room_created_again_keeps_counting_its_ids() {
        let mut r = rooms(RoomLimits::default());
        r.join("#lab1", 1, false);
        for _ in 0..3 {
            r.get_mut("#lab1").map(Room::next_id);
        }
        r.part("#lab1", 1);
        assert!(r.get("#lab1").is_none());
        r.join("#lab1", 2, false);
        assert_eq!(r.get_mut("#lab1").map(Room::next_id), Some(4));
    }

    #[test]
    fn invite_only_rooms_need_an_invite_used_once() {
        let mut r = rooms(RoomLimits::default());
        r.join("#secret", 1, true);
        assert_eq!(
            r.may_join("#secret", 2, false, false).unwrap_err().0,
            ErrorCode::InviteOnly
        );
        assert_eq!(r.may_join("#secret", 3, true, false), Ok(Joining::Existing));
        assert_eq!(
            r.may_invite("#secret", 2, false).unwrap_err().0,
            ErrorCode::NotInRoom
        );
        assert_eq!(r.may_invite("#secret", 1, false), Ok(()));
        r.invite("#secret", 2);
        assert_eq!(
            r.may_join("#secret", 2, false, false),
            Ok(Joining::Existing)
        );
        r.join("#secret", 2, false);
        r.part("#secret", 2);
        assert_eq!(
            r.may_join("#secret", 2, false, false).unwrap_err().0,
            ErrorCode::InviteOnly,
            "an invite is used up by the join"
        );
    }

    #[test]
    fn limits_and_who_creates() {
        let mut r = rooms(RoomLimits {
            creators: Creators::Staff,
            max_rooms: 3,
            max_per_user: 1,
            allow_part_class: true,
        });
        assert_eq!(
            r.may_join("#lab1", 1, false, false).unwrap_err().0,
            ErrorCode::NotPermitted
        );
        assert_eq!(r.may_join("#lab1", 1, false, true), Ok(Joining::Create));
        r.join("#lab1", 1, false);
        assert_eq!(
            r.may_join("#lab2", 1, true, false).unwrap_err().0,
            ErrorCode::RoomLimit,
            "one room besides #class per user"
        );
        r.join("#lab2", 2, false);
        let (code, message) = r.may_join("#lab3", 3, true, false).unwrap_err();
        assert_eq!(code, ErrorCode::RoomLimit);
        assert!(message.contains("--max-rooms 3"), "{message}");
        r.enter_class(1);
        assert_eq!(r.may_part("#class", 1), Ok(()));
    }

    #[test]
    fn room_files_sit_beside_the_class_history() {
        let class = std::path::Path::new("history").join("room.log");
        assert_eq!(history_path(&class, "#class"), class);
        assert_eq!(
            history_path(&class, "#lab1"),
            std::path::Path::new("history")
                .join("rooms")
                .join("lab1.log")
        );
        assert_eq!("staff".parse(), Ok(Creators::Staff));
        assert!("closed".parse::<Creators>().is_err());
    }
}
