//! How much a hello costs the server in roster mode: the lookup of which student's key opened
//! it, in a 500-student roster. Prints microseconds per lookup.
//!
//! ```text
//! cargo run --release --example roster_hello [STUDENTS] [ROUNDS]
//! ```
//!
//! The cases: the first student on the roster (best case), the last (every live key tried), a
//! key not on the roster (every key tried, the worst case: what anyone without a key costs),
//! and for comparison one class key's ordinary decryption of the same hello.
#![forbid(unsafe_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use fernchat::crypto::RoomKey;
use fernchat::roster::Roster;
use fernchat::roster::keys::{Identified, Keyring, RosterSecret};

fn main() {
    let mut args = std::env::args().skip(1);
    let students: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let rounds: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    let students = students.clamp(1, 100_000);
    let rounds = rounds.clamp(1, 1_000_000);

    let text: String = (0..students)
        .map(|i| format!("s{i:05} 1 student Student Number {i}\n"))
        .collect();
    let roster = Roster::parse(Path::new("bench"), &text).expect("the bench roster parses");
    let secret = RosterSecret::generate();
    let started = Instant::now();
    let ring = Keyring::new(roster, &secret, None);
    println!(
        "roster of {students}: deriving the keyring took {:.1} ms ({} keys to try)",
        started.elapsed().as_secs_f64() * 1e3,
        ring.keys_tried()
    );

    // A protocol-2 hello as a client sends it (its size decides the HMAC's cost).
    let hello = |login: &str| {
        format!(
            r#"{{"type":"hello","nick":"{login}","version":2,"kex":"psk","nonce":"q83vEjRWeJq83vEjRWeJqw=="}}"#
        )
    };
    let first = secret
        .student_key("s00000", 1)
        .encrypt(hello("s00000").as_bytes());
    let last_login = format!("s{:05}", students - 1);
    let last = secret
        .student_key(&last_login, 1)
        .encrypt(hello(&last_login).as_bytes());
    let stranger_key = RoomKey::generate();
    let stranger = stranger_key.encrypt(hello("mallory").as_bytes());
    println!("hello token: {} bytes", first.len());

    let cases: [(&str, &str, bool); 3] = [
        ("first student", &first, true),
        ("last student", &last, true),
        ("key not on the roster (worst case)", &stranger, false),
    ];
    for (name, token, is_student) in cases {
        let timing = time(rounds, || {
            let found = ring.identify(token.as_bytes()).expect("a token");
            assert_eq!(matches!(found, Identified::Student { .. }), is_student);
        });
        println!("{name:<36} {timing}");
    }
    let timing = time(rounds, || {
        stranger_key.decrypt(stranger.as_bytes()).expect("opens");
    });
    println!("{:<36} {timing}", "one class key (psk mode, for scale)");
}

/// Per-call times over 7 runs of `rounds` calls: the fastest run (the least disturbed by other
/// programs on a shared machine), the median, and (Linux) this process's CPU time per call,
/// which other programs do not inflate.
struct Timing {
    fastest: Duration,
    median: Duration,
    cpu: Option<Duration>,
}

impl std::fmt::Display for Timing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>8.1} us per hello (median run {:.1} us",
            self.fastest.as_secs_f64() * 1e6,
            self.median.as_secs_f64() * 1e6
        )?;
        match self.cpu {
            Some(cpu) => write!(f, ", CPU {:.1} us)", cpu.as_secs_f64() * 1e6),
            None => write!(f, ")"),
        }
    }
}

fn time(rounds: u32, mut f: impl FnMut()) -> Timing {
    let cpu_before = cpu_time();
    let mut runs: Vec<Duration> = (0..7)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..rounds {
                f();
            }
            started.elapsed() / rounds
        })
        .collect();
    runs.sort();
    let cpu = cpu_before
        .zip(cpu_time())
        .map(|(before, after)| after.saturating_sub(before) / (7 * rounds));
    Timing {
        fastest: runs[0],
        median: runs[3],
        cpu,
    }
}

/// This process's user + system CPU time, from /proc/self/stat (Linux; clock ticks of 10 ms,
/// so a measurement wants a second or more of work).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}
