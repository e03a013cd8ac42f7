//! The benchmark matrix: starts the release `server` binary as its own process (so `/proc`
//! can tell its CPU time from ours), runs the standard scenarios against it, prints a table
//! and writes every figure to a JSON file.
//!
//! The main figure is the server's CPU time per delivered message. On a 2-core machine the
//! load generator competes with the server for the CPU, so deliveries per second say as much
//! about the load generator as about the server; CPU time per delivery does not.
//!
//! Scenarios (each on a fresh server, repeated; the table shows medians):
//!
//! | name | what |
//! |---|---|
//! | `flood-10`, `flood-50`, `flood-200` | saturation: 10 senders as fast as their echo allows, 10/50/200 clients |
//! | `sustained-50` | 50 clients, 10 senders paced at 80% of the measured `flood-50` rate |
//! | `chat-50` | 50 clients, each sending 10 messages per second |
//! | `rooms-10x20` | 10 rooms of 20 members, each member sending 10 messages per second in its room; no message may reach another room (a server with rooms only) |
//! | `idle-N` | N silent clients (once): RSS per client, and one broadcast to all |
//!
//! The server runs with `--flood-rate`/`--flood-burst` far above the load (the defaults, 5/s
//! and bursts of 10, are for people and would refuse a benchmark's messages), and with
//! `--max-clients`/`--max-pending` above the largest scenario.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde::Serialize;

use crate::LoadError;
use crate::idle::{self, IdleConfig, IdleReport};
use crate::probe::Probe;
use crate::run::{self, Report, RoomLayout, RunConfig};
use crate::stats::median;
use fernchat::crypto::RoomKey;
use fernchat::keyfile::{self, Overwrite};

/// How to run the matrix.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// The `server` binary to start (the release build).
    pub server_bin: PathBuf,
    /// Where the keyfile, the server log and `results.json` go.
    pub out_dir: PathBuf,
    /// Runs per scenario (the table shows medians).
    pub repeats: usize,
    /// Seconds of sending per saturation run.
    pub flood_secs: u64,
    /// Seconds of sending per chat-like and sustained run.
    pub paced_secs: u64,
    /// Clients of the idle scenario (0 skips it).
    pub idle_clients: usize,
    /// Only the scenarios whose names contain one of these (all when empty).
    pub only: Vec<String>,
    /// Deliveries per second of `sustained-50`; `None`: 80% of the measured `flood-50`.
    pub sustained_rate: Option<f64>,
    /// The rooms scenario's layout (`rooms-RxM`).
    pub rooms: RoomLayout,
    /// Characters of message text in every load scenario (40 in the tables of
    /// docs/PERFORMANCE.md; other sizes are for experiments on the cost of frame size).
    pub size: usize,
    /// More arguments for every server started (tuning experiments).
    pub server_args: Vec<String>,
    /// Progress on standard error.
    pub verbose: bool,
}

/// One scenario's runs and medians.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    /// Its name (`flood-50` ...).
    pub name: String,
    /// What it does, in words.
    pub description: String,
    /// The median figures of its runs.
    pub median: Medians,
    /// Every run.
    pub runs: Vec<Report>,
    /// The 1-minute load average before each run (`/proc/loadavg`).
    pub load_before: Vec<f64>,
}

/// Medians over the runs of one scenario.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Medians {
    /// Server CPU microseconds per delivery.
    pub cpu_us_per_delivery: f64,
    /// Deliveries per second.
    pub deliveries_per_sec: f64,
    /// Latency percentiles, microseconds.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Largest.
    pub max_us: f64,
    /// Lost deliveries, summed over the runs.
    pub lost: u64,
    /// Messages outside their room, summed over the runs.
    pub leaks: u64,
}

/// The whole result file.
#[derive(Debug, Clone, Serialize)]
pub struct BenchResult {
    /// The machine, as `/proc` describes it.
    pub machine: Machine,
    /// The load scenarios.
    pub scenarios: Vec<ScenarioResult>,
    /// The idle-capacity run.
    pub idle: Option<IdleReport>,
    /// Scenarios that could not run, and why (the rooms scenario against a server from
    /// before rooms).
    pub skipped: Vec<(String, String)>,
}

/// Where the figures were measured.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPU model.
    pub cpu: String,
    /// Cores available to us.
    pub cores: usize,
    /// Kernel release.
    pub kernel: String,
    /// Total memory in MiB.
    pub memory_mib: u64,
    /// `/proc/loadavg` when the benchmark started.
    pub loadavg_at_start: String,
    /// `/proc/loadavg` when it ended.
    pub loadavg_at_end: String,
}

/// Runs the matrix and writes `out_dir/results.json`.
pub fn run(config: &BenchConfig) -> Result<BenchResult, LoadError> {
    fs::create_dir_all(&config.out_dir)?;
    let key_path = config.out_dir.join("bench.key");
    let key = RoomKey::generate();
    keyfile::write_plain(&key_path, &key, Overwrite::Replace)
        .map_err(|e| LoadError::Server(format!("cannot write {}: {e}", key_path.display())))?;
    let mut machine = machine();
    let wanted =
        |name: &str| config.only.is_empty() || config.only.iter().any(|o| name.contains(o));
    let mut scenarios = Vec::new();
    let flood = Duration::from_secs(config.flood_secs);
    let paced = Duration::from_secs(config.paced_secs);

    for clients in [10usize, 50, 200] {
        let name = format!("flood-{clients}");
        if !wanted(&name) {
            continue;
        }
        let result = scenario(
            config,
            &key,
            &key_path,
            &name,
            &format!(
                "saturation: {clients} clients, 10 senders as fast as their echo allows \
                 (window 32), {}-character messages",
                config.size
            ),
            |addr, key| {
                let mut run =
                    RunConfig::new(addr, key, clients, 10.min(clients), 10_000_000, flood);
                run.window = 32;
                run
            },
        )?;
        scenarios.push(result);
    }

    if wanted("sustained-50") {
        // 80% of the measured saturation, or of 0.6 M deliveries/s if flood-50 was not run.
        let saturation = scenarios
            .iter()
            .find(|s| s.name == "flood-50")
            .map(|s| s.median.deliveries_per_sec)
            .filter(|d| d.is_finite() && *d > 0.0)
            .unwrap_or(600_000.0);
        let target = config.sustained_rate.unwrap_or(0.8 * saturation);
        let per_sender = target / (50.0 * 10.0);
        let result = scenario(
            config,
            &key,
            &key_path,
            "sustained-50",
            &format!(
                "50 clients, 10 senders paced at {per_sender:.0} messages/s each: {:.0} deliveries/s \
                 (80% of flood-50 unless --sustained-rate)",
                target
            ),
            |addr, key| {
                let mut run = RunConfig::new(addr, key, 50, 10, 10_000_000, paced);
                run.rate = Some(per_sender);
                // Paced, but a sender must not run far ahead of the slowest client.
                run.window = 64;
                run
            },
        )?;
        scenarios.push(result);
    }

    if wanted("chat-50") {
        let result = scenario(
            config,
            &key,
            &key_path,
            "chat-50",
            "chat-like: 50 clients, each sending 10 messages per second, phases spread",
            |addr, key| {
                let mut run = RunConfig::new(addr, key, 50, 50, 1_000_000, paced);
                run.rate = Some(10.0);
                run.window = 64;
                run
            },
        )?;
        scenarios.push(result);
    }

    let mut skipped = Vec::new();
    let layout = config.rooms;
    let rooms_name = format!("rooms-{}x{}", layout.rooms, layout.members);
    if wanted(&rooms_name) {
        let result = scenario(
            config,
            &key,
            &key_path,
            &rooms_name,
            &format!(
                "chat-like in rooms: {} rooms of {} members (all also in #class), each member \
                 sending 10 messages per second in its room; a message outside its room fails",
                layout.rooms, layout.members
            ),
            |addr, key| {
                let mut run = RunConfig::in_rooms(addr, key, layout, 1_000_000, paced);
                run.rate = Some(10.0);
                run.window = 64;
                run
            },
        );
        match result {
            Ok(result) => scenarios.push(result),
            // A server from before rooms refuses the `join`: the rest of the matrix still
            // says something about it.
            Err(LoadError::Refused { reason, .. }) => {
                if config.verbose {
                    eprintln!("bench: {rooms_name} skipped: {reason}");
                }
                skipped.push((rooms_name, reason));
            }
            Err(other) => return Err(other),
        }
    }

    let mut idle_report = None;
    if config.idle_clients > 0 && wanted(&format!("idle-{}", config.idle_clients)) {
        let mut server = ServerProcess::start(config, &key_path, config.idle_clients)?;
        let report = idle::run(&IdleConfig {
            addr: server.addr,
            key: key.clone(),
            clients: config.idle_clients,
            connect_timeout: Duration::from_secs(10),
            settle: Duration::from_secs(2),
            time_bound: Duration::from_secs(600),
            drainers: 2,
            probe: Some(Probe::new(server.pid())?),
            verbose: config.verbose,
        });
        server.stop();
        idle_report = Some(report?);
    }

    machine.loadavg_at_end = loadavg_line();
    let result = BenchResult {
        machine,
        scenarios,
        idle: idle_report,
        skipped,
    };
    let json = serde_json::to_string_pretty(&result)
        .map_err(|e| LoadError::Io(std::io::Error::other(e)))?;
    fs::write(config.out_dir.join("results.json"), json)?;
    Ok(result)
}

fn scenario(
    config: &BenchConfig,
    key: &RoomKey,
    key_path: &Path,
    name: &str,
    description: &str,
    make: impl Fn(SocketAddr, RoomKey) -> RunConfig,
) -> Result<ScenarioResult, LoadError> {
    let mut runs = Vec::new();
    let mut load_before = Vec::new();
    for repeat in 0..config.repeats.max(1) {
        let run_config = {
            let probe_clients = make("127.0.0.1:1".parse().expect("an address"), key.clone());
            probe_clients.clients
        };
        let mut server = ServerProcess::start(config, key_path, run_config)?;
        let mut run_config = make(server.addr, key.clone());
        run_config.size = config.size;
        run_config.probe = Some(Probe::new(server.pid())?);
        load_before.push(loadavg_1min());
        let report = run::run(&run_config);
        server.stop();
        let report = report?;
        if config.verbose {
            eprintln!(
                "bench: {name} #{}: {:.3} µs/delivery, {:.0} deliveries/s, p50 {:.0} µs, p99 {:.0} µs, lost {}, leaks {}",
                repeat + 1,
                report
                    .server
                    .map(|s| s.cpu_us_per_delivery)
                    .unwrap_or(f64::NAN),
                report.deliveries_per_sec,
                report.latency.p50_us,
                report.latency.p99_us,
                report.lost,
                report.leaks
            );
        }
        runs.push(report);
    }
    let figure = |f: &dyn Fn(&Report) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let median = Medians {
        cpu_us_per_delivery: figure(&|r| {
            r.server.map(|s| s.cpu_us_per_delivery).unwrap_or(f64::NAN)
        }),
        deliveries_per_sec: figure(&|r| r.deliveries_per_sec),
        p50_us: figure(&|r| r.latency.p50_us),
        p90_us: figure(&|r| r.latency.p90_us),
        p99_us: figure(&|r| r.latency.p99_us),
        max_us: figure(&|r| r.latency.max_us),
        lost: runs.iter().map(|r| r.lost).sum(),
        leaks: runs.iter().map(|r| r.leaks).sum(),
    };
    Ok(ScenarioResult {
        name: name.to_owned(),
        description: description.to_owned(),
        median,
        runs,
        load_before,
    })
}

/// The table the benchmark prints (and the README shows).
pub fn table(result: &BenchResult) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "machine: {} ({} cores), Linux {}, {} MiB; load average at start {}, at end {}\n\n",
        result.machine.cpu,
        result.machine.cores,
        result.machine.kernel,
        result.machine.memory_mib,
        result.machine.loadavg_at_start,
        result.machine.loadavg_at_end
    ));
    out.push_str(
        "| scenario | server CPU µs/delivery | deliveries/s | p50 | p90 | p99 | max | lost | leaks | runs |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for s in &result.scenarios {
        let m = &s.median;
        out.push_str(&format!(
            "| {} | {:.3} | {:.0} | {} | {} | {} | {} | {} | {} | {} |\n",
            s.name,
            m.cpu_us_per_delivery,
            m.deliveries_per_sec,
            millis(m.p50_us),
            millis(m.p90_us),
            millis(m.p99_us),
            millis(m.max_us),
            m.lost,
            m.leaks,
            s.runs.len()
        ));
    }
    for (name, why) in &result.skipped {
        out.push_str(&format!("| {name} | skipped: {why} |\n"));
    }
    if let Some(idle) = &result.idle {
        out.push_str(&format!(
            "\nidle-{}: {} joined in {:.1} s; server RSS {} -> {} KiB, {:.1} KiB per client; \
             threads {}, fds {}; one broadcast reached {} of them in {:.0} ms; {} dropped\n",
            idle.clients,
            idle.joined,
            idle.join_secs,
            idle.before.map(|s| s.rss_kib).unwrap_or(0),
            idle.after.map(|s| s.rss_kib).unwrap_or(0),
            idle.rss_per_client_kib.unwrap_or(f64::NAN),
            idle.after.map(|s| s.threads).unwrap_or(0),
            idle.after.map(|s| s.fds).unwrap_or(0),
            idle.broadcast_reached,
            idle.broadcast_ms,
            idle.dropped
        ));
    }
    out
}

fn millis(us: f64) -> String {
    format!("{:.2} ms", us / 1000.0)
}

/// A server process started for one run, stopped (killed) when dropped.
pub(crate) struct ServerProcess {
    child: Child,
    pub(crate) addr: SocketAddr,
}

impl ServerProcess {
    /// The benchmark's server: limits far above the load, room for `clients`.
    fn start(config: &BenchConfig, key: &Path, clients: usize) -> Result<ServerProcess, LoadError> {
        let capacity = (clients + 100).to_string();
        let mut args: Vec<String> = [
            "--max-clients",
            &capacity,
            "--max-pending",
            &capacity,
            // Every client comes from 127.0.0.1: the limits per address are for crowds.
            "--max-per-address",
            &capacity,
            "--max-pending-per-address",
            &capacity,
            "--address-rate",
            "0",
            "--flood-rate",
            "1000000",
            "--flood-burst",
            "1000000",
            "--idle-timeout",
            "600",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.extend(config.server_args.iter().cloned());
        // The history (kept, as a class server keeps it) goes under out_dir, and starts empty:
        // each benchmark has a new key, and a history sealed with another key would be set
        // aside by the server as a file of its own, a few MB per run, in the working directory.
        if !args.iter().any(|a| a == "--no-history") {
            let history = config.out_dir.join("history");
            if history.exists() {
                fs::remove_dir_all(&history)?;
            }
            args.push("--history".into());
            args.push(history.join("room.log").to_string_lossy().into_owned());
        }
        ServerProcess::spawn(&config.server_bin, &config.out_dir, key, &args)
    }

    /// Starts `bin` on 127.0.0.1, a free port, with keyfile `key` and `args`; its log goes to
    /// `out_dir/server.log`.
    pub(crate) fn spawn(
        bin: &Path,
        out_dir: &Path,
        key: &Path,
        args: &[String],
    ) -> Result<ServerProcess, LoadError> {
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(out_dir.join("server.log"))?;
        let mut child = Command::new(bin)
            .args(["--bind", "127.0.0.1", "--port", "0", "--key"])
            .arg(key)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| {
                LoadError::Server(format!(
                    "cannot start {}: {e} (build it with `cargo build --release`)",
                    bin.display()
                ))
            })?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut addr = None;
        for _ in 0..20 {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        addr = rest.trim().parse().ok();
                        break;
                    }
                }
                _ => break,
            }
        }
        // Keep reading its stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        match addr {
            Some(addr) => Ok(ServerProcess { child, addr }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(LoadError::Server(
                    "the server did not print its address; see server.log".into(),
                ))
            }
        }
    }

    /// Whether the process is still running.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

fn machine() -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned(),
        memory_mib: crate::probe::status_field(&meminfo, "MemTotal:").unwrap_or(0) / 1024,
        loadavg_at_start: loadavg_line(),
        loadavg_at_end: String::new(),
    }
}

fn loadavg_line() -> String {
    fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn loadavg_1min() -> f64 {
    loadavg_line()
        .split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(f64::NAN)
}
