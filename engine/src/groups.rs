//! What the engine keeps about groups (`Part::Groups`, PROTOCOL.md 27.7): each group's
//! session (state and chains) with the devices that hold this device's current chain,
//! operations and chains held until their epoch comes, pairwise payloads waiting for a
//! member's device list, group messages not yet taken by the relay everywhere, and the
//! delivery state of sent group messages.
//!
//! Everything here is persisted in one part, stored encrypted (it holds chain keys).

use alloc::string::String;
use alloc::vec::Vec;
use sealpost_core::sorted::{SortedMap, SortedSet};

use sealpost_core::padding::MAX_ENVELOPE_LEN;
use sealpost_core::v2::group::{
    GroupOp, GroupSession, GroupState, MAX_GROUP_OP_LEN, MAX_GROUP_STATE_LEN, MAX_MEMBERS, Race,
};
use sealpost_core::v2::{DeviceId, GroupId};
use sealpost_core::{Error, Result, UserId};
use zeroize::Zeroizing;

use crate::action::DepositHandle;
use crate::codec::{Codec, Reader, put_var16, put_var32};
use crate::msg_id::MsgId;
use format_1::{read_last_v1, upgrade_payload};
pub use given::GivenChain;
pub use taken::Taken;

mod format_1;
mod given;
mod taken;
mod waits;

/// Most groups a device is in.
pub const MAX_GROUPS: usize = 256;
/// Most operations and chains held for a later epoch (or an unknown group).
pub const MAX_HELD: usize = 256;
/// Most pairwise group payloads waiting for a device list (an operation to every
/// member of a full group, with room for distributions).
pub const MAX_PENDING: usize = 8192;
/// Most pairwise group payloads stored: those waiting ([`MAX_PENDING`]) and those sealed
/// for one device each and not yet taken by the relay (`unconfirmed`), which an account's
/// devices multiply. A payload is sealed only when every copy of it can be kept.
pub const MAX_KEPT_PAYLOADS: usize = 2 * MAX_PENDING;
/// Most group messages waiting for the relay.
pub const MAX_OUTGOING: usize = 64;
/// Most sent group messages whose delivery is tracked (the oldest is forgotten).
pub const MAX_SENT: usize = 256;

/// Largest stored session (27.10): the state, the own chain and 8000 received chains.
const MAX_SESSION_LEN: usize = 4 + MAX_GROUP_STATE_LEN + 200 + 8000 * (227 + 2 + 256 * 40);

/// One group this device is in, or was removed from by an operation that may still lose
/// the race of its epoch (PROTOCOL.md 27.4): that entry stays, out of the group (no
/// sending, no reading, not listed), so the operation that wins the race can bring it
/// back, until room is needed ([`Groups::make_room`]).
pub struct GroupEntry {
    /// The verified state and the chains.
    pub session: GroupSession,
    /// Member devices that were sent this device's current chain.
    pub distributed: SortedSet<(UserId, DeviceId)>,
    /// Those of them that have not confirmed it yet ([`GivenChain`]).
    pub given: Vec<GivenChain>,
    /// The last epoch passed here, to settle a concurrent operation (PROTOCOL.md 27.4).
    pub last: Option<LastStep>,
    /// The operations taken for it, to tell a late one from a copy (27.4).
    pub taken: Taken,
}

impl GroupEntry {
    /// A group just joined or created: no chain given, no last step.
    pub fn new(session: GroupSession) -> Self {
        Self {
            session,
            distributed: SortedSet::new(),
            given: Vec::new(),
            last: None,
            taken: Taken::default(),
        }
    }

    /// A new key epoch (or this account out of the group): the chain given so far is
    /// void, the next one goes to every member device again.
    pub fn chain_void(&mut self) {
        self.distributed.clear();
        self.given.clear();
    }
}

/// The last epoch a device's state of a group moved past, kept to settle operations
/// signed for it at the same time (PROTOCOL.md 27.4): the operations received for it and
/// the state before them (the state after is the one of [`Race::winner`]).
#[derive(Clone)]
pub struct LastStep {
    /// The operations for that epoch that can still win.
    pub race: Race,
    /// The operation this device signed for it, if it did: if another one wins, this
    /// device signs its change again against the state that won.
    pub own: Option<GroupOp>,
}

/// An operation or a chain that arrived before the operation it depends on, with the
/// authenticated pairwise sender (whose identity key a chain is checked against).
#[derive(Clone)]
pub struct Held {
    /// The pairwise sender.
    pub from: UserId,
    /// Its device.
    pub from_device: DeviceId,
    /// Its identity key (SPKI DER).
    pub identity: Vec<u8>,
    /// The engine payload.
    pub payload: Zeroizing<Vec<u8>>,
}

/// An engine payload for the devices of `to` (every current device when `device` is
/// `None`), waiting to be sealed in the pairwise sessions.
#[derive(Clone)]
pub struct Pending {
    /// The account.
    pub to: UserId,
    /// One device, or all of them.
    pub device: Option<DeviceId>,
    /// The engine payload.
    pub payload: Zeroizing<Vec<u8>>,
}

/// A sealed group message on its way to the relay.
#[derive(Clone)]
pub struct Outgoing {
    /// The message.
    pub msg_id: MsgId,
    /// The blob (27.6), the same for every mailbox.
    pub blob: Vec<u8>,
    /// Mailboxes that have not taken it yet.
    pub devices: SortedSet<(UserId, DeviceId)>,
}

/// A sent group message's delivery: members with a device that receipted it.
#[derive(Clone)]
pub struct Sent {
    /// The message.
    pub msg_id: MsgId,
    /// The other members when it was sent.
    pub total: usize,
    /// Those that have not receipted it yet.
    pub waiting: SortedSet<UserId>,
}

/// Everything of `Part::Groups`.
#[derive(Default)]
pub struct Groups {
    /// By group id.
    pub groups: SortedMap<GroupId, GroupEntry>,
    /// Held for a later epoch.
    pub held: Vec<Held>,
    /// Waiting for device lists.
    pub pending: Vec<Pending>,
    /// Sealed and handed to the driver, not yet taken by the relay (by deposit handle).
    /// Stored as `pending`: after a crash before the deposit (or a deposit the relay never
    /// took) they are sealed and sent again. A chain is among them, and `distributed`
    /// already names its devices: lost, those members could never open this device's
    /// messages in it. A chain that arrives twice is taken once (PROTOCOL.md 27.5).
    pub unconfirmed: Vec<(DepositHandle, Pending)>,
    /// Waiting for the relay.
    pub outgoing: Vec<Outgoing>,
    /// Delivery states, oldest first.
    pub sent: Vec<Sent>,
    /// Group messages waiting for their chain (relay blob id, when it first failed;
    /// [`waits`]), in the order they first failed.
    pub waits: Vec<(String, u64)>,
    /// Digests of group blobs that opened while others waited ([`Groups::opened`]).
    pub shown: Vec<[u8; 16]>,
}

impl Groups {
    /// The groups this device is in (not those it is out of, [`GroupEntry`]).
    pub fn live(&self) -> impl Iterator<Item = (&GroupId, &GroupEntry)> {
        self.groups.iter().filter(|(_, g)| g.session.is_member())
    }

    /// The verified states of the groups this device is in.
    pub fn states(&self) -> impl Iterator<Item = &GroupState> {
        self.live().map(|(_, g)| g.session.state())
    }

    /// Members of any group this device is in: their sessions are trusted, as an
    /// engaged contact's (an admin vouched for them; PROTOCOL.md 27.9).
    pub fn is_member_anywhere(&self, user: &UserId) -> bool {
        self.live()
            .any(|(_, g)| g.session.state().member(user).is_some())
    }

    /// Whether one more group fits: at [`MAX_GROUPS`], a group this device is out of is
    /// forgotten to make room (its race is the least likely to matter still).
    pub fn make_room(&mut self) -> bool {
        if self.groups.len() < MAX_GROUPS {
            return true;
        }
        let out = self
            .groups
            .iter()
            .find(|(_, g)| !g.session.is_member())
            .map(|(id, _)| *id);
        out.is_some_and(|id| self.groups.remove(&id).is_some())
    }

    /// How many more payloads may be queued (for a device list): within [`MAX_PENDING`]
    /// waiting and [`MAX_KEPT_PAYLOADS`] stored.
    pub fn room(&self) -> usize {
        let kept = self.pending.len() + self.unconfirmed.len();
        MAX_PENDING
            .saturating_sub(self.pending.len())
            .min(MAX_KEPT_PAYLOADS.saturating_sub(kept))
    }

    /// Records a sent message for delivery states; forgets the oldest past [`MAX_SENT`].
    pub fn track(&mut self, sent: Sent) {
        if self.sent.len() >= MAX_SENT {
            self.sent.remove(0);
        }
        self.sent.push(sent);
    }

    /// `user` receipted `ids`: the delivery states that changed, as (message,
    /// delivered, total).
    pub fn receipted(&mut self, user: &UserId, ids: &[MsgId]) -> Vec<(MsgId, usize, usize)> {
        let mut changed = Vec::new();
        for s in self.sent.iter_mut() {
            if ids.contains(&s.msg_id) && s.waiting.remove(user) {
                changed.push((s.msg_id, s.total - s.waiting.len(), s.total));
            }
        }
        changed
    }

    /// The stored encoding (secret: it holds chain keys).
    pub fn to_secret_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(Vec::new());
        put_count(&mut out, self.groups.len());
        for g in self.groups.values() {
            let session = g.session.to_secret_bytes().map_err(|_| Error::Malformed)?;
            put_var32(&mut out, &session);
            put_count(&mut out, g.distributed.len());
            for (user, device) in &g.distributed {
                user.encode(&mut out);
                device.encode(&mut out);
            }
        }
        put_count(&mut out, self.held.len());
        for h in &self.held {
            h.from.encode(&mut out);
            h.from_device.encode(&mut out);
            put_var16(&mut out, &h.identity);
            put_var32(&mut out, &h.payload);
        }
        let waiting: Vec<&Pending> = self
            .pending
            .iter()
            .chain(self.unconfirmed.iter().map(|(_, p)| p))
            .collect();
        if waiting.len() > MAX_KEPT_PAYLOADS {
            return Err(Error::TooLarge);
        }
        put_count(&mut out, waiting.len());
        for p in waiting {
            p.to.encode(&mut out);
            match p.device {
                Some(d) => {
                    out.push(1);
                    d.encode(&mut out);
                }
                None => out.push(0),
            }
            put_var32(&mut out, &p.payload);
        }
        put_count(&mut out, self.outgoing.len());
        for o in &self.outgoing {
            o.msg_id.encode(&mut out);
            put_var32(&mut out, &o.blob);
            put_count(&mut out, o.devices.len());
            for (user, device) in &o.devices {
                user.encode(&mut out);
                device.encode(&mut out);
            }
        }
        put_count(&mut out, self.sent.len());
        for s in &self.sent {
            s.msg_id.encode(&mut out);
            put_count(&mut out, s.total);
            put_count(&mut out, s.waiting.len());
            for user in &s.waiting {
                user.encode(&mut out);
            }
        }
        // Last steps: a trailing part (stores written before it have none).
        let last: Vec<&LastStep> = self
            .groups
            .values()
            .filter_map(|g| g.last.as_ref())
            .collect();
        put_count(&mut out, last.len());
        for l in last {
            let before = l.race.before().to_bytes().map_err(|_| Error::Malformed)?;
            put_var32(&mut out, &before);
            put_count(&mut out, l.race.ops().len());
            for op in l.race.ops() {
                put_var32(&mut out, op.to_bytes());
            }
            match &l.own {
                Some(op) => {
                    out.push(1);
                    put_var32(&mut out, op.to_bytes());
                }
                None => out.push(0),
            }
        }
        // Chains given and not confirmed: a second trailing part.
        self.put_given(&mut out);
        // Operations taken: a third trailing part (stores written before it have none),
        // one entry per group, in the order of the sessions above.
        put_count(&mut out, self.groups.len());
        for g in self.groups.values() {
            g.taken.encode(&mut out);
        }
        // Group messages waiting for their chain: a fourth trailing part.
        self.put_waits(&mut out);
        // Operations taken and forgotten, by digest: a fifth trailing part, one entry per
        // group as the third; then the blobs shown while others waited: a sixth.
        put_count(&mut out, self.groups.len());
        for g in self.groups.values() {
            g.taken.encode_old(&mut out);
        }
        self.put_shown(&mut out);
        Ok(out)
    }

    /// Parses [`Groups::to_secret_bytes`]; anything else is [`Error::Malformed`].
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        let mut groups = Self::default();
        for _ in 0..r.count16(MAX_GROUPS, 4)? {
            let session = GroupSession::from_secret_bytes(r.var32(MAX_SESSION_LEN)?)
                .map_err(|_| Error::Malformed)?;
            let mut distributed = SortedSet::new();
            for _ in 0..r.count16(usize::from(u16::MAX), 48)? {
                distributed.insert((UserId::read(&mut r)?, DeviceId::read(&mut r)?));
            }
            let id = *session.state().id();
            let mut entry = GroupEntry::new(session);
            entry.distributed = distributed;
            groups.groups.insert(id, entry);
        }
        for _ in 0..r.count16(MAX_HELD, 54)? {
            groups.held.push(Held {
                from: UserId::read(&mut r)?,
                from_device: DeviceId::read(&mut r)?,
                identity: r.var16(2048)?.to_vec(),
                payload: upgrade_payload(r.var32(MAX_HELD_PAYLOAD)?),
            });
        }
        for _ in 0..r.count16(MAX_KEPT_PAYLOADS, 37)? {
            let to = UserId::read(&mut r)?;
            let device = match r.bool()? {
                true => Some(DeviceId::read(&mut r)?),
                false => None,
            };
            let payload = upgrade_payload(r.var32(MAX_HELD_PAYLOAD)?);
            groups.pending.push(Pending {
                to,
                device,
                payload,
            });
        }
        for _ in 0..r.count16(MAX_OUTGOING, 24)? {
            let msg_id = MsgId::read(&mut r)?;
            let blob = r.var32(MAX_ENVELOPE_LEN)?.to_vec();
            let mut devices = SortedSet::new();
            for _ in 0..r.count16(usize::from(u16::MAX), 48)? {
                devices.insert((UserId::read(&mut r)?, DeviceId::read(&mut r)?));
            }
            groups.outgoing.push(Outgoing {
                msg_id,
                blob,
                devices,
            });
        }
        for _ in 0..r.count16(MAX_SENT, 20)? {
            let msg_id = MsgId::read(&mut r)?;
            let total = usize::from(r.u16()?);
            let mut waiting = SortedSet::new();
            for _ in 0..r.count16(total, 32)? {
                waiting.insert(UserId::read(&mut r)?);
            }
            groups.sent.push(Sent {
                msg_id,
                total,
                waiting,
            });
        }
        if !r.is_empty() {
            for _ in 0..r.count16(MAX_GROUPS, 11)? {
                let before = r.var32(MAX_GROUP_STATE_LEN)?;
                let (race, own) = match GroupState::is_format_1(before) {
                    true => read_last_v1(before, &mut r)?,
                    false => read_last(before, &mut r)?,
                };
                let group = *race.before().id();
                let entry = groups.groups.get_mut(&group).ok_or(Error::Malformed)?;
                entry.last = Some(LastStep { race, own });
            }
        }
        match r.is_empty() {
            true => groups.given_before_kept(),
            false => groups.read_given(&mut r)?,
        }
        if !r.is_empty() {
            if r.count16(MAX_GROUPS, 3)? != groups.groups.len() {
                return Err(Error::Malformed);
            }
            for entry in groups.groups.values_mut() {
                entry.taken = Taken::read(&mut r)?;
            }
        }
        if !r.is_empty() {
            groups.read_waits(&mut r)?;
        }
        if !r.is_empty() {
            if r.count16(MAX_GROUPS, 2)? != groups.groups.len() {
                return Err(Error::Malformed);
            }
            for entry in groups.groups.values_mut() {
                entry.taken.read_old(&mut r)?;
            }
            groups.read_shown(&mut r)?;
        }
        r.finish()?;
        Ok(groups)
    }
}

pub(crate) fn read_op(r: &mut Reader<'_>) -> Result<GroupOp> {
    GroupOp::from_bytes(r.var32(MAX_GROUP_OP_LEN)?).map_err(|_| Error::Malformed)
}

/// A last step after the state `before` (format 3, or 2 read as a legacy state): the
/// race's operations, then the own one if any.
fn read_last(before: &[u8], r: &mut Reader<'_>) -> Result<(Race, Option<GroupOp>)> {
    let before = GroupState::from_stored_bytes(before).map_err(|_| Error::Malformed)?;
    // At most one per admin and one leave (Race); checked again as entered.
    let n = r.count16(MAX_MEMBERS + 1, 4)?;
    let ops: Vec<GroupOp> = (0..n).map(|_| read_op(r)).collect::<Result<_>>()?;
    let mut ops = ops.into_iter();
    let first = ops.next().ok_or(Error::Malformed)?;
    let mut race = Race::new(before, first).map_err(|_| Error::Malformed)?;
    for op in ops {
        race.enter(op).map_err(|_| Error::Malformed)?;
    }
    let own = match r.bool()? {
        true => Some(read_op(r)?),
        false => None,
    };
    Ok((race, own))
}

/// Largest pairwise group payload: an operation with the state before it.
const MAX_HELD_PAYLOAD: usize = 16 + MAX_GROUP_OP_LEN + MAX_GROUP_STATE_LEN;

/// A `u16` count (every count here is bounded far below it).
fn put_count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
}
