//! The receive path: open, authenticate the sender against the pin, de-duplicate,
//! deliver, receipt, acknowledge; surface everything that cannot be delivered.

use alloc::string::String;
use alloc::vec::Vec;

use rand_core::CryptoRng;
use sealpost_core::Error;
use sealpost_core::UserId;
use sealpost_core::v2::{OpenedMessage, Opening, PendingInit, SessionId};

use super::directory::Asker;
use super::out::Out;
use super::{Engine, MAX_PARKED, Parked};
use crate::action::{IncomingMessage, Notice, Output, Part, SecurityKind};
use crate::codec::Codec;
use crate::failures::Verdict;
use crate::payload::{Message, Payload};

impl Engine {
    pub(super) fn receive<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        blob_id: String,
        bytes: Vec<u8>,
        out: &mut Out,
    ) {
        if bytes.first() == Some(&sealpost_core::v2::group::GROUP_VERSION) {
            return self.receive_group_message(now, blob_id, &bytes, out);
        }
        self.receive_once(rng, now, blob_id, bytes, true, out);
    }

    /// `may_park`: whether an unknown sender may still be looked up (false when the
    /// directory already answered for it).
    fn receive_once<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        blob_id: String,
        bytes: Vec<u8>,
        may_park: bool,
        out: &mut Out,
    ) {
        match self
            .sessions
            .open_attributed(rng, &self.me.keys, &bytes, now)
        {
            Ok(Opening::Message(m)) => self.opened(rng, now, blob_id, m, out),
            Ok(Opening::Pending(p)) => self.pending(rng, now, blob_id, bytes, *p, may_park, out),
            Err(f) => {
                let asked = f
                    .session
                    .is_some_and(|u| self.unreadable(rng, now, *u, out));
                if asked {
                    // It can never open (a failed open changes nothing); the peer
                    // device re-sends what it carried. Surfaced, acknowledged.
                    self.failures.forget(&blob_id);
                    out.notice(Notice::CouldNotDecrypt {
                        blob_id: blob_id.clone(),
                        gave_up: true,
                    });
                    out.push(Output::Ack { blob_id });
                } else {
                    self.not_opened(blob_id, f.error, out);
                }
            }
        }
    }

    /// A blob that did not open: a replay is acknowledged in silence (it was delivered
    /// before); an expired or malformed one at once, with a notice; anything else is
    /// left on the relay for another attempt until it failed too often.
    pub(super) fn not_opened(&mut self, blob_id: String, error: Error, out: &mut Out) {
        match error {
            Error::Replay => {
                self.failures.forget(&blob_id);
                out.push(Output::Ack { blob_id });
            }
            Error::Expired | Error::Malformed => {
                self.failures.forget(&blob_id);
                out.notice(Notice::CouldNotDecrypt {
                    blob_id: blob_id.clone(),
                    gave_up: true,
                });
                out.push(Output::Ack { blob_id });
            }
            _ => {
                let gave_up = self.failures.failed(&blob_id) == Verdict::GiveUp;
                out.notice(Notice::CouldNotDecrypt {
                    blob_id: blob_id.clone(),
                    gave_up,
                });
                if gave_up {
                    out.push(Output::Ack { blob_id });
                }
            }
        }
    }

    /// A new session's init: accepted only when the sender's identity is the pin and
    /// the sending device is in the sender's device list.
    #[allow(clippy::too_many_arguments)]
    fn pending<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        blob_id: String,
        bytes: Vec<u8>,
        p: PendingInit,
        may_park: bool,
        out: &mut Out,
    ) {
        let user = *p.sender();
        let device = *p.sender_device();
        let fetched = self.directory.fresh(&user, now).is_some();
        let listed = if user == self.me.user_id {
            Some(self.me.list.contains(&device))
        } else {
            self.directory
                .listings
                .get(&user)
                .map(|l| l.list.contains(&device))
        };
        let verdict = match self.pin_of(&user) {
            Some(pin) if pin != p.sender_identity().fingerprint() => {
                Some(SecurityKind::IdentityMismatch)
            }
            Some(_) if listed == Some(true) => None,
            // A device our copy of the list does not have (the list may be newer than
            // our copy, e.g. a new login), or a first contact: ask the directory once.
            Some(_) if may_park => return self.park(blob_id, bytes, user, now, out),
            None if may_park && !fetched => return self.park(blob_id, bytes, user, now, out),
            Some(_) => Some(SecurityKind::UnknownDevice),
            None => Some(SecurityKind::IdentityMismatch),
        };
        if let Some(kind) = verdict {
            // Never a session, never text: dropped, acknowledged, reported.
            self.failures.forget(&blob_id);
            out.notice(Notice::SecurityEvent { kind, user });
            out.push(Output::Ack { blob_id });
            return;
        }
        // Only the user's own devices and engaged contacts get trusted sessions: a
        // stranger (it wrote first) gets untrusted ones, under their own caps, so no
        // number of strangers can evict or block genuine state (PROTOCOL.md 16, 24.8).
        match self.sessions.accept(p, self.trusts(&user), now) {
            Ok(m) => self.opened(rng, now, blob_id, m, out),
            Err(e) => self.not_opened(blob_id, e, out),
        }
    }

    /// Whether `user` is this account, an engaged contact or a member of one of this
    /// device's groups (an admin vouched for it, PROTOCOL.md 27.9): its new sessions are
    /// trusted, and this device asks it for resets (a session this device starts is
    /// trusted, so strangers get none: their messages heal by the sender's re-sends).
    pub(super) fn trusts(&self, user: &UserId) -> bool {
        *user == self.me.user_id
            || self.account.get(user).is_some_and(|c| c.engaged)
            || self.groups.is_member_anywhere(user)
    }

    /// Keeps a blob (unacknowledged) until the directory answers for its sender.
    fn park(&mut self, blob_id: String, bytes: Vec<u8>, sender: UserId, now: u64, out: &mut Out) {
        // At once, also after an unusable answer: the answer settles the blob (it is not
        // parked again), so each lookup answers an input and none repeats itself.
        self.ask_directory(sender, now, Asker::Input, out);
        if self.parked.iter().any(|p| p.blob_id == blob_id) {
            return;
        }
        if self.parked.len() >= MAX_PARKED {
            // Left on the relay: it comes back with the next connection.
            out.notice(Notice::CouldNotDecrypt {
                blob_id,
                gave_up: false,
            });
            return;
        }
        self.parked.push(Parked {
            blob_id,
            bytes,
            sender,
        });
    }

    /// The directory answered (or failed) for `user`: retry its parked blobs, for the
    /// last time.
    pub(super) fn resume_parked<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        user: UserId,
        out: &mut Out,
    ) {
        let (mine, others): (Vec<Parked>, Vec<Parked>) = core::mem::take(&mut self.parked)
            .into_iter()
            .partition(|p| p.sender == user);
        self.parked = others;
        for p in mine {
            self.receive_once(rng, now, p.blob_id, p.bytes, false, out);
        }
    }

    /// An authenticated message: act on its payload, then acknowledge it.
    fn opened<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        blob_id: String,
        m: OpenedMessage,
        out: &mut Out,
    ) {
        self.failures.forget(&blob_id);
        out.persist(Part::Sessions);
        let held = self.sessions.missing(&m.session_id).unwrap_or_default();
        self.missing.opened(
            m.session_id,
            (m.sender, m.sender_device),
            m.counter,
            &m.skipped,
            &held,
            now,
        );
        out.persist(Part::Missing);
        match Payload::from_bytes(&m.payload) {
            Ok(Payload::Message(msg)) => self.message_received(now, &m, msg, out),
            Ok(Payload::Receipt(r)) => {
                for (msg_id, d) in self.outbox.receipt(&m.sender, &m.sender_device, r.ids()) {
                    out.push(Output::DeliveryUpdate {
                        msg_id,
                        delivered: d.delivered,
                        total: d.total,
                    });
                    out.persist(Part::Outbox);
                }
                if self
                    .groups
                    .chains_confirmed(m.sender, m.sender_device, r.ids())
                {
                    out.persist(Part::Groups);
                }
                for (msg_id, delivered, total) in self.groups.receipted(&m.sender, r.ids()) {
                    out.push(Output::DeliveryUpdate {
                        msg_id,
                        delivered,
                        total,
                    });
                    out.persist(Part::Groups);
                }
            }
            Ok(p @ (Payload::GroupOp { .. } | Payload::SenderKey(_))) => {
                self.group_payload(rng, now, &m, p, out);
            }
            Ok(Payload::ResetRequest(session)) => {
                self.reset_requested(rng, now, &m, SessionId::from_bytes(session), out);
            }
            Ok(Payload::AccountSync(state)) if m.sender == self.me.user_id => {
                self.account_synced(&state, out);
            }
            Ok(Payload::AccountSync(_)) => out.notice(Notice::SecurityEvent {
                kind: SecurityKind::ForgedPayload,
                user: m.sender,
            }),
            Ok(Payload::Signal(s)) => self.signal_received(rng, now, &m, s, out),
            Ok(Payload::DeviceLeft) => self.device_left_noticed(now, m.sender, out),
            // A group message's payload never comes in a pairwise envelope.
            Ok(Payload::GroupText(_)) | Err(_) => out.notice(Notice::Unreadable { user: m.sender }),
        }
        out.push(Output::Ack { blob_id });
    }

    /// A user's message: delivered once (seen-set), receipted every time (the sender
    /// stops re-sending only on a receipt).
    fn message_received(&mut self, now: u64, m: &OpenedMessage, msg: Message, out: &mut Out) {
        let from = m.sender;
        let own = from == self.me.user_id;
        if msg.sender().user_id() != from || (!own && *msg.conversation() != self.me.user_id) {
            out.notice(Notice::SecurityEvent {
                kind: SecurityKind::ForgedPayload,
                user: from,
            });
            return;
        }
        self.queue_receipt(from, m.sender_device, msg.msg_id(), out);
        let sent_at = msg.sent_at().max(m.sent_at);
        if !self.seen.insert(from, msg.msg_id(), sent_at, now) {
            return;
        }
        out.persist(Part::Seen);
        if !own {
            self.learn_username(msg.sender(), now, out);
        }
        let contact = self.account.get(&from);
        let verified = own || contact.is_some_and(|c| c.verified);
        let request = !own && !contact.is_some_and(|c| c.engaged);
        out.push(Output::Deliver(IncomingMessage {
            msg_id: msg.msg_id(),
            from,
            from_username: msg.sender().clone(),
            from_device: m.sender_device,
            conversation: if own { *msg.conversation() } else { from },
            own,
            verified,
            request,
            sent_at: msg.sent_at(),
            seq: msg.seq(),
            received_at: now,
            content_type: msg.content_type(),
            content: msg.into_content(),
        }));
    }

    /// The peer device cannot read `session`: if it is a session we hold with that very
    /// device, drop it and seal again (in a new session) what the device has not
    /// receipted, within the outbox's re-send budget. A request for a session we do not
    /// hold (already reset, replayed, stale) or that is another device's (a stranger
    /// naming someone else's session) changes nothing and sends nothing.
    fn reset_requested<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        m: &OpenedMessage,
        session: SessionId,
        out: &mut Out,
    ) {
        if session == m.session_id {
            // It reads this one: the request is stale or confused; nothing to do.
            return;
        }
        let Some(info) = self.sessions.session(&session) else {
            return;
        };
        if info.peer != m.sender || info.peer_device != m.sender_device {
            return;
        }
        self.sessions.forget_session(&session);
        out.persist(Part::Sessions);
        let resends = self.outbox.reset(&m.sender, &m.sender_device);
        self.resend(rng, now, resends, out);
    }
}
