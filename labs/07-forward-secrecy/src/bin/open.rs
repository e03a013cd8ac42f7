//! `cargo run -p lab07 --bin open`: the attacker, a year later. Reads a recording made by
//! `record` (`--in PATH`, default recording.txt) and opens what *your* `open_recording` can
//! with the leaked keyfile (`--key PATH`, default keys/class.key). Prints each frame's
//! plaintext, or `[sealed]`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use lab07::open_recording;
use labkit::args;

fn main() -> ExitCode {
    let run = || -> Result<(), String> {
        let key = args::class_key()?;
        let path = args::flag("in").unwrap_or_else(|| "recording.txt".into());
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let lines: Vec<(&str, Vec<u8>)> = text
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(way, token)| (way, token.as_bytes().to_vec()))
            .collect();
        let frames: Vec<Vec<u8>> = lines.iter().map(|(_, token)| token.clone()).collect();
        let opened = open_recording(&frames, &[key]);
        let count = opened.iter().flatten().count();
        for ((way, _), plaintext) in lines.iter().zip(&opened) {
            println!("{way:>4}  {}", plaintext.as_deref().unwrap_or("[sealed]"));
        }
        println!("opened {count} of {} frames with the keyfile", frames.len());
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("open: {message}");
            ExitCode::FAILURE
        }
    }
}
