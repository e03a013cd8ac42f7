//! The full-screen front end: a weechat-style window in the terminal.
//!
//! ```text
//! 1.#class   │ pendulum lab (set by prof)
//! 2.#lab1    │12:02 -!- you joined #lab1; 3 users in #lab1: …     │3 users
//! 3.#lab2  2!│12:02 --> bob joined                                │alice
//!            │12:03 <bob> alice: hi! this line is long enough to  │bob
//!            │      wrap, and its second row is indented          │carol
//!            │12:03 *carol* psst                                  │
//! [12:03] [alice] [#lab1] [connected] [3 online] [lag 4 ms] [127.0.0.1:7474]
//! [alice] hello_
//! ```
//!
//! On the left the rooms we are in (weechat's buflist), `#class` first, numbered for Alt-1..9,
//! each with the chat lines it has had since it was last shown and `!` when one mentions us;
//! the messages, topic and nick list are the room shown's, which is also where typing goes.
//!
//! Like line mode it sends [`Command`](crate::client::Command)s to the session and shows its
//! [`Update`](crate::client::Update)s, rendered by the same [`display`]
//! code; it never speaks the protocol. The parts:
//!
//! - [`app`]: the view model (rooms, input line, nick list, status, keys), plain data tested
//!   without a terminal;
//! - [`buffers`]: one scrollback per room, the room shown, unread counts and mention marks;
//! - [`lines`]: scrollback lines, styled and wrapped;
//! - [`input`]: the input line's editing, history and nick completion;
//! - [`draw`]: the screen as a pure function of the app;
//! - [`driver`]: the event loop, generic over the terminal backend;
//! - [`terminal`]: entering full-screen mode and always leaving it.
//!
//! This module itself only wires the real terminal to the driver. It must not be used by the
//! server, and nothing here may write to the terminal outside the guard's lifetime except the
//! final line after it.

pub mod app;
pub mod buffers;
pub mod draw;
pub mod driver;
pub mod input;
pub mod lines;
#[cfg(test)]
mod room_tests;
pub mod terminal;

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use crossbeam_channel::Sender;
use crossterm::event::{self, Event};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;

use crate::client::error::ClientError;
use crate::client::session::ReconnectPolicy;
use crate::client::transcript::Transcript;
use crate::client::{KexSetup, ServerAddr, Timeouts, display, load_key};

pub use app::App;
pub use driver::{Driver, Finish, Target};

/// What the full-screen front end needs from the command line (the same as line mode).
#[derive(Debug, Clone)]
pub struct TuiOptions {
    /// The server.
    pub target: ServerAddr,
    /// The class keyfile.
    pub key_path: PathBuf,
    /// The nick, if given; otherwise the input line asks for it.
    pub nick: Option<String>,
    /// Reconnecting after a lost connection.
    pub reconnect: ReconnectPolicy,
    /// `--log FILE`: append a plaintext transcript there.
    pub log: Option<PathBuf>,
    /// `--kex` and `--known-servers`: the key exchange and the identity pins.
    pub kex: KexSetup,
}

/// The exit status of a second Ctrl-C, as in line mode (128 + SIGINT).
const FORCED_EXIT: i32 = 130;

/// Runs the full-screen client until the user leaves or the session ends. Standard input and
/// output must be terminals (the binary checks).
///
/// Returns like [`crate::client::line::run`]: `Ok` when the user left, or the error to print
/// with its exit code. The final line (`-!- you left`) is printed after the terminal is
/// restored, where it stays on the shell's screen.
pub fn run(options: TuiOptions) -> Result<(), ClientError> {
    // Before the full screen: a sealed keyfile asks for its passphrase on the plain
    // terminal, and a missing keyfile is reported like in line mode.
    let (key, warnings) = load_key(&options.key_path)?;
    let transcript = match &options.log {
        Some(path) => Transcript::with_log(path)?,
        None => Transcript::new(),
    };
    let warnings: Vec<String> = warnings.iter().map(|w| format!("warning: {w}")).collect();
    // Warnings that need action go to the plain terminal first, where they stay in the
    // shell's scrollback after the full screen ends; on the full screen they are pinned.
    for warning in &warnings {
        eprintln!("fernchat: {warning}");
    }
    let colour = display::colour_wanted();
    let guard = terminal::TerminalGuard::enter().map_err(ClientError::Terminal)?;
    let finish = run_on_screen(&options, key, warnings, colour, transcript);
    drop(guard);
    match finish.map_err(ClientError::Terminal)? {
        Finish::Left { last } => {
            if let Some(last) = last {
                let mut stdout = io::stdout();
                let _ = writeln!(stdout, "{}", display::render(&last, colour));
            }
            Ok(())
        }
        Finish::Failed(e) => Err(e),
        // Leaving at once, as line mode's second Ctrl-C does; the terminal is restored.
        Finish::Forced => std::process::exit(FORCED_EXIT),
    }
}

fn run_on_screen(
    options: &TuiOptions,
    key: crate::crypto::RoomKey,
    warnings: Vec<String>,
    colour: bool,
    transcript: Transcript,
) -> io::Result<Finish> {
    let terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
    let size = terminal.size()?;
    let mut app = App::new(
        &options.target.to_string(),
        options.nick.as_deref(),
        Rect::new(0, 0, size.width, size.height),
        colour,
    );
    for warning in warnings {
        app.pin_warning(warning);
    }
    let (events_tx, events) = crossbeam_channel::bounded(256);
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let stop = Arc::clone(&stop);
        thread::Builder::new()
            .name("fernchat-keys".to_owned())
            .spawn(move || read_events(&events_tx, &stop))?
    };
    let (interrupt_tx, interrupts) = crossbeam_channel::bounded(4);
    forward_signals(&interrupt_tx);
    let target = Target {
        addr: options.target.clone(),
        key,
        reconnect: options.reconnect,
        timeouts: Timeouts::default(),
        kex: options.kex.clone(),
    };
    let mut driver =
        Driver::new(terminal, app, target, events, interrupts).with_transcript(transcript);
    let finish = driver.run();
    stop.store(true, Ordering::SeqCst);
    // Dropping the receiver first lets a reader blocked on a full channel finish.
    drop(driver);
    let _ = reader.join();
    finish
}

/// Reads terminal events into `events` until `stop` is set. The short poll is what lets it
/// notice `stop`; crossterm has no way to interrupt a blocking read.
fn read_events(events: &Sender<Event>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match event::poll(Duration::from_millis(200)) {
            Ok(false) => {}
            Ok(true) => match event::read() {
                Ok(event) => {
                    if events.send(event).is_err() {
                        return;
                    }
                }
                Err(_) => return,
            },
            // The terminal is gone; the driver sees the channel close and leaves.
            Err(_) => return,
        }
    }
}

/// Signals that ask the program to end become a polite leave, so the terminal is restored
/// and the server told: SIGINT from outside the terminal (in raw mode Ctrl-C is a key, not a
/// signal) on every platform, and on Unix SIGTERM and SIGHUP (the terminal window closed).
fn forward_signals(interrupts: &Sender<()>) {
    let sender = interrupts.clone();
    // Only one handler per process; if one is set already, Ctrl-C keeps its default.
    let _ = ctrlc::set_handler(move || {
        let _ = sender.try_send(());
    });
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGTERM};
        use signal_hook::iterator::Signals;
        if let Ok(mut signals) = Signals::new([SIGTERM, SIGHUP]) {
            let sender = interrupts.clone();
            let _ = thread::Builder::new()
                .name("fernchat-signals".to_owned())
                .spawn(move || {
                    for _ in signals.forever() {
                        let _ = sender.try_send(());
                    }
                });
        }
    }
}
