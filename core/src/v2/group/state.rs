//! The group state (PROTOCOL.md 27.2) and the rules every member applies to an operation
//! (27.4). The state changes only through [`GroupState::apply`], which checks the
//! operation against the state it was signed for, so every member that applies the same
//! operations holds the same state. It records when each admin became one, the seniority
//! that settles two admins' concurrent operations (27.4, [`super::Race`]): a fact of the
//! agreed history that no signer can choose. It carries each member's username (checked
//! against its user id, [`super::names`]) so members show one another by name, and its
//! **head**, the hash of the operation that made it, which every operation names as its
//! `prior`: two states of one epoch (members who applied different operations) are told
//! apart, and an operation made on the other one is refused as [`GroupError::Forked`].

use crate::sorted::SortedMap;
use alloc::string::String;
use alloc::vec::Vec;

use sha2::{Digest, Sha256};

use super::error::{GroupError, GroupResult};
use super::names::{Invitee, put_username, read_username};
use super::op::{Change, GroupOp};
use super::{MAX_GROUP_NAME_LEN, MAX_MEMBERS};
use crate::username::{UserId, Username};
use crate::v2::attachment::is_bidi_control;
use crate::v2::ids::GroupId;
use crate::wire::{Reader, put_var8};

/// Format 3: the head and each member's username.
const STATE_TAG: [u8; 2] = [b'G', 3];
/// Format 2 (before the head and the usernames): each member's `admin_since`. Read as a
/// legacy state (no head, no usernames).
const STATE_TAG_V2: [u8; 2] = [b'G', 2];
/// Format 1 (before commit bc62016): read only from a device's own store
/// ([`GroupState::from_stored_bytes`]), never from another device.
const STATE_TAG_V1: [u8; 2] = [b'G', 1];
/// What a legacy state's head hashes with its format-2 encoding.
const LEGACY_HEAD_DOMAIN: &[u8] = b"sealpost/v2/group-legacy-head\0";
/// Longest state encoding: every member with its fingerprint, `admin_since` and username.
pub const MAX_GROUP_STATE_LEN: usize =
    2 + 16 + 8 + 8 + 33 + 1 + MAX_GROUP_NAME_LEN + 2 + MAX_MEMBERS * (72 + 1 + Username::MAX_LEN);

/// One member: the fingerprint (SHA-256 of the identity spki, PROTOCOL.md 7) that the
/// member's operations must be signed with, since when it is an admin, and its
/// username. Its devices are those of its current device list under that identity key
/// (27.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// SHA-256 of the member's identity spki.
    pub fingerprint: [u8; 32],
    /// 0: not an admin. Otherwise the epoch of the first state in which it was an admin
    /// this time (1 for the creator): no two admins share one, and the smaller is the
    /// more senior (27.4).
    pub admin_since: u64,
    /// Its username (hashes to its user id). `None` for a member added by a format-1
    /// operation, or before the state carried usernames.
    pub username: Option<Username>,
}

impl Member {
    /// May add, remove, rename, promote, demote and rekey.
    pub fn is_admin(&self) -> bool {
        self.admin_since != 0
    }
}

/// A group as every member holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupState {
    id: GroupId,
    epoch: u64,
    key_epoch: u64,
    name: String,
    members: SortedMap<UserId, Member>,
    /// SHA-256 of the operation that made this state; `None` for a legacy state (made
    /// only by format-1 operations, or stored before format 3), whose head is computed
    /// ([`GroupState::head`]).
    head: Option<[u8; 32]>,
}

/// 1 to 128 bytes of UTF-8 without control or bidirectional formatting characters, so
/// a name cannot hide what it says (PROTOCOL.md 27.2).
pub(super) fn check_name(name: &str) -> GroupResult<()> {
    if name.is_empty()
        || name.len() > MAX_GROUP_NAME_LEN
        || name.chars().any(|c| c.is_control() || is_bidi_control(c))
    {
        return Err(GroupError::InvalidOperation);
    }
    Ok(())
}

impl GroupState {
    /// The group's id.
    pub fn id(&self) -> &GroupId {
        &self.id
    }

    /// How many operations made this state (create is the first).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The epoch of the last operation that removed someone (or rekeyed, or created the
    /// group): chains made before it are refused (27.6).
    pub fn key_epoch(&self) -> u64 {
        self.key_epoch
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value operations on this state carry as their `prior` (PROTOCOL.md 27.2):
    /// SHA-256 of the operation that made it, or for a legacy state SHA-256 of
    /// `"sealpost/v2/group-legacy-head\0"` and its format-2 encoding (what every member at
    /// that epoch holds alike).
    pub fn head(&self) -> GroupResult<[u8; 32]> {
        match self.head {
            Some(head) => Ok(head),
            None => {
                let mut h = Sha256::new();
                h.update(LEGACY_HEAD_DOMAIN);
                h.update(self.encode(STATE_TAG_V2)?);
                Ok(h.finalize().into())
            }
        }
    }

    /// Whether no format-2 operation made this state (27.4: only such a state takes a
    /// format-1 operation).
    pub fn is_legacy(&self) -> bool {
        self.head.is_none()
    }

    /// The members by user id, in user id order.
    pub fn members(&self) -> &SortedMap<UserId, Member> {
        &self.members
    }

    /// The member `user`, if it is one.
    pub fn member(&self, user: &UserId) -> Option<&Member> {
        self.members.get(user)
    }

    /// Whether `user` is an admin.
    pub fn is_admin(&self, user: &UserId) -> bool {
        self.members.get(user).is_some_and(Member::is_admin)
    }

    /// The state a verified create operation makes (PROTOCOL.md 27.4): epoch 1, the
    /// creator the only admin (since epoch 1).
    pub fn create(op: &GroupOp) -> GroupResult<Self> {
        let Change::Create {
            name,
            creator,
            members,
        } = op.change()
        else {
            return Err(GroupError::InvalidOperation);
        };
        if op.epoch() != 0 || op.prior().is_some_and(|p| *p != [0; 32]) {
            return Err(GroupError::InvalidOperation);
        }
        op.verify_signature()?;
        check_name(name)?;
        let mut state = Self {
            id: *op.group_id(),
            epoch: 1,
            key_epoch: 1,
            name: name.clone(),
            members: SortedMap::new(),
            head: op.prior().map(|_| op.digest()),
        };
        state.members.insert(
            *op.actor(),
            Member {
                fingerprint: op.actor_identity().fingerprint(),
                admin_since: 1,
                username: creator.clone(),
            },
        );
        state.add(members)?;
        Ok(state)
    }

    /// The state after `op`, checked against this state (PROTOCOL.md 27.4): same group,
    /// `op.epoch == epoch`, the actor a member signing with its pinned identity key, the
    /// signature, then the operation's own rule. This state is unchanged on error.
    pub fn apply(&self, op: &GroupOp) -> GroupResult<Self> {
        if op.group_id() != &self.id {
            return Err(GroupError::WrongGroup);
        }
        if op.epoch() < self.epoch {
            return Err(GroupError::OldEpoch);
        }
        if op.epoch() > self.epoch {
            return Err(GroupError::EpochAhead);
        }
        let actor = self.check_actor(op)?;
        let admin_only = !matches!(op.change(), Change::Leave);
        if admin_only && !actor.is_admin() {
            return Err(GroupError::NotAdmin);
        }
        // Made on this state, and in the format this state takes (27.4 step 6).
        match op.prior() {
            None if !self.is_legacy() => return Err(GroupError::OldFormat),
            Some(prior) if *prior != self.head()? => return Err(GroupError::Forked),
            _ => {}
        }
        let mut next = self.clone();
        next.head = op.prior().map(|_| op.digest());
        next.epoch = self
            .epoch
            .checked_add(1)
            .ok_or(GroupError::InvalidOperation)?;
        match op.change() {
            Change::Create { .. } => return Err(GroupError::InvalidOperation),
            Change::Add(members) => next.add(members)?,
            Change::Remove(users) => {
                for user in users {
                    if user == op.actor() || next.members.remove(user).is_none() {
                        return Err(GroupError::InvalidOperation);
                    }
                }
                next.key_epoch = next.epoch;
            }
            Change::Leave => {
                next.members.remove(op.actor());
                next.key_epoch = next.epoch;
            }
            Change::Rename(name) => {
                check_name(name)?;
                next.name = name.clone();
            }
            Change::Promote(user) => match next.members.get_mut(user) {
                Some(m) if !m.is_admin() => m.admin_since = next.epoch,
                _ => return Err(GroupError::InvalidOperation),
            },
            Change::Demote(user) => {
                match next.members.get_mut(user) {
                    Some(m) if m.is_admin() => m.admin_since = 0,
                    _ => return Err(GroupError::InvalidOperation),
                }
                if !next.members.values().any(Member::is_admin) {
                    return Err(GroupError::InvalidOperation);
                }
            }
            Change::Rekey => next.key_epoch = next.epoch,
        }
        next.keep_an_admin();
        Ok(next)
    }

    /// That `op`'s actor is a member signing with its pinned identity key, and the
    /// signature (27.4 steps 3 and 4): its member entry.
    pub fn check_actor(&self, op: &GroupOp) -> GroupResult<&Member> {
        let actor = self.members.get(op.actor()).ok_or(GroupError::NotMember)?;
        if actor.fingerprint != op.actor_identity().fingerprint() {
            return Err(GroupError::NotMember);
        }
        op.verify_signature()?;
        Ok(actor)
    }

    /// Adds new members (none already in, at most [`MAX_MEMBERS`] in all).
    fn add(&mut self, members: &[Invitee]) -> GroupResult<()> {
        for m in members {
            if self.members.contains_key(&m.user) {
                return Err(GroupError::InvalidOperation);
            }
            self.members.insert(
                m.user,
                Member {
                    fingerprint: m.fingerprint,
                    admin_since: 0,
                    username: m.username.clone(),
                },
            );
        }
        if self.members.len() > MAX_MEMBERS {
            return Err(GroupError::TooLarge);
        }
        Ok(())
    }

    /// Anyone may leave, the last admin too: then the remaining member with the smallest
    /// user id becomes admin (since this epoch), so a group never ends up without one.
    fn keep_an_admin(&mut self) {
        if !self.members.values().any(Member::is_admin)
            && let Some(first) = self.members.values_mut().next()
        {
            first.admin_since = self.epoch;
        }
    }

    /// The encoding (PROTOCOL.md 27.2): what a device stores and what an admin sends a
    /// new member with the add operation (27.7).
    pub fn to_bytes(&self) -> GroupResult<Vec<u8>> {
        self.encode(STATE_TAG)
    }

    /// Format 3, or format 2 (a legacy state's head) without the head and usernames.
    fn encode(&self, tag: [u8; 2]) -> GroupResult<Vec<u8>> {
        let v3 = tag == STATE_TAG;
        let mut out = Vec::with_capacity(100 + 105 * self.members.len());
        out.extend_from_slice(&tag);
        out.extend_from_slice(self.id.as_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&self.key_epoch.to_be_bytes());
        if v3 {
            match &self.head {
                None => out.push(0),
                Some(head) => {
                    out.push(1);
                    out.extend_from_slice(head);
                }
            }
        }
        put_var8(&mut out, self.name.as_bytes())?;
        let n = u16::try_from(self.members.len()).map_err(|_| GroupError::TooLarge)?;
        out.extend_from_slice(&n.to_be_bytes());
        for (user, m) in &self.members {
            out.extend_from_slice(user.as_bytes());
            out.extend_from_slice(&m.fingerprint);
            out.extend_from_slice(&m.admin_since.to_be_bytes());
            if v3 {
                put_username(&mut out, m.username.as_ref())?;
            }
        }
        Ok(out)
    }

    /// Parses a state strictly: members sorted by user id without duplicates, at most
    /// [`MAX_MEMBERS`], a valid name, `1 <= key_epoch <= epoch`, an admin among the
    /// members, each admin's `admin_since` at most `epoch` and no two the same (so
    /// seniority is a strict order), each username a normalized one, none in a legacy
    /// state; anything else is [`GroupError::Malformed`]. A username that does not hash
    /// to its member's user id is [`GroupError::UsernameMismatch`]. Format 2 (a device
    /// that has not updated) is read as a legacy state; format 1 is `MALFORMED`.
    pub fn from_bytes(bytes: &[u8]) -> GroupResult<Self> {
        Self::parse(bytes, false)
    }

    /// Whether `bytes` are a state in format 1 (what a device stored before format 2).
    pub fn is_format_1(bytes: &[u8]) -> bool {
        bytes.starts_with(&STATE_TAG_V1)
    }

    /// Parses a state this device stored: formats 3 and 2 as [`Self::from_bytes`], or
    /// format 1 upgraded (PROTOCOL.md 27.2 "Format 1"): each admin's `admin_since` becomes its
    /// rank by user id among the admins (1, 2, …), a function of the state alone, so
    /// every member holding that state upgrades it alike. Never for a state from another
    /// device: those are format 2 only.
    pub fn from_stored_bytes(bytes: &[u8]) -> GroupResult<Self> {
        Self::parse(bytes, Self::is_format_1(bytes))
    }

    fn parse(bytes: &[u8], format_1: bool) -> GroupResult<Self> {
        if bytes.len() > MAX_GROUP_STATE_LEN {
            return Err(GroupError::Malformed);
        }
        let mut r = Reader::new(bytes);
        let v3 = match r.array::<2>()? {
            STATE_TAG => true,
            STATE_TAG_V2 if !format_1 => false,
            STATE_TAG_V1 if format_1 => false,
            _ => return Err(GroupError::Malformed),
        };
        let id = GroupId::from_bytes(r.array()?);
        let epoch = r.u64()?;
        let key_epoch = r.u64()?;
        let head = match v3 {
            false => None,
            true => match r.u8()? {
                0 => None,
                1 => Some(r.array()?),
                _ => return Err(GroupError::Malformed),
            },
        };
        let name =
            core::str::from_utf8(r.var8(MAX_GROUP_NAME_LEN)?).map_err(|_| GroupError::Malformed)?;
        check_name(name).map_err(|_| GroupError::Malformed)?;
        let n = usize::from(r.u16()?);
        if key_epoch == 0 || key_epoch > epoch || n > MAX_MEMBERS {
            return Err(GroupError::Malformed);
        }
        let mut members = SortedMap::new();
        let mut last: Option<UserId> = None;
        for _ in 0..n {
            let user = UserId::from_bytes(r.array()?);
            if last.is_some_and(|l| l >= user) {
                return Err(GroupError::Malformed);
            }
            last = Some(user);
            let fingerprint = r.array()?;
            let admin_since = match format_1 {
                false => r.u64()?,
                // The admin flag; ranked below, once every member is read.
                true => match r.u8()? {
                    0 => 0,
                    1 => u64::MAX,
                    _ => return Err(GroupError::Malformed),
                },
            };
            if admin_since > epoch && !format_1 {
                return Err(GroupError::Malformed);
            }
            let username = match v3 {
                true => read_username(&mut r, &user, true)?,
                false => None,
            };
            // A legacy state never had usernames (27.2).
            if username.is_some() && head.is_none() {
                return Err(GroupError::Malformed);
            }
            members.insert(
                user,
                Member {
                    fingerprint,
                    admin_since,
                    username,
                },
            );
        }
        r.finish()?;
        if format_1 {
            // Admins in user id order get 1, 2, …: at most `epoch` of them (create makes
            // one, every later operation at most one more), checked below all the same.
            let mut rank = 0;
            for m in members.values_mut().filter(|m| m.is_admin()) {
                rank += 1;
                m.admin_since = rank;
            }
            if rank > epoch {
                return Err(GroupError::Malformed);
            }
        }
        // At least one admin, and no two admins since the same epoch: seniority is a
        // strict order (27.4). Quadratic, but without a sort in the wasm module.
        let since: Vec<u64> = members
            .values()
            .filter(|m| m.is_admin())
            .map(|m| m.admin_since)
            .collect();
        let repeated = since
            .iter()
            .enumerate()
            .any(|(i, a)| since.iter().skip(i + 1).any(|b| a == b));
        if (n > 0 && since.is_empty()) || repeated {
            return Err(GroupError::Malformed);
        }
        Ok(Self {
            id,
            epoch,
            key_epoch,
            name: String::from(name),
            members,
            head,
        })
    }
}
