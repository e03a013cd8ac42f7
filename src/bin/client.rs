//! `client`: the fernchat client. Thin on purpose: it reads the command line, picks a front
//! end (full screen on a terminal, `fernchat::client::tui`; line mode with `--line` or in a
//! pipe, `fernchat::client::line`), then turns the outcome into a message and an exit code.
#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use fernchat::client::error::exit_code;
use fernchat::client::line::{self, LineOptions};
use fernchat::client::pins::{DEFAULT_KNOWN_SERVERS, KnownServers};
use fernchat::client::tui::{self, TuiOptions};
use fernchat::client::{KexChoice, KexSetup, ReconnectPolicy, ServerAddr};
use fernchat::keyfile::DEFAULT_KEY_PATH;
use fernchat::protocol::DEFAULT_PORT;

/// Chat on a fernchat server: every line you send is a Fernet token made with the class key.
///
/// On a terminal the client fills the window: messages, the nick list on the right, a status
/// line and the line you type. Type a line to say it to the room; /help lists the commands
/// (/msg, /me, /who, /join, /part, /list, /switch, /nick, /ping, /quit) and the keys
/// (PgUp/PgDn scroll, F2 or Alt-N shows or hides the nick list, Tab completes nicks, Ctrl-C
/// leaves).
///
/// Everyone starts in #class; /join #lab1 joins (or creates) a room and makes it current, and
/// #lab1 TEXT says one line there.
///
/// --line gives a plain line-by-line chat instead. With standard input or output not a
/// terminal the client is always in line mode: the first line is the nick (unless --nick is
/// given) and each further line is sent; the end of input quits.
#[derive(Debug, Parser)]
#[command(
    version,
    after_help = "Exit codes:\n  \
        0  you quit (/quit, Ctrl-C, Ctrl-D, end of input)\n  \
        1  other failures (the terminal)\n  \
        2  bad command line or nick\n  \
        3  cannot connect, or the connection was lost for good\n  \
        4  keyfile missing or unreadable, or your key differs from the server's\n  \
        5  refused or removed by the server (nick taken, server full, clock, version)\n\n\
        A sealed keyfile asks for its passphrase, or reads FERNCHAT_PASSPHRASE."
)]
struct Args {
    /// The server's host name or IP address.
    #[arg(long, env = "FERNCHAT_HOST", default_value = "127.0.0.1")]
    host: String,

    /// The server's TCP port.
    #[arg(long, env = "FERNCHAT_PORT", default_value_t = DEFAULT_PORT)]
    port: u16,

    /// The class keyfile (never the key itself: command lines are visible to other users of
    /// the computer, in `ps` and in shell history).
    #[arg(long = "key", value_name = "PATH", env = "FERNCHAT_KEYFILE", default_value = DEFAULT_KEY_PATH)]
    key: PathBuf,

    /// Your nick: 2 to 16 letters, digits, '_' or '-', starting with a letter. Asked for when
    /// absent.
    #[arg(long, env = "FERNCHAT_NICK")]
    nick: Option<String>,

    /// Exit when the connection drops instead of reconnecting (1, 2, 4 ... 30 s apart, 10
    /// attempts: about 3 minutes).
    #[arg(long)]
    no_reconnect: bool,

    /// Append a transcript of the chat to FILE (plain text on disk: anyone who can read the
    /// file reads the chat; it is created readable by you only).
    #[arg(long, value_name = "FILE", env = "FERNCHAT_LOG")]
    log: Option<PathBuf>,

    /// Line mode: plain lines on an ordinary terminal, with the incoming messages printed
    /// above the line you type, instead of the full-screen window.
    #[arg(long)]
    line: bool,

    /// The key exchange: psk (every frame under the class key), x25519 (per-session keys),
    /// x25519-psk (mixed with the class key, confirmed before any message), x25519-psk-signed
    /// (and signed by the server, whose identity is pinned on first use). docs/SECURITY.md says
    /// what each protects.
    #[arg(long, env = "FERNCHAT_KEX", default_value = "psk", value_parser = parse_kex)]
    kex: KexChoice,

    /// Where server identities are pinned (x25519-psk-signed): one line per server.
    #[arg(long, value_name = "PATH", env = "FERNCHAT_KNOWN_SERVERS", default_value = DEFAULT_KNOWN_SERVERS)]
    known_servers: PathBuf,
}

fn parse_kex(name: &str) -> Result<KexChoice, String> {
    KexChoice::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = KexChoice::ALL.iter().map(|k| k.name()).collect();
        format!(
            "unknown key exchange {name:?}; choose one of {}",
            names.join(", ")
        )
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let reconnect = if args.no_reconnect {
        ReconnectPolicy::off()
    } else {
        ReconnectPolicy::default()
    };
    let target = ServerAddr::new(args.host, args.port);
    let kex = KexSetup {
        kex: args.kex,
        known_servers: KnownServers::new(args.known_servers),
    };
    // The full screen needs a terminal both ways: a pipe in or out means a script.
    let full_screen =
        !args.line && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let outcome = if full_screen {
        tui::run(TuiOptions {
            target,
            key_path: args.key,
            nick: args.nick,
            reconnect,
            log: args.log,
            kex,
        })
    } else {
        line::run(LineOptions {
            target,
            key_path: args.key,
            nick: args.nick,
            reconnect,
            log: args.log,
            kex,
        })
    };
    match outcome {
        Ok(()) => ExitCode::from(exit_code::OK),
        Err(e) => {
            eprintln!("fernchat: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
