//! The students' copy: the repository as git sees it, without the reference solutions, the
//! `reference` features, this prover, or CI.

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
    Ok(())
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

/// What students do not get: solutions, this prover, CI.
fn leave_out(relative: &Path) -> bool {
    let text = relative.to_string_lossy();
    text.starts_with("labs/prover/")
        || text.starts_with(".ci/")
        || (text.starts_with("labs/") && text.ends_with("/src/reference.rs"))
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
