//! The students' copy, checked from outside the export code: what it leaves out, what its README
//! says, and that no file in it refers to anything it left out. (Building it and failing its
//! graders is the prover's job: `cargo run -p labs-prover`.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(here) = stack.pop() {
        for entry in std::fs::read_dir(&here).unwrap().filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn the_students_copy_is_for_students() {
    let dest = std::env::temp_dir().join(format!("labs-export-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dest);
    let output = Command::new(env!("CARGO_BIN_EXE_labs-prover"))
        .arg("export")
        .arg(&dest)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let all = files(&dest);
    let relative: Vec<String> = all
        .iter()
        .map(|p| {
            p.strip_prefix(&dest)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for left_out in [
        "labs/prover/",
        ".ci/",
        "labs/INSTRUCTORS.md",
        "/cheats/",
        "reference.rs",
    ] {
        assert!(
            !relative.iter().any(|r| r.contains(left_out)),
            "the copy holds {left_out}"
        );
    }
    for kept in [
        "README.md",
        "CHAT.md",
        "labs/README.md",
        "labs/01-token-anatomy/HINTS.md",
        "labs/01-token-anatomy/src/exercise.rs",
        "labs/kit/src/wiretap.rs",
    ] {
        assert!(relative.iter().any(|r| r == kept), "the copy lacks {kept}");
    }
    let readme = std::fs::read_to_string(dest.join("README.md")).unwrap();
    for topic in [
        "cargo test -p lab01",
        "Submitting",
        "Getting started",
        "exercise.rs",
    ] {
        assert!(
            readme.contains(topic),
            "the students' README lacks {topic:?}"
        );
    }
    // No file refers to what the copy does not have.
    for (path, name) in all.iter().zip(&relative) {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        for word in [
            "labs-prover",
            ".ci/run",
            "reference.rs",
            "--features reference",
            "For instructors",
            "labs/INSTRUCTORS",
            "cheats",
            "prover",
        ] {
            assert!(!text.contains(word), "{name} mentions {word:?}");
        }
    }
    let _ = std::fs::remove_dir_all(&dest);
}
