//! `cargo run -p lab08 --bin demo`: three members (alice, bob, carol) run *your* group
//! functions through the class server (`--server`, default 127.0.0.1:7474; `--key PATH`):
//! alice makes the group, everyone talks, bob's words are forged by carol, carol is removed,
//! the others go on. Watch with an ordinary client (`cargo run --bin client -- --nick eve`):
//! the server and every class member relay and see only the JSON envelopes.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use lab08::wire::{self, GroupText};
use lab08::{Member, PublicMember, open, rotate, seal, unwrap, wrap};
use labkit::args;
use labkit::client::Client;
use rand_core::OsRng;

const GROUP: &str = "demo";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("demo: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Reads room messages until one is a group text that `wanted` accepts (at most 100).
fn next<T>(
    client: &mut Client,
    mut wanted: impl FnMut(GroupText) -> Option<T>,
) -> Result<T, String> {
    for _ in 0..100 {
        let message = client.recv_type("message").map_err(|e| e.to_string())?;
        if let Some(found) = message["text"]
            .as_str()
            .and_then(wire::parse)
            .and_then(&mut wanted)
        {
            return Ok(found);
        }
    }
    Err("the group message never came".into())
}

fn run() -> Result<(), String> {
    let server = args::server()?;
    let class_key = args::class_key()?;
    let tag = std::process::id() % 1000;
    let members: Vec<Member> = ["alice", "bob", "carol"]
        .iter()
        .map(|n| Member::generate(&format!("{n}{tag}"), &mut OsRng))
        .collect();
    let mut clients = Vec::new();
    for member in &members {
        let client =
            Client::join_psk(server, &class_key, &member.nick).map_err(|e| e.to_string())?;
        clients.push(client);
    }
    let roster: Vec<PublicMember> = members.iter().map(|m| m.public.clone()).collect();
    for (client, member) in clients.iter_mut().zip(&members) {
        client
            .say(&wire::announce(&member.public))
            .map_err(|e| e.to_string())?;
    }
    println!("1. alice makes epoch 0 and wraps it for each member");
    let mut key = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut OsRng, &mut key);
    for member in &roster {
        let wrapped = wrap(GROUP, 0, &key, member, &mut OsRng);
        clients[0]
            .say(&wire::key(&wrapped))
            .map_err(|e| e.to_string())?;
    }
    let mut keys = Vec::new();
    for (client, member) in clients.iter_mut().zip(&members) {
        let nick = member.nick.clone();
        let wrapped = next(client, |t| match t {
            GroupText::Key(w) if w.to == nick && w.epoch == 0 => Some(w),
            _ => None,
        })?;
        let got = unwrap(&wrapped, member).map_err(|e| format!("{nick} cannot unwrap: {e:?}"))?;
        println!("   {nick} unwrapped the group key");
        keys.push(got);
    }
    println!("2. bob says something; carol writes as bob");
    let said = seal(GROUP, 0, &keys[1], &members[1], "meet at the library at 3");
    clients[1]
        .say(&wire::envelope(&said))
        .map_err(|e| e.to_string())?;
    let mut posing = members[2].clone();
    posing.nick = members[1].nick.clone();
    let forged = seal(GROUP, 0, &keys[2], &posing, "meet at the library at 7");
    clients[2]
        .say(&wire::envelope(&forged))
        .map_err(|e| e.to_string())?;
    for _ in 0..2 {
        let envelope = next(&mut clients[0], |t| match t {
            GroupText::Envelope(e) => Some(e),
            _ => None,
        })?;
        match open(&envelope, 0, &keys[0], &roster) {
            Ok(text) => println!("   alice reads {}: {text}", envelope.from),
            Err(e) => println!(
                "   alice refuses an envelope claiming to be from {}: {e:?}",
                envelope.from
            ),
        }
    }
    println!("3. alice removes carol: epoch 1, wrapped for alice and bob only");
    let (epoch, new_key, wraps) = rotate(GROUP, 0, &roster[..2], &mut OsRng);
    for wrapped in &wraps {
        clients[0]
            .say(&wire::key(wrapped))
            .map_err(|e| e.to_string())?;
    }
    let bob = members[1].nick.clone();
    let wrapped = next(&mut clients[1], |t| match t {
        GroupText::Key(w) if w.to == bob && w.epoch == epoch => Some(w),
        _ => None,
    })?;
    let bob_key = unwrap(&wrapped, &members[1]).map_err(|e| format!("bob: {e:?}"))?;
    let after = seal(
        GROUP,
        epoch,
        &bob_key,
        &members[1],
        "carol is not in this any more",
    );
    clients[1]
        .say(&wire::envelope(&after))
        .map_err(|e| e.to_string())?;
    let seen = next(&mut clients[2], |t| match t {
        GroupText::Envelope(e) if e.epoch == epoch => Some(e),
        _ => None,
    })?;
    let carol_tries = wraps
        .iter()
        .filter(|w| unwrap(w, &members[2]).is_ok())
        .count();
    println!(
        "   carol opens {carol_tries} of {} new wraps; with her old key bob's message gives {:?}",
        wraps.len(),
        open(&seen, epoch, &keys[2], &roster).err()
    );
    println!(
        "   alice's new key {} bob's",
        if new_key == bob_key {
            "equals"
        } else {
            "DIFFERS FROM"
        }
    );
    for client in clients {
        client.bye();
    }
    Ok(())
}
