//! The real terminal: entering full-screen mode, and always leaving it.
//!
//! This module owns the terminal's modes: raw mode (keys arrive one by one, Ctrl-C arrives as
//! a key), the alternate screen (the shell's screen comes back untouched afterwards), mouse
//! capture (for the wheel) and bracketed paste. A [`TerminalGuard`] enters them and its `Drop`
//! leaves them, and a panic hook leaves them before the panic message is printed, so no way
//! out of the program (quit, Ctrl-C, a lost connection, an error, a panic) leaves a student's
//! terminal unusable. It must not draw or read events.

use std::io::{self, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};

/// Whether the terminal is in full-screen mode now, so it is left exactly once.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Set when a panic restored the terminal: drawing must stop, or the next frame would paint
/// over the panic message.
static PANICKED: AtomicBool = AtomicBool::new(false);

static HOOK: Once = Once::new();

/// Full-screen mode for as long as this lives.
#[derive(Debug)]
pub struct TerminalGuard(());

impl TerminalGuard {
    /// Enters raw mode, the alternate screen, mouse capture and bracketed paste. On failure
    /// whatever was entered is left again.
    pub fn enter() -> io::Result<TerminalGuard> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let guard = TerminalGuard(());
        execute!(io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
        // Without bracketed paste (the classic Windows console) a paste arrives as typed
        // keys, and a pasted line break sends the line: worse, but usable, so not an error.
        let _ = execute!(io::stdout(), EnableBracketedPaste);
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Leaves full-screen mode if it is on: the shell's screen, cooked mode and the cursor come
/// back. Errors are ignored: this runs on the way out, when nothing better can be done.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let mut out = io::stdout();
        let _ = execute!(out, DisableBracketedPaste);
        let _ = execute!(out, DisableMouseCapture, LeaveAlternateScreen, cursor::Show);
        let _ = disable_raw_mode();
        let _ = out.flush();
    }
}

/// Whether a panic has restored the terminal (then the screen must not be drawn again).
pub fn panicked() -> bool {
    PANICKED.load(Ordering::SeqCst)
}

/// Restores the terminal before the default hook prints a panic, so the message appears on
/// the shell's screen and can be read (and reported), instead of vanishing with the
/// alternate screen or landing as a staircase in raw mode.
fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if ACTIVE.load(Ordering::SeqCst) {
                PANICKED.store(true, Ordering::SeqCst);
                restore();
            }
            previous(info);
        }));
    });
}
