//! The few flags the live steps take: `--server`, `--key`, `--nick`, `--port`, `--count`.
//! Deliberately tiny: the live steps are for reading, not for argument parsing.

use std::net::SocketAddr;
use std::path::Path;

use fernchat::crypto::RoomKey;
use fernchat::keyfile::{self, DEFAULT_KEY_PATH};

/// The value after `--name`, or after `--name=`.
pub fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let long = format!("--{name}");
    let eq = format!("--{name}=");
    for (i, arg) in args.iter().enumerate() {
        if *arg == long {
            return args.get(i + 1).cloned();
        }
        if let Some(value) = arg.strip_prefix(&eq) {
            return Some(value.to_owned());
        }
    }
    None
}

/// `--server ADDR`, default the class server on this computer.
pub fn server() -> Result<SocketAddr, String> {
    let text = flag("server").unwrap_or_else(|| "127.0.0.1:7474".to_owned());
    text.parse()
        .map_err(|_| format!("--server {text:?} is not an address like 127.0.0.1:7474"))
}

/// `--key PATH`, default `keys/class.key`, loaded (asking for a passphrase if it is sealed).
pub fn class_key() -> Result<RoomKey, String> {
    let path = flag("key").unwrap_or_else(|| DEFAULT_KEY_PATH.to_owned());
    keyfile::load(
        Path::new(&path),
        &mut keyfile::passphrase_from_env_or_prompt,
    )
    .map(|loaded| loaded.key)
    .map_err(|e| {
        format!("{e} (run from the repository root, or pass --key PATH to the class keyfile)")
    })
}

/// `--NAME N` as a number, or `default`.
pub fn number(name: &str, default: u64) -> Result<u64, String> {
    match flag(name) {
        None => Ok(default),
        Some(text) => text
            .parse()
            .map_err(|_| format!("--{name} {text:?} is not a number")),
    }
}
