//! `cargo run --bin server`: the class chat server.
//!
//! Thin: parses arguments, loads (or on first start creates) the keyfile, binds, prints how to
//! join, and hands over to `fernchat::server::run`. Exit codes: 0 after Ctrl-C, 1 on an error
//! (bad keyfile, port in use), 2 on bad arguments.
#![forbid(unsafe_code)]

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use fernchat::crypto::{RoomKey, TimePolicy};
use fernchat::keyfile::{self, DEFAULT_KEY_PATH, KeyfileError, Overwrite};
use fernchat::protocol::DEFAULT_PORT;
use fernchat::server::{self, FloodLimits, Log, ServerConfig};

/// The fernchat server: a chat room in which every message is a Fernet token made with the
/// class key.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Exit codes: 0 after Ctrl-C, 1 on an error, 2 on bad arguments."
)]
struct Args {
    /// Address to listen on. 127.0.0.1 admits this computer only; use 0.0.0.0 (or this
    /// computer's address) to admit a lab network.
    #[arg(long, env = "FERNCHAT_BIND", default_value = "127.0.0.1")]
    bind: IpAddr,

    /// TCP port (0 picks a free one and prints it).
    #[arg(long, env = "FERNCHAT_PORT", default_value_t = DEFAULT_PORT)]
    port: u16,

    /// Keyfile. Repeat for key rotation: the first key encrypts, all keys are accepted.
    /// Without --key, keys/class.key is used, and created if missing.
    #[arg(long = "key", env = "FERNCHAT_KEYFILE", value_delimiter = ',')]
    keys: Vec<PathBuf>,

    /// Most users online at once.
    #[arg(long, default_value_t = 200)]
    max_clients: usize,

    /// Most connections waiting for their hello at once, on top of --max-clients.
    #[arg(long, default_value_t = 200)]
    max_pending: usize,

    /// Longest message text, in characters.
    #[arg(long, default_value_t = fernchat::protocol::event::DEFAULT_MAX_TEXT)]
    max_text: usize,

    /// Longest line (one token), in bytes.
    #[arg(long, default_value_t = fernchat::protocol::DEFAULT_MAX_LINE)]
    max_line: usize,

    /// Oldest accepted message, in seconds (after correcting for the sender's clock).
    #[arg(long, default_value_t = fernchat::crypto::DEFAULT_TTL_SECS)]
    ttl: u64,

    /// Messages per second one client may send in the long run.
    #[arg(long, default_value_t = FloodLimits::default().per_second)]
    flood_rate: f64,

    /// Messages one client may send in a burst.
    #[arg(long, default_value_t = FloodLimits::default().burst)]
    flood_burst: u32,

    /// Seconds of silence after which a client is removed (it is pinged after a third of it).
    #[arg(long, default_value_t = 90)]
    idle_timeout: u64,

    /// Tuning experiments: the hub sends a round of at most this many events itself and
    /// hands larger rounds to the writer threads. 0: always the writers; 64 (the default):
    /// always the hub, the writers only for sockets that are full.
    #[arg(long, default_value_t = fernchat::server::hub::DIRECT_ROUND)]
    direct_round: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fernchat server: {message}");
            ExitCode::from(1)
        }
    }
}

fn serve(args: Args) -> Result<(), String> {
    let key = load_keys(&args.keys)?;
    let mut config = ServerConfig::new(key);
    config.max_clients = args.max_clients;
    config.max_pending = args.max_pending;
    config.direct_round = args.direct_round;
    config.max_text = args.max_text;
    config.max_line = args.max_line;
    config.time_policy = TimePolicy::with_ttl(args.ttl);
    config.flood = FloodLimits {
        burst: args.flood_burst,
        per_second: args.flood_rate,
        ..FloodLimits::default()
    };
    config.idle_timeout = Duration::from_secs(args.idle_timeout.max(3));
    config.ping_interval = config.idle_timeout / 3;
    config.log = Log::Stderr;

    let listener = TcpListener::bind(SocketAddr::new(args.bind, args.port)).map_err(|e| {
        format!(
            "cannot listen on {}:{}: {e}. Is another server already running there? \
             Stop it, or choose another port with --port",
            args.bind, args.port
        )
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    print_banner(local, &config);

    let (stop_tx, stop_rx) = crossbeam_channel::bounded(1);
    ctrlc::set_handler(move || {
        let _ = stop_tx.try_send(());
    })
    .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))?;
    server::run(listener, config, stop_rx).map_err(|e| e.to_string())
}

/// Loads every `--key`, or the default keyfile (creating it on first start).
fn load_keys(paths: &[PathBuf]) -> Result<RoomKey, String> {
    let mut ring = Vec::new();
    if paths.is_empty() {
        ring.push(load_or_create_default()?);
    }
    for path in paths {
        // A path named explicitly is never created: a typo must not mint a new class key.
        ring.push(load_one(path).map_err(|e| match e {
            KeyfileError::NotFound { .. } => format!(
                "{}: no such keyfile. Create one with `cargo run --bin keygen -- {}`, \
                 or leave out --key to use {DEFAULT_KEY_PATH}",
                path.display(),
                path.display()
            ),
            other => other.to_string(),
        })?);
    }
    RoomKey::ring(ring).map_err(|e| e.to_string())
}

fn load_one(path: &Path) -> Result<RoomKey, KeyfileError> {
    let loaded = keyfile::load(path, &mut keyfile::passphrase_from_env_or_prompt)?;
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(loaded.key)
}

fn load_or_create_default() -> Result<RoomKey, String> {
    let path = Path::new(DEFAULT_KEY_PATH);
    match load_one(path) {
        Ok(key) => Ok(key),
        Err(KeyfileError::NotFound { .. }) => {
            let key = RoomKey::generate();
            keyfile::write_plain(path, &key, Overwrite::Never).map_err(|e| e.to_string())?;
            eprintln!(
                "created a new class key in {DEFAULT_KEY_PATH} (fingerprint {}, mode 0600)",
                key.fingerprint()
            );
            eprintln!(
                "hand a copy of {DEFAULT_KEY_PATH} to every student; they save it as {DEFAULT_KEY_PATH} in their fernchat folder"
            );
            Ok(key)
        }
        Err(other) => Err(other.to_string()),
    }
}

fn print_banner(local: SocketAddr, config: &ServerConfig) {
    let fingerprints: Vec<String> = config
        .key
        .fingerprints()
        .iter()
        .map(|f| f.to_string())
        .collect();
    println!(
        "fernchat server {} listening on {local}",
        env!("CARGO_PKG_VERSION")
    );
    println!("key fingerprint {}", fingerprints.join(", also accepting "));
    let port = if local.port() == DEFAULT_PORT {
        String::new()
    } else {
        format!(" --port {}", local.port())
    };
    let ip = local.ip();
    if ip.is_unspecified() {
        println!(
            "students on this computer join with:   cargo run --bin client -- --host 127.0.0.1{port}"
        );
        println!(
            "students on the lab network join with: cargo run --bin client -- --host <this computer's address>{port}"
        );
        println!(
            "  (find the address with `ip addr` on Linux, `ipconfig getifaddr en0` on macOS, `ipconfig` on Windows)"
        );
    } else if ip.is_loopback() {
        let host = if ip == IpAddr::from([127, 0, 0, 1]) {
            String::new()
        } else {
            format!(" --host {ip}")
        };
        let extra = format!("{host}{port}");
        let command = if extra.is_empty() {
            "cargo run --bin client".to_owned()
        } else {
            format!("cargo run --bin client --{extra}")
        };
        println!("students on this computer join with: {command}");
        println!("  (only this computer can connect; use --bind 0.0.0.0 for a lab network)");
    } else {
        println!("students join with: cargo run --bin client -- --host {ip}{port}");
    }
    println!("press Ctrl-C to stop");
}
