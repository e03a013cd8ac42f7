//! Limits the graders measure themselves, instead of trusting what the code under test reports.
//!
//! - [`within`]: every grader test runs its body under a time limit that the reference meets
//!   many times over and a quadratic solution misses. A test over its limit fails with a message
//!   that says so (the body's thread is left behind; the test process ends with the run).
//! - [`resident_bytes`]: the memory this process holds, as the operating system counts it, so
//!   that a grader can check that a structure stays bounded whatever the structure says of
//!   itself. Linux only; elsewhere it is `None` and the graders skip that one check (the time
//!   limits still hold).

use std::panic;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Runs `body` and fails (panics) if it has not finished after `limit`, or if it panicked (with
/// its own message). Use it as the whole body of a grader test:
///
/// ```ignore
/// #[test]
/// fn a_test() {
///     within(10, || { /* the test */ });
/// }
/// ```
pub fn within<F>(limit_secs: u64, body: F)
where
    F: FnOnce() + Send + 'static,
{
    let limit = Duration::from_secs(limit_secs);
    let started = Instant::now();
    let (done, finished) = mpsc::channel();
    let worker = thread::Builder::new()
        .name("grader-test".into())
        .spawn(move || {
            let outcome = panic::catch_unwind(panic::AssertUnwindSafe(body));
            let _ = done.send(outcome);
        })
        .expect("the grader can start a thread");
    match finished.recv_timeout(limit) {
        Ok(Ok(())) => {
            let _ = worker.join();
        }
        Ok(Err(payload)) => {
            let _ = worker.join();
            panic::resume_unwind(payload);
        }
        Err(_) => panic!(
            "time limit: this test did not finish within {limit_secs} s (it ran {:.1} s); the \
             reference takes a small fraction of that. Look for work that grows with the input \
             faster than it should (a scan of everything kept, on every call), or a wait that \
             never ends",
            started.elapsed().as_secs_f64()
        ),
    }
}

/// The resident memory of this process in bytes (Linux: `/proc/self/statm`), or `None` where
/// the platform does not say.
pub fn resident_bytes() -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        // 4 KiB pages on every Linux this course runs on; a larger page only makes the bound
        // looser, never a correct solution fail.
        Some(pages * 4096)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Hex of some bytes, for grader messages (`0a1b...`).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
