//! Test support: a server on 127.0.0.1 port 0 in this process, and a raw protocol peer built
//! from the crate's own codec, so tests can also send what a normal client never would.
//!
//! Every read has a timeout and every loop a bound, so a broken server fails a test instead
//! of hanging it.
#![allow(dead_code)]

pub mod process;

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use fernchat::crypto::{RoomKey, TimePolicy, unix_now};
use fernchat::kex::{Nonce, psk_session_keys};
use fernchat::protocol::{
    ClientEvent, ErrorCode, FrameError, FrameReader, Inbound, PROTOCOL_VERSION, ServerEvent, seal,
};
use fernchat::server::{self, Log, ServerConfig};

/// How long any single wait in a test may take before the test fails.
pub const STEP: Duration = Duration::from_secs(10);

/// A server running in this process. Dropping it shuts it down.
pub struct TestServer {
    pub addr: SocketAddr,
    pub key: RoomKey,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server with `config` on 127.0.0.1, port 0.
    pub fn start(config: ServerConfig) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let key = config.key.clone();
        let server = server::Server::new(listener, config).expect("the server starts");
        TestServer::run(server, key)
    }

    /// Runs a prepared server (one whose history a test opened itself, say).
    pub fn run(server: server::Server, key: RoomKey) -> TestServer {
        let addr = server.local_addr().unwrap();
        let (stop, stop_rx) = crossbeam_channel::bounded(1);
        let thread = thread::spawn(move || server.run(stop_rx).expect("server runs"));
        TestServer {
            addr,
            key,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// A server with the defaults and a fresh key, quiet.
    pub fn with_defaults() -> TestServer {
        TestServer::start(quiet_config(RoomKey::generate()))
    }

    /// Asks the server to stop and waits for `run` to return; returns how long that took.
    pub fn shutdown(&mut self) -> Duration {
        let started = Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let (done_tx, done_rx) = crossbeam_channel::bounded(1);
            thread::spawn(move || {
                let _ = thread.join();
                let _ = done_tx.send(());
            });
            done_rx
                .recv_timeout(STEP)
                .expect("server stops within the step timeout");
        }
        started.elapsed()
    }

    /// Connects a raw peer with the server's key.
    pub fn peer(&self) -> Peer {
        Peer::connect(self.addr, self.key.clone())
    }

    /// Connects and joins as `nick`, returning the peer and its welcome's user list.
    pub fn join(&self, nick: &str) -> Peer {
        let mut peer = self.peer();
        peer.hello(nick);
        match peer.recv() {
            ServerEvent::Welcome { nick: got, .. } => assert_eq!(got, nick),
            other => panic!("{nick}: expected welcome, got {other:?}"),
        }
        peer
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if self.thread.is_some() && !thread::panicking() {
            self.shutdown();
        }
    }
}

/// Defaults with logging off.
pub fn quiet_config(key: RoomKey) -> ServerConfig {
    let mut config = ServerConfig::new(key);
    config.log = Log::Silent;
    config
}

/// A quiet server keeping the room's history in `path` and replaying at most `replay`
/// messages to a joiner, on `port` (0: any free one; a stopped server's port is free again at
/// once, as std sets SO_REUSEADDR on Unix).
pub fn history_server(key: &RoomKey, path: &Path, replay: usize, port: u16) -> TestServer {
    let mut config = quiet_config(key.clone());
    config.history = Some(server::HistoryConfig {
        replay,
        ..server::HistoryConfig::at(path)
    });
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the port");
    TestServer::run(server::Server::new(listener, config).unwrap(), key.clone())
}

/// Restarts a [`history_server`] on its port, with `said` said by bob in the meantime on
/// another server sharing the history file. Nothing listens on the port until all of it is
/// said, so a client of the old server cannot be back before.
pub fn restart_after(server: &mut TestServer, path: &Path, replay: usize, said: &[&str]) {
    let port = server.addr.port();
    server.shutdown();
    let mut meanwhile = history_server(&server.key, path, replay, 0);
    let mut bob = meanwhile.join("bob");
    for text in said {
        bob.say(text);
        // Past the history replayed to him, to his own message: it is in the file.
        bob.recv_until(
            1000,
            |e| matches!(e, ServerEvent::Message { text: t, .. } if t == text),
        );
    }
    drop(bob);
    meanwhile.shutdown();
    *server = history_server(&server.key, path, replay, port);
}

/// What a peer got instead of an event.
#[derive(Debug)]
pub enum Got {
    Event(ServerEvent),
    /// A line that is not a token with our key (e.g. the plaintext wrong-key line).
    Raw(Vec<u8>),
    Closed,
}

/// A raw protocol peer. It speaks the version-2 handshake of the `psk` mode by itself: after
/// [`Peer::hello`], the server's `handshake` is answered with `confirm` under the new session
/// key the moment [`Peer::recv`] or [`Peer::next`] meets it, so tests read on to the welcome.
pub struct Peer {
    pub stream: TcpStream,
    /// Seals what we send: the class key, then (psk, after the handshake) the session key.
    pub key: RoomKey,
    /// The class key (the one the hello is sealed with).
    pub class_key: RoomKey,
    reader: FrameReader<TcpStream>,
    inbound: Inbound,
    /// The nonce of our last `psk` hello, while its handshake is awaited.
    pub nonce: Option<Nonce>,
    /// Every line received, as it came (for tests that replay or move frames).
    pub received: Vec<Vec<u8>>,
    /// The skew of [`Peer::hello_at`]'s clock, in seconds.
    clock_at: Option<i64>,
}

impl Peer {
    pub fn connect(addr: SocketAddr, key: RoomKey) -> Peer {
        let stream = TcpStream::connect_timeout(&addr, STEP).expect("connect");
        stream.set_read_timeout(Some(STEP)).unwrap();
        stream.set_write_timeout(Some(STEP)).unwrap();
        stream.set_nodelay(true).unwrap();
        Peer {
            reader: FrameReader::new(stream.try_clone().unwrap(), 1 << 20),
            inbound: Inbound::per_connection(key.clone(), TimePolicy::default(), 1 << 20),
            stream,
            class_key: key.clone(),
            key,
            nonce: None,
            received: Vec::new(),
            clock_at: None,
        }
    }

    /// The session keys of this peer now: what it seals with and what it opens.
    pub fn rekey_inbound(&mut self, receive: RoomKey) {
        self.inbound.rekey(receive);
    }

    /// After a key exchange: seal with `send`, open with `receive` (the clock stays measured).
    pub fn switch_keys(&mut self, send: RoomKey, receive: RoomKey) {
        self.key = send;
        self.inbound.rekey(receive);
    }

    /// Sends a `psk` hello (with a fresh nonce); the handshake is answered by [`Peer::next`].
    pub fn hello(&mut self, nick: &str) {
        let hello = self.new_hello(nick, None);
        self.send(&hello);
    }

    /// [`Peer::hello`] in a token stamped `at`, as a client with a skewed clock sends it.
    pub fn hello_at(&mut self, nick: &str, at: u64) {
        let hello = self.new_hello(nick, None);
        self.send_raw(&fernchat::protocol::seal_at(&self.key, &hello, at));
        self.clock_at = Some(at as i64 - unix_now() as i64);
    }

    /// [`Peer::hello`] naming the client program (`client`, shown by staff's `whois`).
    pub fn hello_client(&mut self, nick: &str, client: &str) {
        let hello = self.new_hello(nick, Some(client));
        self.send(&hello);
    }

    /// A `psk` hello with a fresh nonce, remembered so the handshake's echo can be checked.
    fn new_hello(&mut self, nick: &str, client: Option<&str>) -> ClientEvent {
        let nonce = Nonce::generate();
        self.nonce = Some(nonce);
        ClientEvent::Hello {
            kex_public: None,
            nick: nick.into(),
            version: PROTOCOL_VERSION,
            kex: "psk".into(),
            nonce: Some(nonce.to_wire()),
            since: None,
            client: client.map(str::to_owned),
        }
    }

    /// [`Peer::hello`] with `since`: the id of the last room message this client saw.
    pub fn hello_since(&mut self, nick: &str, since: u64) {
        let nonce = Nonce::generate();
        self.nonce = Some(nonce);
        self.send(&ClientEvent::Hello {
            kex_public: None,
            nick: nick.into(),
            version: PROTOCOL_VERSION,
            kex: "psk".into(),
            nonce: Some(nonce.to_wire()),
            since: Some(since),
            client: None,
        });
    }

    /// A hello of any shape, sealed with the class key; the peer does not answer its handshake.
    pub fn hello_with(&mut self, nick: &str, kex: &str, kex_public: Option<String>) -> Nonce {
        let nonce = Nonce::generate();
        self.send(&ClientEvent::Hello {
            kex_public,
            nick: nick.into(),
            version: PROTOCOL_VERSION,
            kex: kex.into(),
            nonce: Some(nonce.to_wire()),
            since: None,
            client: None,
        });
        nonce
    }

    /// Answers a `psk` handshake: derives the session keys and sends `confirm` under them
    /// (on the skewed clock of the hello, if it had one).
    fn answer_handshake(&mut self, nonce: Nonce, server_nonce: &str) {
        let server_nonce = Nonce::from_wire(server_nonce).expect("a 16-byte server nonce");
        let keys = psk_session_keys(&self.class_key, &nonce, &server_nonce);
        self.key = keys.client_to_server;
        self.inbound.rekey(RoomKey::with_fallback(
            &keys.server_to_client,
            &self.class_key,
        ));
        let confirm = ClientEvent::Confirm { mac: None };
        let at = unix_now().saturating_add_signed(self.clock_at.unwrap_or(0));
        self.send_raw(&fernchat::protocol::seal_at(&self.key, &confirm, at));
    }

    pub fn send(&mut self, event: &ClientEvent) {
        let frame = seal(&self.key, event);
        self.send_raw(&frame);
    }

    pub fn say(&mut self, text: &str) {
        self.send(&ClientEvent::Say {
            room: None,
            text: text.into(),
        });
    }

    /// Sends bytes as they are (a frame must end with `\n` to be read as one).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to server");
    }

    /// Sends an arbitrary JSON plaintext as a valid token.
    pub fn send_json(&mut self, json: &str) {
        let mut frame = self.key.encrypt(json.as_bytes()).into_bytes();
        frame.push(b'\n');
        self.send_raw(&frame);
    }

    /// The next thing from the server, within the step timeout.
    pub fn next(&mut self) -> Got {
        match self.reader.read_frame() {
            Ok(Some(line)) => {
                let line = line.to_vec();
                self.received.push(line.clone());
                match self.inbound.accept::<ServerEvent>(&line, unix_now()) {
                    Ok(ServerEvent::Handshake {
                        nonce: echoed,
                        server_nonce,
                        ..
                    }) if self
                        .nonce
                        .is_some_and(|n| Some(n) == Nonce::from_wire(&echoed)) =>
                    {
                        let nonce = self.nonce.take().expect("checked above");
                        self.answer_handshake(nonce, &server_nonce);
                        self.next()
                    }
                    Ok(event) => Got::Event(event),
                    Err(_) => Got::Raw(line),
                }
            }
            Ok(None) => Got::Closed,
            Err(e) if e.is_timeout() => panic!("no message from the server within {STEP:?}"),
            Err(FrameError::Io(e)) if e.kind() == ErrorKind::ConnectionReset => Got::Closed,
            Err(e) => panic!("reading from the server: {e}"),
        }
    }

    /// The next event, answering pings on the way; panics on anything else.
    pub fn recv(&mut self) -> ServerEvent {
        for _ in 0..100 {
            match self.next() {
                Got::Event(ServerEvent::Ping { id }) => self.send(&ClientEvent::Pong { id }),
                Got::Event(event) => return event,
                other => panic!("expected an event, got {other:?}"),
            }
        }
        panic!("only pings from the server");
    }

    /// Skips events until one matches, at most `limit` of them.
    pub fn recv_until(
        &mut self,
        limit: usize,
        mut wanted: impl FnMut(&ServerEvent) -> bool,
    ) -> ServerEvent {
        for _ in 0..limit {
            let event = self.recv();
            if wanted(&event) {
                return event;
            }
        }
        panic!("no matching event within {limit} events");
    }

    /// Expects an error event with `code` next.
    pub fn expect_error(&mut self, code: ErrorCode) -> String {
        match self.recv() {
            ServerEvent::Error {
                code: got, message, ..
            } if got == code => message,
            other => panic!("expected error {code:?}, got {other:?}"),
        }
    }

    /// Expects the server to close the connection (after at most `limit` more events).
    pub fn expect_closed(&mut self, limit: usize) -> Vec<ServerEvent> {
        let mut seen = Vec::new();
        for _ in 0..limit {
            match self.next() {
                Got::Closed => return seen,
                Got::Event(event) => seen.push(event),
                Got::Raw(line) => {
                    panic!("unexpected raw line {:?}", String::from_utf8_lossy(&line))
                }
            }
        }
        panic!("the server did not close the connection; saw {seen:?}");
    }
}

/// The `text` of a room message from `from`, or a panic naming what came instead.
pub fn message_text(event: &ServerEvent, from: &str) -> String {
    match event {
        ServerEvent::Message { from: f, text, .. } if f == from => text.clone(),
        other => panic!("expected a message from {from}, got {other:?}"),
    }
}

/// A client session's configuration for a test: 127.0.0.1 at `addr`, bounded connect and
/// handshake waits, and no reconnecting (a test that wants a retry asks for it).
pub fn client_config(
    addr: SocketAddr,
    key: &RoomKey,
    nick: &str,
) -> fernchat::client::ClientConfig {
    let mut config = fernchat::client::ClientConfig::new(
        fernchat::client::ServerAddr::new("127.0.0.1", addr.port()),
        key.clone(),
        nick,
    );
    config.timeouts.connect = STEP;
    config.timeouts.handshake = Duration::from_secs(3);
    config.reconnect.enabled = false;
    config
}

/// The Python for the interop tests: `FERNCHAT_PYTHON` (which makes them mandatory, as `.ci/run`
/// sets it), else `python3` if it can import `cryptography`; `None`: the test says it skipped.
pub fn python() -> Option<String> {
    use std::process::{Command, Stdio};
    if let Ok(python) = std::env::var("FERNCHAT_PYTHON") {
        return Some(python);
    }
    let usable = Command::new("python3")
        .args(["-c", "import cryptography"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    usable.then(|| "python3".to_owned())
}
