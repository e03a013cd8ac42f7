//! A `server` binary running as its own process, with its output read line by line.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread;

use crossbeam_channel::Receiver;

use super::STEP;

/// A running server process and its output, line by line.
pub struct ServerProcess {
    /// `None` once waited for.
    pub child: Option<Child>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl ServerProcess {
    pub fn start(cwd: &Path, args: &[&str]) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(args)
            .current_dir(cwd)
            .env_remove("FERNCHAT_KEYFILE")
            .env_remove("FERNCHAT_PORT")
            .env_remove("FERNCHAT_BIND")
            .env_remove("FERNCHAT_KEX")
            .env_remove("FERNCHAT_IDENTITY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server binary");
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        ServerProcess {
            child: Some(child),
            stdout,
            stderr,
        }
    }

    /// Reads stdout until the "listening on" line, returning the address.
    pub fn address(&self) -> SocketAddr {
        for _ in 0..20 {
            let line = self
                .stdout
                .recv_timeout(STEP)
                .expect("the server prints its banner");
            if let Some(rest) = line.split("listening on ").nth(1) {
                return rest
                    .trim()
                    .parse()
                    .expect("an address after 'listening on'");
            }
        }
        panic!("no 'listening on' line");
    }

    /// Reads stdout (after the banner's first line) until a line containing `wanted`.
    pub fn stdout_line(&self, wanted: &str) -> String {
        for _ in 0..20 {
            let line = self
                .stdout
                .recv_timeout(STEP)
                .expect("the server prints its banner");
            if line.contains(wanted) {
                return line;
            }
        }
        panic!("no stdout line with {wanted:?}");
    }

    /// Waits (bounded) for the process to exit and returns its exit code. The end of its log
    /// (stderr closing) is the sign that it exited; a server still running after the step
    /// timeout is killed (on every platform: no signal is sent by name) and the test fails.
    pub fn exit_code(mut self) -> Option<i32> {
        let deadline = std::time::Instant::now() + STEP;
        let mut child = self.child.take().expect("still running");
        if !log_closed_by(&self.stderr, deadline) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not exit in time");
        }
        child.wait().expect("wait for the server").code()
    }

    /// Reads stderr until a line containing `wanted` (at most 200 lines, each within the
    /// step timeout), returning every line read, the matching one last.
    pub fn stderr_until(&self, wanted: &str) -> Vec<String> {
        let mut read = Vec::new();
        for _ in 0..200 {
            let line = self
                .stderr
                .recv_timeout(STEP)
                .unwrap_or_else(|_| panic!("no log line with {wanted:?}; read {read:#?}"));
            let found = line.contains(wanted);
            read.push(line);
            if found {
                return read;
            }
        }
        panic!("no log line with {wanted:?} within 200 lines");
    }

    /// Reads stderr (the log) until a line containing `wanted` (bounded), returning it.
    pub fn stderr_line(&self, wanted: &str) -> String {
        self.stderr_until(wanted).pop().unwrap_or_default()
    }

    /// The process id, to send the server a signal.
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn stderr_text(&self) -> String {
        let mut text = String::new();
        while let Ok(line) = self
            .stderr
            .recv_timeout(std::time::Duration::from_millis(200))
        {
            text.push_str(&line);
            text.push('\n');
        }
        text
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads `log` until its writer closes it (`true`) or `deadline` passes (`false`); the lines
/// read are dropped.
pub fn log_closed_by(log: &Receiver<String>, deadline: std::time::Instant) -> bool {
    loop {
        match log.recv_deadline(deadline) {
            Ok(_) => {}
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return true,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => return false,
        }
    }
}

pub fn lines(pipe: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = crossbeam_channel::unbounded();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A running client process fed through its stdin, with its stdout as a stream of lines.
pub struct ClientProcess {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

impl ClientProcess {
    pub fn start(port: u16, key_path: &Path, extra: &[&str]) -> ClientProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_client"));
        for var in [
            "FERNCHAT_HOST",
            "FERNCHAT_PORT",
            "FERNCHAT_KEYFILE",
            "FERNCHAT_NICK",
        ] {
            command.env_remove(var);
        }
        let mut child = command
            .args(["--port", &port.to_string()])
            .arg("--key")
            .arg(key_path)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the client binary");
        ClientProcess {
            stdin: child.stdin.take(),
            stdout: lines(child.stdout.take().unwrap()),
            stderr: lines(child.stderr.take().unwrap()),
            child,
        }
    }

    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").expect("write to the client");
    }

    /// Reads stdout until a line contains `needle`, returning it (bounded in lines and time).
    pub fn expect_line(&self, needle: &str) -> String {
        let mut read = self.lines_until(needle);
        read.pop().unwrap_or_default()
    }

    /// Every line of stdout up to and including the first that contains `needle` (bounded in
    /// lines and time).
    pub fn lines_until(&self, needle: &str) -> Vec<String> {
        let mut seen = Vec::new();
        for _ in 0..50 {
            match self.stdout.recv_timeout(STEP) {
                Ok(line) => {
                    let found = line.contains(needle);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(_) => break,
            }
        }
        panic!("no line with {needle:?}; saw {seen:#?}");
    }

    /// Waits (bounded) for the client to end by itself, its stdin still open (so it did not
    /// end because its user left); returns the exit code with stderr.
    pub fn finish_unprompted(mut self) -> (Option<i32>, String) {
        let stdin = self.stdin.take();
        let ended = self.finish();
        drop(stdin);
        ended
    }

    /// Closes stdin and waits (bounded) for the exit code; returns it with stderr.
    pub fn finish(mut self) -> (Option<i32>, String) {
        drop(self.stdin.take());
        let (tx, rx) = crossbeam_channel::bounded(1);
        let mut child = self.child;
        thread::spawn(move || {
            let _ = tx.send(child.wait());
        });
        let status = rx
            .recv_timeout(STEP)
            .expect("the client exits in time")
            .unwrap();
        // The process has exited, but the thread reading its stderr may not have passed the
        // last lines on yet: read until that thread ends at the pipe's end (bounded).
        let mut stderr = Vec::new();
        while let Ok(line) = self.stderr.recv_timeout(STEP) {
            stderr.push(line);
        }
        (status.code(), stderr.join("\n"))
    }
}
