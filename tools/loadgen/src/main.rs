//! `loadgen`: load, benchmark and soak a fernchat server through the real protocol.
//!
//! Thin: parses arguments and prints; the work is in the `loadgen` library (`tools/loadgen/src/`). Exit codes: 0 when
//! nothing was lost, 1 when something was lost or garbled (or the run could not be carried
//! out), 2 on bad arguments.
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use fernchat::crypto::RoomKey;
use fernchat::keyfile;
use loadgen::bench::{self, BenchConfig};
use loadgen::hostile::{self, HostileConfig};
use loadgen::idle::{self, IdleConfig};
use loadgen::probe::Probe;
use loadgen::run::{self, Churn, Report, RoomLayout, RunConfig};

/// Load generator for fernchat servers: N clients, S senders, M messages, measured end to end.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Exit codes: 0 when nothing was lost, 1 when something was lost or the run \
                  failed, 2 on bad arguments."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// One load run against a running server.
    Run(RunArgs),
    /// Chat in rooms of their own (issue 16): deliveries, latency, and no message outside its
    /// room, against a running server with rooms.
    Rooms(RoomsArgs),
    /// Many silent clients: server memory per client, and one broadcast to all of them.
    Idle(IdleArgs),
    /// A long run with clients joining and leaving all the time: memory, threads, descriptors.
    Soak(SoakArgs),
    /// The benchmark matrix against a server process started for each run.
    Bench(BenchArgs),
    /// Attacks on a server process it starts (loopback, default limits) while a pair chats.
    Hostile(HostileArgs),
}

#[derive(Debug, Args)]
struct HostileArgs {
    /// The server binary (default: `server` next to this program).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Where the keyfile, the server log and hostile.json go.
    #[arg(long, default_value = "target/hostile")]
    out: PathBuf,
    /// Seconds the normal pair chats while the attacks run (at least 20).
    #[arg(long, default_value_t = 30)]
    secs: u64,
    /// Connections in the silent crowd.
    #[arg(long, default_value_t = 1000)]
    crowd: usize,

    /// Connections in the silent crowd from many source addresses (127.0.0.2-250 on Linux),
    /// each reopened as soon as the server closes it.
    #[arg(long, default_value_t = 600)]
    crowd_many: usize,
}

/// Where the server is and how to reach it.
#[derive(Debug, Args)]
struct Target {
    /// The server's address.
    #[arg(long, default_value = "127.0.0.1:7474")]
    addr: SocketAddr,
    /// The class keyfile.
    #[arg(long, default_value = fernchat::keyfile::DEFAULT_KEY_PATH)]
    key: PathBuf,
    /// The server's process id, to report its CPU time and memory from /proc (same machine).
    #[arg(long)]
    server_pid: Option<u32>,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    target: Target,
    /// Clients connected (all receive).
    #[arg(long, short = 'n')]
    clients: usize,
    /// How many of them send.
    #[arg(long, short = 's')]
    senders: usize,
    /// Messages per sender (required: the message bound).
    #[arg(long, short = 'm')]
    messages: u64,
    /// Seconds of sending at most (required: the time bound).
    #[arg(long, short = 'd')]
    duration: f64,
    /// Messages per second per sender; without it, as fast as the window allows.
    #[arg(long)]
    rate: Option<f64>,
    /// Messages a sender may be ahead of the slowest client.
    #[arg(long, default_value_t = 32)]
    window: u64,
    /// Characters per message.
    #[arg(long, default_value_t = 40)]
    size: usize,
    /// Seconds to wait for the last deliveries after sending.
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct RoomsArgs {
    #[command(flatten)]
    target: Target,
    /// Rooms (each client also stays in `#class`).
    #[arg(long, default_value_t = 10)]
    rooms: usize,
    /// Members of each room (the server needs --max-clients and --max-per-address above
    /// rooms x members).
    #[arg(long, default_value_t = 20)]
    members: usize,
    /// Members of each room who talk (default: all of them).
    #[arg(long)]
    senders: Option<usize>,
    /// Messages per second per talking member (the server's --flood-rate must allow it).
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Send as fast as the window allows instead of at --rate.
    #[arg(long)]
    flood: bool,
    /// Messages per talking member at most (the message bound).
    #[arg(long, short = 'm', default_value_t = 1_000_000)]
    messages: u64,
    /// Seconds of sending at most (the time bound).
    #[arg(long, short = 'd', default_value_t = 15.0)]
    duration: f64,
    /// Messages a sender may be ahead of the slowest member of its room.
    #[arg(long, default_value_t = 64)]
    window: u64,
    /// Characters per message.
    #[arg(long, default_value_t = 40)]
    size: usize,
    /// Seconds to wait for the last deliveries after sending.
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct IdleArgs {
    #[command(flatten)]
    target: Target,
    /// Clients to connect.
    #[arg(long, short = 'n')]
    clients: usize,
    /// Seconds the whole run may take at most.
    #[arg(long, default_value_t = 600.0)]
    time_bound: f64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct SoakArgs {
    #[command(flatten)]
    target: Target,
    /// Seconds of soak (at least 600 for the endurance figure).
    #[arg(long, short = 'd')]
    duration: f64,
    /// Clients that stay for the whole run (all receive).
    #[arg(long, default_value_t = 20)]
    clients: usize,
    /// How many of them talk.
    #[arg(long, default_value_t = 10)]
    senders: usize,
    /// Messages per second per talking client (under the server's default limit of 5).
    #[arg(long, default_value_t = 4.0)]
    rate: f64,
    /// Threads that join and leave all the time.
    #[arg(long, default_value_t = 8)]
    churners: usize,
    /// Longest stay and pause of a churning client, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    churn_ms: u64,
    /// Seconds between samples of the server.
    #[arg(long, default_value_t = 60.0)]
    sample_every: f64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct BenchArgs {
    /// The server binary (default: `server` next to this program).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Where results.json, the keyfile and the server log go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// Runs per scenario; the table shows medians.
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Seconds of sending per saturation run.
    #[arg(long, default_value_t = 8)]
    flood_secs: u64,
    /// Seconds of sending per paced run.
    #[arg(long, default_value_t = 15)]
    paced_secs: u64,
    /// Clients of the idle-capacity scenario (0 skips it).
    #[arg(long, default_value_t = 5000)]
    idle_clients: usize,
    /// Only scenarios whose names contain this (repeatable), e.g. `--only chat`.
    #[arg(long)]
    only: Vec<String>,
    /// Deliveries per second of the sustained scenario (default: 80% of flood-50).
    #[arg(long)]
    sustained_rate: Option<f64>,
    /// Rooms of the rooms scenario (`rooms-RxM`; needs a server with rooms).
    #[arg(long, default_value_t = 10)]
    rooms: usize,
    /// Members of each room in the rooms scenario.
    #[arg(long, default_value_t = 20)]
    room_members: usize,
    /// Characters per message in every load scenario (the published tables use 40).
    #[arg(long, default_value_t = 40)]
    size: usize,
    /// An extra argument for the server (repeatable), e.g. `--server-arg=--direct-round=0`.
    #[arg(long, allow_hyphen_values = true)]
    server_arg: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli.command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("loadgen: {message}");
            ExitCode::from(1)
        }
    }
}

/// `Ok(true)` when nothing was lost.
fn dispatch(command: Cmd) -> Result<bool, String> {
    match command {
        Cmd::Run(args) => {
            let mut config = RunConfig::new(
                args.target.addr,
                load_key(&args.target)?,
                args.clients,
                args.senders,
                args.messages,
                seconds(args.duration)?,
            );
            config.rate = args.rate;
            config.window = args.window;
            config.size = args.size;
            config.drain = seconds(args.drain)?;
            config.probe = probe(&args.target)?;
            let report = run::run(&config).map_err(|e| e.to_string())?;
            print_report(&report, args.json);
            Ok(!report.failed())
        }
        Cmd::Rooms(args) => {
            let layout = RoomLayout {
                rooms: args.rooms,
                members: args.members,
                senders: args.senders.unwrap_or(args.members),
            };
            let mut config = RunConfig::in_rooms(
                args.target.addr,
                load_key(&args.target)?,
                layout,
                args.messages,
                seconds(args.duration)?,
            );
            config.rate = (!args.flood).then_some(args.rate);
            config.window = args.window;
            config.size = args.size;
            config.drain = seconds(args.drain)?;
            config.probe = probe(&args.target)?;
            let report = run::run(&config).map_err(|e| e.to_string())?;
            print_report(&report, args.json);
            Ok(!report.failed())
        }
        Cmd::Idle(args) => {
            let config = IdleConfig {
                addr: args.target.addr,
                key: load_key(&args.target)?,
                clients: args.clients,
                connect_timeout: Duration::from_secs(10),
                settle: Duration::from_secs(2),
                time_bound: seconds(args.time_bound)?,
                drainers: 2,
                probe: probe(&args.target)?,
                verbose: true,
            };
            let report = idle::run(&config).map_err(|e| e.to_string())?;
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            } else {
                println!(
                    "{} of {} joined in {:.1} s; server RSS {:?} -> {:?} KiB, {:.1} KiB per client; \
                     broadcast reached {} in {:.0} ms; {} dropped",
                    report.joined,
                    report.clients,
                    report.join_secs,
                    report.before.map(|s| s.rss_kib),
                    report.after.map(|s| s.rss_kib),
                    report.rss_per_client_kib.unwrap_or(f64::NAN),
                    report.broadcast_reached,
                    report.broadcast_ms,
                    report.dropped
                );
            }
            Ok(!report.failed())
        }
        Cmd::Soak(args) => {
            let mut config = RunConfig::new(
                args.target.addr,
                load_key(&args.target)?,
                args.clients,
                args.senders,
                // The message bound: everything the rate allows in the duration, and no more.
                (args.rate * args.duration).ceil() as u64 + 1,
                seconds(args.duration)?,
            );
            config.rate = Some(args.rate);
            config.window = 1000;
            config.churn = Some(Churn {
                threads: args.churners,
                pause: Duration::from_millis(args.churn_ms.max(1)),
            });
            config.sample_every = Some(seconds(args.sample_every)?);
            config.probe = probe(&args.target)?;
            config.verbose = true;
            let report = run::run(&config).map_err(|e| e.to_string())?;
            print_report(&report, args.json);
            Ok(!report.failed())
        }
        Cmd::Hostile(args) => {
            let config = HostileConfig {
                server_bin: server_bin(args.server_bin)?,
                out_dir: args.out.clone(),
                secs: args.secs,
                crowd: args.crowd,
                crowd_many: args.crowd_many,
                verbose: true,
            };
            let report = hostile::run(&config).map_err(|e| e.to_string())?;
            let json = serde_json::to_string_pretty(&report).unwrap_or_default();
            let _ = std::fs::write(args.out.join("hostile.json"), json);
            for a in &report.attacks {
                println!(
                    "{} {}\n     expected: {}\n     observed: {}",
                    if a.pass { "PASS" } else { "FAIL" },
                    a.attack,
                    a.expected,
                    a.observed
                );
            }
            println!(
                "normal pair: {} of {} delivered, lost {}, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                report.pair.delivered,
                report.pair.expected,
                report.pair.lost,
                report.pair.latency.p50_us / 1000.0,
                report.pair.latency.p99_us / 1000.0,
                report.pair.latency.max_us / 1000.0
            );
            println!(
                "server: up at the end {}; RSS {} KiB before, {} KiB at most, {} KiB at the end; \
                 threads {} -> {}; fds {} -> {}",
                report.server_up,
                report.rss_kib.0,
                report.rss_kib.1,
                report.rss_kib.2,
                report.threads.0,
                report.threads.1,
                report.fds.0,
                report.fds.1
            );
            println!("{}", if report.passed() { "PASSED" } else { "FAILED" });
            Ok(report.passed())
        }
        Cmd::Bench(args) => {
            let server_bin = server_bin(args.server_bin)?;
            let config = BenchConfig {
                server_bin,
                out_dir: args.out.clone(),
                repeats: args.repeats,
                flood_secs: args.flood_secs,
                paced_secs: args.paced_secs,
                idle_clients: args.idle_clients,
                only: args.only,
                rooms: RoomLayout {
                    rooms: args.rooms,
                    members: args.room_members,
                    senders: args.room_members,
                },
                size: args.size,
                sustained_rate: args.sustained_rate,
                server_args: args.server_arg,
                verbose: true,
            };
            let result = bench::run(&config).map_err(|e| e.to_string())?;
            print!("{}", bench::table(&result));
            println!("\nall figures: {}", args.out.join("results.json").display());
            let lost = result
                .scenarios
                .iter()
                .any(|s| s.median.lost > 0 || s.median.leaks > 0)
                || result.idle.as_ref().is_some_and(|i| i.failed());
            Ok(!lost)
        }
    }
}

/// `--server-bin`, or `server` next to this program.
fn server_bin(given: Option<PathBuf>) -> Result<PathBuf, String> {
    match given {
        Some(path) => Ok(path),
        None => Ok(std::env::current_exe()
            .map_err(|e| format!("cannot find this program's path: {e}"))?
            .with_file_name(format!("server{}", std::env::consts::EXE_SUFFIX))),
    }
}

fn seconds(value: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| format!("{value} is not a number of seconds"))
        .and_then(|d| {
            if d.is_zero() {
                Err("a time bound must be above zero".into())
            } else {
                Ok(d)
            }
        })
}

fn load_key(target: &Target) -> Result<RoomKey, String> {
    keyfile::load(&target.key, &mut keyfile::passphrase_from_env_or_prompt)
        .map(|loaded| loaded.key)
        .map_err(|e| e.to_string())
}

fn probe(target: &Target) -> Result<Option<Probe>, String> {
    target
        .server_pid
        .map(Probe::new)
        .transpose()
        .map_err(|e| e.to_string())
}

fn print_report(report: &Report, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
        return;
    }
    if let Some((rooms, members, senders)) = report.rooms {
        println!(
            "rooms {rooms} x {members} members ({senders} talking in each)  leaks {}",
            report.leaks
        );
    }
    println!(
        "clients {}  senders {}  sent {}  delivered {} of {}  lost {}  undecryptable {}  out of order {}",
        report.clients,
        report.senders,
        report.sent,
        report.delivered,
        report.expected,
        report.lost,
        report.undecryptable,
        report.out_of_order
    );
    println!(
        "{:.0} deliveries/s over {:.2} s; latency p50 {:.0} µs  p90 {:.0} µs  p99 {:.0} µs  max {:.0} µs",
        report.deliveries_per_sec,
        report.elapsed_secs,
        report.latency.p50_us,
        report.latency.p90_us,
        report.latency.p99_us,
        report.latency.max_us
    );
    if let Some(server) = &report.server {
        println!(
            "server: {:.3} CPU s, {:.3} µs per delivery; RSS {} -> {} KiB, threads {} -> {}, fds {} -> {}",
            server.cpu_secs,
            server.cpu_us_per_delivery,
            server.start.rss_kib,
            server.end.rss_kib,
            server.start.threads,
            server.end.threads,
            server.start.fds,
            server.end.fds
        );
    }
    if !report.errors.is_empty() || !report.evicted.is_empty() {
        println!("errors {:?}  evicted {:?}", report.errors, report.evicted);
    }
    if let Some(churn) = &report.churn {
        println!(
            "churn: {} joins, {} failed joins",
            churn.joins, churn.failures
        );
    }
    for (at, s) in &report.samples {
        println!(
            "  t={at:6.0} s  rss {} KiB  threads {}  fds {}  cpu {:.1} s",
            s.rss_kib, s.threads, s.fds, s.cpu_secs
        );
    }
}
