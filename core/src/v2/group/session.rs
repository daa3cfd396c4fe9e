//! One device's view of one group (PROTOCOL.md 27.7, 27.8): the verified state, its own
//! sending chain and the chains of the other member devices. Operations, distributions
//! and messages are checked here against the state; the engine authenticates where they
//! came from (the pairwise session that carried an operation or distribution) and checks
//! a sender device against its member's device list (18.1).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::error::{GroupError, GroupResult};
use super::message::{Framed, Header, frame};
use super::names::Invitee;
use super::op::{Change, GroupOp};
use super::sender_key::{ReceivingChain, SenderKeyDistribution, SendingChain};
use super::state::GroupState;
use crate::keys::{IdentityKey, IdentityPublicKey};
use crate::primitives::Key;
use crate::username::{UserId, Username};
use crate::v2::MAX_DEVICES;
use crate::v2::ids::{ChainId, DeviceId, GroupId};
use crate::v2::session::{apply_recv, recv_key};
use crate::v2::store::check_window;

/// A message that opened: who sent it (authenticated by the chain's signature), where
/// in the chain, and the payload.
#[derive(Clone, PartialEq, Eq)]
pub struct GroupMessage {
    /// The sending member.
    pub sender: UserId,
    /// The sending device.
    pub sender_device: DeviceId,
    /// The chain it came in.
    pub chain_id: ChainId,
    /// The chain's epoch.
    pub epoch: u64,
    /// Its position in the chain.
    pub counter: u64,
    /// The sender's clock.
    pub sent_at: u64,
    /// The content (an engine payload).
    pub payload: Zeroizing<Vec<u8>>,
    /// Counters of this chain skipped by this message (possibly missing, 18.6).
    pub skipped: Vec<u64>,
}

impl fmt::Debug for GroupMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupMessage")
            .field("sender", &self.sender)
            .field("sender_device", &self.sender_device)
            .field("epoch", &self.epoch)
            .field("counter", &self.counter)
            .field("payload_len", &self.payload.len())
            .finish_non_exhaustive()
    }
}

/// What applying an operation changed for this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The key epoch moved: every chain was dropped. If this device is still a member it
    /// must send a fresh [`GroupSession::sender_key`] to every member device.
    pub rekeyed: bool,
    /// This device's user is no longer a member: nothing more can be sent or read.
    pub removed: bool,
}

/// A chain dropped by the last rekey: only its header key and sender are kept, so a
/// message in it is refused with a reason instead of as undecryptable.
pub(super) struct RetiredChain {
    pub(super) header_key: Key,
    pub(super) sender: UserId,
}

/// One device's state of one group.
pub struct GroupSession {
    pub(super) state: GroupState,
    pub(super) user: UserId,
    pub(super) device: DeviceId,
    pub(super) own: Option<SendingChain>,
    pub(super) chains: Vec<ReceivingChain>,
    pub(super) retired: Vec<RetiredChain>,
}

impl fmt::Debug for GroupSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupSession")
            .field("group", self.state.id())
            .field("epoch", &self.state.epoch())
            .field("members", &self.state.members().len())
            .field("chains", &self.chains.len())
            .finish_non_exhaustive()
    }
}

impl GroupSession {
    /// Creates a group with a random id as `creator`: returns the session and the create
    /// operation to send to every device of every member (and the own other devices).
    pub fn create<R: CryptoRng + ?Sized>(
        rng: &mut R,
        identity: &IdentityKey,
        creator: &Username,
        device: DeviceId,
        name: &str,
        mut members: Vec<Invitee>,
    ) -> GroupResult<(Self, GroupOp)> {
        crate::sort::sort_by_key(&mut members, |m| m.user);
        let user = creator.user_id();
        let change = Change::Create {
            name: String::from(name),
            creator: Some(creator.clone()),
            members,
        };
        let id = GroupId::generate(rng);
        let op = GroupOp::sign(rng, identity, user, id, 0, [0; 32], change)?;
        let state = GroupState::create(&op)?;
        Ok((Self::join(state, user, device)?, op))
    }

    /// This device's session from a verified state: from a create operation
    /// ([`GroupState::create`]), or the state an admin sent with the add operation that
    /// added this user (27.7). The user must be a member.
    pub fn join(state: GroupState, user: UserId, device: DeviceId) -> GroupResult<Self> {
        if state.member(&user).is_none() {
            return Err(GroupError::NotMember);
        }
        Ok(Self::restore(state, user, device, None))
    }

    /// A session without received chains (join, and loading, 27.10).
    pub(super) fn restore(
        state: GroupState,
        user: UserId,
        device: DeviceId,
        own: Option<SendingChain>,
    ) -> Self {
        Self {
            state,
            user,
            device,
            own,
            chains: Vec::new(),
            retired: Vec::new(),
        }
    }

    /// A stored received chain, under the rules [`Self::add_chain`] keeps: a member's,
    /// within the key epoch, one per device, at most eight per member.
    pub(super) fn restore_chain(
        &mut self,
        d: &SenderKeyDistribution,
        skipped: Vec<(u64, Key)>,
    ) -> GroupResult<()> {
        let ok = d.group_id == *self.state.id()
            && self.state.member(&d.sender).is_some()
            && d.epoch >= self.state.key_epoch()
            && d.epoch <= self.state.epoch()
            && !self
                .chains
                .iter()
                .any(|c| c.sender == d.sender && c.sender_device == d.sender_device)
            && self.chains.iter().filter(|c| c.sender == d.sender).count() < MAX_DEVICES;
        if !ok {
            return Err(GroupError::Malformed);
        }
        let mut chain = ReceivingChain::from_distribution(d)?;
        chain.skipped = skipped;
        self.chains.push(chain);
        Ok(())
    }

    /// The verified state.
    pub fn state(&self) -> &GroupState {
        &self.state
    }

    /// Whether this device's user is a member of the state. A device removed by an
    /// operation that may still lose a race (PROTOCOL.md 27.4) keeps its session, out,
    /// until the race is settled.
    pub fn is_member(&self) -> bool {
        self.state.member(&self.user).is_some()
    }

    /// Signs `change` as this device's user at the current epoch and applies it here:
    /// returns the operation to send to every member device (for an add, the new
    /// members also get the state before it, [`GroupState::to_bytes`]).
    pub fn propose<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        identity: &IdentityKey,
        change: Change,
    ) -> GroupResult<(GroupOp, Applied)> {
        let op = GroupOp::sign(
            rng,
            identity,
            self.user,
            *self.state.id(),
            self.state.epoch(),
            self.state.head()?,
            change,
        )?;
        let applied = self.apply(&op)?;
        Ok((op, applied))
    }

    /// Applies an operation from a member (PROTOCOL.md 27.4). A rekey drops every chain,
    /// the own one too; a member who left or was removed loses everything.
    pub fn apply(&mut self, op: &GroupOp) -> GroupResult<Applied> {
        let next = self.state.apply(op)?;
        let rekeyed = next.key_epoch() != self.state.key_epoch();
        let removed = next.member(&self.user).is_none();
        if rekeyed || removed {
            self.own = None;
            self.retired = self
                .chains
                .drain(..)
                .map(|c| RetiredChain {
                    header_key: c.chain.header_key,
                    sender: c.sender,
                })
                .collect();
        }
        self.state = next;
        Ok(Applied { rekeyed, removed })
    }

    /// This device's sending chain as a distribution for every other member device (sent
    /// over the pairwise sessions), made now if there is none for the current key epoch.
    /// It carries the chain at its current position: a member who receives it later
    /// cannot read what was sent before.
    pub fn sender_key<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
    ) -> GroupResult<SenderKeyDistribution> {
        if self.state.member(&self.user).is_none() {
            return Err(GroupError::NotMember);
        }
        let epoch = self.state.epoch();
        let own = self
            .own
            .get_or_insert_with(|| SendingChain::generate(rng, epoch));
        Ok(SenderKeyDistribution::of(
            own,
            *self.state.id(),
            self.user,
            self.device,
        ))
    }

    /// This device's sending chain as a distribution at its current position, if it has
    /// one (none is made): what a device that upgraded gives again in place of a chain it
    /// gave before it kept what it gave (PROTOCOL.md 27.7).
    pub fn own_sender_key(&self) -> Option<SenderKeyDistribution> {
        self.state.member(&self.user)?;
        let own = self.own.as_ref()?;
        Some(SenderKeyDistribution::of(
            own,
            *self.state.id(),
            self.user,
            self.device,
        ))
    }

    /// Takes another device's chain (PROTOCOL.md 27.5). `from_*` is the authenticated
    /// peer of the pairwise session that carried it.
    pub fn add_chain(
        &mut self,
        from_user: &UserId,
        from_device: &DeviceId,
        from_identity: &IdentityPublicKey,
        dist: &SenderKeyDistribution,
    ) -> GroupResult<()> {
        if dist.group_id != *self.state.id() {
            return Err(GroupError::WrongGroup);
        }
        if dist.sender != *from_user
            || dist.sender_device != *from_device
            || (dist.sender == self.user && dist.sender_device == self.device)
        {
            return Err(GroupError::WrongSender);
        }
        let member = self.state.member(from_user).ok_or(GroupError::NotMember)?;
        if member.fingerprint != from_identity.fingerprint() {
            return Err(GroupError::NotMember);
        }
        if dist.epoch < self.state.key_epoch() {
            return Err(GroupError::OldEpoch);
        }
        if dist.epoch > self.state.epoch() {
            return Err(GroupError::EpochAhead);
        }
        let held = self
            .chains
            .iter()
            .position(|c| c.sender == dist.sender && c.sender_device == dist.sender_device);
        let chain = ReceivingChain::from_distribution(dist)?;
        match held.and_then(|i| self.chains.get(i).map(|c| (i, c))) {
            Some((_, c)) if c.epoch > dist.epoch => Err(GroupError::OldEpoch),
            Some((_, c)) if c.epoch == dist.epoch && c.chain_id == dist.chain_id => Ok(()),
            Some((_, c)) if c.epoch == dist.epoch => Err(GroupError::WrongSender),
            Some((i, _)) => {
                if let Some(slot) = self.chains.get_mut(i) {
                    *slot = chain;
                }
                Ok(())
            }
            None => {
                if self
                    .chains
                    .iter()
                    .filter(|c| c.sender == dist.sender)
                    .count()
                    >= MAX_DEVICES
                {
                    return Err(GroupError::TooLarge);
                }
                self.chains.push(chain);
                Ok(())
            }
        }
    }

    /// Encrypts `payload` once for every member device (PROTOCOL.md 27.6): the same blob
    /// goes to every mailbox.
    pub fn seal<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        payload: &[u8],
        now: u64,
    ) -> GroupResult<Vec<u8>> {
        let group_id = *self.state.id();
        let own = self.own.as_mut().ok_or(GroupError::NoSenderKey)?;
        let (mk, next_key) = own.chain.step()?;
        let header = Header {
            group_id,
            chain_id: own.chain_id,
            epoch: own.epoch,
            counter: own.chain.next,
            sent_at: now,
            body_len: 0,
        };
        let signature = own.sign(&header.signing_input(payload));
        let blob = frame(rng, &own.chain.header_key, &mk, header, payload, &signature)?;
        own.chain.chain_key = next_key;
        own.chain.next += 1;
        Ok(blob)
    }

    /// Opens a group message (PROTOCOL.md 27.6). Nothing changes unless it opens and its
    /// signature verifies.
    pub fn open(&mut self, blob: &[u8], now: u64) -> GroupResult<GroupMessage> {
        let framed = Framed::parse(blob)?;
        let found = self
            .chains
            .iter()
            .enumerate()
            .find_map(|(i, c)| framed.header(&c.chain.header_key).map(|h| (i, h)));
        let Some((i, header)) = found else {
            return Err(self.retired_reason(&framed));
        };
        let chain = self.chains.get_mut(i).ok_or(GroupError::Decrypt)?;
        if header.group_id != *self.state.id()
            || header.chain_id != chain.chain_id
            || header.epoch != chain.epoch
        {
            return Err(GroupError::Decrypt);
        }
        check_window(header.sent_at, now)?;
        let (mk, update) = recv_key(&chain.chain, &chain.skipped, header.counter)?;
        let (payload, signature) = framed.body(&header, &mk)?;
        chain.verify(&header.signing_input(&payload), &signature)?;
        let skipped = apply_recv(&mut chain.chain, &mut chain.skipped, update);
        Ok(GroupMessage {
            sender: chain.sender,
            sender_device: chain.sender_device,
            chain_id: chain.chain_id,
            epoch: chain.epoch,
            counter: header.counter,
            sent_at: header.sent_at,
            payload,
            skipped,
        })
    }

    /// Why a blob that opens under no held chain is refused: a chain dropped by the last
    /// rekey names its sender (no longer a member, or a message of the old epoch).
    fn retired_reason(&self, framed: &Framed<'_>) -> GroupError {
        self.retired
            .iter()
            .find(|c| framed.header(&c.header_key).is_some())
            .map_or(GroupError::Decrypt, |c| {
                if self.state.member(&c.sender).is_some() {
                    GroupError::OldEpoch
                } else {
                    GroupError::NotMember
                }
            })
    }
}
