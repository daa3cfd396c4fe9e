//! Group operations (PROTOCOL.md 27.3): create, add, remove, leave, rename, promote,
//! demote and rekey, each signed with RSA-PSS by the actor's identity key over the group,
//! the epoch it applies to, the head of the state it applies to (its `prior`: the hash of
//! the operation that made that state, so two states of one epoch are told apart) and the
//! change, so that no one but the actor can make it and it applies to one state only.
//! Create and add name each new member with its username, checked against its user id.
//! Operations are rare, so the RSA cost does not matter.
//!
//! Format 2 (`'O',2`) is what this crate signs. Format 1 (`'O',1`, before the prior and the
//! usernames) is still read: it applies only to a state no format-2 operation has made
//! (27.4), so an operation in flight when its sender updated still lands.

use alloc::string::String;
use alloc::vec::Vec;

use rand_core::CryptoRng;

use sha2::{Digest, Sha256};

use super::error::{GroupError, GroupResult};
use super::names::{Invitee, put_username, read_username};
use super::{MAX_GROUP_NAME_LEN, MAX_MEMBERS};
use crate::keys::{IdentityKey, IdentityPublicKey, MAX_SPKI_LEN};
use crate::username::{UserId, Username};
use crate::v2::ids::GroupId;
use crate::wire::{Reader, put_var8, put_var16};

const OP_TAG: [u8; 2] = [b'O', 2];
/// Format 1: no prior, no usernames. Read, never signed.
const OP_TAG_V1: [u8; 2] = [b'O', 1];
const OP_DOMAIN: &[u8] = b"sealpost/v2/group-op\0";
const MAX_SIGNATURE_LEN: usize = 512;
/// Longest operation: a create naming [`MAX_MEMBERS`] members with the longest
/// usernames, the longest name, an RSA-4096 identity key and signature.
pub const MAX_GROUP_OP_LEN: usize = 2
    + 16
    + 8
    + 32
    + 32
    + 1
    + (1 + Username::MAX_LEN)
    + (1 + MAX_GROUP_NAME_LEN)
    + 2
    + MAX_MEMBERS * (64 + 1 + Username::MAX_LEN)
    + (2 + MAX_SPKI_LEN)
    + (2 + MAX_SIGNATURE_LEN);

/// What an operation changes (PROTOCOL.md 27.3; the kind byte in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// [1] A new group named `name` with the actor as its admin and these members (user
    /// id, identity fingerprint as the creator pinned it, username).
    Create {
        /// The group's name.
        name: String,
        /// The creator's username (`None` only in format 1).
        creator: Option<Username>,
        /// The other first members, sorted by user id.
        members: Vec<Invitee>,
    },
    /// [2] New members, sorted by user id. Admins only.
    Add(Vec<Invitee>),
    /// [3] Members removed, sorted by user id (not the actor). Admins only; rekeys.
    Remove(Vec<UserId>),
    /// [4] The actor leaves. Anyone; rekeys.
    Leave,
    /// [5] A new name. Admins only.
    Rename(String),
    /// [6] A member becomes admin. Admins only.
    Promote(UserId),
    /// [7] An admin becomes a member (not the last admin). Admins only.
    Demote(UserId),
    /// [8] Nothing but a new key epoch, e.g. after a member's device left its device
    /// list. Admins only.
    Rekey,
}

impl Change {
    fn kind(&self) -> u8 {
        match self {
            Change::Create { .. } => 1,
            Change::Add(_) => 2,
            Change::Remove(_) => 3,
            Change::Leave => 4,
            Change::Rename(_) => 5,
            Change::Promote(_) => 6,
            Change::Demote(_) => 7,
            Change::Rekey => 8,
        }
    }

    /// The kind byte and fields in format 2: every username must be known.
    fn encode(&self, out: &mut Vec<u8>) -> GroupResult<()> {
        out.push(self.kind());
        match self {
            Change::Create {
                name,
                creator,
                members,
            } => {
                let creator = creator.as_ref().ok_or(GroupError::InvalidOperation)?;
                put_username(out, Some(creator))?;
                put_var8(out, name.as_bytes())?;
                put_invitees(out, members)?;
            }
            Change::Add(members) => put_invitees(out, members)?,
            Change::Remove(users) => put_members(out, users.iter().map(|u| (u, None)))?,
            Change::Rename(name) => put_var8(out, name.as_bytes())?,
            Change::Promote(user) | Change::Demote(user) => out.extend_from_slice(user.as_bytes()),
            Change::Leave | Change::Rekey => {}
        }
        Ok(())
    }

    /// Reads the kind byte and fields of an operation by `actor`; `format_1` without
    /// usernames.
    fn read(r: &mut Reader<'_>, actor: &UserId, format_1: bool) -> GroupResult<Self> {
        let name = |r: &mut Reader<'_>| -> GroupResult<String> {
            let raw = r.var8(MAX_GROUP_NAME_LEN)?;
            let name = core::str::from_utf8(raw).map_err(|_| GroupError::Malformed)?;
            super::state::check_name(name).map_err(|_| GroupError::Malformed)?;
            Ok(String::from(name))
        };
        Ok(match r.u8()? {
            1 => {
                let creator = match format_1 {
                    true => None,
                    false => read_username(r, actor, false)?,
                };
                let name = name(r)?;
                let members = read_invitees(r, 0, format_1)?;
                Change::Create {
                    name,
                    creator,
                    members,
                }
            }
            2 => Change::Add(read_invitees(r, 1, format_1)?),
            3 => Change::Remove(read_users(r)?),
            4 => Change::Leave,
            5 => Change::Rename(name(r)?),
            6 => Change::Promote(UserId::from_bytes(r.array()?)),
            7 => Change::Demote(UserId::from_bytes(r.array()?)),
            8 => Change::Rekey,
            _ => return Err(GroupError::Malformed),
        })
    }
}

/// `u16(n) || n × (user_id || (fingerprint || var8(username))?)`, sorted by user id, no
/// duplicates; a new member's username must be known and its own.
fn put_members<'a>(
    out: &mut Vec<u8>,
    members: impl ExactSizeIterator<Item = (&'a UserId, Option<&'a Invitee>)>,
) -> GroupResult<()> {
    if members.len() > MAX_MEMBERS {
        return Err(GroupError::TooLarge);
    }
    let n = u16::try_from(members.len()).map_err(|_| GroupError::TooLarge)?;
    out.extend_from_slice(&n.to_be_bytes());
    let mut last: Option<&UserId> = None;
    for (user, fingerprint) in members {
        if last.is_some_and(|l| l >= user) {
            return Err(GroupError::InvalidOperation);
        }
        last = Some(user);
        out.extend_from_slice(user.as_bytes());
        if let Some(m) = fingerprint {
            let username = m.username.as_ref().ok_or(GroupError::InvalidOperation)?;
            if username.user_id() != *user {
                return Err(GroupError::UsernameMismatch);
            }
            out.extend_from_slice(&m.fingerprint);
            put_username(out, Some(username))?;
        }
    }
    Ok(())
}

/// `u16(n) || n × (user_id || fingerprint || var8(username))`, sorted by user id.
fn put_invitees(out: &mut Vec<u8>, members: &[Invitee]) -> GroupResult<()> {
    put_members(out, members.iter().map(|m| (&m.user, Some(m))))
}

/// `u16(n)` (`min..=MAX_MEMBERS`), sorted by user id without duplicates.
fn read_count(r: &mut Reader<'_>, min: usize) -> GroupResult<usize> {
    let n = usize::from(r.u16()?);
    if n < min || n > MAX_MEMBERS {
        return Err(GroupError::Malformed);
    }
    Ok(n)
}

fn read_user_after(r: &mut Reader<'_>, last: Option<&UserId>) -> GroupResult<UserId> {
    let user = UserId::from_bytes(r.array()?);
    if last.is_some_and(|l| *l >= user) {
        return Err(GroupError::Malformed);
    }
    Ok(user)
}

fn read_users(r: &mut Reader<'_>) -> GroupResult<Vec<UserId>> {
    let n = read_count(r, 1)?;
    let mut out: Vec<UserId> = Vec::with_capacity(n);
    for _ in 0..n {
        let user = read_user_after(r, out.last())?;
        out.push(user);
    }
    Ok(out)
}

/// New members; in format 2 each with its username, checked against its user id.
fn read_invitees(r: &mut Reader<'_>, min: usize, format_1: bool) -> GroupResult<Vec<Invitee>> {
    let n = read_count(r, min)?;
    let mut out: Vec<Invitee> = Vec::with_capacity(n);
    for _ in 0..n {
        let user = read_user_after(r, out.last().map(|m| &m.user))?;
        let fingerprint = r.array()?;
        let username = match format_1 {
            true => None,
            false => read_username(r, &user, false)?,
        };
        out.push(Invitee {
            user,
            fingerprint,
            username,
        });
    }
    Ok(out)
}

/// A signed operation. Parsing checks structure and that the embedded identity key is
/// canonical; the signature and the rules are checked by [`super::GroupState::apply`]
/// (or [`super::GroupState::create`]) against the state it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOp {
    group_id: GroupId,
    epoch: u64,
    /// The head of the state it applies to (zero for a create); `None` in format 1.
    prior: Option<[u8; 32]>,
    actor: UserId,
    change: Change,
    actor_identity: IdentityPublicKey,
    /// The whole encoding; the signature input is `bytes[..signed_len]`.
    bytes: Vec<u8>,
    signed_len: usize,
    signature: Vec<u8>,
}

impl GroupOp {
    /// Signs `change` by `actor` (format 2) for the group state `(group_id, epoch,
    /// prior)`: the operation applies to the state of exactly that epoch whose head
    /// ([`super::GroupState::head`]) is `prior` (a create: epoch 0, prior zero).
    pub fn sign<R: CryptoRng + ?Sized>(
        rng: &mut R,
        identity: &IdentityKey,
        actor: UserId,
        group_id: GroupId,
        epoch: u64,
        prior: [u8; 32],
        change: Change,
    ) -> GroupResult<Self> {
        let actor_identity = identity.public();
        let mut bytes = Vec::with_capacity(1200);
        bytes.extend_from_slice(&OP_TAG);
        bytes.extend_from_slice(group_id.as_bytes());
        bytes.extend_from_slice(&epoch.to_be_bytes());
        bytes.extend_from_slice(&prior);
        bytes.extend_from_slice(actor.as_bytes());
        change.encode(&mut bytes)?;
        put_var16(&mut bytes, actor_identity.to_spki_der())?;
        let signed_len = bytes.len();
        if signed_len + 2 + MAX_SIGNATURE_LEN > MAX_GROUP_OP_LEN {
            return Err(GroupError::TooLarge);
        }
        let signature = identity.sign(rng, &signing_input(&bytes))?;
        put_var16(&mut bytes, &signature)?;
        Ok(Self {
            group_id,
            epoch,
            prior: Some(prior),
            actor,
            change,
            actor_identity,
            bytes,
            signed_len,
            signature,
        })
    }

    /// Parses an operation strictly (PROTOCOL.md 27.3), format 2 or 1; the signature is
    /// not checked here. A username that does not hash to its user id is
    /// [`GroupError::UsernameMismatch`].
    pub fn from_bytes(bytes: &[u8]) -> GroupResult<Self> {
        if bytes.len() > MAX_GROUP_OP_LEN {
            return Err(GroupError::Malformed);
        }
        let mut r = Reader::new(bytes);
        let format_1 = match r.array::<2>()? {
            OP_TAG => false,
            OP_TAG_V1 => true,
            _ => return Err(GroupError::Malformed),
        };
        let group_id = GroupId::from_bytes(r.array()?);
        let epoch = r.u64()?;
        let prior = match format_1 {
            true => None,
            false => Some(r.array()?),
        };
        let actor = UserId::from_bytes(r.array()?);
        let change = Change::read(&mut r, &actor, format_1)?;
        let spki = r.var16(MAX_SPKI_LEN)?;
        let actor_identity =
            IdentityPublicKey::from_spki_der(spki).map_err(|_| GroupError::Malformed)?;
        let signed_len = bytes.len() - r.remaining();
        let signature = r.var16(MAX_SIGNATURE_LEN)?.to_vec();
        r.finish()?;
        Ok(Self {
            group_id,
            epoch,
            prior,
            actor,
            change,
            actor_identity,
            bytes: bytes.to_vec(),
            signed_len,
            signature,
        })
    }

    /// The encoding, sent to every member device over the pairwise sessions.
    pub fn to_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The group.
    pub fn group_id(&self) -> &GroupId {
        &self.group_id
    }

    /// The epoch of the state this operation applies to.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The head of the state it applies to; `None` for format 1 (27.3).
    pub fn prior(&self) -> Option<&[u8; 32]> {
        self.prior.as_ref()
    }

    /// SHA-256 of the encoding: the head of the state this operation makes (27.2).
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(&self.bytes).into()
    }

    /// Who made it.
    pub fn actor(&self) -> &UserId {
        &self.actor
    }

    /// The actor's identity key, as the operation carries it.
    pub fn actor_identity(&self) -> &IdentityPublicKey {
        &self.actor_identity
    }

    /// What it changes.
    pub fn change(&self) -> &Change {
        &self.change
    }

    /// RSA-PSS by the carried identity key over `"sealpost/v2/group-op\0" || bytes
    /// before the signature's length`.
    pub(super) fn verify_signature(&self) -> GroupResult<()> {
        let signed = self
            .bytes
            .get(..self.signed_len)
            .ok_or(GroupError::Malformed)?;
        self.actor_identity
            .verify(&signing_input(signed), &self.signature)
            .map_err(|_| GroupError::BadSignature)
    }
}

fn signing_input(signed: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(OP_DOMAIN.len() + signed.len());
    input.extend_from_slice(OP_DOMAIN);
    input.extend_from_slice(signed);
    input
}
