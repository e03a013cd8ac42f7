//! `cargo run -p labs-prover`: proves the labs, or exports the students' copy.
//!
//! ```text
//! cargo run -p labs-prover                            # prove every lab, its cheats, the export
//! cargo run -p labs-prover -- prove --no-export       # prove every lab only
//! cargo run -p labs-prover -- export DIR              # write the students' copy to DIR
//! cargo run -p labs-prover -- grade SUBMISSIONS --out DIR [--student NAME]   # grade a class
//! ```
//!
//! Proving a lab means: with `--features reference` **every** grader test passes, and against
//! the untouched starter **every** grader test fails, each run on its own (a starter that passes
//! a test means that test cannot tell a solved lab from an unsolved one). Then the students'
//! copy is exported, built, and each of its grader tests must fail too; and every cheat in
//! `labs/NN/cheats/` is graded as the grade command grades a student, and must fail at least
//! one test. The last line is `labs: N passed, N failed`, one check per test and variant and
//! one per cheat; the exit code is 1 if any check failed.
#![forbid(unsafe_code)]

mod export;
mod grade;
mod prove;
mod run;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] | ["prove"] => prove::run(&root, true),
        ["prove", "--no-export"] => prove::run(&root, false),
        ["export", dest] => export::export(&root, Path::new(dest)).map(|()| {
            eprintln!("exported the students' copy to {dest}");
            true
        }),
        ["grade", submissions, "--out", out] => grade_command(&root, submissions, out, None),
        ["grade", submissions, "--out", out, "--student", name] => {
            grade_command(&root, submissions, out, Some(name))
        }
        _ => Err(
            "usage: labs-prover [prove [--no-export] | export DIR | grade SUBMISSIONS \
                  --out DIR [--student NAME]]"
                .to_owned(),
        ),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("labs-prover: {message}");
            ExitCode::FAILURE
        }
    }
}

fn grade_command(
    root: &Path,
    submissions: &str,
    out: &str,
    student: Option<&str>,
) -> Result<bool, String> {
    let options = grade::Options {
        submissions: PathBuf::from(submissions),
        out: PathBuf::from(out),
        only_student: student.map(str::to_owned),
        test_time: time_limit()?,
    };
    grade::run(root, &prove::target_dir(root), &options)
}

/// `LABS_TEST_TIME` (seconds): the grade command's time limit per test, when set.
fn time_limit() -> Result<Option<std::time::Duration>, String> {
    match std::env::var("LABS_TEST_TIME") {
        Err(_) => Ok(None),
        Ok(text) => text
            .parse()
            .map(|secs| Some(std::time::Duration::from_secs(secs)))
            .map_err(|_| format!("LABS_TEST_TIME={text:?} is not a number of seconds")),
    }
}

/// The repository root: two levels above this crate.
fn workspace_root() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .nth(2)
        .expect("labs/prover sits two levels below the root")
        .to_path_buf()
}

/// The lab directories under `root/labs`: `NN-name`, in order.
pub fn lab_dirs(root: &Path) -> Result<Vec<PathBuf>, String> {
    let labs = root.join("labs");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&labs)
        .map_err(|e| format!("cannot list {}: {e}", labs.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            path.join("Cargo.toml").is_file()
                && name.len() > 3
                && name.as_bytes()[..2].iter().all(u8::is_ascii_digit)
                && name.as_bytes()[2] == b'-'
        })
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// The `name = "..."` of a lab's `[package]`.
pub fn package_name(lab: &Path) -> Result<String, String> {
    let manifest = std::fs::read_to_string(lab.join("Cargo.toml"))
        .map_err(|e| format!("cannot read {}/Cargo.toml: {e}", lab.display()))?;
    manifest
        .lines()
        .find_map(|line| line.strip_prefix("name = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .map(str::to_owned)
        .ok_or_else(|| format!("{}/Cargo.toml has no name line", lab.display()))
}
