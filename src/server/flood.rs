//! Flood control: a token bucket per client, owned by that client's reader thread (so it needs
//! no lock). A burst is allowed, then a steady rate; messages over the rate are refused with an
//! error, and a client that keeps flooding is disconnected.
//!
//! Persistent abuse is measured with a second bucket of "strikes": each refused message takes
//! one, strikes come back at one per second, and running out of strikes means disconnection.
//! So a client slightly over the rate is only throttled, while a script blasting messages is
//! removed within moments.
//!
//! Before its hello is registered, a connection also draws on its source address's
//! [`AddressBucket`], shared by every connection from that address (see
//! `super::admission`): many short connections cannot each spend a whole burst.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The flood limits of the server (configurable with `--flood-rate`, `--flood-burst`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FloodLimits {
    /// Messages allowed at once after a quiet spell.
    pub burst: u32,
    /// Messages per second allowed in the long run.
    pub per_second: f64,
    /// Refused messages tolerated (recovering one per second) before disconnection.
    pub strikes: u32,
}

impl Default for FloodLimits {
    fn default() -> Self {
        FloodLimits {
            burst: 10,
            per_second: 5.0,
            strikes: 20,
        }
    }
}

/// Tokens that the connections of one source address may send, together, before their hello
/// is registered (`--address-rate`, `--address-burst`). A rate of 0 means no such limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AddressLimits {
    /// Tokens allowed at once after a quiet spell.
    pub burst: u32,
    /// Tokens per second allowed in the long run.
    pub per_second: f64,
}

impl Default for AddressLimits {
    fn default() -> Self {
        // A class behind one address (a school's NAT) reconnecting at once after a restart:
        // a hundred hellos go through together. A crowd gets 20 tokens a second per address.
        AddressLimits {
            burst: 100,
            per_second: 20.0,
        }
    }
}

/// The shared bucket of one source address (see [`AddressLimits`]).
#[derive(Debug)]
pub struct AddressBucket {
    bucket: Mutex<Bucket>,
    unlimited: bool,
}

impl AddressBucket {
    /// A full bucket at `now`.
    pub fn new(limits: AddressLimits, now: Instant) -> AddressBucket {
        AddressBucket {
            bucket: Mutex::new(Bucket::full(
                f64::from(limits.burst.max(1)),
                limits.per_second,
                now,
            )),
            unlimited: limits.per_second <= 0.0,
        }
    }

    fn take(&self, now: Instant) -> bool {
        self.unlimited
            || self
                .bucket
                .lock()
                .map(|mut bucket| bucket.take(now))
                .unwrap_or(true)
    }
}

/// What a connection's reader and the acceptor's admission share before the connection's
/// hello is registered.
#[derive(Debug, Default)]
pub struct PreHello {
    /// The hello is registered: the address's bucket no longer applies.
    pub seated: AtomicBool,
    /// A whole frame has arrived (most likely the hello, on its way to the hub): admission
    /// closes silent connections before this one to make room.
    pub spoke: AtomicBool,
}

/// A token bucket holding up to `capacity` tokens, refilled continuously at `rate` per second.
#[derive(Debug, Clone)]
struct Bucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(capacity: f64, rate: f64, now: Instant) -> Bucket {
        Bucket {
            capacity,
            rate,
            tokens: capacity,
            last: now,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What to do with one incoming message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limits.
    Allow,
    /// Over the rate: refuse it. `notify` is true for the first refusal of a flood episode
    /// (one error per episode, so a flooder cannot make us flood back).
    Refuse {
        /// Whether to tell the client.
        notify: bool,
    },
    /// Out of strikes: disconnect.
    Disconnect,
}

/// One client's flood state.
#[derive(Debug, Clone)]
pub struct FloodGuard {
    messages: Bucket,
    strikes: Bucket,
    in_episode: bool,
    limits: FloodLimits,
    /// Before the hello is registered (until `seated`): the address's shared bucket.
    address: Option<(Arc<AddressBucket>, Arc<PreHello>, AddressLimits)>,
    /// Whether the last refusal was the address's bucket rather than the client's own.
    by_address: bool,
}

impl FloodGuard {
    /// A guard with full buckets at `now`.
    pub fn new(limits: FloodLimits, now: Instant) -> FloodGuard {
        FloodGuard {
            messages: Bucket::full(f64::from(limits.burst.max(1)), limits.per_second, now),
            strikes: Bucket::full(f64::from(limits.strikes.max(1)), 1.0, now),
            in_episode: false,
            limits,
            address: None,
            by_address: false,
        }
    }

    /// Also draws on `bucket`, shared by the connections of this client's address, until
    /// `pre.seated` is set (its hello registered); sets `pre.spoke` at the first frame.
    pub fn with_address(
        mut self,
        bucket: Arc<AddressBucket>,
        pre: Arc<PreHello>,
        limits: AddressLimits,
    ) -> FloodGuard {
        self.address = Some((bucket, pre, limits));
        self
    }

    /// What to tell a client whose message was refused, naming the limit it hit.
    pub fn refusal_message(&self) -> String {
        match &self.address {
            Some((_, _, address)) if self.by_address => format!(
                "connections from your address are sending faster than {} messages per second \
                 (bursts of {}) before saying hello; messages are being dropped: send hello \
                 first, and open fewer connections",
                address.per_second, address.burst
            ),
            _ => format!(
                "you are sending faster than {} messages per second (bursts of {}); messages \
                 are being dropped, slow down",
                self.limits.per_second, self.limits.burst
            ),
        }
    }

    /// Judges one message arriving at `now`.
    pub fn check(&mut self, now: Instant) -> Verdict {
        let own = self.messages.take(now);
        let address = match &self.address {
            Some((bucket, pre, _)) if !pre.seated.load(Ordering::Relaxed) => {
                pre.spoke.store(true, Ordering::Relaxed);
                !own || bucket.take(now)
            }
            _ => true,
        };
        self.by_address = own && !address;
        if own && address {
            self.in_episode = false;
            return Verdict::Allow;
        }
        if !self.strikes.take(now) {
            return Verdict::Disconnect;
        }
        let notify = !self.in_episode;
        self.in_episode = true;
        Verdict::Refuse { notify }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> FloodLimits {
        FloodLimits {
            burst: 3,
            per_second: 2.0,
            strikes: 4,
        }
    }

    #[test]
    fn burst_then_refusal_with_one_notice() {
        let t0 = Instant::now();
        let mut guard = FloodGuard::new(limits(), t0);
        for _ in 0..3 {
            assert_eq!(guard.check(t0), Verdict::Allow);
        }
        assert_eq!(guard.check(t0), Verdict::Refuse { notify: true });
        assert_eq!(guard.check(t0), Verdict::Refuse { notify: false });
    }

    #[test]
    fn steady_rate_within_limit_is_never_refused() {
        let t0 = Instant::now();
        let mut guard = FloodGuard::new(limits(), t0);
        for i in 0..1000u64 {
            // 2 per second exactly.
            let now = t0 + Duration::from_millis(500 * i);
            assert_eq!(guard.check(now), Verdict::Allow, "message {i}");
        }
    }

    #[test]
    fn persistent_flood_is_disconnected() {
        let t0 = Instant::now();
        let mut guard = FloodGuard::new(limits(), t0);
        let verdicts: Vec<Verdict> = (0..8).map(|_| guard.check(t0)).collect();
        assert_eq!(verdicts[..3], [Verdict::Allow; 3]);
        assert_eq!(verdicts[7], Verdict::Disconnect);
    }

    #[test]
    fn slightly_over_the_rate_is_throttled_not_disconnected() {
        let t0 = Instant::now();
        let mut guard = FloodGuard::new(limits(), t0);
        let mut allowed = 0;
        // 3 per second for 60 s against a limit of 2 per second: one refusal per second,
        // and strikes recover at one per second.
        for i in 0..180u64 {
            let now = t0 + Duration::from_millis(333 * i);
            match guard.check(now) {
                Verdict::Allow => allowed += 1,
                Verdict::Refuse { .. } => {}
                Verdict::Disconnect => panic!("disconnected at message {i}"),
            }
        }
        assert!((115..=125).contains(&allowed), "allowed {allowed}");
    }

    #[test]
    fn connections_of_one_address_share_its_bucket_until_seated() {
        let t0 = Instant::now();
        let address = AddressLimits {
            burst: 4,
            per_second: 1.0,
        };
        let bucket = Arc::new(AddressBucket::new(address, t0));
        let pre = Arc::new(PreHello::default());
        let mut guards: Vec<FloodGuard> = (0..4)
            .map(|_| {
                FloodGuard::new(limits(), t0).with_address(
                    Arc::clone(&bucket),
                    Arc::new(PreHello::default()),
                    address,
                )
            })
            .collect();
        // Four connections, one token each: the address's burst of 4 is spent.
        for guard in &mut guards {
            assert_eq!(guard.check(t0), Verdict::Allow);
        }
        let mut fifth = FloodGuard::new(limits(), t0).with_address(
            Arc::clone(&bucket),
            Arc::clone(&pre),
            address,
        );
        assert_eq!(fifth.check(t0), Verdict::Refuse { notify: true });
        assert!(fifth.refusal_message().contains("your address"));
        assert!(pre.spoke.load(Ordering::Relaxed));
        // Once its hello is registered, only its own limits apply.
        pre.seated.store(true, Ordering::Relaxed);
        assert_eq!(fifth.check(t0), Verdict::Allow);
    }
}
