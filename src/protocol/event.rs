//! Events: what a token's plaintext says. Each is one UTF-8 JSON object whose `type` field
//! names the event. [`ClientEvent`]s go from client to server, [`ServerEvent`]s the other way.
//!
//! This module owns the shape of every event and the rules for nicks and message text that
//! both sides check. It must not know about tokens, sockets or room state.
//!
//! Unknown fields are ignored (so a newer peer can add some); a missing or wrongly typed field
//! is an error. `time` fields are the server's clock in milliseconds since the Unix epoch.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::role::Role;

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientEvent {
    /// The first event of every session: who I am, which protocol I speak, and a fresh
    /// nonce that the server's `handshake` must echo (so a recorded answer is refused).
    ///
    /// # Format
    /// `{"type":"hello","nick":"alice","version":2,"kex":"psk","nonce":"AAECAwQFBgcICQoLDA0ODw==","client":"fernchat 0.1.0"}`
    Hello {
        /// The nick to register: see [`validate_nick`].
        nick: String,
        /// Protocol version the client speaks; the server refuses versions it does not know
        /// with `version_unsupported` instead of misreading them.
        version: u32,
        /// The key exchange: `"psk"` (the pre-shared class key, the default). The labs add
        /// others; the server refuses unknown ones with `kex_unsupported`.
        #[serde(default = "default_kex")]
        kex: String,
        /// The client's public key for `kex` `"x25519"` (URL-safe base64 of 32 bytes);
        /// absent for `"psk"`. See PROTOCOL.md section 7.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kex_public: Option<String>,
        /// 16 fresh random bytes (URL-safe base64 with padding): `Nc` of PROTOCOL.md. Optional
        /// in the type only so that a version-1 hello (which has none) is refused by its
        /// version, not as a bad field; the server refuses a version-2 hello without one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nonce: Option<String>,
        /// The `id` of the last room message this client saw (reconnects): the server replays
        /// only newer history. Absent: the recent history.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
        /// The client program and its version, for staff's `whois` (`"fernchat 0.1.0"`): at
        /// most [`MAX_CLIENT_NAME`] printable ASCII characters, else the hello is refused with
        /// `bad_field`. Optional; it proves nothing (anyone can send any name).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
    },
    /// A message to a room (the sender must be a member, else `not_in_room`).
    ///
    /// # Format
    /// `{"type":"say","text":"hi all"}`, `{"type":"say","room":"#lab1","text":"hi lab"}`
    Say {
        /// The message: see [`validate_text`].
        text: String,
        /// The room (absent: [`DEFAULT_ROOM`], as before rooms).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    /// An action (`/me waves`), shown as `* alice waves`.
    ///
    /// # Format
    /// `{"type":"me","text":"waves"}`, `{"type":"me","room":"#lab1","text":"waves"}`
    Me {
        /// What the sender does.
        text: String,
        /// The room (absent: [`DEFAULT_ROOM`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    /// A private message, seen only by sender and recipient.
    ///
    /// # Format
    /// `{"type":"msg","to":"bob","text":"psst"}`
    Msg {
        /// The recipient's nick (any case).
        to: String,
        /// The message.
        text: String,
    },
    /// Asks for the members of a room; answered with `users`.
    ///
    /// # Format
    /// `{"type":"who"}`, `{"type":"who","room":"#lab1"}`
    Who {
        /// The room (absent: [`DEFAULT_ROOM`], whose members are everyone online).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    /// Changes my nick; the room sees `renamed`.
    ///
    /// # Format
    /// `{"type":"nick","nick":"alice2"}`
    Nick {
        /// The new nick.
        nick: String,
    },
    /// Keepalive or lag probe; the server answers `pong` with the same id.
    ///
    /// # Format
    /// `{"type":"ping","id":7}`
    Ping {
        /// Echoed back so the sender can match replies and measure lag.
        id: u64,
    },
    /// The answer to a server `ping`.
    ///
    /// # Format
    /// `{"type":"pong","id":7}`
    Pong {
        /// The id of the ping answered.
        id: u64,
    },
    /// Key confirmation: the client's first frame after the server's `handshake`, sealed with
    /// the new client-to-server key (every mode). Until it arrives and checks out, the client
    /// is not in the room: no welcome, no history, nobody sees it join.
    ///
    /// # Format
    /// `{"type":"confirm"}` (`psk`, `x25519`), `{"type":"confirm","mac":"..."}` (`x25519-psk*`)
    Confirm {
        /// `x25519-psk` and `-signed` only: `HMAC-SHA256(confirm key, "client confirm" ||
        /// transcript)`, URL-safe base64. In the other modes, opening under the session key is
        /// the proof.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mac: Option<String>,
    },
    /// I am leaving; the room sees `left` with the reason.
    ///
    /// # Format
    /// `{"type":"bye","reason":"lunch"}`
    Bye {
        /// Shown to the room; optional.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Staff: an announcement to a room (its members get `announcement`), or with `all` to
    /// every room. Everyone else gets `not_permitted`, as for every staff event below.
    ///
    /// # Format
    /// `{"type":"announce","text":"The exam starts now"}`, `{"type":"announce","text":"Break","all":true}`
    Announce {
        /// The announcement (the rules of message text).
        text: String,
        /// The room (absent: [`DEFAULT_ROOM`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        /// Every room gets it (`room` is then ignored).
        #[serde(default, skip_serializing_if = "is_false")]
        all: bool,
    },
    /// Staff: sets a room's topic (`""` clears it); its members get `topic`.
    ///
    /// # Format
    /// `{"type":"topic","text":"Exam until 11:00"}`, `{"type":"topic","room":"#lab1","text":"Lab 3"}`
    Topic {
        /// The topic (the rules of message text), or empty.
        text: String,
        /// The room (absent: [`DEFAULT_ROOM`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    /// Staff: `nick` may read but not speak, for `minutes` (absent: 10; 0: until `unmute`).
    ///
    /// # Format
    /// `{"type":"mute","nick":"mallory","minutes":15,"reason":"spamming"}`
    Mute {
        /// Who (online).
        nick: String,
        /// How long.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        minutes: Option<u64>,
        /// Why, shown to the room and to them (at most 200 characters).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Staff: lifts a mute.
    ///
    /// # Format
    /// `{"type":"unmute","nick":"mallory"}`
    Unmute {
        /// Who (online, or their nick when muted).
        nick: String,
    },
    /// Staff: disconnects `nick` (`bye` with code `kicked`); they may not rejoin for
    /// `retry_after` seconds.
    ///
    /// # Format
    /// `{"type":"kick","nick":"mallory","reason":"posting answers"}`
    Kick {
        /// Who (online).
        nick: String,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Staff: disconnects `nick` and refuses their key (roster) or their key and address
    /// (class key) for `minutes` (absent or 0: until `unban`).
    ///
    /// # Format
    /// `{"type":"ban","nick":"mallory","minutes":60,"reason":"cheating"}`
    Ban {
        /// Who (online).
        nick: String,
        /// How long.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        minutes: Option<u64>,
        /// Why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Staff: lifts a ban (or a kick's wait).
    ///
    /// # Format
    /// `{"type":"unban","nick":"mallory"}`
    Unban {
        /// The nick they had when banned.
        nick: String,
    },
    /// Staff: quiet (exam) mode on or off in a room: only staff may speak there while it is on.
    ///
    /// # Format
    /// `{"type":"quiet","on":true}`, `{"type":"quiet","on":true,"room":"#lab1"}`
    Quiet {
        /// On or off.
        on: bool,
        /// The room (absent: [`DEFAULT_ROOM`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    /// Staff: slow mode in a room: each student may send one message there per `seconds`
    /// (0: off).
    ///
    /// # Format
    /// `{"type":"slow","seconds":30}`, `{"type":"slow","seconds":30,"room":"#lab1"}`
    Slow {
        /// The interval.
        seconds: u64,
        /// The room (absent: [`DEFAULT_ROOM`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    /// Staff: asks about a user; answered with `whois`.
    ///
    /// # Format
    /// `{"type":"whois","nick":"mallory"}`
    Whois {
        /// Who (online).
        nick: String,
    },
    /// Staff: re-read the roster (revocations, new students). A server without a roster
    /// answers with an `error` saying so.
    ///
    /// # Format
    /// `{"type":"reload"}`
    Reload,
    /// Joins a room, creating it if it does not exist and the server lets this user create
    /// rooms (`not_permitted` otherwise). Answered with `entered` and the room's history;
    /// already a member: `entered` again.
    ///
    /// # Format
    /// `{"type":"join","room":"#lab1"}`, `{"type":"join","room":"#lab1","since":41,"invite_only":true}`
    Join {
        /// The room: see [`validate_room`].
        room: String,
        /// The `id` of the last message of this room the client saw (reconnects): only newer
        /// history is replayed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<u64>,
        /// Only used when this join creates the room: joining it then needs an `invite`.
        #[serde(default, skip_serializing_if = "is_false")]
        invite_only: bool,
    },
    /// Leaves a room (`#class` only if the server allows it); answered with `parted`.
    ///
    /// # Format
    /// `{"type":"part","room":"#lab1","reason":"done"}`
    Part {
        /// The room.
        room: String,
        /// Shown to the room's members in `left`; optional.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Asks for every room; answered with `rooms`.
    ///
    /// # Format
    /// `{"type":"list"}`
    List,
    /// Lets `nick` join the invite-only `room` (once); they get `invited`. The inviter must be
    /// a member (staff need not be).
    ///
    /// # Format
    /// `{"type":"invite","nick":"bob","room":"#lab1"}`
    Invite {
        /// Who (online).
        nick: String,
        /// The room.
        room: String,
    },
    /// Staff: puts `nick` into `room` (created if needed) and takes them out of every room but
    /// `#class`.
    ///
    /// # Format
    /// `{"type":"move","nick":"bob","room":"#lab1"}`
    Move {
        /// Who (online).
        nick: String,
        /// The room.
        room: String,
    },
    /// Staff: creates each group's room and moves each listed member who is online into it
    /// (at most [`MAX_GROUPS`] rooms of [`MAX_GROUP_MEMBERS`]); answered with a `notice`.
    ///
    /// # Format
    /// `{"type":"groups","groups":[{"room":"#lab1","members":["alice","bob"]}]}`
    Groups {
        /// The rooms and their members, as the client read them from a groups file.
        groups: Vec<Group>,
    },
}

/// One room of a `groups` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// The room: see [`validate_room`].
    pub room: String,
    /// The nicks to move into it.
    pub members: Vec<String>,
}

/// One room in a `rooms` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomInfo {
    /// The room's name.
    pub room: String,
    /// How many members it has.
    pub members: usize,
    /// Its topic, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Whether joining it needs an invite.
    #[serde(default, skip_serializing_if = "is_false")]
    pub invite_only: bool,
}

// serde's `skip_serializing_if` takes a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_false(b: &bool) -> bool {
    !*b
}

/// The room everyone is in: the only room of a server (or client) that knows nothing of rooms,
/// and what a room-scoped event without `room` means.
pub const DEFAULT_ROOM: &str = "#class";

fn default_room() -> String {
    DEFAULT_ROOM.to_owned()
}

/// A server leaves `room` out for `#class`: its frames stay as they were before rooms, byte
/// for byte, which keeps the busiest room's broadcasts as small (and as fast) as they were.
#[allow(clippy::ptr_arg)] // serde passes the field itself: `&String`.
fn is_default_room(room: &String) -> bool {
    room == DEFAULT_ROOM
}

/// The most rooms in one `groups` event.
pub const MAX_GROUPS: usize = 50;

/// The most members of one room in a `groups` event.
pub const MAX_GROUP_MEMBERS: usize = 50;

fn default_kex() -> String {
    KEX_PSK.to_owned()
}

/// The key exchange of the plain pre-shared-key session.
pub const KEX_PSK: &str = "psk";

impl ClientEvent {
    /// Every `type` a client may send: anything else is `unknown_type`.
    pub const TYPES: &'static [&'static str] = &[
        "hello", "say", "me", "msg", "who", "nick", "ping", "pong", "confirm", "bye", "announce",
        "topic", "mute", "unmute", "kick", "ban", "unban", "quiet", "slow", "whois", "reload",
        "join", "part", "list", "invite", "move", "groups",
    ];
}

/// What the server sends. Everything it relays carries the sender's registered nick and the
/// server's time, so no client can speak as someone else or fake when it spoke.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    /// The answer to a hello the server can serve, sealed with the key that opened the hello:
    /// the client's nonce echoed, the server's fresh nonce, and the key exchange's fields.
    /// The session keys follow from it; the client answers `confirm` under them.
    ///
    /// # Format
    /// `{"type":"handshake","version":2,"nonce":"...","server_nonce":"...","kex":"psk"}`
    Handshake {
        /// The protocol version the server speaks (2).
        version: u32,
        /// The client's `Nc`, echoed: a handshake recorded on another connection has another.
        nonce: String,
        /// The server's fresh `Ns` (16 bytes, URL-safe base64 with padding).
        server_nonce: String,
        /// The key exchange of the session, as the hello asked.
        kex: String,
        /// The server's public key for the `x25519` exchanges.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kex_public: Option<String>,
        /// `x25519-psk` and `-signed`: the server's key-confirmation MAC (see `crate::kex`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kex_confirm: Option<String>,
        /// `x25519-psk-signed`: the server's Ed25519 identity key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kex_identity: Option<String>,
        /// `x25519-psk-signed`: the identity key's signature over the transcript.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kex_signature: Option<String>,
    },
    /// The client confirmed its session keys and is in the room. Sealed with the session's
    /// server-to-client key, so everything in it is protected as the session is.
    ///
    /// # Format
    /// `{"type":"welcome","nick":"alice","users":["alice","bob"],"version":2,"server":"fernchat 0.1.0","max_text":2000,"time":1763800000000}`
    Welcome {
        /// The nick registered (as the client spelled it).
        nick: String,
        /// Everyone online, including the new user, sorted case-insensitively.
        users: Vec<String>,
        /// The protocol version the server speaks.
        version: u32,
        /// Server software and version, for the curious.
        server: String,
        /// The longest message text accepted, in characters.
        max_text: usize,
        /// Server time.
        time: u64,
        /// `psk`: the Fernet key that seals room broadcasts to this client, when it is not the
        /// key that opened the hello (a roster server); absent: that key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room_key: Option<String>,
        /// When the hello carried `since`: how many room messages are newer than it (may be
        /// more than the history replayed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        missed: Option<u64>,
        /// This session's role, from the key that opened it (absent from older servers:
        /// `student`).
        #[serde(default)]
        role: Role,
        /// The role of every user in `users` who is not a student (absent: everyone is).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        roles: BTreeMap<String, Role>,
        /// The room `users` lists, where the client is put: [`DEFAULT_ROOM`].
        #[serde(default = "default_room", skip_serializing_if = "is_default_room")]
        room: String,
    },
    /// A room message.
    ///
    /// # Format
    /// `{"type":"message","room":"#lab1","id":41,"from":"alice","text":"hi all","time":1763800000000}`
    Message {
        /// The room (absent, from a server without rooms: [`DEFAULT_ROOM`]).
        #[serde(default = "default_room", skip_serializing_if = "is_default_room")]
        room: String,
        /// Increasing per room, kept across restarts (for `since` in a hello).
        #[serde(default)]
        id: u64,
        /// Registered nick of the sender.
        from: String,
        /// The text.
        text: String,
        /// When the server relayed it.
        time: u64,
    },
    /// A room action (`/me`).
    ///
    /// # Format
    /// `{"type":"action","room":"#lab1","id":42,"from":"alice","text":"waves","time":1763800000000}`
    Action {
        /// The room (absent, from a server without rooms: [`DEFAULT_ROOM`]).
        #[serde(default = "default_room", skip_serializing_if = "is_default_room")]
        room: String,
        /// Increasing per room, shared with `message`.
        #[serde(default)]
        id: u64,
        /// Registered nick of the sender.
        from: String,
        /// What they do.
        text: String,
        /// When.
        time: u64,
    },
    /// A room message from before you joined, sent right after `welcome` (oldest first) so a
    /// late arrival can catch up. Shown as history, never as a live message.
    ///
    /// # Format
    /// `{"type":"history","room":"#lab1","id":41,"kind":"message","from":"alice","text":"hi all","time":1763800000000}`
    History {
        /// The room (absent, from a server without rooms: [`DEFAULT_ROOM`]).
        #[serde(default = "default_room", skip_serializing_if = "is_default_room")]
        room: String,
        /// The room message's `id`.
        #[serde(default)]
        id: u64,
        /// Whether it was a message or an action (`/me`).
        kind: HistoryKind,
        /// The sender's nick at the time.
        from: String,
        /// What was said.
        text: String,
        /// When it was said (server time), not when it is replayed.
        time: u64,
    },
    /// A private message; sent to the recipient and echoed to the sender.
    ///
    /// # Format
    /// `{"type":"private","from":"alice","to":"bob","text":"psst","time":1763800000000}`
    Private {
        /// Registered nick of the sender.
        from: String,
        /// Registered nick of the recipient.
        to: String,
        /// The text.
        text: String,
        /// When.
        time: u64,
    },
    /// Roster mode, `psk`: the room key changed (a student's key was withdrawn by a roster
    /// reload); from now on room broadcasts are sealed with this key instead of the welcome's
    /// `room_key`. Sent to each remaining member alone, under its session key.
    ///
    /// # Format
    /// `{"type":"rekey","room_key":"cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=","time":1763800000000}`
    Rekey {
        /// The new room key (a Fernet key).
        room_key: String,
        /// Server time.
        time: u64,
    },
    /// The answer to `who`: a room's members.
    ///
    /// # Format
    /// `{"type":"users","room":"#lab1","users":["alice","bob"],"time":1763800000000}`
    Users {
        /// The room (absent, from a server without rooms: [`DEFAULT_ROOM`]).
        #[serde(default = "default_room", skip_serializing_if = "is_default_room")]
        room: String,
        /// The room's members (in `#class`: everyone online), sorted case-insensitively.
        users: Vec<String>,
        /// When.
        time: u64,
        /// The role of every user who is not a student (as in `welcome`).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        roles: BTreeMap<String, Role>,
    },
    /// Someone joined a room.
    ///
    /// # Format
    /// `{"type":"joined","room":"#lab1","nick":"carol","time":1763800000000}`
    Joined {
        /// The room (absent, from a server without rooms: [`DEFAULT_ROOM`]).
        #[serde(default = "default_room", skip_serializing_if = "is_default_room")]
        room: String,
        /// Who.
        nick: String,
        /// When.
        time: u64,
        /// Their role (absent: `student`).
        #[serde(default, skip_serializing_if = "is_student")]
        role: Role,
    },
    /// Someone left a room (parted, quit, lost connection, or removed by the server: then
    /// each room they were in gets one).
    ///
    /// # Format
    /// `{"type":"left","room":"#lab1","nick":"carol","reason":"lunch","time":1763800000000}`
    Left {
        /// The room (absent, from a server without rooms: [`DEFAULT_ROOM`]).
        #[serde(default = "default_room", skip_serializing_if = "is_default_room")]
        room: String,
        /// Who.
        nick: String,
        /// Why, as they said it or as the server saw it.
        reason: String,
        /// When.
        time: u64,
    },
    /// Someone changed nick.
    ///
    /// # Format
    /// `{"type":"renamed","from":"carol","to":"caroline","time":1763800000000}`
    Renamed {
        /// The old nick.
        from: String,
        /// The new nick.
        to: String,
        /// When.
        time: u64,
    },
    /// A message from the server itself, for people to read.
    ///
    /// # Format
    /// `{"type":"notice","text":"the server is shutting down","time":1763800000000}`
    Notice {
        /// The text.
        text: String,
        /// When.
        time: u64,
    },
    /// A request was refused. `code` is for programs, `message` for people.
    ///
    /// # Format
    /// `{"type":"error","code":"nick_taken","message":"the nick bob is taken; choose another","time":1763800000000}`
    Error {
        /// What went wrong, machine-readable.
        code: ErrorCode,
        /// What went wrong and what to do, for people.
        message: String,
        /// When.
        time: u64,
        /// The refusal of an `x25519-psk-signed` hello, signed by the server's identity:
        /// `Ed25519("fernchat refusal v2" || Nc || code || 0 || message)` (see `crate::kex`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// Keepalive; answer with `pong` and the same id, or be disconnected as idle.
    ///
    /// # Format
    /// `{"type":"ping","id":3}`
    Ping {
        /// Echo it in the `pong`.
        id: u64,
    },
    /// The answer to a client `ping`.
    ///
    /// # Format
    /// `{"type":"pong","id":7}`
    Pong {
        /// The id of the client's ping.
        id: u64,
    },
    /// The server is closing this connection; the reason says why.
    ///
    /// # Format
    /// `{"type":"bye","code":"shutdown","reason":"the server is shutting down","time":1763800000000}`
    Bye {
        /// Why, machine-readable.
        code: ErrorCode,
        /// Why, for people.
        reason: String,
        /// When.
        time: u64,
        /// `kicked`, `banned`: seconds before the server will take this user back, so a client
        /// must not reconnect before then (absent: no wait, or a ban until lifted).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after: Option<u64>,
    },
    /// Staff made an announcement: shown so it stands out. Kept in the room's history and
    /// replayed to joiners in order with the messages (`history: true`); the latest one is
    /// also sent to a joiner whose replay did not include it.
    ///
    /// # Format
    /// `{"type":"announcement","room":"#lab1","from":"prof","text":"The exam starts now","time":1763800000000,"id":42}`
    /// (a replay for a joiner adds `"history":true`)
    Announcement {
        /// The room (absent, from a server without rooms: [`DEFAULT_ROOM`]).
        #[serde(default = "default_room", skip_serializing_if = "is_default_room")]
        room: String,
        /// The staff member's nick.
        from: String,
        /// The announcement.
        text: String,
        /// When it was made.
        time: u64,
        /// Its place in the room's id sequence (announcements are kept in the history file
        /// like messages, so a rejoin's `since` covers them). Absent from older servers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        /// `true`: a replay from the room's history for a joiner, not a live announcement.
        /// A replayed announcement is an `announcement`, not a `history` event, so that an
        /// older client still shows it as one (PROTOCOL.md section 9).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        history: bool,
    },
    /// A room's topic: sent to its members when it changes and to each joiner after the
    /// welcome (or `entered`).
    ///
    /// # Format
    /// `{"type":"topic","room":"#lab1","text":"Exam until 11:00","by":"prof","time":1763800000000}`
    Topic {
        /// The room (absent, from a server without rooms: [`DEFAULT_ROOM`]).
        #[serde(default = "default_room", skip_serializing_if = "is_default_room")]
        room: String,
        /// The topic; empty: there is none.
        text: String,
        /// Who set it.
        by: String,
        /// When it was set.
        time: u64,
    },
    /// A moderation action, announced in one line (who did what to whom and why): quiet and
    /// slow to their room, the sanctions on a person (mute, kick, ban, ...) to `#class`.
    ///
    /// # Format
    /// `{"type":"moderation","room":"#lab1","by":"prof","action":"mute","target":"mallory","reason":"spamming","text":"prof muted mallory for 10 min (spamming)","time":1763800000000}`
    Moderation {
        /// The room (absent, from a server without rooms: [`DEFAULT_ROOM`]).
        #[serde(default = "default_room", skip_serializing_if = "is_default_room")]
        room: String,
        /// The staff member's nick.
        by: String,
        /// `mute`, `unmute`, `kick`, `ban`, `unban`, `quiet`, `slow`.
        action: String,
        /// Whom, for actions on a user.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        /// Why, as staff said it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The whole line, for people (and for clients that show only this).
        text: String,
        /// When.
        time: u64,
    },
    /// The answer to `whois` (staff only).
    ///
    /// # Format
    /// `{"type":"whois","nick":"mallory","role":"student","address":"192.0.2.7","key":"3f1c...","since":1763800000000,"muted":false,"client":"fernchat 0.1.0"}`
    Whois {
        /// The user's nick.
        nick: String,
        /// Their role.
        role: Role,
        /// Their roster login, on a roster server.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        login: Option<String>,
        /// Their IP address.
        address: String,
        /// Fingerprint of the key that opened their session.
        key: String,
        /// When they joined (server time).
        since: u64,
        /// Whether they are muted.
        muted: bool,
        /// The client program their hello named (`client`); absent: it sent none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
    },
    /// You are now a member of `room` (your `join`, a staff `move`, or `groups`); its `history`
    /// events follow, oldest first.
    ///
    /// # Format
    /// `{"type":"entered","room":"#lab1","users":["alice","bob"],"topic":"Lab 3","by":"prof","time":1763800000000}`
    Entered {
        /// The room.
        room: String,
        /// Its members, you included, sorted case-insensitively.
        users: Vec<String>,
        /// The role of every member who is not a student.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        roles: BTreeMap<String, Role>,
        /// Its topic, if it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        /// Who moved you here (a `move` or `groups`); absent: your own `join`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        /// When the `join` carried `since`: how many of the room's messages are newer.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        missed: Option<u64>,
        /// When.
        time: u64,
    },
    /// You are no longer a member of `room` (your `part`, or a staff `move`).
    ///
    /// # Format
    /// `{"type":"parted","room":"#lab1","reason":"moved to #lab2 by prof","time":1763800000000}`
    Parted {
        /// The room.
        room: String,
        /// Why.
        reason: String,
        /// When.
        time: u64,
    },
    /// The answer to `list`: every room with a member, sorted by name.
    ///
    /// # Format
    /// `{"type":"rooms","rooms":[{"room":"#class","members":12},{"room":"#lab1","members":3,"topic":"Lab 3","invite_only":true}],"time":1763800000000}`
    Rooms {
        /// The rooms.
        rooms: Vec<RoomInfo>,
        /// When.
        time: u64,
    },
    /// You may now join the invite-only `room` (once).
    ///
    /// # Format
    /// `{"type":"invited","room":"#lab1","by":"alice","time":1763800000000}`
    Invited {
        /// The room.
        room: String,
        /// Who invited you.
        by: String,
        /// When.
        time: u64,
    },
}

fn is_student(role: &Role) -> bool {
    *role == Role::Student
}

impl ServerEvent {
    /// Every `type` the server may send.
    pub const TYPES: &'static [&'static str] = &[
        "handshake",
        "welcome",
        "message",
        "action",
        "history",
        "private",
        "users",
        "joined",
        "left",
        "renamed",
        "notice",
        "error",
        "ping",
        "pong",
        "bye",
        "announcement",
        "topic",
        "moderation",
        "whois",
        "entered",
        "parted",
        "rooms",
        "invited",
    ];
}

impl ServerEvent {
    /// Whether this event is only ever meant for one connection (so it must be sealed with
    /// that connection's session key, never with a key the room shares): `handshake` aside,
    /// which comes before there is a session key.
    pub fn is_per_recipient(&self) -> bool {
        matches!(
            self,
            ServerEvent::Welcome { .. }
                | ServerEvent::History { .. }
                | ServerEvent::Users { .. }
                | ServerEvent::Private { .. }
                | ServerEvent::Pong { .. }
                | ServerEvent::Ping { .. }
                | ServerEvent::Error { .. }
                | ServerEvent::Whois { .. }
                | ServerEvent::Rekey { .. }
                | ServerEvent::Entered { .. }
                | ServerEvent::Parted { .. }
                | ServerEvent::Rooms { .. }
                | ServerEvent::Invited { .. }
        )
    }
}

/// What a `history` event replays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryKind {
    /// A room message (`message`).
    Message,
    /// An action (`action`, from `/me`).
    Action,
    /// An announcement. This server replays announcements as `announcement` events with
    /// `history: true`, never as `history` events; the kind names them in its history file and
    /// lets this client read a `history` of that kind from another server.
    Announcement,
    /// A kind from a newer peer: shown as a message rather than dropping the whole event.
    #[serde(other)]
    Other,
}

/// Machine-readable reasons in `error` and `bye` events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A line longer than the server's limit.
    LineTooLong,
    /// A frame that is not a token made with the room key.
    Undecryptable,
    /// A token whose plaintext is not a JSON object.
    BadJson,
    /// A JSON object with an unknown `type`.
    UnknownType,
    /// A known event with a missing or wrongly typed field.
    BadField,
    /// Message text over the limit, empty, or with control characters.
    BadText,
    /// A nick that breaks the rules.
    NickInvalid,
    /// A nick already in use (compared without regard to ASCII case).
    NickTaken,
    /// A nick reserved for the system (`server`, ...).
    NickReserved,
    /// A private message to someone not online.
    NoSuchNick,
    /// The first event was not `hello`, or `hello` came twice.
    HelloFirst,
    /// A protocol version the server does not speak.
    VersionUnsupported,
    /// A key exchange the server does not offer.
    KexUnsupported,
    /// The key exchange failed: the public key in the hello is missing, malformed, or a
    /// low-order point, or key confirmation failed (see `crate::kex`).
    KexFailed,
    /// The server has no room for another client.
    ServerFull,
    /// No hello within the time limit.
    HelloTimeout,
    /// Nothing heard for too long (not even a pong).
    IdleTimeout,
    /// Sending faster than the rate limit; the message was not delivered.
    RateLimited,
    /// Kept sending over the rate limit; disconnected.
    Flooding,
    /// Could not keep up with the room; disconnected.
    TooSlow,
    /// A token already received: a replay.
    Replayed,
    /// The hello was made with an old class key whose deadline has passed (key rotation,
    /// `--key-until`): the client must get the new keyfile. Also the `bye` of a connection
    /// still open under an old key at the deadline.
    KeyRetired,
    /// This connection sent more tokens than its replay memory holds (its rate limit times
    /// the time window): only this connection is refused; nobody else is affected.
    ReplayMemoryFull,
    /// A token older than the TTL.
    Expired,
    /// A token stamped too far in the future.
    FromFuture,
    /// The client's clock differs from the server's by more than the tolerance.
    ClockSkew,
    /// The server is shutting down.
    Shutdown,
    /// Roster mode: the key was revoked or replaced (at the hello, or by a roster reload,
    /// which also closes the connection).
    KeyRevoked,
    /// The client said bye.
    Quit,
    /// A staff command from someone whose role may not use it (see `crate::server::policy`).
    NotPermitted,
    /// The sender is muted: they may read but not speak (the message says by whom, why and for
    /// how long).
    Muted,
    /// The room is in quiet (exam) mode: only staff may speak.
    Quiet,
    /// Slow mode: the sender must wait before their next room message.
    SlowMode,
    /// Banned from the room: the hello is refused.
    Banned,
    /// Kicked: removed (a `bye`), and refused for a while (`retry_after` in the bye).
    Kicked,
    /// A room name that breaks the rules (see [`validate_room`]).
    RoomInvalid,
    /// Speaking in (or acting on) a room one is not a member of.
    NotInRoom,
    /// A room that does not exist (nobody is in it).
    NoSuchRoom,
    /// The server's most rooms, or this user's, are reached (the message says which).
    RoomLimit,
    /// The room is invite-only and there is no invite for this user.
    InviteOnly,
    /// A code this program does not know (from a newer peer).
    #[serde(other)]
    Unknown,
}

/// The longest `client` a hello may name, in characters.
pub const MAX_CLIENT_NAME: usize = 64;

/// Whether `name` may be a hello's `client`: 1 to [`MAX_CLIENT_NAME`] printable ASCII
/// characters (space included), so that staff's terminals show it as sent.
pub fn valid_client_name(name: &str) -> bool {
    (1..=MAX_CLIENT_NAME).contains(&name.len()) && name.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// The protocol version this crate speaks.
pub const PROTOCOL_VERSION: u32 = 2;

/// Nicks that nobody may register, compared without regard to ASCII case.
pub const RESERVED_NICKS: &[&str] = &[
    "server", "fernchat", "system", "admin", "root", "nobody", "everyone", "all", "me",
];

/// Why a nick is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NickError {
    /// Not 2 to 16 characters.
    #[error("a nick has 2 to 16 characters ({len} given)")]
    Length {
        /// Characters given.
        len: usize,
    },
    /// Does not start with a letter.
    #[error("a nick starts with a letter A-Z or a-z")]
    FirstNotLetter,
    /// Has a character outside `[A-Za-z0-9_-]`.
    #[error("a nick uses only letters, digits, '_' and '-' ({found:?} is not allowed)")]
    BadChar {
        /// The first offending character.
        found: char,
    },
    /// On the reserved list.
    #[error("the nick {nick} is reserved")]
    Reserved {
        /// The nick.
        nick: String,
    },
}

/// IRC-style nick rules: 2 to 16 characters of `[A-Za-z0-9_-]`, starting with a letter, not
/// reserved. Uniqueness ignores ASCII case: see [`nick_key`].
pub fn validate_nick(nick: &str) -> Result<(), NickError> {
    let len = nick.chars().count();
    if !(2..=16).contains(&len) {
        return Err(NickError::Length { len });
    }
    if !nick.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(NickError::FirstNotLetter);
    }
    if let Some(found) = nick
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(NickError::BadChar { found });
    }
    if RESERVED_NICKS.iter().any(|r| r.eq_ignore_ascii_case(nick)) {
        return Err(NickError::Reserved {
            nick: nick.to_owned(),
        });
    }
    Ok(())
}

/// The form under which nicks are compared for uniqueness.
pub fn nick_key(nick: &str) -> String {
    nick.to_ascii_lowercase()
}

/// Why a room name is refused: always one message, the rule (`room_invalid`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("room names are # plus 2 to 24 of a-z 0-9 _ -, e.g. #lab1 ({given:?} is not one)")]
pub struct RoomError {
    /// The name given, cut to a readable length.
    pub given: String,
}

/// Room name rules: `#` plus 2 to 24 of `a-z 0-9 _ -`, upper case allowed and folded: the
/// name returned is the folded one, the only form the server sends (`#Lab1` is `#lab1`).
pub fn validate_room(room: &str) -> Result<String, RoomError> {
    let refused = || RoomError {
        given: room.chars().take(40).collect(),
    };
    let name = room.strip_prefix('#').ok_or_else(refused)?;
    let ok = (2..=24).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !ok {
        return Err(refused());
    }
    Ok(room.to_ascii_lowercase())
}

/// Default longest message text, in characters.
pub const DEFAULT_MAX_TEXT: usize = 2000;

/// Why message text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Nothing to say.
    #[error("the message is empty")]
    Empty,
    /// Longer than the limit.
    #[error("the message has {len} characters; the limit is {limit}")]
    TooLong {
        /// Characters given.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Control characters (other than tab) could rewrite the reader's terminal.
    #[error(
        "the message contains a control character ({found:?}); they could garble other people's terminals"
    )]
    ControlChar {
        /// The first one found.
        found: char,
    },
}

/// Message text rules: not blank, at most `limit` characters, no control characters except
/// tab (escape sequences in a chat could move other users' cursors or hide text).
pub fn validate_text(text: &str, limit: usize) -> Result<(), TextError> {
    if text.trim().is_empty() {
        return Err(TextError::Empty);
    }
    let len = text.chars().count();
    if len > limit {
        return Err(TextError::TooLong { len, limit });
    }
    if let Some(found) = text.chars().find(|c| c.is_control() && *c != '\t') {
        return Err(TextError::ControlChar { found });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nick_rules() {
        for ok in ["al", "Alice", "bob_2", "x-y", "abcdefghijklmnop"] {
            assert_eq!(validate_nick(ok), Ok(()), "{ok}");
        }
        assert!(matches!(
            validate_nick("a"),
            Err(NickError::Length { len: 1 })
        ));
        assert!(matches!(
            validate_nick("abcdefghijklmnopq"),
            Err(NickError::Length { .. })
        ));
        assert_eq!(validate_nick("1abc"), Err(NickError::FirstNotLetter));
        assert_eq!(validate_nick("_abc"), Err(NickError::FirstNotLetter));
        assert_eq!(
            validate_nick("ab c"),
            Err(NickError::BadChar { found: ' ' })
        );
        assert_eq!(validate_nick("abé"), Err(NickError::BadChar { found: 'é' }));
        assert!(matches!(
            validate_nick("SERVER"),
            Err(NickError::Reserved { .. })
        ));
        assert_eq!(nick_key("BoB"), nick_key("bob"));
    }

    #[test]
    fn text_rules() {
        assert_eq!(validate_text("hello\tworld", 20), Ok(()));
        assert_eq!(validate_text("  ", 20), Err(TextError::Empty));
        assert_eq!(
            validate_text("ééé", 2),
            Err(TextError::TooLong { len: 3, limit: 2 })
        );
        assert_eq!(
            validate_text("a\u{1b}[2J", 20),
            Err(TextError::ControlChar { found: '\u{1b}' })
        );
    }

    #[test]
    fn unknown_error_codes_are_tolerated() {
        let code: ErrorCode = serde_json::from_str("\"from_the_future_version\"").unwrap();
        assert_eq!(code, ErrorCode::Unknown);
        let code: ErrorCode = serde_json::from_str("\"nick_taken\"").unwrap();
        assert_eq!(code, ErrorCode::NickTaken);
    }

    #[test]
    fn a_welcome_from_an_older_server_has_a_student_and_no_roles() {
        let old = r#"{"type":"welcome","nick":"al","users":["al"],"version":2,"server":"x","max_text":9,"time":1}"#;
        let ServerEvent::Welcome { role, roles, .. } = serde_json::from_str(old).unwrap() else {
            panic!("not a welcome");
        };
        assert_eq!((role, roles.len()), (Role::Student, 0));
        // And what a newer server adds is ignored by an older reader: roles are extra fields.
        let joined = ServerEvent::Joined {
            room: DEFAULT_ROOM.into(),
            nick: "al".into(),
            time: 1,
            role: Role::Student,
        };
        assert_eq!(
            serde_json::to_string(&joined).unwrap(),
            r##"{"type":"joined","nick":"al","time":1}"##
        );
        // `room` is left out for #class only.
        let in_lab = ServerEvent::Joined {
            room: "#lab1".into(),
            nick: "al".into(),
            time: 1,
            role: Role::Student,
        };
        assert_eq!(
            serde_json::to_string(&in_lab).unwrap(),
            r##"{"type":"joined","room":"#lab1","nick":"al","time":1}"##
        );
    }

    #[test]
    fn room_rules() {
        for (given, folded) in [
            ("#lab1", "#lab1"),
            ("#Lab-1", "#lab-1"),
            ("#ab", "#ab"),
            ("#a_b", "#a_b"),
            ("#abcdefghijklmnopqrstuvwx", "#abcdefghijklmnopqrstuvwx"),
        ] {
            assert_eq!(validate_room(given).as_deref(), Ok(folded), "{given}");
        }
        for bad in [
            "lab1",
            "#a",
            "#",
            "##ab",
            "#lab 1",
            "#labé",
            "#abcdefghijklmnopqrstuvwxy",
            "",
            "#lab1\n",
        ] {
            assert!(validate_room(bad).is_err(), "{bad:?}");
        }
        let e = validate_room("nope").unwrap_err().to_string();
        assert!(e.contains("# plus 2 to 24"), "{e}");
    }

    /// Every event of the rooms additions, client and server, survives a round trip.
    #[test]
    fn room_events_round_trip() {
        let client = [
            r##"{"type":"join","room":"#lab1","since":41,"invite_only":true}"##,
            r##"{"type":"join","room":"#lab1"}"##,
            r##"{"type":"part","room":"#lab1","reason":"done"}"##,
            r#"{"type":"list"}"#,
            r##"{"type":"invite","nick":"bob","room":"#lab1"}"##,
            r##"{"type":"move","nick":"bob","room":"#lab1"}"##,
            r##"{"type":"groups","groups":[{"room":"#lab1","members":["alice","bob"]}]}"##,
            r##"{"type":"say","text":"hi","room":"#lab1"}"##,
            r##"{"type":"me","text":"waves","room":"#lab1"}"##,
            r##"{"type":"who","room":"#lab1"}"##,
            r##"{"type":"topic","text":"t","room":"#lab1"}"##,
            r##"{"type":"announce","text":"a","room":"#lab1","all":true}"##,
            r##"{"type":"quiet","on":true,"room":"#lab1"}"##,
            r##"{"type":"slow","seconds":3,"room":"#lab1"}"##,
        ];
        for json in client {
            let event: ClientEvent = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&event).unwrap(), json);
        }
        let server = [
            r##"{"type":"entered","room":"#lab1","users":["al","bo"],"roles":{"bo":"instructor"},"topic":"t","by":"bo","missed":3,"time":1}"##,
            r##"{"type":"entered","room":"#lab1","users":["al"],"time":1}"##,
            r##"{"type":"parted","room":"#lab1","reason":"moved","time":1}"##,
            r##"{"type":"rooms","rooms":[{"room":"#class","members":2},{"room":"#lab1","members":1,"topic":"t","invite_only":true}],"time":1}"##,
            r##"{"type":"invited","room":"#lab1","by":"al","time":1}"##,
            r##"{"type":"message","room":"#lab1","id":1,"from":"al","text":"x","time":1}"##,
            r##"{"type":"action","room":"#lab1","id":1,"from":"al","text":"x","time":1}"##,
            r##"{"type":"history","room":"#lab1","id":1,"kind":"message","from":"al","text":"x","time":1}"##,
            r##"{"type":"users","room":"#lab1","users":["al"],"time":1}"##,
            r##"{"type":"joined","room":"#lab1","nick":"al","time":1}"##,
            r##"{"type":"left","room":"#lab1","nick":"al","reason":"x","time":1}"##,
            r##"{"type":"topic","room":"#lab1","text":"x","by":"al","time":1}"##,
            r##"{"type":"announcement","room":"#lab1","from":"al","text":"x","time":1}"##,
            r##"{"type":"moderation","room":"#lab1","by":"al","action":"quiet","text":"x","time":1}"##,
        ];
        for json in server {
            let event: ServerEvent = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&event).unwrap(), json);
        }
        for code in [
            "room_invalid",
            "not_in_room",
            "no_such_room",
            "room_limit",
            "invite_only",
        ] {
            let parsed: ErrorCode = serde_json::from_str(&format!("\"{code}\"")).unwrap();
            assert_ne!(parsed, ErrorCode::Unknown, "{code}");
        }
    }

    /// What a peer that knows nothing of rooms sends and expects still parses: its events mean
    /// `#class`, and a rooms server's extra fields are ignored by an old reader.
    #[test]
    fn events_without_rooms_mean_class() {
        let ClientEvent::Say { room, .. } =
            serde_json::from_str(r#"{"type":"say","text":"x"}"#).unwrap()
        else {
            panic!("not a say");
        };
        assert_eq!(room, None);
        let ClientEvent::Who { room } = serde_json::from_str(r#"{"type":"who"}"#).unwrap() else {
            panic!("not a who");
        };
        assert_eq!(room, None);
        let old = r#"{"type":"message","id":1,"from":"al","text":"x","time":1}"#;
        let ServerEvent::Message { room, .. } = serde_json::from_str(old).unwrap() else {
            panic!("not a message");
        };
        assert_eq!(room, DEFAULT_ROOM);
        let old = r#"{"type":"welcome","nick":"al","users":["al"],"version":2,"server":"x","max_text":9,"time":1}"#;
        let ServerEvent::Welcome { room, .. } = serde_json::from_str(old).unwrap() else {
            panic!("not a welcome");
        };
        assert_eq!(room, DEFAULT_ROOM);
    }

    #[test]
    fn type_lists_match_the_enums() {
        let samples = [
            r#"{"type":"hello","nick":"al","version":2}"#,
            r#"{"type":"say","text":"x"}"#,
            r#"{"type":"me","text":"x"}"#,
            r#"{"type":"msg","to":"bo","text":"x"}"#,
            r#"{"type":"who"}"#,
            r#"{"type":"nick","nick":"al"}"#,
            r#"{"type":"ping","id":1}"#,
            r#"{"type":"pong","id":1}"#,
            r#"{"type":"confirm","mac":"x"}"#,
            r#"{"type":"bye"}"#,
            r#"{"type":"announce","text":"x"}"#,
            r#"{"type":"topic","text":"x"}"#,
            r#"{"type":"mute","nick":"al"}"#,
            r#"{"type":"unmute","nick":"al"}"#,
            r#"{"type":"kick","nick":"al"}"#,
            r#"{"type":"ban","nick":"al","minutes":3}"#,
            r#"{"type":"unban","nick":"al"}"#,
            r#"{"type":"quiet","on":true}"#,
            r#"{"type":"slow","seconds":3}"#,
            r#"{"type":"whois","nick":"al"}"#,
            r#"{"type":"reload"}"#,
            r##"{"type":"join","room":"#lab1"}"##,
            r##"{"type":"part","room":"#lab1"}"##,
            r#"{"type":"list"}"#,
            r##"{"type":"invite","nick":"bo","room":"#lab1"}"##,
            r##"{"type":"move","nick":"bo","room":"#lab1"}"##,
            r#"{"type":"groups","groups":[]}"#,
        ];
        assert_eq!(samples.len(), ClientEvent::TYPES.len());
        for (sample, name) in samples.iter().zip(ClientEvent::TYPES) {
            let event: ClientEvent = serde_json::from_str(sample).unwrap();
            let back = serde_json::to_value(&event).unwrap();
            assert_eq!(back["type"], *name);
        }
    }
}
