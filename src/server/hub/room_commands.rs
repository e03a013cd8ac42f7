//! The hub's side of rooms (issue 16): `join`, `part`, `list`, `who`, `invite`, and the staff
//! commands `move` and `groups`. [`Rooms`](crate::server::rooms::Rooms) decides (may this user
//! create, join, leave?); this file does what follows: who is told what, in which order, and
//! the log.
//!
//! The order for someone coming into a room: `entered` (members, topic) and the room's
//! history to them, sealed for them alone; then `joined` to the other members. Leaving:
//! `parted` to them, `left` to the members still there.

use std::collections::HashSet;

use super::Hub;
use super::staff::Target;
use crate::protocol::event::{
    DEFAULT_ROOM, Group, MAX_GROUP_MEMBERS, MAX_GROUPS, nick_key, validate_room,
};
use crate::protocol::{ErrorCode, ServerEvent, unix_millis};
use crate::server::policy::{self, Action};
use crate::server::rooms::{Joining, Refusal, no_such_room, not_in_room};

impl Hub {
    /// The room a `say` or `me` goes to (absent: `#class`): a valid name, folded, of a room
    /// the sender is in; else the sender is told why and `None`.
    pub(super) fn speech_room(&mut self, id: u64, room: Option<String>) -> Option<String> {
        let room = match room {
            None => DEFAULT_ROOM.to_owned(),
            Some(room) => self.valid_room(id, &room)?,
        };
        if self.rooms.is_member(&room, id) {
            Some(room)
        } else {
            self.refuse(id, not_in_room(&room));
            None
        }
    }

    /// The room a command acts on (absent: `#class`), if it exists; else `id` is told why.
    pub(super) fn existing_room(&mut self, id: u64, room: Option<String>) -> Option<String> {
        let room = match room {
            None => DEFAULT_ROOM.to_owned(),
            Some(room) => self.valid_room(id, &room)?,
        };
        if self.rooms.get(&room).is_some() {
            Some(room)
        } else {
            self.refuse(id, no_such_room(&room));
            None
        }
    }

    /// `room` folded, if it is a valid name; else `id` gets `room_invalid`.
    fn valid_room(&mut self, id: u64, room: &str) -> Option<String> {
        match validate_room(room) {
            Ok(room) => Some(room),
            Err(e) => {
                self.send_error(id, ErrorCode::RoomInvalid, e.to_string());
                None
            }
        }
    }

    fn refuse(&mut self, id: u64, (code, message): Refusal) {
        self.send_error(id, code, message);
    }

    fn is_staff(&self, id: u64) -> bool {
        self.clients.get(&id).is_some_and(|c| c.role.is_staff())
    }

    /// `who`: the members of a room (anyone may ask, as `/list` shows every room).
    pub(super) fn who(&mut self, id: u64, room: Option<String>) {
        let Some(room) = self.existing_room(id, room) else {
            return;
        };
        let users = self.room_users(&room);
        let roles = self.room_roles(&room);
        let time = unix_millis();
        let answer = ServerEvent::Users {
            room,
            users,
            time,
            roles,
        };
        self.send(id, &answer);
    }

    /// `join`: into the room (creating it if it may), or `entered` again for a member.
    pub(super) fn join(&mut self, id: u64, room: &str, since: Option<u64>, invite_only: bool) {
        let Some(room) = self.valid_room(id, room) else {
            return;
        };
        let staff = self.is_staff(id);
        match self.rooms.may_join(&room, id, staff, false) {
            Ok(joining) => self.enter(id, &room, (joining, invite_only), since, None),
            Err(refusal) => self.refuse(id, refusal),
        }
    }

    /// Puts `id` in `room` ([`Rooms::may_join`](crate::server::rooms::Rooms::may_join) said
    /// it may) and tells everyone concerned. `by`: the staff member who moved them.
    fn enter(
        &mut self,
        id: u64,
        room: &str,
        (joining, invite_only): (Joining, bool),
        since: Option<u64>,
        by: Option<&str>,
    ) {
        let Some((nick, role)) = self
            .clients
            .get(&id)
            .and_then(|c| Some((c.nick.clone()?, c.role)))
        else {
            return;
        };
        if joining != Joining::Already {
            if let Some(report) = self.rooms.join(room, id, invite_only) {
                self.config.log.line(format_args!("{report}"));
            }
            if joining == Joining::Create {
                self.config.log.line(format_args!(
                    "room {room} created by {nick} (#{id}){}; {} rooms",
                    if invite_only { ", invite-only" } else { "" },
                    self.rooms.count()
                ));
            }
        }
        let time = unix_millis();
        let last_id = self.rooms.get(room).map_or(0, |r| r.last_id);
        let entered = ServerEvent::Entered {
            room: room.to_owned(),
            users: self.room_users(room),
            roles: self.room_roles(room),
            topic: self.moderation.topic(room).map(|t| t.text.clone()),
            by: by.map(str::to_owned),
            missed: since.map(|since| last_id.saturating_sub(since)),
            time,
        };
        self.send(id, &entered);
        for frame in self.catch_up(id, room, since) {
            self.offer(id, &frame);
        }
        self.tell_modes(id, room);
        if joining != Joining::Already {
            let joined = ServerEvent::Joined {
                room: room.to_owned(),
                nick,
                time,
                role,
            };
            self.broadcast_in(room, Some(id), &joined);
        }
    }

    /// `part`: out of a room (`#class` only where the server allows it).
    pub(super) fn part(&mut self, id: u64, room: &str, reason: Option<String>) {
        let Some(room) = self.valid_room(id, room) else {
            return;
        };
        if let Err(refusal) = self.rooms.may_part(&room, id) {
            return self.refuse(id, refusal);
        }
        self.leave_room(id, &room, reason.as_deref().unwrap_or("parted"));
    }

    /// Takes `id` out of `room`: `parted` to them, `left` to the members still there.
    fn leave_room(&mut self, id: u64, room: &str, reason: &str) {
        let Some(nick) = self.clients.get(&id).and_then(|c| c.nick.clone()) else {
            return;
        };
        self.rooms.part(room, id);
        let time = unix_millis();
        let parted = ServerEvent::Parted {
            room: room.to_owned(),
            reason: reason.to_owned(),
            time,
        };
        self.send(id, &parted);
        self.tell_left(&[room.to_owned()], &nick, reason, time);
    }

    /// `list`: every room with its member count and topic.
    pub(super) fn list(&mut self, id: u64) {
        let rooms = self
            .rooms
            .list(|room| self.moderation.topic(room).map(|t| t.text.clone()));
        let time = unix_millis();
        self.send(id, &ServerEvent::Rooms { rooms, time });
    }

    /// `invite`: lets `whom` join `room` once (they are told); the inviter must be a member,
    /// unless staff.
    pub(super) fn invite(&mut self, id: u64, nick: &str, whom: &str, room: &str) {
        let Some(room) = self.valid_room(id, room) else {
            return;
        };
        if let Err(refusal) = self.rooms.may_invite(&room, id, self.is_staff(id)) {
            return self.refuse(id, refusal);
        }
        let Some(target) = self.target(id, whom) else {
            return;
        };
        if self.rooms.is_member(&room, target.id) {
            return self.notice_to(id, &format!("{} is already in {room}", target.nick));
        }
        self.rooms.invite(&room, target.id);
        let invited = ServerEvent::Invited {
            room: room.clone(),
            by: nick.to_owned(),
            time: unix_millis(),
        };
        self.send(target.id, &invited);
        self.notice_to(
            id,
            &format!("{} may now join {room} (/join {room})", target.nick),
        );
    }

    /// Staff `move`: `whom` into `room` (created if needed) and out of every room but `#class`.
    pub(super) fn move_user(&mut self, id: u64, nick: &str, whom: &str, room: &str) {
        // Staff only, before anything else: a student learns nothing about who is online.
        if !self.permitted(id, nick, Action::Move, None) {
            return;
        }
        let Some(room) = self.valid_room(id, room) else {
            return;
        };
        let Some(target) = self.target(id, whom) else {
            return;
        };
        if !self.permitted(id, nick, Action::Move, Some(&target)) {
            return;
        }
        match self.move_into(&target, &room, nick) {
            Ok(()) => {
                self.audit(format_args!("{nick} moved {} to {room}", target.nick));
                self.notice_to(id, &format!("moved {} to {room}", target.nick));
            }
            Err(refusal) => self.refuse(id, refusal),
        }
    }

    /// Moves `target` into `room` (created if needed, by the staff member `by`'s right), after
    /// taking them out of every other room but `#class`.
    fn move_into(&mut self, target: &Target, room: &str, by: &str) -> Result<(), Refusal> {
        let joining = self.rooms.may_join(room, target.id, true, true)?;
        let reason = format!("moved to {room} by {by}");
        for other in self.rooms.rooms_of(target.id) {
            if other != DEFAULT_ROOM && other != room {
                self.leave_room(target.id, &other, &reason);
            }
        }
        self.enter(target.id, room, (joining, false), None, Some(by));
        Ok(())
    }

    /// Staff `groups`: each group's room gets its listed members who are online (moved as by
    /// `move`); staff are told who was moved and who was not.
    pub(super) fn groups(&mut self, id: u64, nick: &str, groups: Vec<Group>) {
        if !self.permitted(id, nick, Action::Groups, None) {
            return;
        }
        if groups.len() > MAX_GROUPS || groups.iter().any(|g| g.members.len() > MAX_GROUP_MEMBERS) {
            return self.send_error(
                id,
                ErrorCode::BadField,
                format!(
                    "a groups file has at most {MAX_GROUPS} rooms of {MAX_GROUP_MEMBERS} members; \
                     nobody was moved"
                ),
            );
        }
        // Every name checked before anyone moves: a typo moves nobody.
        let mut rooms = Vec::with_capacity(groups.len());
        for group in &groups {
            let Some(room) = self.valid_room(id, &group.room) else {
                return;
            };
            rooms.push(room);
        }
        let actor = self.clients.get(&id).map(|c| c.role);
        let (mut moved, mut offline, mut refused) = (Vec::new(), Vec::new(), Vec::new());
        let mut seen = HashSet::new();
        for (room, group) in rooms.iter().zip(groups) {
            for member in group.members {
                if !seen.insert(nick_key(&member)) {
                    refused.push(format!("{member} (listed twice)"));
                    continue;
                }
                let Some(target) = self.online(&member) else {
                    offline.push(member);
                    continue;
                };
                let allowed =
                    actor.map(|role| policy::may(role, Action::Groups, Some(target.role)));
                if let Some(Err(why)) = allowed {
                    refused.push(format!("{} ({why})", target.nick));
                    continue;
                }
                match self.move_into(&target, room, nick) {
                    Ok(()) => moved.push(format!("{} to {room}", target.nick)),
                    Err((_, why)) => refused.push(format!("{} ({why})", target.nick)),
                }
            }
        }
        self.audit(format_args!(
            "{nick} applied groups to {} rooms: {} moved, {} not online, {} not moved",
            rooms.len(),
            moved.len(),
            offline.len(),
            refused.len()
        ));
        let list = |names: &[String]| {
            if names.is_empty() {
                "nobody".to_owned()
            } else {
                names.join(", ")
            }
        };
        self.notice_to(
            id,
            &format!(
                "groups: moved {}; not online: {}; not moved: {}",
                list(&moved),
                list(&offline),
                list(&refused)
            ),
        );
    }

    /// The user online as `whom` (any case), if any: [`Hub::target`] without the error.
    fn online(&self, whom: &str) -> Option<Target> {
        let &id = self.nicks.get(&nick_key(whom))?;
        let client = self.clients.get(&id)?;
        Some(Target {
            id,
            nick: client.nick.clone()?,
            role: client.role,
        })
    }
}
