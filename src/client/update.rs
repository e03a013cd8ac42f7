//! Updates: what the session tells a front end, one displayable thing at a time.
//!
//! This module owns the vocabulary between the core and any front end. An [`Update`] is a
//! display-level event (a message arrived, someone left, we are reconnecting), never a wire
//! event: front ends must not need to know the protocol. It must not hold logic; the session
//! decides, [`crate::client::display`] renders.
//!
//! Rooms (issue 16): every update that happens in a room carries it (`room`, as the server
//! spells it: lower case), `#class` included. Which room is current (where plain text goes)
//! is the session's: [`crate::client::ChatState::current`], announced by
//! [`UpdateKind::Switched`] whenever it changes; a front end that switches rooms itself sends
//! [`crate::client::Command::Switch`].

use crate::protocol::ErrorCode;

/// One thing for the front end to show, stamped with when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// When this client received or produced it, in milliseconds since the Unix epoch on
    /// *our* clock. The server's `time` fields are not used for display: the server's clock
    /// may be minutes off ours (that is tolerated), and mixing clocks would put lines out of
    /// order with the local ones (errors, reconnects).
    pub at: u64,
    /// What happened.
    pub kind: UpdateKind,
}

impl Update {
    /// An update stamped now.
    pub fn now(kind: UpdateKind) -> Update {
        Update {
            at: crate::protocol::unix_millis(),
            kind,
        }
    }
}

/// What happened. Text and nicks here come from the server as sent: render them with
/// [`crate::client::display`], which makes them safe for a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateKind {
    /// We are in, and in `#class` (first connection, or again after a reconnect: the other
    /// rooms we were in follow as [`UpdateKind::Entered`]).
    Connected {
        /// Our nick as registered.
        nick: String,
        /// Everyone online (everyone in `#class`), including us.
        users: Vec<String>,
        /// The server's software and version.
        server: String,
        /// `host:port` we are connected to.
        target: String,
        /// Whether this follows a lost connection.
        reconnected: bool,
    },
    /// A room message.
    Message {
        /// The room it happened in (`#class` for a server without rooms).
        room: String,
        /// The sender.
        from: String,
        /// The text.
        text: String,
        /// Whether we sent it (shown with our nick in bold).
        own: bool,
    },
    /// A room action (`/me`).
    Action {
        /// The room it happened in (`#class` for a server without rooms).
        room: String,
        /// Who acts.
        from: String,
        /// What they do.
        text: String,
        /// Whether it is ours.
        own: bool,
    },
    /// A room message from before we joined, replayed by the server. The update's `at` is
    /// when it was originally said, and it must look different from live messages.
    History {
        /// The room it happened in (`#class` for a server without rooms).
        room: String,
        /// The sender's nick at the time.
        from: String,
        /// What was said.
        text: String,
        /// An action (`/me`) rather than a message.
        action: bool,
        /// Whether we sent it (under our current nick).
        own: bool,
    },
    /// We are back after a lost connection, and this many room messages were said while we
    /// were away. The ones the server replays follow as [`UpdateKind::History`]; none of
    /// them, and nothing seen before, is shown twice.
    Away {
        /// The room the gap is in: each room we rejoin has its own.
        room: String,
        /// How many room messages came after the last one we had shown.
        missed: u64,
    },
    /// A private message, to us or (echoed by the server) from us.
    Private {
        /// The sender.
        from: String,
        /// The recipient.
        to: String,
        /// The text.
        text: String,
        /// Whether we sent it (shown as `-> *to* text`).
        outgoing: bool,
    },
    /// Someone joined.
    Joined {
        /// The room it happened in (`#class` for a server without rooms).
        room: String,
        /// Who.
        nick: String,
    },
    /// Someone left.
    Left {
        /// The room it happened in (`#class` for a server without rooms).
        room: String,
        /// Who.
        nick: String,
        /// Why (may be empty).
        reason: String,
    },
    /// Someone changed nick.
    Renamed {
        /// The old nick.
        from: String,
        /// The new nick.
        to: String,
        /// Whether it was us.
        own: bool,
    },
    /// A notice from the server, or information from this client (such as lag).
    Notice {
        /// The text.
        text: String,
    },
    /// Something went wrong but the session goes on: a refusal from the server (with its
    /// code) or a local error such as a message that is too long (no code).
    Error {
        /// The server's code; `None` for errors found by this client.
        code: Option<ErrorCode>,
        /// What went wrong, for people.
        text: String,
    },
    /// Who is in a room (the answer to `/who`).
    Users {
        /// The room it happened in (`#class` for a server without rooms).
        room: String,
        /// Everyone in the room, with their role marks (`@prof`).
        users: Vec<String>,
    },
    /// We are now in `room`: after our `/join`, a staff member's `/move`, or again after a
    /// reconnect. Its recent history follows as [`UpdateKind::History`].
    Entered {
        /// The room, as the server spells it (lower case).
        room: String,
        /// Everyone in it, with their role marks, including us.
        users: Vec<String>,
        /// Its topic, if it has one.
        topic: Option<String>,
        /// The staff member who moved us here; `None` when we joined ourselves.
        by: Option<String>,
    },
    /// We are no longer in `room` (our `/part`, or a staff member's `/move`).
    Parted {
        /// The room.
        room: String,
        /// Why (may be empty).
        reason: String,
    },
    /// Every room on the server (the answer to `/list`), sorted by name.
    RoomList {
        /// The rooms.
        rooms: Vec<RoomSummary>,
    },
    /// The current room (where plain text, `/me`, `/topic` go) is now `room`: after `/switch`,
    /// a `/join`, a staff `/move`, or leaving the room that was current. Front ends show that
    /// room; the state's `current` says the same.
    Switched {
        /// The room.
        room: String,
    },
    /// Someone invited us into an invite-only room: `/join` now lets us in (once).
    Invited {
        /// The room.
        room: String,
        /// Who invited us.
        by: String,
    },
    /// The round trip to the server, measured by `/ping`.
    Lag {
        /// Milliseconds from sending the ping to reading the pong.
        millis: u64,
    },
    /// The list of commands (the answer to `/help`).
    Help,
    /// The staff commands, after [`UpdateKind::Help`] for staff only.
    StaffHelp,
    /// An announcement by staff: shown so that it stands out.
    Announcement {
        /// The room it happened in (`#class` for a server without rooms).
        room: String,
        /// The staff member.
        from: String,
        /// What they announced.
        text: String,
        /// Made before we joined: replayed from the room's history.
        history: bool,
    },
    /// The room's topic changed (or was sent on joining).
    Topic {
        /// The room it happened in (`#class` for a server without rooms).
        room: String,
        /// The topic; empty: cleared.
        text: String,
        /// Who set it.
        by: String,
    },
    /// A moderation action, as the server put it in one line.
    Moderation {
        /// The room it happened in (`#class` for a server without rooms).
        room: String,
        /// Who did what to whom and why.
        text: String,
    },
    /// The connection was lost or closed by the server.
    Disconnected {
        /// Why, for people.
        reason: String,
    },
    /// Waiting before reconnect attempt `attempt`.
    Reconnecting {
        /// 1 for the first attempt.
        attempt: u32,
        /// The last attempt that will be made, if attempts are bounded.
        max_attempts: Option<u32>,
        /// How long until the attempt, in whole seconds (rounded up).
        delay_secs: u64,
    },
    /// A reconnect attempt failed; another may follow.
    ReconnectFailed {
        /// Which attempt.
        attempt: u32,
        /// Why, for people.
        reason: String,
    },
    /// We left (after `/quit`, end of input, or Ctrl-C). The last update of a clean session.
    Quit {
        /// The reason sent to the room, if any.
        reason: Option<String>,
    },
}

/// One room in the answer to `/list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSummary {
    /// Its name (`#lab1`).
    pub room: String,
    /// How many are in it.
    pub members: u64,
    /// Its topic, if it has one.
    pub topic: Option<String>,
    /// Whether joining needs an invite.
    pub invite_only: bool,
}

/// The room every user is in from the welcome on, and the one a server without rooms has.
pub use crate::protocol::event::DEFAULT_ROOM;
