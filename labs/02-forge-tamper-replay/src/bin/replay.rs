//! `cargo run -p lab02 --bin replay`: shows the class server refusing a replayed token and a
//! token with one flipped bit, next to what *your* `ReplayGuard` and `is_authentic` say.
//!
//! Flags: `--server ADDR` (default 127.0.0.1:7474), `--key PATH` (default keys/class.key),
//! `--nick NICK` (default `replayer`).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use fernchat::crypto::{RoomKey, TimePolicy, TokenHeader, unix_now};
use fernchat::protocol::{ClientEvent, Inbound, ServerEvent, seal};
use lab02::{ReplayGuard, flip_bit, is_authentic, token_id};
use labkit::client::psk_handshake;
use labkit::conn::Conn;
use labkit::{STEP, args};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("replay: {message}");
            ExitCode::FAILURE
        }
    }
}

struct Session {
    conn: Conn,
    key: RoomKey,
    inbound: Inbound,
}

impl Session {
    fn send_frame(&mut self, frame: &[u8]) -> Result<(), String> {
        self.conn
            .send(frame)
            .map_err(|e| format!("cannot send: {e}"))
    }

    /// The next event the server sends us (skipping `joined`/`left` of other people).
    fn answer(&mut self) -> Result<ServerEvent, String> {
        for _ in 0..20 {
            let frame = self
                .conn
                .recv()
                .map_err(|e| format!("no answer from the server: {e}"))?
                .ok_or("the server closed the connection")?;
            let event = self
                .inbound
                .accept::<ServerEvent>(&frame, unix_now())
                .map_err(|e| format!("cannot read the server's frame: {e}"))?;
            if !matches!(event, ServerEvent::Joined { .. } | ServerEvent::Left { .. }) {
                return Ok(event);
            }
        }
        Err("the server kept talking about other people".into())
    }
}

fn run() -> Result<(), String> {
    let server = args::server()?;
    let key = args::class_key()?;
    let nick = args::flag("nick").unwrap_or_else(|| "replayer".to_owned());
    let conn = Conn::connect(server, STEP).map_err(|e| {
        format!("cannot connect to {server}: {e} (is `cargo run --bin server` running?)")
    })?;
    let policy = TimePolicy::default();
    let mut conn = conn;
    // Protocol version 2: after hello and handshake, every frame we send is sealed with this
    // connection's client-to-server key (`key` below), derived from the class key and both
    // nonces.
    let joined = psk_handshake(&mut conn, &key, &nick, |_, _, _| {}).map_err(|e| e.to_string())?;
    let mut session = Session {
        conn,
        key: joined.send,
        inbound: joined.inbound,
    };
    println!("hello        -> {:?}", session.answer()?);

    // 1. Replay: the very same bytes, twice.
    let say = seal(
        &session.key,
        &ClientEvent::Say {
            room: None,
            text: "I say this once.".into(),
        },
    );
    let token = String::from_utf8_lossy(say.trim_ascii_end()).into_owned();
    let mut guard = ReplayGuard::new(policy.ttl_secs, 1000);
    let judge =
        |guard: &mut ReplayGuard| match (token_id(&token), TokenHeader::parse(token.as_bytes())) {
            (Some(id), Ok(header)) => {
                format!("{:?}", guard.check(id, header.timestamp, unix_now()))
            }
            _ => "not a token".to_owned(),
        };
    session.send_frame(&say)?;
    println!("say          -> server: {:?}", session.answer()?);
    println!("                your guard: {}", judge(&mut guard));
    session.send_frame(&say)?;
    println!("same again   -> server: {:?}", session.answer()?);
    println!("                your guard: {}", judge(&mut guard));

    // 2. Tamper: one bit of a fresh token, in the middle of the ciphertext.
    let fresh = seal(
        &session.key,
        &ClientEvent::Say {
            room: None,
            text: "Flip one bit of me.".into(),
        },
    );
    let fresh = String::from_utf8_lossy(fresh.trim_ascii_end()).into_owned();
    let tampered = flip_bit(&fresh, 8 * 40 + 3);
    println!(
        "tampered     -> your is_authentic: {} (untouched: {})",
        is_authentic(session.key.expose_secret(), &tampered),
        is_authentic(session.key.expose_secret(), &fresh)
    );
    session.send_frame(tampered.as_bytes())?;
    println!("                server: {:?}", session.answer()?);

    session.send_frame(&seal(
        &session.key,
        &ClientEvent::Bye {
            reason: Some("replay demo done".into()),
        },
    ))?;
    Ok(())
}
