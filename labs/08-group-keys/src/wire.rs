//! How group messages travel through any fernchat server: as the `text` of an ordinary `say`,
//! a small JSON object. The server (and every class member) relays and sees these, and must
//! learn nothing from them but who sent how much, when.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use serde_json::{Value, json};

use crate::{Envelope, PublicMember, Wrapped};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE.encode(bytes)
}

fn bytes<const N: usize>(value: &Value, field: &str) -> Option<[u8; N]> {
    let raw = URL_SAFE.decode(value.get(field)?.as_str()?).ok()?;
    raw.try_into().ok()
}

fn text(value: &Value, field: &str) -> Option<String> {
    value.get(field)?.as_str().map(str::to_owned)
}

/// A member announcing its public keys.
pub fn announce(member: &PublicMember) -> String {
    json!({"g": "member", "nick": member.nick, "dh": b64(&member.dh_public), "sig": b64(&member.verifying)})
        .to_string()
}

/// A group key wrapped for one member.
pub fn key(wrapped: &Wrapped) -> String {
    json!({"g": "key", "group": wrapped.group, "epoch": wrapped.epoch, "to": wrapped.to,
           "eph": b64(&wrapped.ephemeral), "sealed": wrapped.sealed})
    .to_string()
}

/// A message.
pub fn envelope(envelope: &Envelope) -> String {
    json!({"g": "msg", "group": envelope.group, "epoch": envelope.epoch, "from": envelope.from,
           "ct": envelope.ciphertext, "sig": b64(&envelope.signature)})
    .to_string()
}

/// What a `say` text holds, if it is a group message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupText {
    /// A member's public keys.
    Member(PublicMember),
    /// A wrapped group key.
    Key(Wrapped),
    /// A message.
    Envelope(Envelope),
}

/// Reads a `say` text; `None` for ordinary chat or anything malformed.
pub fn parse(say: &str) -> Option<GroupText> {
    let value: Value = serde_json::from_str(say).ok()?;
    match value.get("g")?.as_str()? {
        "member" => Some(GroupText::Member(PublicMember {
            nick: text(&value, "nick")?,
            dh_public: bytes(&value, "dh")?,
            verifying: bytes(&value, "sig")?,
        })),
        "key" => Some(GroupText::Key(Wrapped {
            group: text(&value, "group")?,
            epoch: value.get("epoch")?.as_u64()?,
            to: text(&value, "to")?,
            ephemeral: bytes(&value, "eph")?,
            sealed: text(&value, "sealed")?,
        })),
        "msg" => Some(GroupText::Envelope(Envelope {
            group: text(&value, "group")?,
            epoch: value.get("epoch")?.as_u64()?,
            from: text(&value, "from")?,
            ciphertext: text(&value, "ct")?,
            signature: bytes(&value, "sig")?,
        })),
        _ => None,
    }
}
