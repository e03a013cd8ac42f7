//! Building the graders and running each grader test on its own.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{export, lab_dirs, package_name};

/// A grader test that has not finished after this long counts as failed (and as not passing).
const TEST_TIMEOUT: Duration = Duration::from_secs(120);

/// What a lab's tests must do in one build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Pass,
    Fail,
}

/// Running totals: one check per test per variant, plus the export's own checks.
#[derive(Debug, Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    fn record(&mut self, ok: bool) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
    }
}

pub fn run(root: &Path, with_export: bool) -> Result<bool, String> {
    let started = Instant::now();
    let labs = lab_dirs(root)?;
    if labs.is_empty() {
        return Err("no labs found under labs/".into());
    }
    let mut tally = Tally::default();
    let reference = build(root, &labs, true)?;
    let starter = build(root, &labs, false)?;
    for lab in &labs {
        let name = lab
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let pass = check_lab(lab, reference.get(lab), Expect::Pass, &mut tally);
        let fail = check_lab(lab, starter.get(lab), Expect::Fail, &mut tally);
        println!("{name:<30} reference: {pass}    starter: {fail}");
    }
    if with_export {
        check_export(root, &mut tally)?;
    }
    eprintln!("labs-prover: {:.0} s", started.elapsed().as_secs_f64());
    println!("labs: {} passed, {} failed", tally.passed, tally.failed);
    Ok(tally.failed == 0)
}

/// Exports the students' copy to a temporary directory, builds it, and checks that every
/// grader test there fails.
fn check_export(root: &Path, tally: &mut Tally) -> Result<(), String> {
    let dest = std::env::temp_dir().join(format!("fernchat-labs-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dest);
    let exported = export::export(root, &dest);
    tally.record(exported.is_ok());
    if let Err(e) = &exported {
        println!("export: FAILED: {e}");
        return Ok(());
    }
    let labs = lab_dirs(&dest)?;
    // Build with the main target directory: the registry crates are already compiled there,
    // only the path crates (at their new paths) are built again.
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let built = build_with(&dest, &target, &labs, false);
    tally.record(built.is_ok());
    match built {
        Err(e) => println!("export: the students' copy does not build: {e}"),
        Ok(graders) => {
            for lab in &labs {
                let name = lab
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let fail = check_lab(lab, graders.get(lab), Expect::Fail, tally);
                println!("{:<30} exported copy: {fail}", format!("export/{name}"));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dest);
    Ok(())
}

fn build(
    root: &Path,
    labs: &[PathBuf],
    reference: bool,
) -> Result<BTreeMap<PathBuf, Vec<PathBuf>>, String> {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    build_with(root, &target, labs, reference)
}

/// Builds every lab's test targets in one cargo invocation and maps each lab directory to its
/// grader executables (the `tests/` targets).
fn build_with(
    root: &Path,
    target: &Path,
    labs: &[PathBuf],
    reference: bool,
) -> Result<BTreeMap<PathBuf, Vec<PathBuf>>, String> {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(root)
        .env("CARGO_TARGET_DIR", target)
        .args([
            "test",
            "--no-run",
            "--message-format=json-render-diagnostics",
            "--quiet",
        ]);
    let mut features = Vec::new();
    for lab in labs {
        let package = package_name(lab)?;
        cargo.args(["-p", &package]);
        features.push(format!("{package}/reference"));
    }
    if reference {
        cargo.args(["--features", &features.join(",")]);
    }
    let output = cargo
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("cargo test --no-run failed in {}", root.display()));
    }
    let mut graders: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let is_grader = message["reason"] == "compiler-artifact"
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
        if !is_grader {
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

/// Runs each test of each grader of `lab` on its own and checks it against `expect`. Returns a
/// summary like `11/11 passed` and records one check per test.
fn check_lab(
    lab: &Path,
    graders: Option<&Vec<PathBuf>>,
    expect: Expect,
    tally: &mut Tally,
) -> String {
    let mut total = 0;
    let mut as_expected = 0;
    let mut wrong = Vec::new();
    for exe in graders.into_iter().flatten() {
        let tests = match list_tests(exe) {
            Ok(tests) => tests,
            Err(e) => {
                wrong.push(e);
                continue;
            }
        };
        for test in tests {
            total += 1;
            let passed = run_test(lab, exe, &test);
            if passed == (expect == Expect::Pass) {
                as_expected += 1;
                tally.record(true);
            } else {
                tally.record(false);
                wrong.push(test);
            }
        }
    }
    if total == 0 {
        // A lab without grader tests proves nothing.
        tally.record(false);
        return "NO GRADER TESTS".into();
    }
    let verb = if expect == Expect::Pass {
        "passed"
    } else {
        "failed"
    };
    let mut summary = format!("{as_expected}/{total} {verb}");
    if !wrong.is_empty() {
        let what = if expect == Expect::Pass {
            "did not pass"
        } else {
            "did NOT fail (broken lab)"
        };
        summary.push_str(&format!(" [{what}: {}]", wrong.join(", ")));
    }
    summary
}

/// The test names of a libtest binary.
fn list_tests(exe: &Path) -> Result<Vec<String>, String> {
    let output = Command::new(exe)
        .args(["--list", "--format", "terse"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_owned)
        .collect())
}

/// Runs one test alone; `true` if it passed. Output goes to a file, never a pipe, so a chatty
/// failure cannot fill a pipe and stall the test; a test over the time limit is killed.
fn run_test(lab: &Path, exe: &Path, test: &str) -> bool {
    let log = std::env::temp_dir().join(format!("labs-prover-{}.log", std::process::id()));
    let (Ok(out), Ok(err)) = (File::create(&log), File::create(&log)) else {
        return false;
    };
    let child = Command::new(exe)
        .current_dir(lab)
        .args(["--exact", test, "--test-threads=1", "--include-ignored"])
        .env("RUST_BACKTRACE", "0")
        .stdout(out)
        .stderr(err)
        .spawn();
    let Ok(mut child) = child else { return false };
    let deadline = Instant::now() + TEST_TIMEOUT;
    let passed = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break false;
            }
        }
    };
    let _ = std::fs::remove_file(&log);
    passed
}
