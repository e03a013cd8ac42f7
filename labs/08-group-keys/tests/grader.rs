//! Lab 8's grader. Do not edit: your work is graded with the original.
//!
//! Wrapped keys that only their member opens, bound to group and epoch; envelopes that name
//! their true sender; rotation on removal; then a whole group over a logging relay (the toy
//! room, which records every event it decrypts) that must never see a plaintext. Inputs come
//! from this file's `SEEDS`; every "must refuse" is paired with a "must accept".

use fernchat::crypto::RoomKey;
use lab08::wire::{self, GroupText};
use lab08::{
    Envelope, GroupError, Member, PublicMember, Wrapped, add, open, rotate, seal, unwrap, wrap,
};
use labkit::client::Client;
use labkit::limit::within;
use labkit::rng::SeededRng;
use labkit::room::Room;

/// This grader's own seeds: every generated input comes from them. They live here, not in the
/// kit, so that nothing outside this file can change what the grader checks.
const SEEDS: [u64; 4] = [0x08_5eed, 31, 20_260_808, 0x8888_abcd_dcba_8888];

/// Every test's time limit, in seconds: the reference takes a small fraction of it.
const LIMIT: u64 = 30;

const GROUP: &str = "study-group";

fn members(rng: &mut SeededRng, nicks: &[&str]) -> Vec<Member> {
    nicks
        .iter()
        .map(|nick| Member::generate(nick, rng))
        .collect()
}

fn roster(members: &[Member]) -> Vec<PublicMember> {
    members.iter().map(|m| m.public.clone()).collect()
}

#[test]
fn a_wrapped_key_opens_for_its_member_only() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let group = members(&mut rng, &["alice", "bob"]);
            let key: [u8; 32] = rng.bytes();
            let wrapped = wrap(GROUP, 0, &key, &group[1].public, &mut rng);
            assert_eq!(
                unwrap(&wrapped, &group[1]),
                Ok(key),
                "seed {seed}: bob opens his"
            );
            assert!(
                unwrap(&wrapped, &group[0]).is_err(),
                "seed {seed}: alice cannot open bob's"
            );
            // Eve knows bob's public key (everyone does: it was announced) but not his secret.
            let mut eve = Member::generate("bob", &mut rng);
            eve.public.dh_public = group[1].public.dh_public;
            assert!(
                unwrap(&wrapped, &eve).is_err(),
                "seed {seed}: the public key opens nothing"
            );
            let mut tampered = wrapped.clone();
            let mid = tampered.sealed.len() / 2;
            let flipped = if &tampered.sealed[mid..=mid] == "A" {
                "B"
            } else {
                "A"
            };
            tampered.sealed.replace_range(mid..=mid, flipped);
            assert!(
                unwrap(&tampered, &group[1]).is_err(),
                "seed {seed}: tampered"
            );
        }
    });
}

#[test]
fn wraps_are_fresh_and_bound_to_their_group_and_epoch() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let bob = Member::generate("bob", &mut rng);
            let key: [u8; 32] = rng.bytes();
            let first = wrap(GROUP, 3, &key, &bob.public, &mut rng);
            let second = wrap(GROUP, 3, &key, &bob.public, &mut rng);
            assert_ne!(
                first.ephemeral, second.ephemeral,
                "seed {seed}: a fresh ephemeral key per wrap"
            );
            assert_ne!(first.ephemeral, [0; 32], "seed {seed}");
            assert_eq!(unwrap(&second, &bob), Ok(key), "seed {seed}");
            let mut moved = first.clone();
            moved.epoch = 4;
            assert!(
                unwrap(&moved, &bob).is_err(),
                "seed {seed}: replayed as another epoch"
            );
            let mut moved = first.clone();
            moved.group = "another-group".into();
            assert!(
                unwrap(&moved, &bob).is_err(),
                "seed {seed}: replayed in another group"
            );
            assert_eq!(unwrap(&first, &bob), Ok(key), "seed {seed}: as it was made");
        }
    });
}

#[test]
fn envelopes_name_their_true_sender() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let group = members(&mut rng, &["alice", "bob", "carol"]);
            let everyone = roster(&group);
            let key: [u8; 32] = rng.bytes();
            let line = rng.chat_line();
            let genuine = seal(GROUP, 1, &key, &group[1], &line);
            assert_eq!(
                open(&genuine, 1, &key, &everyone),
                Ok(line.clone()),
                "seed {seed}: genuine"
            );
            // Carol, who holds the group key, writes as bob.
            let mut posing = group[2].clone();
            posing.nick = "bob".into();
            let forged = seal(GROUP, 1, &key, &posing, "bob says: the exam is cancelled");
            assert_eq!(
                open(&forged, 1, &key, &everyone),
                Err(GroupError::BadSignature),
                "seed {seed}: forged"
            );
            let mut changed = genuine.clone();
            changed.ciphertext = seal(GROUP, 1, &key, &group[1], "something else").ciphertext;
            assert_eq!(
                open(&changed, 1, &key, &everyone),
                Err(GroupError::BadSignature),
                "seed {seed}: swapped ciphertext"
            );
            let mut moved = genuine.clone();
            moved.group = "another-group".into();
            assert_eq!(
                open(&moved, 1, &key, &everyone),
                Err(GroupError::BadSignature),
                "seed {seed}: an envelope moved to another group (same key) must not verify: \
                 sign the group's name too"
            );
            assert_eq!(
                open(&genuine, 1, &key, &everyone[..1]),
                Err(GroupError::UnknownSender),
                "seed {seed}"
            );
            assert_eq!(
                open(&genuine, 2, &key, &everyone),
                Err(GroupError::WrongEpoch),
                "seed {seed}"
            );
            assert_eq!(
                open(&genuine, 1, &rng.bytes(), &everyone),
                Err(GroupError::Tampered),
                "seed {seed}"
            );
        }
    });
}

#[test]
fn removal_rotates_to_a_new_epoch_for_those_who_stay() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let group = members(&mut rng, &["alice", "bob", "carol"]);
            let old: [u8; 32] = rng.bytes();
            let staying = roster(&group[..2]);
            let (same_state, other_state) = (rng.clone(), SeededRng::new(seed ^ 0xff));
            let (epoch, key, wraps) = rotate(GROUP, 7, &staying, &mut rng);
            assert_eq!(epoch, 8, "seed {seed}: the next epoch");
            // The new key comes from the generator: the same generator state gives the same
            // key, another state another key. A key computed from what everyone knows (the
            // group, the epoch) is one the removed member computes too.
            assert!(
                rotate(GROUP, 7, &staying, &mut same_state.clone()).1 == key,
                "seed {seed}: the same generator state gave another key: draw the new key from \
                 the generator rotate is given"
            );
            assert!(
                rotate(GROUP, 7, &staying, &mut other_state.clone()).1 != key,
                "seed {seed}: another generator state gave the same key: the new key must be \
                 random, not computed from the group and the epoch"
            );
            assert_ne!(key, old, "seed {seed}");
            let to: Vec<&str> = wraps.iter().map(|w| w.to.as_str()).collect();
            assert_eq!(
                to,
                ["alice", "bob"],
                "seed {seed}: one wrap per member who stays"
            );
            for (wrapped, member) in wraps.iter().zip(&group) {
                assert_eq!(wrapped.epoch, 8, "seed {seed}");
                assert_eq!(
                    unwrap(wrapped, member),
                    Ok(key),
                    "seed {seed}: {}",
                    member.nick
                );
                assert!(
                    unwrap(wrapped, &group[2]).is_err(),
                    "seed {seed}: carol is out"
                );
            }
            let after = seal(GROUP, epoch, &key, &group[1], &rng.chat_line());
            assert_eq!(
                open(&after, 7, &old, &roster(&group)),
                Err(GroupError::WrongEpoch),
                "seed {seed}"
            );
            assert_eq!(
                open(&after, 8, &old, &roster(&group)),
                Err(GroupError::Tampered),
                "seed {seed}"
            );
        }
    });
}

/// One member's connection to the relay and everything group-related it has received.
struct Inbox {
    member: Member,
    client: Client,
    seen: Vec<GroupText>,
}

impl Inbox {
    fn say(&mut self, text: String) {
        self.client.say(&text).unwrap();
    }

    /// Reads room messages until `wanted` finds something among everything seen (bounded).
    fn wait<T>(&mut self, mut wanted: impl FnMut(&[GroupText]) -> Option<T>) -> T {
        for _ in 0..200 {
            if let Some(found) = wanted(&self.seen) {
                return found;
            }
            let message = self.client.recv_type("message").unwrap_or_else(|e| {
                panic!("{}: {e}; seen {:?}", self.member.nick, self.seen.len())
            });
            if let Some(text) = message["text"].as_str().and_then(wire::parse) {
                self.seen.push(text);
            }
        }
        panic!(
            "{}: never received what it waited for; seen {:?}",
            self.member.nick, self.seen
        );
    }

    fn roster(&mut self, size: usize) -> Vec<PublicMember> {
        self.wait(|seen| {
            let members: Vec<PublicMember> = seen
                .iter()
                .filter_map(|t| match t {
                    GroupText::Member(m) => Some(m.clone()),
                    _ => None,
                })
                .collect();
            (members.len() >= size).then_some(members)
        })
    }

    fn key(&mut self, epoch: u64) -> Result<[u8; 32], GroupError> {
        let nick = self.member.nick.clone();
        let wrapped: Wrapped = self.wait(|seen| {
            seen.iter().find_map(|t| match t {
                GroupText::Key(w) if w.to == nick && w.epoch == epoch => Some(w.clone()),
                _ => None,
            })
        });
        unwrap(&wrapped, &self.member)
    }

    fn envelopes(&mut self, epoch: u64, count: usize) -> Vec<Envelope> {
        self.wait(|seen| {
            let found: Vec<Envelope> = seen
                .iter()
                .filter_map(|t| match t {
                    GroupText::Envelope(e) if e.epoch == epoch => Some(e.clone()),
                    _ => None,
                })
                .collect();
            (found.len() >= count).then_some(found)
        })
    }
}

#[test]
fn a_group_over_a_logging_relay_that_never_sees_a_plaintext() {
    within(LIMIT, || {
        let class_key = RoomKey::generate();
        let relay = Room::start(class_key.clone()).unwrap();
        for (round, seed) in SEEDS.into_iter().enumerate() {
            let mut rng = SeededRng::new(seed);
            let nicks = ["alice", "bob", "carol"].map(|n| format!("{n}{round}"));
            let mut inboxes: Vec<Inbox> = nicks
                .iter()
                .map(|nick| Inbox {
                    member: Member::generate(nick, &mut rng),
                    client: Client::join_psk(relay.addr, &class_key, nick).unwrap(),
                    seen: Vec::new(),
                })
                .collect();
            for inbox in &mut inboxes {
                let announce = wire::announce(&inbox.member.public);
                inbox.say(announce);
            }
            let everyone = inboxes[0].roster(3);
            // Alice creates the group: epoch 0, wrapped for each member.
            let key0: [u8; 32] = rng.bytes();
            for member in &everyone {
                let wrapped = wrap(GROUP, 0, &key0, member, &mut rng);
                inboxes[0].say(wire::key(&wrapped));
            }
            let mut secrets = Vec::new();
            for inbox in &mut inboxes {
                assert_eq!(
                    inbox.key(0),
                    Ok(key0),
                    "seed {seed}: {} unwraps",
                    inbox.member.nick
                );
                // A marker makes each line distinctive: a bare "hi" could turn up inside base64.
                let line = format!("{} [{seed}:{}]", rng.chat_line(), rng.below(1_000_000));
                let envelope = seal(GROUP, 0, &key0, &inbox.member, &line);
                inbox.say(wire::envelope(&envelope));
                secrets.push(line);
            }
            // Carol writes as bob.
            let mut posing = inboxes[2].member.clone();
            posing.nick = nicks[1].clone();
            let forged_line = "the exam moved to 7 am";
            inboxes[2].say(wire::envelope(&seal(GROUP, 0, &key0, &posing, forged_line)));
            for inbox in &mut inboxes[..2] {
                let envelopes = inbox.envelopes(0, 4);
                // The relay fixes no order between members: compare as sets.
                let mut lines = Vec::new();
                let mut refused = Vec::new();
                for envelope in &envelopes {
                    match open(envelope, 0, &key0, &everyone) {
                        Ok(line) => lines.push(line),
                        Err(e) => refused.push(e),
                    }
                }
                let (mut expected, mut lines) = (secrets.clone(), lines);
                expected.sort();
                lines.sort();
                assert_eq!(
                    lines, expected,
                    "seed {seed}: {} reads every member, and only them",
                    inbox.member.nick
                );
                assert_eq!(
                    refused,
                    [GroupError::BadSignature],
                    "seed {seed}: the forgery is caught"
                );
            }
            // Alice removes carol: epoch 1, for alice and bob only.
            // (The roster is in the order announcements reached alice, which the relay does not fix.)
            let staying: Vec<PublicMember> = everyone
                .iter()
                .filter(|m| m.nick != nicks[2])
                .cloned()
                .collect();
            let (epoch, key1, wraps) = rotate(GROUP, 0, &staying, &mut rng);
            for wrapped in &wraps {
                inboxes[0].say(wire::key(wrapped));
            }
            assert_eq!(inboxes[1].key(epoch), Ok(key1), "seed {seed}: bob stays");
            let after = format!("{} [{seed}:after]", rng.chat_line());
            let envelope = seal(GROUP, epoch, &key1, &inboxes[1].member, &after);
            inboxes[1].say(wire::envelope(&envelope));
            let got = inboxes[0].envelopes(epoch, 1);
            assert_eq!(
                open(&got[0], epoch, &key1, &everyone),
                Ok(after.clone()),
                "seed {seed}: alice reads bob"
            );
            // Carol sees every wrap and the envelope, and opens none of them.
            let carol = &mut inboxes[2];
            let got = carol.envelopes(epoch, 1);
            for wrapped in &wraps {
                assert!(
                    unwrap(wrapped, &carol.member).is_err(),
                    "seed {seed}: carol is out"
                );
            }
            assert!(
                open(&got[0], epoch, &key0, &everyone).is_err(),
                "seed {seed}: the old key is useless"
            );
            secrets.push(after);
            secrets.push(forged_line.to_owned());
            // The relay decrypted every frame (it holds the class key) and logged it: no plaintext.
            for heard in relay.heard() {
                let said = heard.event.to_string();
                for secret in &secrets {
                    assert!(
                        !said.contains(secret.as_str()),
                        "seed {seed}: the relay saw {secret:?}"
                    );
                }
            }
            for inbox in inboxes {
                inbox.client.bye();
            }
        }
    });
}

// Stretch part: a newcomer does not read the past.

#[test]
fn stretch_a_newcomer_gets_a_new_epoch_not_the_old_key() {
    within(LIMIT, || {
        for seed in SEEDS {
            let mut rng = SeededRng::new(seed);
            let group = members(&mut rng, &["alice", "bob", "dave"]);
            let old: [u8; 32] = rng.bytes();
            let before = seal(GROUP, 4, &old, &group[0], &rng.chat_line());
            let (epoch, key, wraps) =
                add(GROUP, 4, &roster(&group[..2]), &group[2].public, &mut rng);
            assert_eq!(epoch, 5, "seed {seed}: a join starts a new epoch");
            assert_ne!(key, old, "seed {seed}: with a new key");
            let to: Vec<&str> = wraps.iter().map(|w| w.to.as_str()).collect();
            assert_eq!(
                to,
                ["alice", "bob", "dave"],
                "seed {seed}: one wrap per member after the join"
            );
            for (wrapped, member) in wraps.iter().zip(&group) {
                assert_eq!(
                    unwrap(wrapped, member),
                    Ok(key),
                    "seed {seed}: {}",
                    member.nick
                );
            }
            // Dave can open what is said from now on, and nothing from before he came.
            let after = seal(GROUP, epoch, &key, &group[0], "welcome dave");
            assert_eq!(
                open(&after, epoch, &key, &roster(&group)),
                Ok("welcome dave".to_owned()),
                "a member opens what is sealed after the join"
            );
            assert!(
                open(&before, 4, &key, &roster(&group)).is_err(),
                "seed {seed}: the new key opens nothing of the epoch before the join"
            );
        }
    });
}
