//! The real class server (`fernchat::server`), in-process on 127.0.0.1, for graders: what the
//! live steps run as `cargo run --bin server`, with a chosen configuration and a fresh port.

use std::net::{SocketAddr, TcpListener};
use std::thread::{self, JoinHandle};

use fernchat::crypto::RoomKey;
use fernchat::identity::ServerIdentity;
use fernchat::server::{Log, Server, ServerConfig, ShutdownSender, shutdown_channel};

/// A running class server. Dropping it shuts it down (and waits for it).
pub struct ClassServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<ShutdownSender>,
    thread: Option<JoinHandle<()>>,
}

impl ClassServer {
    /// A quiet server with `class_key`, offering every key exchange, signing with `identity`.
    pub fn start(
        class_key: &RoomKey,
        identity: Option<&ServerIdentity>,
    ) -> std::io::Result<ClassServer> {
        ClassServer::start_on(
            "127.0.0.1:0".parse().expect("an address"),
            class_key,
            identity,
        )
    }

    /// The same on a chosen address (a restart on the same port).
    pub fn start_on(
        addr: SocketAddr,
        class_key: &RoomKey,
        identity: Option<&ServerIdentity>,
    ) -> std::io::Result<ClassServer> {
        let mut config = ServerConfig::new(class_key.clone());
        config.log = Log::Silent;
        config.identity = identity.cloned();
        let listener = TcpListener::bind(addr)?;
        let server = Server::new(listener, config).map_err(std::io::Error::other)?;
        let addr = server.local_addr()?;
        let (stop, stopped) = shutdown_channel();
        let thread = thread::spawn(move || {
            let _ = server.run(stopped);
        });
        Ok(ClassServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for ClassServer {
    fn drop(&mut self) {
        // Dropping the sender is the shutdown signal; the server answers within about a second.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
