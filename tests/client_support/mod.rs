//! A tiny fake fernchat server for the client's tests, built from the crate's own codec: real
//! sockets on `127.0.0.1:0`, no mocks of the client. Each test scripts the server's side of
//! the conversation by hand, so it can also misbehave on purpose (wrong key, silence, bye).
//!
//! Every wait is bounded: socket timeouts on reads, `recv_timeout` on channels.

#![allow(dead_code)] // Each test file uses a different part of it.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use crossbeam_channel::Receiver;
use fernchat::crypto::{RoomKey, TimePolicy};
use fernchat::kex::{Nonce, psk_session_keys};
use fernchat::protocol::{ClientEvent, FrameReader, Inbound, ServerEvent, seal};

/// How long any single step of a test may take before it counts as hung.
pub const STEP: Duration = Duration::from_secs(5);

/// A listening fake server. It accepts at most `max_connections` connections, then drops
/// its listener, so later connection attempts are refused (no server any more). Clones share
/// the listener, so a script thread can accept while the test drives the client.
#[derive(Clone)]
pub struct FakeServer {
    pub port: u16,
    pub key: RoomKey,
    accepted: Receiver<TcpStream>,
}

impl FakeServer {
    pub fn start(key: &RoomKey, max_connections: usize) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let (tx, accepted) = crossbeam_channel::bounded(max_connections);
        thread::spawn(move || {
            for _ in 0..max_connections {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if tx.send(stream).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        });
        FakeServer {
            port,
            key: key.clone(),
            accepted,
        }
    }

    /// The next connection, as a peer that speaks with the server's key.
    pub fn accept(&self) -> Peer {
        let stream = self
            .accepted
            .recv_timeout(STEP)
            .expect("the client did not connect in time");
        Peer::new(stream, &self.key)
    }
}

/// The server's end of one connection. It seals with the class key until
/// [`Peer::welcome`] has run the version-2 handshake, then with the session's
/// server-to-client key (the client accepts every event under it).
pub struct Peer {
    stream: TcpStream,
    reader: FrameReader<TcpStream>,
    inbound: Inbound,
    key: RoomKey,
    /// The class key.
    pub class_key: RoomKey,
    /// The client's nonce, from its hello.
    pub nonce: Option<Nonce>,
    /// The hello's `since`: the last room message the client had shown.
    pub since: Option<u64>,
}

impl Peer {
    fn new(stream: TcpStream, key: &RoomKey) -> Peer {
        stream.set_read_timeout(Some(STEP)).expect("read timeout");
        stream.set_write_timeout(Some(STEP)).expect("write timeout");
        let reader = FrameReader::new(stream.try_clone().expect("clone"), 1 << 20);
        Peer {
            stream,
            reader,
            inbound: Inbound::per_connection(key.clone(), TimePolicy::default(), 1000),
            key: key.clone(),
            class_key: key.clone(),
            nonce: None,
            since: None,
        }
    }

    /// The next raw line from the client.
    pub fn recv_line(&mut self) -> Vec<u8> {
        match self.reader.read_frame() {
            Ok(Some(line)) => line.to_vec(),
            other => panic!("expected a line from the client, got {other:?}"),
        }
    }

    /// The next event from the client, through every check the real server makes.
    pub fn recv(&mut self) -> ClientEvent {
        let line = self.recv_line();
        self.inbound
            .accept::<ClientEvent>(&line, fernchat::crypto::unix_now())
            .unwrap_or_else(|e| panic!("the client sent a bad frame: {e}"))
    }

    /// Whether the client has closed its side (reads to the end, bounded by the timeout).
    pub fn recv_eof(&mut self) -> bool {
        matches!(self.reader.read_frame(), Ok(None))
    }

    /// Reads the hello and returns its nick.
    pub fn expect_hello(&mut self) -> String {
        match self.recv() {
            ClientEvent::Hello {
                nick,
                version,
                kex,
                nonce,
                since,
                ..
            } => {
                assert_eq!(version, fernchat::protocol::PROTOCOL_VERSION);
                self.since = since;
                assert_eq!(kex, "psk");
                self.nonce = nonce.as_deref().and_then(Nonce::from_wire);
                assert!(self.nonce.is_some(), "a version-2 hello has a nonce");
                nick
            }
            other => panic!("expected hello, got {other:?}"),
        }
    }

    pub fn send(&mut self, event: &ServerEvent) {
        self.send_raw(&seal(&self.key, event));
    }

    /// Sends `event` sealed with the class key (a room broadcast in `psk`, or a forgery).
    pub fn send_class(&mut self, event: &ServerEvent) {
        self.send_raw(&seal(&self.class_key, event));
    }

    /// The server's half of the version-2 `psk` handshake, after the hello: `handshake`
    /// under the class key, the client's `confirm` under the new key; from here on the peer
    /// seals with the server-to-client key.
    pub fn handshake(&mut self) {
        let client = self.nonce.expect("the client's hello comes first");
        let server = Nonce::generate();
        self.send(&ServerEvent::Handshake {
            version: fernchat::protocol::PROTOCOL_VERSION,
            nonce: client.to_wire(),
            server_nonce: server.to_wire(),
            kex: "psk".into(),
            kex_public: None,
            kex_confirm: None,
            kex_identity: None,
            kex_signature: None,
        });
        let keys = psk_session_keys(&self.class_key, &client, &server);
        self.key = keys.server_to_client;
        self.inbound.rekey(keys.client_to_server);
        match self.recv() {
            ClientEvent::Confirm { mac: None } => {}
            other => panic!("expected the client's confirm, got {other:?}"),
        }
    }

    /// Sends `event` in a token stamped `timestamp`, as a server with a wrong clock would.
    pub fn send_at(&mut self, event: &ServerEvent, timestamp: u64) {
        self.send_raw(&fernchat::protocol::seal_at(&self.key, event, timestamp));
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the client");
    }

    /// Answers a hello with a welcome listing `others` and the client.
    pub fn welcome(&mut self, nick: &str, others: &[&str], max_text: usize) {
        self.welcome_missed(nick, others, max_text, None);
    }

    /// A welcome that says how many room messages came after the hello's `since`.
    pub fn welcome_missed(
        &mut self,
        nick: &str,
        others: &[&str],
        max_text: usize,
        missed: Option<u64>,
    ) {
        let mut users: Vec<String> = others.iter().map(|s| s.to_string()).collect();
        users.push(nick.to_owned());
        users.sort_by_key(|u| u.to_ascii_lowercase());
        self.handshake();
        self.send(&ServerEvent::Welcome {
            room: "#class".into(),
            room_key: None,
            missed,
            nick: nick.to_owned(),
            users,
            version: fernchat::protocol::PROTOCOL_VERSION,
            server: "fake 0.0.0".to_owned(),
            max_text,
            time: now_ms(),
            role: Default::default(),
            roles: Default::default(),
        });
    }

    /// Hello, then welcome: a client joined.
    pub fn join(&mut self, others: &[&str], max_text: usize) -> String {
        let nick = self.expect_hello();
        self.welcome(&nick, others, max_text);
        nick
    }
}

pub fn now_ms() -> u64 {
    fernchat::protocol::unix_millis()
}
