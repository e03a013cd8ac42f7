//! The roster a running server holds, and reloading it without a restart.
//!
//! [`LiveRoster`] owns the current [`Keyring`]. Readers (every connection's hello) take a
//! snapshot, an `Arc`, so a lookup never waits for a reload and a reload never waits for a
//! lookup. [`LiveRoster::reload`] reads the roster file again, derives the new keyring and
//! swaps it in; it returns which keys stopped working, for the server to close those
//! students' connections. A roster that does not parse changes nothing: the server keeps the
//! roster it has and logs the error (with its line), so a typo cannot lock the class out.
//!
//! The roster secret is read once, at start: changing it changes every student's key, which is
//! a new term, not a reload.
//!
//! [`on_sighup`] runs a callback for each SIGHUP on Unix (the usual "reload your configuration"
//! signal: `kill -HUP PID`). Windows has no such signal; there the function does nothing, and
//! reloading waits for an instructor command.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use super::keys::{Keyring, RosterSecret};
use super::{Roster, RosterError, Withdrawn};
use crate::crypto::RoomKey;

/// The roster the server holds now, reloadable.
#[derive(Debug)]
pub struct LiveRoster {
    path: PathBuf,
    secret: RosterSecret,
    guests: Option<RoomKey>,
    current: RwLock<Arc<Keyring>>,
}

/// What a successful reload changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    /// How many students the new roster lists (revoked ones included).
    pub students: usize,
    /// How many of them are revoked.
    pub revoked: usize,
    /// The keys that worked before the reload and no longer do.
    pub withdrawn: Vec<Withdrawn>,
}

impl LiveRoster {
    /// Reads the roster at `path` and derives its keys from `secret`. `guests`, if given, are
    /// class keys accepted alongside the roster (`--allow-class-key`).
    pub fn load(
        path: &Path,
        secret: RosterSecret,
        guests: Option<RoomKey>,
    ) -> Result<LiveRoster, RosterError> {
        let roster = Roster::load(path)?;
        let keyring = Keyring::new(roster, &secret, guests.clone());
        Ok(LiveRoster {
            path: path.to_owned(),
            secret,
            guests,
            current: RwLock::new(Arc::new(keyring)),
        })
    }

    /// The roster file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The roster secret's fingerprint (for the start-up log).
    pub fn secret(&self) -> &RosterSecret {
        &self.secret
    }

    /// The keyring now in force. Cheap: an `Arc` clone under a read lock held for no longer.
    pub fn current(&self) -> Arc<Keyring> {
        // A panic while holding the lock cannot leave the `Arc` half-written; carry on.
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Reads the roster file again and swaps in its keys. On error nothing changes.
    pub fn reload(&self) -> Result<Reloaded, RosterError> {
        let roster = Roster::load(&self.path)?;
        // Derived before taking the lock: a reload costs lookups no wait.
        let keyring = Arc::new(Keyring::new(roster, &self.secret, self.guests.clone()));
        let old = {
            let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
            std::mem::replace(&mut *current, Arc::clone(&keyring))
        };
        let entries = keyring.roster().entries();
        Ok(Reloaded {
            students: entries.len(),
            revoked: entries.iter().filter(|e| e.revoked).count(),
            withdrawn: old.roster().withdrawn_by(keyring.roster()),
        })
    }
}

/// Roster mode as a server runs it: the live roster its readers look hellos up in, and the
/// channel on which each reload's result reaches the hub (which closes the withdrawn
/// students' connections and changes the room key).
#[derive(Debug, Clone)]
pub struct RosterMode {
    live: Arc<LiveRoster>,
    to_hub: crossbeam_channel::Sender<Reloaded>,
    hub: crossbeam_channel::Receiver<Reloaded>,
}

impl RosterMode {
    /// Roster mode over `live`.
    pub fn new(live: LiveRoster) -> RosterMode {
        let (to_hub, hub) = crossbeam_channel::unbounded();
        RosterMode {
            live: Arc::new(live),
            to_hub,
            hub,
        }
    }

    /// The live roster.
    pub fn live(&self) -> &LiveRoster {
        &self.live
    }

    /// The keyring now in force (see [`LiveRoster::current`]).
    pub fn current(&self) -> Arc<Keyring> {
        self.live.current()
    }

    /// Reloads the roster file and passes the result to the hub. On error nothing changes.
    pub fn reload(&self) -> Result<Reloaded, RosterError> {
        let reloaded = self.live.reload()?;
        // Nobody listening means the server has stopped: nothing left to close.
        let _ = self.to_hub.send(reloaded.clone());
        Ok(reloaded)
    }

    /// Where the hub hears of reloads.
    pub fn reloads(&self) -> crossbeam_channel::Receiver<Reloaded> {
        self.hub.clone()
    }
}

/// Stops the SIGHUP watcher when dropped.
#[derive(Debug)]
pub struct SighupWatch {
    #[cfg(unix)]
    handle: Option<signal_hook::iterator::Handle>,
    #[cfg(unix)]
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for SighupWatch {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            if let Some(handle) = self.handle.take() {
                handle.close();
            }
            if let Some(thread) = self.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

/// Runs `on_signal` on a thread of its own each time the process receives SIGHUP, until the
/// returned watch is dropped. On platforms without SIGHUP it does nothing.
pub fn on_sighup(on_signal: impl FnMut() + Send + 'static) -> std::io::Result<SighupWatch> {
    sighup_watch(on_signal)
}

#[cfg(unix)]
fn sighup_watch(mut on_signal: impl FnMut() + Send + 'static) -> std::io::Result<SighupWatch> {
    use signal_hook::consts::SIGHUP;
    use signal_hook::iterator::Signals;
    let mut signals = Signals::new([SIGHUP])?;
    let handle = signals.handle();
    let thread = std::thread::Builder::new()
        .name("fernchat-sighup".to_owned())
        .spawn(move || {
            // Ends when the watch closes the handle.
            for _ in signals.forever() {
                on_signal();
            }
        })?;
    Ok(SighupWatch {
        handle: Some(handle),
        thread: Some(thread),
    })
}

#[cfg(not(unix))]
fn sighup_watch(_on_signal: impl FnMut() + Send + 'static) -> std::io::Result<SighupWatch> {
    Ok(SighupWatch {})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roster::Withdrawal;
    use crate::roster::keys::Identified;

    #[cfg(unix)]
    #[test]
    fn sighup_runs_the_callback_until_the_watch_is_dropped() {
        use signal_hook::consts::SIGHUP;
        let (tx, rx) = crossbeam_channel::unbounded();
        let watch = on_sighup(move || {
            let _ = tx.send(());
        })
        .unwrap();
        signal_hook::low_level::raise(SIGHUP).unwrap();
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the callback ran");
        drop(watch);
        // The watcher's thread has ended and dropped the sender.
        assert!(rx.recv_timeout(std::time::Duration::from_secs(10)).is_err());
    }

    #[test]
    fn a_reload_swaps_the_keys_and_a_bad_roster_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.txt");
        std::fs::write(&path, "alice\nbob\n").unwrap();
        let secret = RosterSecret::generate();
        let bob_hello = secret.student_key("bob", 1).encrypt(b"{}");
        let live = LiveRoster::load(&path, secret, None).unwrap();
        let before = live.current();
        assert!(matches!(
            before.identify(bob_hello.as_bytes()).unwrap(),
            Identified::Student { .. }
        ));

        std::fs::write(&path, "alice\n-bob\n").unwrap();
        let reloaded = live.reload().unwrap();
        assert_eq!((reloaded.students, reloaded.revoked), (2, 1));
        assert_eq!(reloaded.withdrawn.len(), 1);
        assert_eq!(reloaded.withdrawn[0].why, Withdrawal::Revoked);
        assert!(matches!(
            live.current().identify(bob_hello.as_bytes()).unwrap(),
            Identified::Refused { .. }
        ));
        // A snapshot taken before the reload is unchanged (a hello in progress finishes).
        assert!(matches!(
            before.identify(bob_hello.as_bytes()).unwrap(),
            Identified::Student { .. }
        ));

        std::fs::write(&path, "alice\nbob 1 nonsense\n").unwrap();
        let err = live.reload().unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(matches!(
            live.current().identify(bob_hello.as_bytes()).unwrap(),
            Identified::Refused { .. }
        ));
    }
}
