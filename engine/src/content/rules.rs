//! What a device does with an edit, deletion, reaction, read receipt, typing indicator or
//! timer it received (PROTOCOL.md 28.3). Pure functions over what the application stored,
//! so every device of every party decides the same and converges whatever order the
//! relay delivers in.

use sealpost_core::UserId;

use super::Content;
use crate::msg_id::MsgId;

/// How long after a message its author may still edit it or delete it for everyone,
/// measured on the author's clock (the message's and the amendment's `sent_at`).
pub const AMEND_WINDOW_SECS: u64 = 24 * 60 * 60;
/// A typing indicator older than this when it arrives is stale and ignored.
pub const TYPING_FRESH_SECS: u64 = 15;
/// Most amendments a device holds per conversation while their targets have not arrived
/// (the relay may deliver an edit before the message it edits). Beyond it the oldest held
/// one is dropped.
pub const MAX_HELD: usize = 256;

/// What the application keeps of a message that an amendment may act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Its author (the authenticated sender, or this account for its own messages).
    pub author: UserId,
    /// The conversation it belongs to (the other party).
    pub conversation: UserId,
    /// The author's clock when it was sent.
    pub sent_at: u64,
    /// Whether it is text (only text is edited).
    pub is_text: bool,
    /// Whether it was deleted for everyone.
    pub deleted: bool,
}

/// Who sent an amendment, from [`crate::IncomingMessage`] (or this device, sending one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sender {
    /// The authenticated author.
    pub author: UserId,
    /// The conversation it came in.
    pub conversation: UserId,
    /// The author's clock when it was sent.
    pub sent_at: u64,
}

/// Why an amendment is not applied. Each is shown to the user as a notice line, never
/// silently swallowed, except [`Verdict::Hold`] which waits for its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The target belongs to another conversation.
    OtherConversation,
    /// Someone other than the target's author tried to edit or delete it.
    NotAuthor,
    /// An edit of something that is not text.
    NotText,
    /// Later than [`AMEND_WINDOW_SECS`] after the target.
    TooLate,
    /// The target was deleted for everyone.
    Deleted,
    /// Not an amendment (a post, bytes, read receipt, typing or timer).
    NotAnAmendment,
}

impl Refusal {
    /// A stable, machine-readable code.
    pub const fn code(self) -> &'static str {
        match self {
            Refusal::OtherConversation => "AMEND_OTHER_CONVERSATION",
            Refusal::NotAuthor => "AMEND_NOT_AUTHOR",
            Refusal::NotText => "AMEND_NOT_TEXT",
            Refusal::TooLate => "AMEND_TOO_LATE",
            Refusal::Deleted => "AMEND_DELETED",
            Refusal::NotAnAmendment => "AMEND_NOT_AN_AMENDMENT",
        }
    }
}

/// The decision on an edit, deletion or reaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Apply it (for edits and reactions: if it is newer than the one applied, see
    /// [`newer`]).
    Apply,
    /// The target has not arrived: hold it (at most [`MAX_HELD`]) and decide again when
    /// the target arrives.
    Hold,
    /// Refuse it and say why.
    Refuse(Refusal),
}

/// Decides on `content` (an edit, deletion or reaction) from `from`, given the stored
/// target (`None`: not known on this device, yet).
pub fn amend(content: &Content, from: &Sender, target: Option<&Stored>) -> Verdict {
    let authored = matches!(content, Content::Edit { .. } | Content::Delete { .. });
    if !authored && !matches!(content, Content::Reaction { .. }) {
        return Verdict::Refuse(Refusal::NotAnAmendment);
    }
    let Some(t) = target else {
        return Verdict::Hold;
    };
    let refusal = if t.conversation != from.conversation {
        Some(Refusal::OtherConversation)
    } else if t.deleted {
        Some(Refusal::Deleted)
    } else if authored && t.author != from.author {
        Some(Refusal::NotAuthor)
    } else if matches!(content, Content::Edit { .. }) && !t.is_text {
        Some(Refusal::NotText)
    } else if authored && from.sent_at.saturating_sub(t.sent_at) > AMEND_WINDOW_SECS {
        Some(Refusal::TooLate)
    } else {
        None
    };
    refusal.map_or(Verdict::Apply, Verdict::Refuse)
}

/// Whether a read receipt from `from` marks `target` as read: only messages of the same
/// conversation that the other party wrote (the reader's own device syncing "I read
/// this" marks the peer's messages; the peer's receipt marks this account's).
pub fn read_applies(from: &Sender, target: &Stored) -> bool {
    target.conversation == from.conversation && target.author != from.author
}

/// Whether `(sent_at, msg_id)` of a later edit, reaction or timer replaces the one
/// applied: the author's clock orders them, the message id breaks ties, so every device
/// ends with the same value whatever order they arrived in.
pub fn newer(candidate: (u64, MsgId), applied: (u64, MsgId)) -> bool {
    candidate > applied
}

/// When a disappearing post is removed on this device: `expires_in` seconds after it was
/// sent, by the sender's clock but never later than by this device's clock (a sender's
/// clock ahead cannot make a post live longer). A post whose time has passed when it
/// arrives is shown as "a disappearing message expired", never as text.
pub fn expires_at(sent_at: u64, received_at: u64, expires_in: u32) -> u64 {
    sent_at
        .min(received_at)
        .saturating_add(u64::from(expires_in))
}

/// Whether a typing indicator that arrived now is still worth showing.
pub fn typing_fresh(sent_at: u64, received_at: u64) -> bool {
    received_at.saturating_sub(sent_at) <= TYPING_FRESH_SECS
}
