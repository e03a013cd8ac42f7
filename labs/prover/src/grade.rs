//! `grade SUBMISSIONS --out DIR`: grading a class.
//!
//! Each folder in `SUBMISSIONS` is one student's: a whole student copy, or only the files
//! students edit, anywhere inside it (`labs/01-token-anatomy/src/exercise.rs`, or
//! `01-token-anatomy/src/exercise.rs`). Only those files are graded, in a pristine students'
//! copy (exported from this repository: pristine graders, kit and seeds); anything else a
//! submission changed is ignored and listed in the student's feedback. A lab a student did not
//! submit is not run: it scores 0 (the prover checks that the starter fails every test).
//!
//! Each test runs alone, killed after a time limit, with an address-space limit (`ulimit -v`)
//! where the platform has one, and on Linux in a network namespace that has loopback only
//! (`unshare -rn`) where the system allows it; the summary says which of these held. One
//! student's endless loop, panic or compile error costs that student's tests only.
//!
//! Out: `grades.csv` (student, lab, part, tests passed, total, points), and per student
//! `STUDENT/feedback.md` and `STUDENT/results.json` (Gradescope's autograder format).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::run::{self, Limits, Outcome};
use crate::{export, lab_dirs};

/// Points of a lab's main part, shared equally by its main tests.
pub const MAIN_POINTS: f64 = 10.0;
/// Points of a lab's stretch part (tests named `stretch_*`), counted apart.
pub const STRETCH_POINTS: f64 = 5.0;
/// A student's test is killed after this long.
const TEST_TIME: Duration = Duration::from_secs(90);
/// Address space per test process: far above what any grader needs (the graders' own memory
/// checks are in megabytes), low enough that a runaway allocation cannot take the machine.
const TEST_MEMORY: u64 = 4 << 30;
/// Ready-made answers the students' copy holds (see `labs/INSTRUCTORS.md`): a submission that
/// names one is flagged in its feedback for a person to read.
const LEANS_ON: &[(&str, &str)] = &[
    (
        "fernchat::kex",
        "the product's key exchange: labs 3, 5 and 6 ask for it by hand",
    ),
    (
        "fernchat::identity",
        "the product's server identity: lab 6 asks for it by hand",
    ),
    (
        "labkit::mitm",
        "the kit's man in the middle: lab 4 asks for one by hand",
    ),
    ("labkit::client", "the kit's honest client"),
];

/// The files of a lab that students edit, relative to the lab folder.
pub const EDITABLE: &[&str] = &["src/exercise.rs"];

/// Options of one grading run.
#[derive(Debug, Clone)]
pub struct Options {
    pub submissions: PathBuf,
    pub out: PathBuf,
    /// Grade only this student (re-running one), keeping the others' rows in `grades.csv`.
    pub only_student: Option<String>,
    /// Each test's time limit (default 90 s).
    pub test_time: Option<Duration>,
}

/// One test's result for a student.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub name: String,
    pub stretch: bool,
    pub outcome: Outcome,
}

/// One lab's result for a student.
#[derive(Debug, Clone)]
pub struct LabResult {
    /// `01-token-anatomy`.
    pub lab: String,
    pub submitted: bool,
    /// The compiler's complaint when the lab did not build.
    pub compile_error: Option<String>,
    pub tests: Vec<TestResult>,
}

impl LabResult {
    /// (passed, total, points) of one part.
    pub fn part(&self, stretch: bool) -> (usize, usize, f64) {
        let tests: Vec<&TestResult> = self.tests.iter().filter(|t| t.stretch == stretch).collect();
        let passed = tests.iter().filter(|t| t.outcome.passed).count();
        let max = if stretch { STRETCH_POINTS } else { MAIN_POINTS };
        let points = if tests.is_empty() {
            0.0
        } else {
            max * passed as f64 / tests.len() as f64
        };
        (passed, tests.len(), (points * 10.0).round() / 10.0)
    }

    /// Whether any test of this lab failed.
    pub fn any_failed(&self) -> bool {
        self.compile_error.is_some() || self.tests.iter().any(|t| !t.outcome.passed)
    }
}

/// One student's grading.
#[derive(Debug, Clone)]
pub struct StudentResult {
    pub name: String,
    pub labs: Vec<LabResult>,
    /// Files the submission changed or added that are not graded (relative paths).
    pub ignored: Vec<String>,
    /// Uses of ready-made answers in the copy (the product's `kex`, the kit's clients), which
    /// no test can tell from the student's own work: for a person to look at.
    pub leans_on: Vec<String>,
}

/// A pristine students' copy to grade in, and the target directory its builds share.
pub struct Workspace {
    pub tree: PathBuf,
    pub target: PathBuf,
    /// What each student test runs under.
    pub limits: Limits,
    /// Each editable file's pristine text, by path relative to `tree`.
    pristine: BTreeMap<PathBuf, Vec<u8>>,
    /// Every file of the pristine copy, by relative path (to report what a submission changed).
    files: BTreeMap<PathBuf, Vec<u8>>,
    labs: Vec<PathBuf>,
    /// Held while this run uses the grading copy: two runs would overwrite each other's files.
    _lock: Lock,
}

/// A lock file next to the grading copy, removed when the run ends.
struct Lock(PathBuf);

impl Lock {
    fn take(path: PathBuf) -> Result<Lock, String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                use std::io::Write;
                let _ = writeln!(file, "{}", std::process::id());
                Ok(Lock(path))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(format!(
                "another labs-prover run is using the grading copy ({} exists, holding its \
                 process id): wait for it to end, or delete the file if no run is going on",
                path.display()
            )),
            Err(e) => Err(format!("cannot create {}: {e}", path.display())),
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Workspace {
    /// Exports the students' copy of `root` and brings `<target>/labs-prover/work` up to date
    /// with it, rewriting only files that differ (so cargo rebuilds only what changed). It
    /// builds into `<target>/labs-prover/target`, a target directory of its own: cargo names a
    /// path crate's artifacts by its path *within* the workspace, so the copy's `labkit` and the
    /// repository's would overwrite each other in one shared directory.
    pub fn prepare(root: &Path, target: &Path) -> Result<Workspace, String> {
        let lock = Lock::take(target.join("labs-prover").join("lock"))?;
        let staging =
            std::env::temp_dir().join(format!("fernchat-labs-staging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        export::export(root, &staging)?;
        let tree = target.join("labs-prover").join("work");
        let files = read_tree(&staging)?;
        sync(&files, &tree)?;
        let _ = std::fs::remove_dir_all(&staging);
        let labs = lab_dirs(&tree)?;
        let mut pristine = BTreeMap::new();
        for lab in &labs {
            for file in EDITABLE {
                let path = lab.join(file);
                if let Ok(text) = std::fs::read(&path) {
                    let relative = path.strip_prefix(&tree).map_err(|e| e.to_string())?;
                    pristine.insert(relative.to_path_buf(), text);
                }
            }
        }
        Ok(Workspace {
            tree,
            target: target.join("labs-prover").join("target"),
            limits: student_limits(),
            pristine,
            files,
            labs,
            _lock: lock,
        })
    }

    pub fn labs(&self) -> &[PathBuf] {
        &self.labs
    }

    /// Grades one submission folder.
    pub fn grade(&self, name: &str, submission: &Path) -> Result<StudentResult, String> {
        let found = find_editable(submission, &self.pristine)?;
        let ignored = changed_elsewhere(submission, &self.files, &found);
        let mut leans_on = Vec::new();
        for (relative, source) in &found {
            let text = std::fs::read_to_string(source).unwrap_or_default();
            for (path, what) in LEANS_ON {
                if text.contains(path) {
                    leans_on.push(format!("{}: uses `{path}` ({what})", relative.display()));
                }
            }
        }
        // Every editable file back to pristine, then the student's on top.
        for (relative, text) in &self.pristine {
            write_if_changed(&self.tree.join(relative), text)?;
        }
        for (relative, source) in &found {
            let text = std::fs::read(source)
                .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
            write_if_changed(&self.tree.join(relative), &text)?;
        }
        let submitted: Vec<PathBuf> = self
            .labs
            .iter()
            .filter(|lab| {
                found
                    .keys()
                    .any(|relative| self.tree.join(relative).starts_with(lab))
            })
            .cloned()
            .collect();
        let mut labs = Vec::new();
        let built = build_each(&self.tree, &self.target, &submitted);
        for lab in &self.labs {
            let lab_name = file_name(lab);
            if !submitted.contains(lab) {
                labs.push(LabResult {
                    lab: lab_name,
                    submitted: false,
                    compile_error: None,
                    tests: Vec::new(),
                });
                continue;
            }
            match built.get(lab) {
                Some(Err(error)) => labs.push(LabResult {
                    lab: lab_name,
                    submitted: true,
                    compile_error: Some(error.clone()),
                    tests: Vec::new(),
                }),
                Some(Ok(exes)) => labs.push(LabResult {
                    lab: lab_name,
                    submitted: true,
                    compile_error: None,
                    tests: run_lab(lab, exes, self.limits),
                }),
                None => labs.push(LabResult {
                    lab: lab_name,
                    submitted: true,
                    compile_error: Some("no grader was built".into()),
                    tests: Vec::new(),
                }),
            }
        }
        Ok(StudentResult {
            name: name.to_owned(),
            labs,
            ignored,
            leans_on,
        })
    }
}

/// The limits every student test runs under.
pub fn student_limits() -> Limits {
    Limits {
        time: TEST_TIME,
        memory_bytes: cfg!(unix).then_some(TEST_MEMORY),
        isolate_network: true,
    }
}

fn run_lab(lab: &Path, exes: &[PathBuf], limits: Limits) -> Vec<TestResult> {
    let mut results = Vec::new();
    for exe in exes {
        let tests = match run::list_tests(exe) {
            Ok(tests) => tests,
            Err(e) => {
                results.push(TestResult {
                    name: "(listing the tests)".into(),
                    stretch: false,
                    outcome: Outcome {
                        passed: false,
                        timed_out: false,
                        message: e,
                    },
                });
                continue;
            }
        };
        for test in tests {
            let outcome = run::run_test(lab, exe, &test, limits);
            results.push(TestResult {
                stretch: test.starts_with("stretch_"),
                name: test,
                outcome,
            });
        }
    }
    results
}

/// Builds the submitted labs together; if that fails, each on its own, so that one lab that
/// does not compile costs only that lab.
fn build_each(
    tree: &Path,
    target: &Path,
    labs: &[PathBuf],
) -> BTreeMap<PathBuf, Result<Vec<PathBuf>, String>> {
    let mut out = BTreeMap::new();
    if labs.is_empty() {
        return out;
    }
    if let Ok(graders) = run::build(tree, target, labs, &[]) {
        for lab in labs {
            out.insert(
                lab.clone(),
                Ok(graders.get(lab).cloned().unwrap_or_default()),
            );
        }
        return out;
    }
    for lab in labs {
        let one = run::build(tree, target, std::slice::from_ref(lab), &[])
            .map(|graders| graders.get(lab).cloned().unwrap_or_default());
        out.insert(lab.clone(), one);
    }
    out
}

/// The editable files a submission holds: for each pristine editable path
/// (`labs/NN-name/src/exercise.rs`), a file in the submission whose path ends with
/// `NN-name/src/exercise.rs` (the shortest such path, if several).
fn find_editable(
    submission: &Path,
    pristine: &BTreeMap<PathBuf, Vec<u8>>,
) -> Result<BTreeMap<PathBuf, PathBuf>, String> {
    let files = list_files(submission)?;
    let mut found = BTreeMap::new();
    for relative in pristine.keys() {
        // `labs/NN-name/src/exercise.rs` -> `NN-name/src/exercise.rs`
        let suffix: PathBuf = relative.components().skip(1).collect();
        let best = files
            .iter()
            .filter(|file| file.ends_with(&suffix))
            .min_by_key(|file| file.components().count());
        if let Some(file) = best {
            found.insert(relative.clone(), submission.join(file));
        }
    }
    Ok(found)
}

/// Files of a whole-copy submission that differ from the pristine copy (or that it does not
/// have), other than the graded ones: reported, never used.
fn changed_elsewhere(
    submission: &Path,
    pristine: &BTreeMap<PathBuf, Vec<u8>>,
    graded: &BTreeMap<PathBuf, PathBuf>,
) -> Vec<String> {
    let Ok(files) = list_files(submission) else {
        return Vec::new();
    };
    let graded: Vec<&PathBuf> = graded.values().collect();
    let mut ignored = Vec::new();
    for relative in files {
        if graded.iter().any(|g| *g == &submission.join(&relative)) {
            continue;
        }
        // Compare with the pristine file at the same path, or (for a submission that holds
        // only lab folders) under `labs/`.
        let candidates = [relative.clone(), Path::new("labs").join(&relative)];
        let same = candidates.iter().any(|candidate| {
            pristine.get(candidate).is_some_and(|text| {
                std::fs::read(submission.join(&relative)).is_ok_and(|t| &t == text)
            })
        });
        if !same {
            ignored.push(relative.to_string_lossy().into_owned());
        }
    }
    ignored
}

/// Every file under `dir`, relative, skipping build output and version control.
fn list_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    // Bounded: a submission is a few hundred files; stop at a generous count.
    while let Some(relative) = stack.pop() {
        let entries = std::fs::read_dir(dir.join(&relative))
            .map_err(|e| format!("cannot list {}: {e}", dir.join(&relative).display()))?;
        for entry in entries.filter_map(Result::ok) {
            let name = entry.file_name();
            if name == "target" || name == ".git" {
                continue;
            }
            let path = relative.join(&name);
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => stack.push(path),
                Ok(kind) if kind.is_file() => out.push(path),
                _ => {}
            }
            if out.len() > 20_000 {
                return Err(format!("{} holds too many files", dir.display()));
            }
        }
    }
    out.sort();
    Ok(out)
}

fn read_tree(dir: &Path) -> Result<BTreeMap<PathBuf, Vec<u8>>, String> {
    let mut files = BTreeMap::new();
    for relative in list_files(dir)? {
        let text = std::fs::read(dir.join(&relative))
            .map_err(|e| format!("cannot read {}: {e}", relative.display()))?;
        files.insert(relative, text);
    }
    Ok(files)
}

/// Makes `dest` hold exactly `files` (besides `target/`), writing only what differs.
fn sync(files: &BTreeMap<PathBuf, Vec<u8>>, dest: &Path) -> Result<(), String> {
    for (relative, text) in files {
        write_if_changed(&dest.join(relative), text)?;
    }
    if dest.exists() {
        for relative in list_files(dest)? {
            if !files.contains_key(&relative) {
                let _ = std::fs::remove_file(dest.join(relative));
            }
        }
    }
    Ok(())
}

fn write_if_changed(path: &Path, text: &[u8]) -> Result<(), String> {
    if std::fs::read(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// The whole command: grades every student folder (or one), writes the gradebook and the
/// feedback, prints progress and a summary.
pub fn run(root: &Path, target: &Path, options: &Options) -> Result<bool, String> {
    let started = Instant::now();
    let mut students: Vec<PathBuf> = std::fs::read_dir(&options.submissions)
        .map_err(|e| {
            format!(
                "cannot list the submissions folder {}: {e}",
                options.submissions.display()
            )
        })?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    students.sort();
    if let Some(only) = &options.only_student {
        students.retain(|path| file_name(path) == *only);
        if students.is_empty() {
            return Err(format!(
                "no folder {only:?} in {}",
                options.submissions.display()
            ));
        }
    }
    if students.is_empty() {
        return Err(format!(
            "{} holds no student folders",
            options.submissions.display()
        ));
    }
    std::fs::create_dir_all(&options.out)
        .map_err(|e| format!("cannot create {}: {e}", options.out.display()))?;
    eprintln!("grade: preparing a pristine students' copy (a first build takes minutes)");
    let mut workspace = Workspace::prepare(root, target)?;
    if let Some(time) = options.test_time {
        workspace.limits.time = time;
    }
    eprintln!("grade: {}", enforcement(workspace.limits));
    let count = students.len();
    let mut results = Vec::new();
    for (i, student) in students.iter().enumerate() {
        let name = file_name(student);
        let began = Instant::now();
        eprintln!("grade: student {} of {count}: {name} ...", i + 1);
        let result = workspace.grade(&name, student)?;
        let points: f64 = result.labs.iter().map(|l| l.part(false).2).sum();
        let stretch: f64 = result.labs.iter().map(|l| l.part(true).2).sum();
        eprintln!(
            "grade: student {} of {count}: {name}: {points:.1} points + {stretch:.1} stretch ({:.0} s)",
            i + 1,
            began.elapsed().as_secs_f64()
        );
        write_student(&options.out, &result)?;
        results.push(result);
    }
    write_gradebook(&options.out, &results, options.only_student.is_some())?;
    summary(&results, &options.out, started.elapsed());
    Ok(true)
}

/// What the grading run enforces on this machine, in words.
pub fn enforcement(limits: Limits) -> String {
    let network = if run::network_isolation_available() {
        "network: loopback only (unshare -rn)"
    } else {
        "network: NOT isolated (no unshare/user namespaces here): student code could reach \
         the network"
    };
    let memory = if cfg!(unix) {
        "memory: 4 GiB of address space per test (ulimit -v)"
    } else {
        "memory: not limited on this platform"
    };
    format!(
        "time: {} s per test; {memory}; {network}",
        limits.time.as_secs()
    )
}

fn summary(results: &[StudentResult], out: &Path, took: Duration) {
    let students = results.len();
    let compile_failures = results
        .iter()
        .flat_map(|r| &r.labs)
        .filter(|l| l.compile_error.is_some())
        .count();
    let timeouts = results
        .iter()
        .flat_map(|r| &r.labs)
        .flat_map(|l| &l.tests)
        .filter(|t| t.outcome.timed_out)
        .count();
    let with_ignored = results.iter().filter(|r| !r.ignored.is_empty()).count();
    let total: f64 = results
        .iter()
        .flat_map(|r| &r.labs)
        .map(|l| l.part(false).2)
        .sum();
    let mean = if students == 0 {
        0.0
    } else {
        total / students as f64
    };
    eprintln!(
        "grade: {students} students in {:.0} s; mean {mean:.1} points; {compile_failures} labs \
         did not compile; {timeouts} tests killed at the time limit; {with_ignored} submissions \
         changed files that are not graded (listed in their feedback)",
        took.as_secs_f64()
    );
    eprintln!(
        "grade: wrote {}/grades.csv and STUDENT/feedback.md, STUDENT/results.json",
        out.display()
    );
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// `grades.csv`: one row per student, lab and part. Re-running one student replaces that
/// student's rows and keeps the others.
fn write_gradebook(out: &Path, results: &[StudentResult], merge: bool) -> Result<(), String> {
    const HEADER: &str = "student,lab,part,passed,total,points,max_points,note";
    let path = out.join("grades.csv");
    let mut rows: Vec<String> = Vec::new();
    if merge && let Ok(old) = std::fs::read_to_string(&path) {
        let regraded: Vec<String> = results.iter().map(|r| csv_field(&r.name)).collect();
        rows.extend(
            old.lines()
                .skip(1)
                .filter(|line| {
                    let student = line.split(',').next().unwrap_or("");
                    !regraded.iter().any(|r| r == student)
                })
                .map(str::to_owned),
        );
    }
    for result in results {
        for lab in &result.labs {
            for (stretch, part, max) in [
                (false, "main", MAIN_POINTS),
                (true, "stretch", STRETCH_POINTS),
            ] {
                let (passed, total, points) = lab.part(stretch);
                if stretch && total == 0 && lab.submitted && lab.compile_error.is_none() {
                    continue; // a lab without a stretch part
                }
                let note = if !lab.submitted {
                    "not submitted"
                } else if lab.compile_error.is_some() {
                    "does not compile"
                } else if lab
                    .tests
                    .iter()
                    .any(|t| t.outcome.timed_out && t.stretch == stretch)
                {
                    "a test hit the time limit"
                } else {
                    ""
                };
                rows.push(format!(
                    "{},{},{part},{passed},{total},{points:.1},{max:.1},{note}",
                    csv_field(&result.name),
                    lab.lab
                ));
            }
        }
    }
    rows.sort();
    let text = format!("{HEADER}\n{}\n", rows.join("\n"));
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `STUDENT/feedback.md` and `STUDENT/results.json`.
fn write_student(out: &Path, result: &StudentResult) -> Result<(), String> {
    let dir = out.join(&result.name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut feedback = format!("# Feedback for {}\n\n", result.name);
    let mut tests_json = Vec::new();
    let (mut score, mut max_score) = (0.0, 0.0);
    for lab in &result.labs {
        let (passed, total, points) = lab.part(false);
        let (s_passed, s_total, s_points) = lab.part(true);
        let _ = writeln!(feedback, "## {}\n", lab.lab);
        max_score += MAIN_POINTS;
        if !lab.submitted {
            let _ = writeln!(feedback, "Not submitted: 0 of {MAIN_POINTS} points.\n");
            continue;
        }
        if let Some(error) = &lab.compile_error {
            let _ = writeln!(
                feedback,
                "Does not compile: 0 of {MAIN_POINTS} points. The compiler said:\n\n```text\n{error}\n```\n"
            );
            tests_json.push(
                json!({"name": format!("{}: compiles", lab.lab), "score": 0.0,
                "max_score": MAIN_POINTS, "status": "failed", "output": error,
                "visibility": "visible"}),
            );
            continue;
        }
        score += points + s_points;
        let _ = writeln!(
            feedback,
            "Main part: {passed} of {total} tests, {points:.1} of {MAIN_POINTS} points."
        );
        if s_total > 0 {
            let _ = writeln!(
                feedback,
                "Stretch part: {s_passed} of {s_total} tests, {s_points:.1} of {STRETCH_POINTS} \
                 points (counted apart)."
            );
        }
        feedback.push('\n');
        for test in &lab.tests {
            let part_tests = lab
                .tests
                .iter()
                .filter(|t| t.stretch == test.stretch)
                .count();
            let max = if test.stretch {
                STRETCH_POINTS
            } else {
                MAIN_POINTS
            } / part_tests.max(1) as f64;
            let got = if test.outcome.passed { max } else { 0.0 };
            tests_json.push(json!({
                "name": format!("{}: {}{}", lab.lab, test.name, if test.stretch { " (stretch)" } else { "" }),
                "score": (got * 100.0).round() / 100.0,
                "max_score": (max * 100.0).round() / 100.0,
                "status": if test.outcome.passed { "passed" } else { "failed" },
                "output": test.outcome.message,
                "visibility": "visible",
            }));
            if !test.outcome.passed {
                let _ = writeln!(
                    feedback,
                    "- FAILED `{}`:\n\n```text\n{}\n```\n",
                    test.name, test.outcome.message
                );
            }
        }
    }
    if !result.leans_on.is_empty() {
        let _ = writeln!(
            feedback,
            "## For a person to read\n\nYour code uses ready-made parts of the course's code \
             that the lab asks you to write yourself; the tests cannot tell, your instructor \
             will look:\n"
        );
        for line in &result.leans_on {
            let _ = writeln!(feedback, "- {line}");
        }
        feedback.push('\n');
    }
    if !result.ignored.is_empty() {
        let _ = writeln!(
            feedback,
            "## Files not graded\n\nOnly `src/exercise.rs` of each lab is graded, against the original graders and kit. These files of your submission \
             differ from the original and were ignored:\n"
        );
        for file in result.ignored.iter().take(50) {
            let _ = writeln!(feedback, "- `{file}`");
        }
        if result.ignored.len() > 50 {
            let _ = writeln!(feedback, "- ... and {} more", result.ignored.len() - 50);
        }
    }
    let results = json!({
        "score": (score * 100.0_f64).round() / 100.0,
        "max_score": max_score,
        "output": format!("{} labs graded; stretch parts are extra points", result.labs.len()),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests_json,
    });
    std::fs::write(dir.join("feedback.md"), feedback)
        .map_err(|e| format!("cannot write the feedback of {}: {e}", result.name))?;
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("results.json"), json + "\n")
        .map_err(|e| format!("cannot write the results of {}: {e}", result.name))
}
