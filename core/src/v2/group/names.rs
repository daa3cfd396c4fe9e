//! Member usernames in group states and operations (PROTOCOL.md 27.2, 27.3): each member's
//! username travels with its user id, so every member can show every other member by name,
//! contact or not. A username is taken only if it hashes to the user id it comes with
//! (`SHA-256("sealpost/user/v1" || username)`, the definition of a user id), so neither
//! the relay nor an admin can give a member a name that is not its own.

use alloc::vec::Vec;

use super::error::{GroupError, GroupResult};
use crate::username::{UserId, Username};
use crate::wire::{Reader, put_var8};

/// A member named by an operation (create, add): user id, the identity fingerprint the
/// adder pinned, and the username (`None` only in format-1 operations, which did not
/// carry it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitee {
    /// The user id.
    pub user: UserId,
    /// SHA-256 of its identity spki, as the adder pinned it.
    pub fingerprint: [u8; 32],
    /// Its username, which hashes to `user`.
    pub username: Option<Username>,
}

impl Invitee {
    /// A member by username: its user id is the username's.
    pub fn new(username: Username, fingerprint: [u8; 32]) -> Self {
        Self {
            user: username.user_id(),
            fingerprint,
            username: Some(username),
        }
    }
}

/// `var8(username)`, empty for an unknown one.
pub(super) fn put_username(out: &mut Vec<u8>, username: Option<&Username>) -> GroupResult<()> {
    put_var8(out, username.map_or(&[][..], |u| u.as_str().as_bytes()))?;
    Ok(())
}

/// Reads `var8(username)` for `user`: empty is `None` where `optional`; otherwise it
/// must be a normalized username (3 to 32 of `[a-z0-9._-]`, else `MALFORMED`) whose user
/// id is `user` (else `GROUP_USERNAME_MISMATCH`).
pub(super) fn read_username(
    r: &mut Reader<'_>,
    user: &UserId,
    optional: bool,
) -> GroupResult<Option<Username>> {
    let raw = r.var8(Username::MAX_LEN)?;
    if raw.is_empty() && optional {
        return Ok(None);
    }
    checked(raw, user).map(Some)
}

/// `raw` as a normalized username whose user id is `user`.
pub(super) fn checked(raw: &[u8], user: &UserId) -> GroupResult<Username> {
    let text = core::str::from_utf8(raw).map_err(|_| GroupError::Malformed)?;
    let name = Username::parse(text).map_err(|_| GroupError::Malformed)?;
    if name.as_str() != text {
        return Err(GroupError::Malformed);
    }
    if name.user_id() != *user {
        return Err(GroupError::UsernameMismatch);
    }
    Ok(name)
}
