//! Groups (PROTOCOL.md 27.7, the client's duties): operations signed here and sent to
//! every member device over the pairwise sessions, operations and chains from others
//! checked against the state (held while ahead of it, refused with a notice when
//! forged), this device's chain given once to every member device before its first
//! message reaches it, each message sealed once and deposited to every member device
//! in one multi-recipient deposit, and delivery states counted per member.

use alloc::string::String;
use alloc::vec::Vec;
use sealpost_core::sort::sort_by_key;
use sealpost_core::sorted::SortedSet;

use rand_core::CryptoRng;
use sealpost_core::v2::group::{
    Change, GroupError, GroupOp, GroupSession, GroupState, Invitee, SenderKeyDistribution,
};
use sealpost_core::v2::{DeviceId, GroupId, OpenedMessage};
use sealpost_core::{IdentityPublicKey, UserId};
use zeroize::Zeroizing;

use super::directory::Asker;
use super::group_race;
use super::out::Out;
use super::{Engine, WaitingGroupSend};
use crate::action::{DepositHandle, IncomingGroupMessage, Notice, Output, Part, group_seq};
use crate::codec::Codec;
use crate::event::GroupRequest;
use crate::groups::{
    GivenChain, GroupEntry, Held, MAX_HELD, MAX_KEPT_PAYLOADS, MAX_OUTGOING, Outgoing, Pending,
    Sent, Taken,
};
use crate::msg_id::MsgId;
use crate::payload::{GroupText, MAX_CONTENT_LEN, Payload, Secret};

/// Most group sends waiting for member device lists.
pub const MAX_WAITING_GROUP_SENDS: usize = 64;

/// What became of a pairwise group payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// It changed the group (an operation applied, a chain taken): held ones may apply.
    Applied,
    /// Ahead of this device's state: kept until the operation it depends on arrives.
    Hold,
    /// Done with (a copy, or refused with a notice).
    Done,
}

impl Engine {
    pub(super) fn refuse_group(
        &self,
        group: Option<GroupId>,
        from: Option<UserId>,
        error: GroupError,
        out: &mut Out,
    ) {
        out.notice(Notice::GroupRefused { group, from, error });
    }

    /// [`crate::Input::CreateGroup`]: every member must be a pinned contact whose
    /// username this device knows (its pin is its member fingerprint; its username goes
    /// into the state, 27.2).
    pub(super) fn create_group<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        name: String,
        members: Vec<UserId>,
        out: &mut Out,
    ) {
        let me = self.me.user_id;
        if !self.groups.make_room() {
            return self.refuse_group(None, Some(me), GroupError::TooLarge, out);
        }
        if !self.room_to_send(members.len() + 1) {
            return self.refuse_group(None, Some(me), GroupError::TooLarge, out);
        }
        let Some(pinned) = self.pins_of(&members) else {
            return self.refuse_group(None, Some(me), GroupError::NotMember, out);
        };
        let device = self.me.device_id();
        let creator = &self.me.username;
        match GroupSession::create(rng, &self.me.identity, creator, device, &name, pinned) {
            Ok((session, op)) => {
                let id = *session.state().id();
                let epoch = session.state().epoch();
                let everyone: Vec<UserId> = session.state().members().keys().copied().collect();
                let mut entry = GroupEntry::new(session);
                entry.taken = Taken::from_op(&op);
                self.groups.groups.insert(id, entry);
                self.queue_op(&everyone, &[], None, &op);
                self.changed(id, &op, epoch, out);
            }
            Err(e) => self.refuse_group(None, Some(me), e, out),
        }
    }

    /// The pins and usernames of `users` as new members; `None` if one is not a pinned
    /// contact with a known username.
    fn pins_of(&self, users: &[UserId]) -> Option<Vec<Invitee>> {
        users
            .iter()
            .filter(|u| **u != self.me.user_id)
            .map(|u| {
                let contact = self.account.get(u)?;
                Some(Invitee::new(contact.username.clone()?, contact.fingerprint))
            })
            .collect()
    }

    /// [`crate::Input::ChangeGroup`].
    pub(super) fn change_group<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        group: GroupId,
        request: GroupRequest,
        out: &mut Out,
    ) {
        let me = self.me.user_id;
        let change = match request {
            GroupRequest::Add(users) => match self.pins_of(&users) {
                Some(mut pinned) => {
                    sort_by_key(&mut pinned, |m| m.user);
                    pinned.dedup_by_key(|m| m.user);
                    Change::Add(pinned)
                }
                None => {
                    return self.refuse_group(Some(group), Some(me), GroupError::NotMember, out);
                }
            },
            GroupRequest::Remove(mut users) => {
                sort_by_key(&mut users, |u| *u);
                users.dedup();
                Change::Remove(users)
            }
            GroupRequest::Leave => Change::Leave,
            GroupRequest::Rename(name) => Change::Rename(name),
            GroupRequest::Promote(u) => Change::Promote(u),
            GroupRequest::Demote(u) => Change::Demote(u),
            GroupRequest::Rekey => Change::Rekey,
        };
        self.propose(rng, group, change, out);
    }

    /// Signs `change` against this device's state of `group`, applies it here and
    /// queues it for every device concerned.
    pub(super) fn propose<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        group: GroupId,
        change: Change,
        out: &mut Out,
    ) {
        let me = self.me.user_id;
        let Some(entry) = self.groups.groups.get(&group) else {
            return self.refuse_group(Some(group), Some(me), GroupError::NotMember, out);
        };
        let added = match &change {
            Change::Add(users) => users.len(),
            _ => 0,
        };
        if !self.room_to_send(entry.session.state().members().len() + added) {
            return self.refuse_group(Some(group), Some(me), GroupError::TooLarge, out);
        }
        let Some(entry) = self.groups.groups.get_mut(&group) else {
            return self.refuse_group(Some(group), Some(me), GroupError::NotMember, out);
        };
        let before = entry.session.state().clone();
        match entry.session.propose(rng, &self.me.identity, change) {
            Ok((op, applied)) => {
                let after = entry.session.state().clone();
                entry.last = group_race::start(before.clone(), &op, true);
                entry.taken.take(&op);
                let added: Vec<UserId> = after
                    .members()
                    .keys()
                    .filter(|u| before.member(u).is_none())
                    .copied()
                    .collect();
                let mut everyone: Vec<UserId> = after.members().keys().copied().collect();
                // The removed (and this account, if it left) learn that they are out.
                everyone.extend(
                    before
                        .members()
                        .keys()
                        .filter(|u| after.member(u).is_none()),
                );
                everyone.retain(|u| !added.contains(u));
                self.queue_op(&everyone, &added, Some(&before), &op);
                self.after_apply(group, &op, applied.rekeyed, applied.removed, out);
            }
            Err(e) => self.refuse_group(Some(group), Some(me), e, out),
        }
    }

    /// Queues `op` for every device of `users` (this account's other devices included)
    /// and, with the state before it, for the devices of `added`.
    fn queue_op(
        &mut self,
        users: &[UserId],
        added: &[UserId],
        before: Option<&GroupState>,
        op: &GroupOp,
    ) {
        let plain = Payload::GroupOp {
            state: None,
            op: op.to_bytes().to_vec(),
        }
        .to_bytes();
        let with_state = before.and_then(|s| s.to_bytes().ok()).map(|state| {
            Payload::GroupOp {
                state: Some(state),
                op: op.to_bytes().to_vec(),
            }
            .to_bytes()
        });
        for user in users {
            self.pend(*user, None, plain.clone());
        }
        for user in added {
            if let Some(p) = &with_state {
                self.pend(*user, None, p.clone());
            }
        }
    }

    /// Whether the queue of pairwise group payloads has room for an operation to `users`
    /// accounts. A change is refused (`TOO_LARGE`) rather than applied here and then not
    /// sent to some members for want of room: they would never learn of it, in silence.
    fn room_to_send(&self, users: usize) -> bool {
        users <= self.groups.room()
    }

    pub(super) fn pend(&mut self, to: UserId, device: Option<DeviceId>, payload: Vec<u8>) {
        if self.groups.room() > 0 {
            self.groups.pending.push(Pending {
                to,
                device,
                payload: Zeroizing::new(payload),
            });
        }
    }

    /// Reports a verified change; a removal of this account ends the group here (the
    /// entry stays, out, while the race of that epoch may still bring it back), a new
    /// key epoch makes this device give its next chain to every member device again.
    pub(super) fn after_apply(
        &mut self,
        group: GroupId,
        op: &GroupOp,
        rekeyed: bool,
        removed: bool,
        out: &mut Out,
    ) {
        let epoch = op.epoch() + 1;
        self.changed(group, op, epoch, out);
        if (rekeyed || removed)
            && let Some(entry) = self.groups.groups.get_mut(&group)
        {
            entry.chain_void();
        }
    }

    fn changed(&mut self, group: GroupId, op: &GroupOp, epoch: u64, out: &mut Out) {
        out.persist(Part::Groups);
        out.push(Output::GroupChanged {
            group,
            actor: *op.actor(),
            change: op.change().clone(),
            epoch,
        });
    }

    /// A group operation or chain that arrived in a pairwise session; then whatever it
    /// made applicable among the held ones.
    pub(super) fn group_payload<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        m: &OpenedMessage,
        payload: Payload,
        out: &mut Out,
    ) {
        let step = self.take_group_payload(
            rng,
            m.sender,
            m.sender_device,
            &m.sender_identity,
            &payload,
            out,
        );
        match step {
            Step::Hold => {
                if self.groups.held.len() >= MAX_HELD {
                    self.drop_oldest_held(out);
                }
                self.groups.held.push(Held {
                    from: m.sender,
                    from_device: m.sender_device,
                    identity: m.sender_identity.to_spki_der().to_vec(),
                    payload: Zeroizing::new(payload.to_bytes()),
                });
                out.persist(Part::Groups);
            }
            Step::Applied => {
                self.retry_held(rng, out);
                // Group messages that came before their chain: try them again now.
                for (blob_id, bytes) in core::mem::take(&mut self.group_parked) {
                    self.receive_group_message(now, blob_id, &bytes, out);
                }
            }
            Step::Done => {}
        }
    }

    /// No room to hold one more: the oldest held payload goes, reported (its sender's
    /// envelope was taken, nothing sends it again: dropped in silence, this device would
    /// stay behind without a word). `TOO_LARGE`, naming its group when it parses.
    fn drop_oldest_held(&mut self, out: &mut Out) {
        if self.groups.held.is_empty() {
            return;
        }
        let h = self.groups.held.remove(0);
        let group = match Payload::from_bytes(&h.payload) {
            Ok(Payload::GroupOp { op, .. }) => GroupOp::from_bytes(&op).ok().map(|o| *o.group_id()),
            Ok(Payload::SenderKey(Secret(d))) => SenderKeyDistribution::from_bytes(&d)
                .ok()
                .map(|d| d.group_id),
            _ => None,
        };
        self.refuse_group(group, Some(h.from), GroupError::TooLarge, out);
    }

    /// Applies held payloads until none applies any more.
    fn retry_held<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, out: &mut Out) {
        loop {
            let held = core::mem::take(&mut self.groups.held);
            let mut progress = false;
            for h in held {
                let step = match (
                    IdentityPublicKey::from_spki_der(&h.identity),
                    Payload::from_bytes(&h.payload),
                ) {
                    (Ok(identity), Ok(payload)) => self.take_group_payload(
                        rng,
                        h.from,
                        h.from_device,
                        &identity,
                        &payload,
                        out,
                    ),
                    _ => Step::Done,
                };
                match step {
                    Step::Hold => self.groups.held.push(h),
                    Step::Applied => progress = true,
                    Step::Done => {}
                }
            }
            out.persist(Part::Groups);
            if !progress {
                return;
            }
        }
    }

    fn take_group_payload<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        from: UserId,
        from_device: DeviceId,
        identity: &IdentityPublicKey,
        payload: &Payload,
        out: &mut Out,
    ) -> Step {
        match payload {
            Payload::GroupOp { state, op } => self.take_op(rng, from, state.as_deref(), op, out),
            Payload::SenderKey(Secret(bytes)) => {
                let dist = match SenderKeyDistribution::from_bytes(bytes) {
                    Ok(d) => d,
                    Err(e) => {
                        self.refuse_group(None, Some(from), e, out);
                        return Step::Done;
                    }
                };
                let entry = self.groups.groups.get_mut(&dist.group_id);
                let Some(entry) = entry.filter(|e| e.session.is_member()) else {
                    // Perhaps the operation that adds this device (or the one that wins
                    // over its removal) is on its way.
                    return Step::Hold;
                };
                match entry
                    .session
                    .add_chain(&from, &from_device, identity, &dist)
                {
                    Ok(()) => {
                        out.persist(Part::Groups);
                        // Taken (or taken before: a re-send whose confirmation was
                        // lost): confirmed to the device that gave it (27.5).
                        let chain = MsgId(*dist.chain_id.as_bytes());
                        self.queue_receipt(from, from_device, chain, out);
                        Step::Applied
                    }
                    Err(GroupError::EpochAhead) => Step::Hold,
                    Err(GroupError::OldEpoch) => Step::Done,
                    Err(e) => {
                        self.refuse_group(Some(dist.group_id), Some(from), e, out);
                        Step::Done
                    }
                }
            }
            _ => Step::Done,
        }
    }

    fn take_op<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        from: UserId,
        state: Option<&[u8]>,
        op: &[u8],
        out: &mut Out,
    ) -> Step {
        let op = match GroupOp::from_bytes(op) {
            Ok(op) => op,
            Err(e) => {
                self.refuse_group(None, Some(from), e, out);
                return Step::Done;
            }
        };
        let group = *op.group_id();
        let entry = self.groups.groups.get_mut(&group);
        // Out of the group (27.4): only the race that removed this device may bring it
        // back, or an admin adding it again with a state (joined anew below); anything
        // later waits for that.
        let entry = match entry {
            Some(e) if !e.session.is_member() && state.is_some() => None,
            Some(e) if !e.session.is_member() && op.epoch() >= e.session.state().epoch() => {
                return Step::Hold;
            }
            e => e,
        };
        if let Some(entry) = entry {
            let before = entry.session.state().clone();
            return match entry.session.apply(&op) {
                Ok(applied) => {
                    entry.last = group_race::start(before, &op, false);
                    entry.taken.take(&op);
                    self.after_apply(group, &op, applied.rekeyed, applied.removed, out);
                    Step::Applied
                }
                Err(GroupError::EpochAhead) => Step::Hold,
                // Made on another state of this epoch (27.4): reported once, and held,
                // since a race this device settles next may still lead to that state.
                Err(GroupError::Forked) => {
                    if !entry.taken.has(&op) {
                        entry.taken.take(&op);
                        out.persist(Part::Groups);
                        self.refuse_group(Some(group), Some(*op.actor()), GroupError::Forked, out);
                    }
                    Step::Hold
                }
                // Applied before (a copy, a re-send, a replay), signed at the same time
                // as the last one applied here, or late (27.4).
                Err(GroupError::OldEpoch) => self.concurrent_op(rng, group, &op, out),
                Err(e) => {
                    self.refuse_group(Some(group), Some(*op.actor()), e, out);
                    Step::Done
                }
            };
        }
        // Not in this group (yet): a create naming this account, or the add of it with
        // the state before, on the word of the admin who added it (27.7).
        let joined = match (op.change(), state) {
            (Change::Create { .. }, _) => GroupState::create(&op),
            (Change::Add(_), Some(_)) if from != *op.actor() => Err(GroupError::WrongSender),
            (Change::Add(_), Some(state)) => GroupState::from_bytes(state).and_then(|s| {
                if s.id() == op.group_id() {
                    s.apply(&op)
                } else {
                    Err(GroupError::WrongGroup)
                }
            }),
            _ => return Step::Hold,
        };
        let me = self.me.user_id;
        let session = joined.and_then(|s| GroupSession::join(s, me, self.me.device_id()));
        match session {
            Ok(session) if self.groups.groups.contains_key(&group) || self.groups.make_room() => {
                let epoch = session.state().epoch();
                let mut entry = GroupEntry::new(session);
                entry.taken = Taken::from_op(&op);
                self.groups.groups.insert(group, entry);
                self.changed(group, &op, epoch, out);
                Step::Applied
            }
            Ok(_) => {
                self.refuse_group(Some(group), Some(from), GroupError::TooLarge, out);
                Step::Done
            }
            Err(e) => {
                self.refuse_group(Some(group), Some(from), e, out);
                Step::Done
            }
        }
    }

    /// [`crate::Input::SendToGroup`]: waits for every member's device list, then seals.
    pub(super) fn send_to_group<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        send: WaitingGroupSend,
        out: &mut Out,
    ) {
        let me = self.me.user_id;
        if let Some(s) = self.groups.sent.iter().find(|s| s.msg_id == send.msg_id) {
            // An idempotent retry: never sealed twice.
            out.push(Output::DeliveryUpdate {
                msg_id: send.msg_id,
                delivered: s.total - s.waiting.len(),
                total: s.total,
            });
            return;
        }
        let entry = self.groups.groups.get(&send.group);
        let Some(entry) = entry.filter(|e| e.session.is_member()) else {
            return self.refuse_group(Some(send.group), Some(me), GroupError::NotMember, out);
        };
        if send.content.len() > MAX_CONTENT_LEN {
            return self.refuse_group(Some(send.group), Some(me), GroupError::TooLarge, out);
        }
        let members: Vec<UserId> = entry.session.state().members().keys().copied().collect();
        let mut ready = true;
        for user in &members {
            if *user == me || self.directory.listings.contains_key(user) {
                continue;
            }
            if self.directory.unreachable(user) {
                // Its last answer was unusable (the user was told): the message goes to
                // the others, not waiting for an account that may never come back.
                self.ask_directory(*user, now, Asker::Upkeep, out);
            } else {
                ready = false;
                self.ask_directory(*user, now, Asker::Input, out);
            }
        }
        if !ready {
            if self.waiting_groups.len() >= MAX_WAITING_GROUP_SENDS {
                return self.refuse_group(Some(send.group), Some(me), GroupError::TooLarge, out);
            }
            self.waiting_groups.push(send);
            return;
        }
        self.seal_group(rng, now, send, members, out);
    }

    /// Group sends whose members' device lists are all known now.
    pub(super) fn resume_group_sends<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        out: &mut Out,
    ) {
        let waiting = core::mem::take(&mut self.waiting_groups);
        for send in waiting {
            let asked = self.groups.groups.get(&send.group).is_some_and(|g| {
                g.session
                    .state()
                    .members()
                    .keys()
                    .any(|u| self.directory.requested.contains(u))
            });
            if asked {
                self.waiting_groups.push(send);
            } else {
                self.send_to_group(rng, now, send, out);
            }
        }
    }

    fn seal_group<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        send: WaitingGroupSend,
        members: Vec<UserId>,
        out: &mut Out,
    ) {
        let me = self.me.user_id;
        let mut devices: SortedSet<(UserId, DeviceId)> = SortedSet::new();
        for user in &members {
            let listed = if *user == me {
                self.me.other_devices()
            } else {
                self.current_devices(user)
                    .into_iter()
                    .map(|(_, d)| d)
                    .collect()
            };
            devices.extend(listed.into_iter().map(|d| (*user, d)));
        }
        if self.groups.outgoing.len() >= MAX_OUTGOING {
            return self.refuse_group(Some(send.group), Some(me), GroupError::TooLarge, out);
        }
        let Some(entry) = self.groups.groups.get_mut(&send.group) else {
            return;
        };
        // This device's chain goes to every member device that does not hold it yet,
        // before the first message in it (a message that arrives first waits).
        let (chain, dist) = match entry.session.sender_key(rng) {
            Ok(d) => (d.chain_id, Zeroizing::new(d.to_bytes().to_vec())),
            Err(e) => return self.refuse_group(Some(send.group), Some(me), e, out),
        };
        let fresh: Vec<(UserId, DeviceId)> = devices
            .iter()
            .filter(|d| !entry.distributed.contains(d))
            .copied()
            .collect();
        entry.distributed.extend(fresh.iter().copied());
        let key = Zeroizing::new(Payload::SenderKey(Secret(dist)).to_bytes());
        // Kept until each device confirms it (27.5): the relay may take the deposit
        // and drop it.
        for d in &fresh {
            let given = GivenChain::new(*d, chain, key.clone(), now);
            entry.given.push(given);
        }
        let text = Payload::GroupText(GroupText {
            msg_id: send.msg_id,
            content_type: send.content_type,
            content: send.content,
        })
        .to_bytes();
        let blob = match entry.session.seal(rng, &text, now) {
            Ok(b) => b,
            Err(e) => return self.refuse_group(Some(send.group), Some(me), e, out),
        };
        for (user, device) in fresh {
            self.pend(user, Some(device), key.to_vec());
        }
        self.flush_group_pending(rng, now, out);
        let others: SortedSet<UserId> = members.iter().filter(|u| **u != me).copied().collect();
        let total = others.len();
        self.groups.track(Sent {
            msg_id: send.msg_id,
            total,
            waiting: others,
        });
        let outgoing = Outgoing {
            msg_id: send.msg_id,
            blob,
            devices,
        };
        self.deposit_group(&outgoing, out);
        self.groups.outgoing.push(outgoing);
        out.persist(Part::Groups);
        out.push(Output::DeliveryUpdate {
            msg_id: send.msg_id,
            delivered: 0,
            total,
        });
    }

    /// Emits one multi-recipient deposit for the mailboxes of `o` that have not taken it.
    fn deposit_group(&mut self, o: &Outgoing, out: &mut Out) {
        if o.devices.is_empty() {
            return;
        }
        let handle = DepositHandle(self.next_handle);
        self.next_handle = self.next_handle.wrapping_add(1);
        let to: Vec<(UserId, DeviceId)> = o.devices.iter().copied().collect();
        out.push(Output::DepositMany {
            to: to.clone(),
            blob: o.blob.clone(),
            handle,
        });
        self.group_in_flight.insert(handle, (o.msg_id, to));
    }

    /// The relay took a pairwise deposit: a group payload in it is no longer kept for a
    /// re-send.
    pub(super) fn group_payload_deposited(&mut self, handle: DepositHandle, out: &mut Out) {
        let before = self.groups.unconfirmed.len();
        self.groups.unconfirmed.retain(|(h, _)| *h != handle);
        if self.groups.unconfirmed.len() != before {
            out.persist(Part::Groups);
        }
    }

    /// [`crate::Input::DepositManyDone`]: every mailbox but `refused` took it.
    pub(super) fn deposit_many_done(
        &mut self,
        handle: DepositHandle,
        refused: &[(UserId, DeviceId)],
        now: u64,
        out: &mut Out,
    ) {
        let Some((msg_id, to)) = self.group_in_flight.remove(&handle) else {
            return;
        };
        // A refused mailbox may be a revoked device's (`unknown_device`): the member's
        // list is read again (at most once per `RESEND_AFTER`), and a list that lost a
        // device makes an admin rekey (27.2 "Devices").
        for (user, _) in refused {
            if *user != self.me.user_id {
                self.ask_directory(*user, now, Asker::Upkeep, out);
            }
        }
        if let Some(o) = self.groups.outgoing.iter_mut().find(|o| o.msg_id == msg_id) {
            for d in to.iter().filter(|d| !refused.contains(d)) {
                o.devices.remove(d);
            }
        }
        self.groups.outgoing.retain(|o| !o.devices.is_empty());
        out.persist(Part::Groups);
    }

    /// `user`'s devices are `current` now: group messages waiting for a mailbox of a
    /// device that left the list stop waiting for it (the relay deleted that mailbox and
    /// refuses it, so a tick would deposit again every minute, for ever).
    pub(super) fn group_devices_left(
        &mut self,
        user: &UserId,
        current: &[DeviceId],
        out: &mut Out,
    ) {
        let mut changed = false;
        for o in &mut self.groups.outgoing {
            let before = o.devices.len();
            o.devices.retain(|(u, d)| u != user || current.contains(d));
            changed |= o.devices.len() != before;
        }
        if changed {
            self.groups.outgoing.retain(|o| !o.devices.is_empty());
            out.persist(Part::Groups);
        }
    }

    /// A multi-recipient deposit failed: its mailboxes are tried again on a tick.
    pub(super) fn deposit_many_failed(&mut self, handle: DepositHandle) -> bool {
        self.group_in_flight.remove(&handle).is_some()
    }

    /// On a tick: group messages not in flight are deposited again to the mailboxes
    /// that have not taken them.
    pub(super) fn retry_group_deposits(&mut self, out: &mut Out) {
        let busy: SortedSet<MsgId> = self.group_in_flight.values().map(|(m, _)| *m).collect();
        let due: Vec<Outgoing> = self
            .groups
            .outgoing
            .iter()
            .filter(|o| !busy.contains(&o.msg_id))
            .cloned()
            .collect();
        for o in due {
            self.deposit_group(&o, out);
        }
    }

    /// Seals waiting pairwise group payloads to the devices whose bundles are known;
    /// asks the directory for the others and keeps them.
    pub(super) fn flush_group_pending<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        out: &mut Out,
    ) {
        if self.groups.pending.is_empty() {
            return;
        }
        out.persist(Part::Groups);
        let pending = core::mem::take(&mut self.groups.pending);
        let mut left = pending.len();
        for p in pending {
            left -= 1;
            let devices: Vec<DeviceId> = match p.device {
                Some(d) => alloc::vec![d],
                None if p.to == self.me.user_id => self.me.other_devices(),
                None if self.directory.listings.contains_key(&p.to) => self
                    .current_devices(&p.to)
                    .into_iter()
                    .map(|(_, d)| d)
                    .collect(),
                // Upkeep: this runs after every input, and an account the directory does
                // not know (or answers badly for) would otherwise be asked for again with
                // every answer, without end.
                None => {
                    self.ask_directory(p.to, now, Asker::Upkeep, out);
                    self.groups.pending.push(p);
                    continue;
                }
            };
            // Each device's copy is kept (stored) until the relay takes it: sealed only
            // when every copy fits in what is stored, else it waits whole (the relay
            // taking earlier deposits makes room). Sealed and not kept, a crash before
            // the relay took it would lose it in silence.
            let kept = self.groups.pending.len() + self.groups.unconfirmed.len() + left;
            if kept + devices.len() > MAX_KEPT_PAYLOADS {
                self.groups.pending.push(p);
                continue;
            }
            for device in devices {
                let one = Pending {
                    to: p.to,
                    device: Some(device),
                    payload: p.payload.clone(),
                };
                // Queued only for members of a group's state (27.7).
                match self.send_vouched(rng, now, p.to, device, &p.payload, out) {
                    super::send::Control::Later => self.groups.pending.push(one),
                    super::send::Control::Deposited(handle) => {
                        self.groups.unconfirmed.push((handle, one));
                    }
                    super::send::Control::Dropped => {}
                }
            }
        }
    }

    /// A version-3 blob: a message to one of this device's groups.
    pub(super) fn receive_group_message(
        &mut self,
        now: u64,
        blob_id: String,
        bytes: &[u8],
        out: &mut Out,
    ) {
        let mut refusal: Option<(GroupId, GroupError)> = None;
        let mut opened = None;
        for (id, entry) in self.groups.groups.iter_mut() {
            if !entry.session.is_member() {
                continue;
            }
            match entry.session.open(bytes, now) {
                Ok(m) => {
                    opened = Some((*id, m));
                    break;
                }
                Err(GroupError::Decrypt) => {}
                Err(e) => {
                    refusal = Some((*id, e));
                    break;
                }
            }
        }
        let Some((group, m)) = opened else {
            match refusal {
                Some((_, GroupError::Replay)) => {
                    // Opened before: nothing to show, nothing to report. Unless it
                    // waited for its chain and never opened: the chain came at a later
                    // position (given again by a device that upgraded, 27.7), so it
                    // never will; given up, with a notice. A waiting copy of a blob that
                    // opened (the same message deposited twice) was shown: no notice.
                    self.failures.forget(&blob_id);
                    let shown = self.groups.shown_before(bytes);
                    if self.groups.wait_over(&blob_id) {
                        out.persist(Part::Groups);
                        if !shown {
                            out.notice(Notice::CouldNotDecrypt {
                                blob_id: blob_id.clone(),
                                gave_up: true,
                            });
                        }
                    }
                    out.push(Output::Ack { blob_id });
                }
                Some((group, error)) => {
                    // A removed member's, an old epoch's, a forged or expired one:
                    // reported, never shown (27.7).
                    self.failures.forget(&blob_id);
                    if self.groups.wait_over(&blob_id) {
                        out.persist(Part::Groups);
                    }
                    self.refuse_group(Some(group), None, error, out);
                    out.push(Output::Ack { blob_id });
                }
                // No held chain opens it: its chain may still be on its way (the relay
                // may hand the message over first, or have dropped it: its sender gives
                // it again, 27.5). Left on the relay, and tried again when a chain
                // arrives or with the next connection (group_chains.rs).
                None => self.awaits_chain(now, blob_id, bytes, out),
            }
            return;
        };
        self.failures.forget(&blob_id);
        self.groups.wait_over(&blob_id);
        self.groups.opened(bytes);
        out.persist(Part::Groups);
        match Payload::from_bytes(&m.payload) {
            Ok(Payload::GroupText(t)) => {
                self.queue_receipt(m.sender, m.sender_device, t.msg_id, out);
                if self.seen.insert(m.sender, t.msg_id, m.sent_at, now) {
                    out.persist(Part::Seen);
                    out.push(Output::DeliverGroup(IncomingGroupMessage {
                        group,
                        msg_id: t.msg_id,
                        from: m.sender,
                        from_device: m.sender_device,
                        own: m.sender == self.me.user_id,
                        sent_at: m.sent_at,
                        seq: group_seq(m.epoch, m.counter),
                        received_at: now,
                        content_type: t.content_type,
                        content: t.content,
                    }));
                }
            }
            _ => out.notice(Notice::Unreadable { user: m.sender }),
        }
        out.push(Output::Ack { blob_id });
    }
}
