//! The line front end: a chat in an ordinary terminal, or driven through a pipe.
//!
//! This module owns reading the user's lines and printing updates, in two modes:
//!
//! - **terminal** (standard input and output both terminals): rustyline edits the line with
//!   history, the prompt shows the nick (and the room, when in several), and updates are
//!   printed *above* the prompt through rustyline's `ExternalPrinter`, so a message arriving
//!   while you type never garbles your half-written line. Ctrl-C and Ctrl-D leave cleanly (`bye` is sent). A line that
//!   mentions your nick has its time stamp highlighted. A line you send to the room (or
//!   privately) is taken off the screen when you press Enter: the server's echo of it, which
//!   is the proof it was delivered, is the one copy shown (see `EchoHold`).
//! - **pipe** (anything else, such as `printf 'alice\nhi\n' | client` or a test): the first
//!   line is the nick unless `--nick` was given (like the Python chats' `input()`), each
//!   further line is a command, output is plain lines, and the end of input sends `bye` and
//!   exits 0 once the server has it.
//!
//! In both, once we are in more than one room each room's line starts with its room
//! (`10:42 [#lab1] <bob> hi`); private messages and notices do not. `/switch #lab1` changes
//! where plain lines go, and `#lab1 text` says one line there.
//!
//! It must not speak the protocol: it sends [`Command`]s to the session and shows
//! [`Update`]s, like any front end.

use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use rustyline::error::ReadlineError;
use rustyline::{
    Cmd, ConditionalEventHandler, DefaultEditor, Event, EventContext, EventHandler,
    ExternalPrinter, KeyCode, KeyEvent, Modifiers, RepeatCount,
};
use unicode_width::UnicodeWidthChar;

use crate::client::command::{self, Command};
use crate::client::display;
use crate::client::error::ClientError;
use crate::client::session::{ClientConfig, ReconnectPolicy, Session, Spawned, StateView};
use crate::client::state::same_room;
use crate::client::transcript::Transcript;
use crate::client::update::{DEFAULT_ROOM, Update, UpdateKind};
use crate::client::{KexSetup, ServerAddr, Timeouts, Welcome, load_key};
use crate::crypto::RoomKey;
use crate::protocol::event::validate_nick;

/// What the line front end needs from the command line.
#[derive(Debug, Clone)]
pub struct LineOptions {
    /// The server.
    pub target: ServerAddr,
    /// The class keyfile.
    pub key_path: PathBuf,
    /// The nick, if given; otherwise it is asked for (terminal) or read as the first line.
    pub nick: Option<String>,
    /// Reconnecting after a lost connection.
    pub reconnect: ReconnectPolicy,
    /// `--log FILE`: append a plaintext transcript there.
    pub log: Option<PathBuf>,
    /// `--kex` and `--known-servers`: the key exchange and the identity pins.
    pub kex: KexSetup,
}

/// The longest input line read from a pipe; longer lines are skipped with an error, so a
/// stray binary file piped in cannot fill memory.
const MAX_INPUT_LINE: usize = 64 * 1024;

/// Runs the line client until the user quits or the session ends.
pub fn run(options: LineOptions) -> Result<(), ClientError> {
    // The key first: without it nothing else can work, and its error is the most useful.
    let (key, warnings) = load_key(&options.key_path)?;
    // Then the log file, so that a bad path is an error before anyone is joined.
    let transcript = match &options.log {
        Some(path) => Transcript::with_log(path)?,
        None => Transcript::new(),
    };
    for warning in warnings {
        eprintln!("fernchat: warning: {warning}");
    }
    if io::stdin().is_terminal() && io::stdout().is_terminal() {
        run_terminal(options, key, transcript)
    } else {
        run_pipe(options, key, transcript)
    }
}

fn config(options: &LineOptions, key: &RoomKey, nick: &str) -> ClientConfig {
    ClientConfig {
        target: options.target.clone(),
        key: key.clone(),
        nick: nick.to_owned(),
        reconnect: options.reconnect,
        timeouts: Timeouts::default(),
        kex: options.kex.clone(),
    }
}

/// What the key exchange established, said once after joining (to standard error, so a
/// script reading the chat on standard output is not disturbed).
fn tell_security(welcome: &Welcome) {
    if let Some(line) = welcome.security.describe() {
        eprintln!("fernchat: {line}");
    }
}

fn terminal_error(e: ReadlineError) -> ClientError {
    match e {
        ReadlineError::Io(e) => ClientError::Terminal(e),
        other => ClientError::Terminal(io::Error::other(other.to_string())),
    }
}

/// Prints one line to stdout. A closed stdout (`client | head`) must not panic as `println!`
/// would: the line is simply lost, and the session still ends with its bye.
fn print_line(text: &str) {
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
}

/// A local error line, for mistakes found before anything reaches the session.
fn local_error(text: String) -> Update {
    Update::now(UpdateKind::Error { code: None, text })
}

fn run_terminal(
    options: LineOptions,
    key: RoomKey,
    transcript: Transcript,
) -> Result<(), ClientError> {
    let mut editor = DefaultEditor::new().map_err(terminal_error)?;
    let colour = display::colour_wanted();
    let mut given = options.nick.clone();
    let session = loop {
        let nick = match given.take() {
            Some(nick) => nick,
            None => match editor.readline("Nickname: ") {
                Ok(nick) => nick.trim().to_owned(),
                // Ctrl-C or Ctrl-D at the nick prompt: the user changed their mind.
                Err(ReadlineError::Interrupted | ReadlineError::Eof) => return Ok(()),
                Err(e) => return Err(terminal_error(e)),
            },
        };
        if let Err(e) = validate_nick(&nick) {
            eprintln!("fernchat: the nick {nick:?} cannot be used: {e}");
            continue;
        }
        print_line(&format!("connecting to {} as {nick}...", options.target));
        match Session::connect(config(&options, &key, &nick)) {
            Ok(session) => {
                tell_security(session.welcome());
                break session;
            }
            // A person is here to choose again.
            Err(e) if e.is_nick_problem() => eprintln!("fernchat: {e}"),
            Err(e) => return Err(e.into()),
        }
    };
    let Spawned {
        commands,
        updates,
        state,
        thread: session,
    } = session
        .with_transcript(transcript)
        .spawn()
        .map_err(ClientError::Terminal)?;
    quit_on_ctrl_c(&commands);

    let hold = Arc::new(EchoHold::default());
    let print: Box<dyn FnMut(String) -> bool + Send> = match editor.create_external_printer() {
        Ok(mut printer) => {
            for enter in [
                KeyEvent(KeyCode::Enter, Modifiers::NONE),
                KeyEvent::ctrl('M'),
                KeyEvent::ctrl('J'),
            ] {
                let handler = Box::new(HoldOnSend(Arc::clone(&hold)));
                editor.bind_sequence(enter, EventHandler::Conditional(handler));
            }
            let hold = Arc::clone(&hold);
            Box::new(move |text| hold.print(|| printer.print(text).is_ok()))
        }
        // A terminal rustyline cannot drive (TERM=dumb): plain printing still works, and the
        // typed line stays (nothing can be taken off such a screen).
        Err(_) => Box::new(|text: String| io::stdout().write_all(text.as_bytes()).is_ok()),
    };
    let ended = Arc::new(AtomicBool::new(false));
    let user_quit = Arc::new(AtomicBool::new(false));
    let printer = {
        let ended = Arc::clone(&ended);
        let user_quit = Arc::clone(&user_quit);
        let state = state.clone();
        thread::spawn(move || print_updates(updates, print, colour, &state, &ended, &user_quit))
    };

    while !ended.load(Ordering::SeqCst) {
        let prompt = prompt(&state.snapshot());
        let read = editor.readline(&prompt);
        if hold.is_held() {
            if let Ok(line) = &read {
                erase_sent_line(&prompt, line);
            }
            hold.release();
        }
        match read {
            Ok(line) => {
                if ended.load(Ordering::SeqCst) {
                    break;
                }
                if !line.trim().is_empty() {
                    // History is a convenience; failing to record a line loses nothing.
                    let _ = editor.add_history_entry(line.as_str());
                }
                match command::parse(&line) {
                    Ok(None) => {}
                    Ok(Some(command)) => {
                        let quitting = matches!(command, Command::Quit(_));
                        if quitting {
                            user_quit.store(true, Ordering::SeqCst);
                        }
                        if commands.send(command).is_err() || quitting {
                            break;
                        }
                    }
                    // Not inside readline here, so printing directly cannot garble the prompt.
                    Err(e) => print_line(&display::render(&local_error(e.to_string()), colour)),
                }
            }
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => {
                user_quit.store(true, Ordering::SeqCst);
                let _ = commands.send(Command::Quit(None));
                break;
            }
            Err(e) => {
                user_quit.store(true, Ordering::SeqCst);
                let _ = commands.send(Command::Quit(None));
                let _ = printer.join();
                let _ = session.join();
                return Err(terminal_error(e));
            }
        }
    }
    drop(commands);
    // The printer ends when the session does (its update channel disconnects).
    let _ = printer.join();
    session.join().map_err(ClientError::from)
}

/// The prompt: our nick, and the current room when we are in several (`alice #lab1> `), so
/// it is clear where a line will go.
fn prompt(state: &crate::client::ChatState) -> String {
    let nick = display::clean(&state.nick, 32);
    if state.in_several_rooms() {
        format!("{nick} {}> ", display::clean(&state.current, 32))
    } else {
        format!("{nick}> ")
    }
}

/// How long the printer waits at most for a sent line to be taken off the screen (it takes
/// microseconds; the bound only keeps a stuck terminal from stopping the printer for good).
const HOLD_LIMIT: Duration = Duration::from_secs(1);

/// Keeps incoming lines from being printed while a line just sent is taken off the screen.
///
/// When Enter is pressed, rustyline leaves the typed line on the screen (`alice> hi`), and the
/// server's echo (`<alice> hi`) follows: the line would show twice. The echo is the delivery
/// receipt, so the typed line goes. Taking it off means moving the cursor up over it, which is
/// only right if nothing was printed below it meanwhile: between rustyline leaving raw mode
/// and this module erasing, the `ExternalPrinter` writes straight to the terminal. So the
/// Enter key's handler (still inside rustyline, in raw mode, where the printer only queues)
/// holds the printer, the main thread erases, then releases it; the printer prints while
/// holding the lock, so the handler can never hold it mid-print. The line is erased only
/// before its command is sent, so it can never be the echo that is erased.
#[derive(Debug, Default)]
struct EchoHold {
    held: Mutex<bool>,
    released: Condvar,
}

impl EchoHold {
    fn hold(&self) {
        *self.held.lock().unwrap_or_else(PoisonError::into_inner) = true;
    }

    fn is_held(&self) -> bool {
        *self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn release(&self) {
        *self.held.lock().unwrap_or_else(PoisonError::into_inner) = false;
        self.released.notify_all();
    }

    /// Runs `print` once nothing is held (or after [`HOLD_LIMIT`]), holding the lock meanwhile.
    fn print(&self, print: impl FnOnce() -> bool) -> bool {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let _held = self
            .released
            .wait_timeout_while(held, HOLD_LIMIT, |held| *held)
            .unwrap_or_else(PoisonError::into_inner);
        print()
    }
}

/// Enter (and Ctrl-M, Ctrl-J): if the line is one the server echoes back (a message, an
/// action, a private message), hold the printer so the main thread can take the typed line
/// off the screen; then let rustyline accept the line as it always does.
struct HoldOnSend(Arc<EchoHold>);

impl ConditionalEventHandler for HoldOnSend {
    fn handle(&self, _: &Event, _: RepeatCount, _: bool, ctx: &EventContext) -> Option<Cmd> {
        if let Ok(Some(
            Command::Say(_) | Command::SayIn { .. } | Command::Me(_) | Command::Msg { .. },
        )) = command::parse(ctx.line())
        {
            self.0.hold();
        }
        None
    }
}

/// Takes `prompt` and `line`, just accepted by rustyline, off the screen: the cursor is at
/// the start of the row below them. Without a known terminal width nothing is erased (the
/// line then shows twice, as before, which loses nothing).
fn erase_sent_line(prompt: &str, line: &str) {
    use crossterm::cursor::{MoveToColumn, MoveUp};
    use crossterm::terminal::{Clear, ClearType};
    let Ok((columns, _)) = crossterm::terminal::size() else {
        return;
    };
    let rows = rows_taken(&format!("{prompt}{line}"), usize::from(columns));
    let rows = u16::try_from(rows).unwrap_or(u16::MAX);
    let mut stdout = io::stdout();
    let _ = crossterm::execute!(
        stdout,
        MoveUp(rows),
        MoveToColumn(0),
        Clear(ClearType::FromCursorDown)
    );
}

/// The rows `text` took on a terminal `columns` wide, counted as rustyline lays it out (a
/// character that does not fit moves whole to the next row; ending exactly at the edge starts
/// a new row), plus none: the row of the last character is the last row.
fn rows_taken(text: &str, columns: usize) -> usize {
    const TAB_STOP: usize = 8;
    if columns == 0 {
        return 1;
    }
    let (mut row, mut column) = (0, 0);
    for c in text.chars() {
        if c == '\n' {
            row += 1;
            column = 0;
            continue;
        }
        let width = if c == '\t' {
            TAB_STOP - column % TAB_STOP
        } else {
            c.width().unwrap_or(0)
        };
        column += width;
        if column > columns {
            row += 1;
            column = width;
        }
    }
    if column == columns {
        row += 1;
    }
    row + 1
}

/// Prints updates until the session ends. In a terminal the user may be mid-line in
/// readline, which cannot be interrupted from outside, so an end the user did not ask for
/// says to press Enter.
fn print_updates(
    updates: Receiver<Update>,
    mut print: Box<dyn FnMut(String) -> bool + Send>,
    colour: bool,
    state: &StateView,
    ended: &AtomicBool,
    user_quit: &AtomicBool,
) {
    let mut rooms = RoomsShown::default();
    for update in updates {
        let mention = colour && state.snapshot().mentioned_in(&update.kind);
        let with_room = rooms.follow(&update.kind);
        let mut text = display::render_in_room(&update, colour, mention, with_room);
        text.push('\n');
        if !print(text) {
            break;
        }
    }
    ended.store(true, Ordering::SeqCst);
    if !user_quit.load(Ordering::SeqCst) {
        let _ = print("the chat has ended: press Enter to exit\n".to_owned());
    }
}

fn run_pipe(options: LineOptions, key: RoomKey, transcript: Transcript) -> Result<(), ClientError> {
    let mut input = BufReader::new(io::stdin());
    let nick = match &options.nick {
        Some(nick) => nick.clone(),
        None => match read_input_line(&mut input).map_err(ClientError::Terminal)? {
            Some(InputLine::Line(line)) => line.trim().to_owned(),
            Some(InputLine::TooLong) | None => return Err(ClientError::NoNick),
        },
    };
    if nick.is_empty() {
        return Err(ClientError::NoNick);
    }
    validate_nick(&nick).map_err(|source| ClientError::BadNick {
        nick: nick.clone(),
        source,
    })?;
    let session = Session::connect(config(&options, &key, &nick))?;
    tell_security(session.welcome());
    let Spawned {
        commands,
        updates,
        thread: session,
        ..
    } = session
        .with_transcript(transcript)
        .spawn()
        .map_err(ClientError::Terminal)?;
    quit_on_ctrl_c(&commands);
    let colour = display::colour_wanted();
    // Not joined: it may sit in a blocking read of stdin after the session ends, and the
    // process exiting is what stops it.
    thread::spawn(move || forward_input(input, commands, colour));

    let mut stdout = io::stdout();
    let mut rooms = RoomsShown::default();
    for update in updates {
        let with_room = rooms.follow(&update.kind);
        let line = display::render_in_room(&update, colour, false, with_room);
        // A closed stdout (`client | head`) is not worth a panic: stop printing, keep going
        // until the session ends so the bye is still sent.
        if writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
    }
    session.join().map_err(ClientError::from)
}

/// The rooms we are in, followed from the updates in the order they are printed, so a line
/// is named by its room exactly when the reader needs it: when we are in several rooms, or
/// the line is from a room we are not in (`/who #other`).
#[derive(Debug, Default)]
struct RoomsShown {
    rooms: Vec<String>,
}

impl RoomsShown {
    /// Takes `kind` into account; returns whether its line should name its room.
    fn follow(&mut self, kind: &UpdateKind) -> bool {
        match kind {
            // The welcome puts us in #class; the rooms we are rejoining follow as `Entered`.
            UpdateKind::Connected { .. } => self.rooms = vec![DEFAULT_ROOM.to_owned()],
            UpdateKind::Entered { room, .. } if !self.rooms.iter().any(|r| same_room(r, room)) => {
                self.rooms.push(room.clone());
            }
            UpdateKind::Parted { room, .. } => self.rooms.retain(|r| !same_room(r, room)),
            _ => {}
        }
        display::room_of(kind).is_some_and(|room| {
            self.rooms.len() > 1 || !self.rooms.iter().any(|r| same_room(r, room))
        })
    }
}

/// Sends each input line to the session; at the end of input, quits.
fn forward_input(mut input: impl BufRead, commands: Sender<Command>, colour: bool) {
    loop {
        let line = match read_input_line(&mut input) {
            Ok(Some(InputLine::Line(line))) => line,
            Ok(Some(InputLine::TooLong)) => {
                let text = format!("ignored an input line longer than {MAX_INPUT_LINE} bytes");
                print_line(&display::render(&local_error(text), colour));
                continue;
            }
            Ok(None) | Err(_) => break,
        };
        match command::parse(&line) {
            Ok(None) => {}
            Ok(Some(command)) => {
                let quitting = matches!(command, Command::Quit(_));
                if commands.send(command).is_err() || quitting {
                    return;
                }
            }
            Err(e) => print_line(&display::render(&local_error(e.to_string()), colour)),
        }
    }
    let _ = commands.send(Command::Quit(None));
}

/// One line of input, or the news that it was too long to keep.
#[derive(Debug, PartialEq, Eq)]
enum InputLine {
    Line(String),
    TooLong,
}

/// Reads one line of at most [`MAX_INPUT_LINE`] bytes (without its line ending); invalid
/// UTF-8 is replaced rather than refused. `None` at the end of input.
fn read_input_line(input: &mut impl BufRead) -> io::Result<Option<InputLine>> {
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_INPUT_LINE).unwrap_or(u64::MAX) + 1;
    let n = input.by_ref().take(limit).read_until(b'\n', &mut bytes)?;
    if n == 0 {
        return Ok(None);
    }
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    } else if bytes.len() > MAX_INPUT_LINE {
        skip_rest_of_line(input)?;
        return Ok(Some(InputLine::TooLong));
    }
    Ok(Some(InputLine::Line(
        String::from_utf8_lossy(&bytes).into_owned(),
    )))
}

fn skip_rest_of_line(input: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            return Ok(());
        }
        if let Some(newline) = buffer.iter().position(|&b| b == b'\n') {
            input.consume(newline + 1);
            return Ok(());
        }
        let len = buffer.len();
        input.consume(len);
    }
}

/// Ctrl-C outside the line editor (in a pipe, or while connecting) sends `bye` and leaves; a
/// second Ctrl-C leaves at once, for when the server does not answer.
fn quit_on_ctrl_c(commands: &Sender<Command>) {
    let commands = commands.clone();
    let presses = AtomicUsize::new(0);
    // Only one handler per process; if one is set already, Ctrl-C keeps its default.
    let _ = ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::SeqCst) == 0 {
            let _ = commands.try_send(Command::Quit(None));
        } else {
            std::process::exit(130);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(data: &[u8]) -> Vec<InputLine> {
        let mut input = BufReader::with_capacity(16, data);
        let mut out = Vec::new();
        for _ in 0..100 {
            match read_input_line(&mut input).unwrap() {
                Some(line) => out.push(line),
                None => return out,
            }
        }
        panic!("no end of input");
    }

    #[test]
    fn input_lines_lose_their_endings() {
        assert_eq!(
            lines(b"alice\r\nhi there\n\nlast"),
            [
                InputLine::Line("alice".into()),
                InputLine::Line("hi there".into()),
                InputLine::Line(String::new()),
                InputLine::Line("last".into()),
            ]
        );
    }

    #[test]
    fn over_long_input_lines_are_skipped() {
        let mut data = vec![b'x'; MAX_INPUT_LINE + 10];
        data.extend_from_slice(b"\nnext\n");
        assert_eq!(
            lines(&data),
            [InputLine::TooLong, InputLine::Line("next".into())]
        );
        let exact = vec![b'y'; MAX_INPUT_LINE];
        assert_eq!(lines(&exact), [InputLine::Line("y".repeat(MAX_INPUT_LINE))]);
    }

    #[test]
    fn rows_taken_counts_like_rustyline() {
        assert_eq!(rows_taken("alice> hi", 80), 1);
        assert_eq!(rows_taken("", 80), 1);
        // Ending exactly at the edge: rustyline moves the cursor to a new row.
        assert_eq!(rows_taken(&"x".repeat(80), 80), 2);
        assert_eq!(rows_taken(&"x".repeat(79), 80), 1);
        assert_eq!(rows_taken(&"x".repeat(81), 80), 2);
        assert_eq!(rows_taken(&"x".repeat(200), 80), 3);
        // A wide character that does not fit moves whole to the next row.
        assert_eq!(rows_taken(&format!("{}語", "x".repeat(79)), 80), 2);
        assert_eq!(rows_taken("anything", 0), 1);
    }

    #[test]
    fn the_printer_waits_while_a_sent_line_is_erased() {
        let hold = Arc::new(EchoHold::default());
        hold.hold();
        let (printed_tx, printed) = crossbeam_channel::bounded(1);
        let printer = {
            let hold = Arc::clone(&hold);
            thread::spawn(move || hold.print(|| printed_tx.send(()).is_ok()))
        };
        // Held: nothing printed within a moment (the hold's bound is 1 s, far longer).
        assert!(printed.recv_timeout(Duration::from_millis(100)).is_err());
        hold.release();
        printed.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(printer.join().unwrap());
        // Not held: printing goes straight through.
        assert!(hold.print(|| true));
    }

    #[test]
    fn lines_name_their_room_once_there_are_several() {
        let mut rooms = RoomsShown::default();
        let said = |room: &str| UpdateKind::Message {
            room: room.into(),
            from: "bob".into(),
            text: "hi".into(),
            own: false,
        };
        let entered = |room: &str| UpdateKind::Entered {
            room: room.into(),
            users: Vec::new(),
            topic: None,
            by: None,
        };
        let connected = UpdateKind::Connected {
            nick: "alice".into(),
            users: Vec::new(),
            server: String::new(),
            target: String::new(),
            reconnected: false,
        };
        assert!(!rooms.follow(&connected));
        assert!(!rooms.follow(&said("#class")));
        // A room we are not in is always named.
        assert!(rooms.follow(&said("#lab1")));
        assert!(!rooms.follow(&entered("#lab1")), "it names the room itself");
        assert!(rooms.follow(&said("#class")));
        assert!(rooms.follow(&said("#LAB1")));
        let private = UpdateKind::Private {
            from: "bob".into(),
            to: "alice".into(),
            text: "psst".into(),
            outgoing: false,
        };
        assert!(!rooms.follow(&private), "private messages have no room");
        assert!(!rooms.follow(&UpdateKind::Parted {
            room: "#lab1".into(),
            reason: String::new(),
        }));
        assert!(!rooms.follow(&said("#class")));
        // A reconnect starts from #class; the rejoined rooms come back as `Entered`.
        rooms.follow(&entered("#lab2"));
        rooms.follow(&connected);
        assert!(!rooms.follow(&said("#class")));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(lines(b"caf\xe9\n"), [InputLine::Line("caf\u{fffd}".into())]);
    }
}
