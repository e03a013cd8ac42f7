//! The server's log: one timestamped line per event worth an instructor's attention (listening,
//! connects, joins, leaves, refusals, evictions). Message text is never logged, and neither is
//! any secret: keys appear only as fingerprints.

use std::fmt;
use std::io::Write;

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Log {
    /// Standard error, each line stamped with local date and time.
    Stderr,
    /// Nowhere (tests and benchmarks that do not want the noise).
    Silent,
}

impl Log {
    /// Writes one line.
    pub fn line(&self, args: fmt::Arguments<'_>) {
        if *self == Log::Stderr {
            let stamp = chrono::Local::now().format("%Y-%m-%d %H:%M:%S");
            // One write per line so lines from different threads do not interleave; a closed
            // stderr is no reason to stop serving.
            let _ = writeln!(std::io::stderr().lock(), "{stamp} {args}");
        }
    }
}
