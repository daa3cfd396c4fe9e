//! The typed errors of groups (PROTOCOL.md 27.9): a refused operation, distribution or
//! message says why, so the engine can report "a message from a removed member" or "an
//! operation by someone who is not an admin" and hold what only arrived early.

use core::fmt;

/// What went wrong in a group. New variants may be added, so match with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GroupError {
    /// Bytes without the documented structure.
    Malformed,
    /// An operation's identity signature or a message's chain signature does not verify.
    BadSignature,
    /// An operation or distribution for another group.
    WrongGroup,
    /// An operation for an epoch already passed, or a chain (and so its messages) made
    /// before the group's last rekey: removed or left members' keys, in-flight messages
    /// of the old epoch. Never accepted.
    OldEpoch,
    /// An operation or distribution for an epoch this device has not reached: an
    /// operation is missing. Hold it and try again after the missing operation.
    EpochAhead,
    /// The actor of an operation, or the sender of a chain or message, is not a member
    /// (never was, was removed or left), or signs with another identity key than the
    /// member's.
    NotMember,
    /// An operation that only admins may make, made by a member who is not an admin.
    NotAdmin,
    /// An operation the state does not allow: adding a member twice, removing a
    /// non-member or oneself, demoting the last admin, an invalid name, a second create.
    InvalidOperation,
    /// A distribution that did not come from the device it names (the pairwise session's
    /// peer), or a second chain of one device in one epoch.
    WrongSender,
    /// This device has no sending chain in the group yet (make one and distribute it
    /// before sealing).
    NoSenderKey,
    /// A message whose header opens under no chain this device holds, or whose body does
    /// not open: not for this device, altered, or from a chain never received.
    Decrypt,
    /// A message counter already opened (or before the chain's position when it was
    /// received, or whose skipped key was dropped).
    Replay,
    /// A message sent outside the time window (PROTOCOL.md 15.3).
    Expired,
    /// More than [`super::MAX_MEMBERS`] members, a payload over the largest envelope.
    TooLarge,
    /// A primitive refused (cannot happen with valid keys).
    Crypto,
    /// A username in a state or operation that does not hash to the user id it comes
    /// with: someone (the relay, an admin) tried to give a member a name not its own.
    UsernameMismatch,
    /// A validly signed operation made on another state than this device's at its
    /// epoch (its `prior` is not this state's head), or one for an epoch this device
    /// passed that is not among the operations it applied: the members' states may have
    /// split (an operation was delayed past a later one). Reported to the user.
    Forked,
    /// An operation in format 1 for a group a format-2 operation already changed: from
    /// a device that has not updated (it must update to follow the group).
    OldFormat,
    /// A validly signed operation (or one whose actor is no longer a member, so its
    /// signature cannot be checked against a pinned key) for an epoch older than every
    /// operation this device remembers: it cannot tell a copy of one it applied from one
    /// it never saw. Not applied; reported to the user, as a possible split.
    TooOld,
}

impl GroupError {
    /// A stable, machine-readable code (the JS error `code`).
    pub const fn code(self) -> &'static str {
        match self {
            GroupError::Malformed => "MALFORMED",
            GroupError::BadSignature => "BAD_SIGNATURE",
            GroupError::WrongGroup => "GROUP_WRONG_GROUP",
            GroupError::OldEpoch => "GROUP_OLD_EPOCH",
            GroupError::EpochAhead => "GROUP_EPOCH_AHEAD",
            GroupError::NotMember => "GROUP_NOT_MEMBER",
            GroupError::NotAdmin => "GROUP_NOT_ADMIN",
            GroupError::InvalidOperation => "GROUP_INVALID_OPERATION",
            GroupError::WrongSender => "GROUP_WRONG_SENDER",
            GroupError::NoSenderKey => "GROUP_NO_SENDER_KEY",
            GroupError::Decrypt => "DECRYPT_FAILED",
            GroupError::Replay => "REPLAY",
            GroupError::Expired => "EXPIRED",
            GroupError::TooLarge => "TOO_LARGE",
            GroupError::Crypto => "CRYPTO",
            GroupError::UsernameMismatch => "GROUP_USERNAME_MISMATCH",
            GroupError::Forked => "GROUP_FORKED",
            GroupError::OldFormat => "GROUP_OLD_FORMAT",
            GroupError::TooOld => "GROUP_TOO_OLD",
        }
    }
}

impl From<crate::Error> for GroupError {
    /// The crate's coarse errors as they arise inside group steps.
    fn from(e: crate::Error) -> Self {
        match e {
            crate::Error::BadSignature | crate::Error::InvalidKey => GroupError::BadSignature,
            crate::Error::Decrypt => GroupError::Decrypt,
            crate::Error::Replay => GroupError::Replay,
            crate::Error::Expired => GroupError::Expired,
            crate::Error::TooLarge => GroupError::TooLarge,
            crate::Error::Crypto => GroupError::Crypto,
            _ => GroupError::Malformed,
        }
    }
}

impl fmt::Display for GroupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GroupError::Malformed => "malformed group data",
            GroupError::BadSignature => "group signature verification failed",
            GroupError::WrongGroup => "for another group",
            GroupError::OldEpoch => "from an older group epoch",
            GroupError::EpochAhead => "from a group epoch not reached yet",
            GroupError::NotMember => "not a member of the group",
            GroupError::NotAdmin => "only admins may do this",
            GroupError::InvalidOperation => "operation not allowed in this group state",
            GroupError::WrongSender => "sender key from another device than it names",
            GroupError::NoSenderKey => "no sending chain in this group yet",
            GroupError::Decrypt => "group message could not be decrypted",
            GroupError::Replay => "group message was already received",
            GroupError::Expired => "group message outside the time window",
            GroupError::TooLarge => "group or message exceeds the size limit",
            GroupError::Crypto => "cryptographic operation failed",
            GroupError::UsernameMismatch => "a member's username does not match its user id",
            GroupError::Forked => "a group change made on another state of the group",
            GroupError::OldFormat => "a group change from a device that must update",
            GroupError::TooOld => "a group change too old to check against this device's history",
        })
    }
}

impl core::error::Error for GroupError {}

/// Shorthand for group results.
pub type GroupResult<T> = core::result::Result<T, GroupError>;
