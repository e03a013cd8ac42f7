//! The line front end: a chat in an ordinary terminal, or driven through a pipe.
//!
//! This module owns reading the user's lines and printing updates, in two modes:
//!
//! - **terminal** (standard input and output both terminals): rustyline edits the line with
//!   history, the prompt shows the nick, and updates are printed *above* the prompt through
//!   rustyline's `ExternalPrinter`, so a message arriving while you type never garbles your
//!   half-written line. Ctrl-C and Ctrl-D leave cleanly (`bye` is sent). A line that
//!   mentions your nick has its time stamp highlighted.
//! - **pipe** (anything else, such as `printf 'alice\nhi\n' | client` or a test): the first
//!   line is the nick unless `--nick` was given (like the Python chats' `input()`), each
//!   further line is a command, output is plain lines, and the end of input sends `bye` and
//!   exits 0 once the server has it.
//!
//! It must not speak the protocol: it sends [`Command`]s to the session and shows
//! [`Update`]s, like any front end.

use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use crossbeam_channel::{Receiver, Sender};
use rustyline::error::ReadlineError;
use rustyline::{DefaultEditor, ExternalPrinter};

use crate::client::command::{self, Command};
use crate::client::display;
use crate::client::error::ClientError;
use crate::client::session::{ClientConfig, ReconnectPolicy, Session, Spawned, StateView};
use crate::client::transcript::Transcript;
use crate::client::update::{Update, UpdateKind};
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

    let print: Box<dyn FnMut(String) -> bool + Send> = match editor.create_external_printer() {
        Ok(mut printer) => Box::new(move |text| printer.print(text).is_ok()),
        // A terminal rustyline cannot drive (TERM=dumb): plain printing still works.
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
        let prompt = format!("{}> ", display::clean(&state.snapshot().nick, 32));
        match editor.readline(&prompt) {
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
    for update in updates {
        let mention = colour && state.snapshot().mentioned_in(&update.kind);
        let mut text = display::render_highlighted(&update, colour, mention);
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
    for update in updates {
        let line = display::render(&update, colour);
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
    fn invalid_utf8_is_replaced() {
        assert_eq!(lines(b"caf\xe9\n"), [InputLine::Line("caf\u{fffd}".into())]);
    }
}
