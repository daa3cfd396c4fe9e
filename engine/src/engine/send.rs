//! The send path: messages to every current device of the recipient and, as sync
//! copies, to every other device of our own account; receipts; session resets; re-sends.

use alloc::vec::Vec;

use rand_core::CryptoRng;
use sealpost_core::v2::DeviceId;
use sealpost_core::{Error, Result, UserId};

use super::directory::Asker;
use super::out::Out;
use super::{Engine, WaitingSend};
use crate::action::{DepositHandle, Notice, Output, Part};
use crate::codec::Codec;
use crate::msg_id::MsgId;
use crate::outbox::Resend;
use crate::payload::{MAX_RECEIPT_IDS, Message, Payload, Receipt};

/// Why a send was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The directory has no such account.
    NoSuchUser,
    /// The directory serves another identity key than the pinned one: forget the
    /// contact (accepting the new key) before writing to it.
    IdentityChanged,
    /// Too many messages wait for receipts, or for the directory.
    Busy,
    /// The content exceeds [`crate::payload::MAX_CONTENT_LEN`].
    TooLarge,
    /// No device of the recipient could be sealed to.
    NoDevices,
}

impl Engine {
    /// A user's send request: seal now if the directory is known, else wait for it.
    pub(super) fn send_requested<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        send: WaitingSend,
        out: &mut Out,
    ) {
        if let Some(d) = self.outbox.delivery(&send.msg_id) {
            // An idempotent retry (its driver may have crashed between the seal and its
            // own record of it): never sealed twice; what the relay has not taken is
            // deposited again, and the caller learns where the message stands.
            self.retry_deposits(Some(send.msg_id), out);
            out.push(Output::DeliveryUpdate {
                msg_id: send.msg_id,
                delivered: d.delivered,
                total: d.total,
            });
            return;
        }
        let to = send.to.user_id();
        let mut ready = true;
        for user in [to, self.me.user_id] {
            if self.directory.fresh(&user, now).is_none() {
                ready = false;
                self.ask_directory(user, now, Asker::Input, out);
            }
        }
        if ready {
            self.seal_message(rng, now, send, out);
        } else if self.waiting.len() >= super::MAX_WAITING_SENDS
            || self.waiting.iter().any(|w| w.msg_id == send.msg_id)
        {
            out.notice(Notice::SendFailed {
                msg_id: send.msg_id,
                error: SendError::Busy,
            });
        } else {
            self.waiting.push(send);
        }
    }

    /// Sends waiting for `user`'s listing that are now ready, in request order.
    pub(super) fn resume_sends<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        out: &mut Out,
    ) {
        let waiting = core::mem::take(&mut self.waiting);
        for send in waiting {
            let to = send.to.user_id();
            if self.directory.requested.contains(&to)
                || self.directory.requested.contains(&self.me.user_id)
            {
                self.waiting.push(send);
            } else {
                self.send_requested(rng, now, send, out);
            }
        }
        self.resume_group_sends(rng, now, out);
    }

    fn seal_message<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        send: WaitingSend,
        out: &mut Out,
    ) {
        let msg_id = send.msg_id;
        let fail = |out: &mut Out, error| out.notice(Notice::SendFailed { msg_id, error });
        let to = send.to.user_id();
        if self.contact_identity_changed(&to) {
            return fail(out, SendError::IdentityChanged);
        }
        if self.outbox.is_full() {
            return fail(out, SendError::Busy);
        }
        let Ok(message) = Message::new(
            msg_id,
            to,
            self.me.username.clone(),
            now,
            send.content_type,
            send.content,
        )
        .map(|m| m.with_seq(self.outbox.next_seq())) else {
            return fail(out, SendError::TooLarge);
        };
        self.learn_username(&send.to, now, out);
        self.engage(&to, now, out);
        let payload = Payload::Message(message.clone()).to_bytes();
        let mut targets = self.current_devices(&to);
        if to != self.me.user_id {
            targets.extend(
                self.me
                    .other_devices()
                    .into_iter()
                    .map(|d| (self.me.user_id, d)),
            );
        }
        let sealed = self.seal_each(rng, now, &targets, &payload);
        if !sealed.iter().any(|(u, _, _)| *u == to) && to != self.me.user_id {
            return fail(out, SendError::NoDevices);
        }
        out.persist(Part::Sessions);
        match self.outbox.add(message, now, sealed.clone()) {
            Ok(delivery) => {
                for (user, device, envelope) in sealed {
                    self.deposit(user, device, envelope, Some(msg_id), out);
                }
                out.push(Output::DeliveryUpdate {
                    msg_id,
                    delivered: delivery.delivered,
                    total: delivery.total,
                });
                out.persist(Part::Outbox);
            }
            Err(_) => fail(out, SendError::Busy),
        }
    }

    /// The current devices of `user` as this run's directory listing says.
    pub(super) fn current_devices(&self, user: &UserId) -> Vec<(UserId, DeviceId)> {
        let list = if *user == self.me.user_id {
            Some(&self.me.list)
        } else {
            self.directory.listings.get(user).map(|l| &l.list)
        };
        list.map(|l| {
            l.devices()
                .iter()
                .map(|d| (*user, d.id))
                .filter(|(_, d)| *user != self.me.user_id || *d != self.me.device_id())
                .collect()
        })
        .unwrap_or_default()
    }

    /// Seals `payload` to each device whose bundle is known; skips the others.
    fn seal_each<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        targets: &[(UserId, DeviceId)],
        payload: &[u8],
    ) -> Vec<(UserId, DeviceId, Vec<u8>)> {
        targets
            .iter()
            .filter_map(|(user, device)| {
                self.seal_to(rng, now, user, device, payload)
                    .ok()
                    .map(|env| (*user, *device, env))
            })
            .collect()
    }

    /// Seals `payload` to one device (its bundle must be in this run's directory).
    pub(super) fn seal_to<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        user: &UserId,
        device: &DeviceId,
        payload: &[u8],
    ) -> Result<Vec<u8>> {
        let bundle = self.directory.bundle(user, device).ok_or(Error::Expired)?;
        let sealed =
            self.sessions
                .seal(rng, &self.me.identity, &self.me.keys, bundle, payload, now)?;
        Ok(sealed.envelope)
    }

    /// Seals the given re-sends and tracks them in the outbox (each counts towards the
    /// target's re-send budget). The first re-send to each device in this call starts a
    /// new session (the device may have lost the old ones); the others to that device
    /// follow in it. A device whose bundle is not known yet is skipped (the directory is
    /// asked; the schedule retries it).
    pub(super) fn resend<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        resends: Vec<Resend>,
        out: &mut Out,
    ) {
        let mut fresh: Vec<(UserId, DeviceId)> = Vec::new();
        for r in resends {
            let msg_id = r.message.msg_id();
            let payload = Payload::Message(r.message).to_bytes();
            let mut sealed = Vec::new();
            for (user, device) in r.devices {
                self.want_bundle(user, &device, now, out);
                let started = fresh.contains(&(user, device));
                let envelope = if started {
                    self.seal_to(rng, now, &user, &device, &payload)
                } else {
                    self.seal_fresh_to(rng, now, &user, &device, &payload)
                };
                if let Ok(envelope) = envelope {
                    if !started {
                        fresh.push((user, device));
                    }
                    sealed.push((user, device, envelope));
                }
            }
            self.outbox.reseal_at(&msg_id, sealed.clone(), now);
            for (user, device, envelope) in sealed {
                self.deposit(user, device, envelope, Some(msg_id), out);
            }
            out.persist(Part::Sessions);
            out.persist(Part::Outbox);
        }
        for msg_id in self.outbox.sweep() {
            out.notice(Notice::NotDelivered { msg_id });
            out.persist(Part::Outbox);
        }
    }

    /// Owes a receipt for `msg_id` to the device that sent it (durably: see
    /// [`crate::receipts`]) and queues it for sealing, unless a deposit this run
    /// already carries it.
    pub(super) fn queue_receipt(
        &mut self,
        user: UserId,
        device: DeviceId,
        msg_id: MsgId,
        out: &mut Out,
    ) {
        let carried = self
            .in_flight
            .values()
            .any(|d| d.to == user && d.device == device && d.receipts.contains(&msg_id));
        if self.owed.owe(user, device, msg_id) {
            out.persist(Part::Receipts);
        }
        let ids = self.receipts.entry((user, device)).or_default();
        if !carried && !ids.contains(&msg_id) {
            ids.push(msg_id);
        }
    }

    /// Seals queued receipts, reset requests and account syncs whose devices' bundles
    /// are known; asks the directory for the others and keeps them queued.
    pub(super) fn flush_control<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        out: &mut Out,
    ) {
        let receipts = core::mem::take(&mut self.receipts);
        for ((user, device), ids) in receipts {
            let mut unsent = Vec::new();
            for chunk in ids.chunks(MAX_RECEIPT_IDS) {
                let Ok(receipt) = Receipt::new(chunk.to_vec()) else {
                    continue;
                };
                let payload = Payload::Receipt(receipt).to_bytes();
                match self.send_control(rng, now, user, device, &payload, out) {
                    Control::Deposited(handle) => {
                        if let Some(d) = self.in_flight.get_mut(&handle) {
                            d.receipts = chunk.to_vec();
                        }
                    }
                    // Nobody to seal it to: its sender's next re-send is receipted.
                    Control::Dropped => {
                        if self.owed.paid(user, device, chunk) {
                            out.persist(Part::Receipts);
                        }
                    }
                    Control::Later => unsent.extend_from_slice(chunk),
                }
            }
            if !unsent.is_empty() {
                self.receipts.insert((user, device), unsent);
            }
        }
        let resets = core::mem::take(&mut self.resets);
        for ((user, device), session) in resets {
            let payload = Payload::ResetRequest(session).to_bytes();
            if self.send_control(rng, now, user, device, &payload, out) == Control::Later {
                self.resets.insert((user, device), session);
            }
        }
        self.flush_group_pending(rng, now, out);
        if core::mem::take(&mut self.account_changed) {
            let payload = Payload::AccountSync(self.account.clone()).to_bytes();
            for device in self.me.other_devices() {
                let user = self.me.user_id;
                // A device without a known bundle gets the state with the next change.
                self.send_control(rng, now, user, device, &payload, out);
            }
        }
    }

    /// Seals and deposits one control payload; [`Control::Later`] (and a directory
    /// request) when the device's bundle is not known yet.
    pub(super) fn send_control<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        user: UserId,
        device: DeviceId,
        payload: &[u8],
        out: &mut Out,
    ) -> Control {
        let held = |s: &sealpost_core::v2::SessionInfo| s.peer == user && s.peer_device == device;
        if !self.trusts(&user) && !self.sessions.sessions().iter().any(held) {
            // A stranger's receipt goes only in a session it started: one this device
            // started would be trusted (PROTOCOL.md 18.1). Its re-send gets the receipt.
            return Control::Dropped;
        }
        self.send_vouched(rng, now, user, device, payload, out)
    }

    /// [`Self::send_control`] to a device of a user a group vouched for (a member of the
    /// state an operation or chain was made in), even if this device is no longer in
    /// that group: a member who leaves tells members it never wrote to.
    pub(super) fn send_vouched<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        user: UserId,
        device: DeviceId,
        payload: &[u8],
        out: &mut Out,
    ) -> Control {
        if self.directory.bundle(&user, &device).is_none() {
            if self.directory.fresh(&user, now).is_some() {
                // The directory answered this run without it: the device left its
                // account. Asking again would ask after every input, for ever.
                return Control::Dropped;
            }
            // Upkeep: this runs after every input, and an account the directory does not
            // know would be asked for with every answer, for ever.
            self.ask_directory(user, now, Asker::Upkeep, out);
            return Control::Later;
        }
        match self.seal_to(rng, now, &user, &device, payload) {
            Ok(envelope) => {
                out.persist(Part::Sessions);
                Control::Deposited(self.deposit(user, device, envelope, None, out))
            }
            // A device that cannot be sealed to (expired bundle, revoked) gets nothing.
            Err(_) => Control::Dropped,
        }
    }
}

/// What became of one control payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Control {
    /// Sealed and handed to the driver.
    Deposited(DepositHandle),
    /// Never to be sent (a stranger's receipt without its session, a device that left
    /// its account or cannot be sealed to).
    Dropped,
    /// Waits for the device's bundle.
    Later,
}
