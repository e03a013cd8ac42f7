//! Proving the labs: every grader test passes the reference and fails the starter, each alone;
//! every cheat in `labs/NN/cheats/` fails its grader as the grade command runs it; and the
//! students' copy builds with every grader test failing there.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::grade::Workspace;
use crate::run::{self, Limits};
use crate::{lab_dirs, package_name};

/// What a lab's tests must do in one build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Pass,
    Fail,
}

/// Running totals: one check per test per variant, one per cheat, plus the export's checks.
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

/// Progress on stderr, as the prover goes (`[12 s] ...`).
fn progress(started: Instant, what: &str) {
    eprintln!("[{:>4.0} s] {what}", started.elapsed().as_secs_f64());
    let _ = std::io::stderr().flush();
}

pub fn run(root: &Path, with_export: bool) -> Result<bool, String> {
    let started = Instant::now();
    let labs = lab_dirs(root)?;
    if labs.is_empty() {
        return Err("no labs found under labs/".into());
    }
    let target = target_dir(root);
    let mut tally = Tally::default();
    progress(
        started,
        "building every grader against the reference solutions",
    );
    let mut features = Vec::new();
    for lab in &labs {
        features.push(format!("{}/reference", package_name(lab)?));
    }
    let reference = run::build(root, &target, &labs, &features)?;
    progress(started, "building every grader against the starters");
    let starter = run::build(root, &target, &labs, &[])?;
    for (i, lab) in labs.iter().enumerate() {
        let name = short(lab);
        progress(
            started,
            &format!(
                "lab {} of {}: {name}: running each test alone",
                i + 1,
                labs.len()
            ),
        );
        let pass = check_lab(lab, reference.get(lab), Expect::Pass, &mut tally);
        let fail = check_lab(lab, starter.get(lab), Expect::Fail, &mut tally);
        println!("{name:<30} reference: {pass}    starter: {fail}");
    }
    if with_export {
        progress(started, "exporting the students' copy and building it");
        let workspace = Workspace::prepare(root, &target)?;
        check_export(&workspace, &mut tally);
        progress(
            started,
            "grading every cheat in labs/*/cheats as a submission",
        );
        check_cheats(root, &workspace, &mut tally, started)?;
    }
    progress(started, "done");
    eprintln!("labs-prover: {:.0} s", started.elapsed().as_secs_f64());
    println!("labs: {} passed, {} failed", tally.passed, tally.failed);
    Ok(tally.failed == 0)
}

/// The target directory every build shares.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

fn short(lab: &Path) -> String {
    lab.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// The students' copy builds, and every grader test in it fails (its starters).
fn check_export(workspace: &Workspace, tally: &mut Tally) {
    let built = run::build(&workspace.tree, &workspace.target, workspace.labs(), &[]);
    tally.record(built.is_ok());
    match built {
        Err(e) => println!("export: the students' copy does not build: {e}"),
        Ok(graders) => {
            for lab in workspace.labs() {
                let fail = check_lab(lab, graders.get(lab), Expect::Fail, tally);
                println!(
                    "{:<30} exported copy: {fail}",
                    format!("export/{}", short(lab))
                );
            }
        }
    }
}

/// One cheat: a replacement `src/exercise.rs` (`NAME.rs`), or a folder laid over a whole
/// student copy (`NAME/`, paths from the repository root).
struct Cheat {
    lab: PathBuf,
    name: String,
    path: PathBuf,
}

fn cheats(root: &Path) -> Result<Vec<Cheat>, String> {
    let mut out = Vec::new();
    for lab in lab_dirs(root)? {
        let Ok(entries) = std::fs::read_dir(lab.join("cheats")) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let name = short(&path);
            if path.is_dir() || name.ends_with(".rs") {
                out.push(Cheat {
                    lab: lab.clone(),
                    name: name.trim_end_matches(".rs").to_owned(),
                    path,
                });
            }
        }
    }
    Ok(out)
}

/// Grades every cheat through the grade command's own path (pristine graders and kit, only
/// the files students may edit) and checks that at least one grader test fails for each.
/// Exercise cheats of different labs share a submission (a round), so each round is one build.
fn check_cheats(
    root: &Path,
    workspace: &Workspace,
    tally: &mut Tally,
    started: Instant,
) -> Result<(), String> {
    let all = cheats(root)?;
    let scratch = std::env::temp_dir().join(format!("fernchat-labs-cheats-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    // Rounds: the k-th exercise cheat of every lab together; each folder cheat alone.
    let mut rounds: Vec<Vec<&Cheat>> = Vec::new();
    let mut per_lab: BTreeMap<&Path, usize> = BTreeMap::new();
    for cheat in &all {
        if cheat.path.is_dir() {
            rounds.push(vec![cheat]);
            continue;
        }
        let k = per_lab.entry(cheat.lab.as_path()).or_insert(0);
        let index = rounds
            .iter()
            .enumerate()
            .filter(|(_, round)| round.iter().all(|c| !c.path.is_dir()))
            .nth(*k)
            .map(|(i, _)| i);
        match index {
            Some(i) => rounds[i].push(cheat),
            None => rounds.push(vec![cheat]),
        }
        *k += 1;
    }
    let count = rounds.len();
    for (i, round) in rounds.iter().enumerate() {
        let names: Vec<String> = round
            .iter()
            .map(|c| format!("{}/{}", short(&c.lab), c.name))
            .collect();
        progress(
            started,
            &format!("cheats: round {} of {count}: {}", i + 1, names.join(", ")),
        );
        let submission = scratch.join(format!("round-{i}"));
        for cheat in round {
            if cheat.path.is_dir() {
                copy_dir(&cheat.path, &submission)?;
            } else {
                let dest = submission
                    .join("labs")
                    .join(short(&cheat.lab))
                    .join("src/exercise.rs");
                std::fs::create_dir_all(dest.parent().unwrap_or(&submission))
                    .map_err(|e| e.to_string())?;
                std::fs::copy(&cheat.path, &dest).map_err(|e| e.to_string())?;
            }
        }
        let result = workspace.grade(&format!("cheats-round-{i}"), &submission)?;
        for cheat in round {
            let lab = short(&cheat.lab);
            let Some(graded) = result.labs.iter().find(|l| l.lab == lab) else {
                tally.record(false);
                println!("{lab:<30} cheat {}: NOT GRADED", cheat.name);
                continue;
            };
            let verdict = if let Some(error) = &graded.compile_error {
                tally.record(false);
                format!(
                    "BROKEN CHEAT (does not compile): {}",
                    error.lines().next().unwrap_or("")
                )
            } else if !graded.submitted {
                tally.record(false);
                "BROKEN CHEAT (no exercise file)".to_owned()
            } else if graded.any_failed() {
                tally.record(true);
                let failed: Vec<&str> = graded
                    .tests
                    .iter()
                    .filter(|t| !t.outcome.passed)
                    .map(|t| t.name.as_str())
                    .collect();
                let ignored = if result.ignored.is_empty() {
                    String::new()
                } else {
                    format!("; ignored: {}", result.ignored.join(", "))
                };
                let shown: Vec<&str> = failed.iter().take(2).copied().collect();
                let more = if failed.len() > 2 { ", ..." } else { "" };
                format!(
                    "fails ({} of {} tests fail: {}{more}{ignored})",
                    failed.len(),
                    graded.tests.len(),
                    shown.join(", ")
                )
            } else {
                tally.record(false);
                "PASSES THE GRADER (fix the grader)".to_owned()
            };
            println!("{lab:<30} cheat {}: {verdict}", cheat.name);
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot list {}: {e}", from.display()))?;
    for entry in entries.filter_map(Result::ok) {
        let (source, dest) = (entry.path(), to.join(entry.file_name()));
        if source.is_dir() {
            copy_dir(&source, &dest)?;
        } else {
            std::fs::create_dir_all(to).map_err(|e| e.to_string())?;
            std::fs::copy(&source, &dest)
                .map_err(|e| format!("cannot copy {}: {e}", source.display()))?;
        }
    }
    Ok(())
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
        let tests = match run::list_tests(exe) {
            Ok(tests) => tests,
            Err(e) => {
                wrong.push(e);
                continue;
            }
        };
        for test in tests {
            total += 1;
            let outcome = run::run_test(lab, exe, &test, Limits::prover());
            if outcome.passed == (expect == Expect::Pass) {
                as_expected += 1;
                tally.record(true);
            } else {
                tally.record(false);
                if expect == Expect::Pass {
                    wrong.push(format!("{test}: {}", outcome.message));
                } else {
                    wrong.push(test);
                }
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
