//! The server process as Linux's `/proc` shows it: CPU time (user + system, all threads,
//! including threads that have already exited), resident memory, threads and open
//! descriptors. Plain file reads, no system calls of our own (the crate forbids `unsafe`).
//!
//! CPU time is in clock ticks; `getconf CLK_TCK` says how long one is (100 Hz on every
//! mainstream Linux, which is also the fallback).

use std::fs;
use std::process::Command;
use std::time::Duration;

use serde::Serialize;

use crate::LoadError;

/// Reads one process's figures.
#[derive(Debug, Clone)]
pub struct Probe {
    pid: u32,
    tick: Duration,
}

/// One reading.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Sample {
    /// User plus system CPU time so far, in seconds.
    pub cpu_secs: f64,
    /// Resident set size, in KiB.
    pub rss_kib: u64,
    /// Threads alive now.
    pub threads: u64,
    /// Open file descriptors now.
    pub fds: u64,
}

impl Probe {
    /// A probe of process `pid`; fails if it cannot be read.
    pub fn new(pid: u32) -> Result<Probe, LoadError> {
        let hz = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse::<u64>().ok())
            .filter(|&hz| hz > 0)
            .unwrap_or(100);
        let probe = Probe {
            pid,
            tick: Duration::from_secs(1) / u32::try_from(hz).unwrap_or(100),
        };
        probe.sample()?;
        Ok(probe)
    }

    /// The process id probed.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Reads the figures now.
    pub fn sample(&self) -> Result<Sample, LoadError> {
        let fail = |source| LoadError::Probe {
            pid: self.pid,
            source,
        };
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.pid)).map_err(fail)?;
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid)).map_err(fail)?;
        let fds = fs::read_dir(format!("/proc/{}/fd", self.pid))
            .map_err(fail)?
            .count() as u64;
        let ticks = parse_cpu_ticks(&stat).ok_or_else(|| {
            fail(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "unexpected /proc/PID/stat format",
            ))
        })?;
        Ok(Sample {
            cpu_secs: (self.tick * 1).as_secs_f64() * ticks as f64,
            rss_kib: status_field(&status, "VmRSS:").unwrap_or(0),
            threads: status_field(&status, "Threads:").unwrap_or(0),
            fds,
        })
    }
}

/// `utime + stime` from `/proc/PID/stat`. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last `)`.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The number after `name` in a `/proc/PID/status` line such as `VmRSS:   1234 kB`.
pub fn status_field(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_survive_a_name_with_spaces_and_parentheses() {
        let stat = "1234 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 9 0 100 0 0";
        assert_eq!(parse_cpu_ticks(stat), Some(300));
    }

    #[test]
    fn status_fields_are_read() {
        let status = "Name:\tserver\nVmRSS:\t   4321 kB\nThreads:\t7\n";
        assert_eq!(status_field(status, "VmRSS:"), Some(4321));
        assert_eq!(status_field(status, "Threads:"), Some(7));
        assert_eq!(status_field(status, "VmHWM:"), None);
    }

    #[test]
    fn this_process_can_be_probed() {
        let probe = Probe::new(std::process::id()).unwrap();
        let sample = probe.sample().unwrap();
        assert!(sample.rss_kib > 0 && sample.threads > 0 && sample.fds > 0);
    }
}
