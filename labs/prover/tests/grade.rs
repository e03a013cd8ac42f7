//! The grade command on a folder of submissions this test builds: the reference solutions, the
//! starters, every cheat of the corpus, a submission that does not compile, one whose code loops
//! forever, and one that edited the grader. Slow (it compiles the labs, sharing the workspace's
//! target directory, and runs every grader test alone): several minutes on a busy 2-core machine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("labs/prover sits two levels below the root")
        .to_path_buf()
}

fn labs(root: &Path) -> Vec<String> {
    let mut labs: Vec<String> = std::fs::read_dir(root.join("labs"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.as_bytes().first().is_some_and(u8::is_ascii_digit))
        .collect();
    labs.sort();
    labs
}

fn put(path: &Path, text: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap().filter_map(Result::ok) {
        let (source, dest) = (entry.path(), to.join(entry.file_name()));
        if source.is_dir() {
            copy_dir(&source, &dest);
        } else {
            put(&dest, &std::fs::read(&source).unwrap());
        }
    }
}

/// `grades.csv` as (student, lab, part) -> (passed, total, points, note).
type Book = BTreeMap<(String, String, String), (usize, usize, f64, String)>;

fn read_book(path: &Path) -> Book {
    let text = std::fs::read_to_string(path).expect("grades.csv is written");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("student,lab,part,passed,total,points,max_points,note")
    );
    lines
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (
                (f[0].to_owned(), f[1].to_owned(), f[2].to_owned()),
                (
                    f[3].parse().unwrap(),
                    f[4].parse().unwrap(),
                    f[5].parse().unwrap(),
                    f[7].to_owned(),
                ),
            )
        })
        .collect()
}

fn main_row<'a>(book: &'a Book, student: &str, lab: &str) -> &'a (usize, usize, f64, String) {
    book.get(&(student.to_owned(), lab.to_owned(), "main".to_owned()))
        .unwrap_or_else(|| panic!("no main row for {student} {lab}"))
}

#[test]
fn a_class_of_reference_starter_cheats_and_broken_submissions_is_graded() {
    let root = root();
    let labs = labs(&root);
    let work = std::env::temp_dir().join(format!("labs-prover-grade-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let subs = work.join("submissions");
    let out = work.join("out");

    // The reference (a whole-copy layout) and the starter (lab folders only).
    for lab in &labs {
        let lab_dir = root.join("labs").join(lab);
        put(
            &subs
                .join("reference/labs")
                .join(lab)
                .join("src/exercise.rs"),
            &std::fs::read(lab_dir.join("src/reference.rs")).unwrap(),
        );
        put(
            &subs.join("starter").join(lab).join("src/exercise.rs"),
            &std::fs::read(lab_dir.join("src/exercise.rs")).unwrap(),
        );
    }
    // Every cheat: the k-th exercise cheat of every lab in student `cheats-k`; folder cheats
    // each as a student of its own.
    let mut cheats: Vec<(String, String, String)> = Vec::new(); // (student, lab, cheat)
    for lab in &labs {
        let Ok(entries) = std::fs::read_dir(root.join("labs").join(lab).join("cheats")) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        let mut k = 0;
        for path in paths {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                let student = format!("cheat-{name}");
                copy_dir(&path, &subs.join(&student));
                cheats.push((student, lab.clone(), name));
            } else {
                k += 1;
                let student = format!("cheats-{k}");
                put(
                    &subs.join(&student).join(lab).join("src/exercise.rs"),
                    &std::fs::read(&path).unwrap(),
                );
                cheats.push((student, lab.clone(), name));
            }
        }
    }
    // Lab 1 does not compile; lab 2 (the reference) must still be graded.
    let (lab1, lab2) = (&labs[0], &labs[1]);
    put(
        &subs
            .join("does-not-compile")
            .join(lab1)
            .join("src/exercise.rs"),
        b"this is not Rust\n",
    );
    put(
        &subs
            .join("does-not-compile")
            .join(lab2)
            .join("src/exercise.rs"),
        &std::fs::read(root.join("labs").join(lab2).join("src/reference.rs")).unwrap(),
    );
    // Lab 1's compute_hmac never returns.
    let reference =
        std::fs::read_to_string(root.join("labs").join(lab1).join("src/reference.rs")).unwrap();
    let at = reference.find("pub fn compute_hmac(").unwrap();
    let looping = format!(
        "{}pub fn compute_hmac(signing_key: &[u8; 16], token: &Token) -> [u8; 32] {{\n    \
         let _ = (signing_key, token);\n    loop {{\n        std::hint::spin_loop();\n    }}\n}}\n\
         #[allow(dead_code)]\nfn original_{}",
        &reference[..at],
        &reference[at + "pub fn ".len()..]
    );
    put(
        &subs
            .join("loops-forever")
            .join(lab1)
            .join("src/exercise.rs"),
        looping.as_bytes(),
    );
    // The reference of lab 1 with an emptied grader beside it: graded with the original.
    put(
        &subs
            .join("edited-grader/labs")
            .join(lab1)
            .join("src/exercise.rs"),
        reference.as_bytes(),
    );
    put(
        &subs
            .join("edited-grader/labs")
            .join(lab1)
            .join("tests/grader.rs"),
        b"#[test]\nfn the_specification_token_comes_apart_into_its_five_fields() {}\n",
    );

    let output = Command::new(env!("CARGO_BIN_EXE_labs-prover"))
        .args(["grade"])
        .arg(&subs)
        .arg("--out")
        .arg(&out)
        .env("LABS_TEST_TIME", "60")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "grade failed:\n{stderr}");
    let students = std::fs::read_dir(&subs).unwrap().count();
    assert!(
        stderr.contains(&format!("student 1 of {students}"))
            && stderr.contains(&format!("student {students} of {students}")),
        "progress:\n{stderr}"
    );
    assert!(
        stderr.contains("grade: ") && stderr.contains("students in"),
        "summary:\n{stderr}"
    );

    let book = read_book(&out.join("grades.csv"));
    for lab in &labs {
        let (passed, total, points, _) = main_row(&book, "reference", lab);
        assert!(
            passed == total && *total > 0 && *points == 10.0,
            "reference {lab}: {passed}/{total}"
        );
        let (passed, total, _, _) = main_row(&book, "starter", lab);
        assert!(
            *passed == 0 && *total > 0,
            "starter {lab}: {passed}/{total}"
        );
    }
    for (student, lab, cheat) in &cheats {
        let (passed, total, _, _) = main_row(&book, student, lab);
        assert!(
            passed < total,
            "cheat {lab}/{cheat} ({student}): {passed}/{total}"
        );
        eprintln!("{lab} cheat {cheat}: {passed}/{total} (fails)");
    }
    let (_, _, points, note) = main_row(&book, "does-not-compile", lab1);
    assert!(*points == 0.0 && note == "does not compile", "{note}");
    let (passed, total, _, _) = main_row(&book, "does-not-compile", lab2);
    assert_eq!(
        passed, total,
        "one lab that does not compile costs only that lab"
    );
    let (_, _, _, note) = main_row(&book, "does-not-compile", &labs[2]);
    assert_eq!(note, "not submitted");
    let feedback = std::fs::read_to_string(out.join("does-not-compile/feedback.md")).unwrap();
    assert!(feedback.contains("Does not compile") && feedback.contains("error"));

    let (passed, total, _, note) = main_row(&book, "loops-forever", lab1);
    assert!(
        passed < total && *passed > 0,
        "loops-forever: {passed}/{total}"
    );
    assert_eq!(note, "", "the graders' own time limits fail the test first");
    let feedback = std::fs::read_to_string(out.join("loops-forever/feedback.md")).unwrap();
    assert!(feedback.contains("time limit"), "{feedback}");

    let (passed, total, _, _) = main_row(&book, "edited-grader", lab1);
    assert_eq!(
        passed, total,
        "graded with the original grader: the reference passes it"
    );
    assert!(
        *total > 1,
        "the original grader has more than the one emptied test"
    );
    let feedback = std::fs::read_to_string(out.join("edited-grader/feedback.md")).unwrap();
    assert!(
        feedback.contains(&format!("labs/{lab1}/tests/grader.rs")),
        "the edited grader is reported: {feedback}"
    );

    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("reference/results.json")).unwrap())
            .unwrap();
    // 10 points per lab, and 5 more per stretch part on top (extra credit to Gradescope).
    assert_eq!(results["score"], 15.0 * labs.len() as f64);
    assert_eq!(results["max_score"], 10.0 * labs.len() as f64);
    let tests = results["tests"].as_array().unwrap();
    assert!(tests.len() > 40 && tests.iter().all(|t| t["status"] == "passed"));

    // Re-running one student keeps everyone else's rows.
    let again = Command::new(env!("CARGO_BIN_EXE_labs-prover"))
        .args(["grade"])
        .arg(&subs)
        .arg("--out")
        .arg(&out)
        .args(["--student", "edited-grader"])
        .output()
        .unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let regraded = read_book(&out.join("grades.csv"));
    assert_eq!(
        regraded.len(),
        book.len(),
        "the same rows after re-grading one student"
    );
    assert_eq!(regraded, book);
    std::fs::copy(
        out.join("grades.csv"),
        std::env::temp_dir().join("labs-grade-test-grades.csv"),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&work);
}
