//! The students' copy: the repository as git sees it, without the reference solutions, the
//! `reference` features, the cheats, the instructors' notes, this prover, or CI; with a README
//! written for students, and no mention of anything it leaves out.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::lab_dirs;

/// The lines in a lab's `src/lib.rs` that switch in the reference solution.
const LIB_SWITCH: &str = "// The lab's one switch: the graders build against your `exercise.rs`, and instructors check the
// graders against the reference solution with `--features reference`.
#[cfg_attr(feature = \"reference\", path = \"reference.rs\")]
";

/// Writes the students' copy of the repository at `root` to `dest` (which must not exist yet,
/// or be empty).
pub fn export(root: &Path, dest: &Path) -> Result<(), String> {
    if dest.exists()
        && std::fs::read_dir(dest)
            .map_err(|e| e.to_string())?
            .next()
            .is_some()
    {
        return Err(format!(
            "{} is not empty; choose a new directory",
            dest.display()
        ));
    }
    for relative in tracked_files(root)? {
        if leave_out(&relative) {
            continue;
        }
        let from = root.join(&relative);
        if !from.is_file() {
            continue; // tracked but deleted in the working tree
        }
        let to = dest.join(&relative);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        std::fs::copy(&from, &to)
            .map_err(|e| format!("cannot copy {}: {e}", relative.display()))?;
    }
    for lab in lab_dirs(dest)? {
        strip_lab(&lab)?;
    }
    students_readme(root, dest)?;
    scrub_lock(dest)?;
    scrub_texts(dest)?;
    Ok(())
}

/// Words that name what the copy does not have. The export rewrites the few known mentions
/// (`REWRITES`) and then refuses to finish if any is left, naming the file: a new mention
/// must be dealt with here, not discovered by a student.
const FORBIDDEN: &[&str] = &[
    "labs-prover",
    ".ci/run",
    "reference.rs",
    "features reference",
    // (docs/INSTRUCTORS.md, on running the class server, stays: students run servers too.)
    "labs/INSTRUCTORS.md",
    "/cheats",
    "For instructors",
    "prover",
];

/// Known mentions in files the copy keeps, and what the copy says instead.
const REWRITES: &[(&str, &str)] = &[
    (
        "# `cargo test` at the root about the product; the labs' starters fail their graders on \
         purpose,\n# and `cargo run -p labs-prover` is what checks the labs; `cargo test -p \
         loadgen` tests the tools.",
        "# `cargo test` at the root about the product; the labs' starters fail their graders on \
         purpose\n# (`cargo test -p lab01` and so on runs one lab's grader); `cargo test -p \
         loadgen` tests the tools.",
    ),
    (
        "`default-members` keeps `cargo test` at the root about the product; the labs' starters\n\
         # fail their graders on purpose, and `cargo run -p labs-prover` is what checks the labs.",
        "`default-members` keeps `cargo test` at the root about the product; the labs' starters\n\
         # fail their graders on purpose: `cargo test -p lab01` (and so on) runs one lab's grader.",
    ),
    ("`.ci/run`", "the course's CI"),
    (
        "graded exercises, their shared kit and the prover",
        "graded exercises and their shared kit",
    ),
    (".ci/run", "the course's CI"),
    (
        "the README's \"For instructors\" section",
        "CHAT.md's section on running the server",
    ),
    (
        " ([`labs/INSTRUCTORS.md`](labs/INSTRUCTORS.md): proving, exporting,\n  grading a class)",
        "",
    ),
    (
        "\n| [labs/INSTRUCTORS.md](labs/INSTRUCTORS.md) | the labs for instructors: the prover, the \
         cheat corpus, the students' export, grading a class |",
        "",
    ),
    (
        "6. Check the labs with `cargo run -p labs-prover`; `-- export DIR` writes the students' \
         copy\n   without solutions, `-- grade` grades a class (see\n   \
         [`labs/INSTRUCTORS.md`](../labs/INSTRUCTORS.md)).",
        "6. Each lab's grader is its `tests/grader.rs` (see [`labs/README.md`](../labs/README.md)).",
    ),
];

/// The copy's `README.md` is written for students (`labs/prover/student/README.md`); the
/// chat's own README becomes `CHAT.md`, without what only the instructors' repository has.
fn students_readme(root: &Path, dest: &Path) -> Result<(), String> {
    let template = root.join("labs/prover/student/README.md");
    let readme = std::fs::read_to_string(&template)
        .map_err(|e| format!("cannot read {}: {e}", template.display()))?;
    let product = std::fs::read_to_string(dest.join("README.md")).unwrap_or_default();
    std::fs::write(dest.join("README.md"), readme).map_err(|e| e.to_string())?;
    let chat = without_blocks(&product, &["labs-prover", ".ci/run"]).replace(
        "## For instructors",
        "## Running the server and making keys",
    );
    std::fs::write(dest.join("CHAT.md"), chat).map_err(|e| e.to_string())
}

/// Markdown without the paragraphs and list items that mention any of `words`.
fn without_blocks(text: &str, words: &[&str]) -> String {
    fn flush<'a>(block: &mut Vec<&'a str>, out: &mut Vec<&'a str>, words: &[&str]) {
        if !block
            .iter()
            .any(|line| words.iter().any(|w| line.contains(w)))
        {
            out.append(block);
        }
        block.clear();
    }
    let mut out: Vec<&str> = Vec::new();
    let mut block: Vec<&str> = Vec::new();
    for line in text.lines() {
        let starts_item = line.starts_with("- ") || line.starts_with("* ");
        if line.trim().is_empty() || starts_item || line.starts_with('#') {
            flush(&mut block, &mut out, words);
        }
        block.push(line);
        if line.trim().is_empty() || line.starts_with('#') {
            flush(&mut block, &mut out, words);
        }
    }
    flush(&mut block, &mut out, words);
    out.join("\n") + "\n"
}

/// `Cargo.lock` without the prover's package (the copy's workspace has no such member).
fn scrub_lock(dest: &Path) -> Result<(), String> {
    let path = dest.join("Cargo.lock");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let kept: Vec<&str> = text
        .split("\n[[package]]\n")
        .filter(|block| !block.starts_with("name = \"labs-prover\"\n"))
        .collect();
    std::fs::write(&path, kept.join("\n[[package]]\n")).map_err(|e| e.to_string())
}

/// Applies `REWRITES` to every text file of the copy, then checks that no `FORBIDDEN` word is
/// left anywhere.
fn scrub_texts(dest: &Path) -> Result<(), String> {
    let mut stack = vec![dest.to_path_buf()];
    let mut left = Vec::new();
    while let Some(dir) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let Ok(mut text) = std::fs::read_to_string(&path) else {
                continue; // not text
            };
            let original = text.clone();
            for (from, to) in REWRITES {
                text = text.replace(from, to);
            }
            if text != original {
                std::fs::write(&path, &text).map_err(|e| e.to_string())?;
            }
            for word in FORBIDDEN {
                if text.contains(word) {
                    let relative = path.strip_prefix(dest).unwrap_or(&path);
                    left.push(format!("{} mentions {word:?}", relative.display()));
                }
            }
        }
    }
    if left.is_empty() {
        Ok(())
    } else {
        left.sort();
        Err(format!(
            "the students' copy would still refer to what it leaves out: {} (rewrite or remove \
             these mentions, or add a rewrite to labs/prover/src/export.rs)",
            left.join("; ")
        ))
    }
}

/// Files git tracks or would track (not ignored): the repository as a clone would have it,
/// plus new files not committed yet. Ignored files (keys, `target/`) never leave.
fn tracked_files(root: &Path) -> Result<Vec<PathBuf>, String> {
    let output = Command::new("git")
        .current_dir(root)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output()
        .map_err(|e| format!("cannot run git (the export lists files with it): {e}"))?;
    if !output.status.success() {
        return Err(format!("git ls-files failed in {}", root.display()));
    }
    let mut files: Vec<PathBuf> = output
        .stdout
        .split(|&b| b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| PathBuf::from(String::from_utf8_lossy(name).into_owned()))
        .collect();
    files.sort();
    files.dedup();
    Ok(files)
}

/// What students do not get: solutions, cheats, instructors' notes, this prover, CI.
fn leave_out(relative: &Path) -> bool {
    let text = relative.to_string_lossy();
    text.starts_with("labs/prover/")
        || text.starts_with(".ci/")
        || text == "labs/INSTRUCTORS.md"
        || (text.starts_with("labs/") && text.ends_with("/src/reference.rs"))
        || (text.starts_with("labs/") && text.contains("/cheats/"))
}

/// Removes a lab's `reference` feature and the switch in `src/lib.rs`, and refuses to go on if
/// either is not exactly where the export expects it (so a changed lab cannot leak a solution).
fn strip_lab(lab: &Path) -> Result<(), String> {
    let lib = lab.join("src/lib.rs");
    let text =
        std::fs::read_to_string(&lib).map_err(|e| format!("cannot read {}: {e}", lib.display()))?;
    if text.matches(LIB_SWITCH).count() != 1 {
        return Err(format!(
            "{}: the reference switch is not there exactly once",
            lib.display()
        ));
    }
    std::fs::write(&lib, text.replace(LIB_SWITCH, "")).map_err(|e| e.to_string())?;

    let manifest = lab.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| e.to_string())?;
    let start = text
        .find("\n[features]\n")
        .ok_or_else(|| format!("{}: no [features] section", manifest.display()))?;
    let section = &text[start + 1..];
    let end = section
        .find("reference = []\n")
        .map(|at| at + "reference = []\n".len())
        .ok_or_else(|| format!("{}: no `reference = []`", manifest.display()))?;
    if section[..end]
        .lines()
        .skip(1)
        .any(|line| !(line.starts_with('#') || line == "reference = []"))
    {
        return Err(format!(
            "{}: [features] holds more than `reference`",
            manifest.display()
        ));
    }
    let stripped = format!("{}{}", &text[..start + 1], &section[end..]);
    std::fs::write(&manifest, stripped.trim_end().to_owned() + "\n").map_err(|e| e.to_string())?;

    // Nothing of the reference may be left.
    for (path, text) in [
        (&lib, std::fs::read_to_string(&lib)),
        (&manifest, std::fs::read_to_string(&manifest)),
    ] {
        if text.map_err(|e| e.to_string())?.contains("reference") {
            return Err(format!("{}: still mentions the reference", path.display()));
        }
    }
    if lab.join("src/reference.rs").exists() {
        return Err(format!("{}: src/reference.rs was copied", lab.display()));
    }
    Ok(())
}
