//! The server's log: one timestamped line per event worth an instructor's attention (listening,
//! connects, joins, leaves, refusals, evictions). Message text is never logged, and neither is
//! any secret: keys appear only as fingerprints.
//!
//! Lines that a stranger can cause at will (a connection that never says hello, a refused
//! message, a wrong key) go through a [`Tally`]: the first line of each cause in an interval is
//! written as it is, the rest are only counted, and one summary line per cause says how many
//! more there were. So a crowd of connections costs a few lines per interval, not megabytes.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::Write;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Where log lines go.
#[derive(Debug, Clone, Copy)]
pub enum Log {
    /// Standard error, each line stamped with local date and time.
    Stderr,
    /// Nowhere (tests and benchmarks that do not want the noise).
    Silent,
    /// Into memory: counted, the last lines kept (tests of how much the server logs).
    Memory(&'static LogMemory),
}

impl Log {
    /// Writes one line.
    pub fn line(&self, args: fmt::Arguments<'_>) {
        match self {
            Log::Stderr => {
                let stamp = chrono::Local::now().format("%Y-%m-%d %H:%M:%S");
                // One write per line so lines from different threads do not interleave; a
                // closed stderr is no reason to stop serving.
                let _ = writeln!(std::io::stderr().lock(), "{stamp} {args}");
            }
            Log::Silent => {}
            Log::Memory(memory) => memory.push(format!("0000-00-00 00:00:00 {args}\n")),
        }
    }
}

/// Lines kept by [`LogMemory`]: enough to find the summaries of a test run.
const MEMORY_LINES: usize = 2000;

/// A log in memory, for tests: every byte counted (as long as on standard error, with the
/// timestamp), the last `MEMORY_LINES` lines kept. `const`, so a test can make it `static`.
#[derive(Debug)]
pub struct LogMemory {
    bytes: AtomicU64,
    lines: Mutex<Vec<String>>,
}

impl LogMemory {
    /// An empty log.
    pub const fn new() -> LogMemory {
        LogMemory {
            bytes: AtomicU64::new(0),
            lines: Mutex::new(Vec::new()),
        }
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The last lines written (at most `MEMORY_LINES`).
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn push(&self, line: String) {
        self.bytes.fetch_add(line.len() as u64, Ordering::Relaxed);
        if let Ok(mut lines) = self.lines.lock() {
            if lines.len() >= MEMORY_LINES {
                lines.drain(..MEMORY_LINES / 2);
            }
            lines.push(line);
        }
    }
}

impl Default for LogMemory {
    fn default() -> Self {
        LogMemory::new()
    }
}

/// Distinct source addresses remembered per cause and interval, for the summary ("from 249
/// addresses"); beyond it the summary says "at least".
const TALLY_ADDRESSES: usize = 1024;

/// Aggregated logging of what strangers can cause: per cause and interval, the first line as
/// it is, then a count (see the module comment). Shared by the acceptor and the hub.
#[derive(Debug)]
pub struct Tally {
    log: Log,
    interval: Duration,
    state: Mutex<TallyState>,
}

#[derive(Debug)]
struct TallyState {
    since: Instant,
    causes: BTreeMap<String, Cause>,
}

#[derive(Debug, Default)]
struct Cause {
    /// Lines counted but not written in this interval.
    more: u64,
    addresses: HashSet<IpAddr>,
}

impl Tally {
    /// A tally writing to `log`, summarising every `interval`.
    pub fn new(log: Log, interval: Duration) -> Tally {
        Tally {
            log,
            interval,
            state: Mutex::new(TallyState {
                since: Instant::now(),
                causes: BTreeMap::new(),
            }),
        }
    }

    /// Logs `args` under `cause` (a short stable name, e.g. `hello_timeout`), caused by `from`:
    /// written if it is the first of its cause in this interval, otherwise counted.
    pub fn line(&self, cause: &str, from: IpAddr, args: fmt::Arguments<'_>) {
        self.flush(Instant::now());
        let first = {
            let Ok(mut state) = self.state.lock() else {
                return;
            };
            match state.causes.get_mut(cause) {
                Some(counted) => {
                    counted.more += 1;
                    if counted.addresses.len() < TALLY_ADDRESSES {
                        counted.addresses.insert(from);
                    }
                    false
                }
                None => {
                    state.causes.insert(cause.to_owned(), Cause::default());
                    true
                }
            }
        };
        if first {
            self.log.line(args);
        }
    }

    /// Writes the summary of the interval if it is over: one line per cause that had more
    /// than its first line. Called by every [`Tally::line`] and by the hub's timer.
    pub fn flush(&self, now: Instant) {
        let summaries: Vec<(String, Cause)> = {
            let Ok(mut state) = self.state.lock() else {
                return;
            };
            if now.saturating_duration_since(state.since) < self.interval {
                return;
            }
            state.since = now;
            std::mem::take(&mut state.causes)
                .into_iter()
                .filter(|(_, c)| c.more > 0)
                .collect()
        };
        let secs = self.interval.as_secs();
        for (cause, counted) in summaries {
            let addresses = counted.addresses.len();
            let at_least = if addresses >= TALLY_ADDRESSES {
                "at least "
            } else {
                ""
            };
            self.log.line(format_args!(
                "{cause}: {} more in the last {secs} s, from {at_least}{addresses} source \
                 addresses (only the first of each cause is logged per {secs} s; the rest are \
                 counted)",
                counted.more
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    static MEMORY: LogMemory = LogMemory::new();

    #[test]
    fn a_cause_is_written_once_per_interval_then_counted() {
        let tally = Tally::new(Log::Memory(&MEMORY), Duration::from_secs(3600));
        let from = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for i in 0..1000 {
            tally.line("hello_timeout", from, format_args!("refused #{i}"));
            tally.line("wrong_key", from, format_args!("wrong key #{i}"));
        }
        assert_eq!(MEMORY.lines().len(), 2, "{:?}", MEMORY.lines());
        // The interval is over: one summary per cause.
        {
            let mut state = tally.state.lock().unwrap();
            state.since = state
                .since
                .checked_sub(Duration::from_secs(3601))
                .expect("the machine has been up for an hour");
        }
        tally.flush(Instant::now());
        let lines = MEMORY.lines();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert!(lines[2].contains("hello_timeout: 999 more"), "{lines:?}");
        assert!(lines[3].contains("from 1 source addresses"), "{lines:?}");
        tally.line("hello_timeout", from, format_args!("refused again"));
        assert_eq!(MEMORY.lines().len(), 5);
    }
}
