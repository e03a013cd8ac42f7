//! The session: the client's core loop, between a front end and the network.
//!
//! This module owns the conversation with the server once the handshake has succeeded: it
//! takes [`Command`]s from a front end, checks them against the server's limits, sends them;
//! it takes server events from the connection's reader thread, keeps the [`ChatState`], and
//! emits [`Update`]s for the front end to show. When the connection drops it reconnects with
//! exponential backoff and rejoins under the same nick, asking only for the room messages
//! said since the last one shown; it marks that gap and shows no message twice.
//!
//! It must not read the keyboard or write to the terminal (front ends do), and must not touch
//! bytes on the wire (the connection module does). Everything it talks to is a channel, so a
//! test can drive it exactly as a front end does.
//!
//! # Shutdown
//!
//! Dropping either channel ends the session: when the front end drops its command sender or
//! its update receiver, the session says `bye` to the server and returns. When the session
//! returns, its update sender is dropped, which tells the front end it is over.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvError, Sender, after, never, select, tick};

use crate::client::command::Command;
use crate::client::connection::{
    self, Connection, KexSetup, Link, Net, NetEvent, SendFailure, ServerAddr, Timeouts, Welcome,
};
use crate::client::error::{ConnectError, SessionError};
use crate::client::room::{MAX_GROUPS_FILE, parse_groups};
use crate::client::state::ChatState;
use crate::client::state::same_room;
use crate::client::transcript::Transcript;
use crate::client::update::{DEFAULT_ROOM, RoomSummary, Update, UpdateKind};
use crate::crypto::RoomKey;
use crate::protocol::event::{HistoryKind, validate_nick, validate_text};
use crate::protocol::{ClientEvent, ErrorCode, ServerEvent};

/// Updates waiting for a slow front end. When full the session waits, the reader waits
/// behind it, and TCP pushes back on the server: memory stays bounded.
const UPDATE_QUEUE: usize = 1024;

/// Commands waiting for the session.
const COMMAND_QUEUE: usize = 64;

/// Network events waiting for the session.
const NET_QUEUE: usize = 1024;

/// `/ping`s remembered while waiting for their pongs.
const MAX_PINGS_IN_FLIGHT: usize = 8;

/// After a kick, how much longer than the server's `retry_after` to wait before rejoining, so
/// that the server's wait is surely over.
const KICK_MARGIN: Duration = Duration::from_secs(1);

/// The longest kick wait this client honours by waiting (a day, the server's own limit): a
/// server that names more is not waited for beyond it.
const MAX_KICK_WAIT_SECS: u64 = 86_400;

/// When and how often to reconnect after losing the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Whether to reconnect at all (`--no-reconnect` turns it off).
    pub enabled: bool,
    /// The wait before the first attempt; it doubles after each failure.
    pub first_delay: Duration,
    /// The longest wait between attempts.
    pub max_delay: Duration,
    /// Give up after this many attempts; `None` tries forever.
    pub max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    /// 1, 2, 4, 8, 16, 30, 30... seconds, 10 attempts: 181 s of waiting, about three minutes
    /// with the attempts (as the README says), long enough for an instructor to restart a
    /// server, short enough that a forgotten client stops.
    fn default() -> Self {
        ReconnectPolicy {
            enabled: true,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_attempts: Some(10),
        }
    }
}

impl ReconnectPolicy {
    /// No reconnecting: a lost connection ends the session.
    pub fn off() -> ReconnectPolicy {
        ReconnectPolicy {
            enabled: false,
            ..ReconnectPolicy::default()
        }
    }

    /// The wait before attempt `attempt` (1-based): doubling from the first delay, capped.
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.first_delay
            .checked_mul(1 << doublings)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// Everything needed to connect: where, with which key, as whom, and how patiently.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The server.
    pub target: ServerAddr,
    /// The class key.
    pub key: RoomKey,
    /// The nick to join as.
    pub nick: String,
    /// Reconnecting after a lost connection.
    pub reconnect: ReconnectPolicy,
    /// Time limits.
    pub timeouts: Timeouts,
    /// The key exchange (`psk` unless told) and where server identities are pinned.
    pub kex: KexSetup,
}

impl ClientConfig {
    /// A configuration with the default reconnect policy and time limits.
    pub fn new(target: ServerAddr, key: RoomKey, nick: impl Into<String>) -> ClientConfig {
        ClientConfig {
            target,
            key,
            nick: nick.into(),
            reconnect: ReconnectPolicy::default(),
            timeouts: Timeouts::default(),
            kex: KexSetup::default(),
        }
    }
}

/// A read-only view of the session's [`ChatState`], for front ends (a prompt showing the
/// current nick, a user list). Cheap to clone; every clone sees the latest state.
#[derive(Debug, Clone)]
pub struct StateView(Arc<Mutex<ChatState>>);

impl StateView {
    /// A copy of the state as it is now.
    pub fn snapshot(&self) -> ChatState {
        self.0
            .lock()
            // The session never panics while holding the lock; if something did, the last
            // state written is still the best answer.
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    fn publish(&self, state: &ChatState) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = state.clone();
    }
}

/// A client that has joined the room and is ready to run.
#[derive(Debug)]
pub struct Session {
    config: ClientConfig,
    connection: Connection,
    view: StateView,
    transcript: Transcript,
}

impl Session {
    /// Connects to the server and joins as `config.nick`. Nothing runs in the background yet:
    /// a refusal here (nick taken, wrong key) can be handled by asking the user again.
    pub fn connect(config: ClientConfig) -> Result<Session, ConnectError> {
        // Started afresh: no `since`, so the server replays its recent history.
        let connection = connection::open(
            &config.target,
            &config.key,
            &config.nick,
            None,
            &config.timeouts,
            &config.kex,
        )?;
        let mut state = ChatState::new(&config.nick);
        state.target = config.target.to_string();
        state.fingerprint = Some(config.key.fingerprint());
        let welcome = &connection.welcome;
        state.welcomed(
            &welcome.nick,
            &welcome.users,
            welcome.max_text,
            &welcome.server,
        );
        Ok(Session {
            config,
            connection,
            view: StateView(Arc::new(Mutex::new(state))),
            transcript: Transcript::new(),
        })
    }

    /// Keeps the session's transcript in `transcript` (one with a `--log` file, say) instead
    /// of memory only. Both front ends get `/save` either way.
    pub fn with_transcript(mut self, transcript: Transcript) -> Session {
        self.transcript = transcript;
        self
    }

    /// What the server said when we joined.
    pub fn welcome(&self) -> &Welcome {
        &self.connection.welcome
    }

    /// A live view of the chat state.
    pub fn state(&self) -> StateView {
        self.view.clone()
    }

    /// Runs the core loop on this thread until the user quits, the front end goes away, or
    /// the session fails for good. The first update is `Connected` (or, if the joined
    /// connection cannot even start its threads, `Disconnected` and a reconnect).
    ///
    /// Returns `Ok(())` when the user (or the front end) ended it.
    pub fn run(
        self,
        commands: Receiver<Command>,
        updates: Sender<Update>,
    ) -> Result<(), SessionError> {
        let (net_tx, net_rx) = crossbeam_channel::bounded(NET_QUEUE);
        let Session {
            config,
            connection,
            view,
            transcript,
        } = self;
        let welcome = connection.welcome.clone();
        let mut core = Core {
            phase: Phase::Waiting {
                attempt: 0,
                timer: never(),
            },
            generation: 1,
            state: view.snapshot(),
            config,
            view,
            updates,
            front_end_gone: false,
            net_tx,
            pings: VecDeque::new(),
            keepalive_ping: None,
            next_ping: 1,
            transcript,
            away: None,
            rejoin_probe: None,
            joining: None,
        };
        match Link::start(
            connection,
            &core.config.key,
            core.generation,
            core.net_tx.clone(),
            &core.config.timeouts,
        ) {
            Ok(link) => {
                core.joined(link, &welcome, false);
            }
            Err(e) => {
                if let Some(end) = core.lost(format!("could not start the connection: {e}")) {
                    return end;
                }
            }
        }
        core.run(commands, net_rx)
    }

    /// Runs the session on its own thread, with fresh channels for a front end.
    pub fn spawn(self) -> std::io::Result<Spawned> {
        let (commands, command_rx) = crossbeam_channel::bounded(COMMAND_QUEUE);
        let (update_tx, updates) = crossbeam_channel::bounded(UPDATE_QUEUE);
        let state = self.state();
        let thread = thread::Builder::new()
            .name("fernchat-session".to_owned())
            .spawn(move || self.run(command_rx, update_tx))?;
        Ok(Spawned {
            commands,
            updates,
            state,
            thread: SessionThread(thread),
        })
    }
}

/// A session running on its own thread (from [`Session::spawn`]).
#[derive(Debug)]
pub struct Spawned {
    /// Send the user's commands here. Dropping it ends the session (with `bye`).
    pub commands: Sender<Command>,
    /// Updates to show. Disconnected once the session has ended: then call
    /// [`SessionThread::join`] for how it ended.
    pub updates: Receiver<Update>,
    /// The live chat state.
    pub state: StateView,
    /// The session's thread.
    pub thread: SessionThread,
}

/// The thread a session runs on.
#[derive(Debug)]
pub struct SessionThread(thread::JoinHandle<Result<(), SessionError>>);

impl SessionThread {
    /// Waits for the session to end and returns how it ended.
    pub fn join(self) -> Result<(), SessionError> {
        match self.0.join() {
            Ok(end) => end,
            // A panic is a bug in this crate; show it rather than hide it.
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

/// Where the connection is.
enum Phase {
    /// Joined and running.
    Up(Link),
    /// Waiting for `timer` before reconnect attempt `attempt`.
    Waiting {
        attempt: u32,
        timer: Receiver<Instant>,
    },
    /// Attempt `attempt` is dialling on a helper thread, so `/quit` still works meanwhile.
    Dialling {
        attempt: u32,
        result: Receiver<Result<Connection, ConnectError>>,
    },
}

/// The session loop's state.
struct Core {
    config: ClientConfig,
    state: ChatState,
    view: StateView,
    updates: Sender<Update>,
    /// Set when the front end stopped listening: time to leave.
    front_end_gone: bool,
    net_tx: Sender<NetEvent>,
    phase: Phase,
    /// Which connection is current; events from older ones are ignored.
    generation: u64,
    /// `/ping`s awaiting their pong: id and when it was sent.
    pings: VecDeque<(u64, Instant)>,
    /// The last keepalive ping awaiting its pong: its round trip keeps the lag in the state
    /// current for a status line, without showing a line for it.
    keepalive_ping: Option<(u64, Instant)>,
    next_ping: u64,
    /// Everything shown, for `/save` and `--log`.
    transcript: Transcript,
    /// After a rejoin, until the server's replay of what we missed in a room is over.
    away: Option<Away>,
    /// After a reconnect, until the pong of the ping sent after the rooms' `join`s: the rooms
    /// the server has not let us back into by then are dropped.
    rejoin_probe: Option<u64>,
    /// A `/join` the server has not answered yet: the room, and the ping sent after it. Until
    /// then what is typed for the current room goes to that room (a script's
    /// `/join #lab1` then `hi` means hi to #lab1); the server, which answers in order, has
    /// let us in by then or says why not.
    joining: Option<(String, u64)>,
}

/// A rejoin's gap in one room while the server replays it: how many of the room's messages
/// the welcome (for `#class`) or `entered` said we missed, and how many of them the replay has
/// shown so far.
#[derive(Debug, Clone)]
struct Away {
    room: String,
    missed: u64,
    replayed: u64,
}

type End = Result<(), SessionError>;

impl Core {
    fn run(mut self, commands: Receiver<Command>, net_rx: Receiver<NetEvent>) -> End {
        let keepalive = tick(self.config.timeouts.keepalive);
        loop {
            if self.front_end_gone {
                return self.quit(None, &net_rx);
            }
            // Cloned (cheap: a reference count) so the handlers below may borrow `self`.
            let (timer, dialled) = match &self.phase {
                Phase::Up(_) => (never(), never()),
                Phase::Waiting { timer, .. } => (timer.clone(), never()),
                Phase::Dialling { result, .. } => (never(), result.clone()),
            };
            let end = select! {
                recv(commands) -> command => match command {
                    Ok(Command::Quit(reason)) => return self.quit(reason, &net_rx),
                    Ok(command) => {
                        self.command(command);
                        None
                    }
                    // The front end has gone: leave politely.
                    Err(RecvError) => return self.quit(None, &net_rx),
                },
                // The session holds a sender, so this channel never disconnects.
                recv(net_rx) -> event => match event {
                    Ok(event) => self.network(event),
                    Err(RecvError) => None,
                },
                recv(timer) -> _ => {
                    self.dial();
                    None
                },
                recv(dialled) -> result => self.dialled(result),
                recv(keepalive) -> _ => {
                    self.keepalive();
                    None
                },
            };
            if let Some(end) = end {
                return end;
            }
        }
    }

    fn emit(&mut self, kind: UpdateKind) {
        self.emit_update(Update::now(kind));
    }

    /// Records an update in the transcript and hands it to the front end.
    fn emit_update(&mut self, update: Update) {
        let log_problem = self.transcript.record(&update);
        if self.updates.send(update).is_err() {
            self.front_end_gone = true;
        }
        if let Some(problem) = log_problem {
            self.local_error(format!("{problem}; the chat goes on without the log"));
        }
    }

    fn local_error(&mut self, text: String) {
        self.state.last_error = Some(text.clone());
        self.view.publish(&self.state);
        self.emit(UpdateKind::Error { code: None, text });
    }

    fn link(&self) -> Option<&Link> {
        match &self.phase {
            Phase::Up(link) => Some(link),
            _ => None,
        }
    }

    fn send(&mut self, event: ClientEvent) {
        let Some(link) = self.link() else {
            return;
        };
        match link.send(&event) {
            Ok(()) => {}
            Err(SendFailure::QueueFull) => self.local_error(
                "not sent: the server is not reading what we send (is it overloaded?)".to_owned(),
            ),
            // The reader reports why the connection ended; nothing to add here.
            Err(SendFailure::Closed) => {}
        }
    }

    fn check_text(&mut self, text: &str) -> bool {
        match validate_text(text, self.state.max_text) {
            Ok(()) => true,
            Err(e) => {
                self.local_error(format!("not sent: {e}"));
                false
            }
        }
    }

    fn command(&mut self, command: Command) {
        if let Command::Help = command {
            self.emit(UpdateKind::Help);
            if self.state.room.role.is_staff() {
                self.emit(UpdateKind::StaffHelp);
            }
            return;
        }
        if let Command::MeasureLag = command {
            self.keepalive();
            return;
        }
        if let Command::Switch(room) = &command {
            self.switch(room);
            return;
        }
        if let Command::Save(path) = &command {
            // Local, so it works while reconnecting too.
            match self.transcript.save(path) {
                Ok(lines) => self.emit(UpdateKind::Notice {
                    text: format!(
                        "saved {lines} lines to {} (plain text: anyone who can read the file reads the chat)",
                        path.display()
                    ),
                }),
                Err(e) => self.local_error(e.to_string()),
            }
            return;
        }
        if let Command::Nick(nick) = &command {
            if let Err(e) = validate_nick(nick) {
                self.local_error(format!("cannot use the nick {nick:?}: {e}"));
                return;
            }
            if *nick == self.state.nick {
                let text = format!("you are already {nick}");
                self.emit(UpdateKind::Notice { text });
                return;
            }
        }
        if self.link().is_none() {
            if let Command::Nick(nick) = command {
                // Remembered for the rejoin; nobody else needs to know yet.
                self.state.nick = nick.clone();
                self.view.publish(&self.state);
                let text = format!("not connected: you will rejoin as {nick}");
                self.emit(UpdateKind::Notice { text });
            } else {
                self.local_error("not connected (reconnecting): not sent".to_owned());
            }
            return;
        }
        match command {
            Command::Say(text) => {
                let room = self.typing_to();
                self.say(room, text, false);
            }
            Command::SayIn { room, text } => self.say(room, text, false),
            Command::Me(text) => {
                let room = self.typing_to();
                self.say(room, text, true);
            }
            Command::Msg { to, text } => {
                if let Err(e) = validate_nick(&to) {
                    self.local_error(format!("not sent: nobody can be called {to:?} ({e})"));
                } else if self.check_text(&text) {
                    self.send(ClientEvent::Msg { to, text });
                }
            }
            Command::Who(room) => {
                let room = room.unwrap_or_else(|| self.typing_to());
                self.send(ClientEvent::Who {
                    room: on_the_wire(&room),
                });
            }
            Command::Join { room, invite_only } => {
                // Already in it: a resync, asking only for what we have not shown.
                let since = self.state.last_message(&room);
                self.send(ClientEvent::Join {
                    room: room.clone(),
                    since,
                    invite_only,
                });
                let id = self.next_ping;
                self.next_ping += 1;
                self.joining = Some((room, id));
                self.send(ClientEvent::Ping { id });
            }
            Command::Part { room, reason } => {
                let room = room.unwrap_or_else(|| self.state.current.clone());
                if self.state.joined(&room).is_none() {
                    self.local_error(format!("you are not in {room}: nothing to leave"));
                    return;
                }
                let reason = reason.filter(|r| validate_text(r, self.state.max_text).is_ok());
                self.send(ClientEvent::Part { room, reason });
            }
            Command::List => self.send(ClientEvent::List),
            Command::Invite { nick, room } => {
                if let Err(e) = validate_nick(&nick) {
                    self.local_error(format!("not sent: nobody can be called {nick:?} ({e})"));
                } else {
                    self.send(ClientEvent::Invite { nick, room });
                }
            }
            Command::Move { nick, room } => {
                if let Err(e) = validate_nick(&nick) {
                    self.local_error(format!("not sent: nobody can be called {nick:?} ({e})"));
                } else {
                    self.send(ClientEvent::Move { nick, room });
                }
            }
            Command::Groups(path) => match read_groups(&path) {
                // A large class goes out as several events, each within the line limit.
                Ok(groups) => {
                    for groups in crate::client::room::in_frames(groups) {
                        self.send(ClientEvent::Groups { groups });
                    }
                }
                Err(e) => self.local_error(e),
            },
            Command::Staff(event) => {
                let event = in_room(event, &self.typing_to());
                self.send(event);
            }
            Command::Nick(nick) => self.send(ClientEvent::Nick { nick }),
            Command::Ping => {
                let id = self.next_ping;
                self.next_ping += 1;
                if self.pings.len() == MAX_PINGS_IN_FLIGHT {
                    self.pings.pop_front();
                }
                self.pings.push_back((id, Instant::now()));
                self.send(ClientEvent::Ping { id });
            }
            // Handled before we get here.
            Command::Help
            | Command::Save(_)
            | Command::Quit(_)
            | Command::MeasureLag
            | Command::Switch(_) => {}
        }
    }

    /// Where what is typed for the current room goes: the current room, or the room of a
    /// `/join` not answered yet (see [`Core::joining`]).
    fn typing_to(&self) -> String {
        match &self.joining {
            Some((room, _)) => room.clone(),
            None => self.state.current.clone(),
        }
    }

    /// Says `text` (an action if `action`) in `room`, which we must be in (or be joining):
    /// text meant for a group must never land in another room.
    fn say(&mut self, room: String, text: String, action: bool) {
        let joining = self
            .joining
            .as_ref()
            .is_some_and(|(joining, _)| same_room(joining, &room));
        if self.state.joined(&room).is_none() && !joining {
            self.local_error(format!(
                "not sent: you are not in {room} (/join {room} first; to say a line that starts \
                 with a room's name, start it with a space)"
            ));
            return;
        }
        if !self.check_text(&text) {
            return;
        }
        let room = on_the_wire(&room);
        if action {
            self.send(ClientEvent::Me { room, text });
        } else {
            self.send(ClientEvent::Say { room, text });
        }
    }

    /// `/switch`: local, so it works while reconnecting too.
    fn switch(&mut self, room: &str) {
        if self.state.switch(room) {
            // The user's own choice wins over a `/join` not answered yet: what they type next
            // goes to the room they now see, not to the one being joined.
            self.joining = None;
            self.view.publish(&self.state);
            let room = self.state.current.clone();
            self.emit(UpdateKind::Switched { room });
        } else {
            let joined: Vec<&str> = self.state.rooms.iter().map(|r| r.name.as_str()).collect();
            self.local_error(format!(
                "you are not in {room}: /join {room} first (your rooms: {})",
                joined.join(" ")
            ));
        }
    }

    /// A ping whose pong is not shown as a line: it only updates the lag in the state.
    fn keepalive(&mut self) {
        if self.link().is_some() {
            let id = self.next_ping;
            self.next_ping += 1;
            self.keepalive_ping = Some((id, Instant::now()));
            self.send(ClientEvent::Ping { id });
        }
    }

    fn network(&mut self, event: NetEvent) -> Option<End> {
        let current = matches!(&self.phase, Phase::Up(link) if link.generation == event.generation);
        if !current {
            // Late news from a connection we have already let go.
            return None;
        }
        match event.what {
            Net::Event(event) => self.server_event(event),
            Net::Dropped(text) => {
                self.local_error(text);
                None
            }
            Net::Closed(reason) => self.lost(reason),
        }
    }

    fn server_event(&mut self, event: ServerEvent) -> Option<End> {
        // The server sends a rejoin's replay (and its notices about it) before anything else.
        if !matches!(
            event,
            ServerEvent::History { .. }
                | ServerEvent::Notice { .. }
                | ServerEvent::Announcement { history: true, .. }
        ) {
            self.replay_over();
        }
        let kind = match event {
            // A repeat (by id) is not shown again; a new one is remembered as the last shown
            // and goes on to the arms below. See `ChatState::first_sight`.
            ServerEvent::Message { id, ref room, .. }
            | ServerEvent::Action { id, ref room, .. }
                if !self.state.first_sight(room, id, false) =>
            {
                return None;
            }
            ServerEvent::Message {
                room, from, text, ..
            } => UpdateKind::Message {
                room,
                own: self.state.is_me(&from),
                from,
                text,
            },
            ServerEvent::Action {
                room, from, text, ..
            } => UpdateKind::Action {
                room,
                own: self.state.is_me(&from),
                from,
                text,
            },
            ServerEvent::History {
                room,
                kind,
                id,
                from,
                text,
                time,
            } => {
                if !self.state.first_sight(&room, id, true) {
                    return None;
                }
                if let Some(away) = self.away.as_mut().filter(|a| same_room(&a.room, &room)) {
                    away.replayed += 1;
                }
                let kind = if kind == HistoryKind::Announcement {
                    // This server replays announcements as `announcement`; another may not.
                    self.state.announced(&room, &from, &text, None);
                    UpdateKind::Announcement {
                        room,
                        from,
                        text,
                        history: true,
                    }
                } else {
                    UpdateKind::History {
                        room,
                        own: self.state.is_me(&from),
                        action: kind == HistoryKind::Action,
                        from,
                        text,
                    }
                };
                // Stamped with when it was said, not when it was replayed.
                self.emit_update(Update { at: time, kind });
                return None;
            }
            // A private message is ours only if it is to us, or from us (the echo of one we
            // sent); one that names someone else was moved here from another stream.
            ServerEvent::Private { from, to, .. }
                if !self.state.is_me(&to) && !self.state.is_me(&from) =>
            {
                self.local_error(format!(
                    "ignored a private message from {} to {}: it is not addressed to you",
                    crate::client::display::clean(&from, 40),
                    crate::client::display::clean(&to, 40)
                ));
                return None;
            }
            ServerEvent::Private { from, to, text, .. } => UpdateKind::Private {
                outgoing: self.state.is_me(&from),
                from,
                to,
                text,
            },
            ServerEvent::Users {
                room, users, roles, ..
            } => {
                self.state.set_users(&room, &users, &roles);
                let users = match self.state.joined(&room) {
                    Some(joined) => joined.marked_users(),
                    // `/who #other`: a room we are not in, listed as the server sent it.
                    None => {
                        let mut info = crate::client::room::RoomInfo::default();
                        info.set_roles(&roles);
                        let listed = users.iter().take(crate::client::state::MAX_USERS);
                        listed.map(|nick| info.marked(nick)).collect()
                    }
                };
                UpdateKind::Users { room, users }
            }
            ServerEvent::Joined {
                room, nick, role, ..
            } => {
                self.state.add_user(&room, &nick, role);
                UpdateKind::Joined { room, nick }
            }
            ServerEvent::Left {
                room, nick, reason, ..
            } => {
                self.state.remove_user(&room, &nick);
                UpdateKind::Left { room, nick, reason }
            }
            ServerEvent::Renamed { from, to, .. } => {
                let own = self.state.rename(&from, &to);
                UpdateKind::Renamed { from, to, own }
            }
            ServerEvent::Notice { text, .. } => UpdateKind::Notice { text },
            // Moderation (issue 15): the latest announcement and the topic stay in the state.
            // An announcement has a room id (newer servers): a live one is a room record like
            // a message (shown once, by id). A replayed one (`history`) comes in its place in
            // the replay, or after it when it is older than the replay (the latest, for the
            // status bar): a repeat only if it is the one already in view.
            ServerEvent::Announcement {
                ref room,
                id: Some(id),
                history: false,
                ..
            } if !self.state.first_sight(room, id, false) => return None,
            ServerEvent::Announcement {
                ref room,
                id: Some(id),
                history: true,
                ..
            } if self.state.announcement_id(room) == Some(id) => return None,
            ServerEvent::Announcement {
                room,
                from,
                text,
                time,
                history,
                id,
            } => {
                self.state.announced(&room, &from, &text, id);
                if !history {
                    UpdateKind::Announcement {
                        room,
                        from,
                        text,
                        history,
                    }
                } else {
                    // Newer than the last shown: the rejoin's `since` now covers it.
                    if let Some(id) = id {
                        let _ = self.state.first_sight(&room, id, true);
                    }
                    if let Some(away) = self.away.as_mut().filter(|a| same_room(&a.room, &room)) {
                        away.replayed += 1;
                    }
                    let kind = UpdateKind::Announcement {
                        room,
                        from,
                        text,
                        history,
                    };
                    // Stamped with when it was made, not when it was replayed.
                    self.emit_update(Update { at: time, kind });
                    return None;
                }
            }
            ServerEvent::Topic { room, text, by, .. } => {
                self.state.set_topic(&room, &text, &by);
                UpdateKind::Topic { room, text, by }
            }
            ServerEvent::Moderation { room, text, .. } => UpdateKind::Moderation { room, text },
            ServerEvent::Whois {
                nick,
                role,
                login,
                address,
                key,
                since,
                muted,
                client,
            } => UpdateKind::Notice {
                text: format!(
                    "whois {nick}: {role}{}, from {address}, key {key}, joined {}{}, client: {}",
                    login.map_or(String::new(), |l| format!(" (roster login {l})")),
                    crate::client::display::hhmm(since),
                    if muted { ", muted" } else { "" },
                    client.as_deref().unwrap_or("not sent")
                ),
            },
            ServerEvent::Error { code, message, .. } => {
                self.state.last_error = Some(message.clone());
                UpdateKind::Error {
                    code: Some(code),
                    text: message,
                }
            }
            ServerEvent::Pong { id } if self.rejoin_probe == Some(id) => {
                self.rejoins_answered();
                return None;
            }
            // The `/join` was answered before this: refused, if we are not in the room by now
            // (the server's error said why).
            ServerEvent::Pong { id } if self.joining.as_ref().is_some_and(|(_, p)| *p == id) => {
                self.joining = None;
                return None;
            }
            ServerEvent::Pong { id } => {
                if let Some((_, sent_at)) = self.keepalive_ping.filter(|(sent, _)| *sent == id) {
                    self.keepalive_ping = None;
                    self.state.lag_millis = Some(millis_since(sent_at));
                    self.view.publish(&self.state);
                    return None;
                }
                let Some(at) = self.pings.iter().position(|(sent, _)| *sent == id) else {
                    // Not ours, or too old to remember: nothing to measure.
                    return None;
                };
                let (_, sent_at) = self.pings.remove(at)?;
                let millis = millis_since(sent_at);
                self.state.lag_millis = Some(millis);
                UpdateKind::Lag { millis }
            }
            ServerEvent::Bye {
                code,
                reason,
                retry_after,
                ..
            } => return self.server_bye(code, &reason, retry_after),
            // The reader answers pings and applies rekeys; a second welcome means nothing.
            ServerEvent::Ping { .. }
            | ServerEvent::Rekey { .. }
            | ServerEvent::Welcome { .. }
            | ServerEvent::Handshake { .. } => {
                return None;
            }
            // Rooms (issue 16).
            ServerEvent::Entered {
                room,
                users,
                roles,
                topic,
                by,
                missed,
                ..
            } => return self.entered(room, &users, &roles, topic, by, missed),
            ServerEvent::Parted { room, reason, .. } => {
                let was_current = same_room(&room, &self.state.current);
                self.state.parted(&room);
                self.view.publish(&self.state);
                self.emit(UpdateKind::Parted { room, reason });
                if was_current && self.state.current_room().is_some() {
                    let room = self.state.current.clone();
                    self.emit(UpdateKind::Switched { room });
                }
                return None;
            }
            ServerEvent::Rooms { rooms, .. } => UpdateKind::RoomList {
                rooms: rooms
                    .into_iter()
                    .take(crate::client::state::MAX_ROOMS * 10)
                    .map(|r| RoomSummary {
                        room: r.room,
                        members: u64::try_from(r.members).unwrap_or(u64::MAX),
                        topic: r.topic,
                        invite_only: r.invite_only,
                    })
                    .collect(),
            },
            ServerEvent::Invited { room, by, .. } => UpdateKind::Invited { room, by },
        };
        self.view.publish(&self.state);
        self.emit(kind);
        None
    }

    /// The server put us in `room` (our `/join`, a staff `/move`, or a rejoin after a
    /// reconnect). A room we asked for or were moved to becomes the current one; a rejoined
    /// room does not (we are still where we were).
    fn entered(
        &mut self,
        room: String,
        users: &[String],
        roles: &std::collections::BTreeMap<String, crate::role::Role>,
        topic: Option<String>,
        by: Option<String>,
        missed: Option<u64>,
    ) -> Option<End> {
        let Ok(room) = crate::protocol::event::validate_room(&room) else {
            let shown = crate::client::display::clean(&room, 40);
            self.local_error(format!("ignored entering {shown:?}: it is not a room name"));
            return None;
        };
        let rejoined = self.state.joined(&room).is_some_and(|r| r.rejoining);
        if self
            .joining
            .as_ref()
            .is_some_and(|(joining, _)| same_room(joining, &room))
        {
            self.joining = None;
        }
        let topic_by = topic.as_ref().map(|t| (t.clone(), String::new()));
        if self.state.entered(&room, users, topic_by).is_none() {
            self.local_error(format!(
                "ignored entering {room}: this client keeps at most {} rooms",
                crate::client::state::MAX_ROOMS
            ));
            return None;
        }
        self.state.set_users(&room, users, roles);
        let switch = !rejoined && !same_room(&room, &self.state.current);
        if switch {
            self.state.switch(&room);
        }
        self.view.publish(&self.state);
        self.emit(UpdateKind::Entered {
            users: self.marked_users(&room),
            room: room.clone(),
            topic,
            by,
        });
        if rejoined && let Some(missed) = missed {
            self.emit(UpdateKind::Away {
                room: room.clone(),
                missed,
            });
            if missed > 0 {
                self.away = Some(Away {
                    room: room.clone(),
                    missed,
                    replayed: 0,
                });
            }
        }
        if switch {
            self.emit(UpdateKind::Switched { room });
        }
        None
    }

    /// The rooms' rejoins after a reconnect have all been answered (the pong of the ping sent
    /// after them is here): a room the server did not let us back into (it became
    /// invite-only, the limit was reached) is dropped, and said so.
    fn rejoins_answered(&mut self) {
        self.rejoin_probe = None;
        let before = self.state.current.clone();
        for (room, _) in self.state.rooms_to_rejoin() {
            self.state.parted(&room);
            self.view.publish(&self.state);
            self.emit(UpdateKind::Parted {
                room,
                reason: "could not rejoin it after the reconnect".to_owned(),
            });
        }
        if !same_room(&before, &self.state.current) {
            let room = self.state.current.clone();
            self.emit(UpdateKind::Switched { room });
        }
    }

    /// The replay after a rejoin is over: say so if it left out some of what we missed (the
    /// server replays only its recent history).
    fn replay_over(&mut self) {
        let Some(away) = self.away.take() else {
            return;
        };
        let (missed, left_out) = (away.missed, away.missed.saturating_sub(away.replayed));
        // #class's gap is told as it was before rooms; another room's names it.
        let room = if same_room(&away.room, DEFAULT_ROOM) {
            String::new()
        } else {
            format!("{}: ", away.room)
        };
        let text = match (left_out, away.replayed) {
            (0, _) => return,
            (_, 0) => format!(
                "{room}none of them can be shown: the server keeps no history that far back \
                 (or none at all)"
            ),
            (1, _) => format!(
                "{room}1 of the {missed} messages said while you were away is not shown: \
                 too many for the server to replay"
            ),
            (n, _) => format!(
                "{room}{n} of the {missed} messages said while you were away are not shown: \
                 too many for the server to replay"
            ),
        };
        self.emit(UpdateKind::Notice { text });
    }

    /// The server is closing our connection and said why.
    fn server_bye(
        &mut self,
        code: ErrorCode,
        reason: &str,
        retry_after: Option<u64>,
    ) -> Option<End> {
        let reason = crate::client::display::clean(reason, 500);
        // A restart, a stall or a sleeping laptop is worth reconnecting after; being removed
        // for flooding or for a protocol error would only repeat.
        let worth_reconnecting = matches!(
            code,
            ErrorCode::Shutdown | ErrorCode::IdleTimeout | ErrorCode::TooSlow
        );
        if worth_reconnecting {
            return self.lost(format!("the server closed the connection: {reason}"));
        }
        // A kick is over after the server's wait (its `retry_after`): come back by itself then,
        // a little after, so that the server's clock has passed it too. A ban is not over by
        // itself, and `--no-reconnect` means never.
        if code == ErrorCode::Kicked && self.config.reconnect.enabled {
            let wait =
                Duration::from_secs(retry_after.unwrap_or(0).min(MAX_KICK_WAIT_SECS)) + KICK_MARGIN;
            let note = format!(
                "you were kicked; this client will reconnect by itself in {} s, once the \
                 server lets you back (/quit to leave instead)",
                wait.as_secs()
            );
            return self.lost_for(
                format!("the server removed you: {reason}"),
                Some((wait, note)),
            );
        }
        self.phase = Phase::Waiting {
            attempt: 0,
            timer: never(),
        };
        self.state.disconnected();
        self.view.publish(&self.state);
        self.emit(UpdateKind::Disconnected {
            reason: format!("the server removed you: {reason}"),
        });
        Some(Err(SessionError::Removed { code, reason }))
    }

    /// The connection is gone: reconnect, or end if reconnecting is off.
    fn lost(&mut self, reason: String) -> Option<End> {
        self.lost_for(reason, None)
    }

    /// [`Self::lost`], with the first attempt after `first`'s delay instead of the policy's,
    /// and its note said right after the disconnection.
    fn lost_for(&mut self, reason: String, first: Option<(Duration, String)>) -> Option<End> {
        // Dropping the link closes the socket and ends its threads.
        self.phase = Phase::Waiting {
            attempt: 0,
            timer: never(),
        };
        self.pings.clear();
        self.keepalive_ping = None;
        self.state.disconnected();
        self.view.publish(&self.state);
        self.emit(UpdateKind::Disconnected {
            reason: reason.clone(),
        });
        if !self.config.reconnect.enabled {
            return Some(Err(SessionError::Lost { reason }));
        }
        match first {
            Some((delay, note)) => {
                self.emit(UpdateKind::Notice { text: note });
                self.schedule_after(1, delay);
            }
            None => self.schedule(1),
        }
        None
    }

    fn schedule(&mut self, attempt: u32) {
        self.schedule_after(attempt, self.config.reconnect.delay(attempt));
    }

    fn schedule_after(&mut self, attempt: u32, delay: Duration) {
        self.emit(UpdateKind::Reconnecting {
            attempt,
            max_attempts: self.config.reconnect.max_attempts,
            delay_secs: delay.as_secs() + u64::from(delay.subsec_nanos() > 0),
        });
        self.phase = Phase::Waiting {
            attempt,
            timer: after(delay),
        };
    }

    fn dial(&mut self) {
        let attempt = match &self.phase {
            Phase::Waiting { attempt, .. } => *attempt,
            _ => return,
        };
        let (done, result) = crossbeam_channel::bounded(1);
        let target = self.config.target.clone();
        let key = self.config.key.clone();
        let nick = self.state.nick.clone();
        // Only what we have not shown yet, please.
        let since = self.state.last_message(DEFAULT_ROOM);
        let timeouts = self.config.timeouts;
        let setup = self.config.kex.clone();
        let spawned = thread::Builder::new()
            .name("fernchat-dial".to_owned())
            .spawn(move || {
                // If the session has ended meanwhile, nobody receives this: the connection
                // is dropped and closed here.
                let opened = connection::open(&target, &key, &nick, since, &timeouts, &setup);
                let _ = done.send(opened);
            });
        match spawned {
            Ok(_) => self.phase = Phase::Dialling { attempt, result },
            Err(e) => {
                let reason = format!("could not start a thread: {e}");
                self.emit(UpdateKind::ReconnectFailed { attempt, reason });
                self.schedule(attempt.saturating_add(1));
            }
        }
    }

    fn dialled(
        &mut self,
        result: Result<Result<Connection, ConnectError>, RecvError>,
    ) -> Option<End> {
        let attempt = match &self.phase {
            Phase::Dialling { attempt, .. } => *attempt,
            _ => return None,
        };
        let failure = match result {
            Ok(Ok(connection)) => {
                let welcome = connection.welcome.clone();
                self.generation += 1;
                match Link::start(
                    connection,
                    &self.config.key,
                    self.generation,
                    self.net_tx.clone(),
                    &self.config.timeouts,
                ) {
                    Ok(link) => {
                        self.joined(link, &welcome, true);
                        return None;
                    }
                    Err(e) => ConnectError::Io {
                        target: self.config.target.to_string(),
                        source: e,
                    },
                }
            }
            Ok(Err(failure)) => failure,
            Err(RecvError) => ConnectError::Io {
                target: self.config.target.to_string(),
                source: std::io::Error::other("the dialling thread stopped"),
            },
        };
        if !failure.worth_retrying() {
            self.local_error(failure.to_string());
            return Some(Err(SessionError::Rejoin(failure)));
        }
        self.emit(UpdateKind::ReconnectFailed {
            attempt,
            reason: failure.to_string(),
        });
        if self
            .config
            .reconnect
            .max_attempts
            .is_some_and(|max| attempt >= max)
        {
            return Some(Err(SessionError::GaveUp {
                attempts: attempt,
                last: failure,
            }));
        }
        self.schedule(attempt + 1);
        None
    }

    fn joined(&mut self, link: Link, welcome: &Welcome, reconnected: bool) {
        self.phase = Phase::Up(link);
        self.state.welcomed(
            &welcome.nick,
            &welcome.users,
            welcome.max_text,
            &welcome.server,
        );
        self.state.set_own_role(welcome.role);
        self.state
            .set_users(DEFAULT_ROOM, &welcome.users, &welcome.roles);
        self.view.publish(&self.state);
        self.emit(UpdateKind::Connected {
            nick: welcome.nick.clone(),
            users: self.marked_users(DEFAULT_ROOM),
            server: welcome.server.clone(),
            target: self.config.target.to_string(),
            reconnected,
        });
        // Back after a lost connection: mark the gap; the replay of it follows.
        self.away = None;
        self.rejoin_probe = None;
        self.joining = None;
        if !reconnected {
            return;
        }
        if let Some(missed) = welcome.missed {
            self.emit(UpdateKind::Away {
                room: DEFAULT_ROOM.to_owned(),
                missed,
            });
            if missed > 0 {
                self.away = Some(Away {
                    room: DEFAULT_ROOM.to_owned(),
                    missed,
                    replayed: 0,
                });
            }
        }
        // The welcome put us back in #class; every other room we were in is joined again,
        // asking only for what came after the last message shown there.
        let rejoins = self.state.rooms_to_rejoin();
        for (room, since) in &rejoins {
            self.send(ClientEvent::Join {
                room: room.clone(),
                since: *since,
                invite_only: false,
            });
        }
        if self.away.is_some() || !rejoins.is_empty() {
            // The server answers in order, after the replays and the rooms' answers: its
            // pong says they are all over.
            let id = self.next_ping;
            self.next_ping += 1;
            self.rejoin_probe = Some(id);
            self.send(ClientEvent::Ping { id });
        }
    }

    /// The users of `room` with their role marks (`@prof`, `%tom`), for lines that list them.
    fn marked_users(&self, room: &str) -> Vec<String> {
        self.state
            .joined(room)
            .map(|r| r.marked_users())
            .unwrap_or_default()
    }

    /// Says `bye`, waits (bounded) for the server to close so the bye and everything queued
    /// before it arrive, and ends the session.
    fn quit(mut self, reason: Option<String>, net_rx: &Receiver<NetEvent>) -> End {
        // A reason that breaks the text rules would get the bye refused; leave without one.
        let reason = reason.filter(|r| validate_text(r, self.state.max_text).is_ok());
        let said_bye = match &self.phase {
            Phase::Up(link) => {
                let sent = link.send(&ClientEvent::Bye {
                    reason: reason.clone(),
                });
                link.finish();
                sent.is_ok().then_some(link.generation)
            }
            _ => None,
        };
        if let Some(generation) = said_bye {
            // The server handles events in order, so everything it answered before our bye
            // (a /who, the echo of a last message) arrives before it closes: show it.
            let deadline = after(self.config.timeouts.quit);
            loop {
                select! {
                    recv(net_rx) -> event => match event {
                        Ok(NetEvent { generation: g, what }) if g == generation => match what {
                            Net::Closed(_) => break,
                            Net::Event(ServerEvent::Bye { .. }) | Net::Dropped(_) => {}
                            Net::Event(event) => {
                                let _ = self.server_event(event);
                            }
                        },
                        Ok(_) => {}
                        Err(RecvError) => break,
                    },
                    recv(deadline) -> _ => break,
                }
            }
        }
        self.phase = Phase::Waiting {
            attempt: 0,
            timer: never(),
        };
        self.state.disconnected();
        self.view.publish(&self.state);
        self.emit(UpdateKind::Quit { reason });
        Ok(())
    }
}

/// The `room` field of an event for `room`: absent for `#class`, so what this client sends
/// there is what it sent before rooms (and what a server without rooms understands).
fn on_the_wire(room: &str) -> Option<String> {
    (!same_room(room, DEFAULT_ROOM)).then(|| room.to_owned())
}

/// A staff command for the current room gets its room (`/announce --all` goes everywhere).
fn in_room(event: ClientEvent, current: &str) -> ClientEvent {
    let here = on_the_wire(current);
    match event {
        ClientEvent::Announce { text, all, .. } => ClientEvent::Announce {
            room: if all { None } else { here },
            all,
            text,
        },
        ClientEvent::Topic { text, .. } => ClientEvent::Topic { room: here, text },
        ClientEvent::Quiet { on, .. } => ClientEvent::Quiet { room: here, on },
        ClientEvent::Slow { seconds, .. } => ClientEvent::Slow {
            room: here,
            seconds,
        },
        other => other,
    }
}

/// Reads and checks a `/groups` file; the error says what to fix, with the line.
fn read_groups(path: &std::path::Path) -> Result<Vec<crate::protocol::event::Group>, String> {
    use std::io::Read;
    let problem = |why: String| format!("not sent: the groups file {}: {why}", path.display());
    let file = std::fs::File::open(path).map_err(|e| problem(format!("cannot read it ({e})")))?;
    let mut bytes = Vec::new();
    file.take(MAX_GROUPS_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| problem(format!("cannot read it ({e})")))?;
    if bytes.len() as u64 > MAX_GROUPS_FILE {
        return Err(problem(format!(
            "it is larger than {} KiB: is it the right file? One line per room, e.g. `#lab1 alice bob`",
            MAX_GROUPS_FILE / 1024
        )));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| problem("it is not UTF-8 text: save it as plain text".to_owned()))?;
    parse_groups(&text).map_err(|e| problem(e.to_string()))
}

/// Milliseconds since `at`, saturating.
fn millis_since(at: Instant) -> u64 {
    u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let policy = ReconnectPolicy::default();
        let secs: Vec<u64> = (1..=8).map(|n| policy.delay(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(policy.delay(0), Duration::from_secs(1));
        assert_eq!(policy.delay(u32::MAX), Duration::from_secs(30));
    }
}
