//! Building graders and running one grader test at a time, under limits, trusting only what
//! libtest itself reports.
//!
//! A test counts as passed only when its process exits successfully **and** libtest printed
//! `test result: ok. 1 passed`: code under test that calls `std::process::exit(0)` before an
//! assertion can fail ends the process "successfully" without that line (one of the cheats).
//! Code running inside the grader's process could still print that line itself; the grade
//! report says so, and reading the code is the last check.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::package_name;

/// The limits one grader test runs under.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Killed after this long (the graders' own limits, `labkit::limit`, are shorter).
    pub time: Duration,
    /// Address space (`ulimit -v`), where the platform has a shell that sets it.
    pub memory_bytes: Option<u64>,
    /// Run in a network namespace with loopback only (Linux `unshare -rn`), where available.
    pub isolate_network: bool,
}

impl Limits {
    /// The prover's own runs: generous, and no isolation needed for our own code.
    pub fn prover() -> Limits {
        Limits {
            time: Duration::from_secs(120),
            memory_bytes: None,
            isolate_network: false,
        }
    }
}

/// What one test did.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub passed: bool,
    pub timed_out: bool,
    /// The failure's message as libtest printed it (trimmed), for feedback.
    pub message: String,
}

/// Builds the integration tests of `labs` (lab directories under `root`: their graders, in
/// `tests/`) in one cargo invocation and maps each lab directory to its grader executables.
/// `features`: extra `--features`.
///
/// Only `--test '*'`: the unit-test harnesses of a lab's library and programs are not graded,
/// and linking each of them (against the whole chat) would cost about as much again per lab.
/// The programs themselves are still built, as cargo does for every integration test.
pub fn build(
    root: &Path,
    target: &Path,
    labs: &[PathBuf],
    features: &[String],
) -> Result<BTreeMap<PathBuf, Vec<PathBuf>>, String> {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target)
        .args([
            "test",
            "--no-run",
            "--test",
            "*",
            "--message-format=json-render-diagnostics",
            "--quiet",
        ]);
    for lab in labs {
        cargo.args(["-p", &package_name(lab)?]);
    }
    if !features.is_empty() {
        cargo.args(["--features", &features.join(",")]);
    }
    let output = cargo
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        // The first error and its context is what a student needs; the rest repeats it.
        let excerpt: Vec<&str> = stderr.lines().take(40).collect();
        return Err(excerpt.join("\n"));
    }
    let mut graders: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let is_test = message["reason"] == "compiler-artifact"
            && message["profile"]["test"] == true
            && message["target"]["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "test"));
        let (Some(src), Some(exe)) = (
            message["target"]["src_path"].as_str(),
            message["executable"].as_str(),
        ) else {
            continue;
        };
        if !is_test {
            continue;
        }
        if let Some(lab) = labs
            .iter()
            .find(|lab| Path::new(src).starts_with(lab.join("tests")))
        {
            graders
                .entry(lab.clone())
                .or_default()
                .push(PathBuf::from(exe));
        }
    }
    Ok(graders)
}

/// The test names of a libtest binary.
pub fn list_tests(exe: &Path) -> Result<Vec<String>, String> {
    let output = Command::new(exe)
        .args(["--list", "--format", "terse"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_owned)
        .collect())
}

/// Whether `unshare -rn` can give a test a network namespace with only loopback, here. Probed
/// once: it needs Linux, util-linux's `unshare`, `ip`, and unprivileged user namespaces (or
/// root).
pub fn network_isolation_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        cfg!(target_os = "linux")
            && Command::new("unshare")
                .args(["-rn", "sh", "-c", "ip link set lo up"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    })
}

/// Runs one test alone in `dir`, under `limits`. Output goes to a file, never a pipe, so a
/// chatty test cannot fill a pipe and stall; a test over the time limit is killed.
pub fn run_test(dir: &Path, exe: &Path, test: &str, limits: Limits) -> Outcome {
    let log = std::env::temp_dir().join(format!(
        "labs-prover-{}-{}.log",
        std::process::id(),
        unique()
    ));
    let failed = |message: String| Outcome {
        passed: false,
        timed_out: false,
        message,
    };
    let (Ok(out), Ok(err)) = (File::create(&log), File::options().append(true).open(&log)) else {
        return failed(format!("cannot write the log {}", log.display()));
    };
    let test_args = ["--exact", test, "--test-threads=1", "--include-ignored"];
    let mut command = wrapped(exe, &test_args, limits);
    let child = command
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn();
    let Ok(mut child) = child else {
        return failed(format!("cannot run {}", exe.display()));
    };
    let deadline = Instant::now() + limits.time;
    let (exited_ok, timed_out) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (status.success(), false),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break (false, true);
            }
        }
    };
    let mut text = String::new();
    if let Ok(mut file) = File::open(&log) {
        // Bounded: a test that prints gigabytes must not exhaust the grader.
        let _ = file.by_ref().take(256 * 1024).read_to_string(&mut text);
    }
    let _ = std::fs::remove_file(&log);
    let reported_ok = text
        .lines()
        .any(|line| line.starts_with("test result: ok. 1 passed; 0 failed"));
    let passed = exited_ok && reported_ok && !timed_out;
    let message = if passed {
        String::new()
    } else if timed_out {
        format!(
            "killed after {} s (the time limit of the grading run): an endless loop, or work \
             that grows far faster than it should",
            limits.time.as_secs()
        )
    } else if exited_ok && !reported_ok {
        "the test process ended \"successfully\" before the test finished (does the code call \
         std::process::exit?): not a pass"
            .to_owned()
    } else {
        failure_excerpt(&text)
    };
    Outcome {
        passed,
        timed_out,
        message,
    }
}

/// The command that runs `exe` under `limits`: through `unshare` and `sh` where they apply.
fn wrapped(exe: &Path, args: &[&str], limits: Limits) -> Command {
    let isolate = limits.isolate_network && network_isolation_available();
    let mut script = String::new();
    if isolate {
        script.push_str("ip link set lo up || exit 97; ");
    }
    if let Some(bytes) = limits.memory_bytes {
        script.push_str(&format!("ulimit -v {} || exit 98; ", bytes / 1024));
    }
    if script.is_empty() || !cfg!(unix) {
        let mut command = Command::new(exe);
        command.args(args);
        return command;
    }
    script.push_str("exec \"$0\" \"$@\"");
    let mut command = if isolate {
        let mut command = Command::new("unshare");
        command.args(["-rn", "sh", "-c", &script]);
        command
    } else {
        let mut command = Command::new("sh");
        command.args(["-c", &script]);
        command
    };
    command.arg(exe).args(args);
    command
}

/// The panic message of a failed test, from libtest's output, a few lines at most.
fn failure_excerpt(text: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("---- ") && line.ends_with(" stdout ----") {
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        if line.starts_with("note: run with `RUST_BACKTRACE")
            || line.starts_with("stack backtrace:")
            || line == "failures:"
            || line.starts_with("thread 'main' panicked")
        {
            break;
        }
        lines.push(line);
        if lines.len() >= 15 {
            lines.push("...");
            break;
        }
    }
    if lines.is_empty() {
        let tail: Vec<&str> = text.lines().rev().take(10).collect();
        return tail.into_iter().rev().collect::<Vec<_>>().join("\n");
    }
    lines.join("\n").trim().to_owned()
}

/// A number unique within this process, for log file names.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
