//! `cargo run --bin server`: the class chat server.
//!
//! Thin: parses arguments, loads (or on first start creates) the keyfile, binds, prints how to
//! join, and hands over to `fernchat::server::run`. Exit codes: 0 after Ctrl-C, 1 on an error
//! (bad keyfile, port in use), 2 on bad arguments.
#![forbid(unsafe_code)]

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use fernchat::crypto::{Fingerprint, RoomKey, TimePolicy};
use fernchat::identity::{IdentityError, IdentityFingerprint, ServerIdentity};
use fernchat::kex::{ALL_KEX, KEX_X25519_PSK_SIGNED};
use fernchat::keyfile::{self, DEFAULT_KEY_PATH, KeyfileError, Overwrite};
use fernchat::protocol::DEFAULT_PORT;
use fernchat::roster::keys::RosterSecret;
use fernchat::roster::reload::{LiveRoster, RosterMode, SighupWatch, on_sighup};
use fernchat::server::history::{self, DEFAULT_HISTORY_PATH};
use fernchat::server::moderation_state;
use fernchat::server::rooms::{self, Creators, RoomLimits};
use fernchat::server::rotation::{self, Rotation};
use fernchat::server::{AddressLimits, FloodLimits, HistoryConfig, Log, Server, ServerConfig};

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

    /// During a key rotation, until when the old keys (every --key but the first) are
    /// accepted: an RFC 3339 date-time (2026-12-04T18:00:00Z) or a time from the server's
    /// start (7d, 36h, 90m). Clients of an old key are told the new key's fingerprint and this
    /// deadline when they join; from then on their hellos are refused and those still
    /// connected are closed. Without it, old keys are accepted as long as they are given.
    #[arg(long, value_name = "WHEN", env = "FERNCHAT_KEY_UNTIL", value_parser = parse_key_until)]
    key_until: Option<u64>,

    /// Most users online at once.
    #[arg(long, env = "FERNCHAT_MAX_CLIENTS", default_value_t = 200)]
    max_clients: usize,

    /// Most connections waiting for their hello at once, counted apart from --max-clients
    /// (silent connections never take a user's seat). When all are taken, a new connection
    /// still gets in and the oldest waiting one of the busiest address is closed.
    #[arg(long, env = "FERNCHAT_MAX_PENDING", default_value_t = 200)]
    max_pending: usize,

    /// Most connections from one address that may wait for their hello at once; more are
    /// refused (server_full).
    #[arg(long, env = "FERNCHAT_MAX_PENDING_PER_ADDRESS", default_value_t = 10)]
    max_pending_per_address: usize,

    /// Most connections from one address at once, users and waiting ones together; more are
    /// refused (server_full). Raise it for a class that reaches the server through one
    /// address (a school's NAT). Here and below, IPv6 addresses count by their /64 prefix.
    #[arg(long, env = "FERNCHAT_MAX_PER_ADDRESS", default_value_t = 64)]
    max_per_address: usize,

    /// Messages per second that the connections of one address may send together before
    /// their hello is registered (after it, only --flood-rate applies). 0: no such limit.
    #[arg(long, env = "FERNCHAT_ADDRESS_RATE", default_value_t = AddressLimits::default().per_second)]
    address_rate: f64,

    /// Messages the connections of one address may send together in a burst before their
    /// hello is registered.
    #[arg(long, env = "FERNCHAT_ADDRESS_BURST", default_value_t = AddressLimits::default().burst)]
    address_burst: u32,

    /// Seconds a new connection has to say hello while at most half of --max-pending is taken.
    #[arg(long, env = "FERNCHAT_HELLO_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    hello_timeout: u64,

    /// Seconds a new connection has to say hello when all of --max-pending is taken; between
    /// half and all taken, the timeout shrinks from --hello-timeout to this.
    #[arg(long, env = "FERNCHAT_HELLO_TIMEOUT_MIN", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    hello_timeout_min: u64,

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

    /// The room history file (encrypted with the room key; created if missing).
    #[arg(long, env = "FERNCHAT_HISTORY", default_value = DEFAULT_HISTORY_PATH, conflicts_with = "no_history")]
    history: PathBuf,

    /// Keep no history at all.
    #[arg(long)]
    no_history: bool,

    /// How many recent messages people see when they join.
    #[arg(long, default_value_t = history::DEFAULT_REPLAY)]
    history_replay: usize,

    /// How many messages the history file keeps; past that it is compacted to half as many.
    #[arg(long, default_value_t = history::DEFAULT_MAX_RECORDS as u64, value_parser = clap::value_parser!(u64).range(2..))]
    history_max: u64,

    /// The key exchanges clients may use, comma-separated: psk, x25519, x25519-psk,
    /// x25519-psk-signed. All of them by default (clients use psk unless told). For a class in
    /// which every session must have forward secrecy and an authenticated server, give
    /// `--kex x25519-psk-signed` and have students run `client --kex x25519-psk-signed`.
    #[arg(long, env = "FERNCHAT_KEX", value_delimiter = ',', value_parser = parse_kex)]
    kex: Vec<&'static str>,

    /// The server's Ed25519 identity file, which signs x25519-psk-signed handshakes. Without
    /// --identity, `server.identity` beside the (first) keyfile is used, and created on first
    /// start; a file named with --identity must exist (`keygen --identity PATH` makes one).
    #[arg(long, value_name = "PATH", env = "FERNCHAT_IDENTITY")]
    identity: Option<PathBuf>,

    /// A staff keyfile (repeatable): whoever connects with it (`client --key PATH`) has the
    /// instructor role and may moderate the room (/announce, /mute, /kick, /ban, /quiet ...).
    /// Make one with `keygen PATH`; give it only to staff, never the class key's file.
    #[arg(long = "staff-key", value_name = "PATH")]
    staff_keys: Vec<PathBuf>,

    /// Where mutes, bans, quiet/slow mode and the topic are kept across restarts. Default:
    /// `moderation.json` beside the history file (in memory only with --no-history).
    #[arg(long, value_name = "PATH")]
    moderation_state: Option<PathBuf>,

    /// How long a kicked user must wait before they may rejoin (their client reconnects by
    /// itself after it), in seconds, 1 to 86400.
    #[arg(long, value_name = "SECONDS", default_value_t = fernchat::server::moderation::KICK_SECS,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    kick_wait: u64,

    /// Tuning experiments: the hub sends a round of at most this many events itself and
    /// hands larger rounds to the writer threads. 0: always the writers; 64 (the default):
    /// always the hub, the writers only for sockets that are full.
    #[arg(long, default_value_t = fernchat::server::hub::DIRECT_ROUND)]
    direct_round: usize,

    /// Roster mode: every student joins with a keyfile of their own (made by `keygen
    /// --roster`), under their login as nick, which nobody else can take; the log says who
    /// joined. To revoke or replace a key, edit the roster and send the server SIGHUP
    /// (`kill -HUP PID`): the withdrawn key's connection is closed and the room key changes.
    #[arg(long, value_name = "ROSTER")]
    roster: Option<PathBuf>,

    /// With --roster: the roster secret that `keygen --roster` made (only the server holds it).
    #[arg(long, value_name = "PATH", default_value = fernchat::roster::keys::DEFAULT_SECRET_PATH)]
    roster_secret: PathBuf,

    /// With --roster: also admit holders of the class key (--key) as guests, whose nicks must
    /// start with `guest-`.
    #[arg(long, requires = "roster")]
    allow_class_key: bool,

    /// Who may create rooms with /join: `open` (anyone) or `staff` (instructors and TAs;
    /// students join existing rooms or are moved into them with /move or /groups).
    #[arg(long, value_name = "open|staff", default_value = "open")]
    rooms: Creators,

    /// Most rooms on the server at once, #class included: a hostile client cannot create
    /// rooms without end (it gets `room_limit`).
    #[arg(long, default_value_t = rooms::DEFAULT_MAX_ROOMS as u64, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    max_rooms: u64,

    /// Most rooms one user may be in at once, besides #class.
    #[arg(long, default_value_t = rooms::DEFAULT_MAX_ROOMS_PER_USER as u64, value_parser = clap::value_parser!(u64).range(0..=1_000))]
    max_rooms_per_user: u64,

    /// Let users leave #class with /part (by default everyone stays in it, so that every
    /// announcement reaches everyone).
    #[arg(long)]
    allow_part_class: bool,
}

/// `--key-until`, judged from now (the server's start).
fn parse_key_until(text: &str) -> Result<u64, String> {
    rotation::parse_key_until(text, chrono::Utc::now())
}

fn parse_kex(name: &str) -> Result<&'static str, String> {
    ALL_KEX
        .iter()
        .find(|&&k| k == name)
        .copied()
        .ok_or_else(|| {
            format!(
                "unknown key exchange {name:?}; choose from {}",
                ALL_KEX.join(", ")
            )
        })
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
    let roster = load_roster(&args)?;
    if args.key_until.is_some() && roster.is_some() {
        return Err(
            "--key-until is for rotating a class key; in roster mode replace one student's key \
             by raising its generation in the roster, or revoke it"
                .to_owned(),
        );
    }
    let key = match &roster {
        // Roster mode: the server's own key seals the history; clients hold other keys.
        Some(mode) => mode.live().secret().server_key(),
        None => load_keys(&args.keys)?,
    };
    if args.key_until.is_some() && key.len() < 2 {
        return Err(
            "--key-until says until when the old keys of a rotation are accepted, but \
             only one key is given: name the new key first and the old one after it \
             (--key keys/new.key --key keys/old.key), or leave out --key-until"
                .to_owned(),
        );
    }
    let mut config = ServerConfig::new(key);
    config.roster = roster;
    config.old_keys_until = args.key_until;
    config.max_clients = args.max_clients;
    config.max_pending = args.max_pending;
    config.max_pending_per_address = args.max_pending_per_address;
    config.max_per_address = args.max_per_address;
    config.address_limits = AddressLimits {
        burst: args.address_burst,
        per_second: args.address_rate,
    };
    config.hello_timeout = Duration::from_secs(args.hello_timeout);
    config.hello_timeout_min = Duration::from_secs(args.hello_timeout_min.min(args.hello_timeout));
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
    config.history = (!args.no_history).then(|| HistoryConfig {
        path: args.history.clone(),
        replay: args.history_replay,
        max_records: usize::try_from(args.history_max).unwrap_or(usize::MAX),
    });
    if !args.kex.is_empty() {
        config.kex = args.kex.clone();
    }
    config.staff_keys = load_staff_keys(&args.staff_keys, &config.key)?;
    config.rooms = RoomLimits {
        creators: args.rooms,
        max_rooms: usize::try_from(args.max_rooms).unwrap_or(usize::MAX),
        max_per_user: usize::try_from(args.max_rooms_per_user).unwrap_or(usize::MAX),
        allow_part_class: args.allow_part_class,
    };
    config.kick_secs = args.kick_wait;
    config.moderation_state = args.moderation_state.clone().or_else(|| {
        (!args.no_history).then(|| args.history.with_file_name(moderation_state::FILE_NAME))
    });
    // The identity is needed (and made on first start) only if signed sessions are offered.
    if config.kex.contains(&KEX_X25519_PSK_SIGNED) {
        config.identity = Some(load_identity(&args)?);
    }
    let identity = config.identity.as_ref().map(|i| i.public().fingerprint());
    let offered = config.kex.clone();

    let listener =
        fernchat::server::listen(SocketAddr::new(args.bind, args.port)).map_err(|e| {
            format!(
                "cannot listen on {}:{}: {e}. Is another server already running there? \
             Stop it, or choose another port with --port",
                args.bind, args.port
            )
        })?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let fingerprints = match &config.roster {
        Some(mode) => mode
            .current()
            .guests()
            .map(RoomKey::fingerprints)
            .unwrap_or_default(),
        None => config.key.fingerprints(),
    };
    let roster = config.roster.clone();
    let plan = Rotation::of(&config).plan(config.clock.now_millis());
    // Opens the history before announcing anything: an unwritable path is a start-up error.
    let server = Server::new(listener, config).map_err(|e| e.to_string())?;
    print_banner(local, &fingerprints, identity, &offered);
    // During a rotation the plan, printed after the banner, names the old keys.
    if let Some(plan) = plan {
        println!("{plan}");
    }
    // Kept alive while the server runs: SIGHUP reloads the roster.
    let _reload = match &roster {
        Some(mode) => Some(watch_roster(mode)?),
        None => None,
    };

    let (stop_tx, stop_rx) = crossbeam_channel::bounded(1);
    #[cfg(unix)]
    stop_on_sigterm(stop_tx.clone())?;
    // Ctrl-C; on Windows also Ctrl-Break and closing the console window (the ctrlc crate
    // answers every console control event there; see docs/PLATFORMS.md).
    ctrlc::set_handler(move || {
        let _ = stop_tx.try_send(());
    })
    .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))?;
    server.run(stop_rx).map_err(|e| e.to_string())
}

/// Roster mode (`--roster`): the roster, the secret, and (with `--allow-class-key`) the class
/// keys of guests. Prints what the instructor needs to know about it.
fn load_roster(args: &Args) -> Result<Option<RosterMode>, String> {
    let Some(path) = &args.roster else {
        if args.allow_class_key {
            return Err("--allow-class-key admits guests in roster mode; add --roster".into());
        }
        return Ok(None);
    };
    if !args.keys.is_empty() && !args.allow_class_key {
        return Err(
            "in roster mode students use their own keyfiles; --key names the class key for \
             guests, which needs --allow-class-key"
                .into(),
        );
    }
    let (secret, warnings) = RosterSecret::load(
        &args.roster_secret,
        &mut keyfile::passphrase_from_env_or_prompt,
    )
    .map_err(|e| match e {
        KeyfileError::NotFound { .. } => format!(
            "{}: no roster secret. Make it (and the students' keyfiles) with \
                     `cargo run --bin keygen -- --roster {}`",
            args.roster_secret.display(),
            path.display()
        ),
        other => other.to_string(),
    })?;
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    let guests = if args.allow_class_key {
        Some(load_keys(&args.keys)?)
    } else {
        None
    };
    let live = LiveRoster::load(path, secret, guests).map_err(|e| e.to_string())?;
    let keyring = live.current();
    let entries = keyring.roster().entries();
    println!(
        "roster mode: {} students ({} revoked) from {}, roster secret fingerprint {}; {}",
        entries.len(),
        entries.iter().filter(|e| e.revoked).count(),
        path.display(),
        live.secret().fingerprint(),
        if args.allow_class_key {
            "class-key holders join as guests (nicks guest-...)"
        } else {
            "no guests"
        }
    );
    println!(
        "each student joins with their own keyfile and their login as nick: \
         cargo run --bin client -- --nick LOGIN"
    );
    Ok(Some(RosterMode::new(live)))
}

/// Reloads the roster on each SIGHUP (Unix), logging the outcome; a roster that does not
/// parse leaves the one in force.
fn watch_roster(mode: &RosterMode) -> Result<SighupWatch, String> {
    let mode = mode.clone();
    let watch = on_sighup(move || {
        if let Err(e) = mode.reload() {
            Log::Stderr.line(format_args!(
                "roster reload failed, the roster in force is unchanged: {e}"
            ));
        }
    })
    .map_err(|e| format!("cannot watch for SIGHUP: {e}"))?;
    if cfg!(unix) {
        println!("reload the roster with: kill -HUP {}", std::process::id());
    }
    Ok(watch)
}

/// How a new secret file is protected, for the messages that announce one (Windows has no
/// mode: the server prints what to do instead, see `private_file::windows_privacy_note`).
#[cfg(unix)]
const NEW_FILE_MODE: &str = ", mode 0600";
#[cfg(not(unix))]
const NEW_FILE_MODE: &str = "";

/// SIGTERM (what `kill`, systemd and `docker stop` send) stops the server the way Ctrl-C
/// does, so the clients are told. SIGHUP keeps its default (it ends the server at once).
#[cfg(unix)]
fn stop_on_sigterm(stop: crossbeam_channel::Sender<()>) -> Result<(), String> {
    use signal_hook::consts::SIGTERM;
    use signal_hook::iterator::Signals;
    let mut signals =
        Signals::new([SIGTERM]).map_err(|e| format!("cannot install the SIGTERM handler: {e}"))?;
    std::thread::Builder::new()
        .name("fernchat-sigterm".to_owned())
        .spawn(move || {
            // One signal is enough: the server is stopping.
            if signals.forever().next().is_some() {
                let _ = stop.try_send(());
            }
        })
        .map(drop)
        .map_err(|e| format!("cannot start the SIGTERM thread: {e}"))
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
            other => keyfile_message(&other),
        })?);
    }
    RoomKey::ring(ring).map_err(|e| e.to_string())
}

/// Loads every `--staff-key`. A staff key that is also a class key would make every student
/// an instructor (or no staff member one): refused.
fn load_staff_keys(paths: &[PathBuf], class: &RoomKey) -> Result<Vec<RoomKey>, String> {
    let mut staff = Vec::new();
    for path in paths {
        let key = load_one(path)
            .map_err(|e| format!("--staff-key {}: {}", path.display(), keyfile_message(&e)))?;
        if class.fingerprints().contains(&key.fingerprint()) {
            return Err(format!(
                "--staff-key {}: this is a class key (fingerprint {}), which every student holds; \
                 make a separate staff key with `cargo run --bin keygen -- keys/staff.key`",
                path.display(),
                key.fingerprint()
            ));
        }
        staff.push(key);
    }
    Ok(staff)
}

/// A keyfile error with its fix, as the client names it (`fernchat::client::error`).
fn keyfile_message(error: &KeyfileError) -> String {
    match error {
        KeyfileError::WrongPassphrase { .. } => format!(
            "{error}. Start the server again and type the passphrase chosen at `keygen --seal` \
             (it is case-sensitive; three tries on a terminal), or set {} for scripts and \
             services",
            keyfile::PASSPHRASE_ENV
        ),
        KeyfileError::BadKey { .. }
        | KeyfileError::NoKey { .. }
        | KeyfileError::ExtraLine { .. }
        | KeyfileError::BadSealedLine { .. } => format!(
            "{error}. The keyfile looks damaged: restore it from your copy, or make a new key \
             with `cargo run --bin keygen`"
        ),
        other => other.to_string(),
    }
}

/// One keyfile; a sealed one asks for its passphrase (three tries) or reads
/// FERNCHAT_PASSPHRASE.
fn load_one(path: &Path) -> Result<RoomKey, KeyfileError> {
    let loaded = keyfile::load_from_env_or_terminal(path)?;
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
                "created a new class key in {DEFAULT_KEY_PATH} (fingerprint {}{NEW_FILE_MODE})",
                key.fingerprint()
            );
            #[cfg(windows)]
            eprintln!("{}", fernchat::private_file::windows_privacy_note(path));
            eprintln!(
                "hand a copy of {DEFAULT_KEY_PATH} to every student; they save it as {DEFAULT_KEY_PATH} in their fernchat folder"
            );
            Ok(key)
        }
        Err(other) => Err(keyfile_message(&other)),
    }
}

/// The identity named by `--identity` (which must exist), or the one beside the keyfile
/// (created on first start).
fn load_identity(args: &Args) -> Result<ServerIdentity, String> {
    if let Some(path) = &args.identity {
        return ServerIdentity::load(path).map_err(|e| match e {
            IdentityError::NotFound { .. } => format!(
                "{}: no such identity file. Make one with `cargo run --bin keygen -- --identity {}`, \
                 or leave out --identity to use the one beside the keyfile",
                path.display(),
                path.display()
            ),
            other => other.to_string(),
        });
    }
    let keyfile = args
        .keys
        .first()
        .cloned()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_KEY_PATH));
    let path = keyfile.with_file_name("server.identity");
    let (identity, created) = ServerIdentity::load_or_create(&path).map_err(|e| e.to_string())?;
    if created {
        eprintln!(
            "created the server's identity key in {} (fingerprint {}{NEW_FILE_MODE}); keep it on \
             this computer: clients pin it, and a new one makes every pinned client refuse the server",
            path.display(),
            identity.public().fingerprint()
        );
        #[cfg(windows)]
        eprintln!("{}", fernchat::private_file::windows_privacy_note(&path));
    }
    Ok(identity)
}

fn print_banner(
    local: SocketAddr,
    fingerprints: &[Fingerprint],
    identity: Option<IdentityFingerprint>,
    offered: &[&str],
) {
    let fingerprints: Vec<String> = fingerprints.iter().map(|f| f.to_string()).collect();
    println!(
        "fernchat server {} listening on {local}",
        env!("CARGO_PKG_VERSION")
    );
    if !fingerprints.is_empty() {
        println!("key fingerprint {}", fingerprints.join(", also accepting "));
    }
    if let Some(identity) = identity {
        println!(
            "server identity {identity}: publish it, so that students can check the one their \
             client pins (--kex {KEX_X25519_PSK_SIGNED})"
        );
    }
    if offered != ALL_KEX {
        println!("key exchanges accepted: {}", offered.join(", "));
    }
    let port = if local.port() == DEFAULT_PORT {
        String::new()
    } else {
        format!(" --port {}", local.port())
    };
    let kex = match offered {
        [only] if *only != "psk" => format!(" --kex {only}"),
        _ => String::new(),
    };
    let port = format!("{port}{kex}");
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
