//! The driver: the full-screen client's event loop, between the terminal, the app and the
//! session.
//!
//! This module owns the order of things: it waits (without spinning) for whichever comes
//! first — a terminal event, a session update, the result of connecting, an interrupt
//! signal, or the once-a-second tick that moves the clock and countdowns — hands it to the
//! [`App`], carries out the app's [`Effect`]s (send a command, connect on a helper thread so
//! the screen stays alive, leave), and redraws. It is generic over the ratatui backend and
//! takes events from a channel, so tests drive it with `TestBackend` and synthetic key
//! events against a real server.
//!
//! It must not speak the protocol (the session does) nor decide what keys mean (the app
//! does), and it must not set up or restore the terminal (the guard in
//! [`super::terminal`] does).

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvError, Sender, TrySendError, never, select, tick};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::Backend;

use crate::client::command::Command;
use crate::client::error::{ClientError, ConnectError, SessionError};
use crate::client::pins::Pin;
use crate::client::session::{ClientConfig, Session, SessionThread, Spawned, StateView};
use crate::client::transcript::Transcript;
use crate::client::tui::app::{App, Effect, Mode};
use crate::client::tui::{draw, terminal};
use crate::client::update::{Update, UpdateKind};
use crate::client::{KexSetup, ReconnectPolicy, ServerAddr, Timeouts, display};
use crate::crypto::RoomKey;
use crate::protocol::event::validate_nick;

/// How the chat ended, for the caller to print and exit with.
#[derive(Debug)]
pub enum Finish {
    /// The user left. `last` is the session's `Quit` update, for the final line; `None` when
    /// the user left before joining.
    Left {
        /// The last thing the session said.
        last: Option<Update>,
    },
    /// It failed: the same error, message and exit code as line mode.
    Failed(ClientError),
    /// A second Ctrl-C: leave without waiting for the server.
    Forced,
}

/// Where to connect and how, for the driver to join (and join again under another nick).
#[derive(Debug, Clone)]
pub struct Target {
    /// The server.
    pub addr: ServerAddr,
    /// The class key.
    pub key: RoomKey,
    /// Reconnecting after a lost connection.
    pub reconnect: ReconnectPolicy,
    /// Time limits.
    pub timeouts: Timeouts,
    /// The key exchange and the identity pins.
    pub kex: KexSetup,
}

enum Phase {
    /// Nothing running: asking for a nick.
    Idle,
    /// Joining on a helper thread.
    Connecting(Receiver<Result<Session, ConnectError>>),
    /// The session runs.
    Running {
        commands: Sender<Command>,
        updates: Receiver<Update>,
        state: StateView,
        thread: Option<SessionThread>,
    },
    /// The session ended on its own; the user is reading why.
    Ended(SessionError),
}

/// The event loop's state.
pub struct Driver<B: Backend> {
    /// The terminal drawn on.
    pub terminal: Terminal<B>,
    /// The view model.
    pub app: App,
    target: Target,
    events: Receiver<Event>,
    interrupts: Receiver<()>,
    ticks: Receiver<Instant>,
    phase: Phase,
    dirty: bool,
    clear: bool,
    last: Option<Update>,
    /// Handed to the session once it is joined (`--log`, `/save`).
    transcript: Option<Transcript>,
}

fn terminal_error(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl<B: Backend> Driver<B> {
    /// A driver that joins at once when the app has a valid nick, and asks for one otherwise.
    /// `events` are the terminal's, `interrupts` are signals asking to leave (Ctrl-C from
    /// outside the terminal, a hang-up).
    pub fn new(
        terminal: Terminal<B>,
        app: App,
        target: Target,
        events: Receiver<Event>,
        interrupts: Receiver<()>,
    ) -> Driver<B> {
        let mut driver = Driver {
            terminal,
            app,
            target,
            events,
            interrupts,
            ticks: tick(Duration::from_secs(1)),
            phase: Phase::Idle,
            dirty: true,
            clear: false,
            last: None,
            transcript: None,
        };
        let nick = driver.app.state.nick.clone();
        if nick.is_empty() {
            driver.app.ask_nick(None);
        } else if let Err(e) = validate_nick(&nick) {
            driver
                .app
                .ask_nick(Some(format!("the nick {nick:?} cannot be used: {e}")));
        } else {
            driver.app.connecting(&nick);
            driver.join(nick);
        }
        driver
    }

    /// Draws the screen if anything changed since the last time.
    pub fn draw(&mut self) -> io::Result<()> {
        // After a panic restored the terminal, drawing would paint over its message.
        if !self.dirty || terminal::panicked() {
            return Ok(());
        }
        if self.clear {
            self.terminal.clear().map_err(terminal_error)?;
            self.clear = false;
        }
        let app = &self.app;
        self.terminal
            .draw(|frame| draw::draw(frame, app))
            .map_err(terminal_error)?;
        self.dirty = false;
        Ok(())
    }

    /// Draws, waits up to `wait` for one thing to happen, handles it and draws again.
    /// Returns how the chat ended, once it has.
    pub fn turn(&mut self, wait: Duration) -> io::Result<Option<Finish>> {
        self.draw()?;
        let connecting = match &self.phase {
            Phase::Connecting(result) => result.clone(),
            _ => never(),
        };
        let updates = match &self.phase {
            Phase::Running { updates, .. } => updates.clone(),
            _ => never(),
        };
        let finish = select! {
            recv(self.events) -> event => match event {
                Ok(event) => self.event(event),
                Err(RecvError) => {
                    // The terminal stopped giving events: leave as after Ctrl-C.
                    self.events = never();
                    self.interrupt()
                }
            },
            recv(self.interrupts) -> signal => match signal {
                Ok(()) => self.interrupt(),
                Err(RecvError) => {
                    self.interrupts = never();
                    None
                }
            },
            recv(connecting) -> result => self.connected(result),
            recv(updates) -> update => self.update(update),
            recv(self.ticks) -> now => {
                let now = now.unwrap_or_else(|_| Instant::now());
                self.app.tick(now, display::hhmm(crate::protocol::unix_millis()));
                // What the session measured without an update of its own (the lag from
                // its silent pings) reaches the status line within a second.
                if let Phase::Running { state, .. } = &self.phase {
                    self.app.state = state.snapshot();
                }
                None
            },
            default(wait) => return Ok(None),
        };
        self.dirty = true;
        if finish.is_none() {
            self.draw()?;
        }
        Ok(finish)
    }

    /// Turns until the chat ends.
    pub fn run(&mut self) -> io::Result<Finish> {
        loop {
            // The tick wakes the loop every second anyway; this only bounds each wait.
            if let Some(finish) = self.turn(Duration::from_secs(60))? {
                return Ok(finish);
            }
        }
    }

    fn interrupt(&mut self) -> Option<Finish> {
        let effect = self
            .app
            .key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        self.effect(effect)
    }

    fn event(&mut self, event: Event) -> Option<Finish> {
        match event {
            Event::Key(key) => {
                let effect = self.app.key(key);
                self.effect(effect)
            }
            Event::Mouse(mouse) => {
                let effect = self.app.mouse(mouse);
                self.effect(effect)
            }
            Event::Paste(text) => {
                self.app.paste(&text);
                None
            }
            Event::Resize(width, height) => {
                self.app.resize(width, height);
                None
            }
            Event::FocusGained | Event::FocusLost => None,
        }
    }

    fn effect(&mut self, effect: Option<Effect>) -> Option<Finish> {
        match effect? {
            Effect::Send(command) => {
                if let Phase::Running { commands, .. } = &self.phase {
                    match commands.try_send(command) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => self
                            .app
                            .error("not sent: the client is busy; try again".to_owned()),
                        // The session has ended; its updates channel says why, next turn.
                        Err(TrySendError::Disconnected(_)) => {}
                    }
                }
                None
            }
            Effect::Join(nick) => {
                self.join(nick);
                None
            }
            Effect::Exit => match std::mem::replace(&mut self.phase, Phase::Idle) {
                Phase::Ended(e) => Some(Finish::Failed(e.into())),
                _ => Some(Finish::Left { last: None }),
            },
            Effect::ForceExit => Some(Finish::Forced),
            Effect::Redraw => {
                self.clear = true;
                None
            }
        }
    }

    /// Keeps the session's transcript in `transcript` (one with a `--log` file) instead of a
    /// fresh in-memory one.
    pub fn with_transcript(mut self, transcript: Transcript) -> Driver<B> {
        self.transcript = Some(transcript);
        self
    }

    /// Connects on a helper thread, so the screen keeps answering (resizes, Ctrl-C) while a
    /// slow network takes its time.
    fn join(&mut self, nick: String) {
        let config = ClientConfig {
            target: self.target.addr.clone(),
            key: self.target.key.clone(),
            nick,
            reconnect: self.target.reconnect,
            timeouts: self.target.timeouts,
            kex: self.target.kex.clone(),
        };
        let (done, result) = crossbeam_channel::bounded(1);
        let spawned = thread::Builder::new()
            .name("fernchat-connect".to_owned())
            .spawn(move || {
                let _ = done.send(Session::connect(config));
            });
        match spawned {
            Ok(_) => self.phase = Phase::Connecting(result),
            Err(e) => {
                self.app
                    .ask_nick(Some(format!("could not start connecting: {e}")));
                self.phase = Phase::Idle;
            }
        }
    }

    fn connected(
        &mut self,
        result: Result<Result<Session, ConnectError>, RecvError>,
    ) -> Option<Finish> {
        self.phase = Phase::Idle;
        match result {
            Ok(Ok(session)) => {
                // What the key exchange established (pinned identities), once, in the pane.
                // A server identity pinned just now asks the user to check its fingerprint:
                // that stays pinned above the messages too, past the history replay.
                let security = &session.welcome().security;
                if let Some(line) = security.describe() {
                    if matches!(security.identity, Some((_, Pin::New))) {
                        self.app.pin(line.clone());
                    }
                    self.app.notice(line);
                }
                match session
                    .with_transcript(self.transcript.take().unwrap_or_default())
                    .spawn()
                {
                    Ok(Spawned {
                        commands,
                        updates,
                        state,
                        thread,
                    }) => {
                        self.app.mode = Mode::Chat;
                        self.phase = Phase::Running {
                            commands,
                            updates,
                            state,
                            thread: Some(thread),
                        };
                        None
                    }
                    Err(e) => Some(Finish::Failed(ClientError::Terminal(e))),
                }
            }
            // A person is here to choose again, as in line mode.
            Ok(Err(e)) if e.is_nick_problem() => {
                self.app.ask_nick(Some(e.to_string()));
                None
            }
            Ok(Err(e)) => Some(Finish::Failed(e.into())),
            Err(RecvError) => Some(Finish::Failed(ClientError::Terminal(io::Error::other(
                "the connecting thread stopped",
            )))),
        }
    }

    fn update(&mut self, update: Result<Update, RecvError>) -> Option<Finish> {
        let Phase::Running {
            state,
            thread,
            commands,
            ..
        } = &mut self.phase
        else {
            return None;
        };
        match update {
            Ok(update) => {
                // Joined (or joined again): measure the lag at once, so the status line has
                // it from the start rather than after the first keepalive, 30 s later.
                if matches!(update.kind, UpdateKind::Connected { .. }) {
                    let _ = commands.try_send(Command::MeasureLag);
                }
                // The session publishes its state before sending the update, so this
                // snapshot already includes what the update reports.
                let snapshot = state.snapshot();
                self.app.apply(&update, snapshot);
                if matches!(update.kind, UpdateKind::Quit { .. }) {
                    self.last = Some(update);
                }
                None
            }
            // The session has ended: its thread says how.
            Err(RecvError) => {
                let ended = thread.take().map_or(Ok(()), SessionThread::join);
                self.phase = Phase::Idle;
                match ended {
                    Ok(()) => Some(Finish::Left {
                        last: self.last.take(),
                    }),
                    // The user was leaving anyway: no need to make them press Enter.
                    Err(e) if self.app.mode == Mode::Quitting => Some(Finish::Failed(e.into())),
                    Err(e) => {
                        self.app.ended(&e.to_string());
                        self.phase = Phase::Ended(e);
                        None
                    }
                }
            }
        }
    }
}
