//! Group operations (PROTOCOL.md 27.3): create, add, remove, leave, rename, promote,
//! demote and rekey, each signed with RSA-PSS by the actor's identity key over the group,
//! the epoch it applies to and the change, so that no one but the actor can make it and
//! it applies to one state only. Operations are rare, so the RSA cost does not matter.

use alloc::string::String;
use alloc::vec::Vec;

use rand_core::CryptoRng;

use super::error::{GroupError, GroupResult};
use super::{MAX_GROUP_NAME_LEN, MAX_MEMBERS};
use crate::keys::{IdentityKey, IdentityPublicKey, MAX_SPKI_LEN};
use crate::username::UserId;
use crate::v2::ids::GroupId;
use crate::wire::{Reader, put_var8, put_var16};

const OP_TAG: [u8; 2] = [b'O', 1];
const OP_DOMAIN: &[u8] = b"sealpost/v2/group-op\0";
const MAX_SIGNATURE_LEN: usize = 512;
/// Longest operation: a create or add naming [`MAX_MEMBERS`] members, the longest name,
/// an RSA-4096 identity key and signature.
pub const MAX_GROUP_OP_LEN: usize = 2
    + 16
    + 8
    + 32
    + 1
    + (1 + MAX_GROUP_NAME_LEN)
    + 2
    + MAX_MEMBERS * 64
    + (2 + MAX_SPKI_LEN)
    + (2 + MAX_SIGNATURE_LEN);

/// What an operation changes (PROTOCOL.md 27.3; the kind byte in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// [1] A new group named `name` with the actor as its admin and these members (user
    /// id and identity fingerprint, as the creator pinned them).
    Create {
        /// The group's name.
        name: String,
        /// The other first members, sorted by user id.
        members: Vec<(UserId, [u8; 32])>,
    },
    /// [2] New members (user id, identity fingerprint), sorted by user id. Admins only.
    Add(Vec<(UserId, [u8; 32])>),
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

    fn encode(&self, out: &mut Vec<u8>) -> GroupResult<()> {
        out.push(self.kind());
        match self {
            Change::Create { name, members } => {
                put_var8(out, name.as_bytes())?;
                put_members(out, members.iter().map(|(u, f)| (u, Some(f))))?;
            }
            Change::Add(members) => put_members(out, members.iter().map(|(u, f)| (u, Some(f))))?,
            Change::Remove(users) => put_members(out, users.iter().map(|u| (u, None)))?,
            Change::Rename(name) => put_var8(out, name.as_bytes())?,
            Change::Promote(user) | Change::Demote(user) => out.extend_from_slice(user.as_bytes()),
            Change::Leave | Change::Rekey => {}
        }
        Ok(())
    }

    fn read(r: &mut Reader<'_>) -> GroupResult<Self> {
        let name = |r: &mut Reader<'_>| -> GroupResult<String> {
            let raw = r.var8(MAX_GROUP_NAME_LEN)?;
            let name = core::str::from_utf8(raw).map_err(|_| GroupError::Malformed)?;
            super::state::check_name(name).map_err(|_| GroupError::Malformed)?;
            Ok(String::from(name))
        };
        Ok(match r.u8()? {
            1 => {
                let name = name(r)?;
                let members = read_members(r, 0, true)?;
                Change::Create { name, members }
            }
            2 => Change::Add(read_members(r, 1, true)?),
            3 => Change::Remove(
                read_members(r, 1, false)?
                    .into_iter()
                    .map(|(u, _)| u)
                    .collect(),
            ),
            4 => Change::Leave,
            5 => Change::Rename(name(r)?),
            6 => Change::Promote(UserId::from_bytes(r.array()?)),
            7 => Change::Demote(UserId::from_bytes(r.array()?)),
            8 => Change::Rekey,
            _ => return Err(GroupError::Malformed),
        })
    }
}

/// `u16(n) || n × (user_id || fingerprint?)`, sorted by user id, no duplicates.
fn put_members<'a>(
    out: &mut Vec<u8>,
    members: impl ExactSizeIterator<Item = (&'a UserId, Option<&'a [u8; 32]>)>,
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
        if let Some(f) = fingerprint {
            out.extend_from_slice(f);
        }
    }
    Ok(())
}

fn read_members(
    r: &mut Reader<'_>,
    min: usize,
    with_fingerprint: bool,
) -> GroupResult<Vec<(UserId, [u8; 32])>> {
    let n = usize::from(r.u16()?);
    if n < min || n > MAX_MEMBERS {
        return Err(GroupError::Malformed);
    }
    let mut out: Vec<(UserId, [u8; 32])> = Vec::with_capacity(n);
    for _ in 0..n {
        let user = UserId::from_bytes(r.array()?);
        if out.last().is_some_and(|(l, _)| *l >= user) {
            return Err(GroupError::Malformed);
        }
        let fingerprint = if with_fingerprint {
            r.array()?
        } else {
            [0; 32]
        };
        out.push((user, fingerprint));
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
    actor: UserId,
    change: Change,
    actor_identity: IdentityPublicKey,
    /// The whole encoding; the signature input is `bytes[..signed_len]`.
    bytes: Vec<u8>,
    signed_len: usize,
    signature: Vec<u8>,
}

impl GroupOp {
    /// Signs `change` by `actor` for the group state `(group_id, epoch)`: the operation
    /// applies to a state at exactly that epoch (0 for a create).
    pub fn sign<R: CryptoRng + ?Sized>(
        rng: &mut R,
        identity: &IdentityKey,
        actor: UserId,
        group_id: GroupId,
        epoch: u64,
        change: Change,
    ) -> GroupResult<Self> {
        let actor_identity = identity.public();
        let mut bytes = Vec::with_capacity(1200);
        bytes.extend_from_slice(&OP_TAG);
        bytes.extend_from_slice(group_id.as_bytes());
        bytes.extend_from_slice(&epoch.to_be_bytes());
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
            actor,
            change,
            actor_identity,
            bytes,
            signed_len,
            signature,
        })
    }

    /// Parses an operation strictly (PROTOCOL.md 27.3); the signature is not checked here.
    pub fn from_bytes(bytes: &[u8]) -> GroupResult<Self> {
        if bytes.len() > MAX_GROUP_OP_LEN {
            return Err(GroupError::Malformed);
        }
        let mut r = Reader::new(bytes);
        if r.array::<2>()? != OP_TAG {
            return Err(GroupError::Malformed);
        }
        let group_id = GroupId::from_bytes(r.array()?);
        let epoch = r.u64()?;
        let actor = UserId::from_bytes(r.array()?);
        let change = Change::read(&mut r)?;
        let spki = r.var16(MAX_SPKI_LEN)?;
        let actor_identity =
            IdentityPublicKey::from_spki_der(spki).map_err(|_| GroupError::Malformed)?;
        let signed_len = bytes.len() - r.remaining();
        let signature = r.var16(MAX_SIGNATURE_LEN)?.to_vec();
        r.finish()?;
        Ok(Self {
            group_id,
            epoch,
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
