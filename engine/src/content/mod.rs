//! Conversation content: what a [`crate::payload::Message`]'s `content_type` and `content`
//! mean (PROTOCOL.md 28). Text, bytes and file manifests are what the package always
//! sent; the other types are the conversation features people expect of a messenger:
//! replies and disappearing posts, edits, deletion for everyone, reactions, read receipts,
//! typing indicators and the conversation's disappearing timer.
//!
//! Each is an ordinary message: sealed, signed by the session, re-sent until receipted,
//! de-duplicated by its `msg_id`. What a device may do with one it received (apply an edit
//! only from the original author, and so on) is decided by [`rules`], never by the
//! application guessing.

pub mod rules;
#[cfg(test)]
mod tests;

use alloc::string::String;
use alloc::vec::Vec;

use sealpost_core::{Error, Result};

use crate::codec::{Codec, Reader, put_list16, put_var8, put_var32};
use crate::msg_id::MsgId;
use crate::payload::MAX_CONTENT_LEN;

/// UTF-8 text.
pub const TYPE_TEXT: u8 = 0;
/// Opaque bytes (the application's own format).
pub const TYPE_BYTES: u8 = 1;
/// A file manifest (PROTOCOL.md 26.5), parsed by the core's attachment module.
pub const TYPE_FILE: u8 = 2;
/// A text or file that replies to another message or disappears.
pub const TYPE_POST: u8 = 3;
/// A new text for an earlier message of the same author.
pub const TYPE_EDIT: u8 = 4;
/// Deletion of an earlier message for everyone, by its author.
pub const TYPE_DELETE: u8 = 5;
/// A reaction to a message (an empty one takes the reaction back).
pub const TYPE_REACTION: u8 = 6;
/// "I read these": the opt-in read receipt (not the delivery receipt of 17.3).
pub const TYPE_READ: u8 = 7;
/// The opt-in typing indicator.
pub const TYPE_TYPING: u8 = 8;
/// The conversation's disappearing timer.
pub const TYPE_TIMER: u8 = 9;

/// Longest reaction: one emoji with its modifiers and joiners fits easily.
pub const MAX_REACTION_LEN: usize = 32;
/// Most message ids in one read receipt.
pub const MAX_READ_IDS: usize = 512;
/// Longest disappearing time: one year.
pub const MAX_EXPIRY_SECS: u32 = 31_536_000;
/// Shortest disappearing time: five seconds.
pub const MIN_EXPIRY_SECS: u32 = 5;

const FLAG_REPLY: u8 = 1;
const FLAG_EXPIRES: u8 = 2;

/// The body of a post: text or a file manifest (kept as bytes, parsed by the core).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// UTF-8 text.
    Text(String),
    /// A file manifest (26.5).
    File(Vec<u8>),
}

/// One message's content, parsed strictly (one encoding per value, no trailing bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// Content type 0, 1 or 2, or 3 with a reply and/or an expiry.
    Post(Post),
    /// Opaque bytes (content type 1).
    Bytes(Vec<u8>),
    /// Content type 4.
    Edit {
        /// The message edited.
        target: MsgId,
        /// Its new text (not empty).
        text: String,
    },
    /// Content type 5.
    Delete {
        /// The message deleted for everyone.
        target: MsgId,
    },
    /// Content type 6.
    Reaction {
        /// The message reacted to.
        target: MsgId,
        /// The reaction; empty takes it back.
        emoji: String,
    },
    /// Content type 7.
    Read {
        /// The messages read (1 to [`MAX_READ_IDS`]).
        targets: Vec<MsgId>,
    },
    /// Content type 8.
    Typing {
        /// Started (true) or stopped typing.
        active: bool,
    },
    /// Content type 9: seconds, or `None` for off.
    Timer {
        /// How long posts sent from now on live.
        expires_in: Option<u32>,
    },
}

/// A text or file, maybe replying to another message, maybe disappearing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Post {
    /// The message this one replies to.
    pub reply_to: Option<MsgId>,
    /// Seconds after sending when every device removes it.
    pub expires_in: Option<u32>,
    /// The text or file.
    pub body: Body,
}

impl Content {
    /// Parses `content` of `content_type`. An unknown type or a malformed content is
    /// [`Error::Malformed`], which the application shows as "a message this version cannot
    /// show" (it is still receipted: the sender's device did its part).
    pub fn parse(content_type: u8, content: &[u8]) -> Result<Self> {
        let mut r = Reader::new(content);
        let value = match content_type {
            TYPE_TEXT => Content::Post(Post::plain(Body::Text(text(content)?))),
            TYPE_BYTES => Content::Bytes(content.to_vec()),
            TYPE_FILE => Content::Post(Post::plain(Body::File(content.to_vec()))),
            TYPE_POST => Content::Post(Post::read(&mut r)?),
            TYPE_EDIT => Content::Edit {
                target: MsgId::read(&mut r)?,
                text: non_empty(text(r.var32(MAX_CONTENT_LEN)?)?)?,
            },
            TYPE_DELETE => Content::Delete {
                target: MsgId::read(&mut r)?,
            },
            TYPE_REACTION => Content::Reaction {
                target: MsgId::read(&mut r)?,
                emoji: reaction(r.var8(MAX_REACTION_LEN)?)?,
            },
            TYPE_READ => {
                let n = r.count16(MAX_READ_IDS, 16)?;
                if n == 0 {
                    return Err(Error::Malformed);
                }
                let targets = (0..n).map(|_| MsgId::read(&mut r)).collect::<Result<_>>()?;
                Content::Read { targets }
            }
            TYPE_TYPING => Content::Typing { active: r.bool()? },
            TYPE_TIMER => Content::Timer {
                expires_in: match r.u32()? {
                    0 => None,
                    s => Some(expiry(s)?),
                },
            },
            _ => return Err(Error::Malformed),
        };
        if !matches!(content_type, TYPE_TEXT | TYPE_BYTES | TYPE_FILE) {
            r.finish()?;
        }
        Ok(value)
    }

    /// The content type and content to send; checks what the parser would refuse, so
    /// nothing is sent that the recipient cannot read.
    pub fn encode(&self) -> Result<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        let ty = match self {
            Content::Post(post) if post.reply_to.is_none() && post.expires_in.is_none() => {
                return match &post.body {
                    Body::Text(t) => Ok((TYPE_TEXT, t.as_bytes().to_vec())),
                    Body::File(m) => Ok((TYPE_FILE, m.clone())),
                };
            }
            Content::Post(post) => {
                if let Some(s) = post.expires_in {
                    expiry(s)?;
                }
                post.encode(&mut out);
                TYPE_POST
            }
            Content::Bytes(b) => return Ok((TYPE_BYTES, b.clone())),
            Content::Edit { target, text } => {
                non_empty(text.clone())?;
                target.encode(&mut out);
                put_var32(&mut out, text.as_bytes());
                TYPE_EDIT
            }
            Content::Delete { target } => {
                target.encode(&mut out);
                TYPE_DELETE
            }
            Content::Reaction { target, emoji } => {
                if emoji.len() > MAX_REACTION_LEN {
                    return Err(Error::TooLarge);
                }
                reaction(emoji.as_bytes())?;
                target.encode(&mut out);
                put_var8(&mut out, emoji.as_bytes());
                TYPE_REACTION
            }
            Content::Read { targets } => {
                if targets.is_empty() || targets.len() > MAX_READ_IDS {
                    return Err(Error::TooLarge);
                }
                put_list16(&mut out, targets.iter());
                TYPE_READ
            }
            Content::Typing { active } => {
                out.push(u8::from(*active));
                TYPE_TYPING
            }
            Content::Timer { expires_in } => {
                let s = match expires_in {
                    None => 0,
                    Some(s) => expiry(*s)?,
                };
                out.extend_from_slice(&s.to_be_bytes());
                TYPE_TIMER
            }
        };
        if out.len() > MAX_CONTENT_LEN {
            return Err(Error::TooLarge);
        }
        Ok((ty, out))
    }

    /// The message this content acts on, for edits, deletions and reactions.
    pub fn target(&self) -> Option<MsgId> {
        match self {
            Content::Edit { target, .. }
            | Content::Delete { target }
            | Content::Reaction { target, .. } => Some(*target),
            _ => None,
        }
    }
}

impl Post {
    /// A post without reply or expiry (content type 0 or 2).
    pub fn plain(body: Body) -> Self {
        Self {
            reply_to: None,
            expires_in: None,
            body,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let mut flags = 0;
        if self.reply_to.is_some() {
            flags |= FLAG_REPLY;
        }
        if self.expires_in.is_some() {
            flags |= FLAG_EXPIRES;
        }
        out.push(flags);
        if let Some(id) = self.reply_to {
            id.encode(out);
        }
        if let Some(s) = self.expires_in {
            out.extend_from_slice(&s.to_be_bytes());
        }
        let (ty, body) = match &self.body {
            Body::Text(t) => (TYPE_TEXT, t.as_bytes()),
            Body::File(m) => (TYPE_FILE, m.as_slice()),
        };
        out.push(ty);
        put_var32(out, body);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let flags = r.u8()?;
        // Flags 0 would be a second encoding of content types 0 and 2.
        if flags == 0 || flags & !(FLAG_REPLY | FLAG_EXPIRES) != 0 {
            return Err(Error::Malformed);
        }
        let reply_to = if flags & FLAG_REPLY != 0 {
            Some(MsgId::read(r)?)
        } else {
            None
        };
        let expires_in = if flags & FLAG_EXPIRES != 0 {
            Some(expiry(r.u32()?)?)
        } else {
            None
        };
        let ty = r.u8()?;
        let raw = r.var32(MAX_CONTENT_LEN)?;
        let body = match ty {
            TYPE_TEXT => Body::Text(text(raw)?),
            TYPE_FILE => Body::File(raw.to_vec()),
            _ => return Err(Error::Malformed),
        };
        Ok(Self {
            reply_to,
            expires_in,
            body,
        })
    }
}

fn text(raw: &[u8]) -> Result<String> {
    core::str::from_utf8(raw)
        .map(String::from)
        .map_err(|_| Error::Malformed)
}

fn non_empty(text: String) -> Result<String> {
    if text.is_empty() {
        Err(Error::Malformed)
    } else {
        Ok(text)
    }
}

/// A reaction is UTF-8 without control characters (it is shown inline, never as text
/// that could reorder its surroundings).
fn reaction(raw: &[u8]) -> Result<String> {
    let s = text(raw)?;
    if s.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(Error::Malformed);
    }
    Ok(s)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

fn expiry(secs: u32) -> Result<u32> {
    if (MIN_EXPIRY_SECS..=MAX_EXPIRY_SECS).contains(&secs) {
        Ok(secs)
    } else {
        Err(Error::Malformed)
    }
}
