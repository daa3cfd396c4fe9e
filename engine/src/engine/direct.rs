//! The direct channel's rules (PROTOCOL.md 18.9): when to offer, which signals to take,
//! the DTLS fingerprint binding, which transport a deposit takes, and the silent fall
//! back to the relay. The WebRTC I/O is the driver's; the channel only carries the
//! envelopes the relay would have carried, so ordering, receipts, healing and
//! exactly-once (the seen-set; a blob that came both ways is a replay) are unchanged.

use alloc::vec::Vec;

use rand_core::CryptoRng;
use sealpost_core::UserId;
use sealpost_core::v2::{DeviceId, OpenedMessage};

use super::Engine;
use super::out::Out;
use crate::action::{DepositHandle, Output, Part};
use crate::codec::Codec;
use crate::direct::{
    self, CertFingerprint, DirectError, Frame, MAX_DIRECT_ENVELOPE, SIGNAL_MAX_AGE, Signal,
    SignalKind, sdp_binds,
};
use crate::payload::Payload;

/// Where the channel to one device stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// We asked the driver for an offer, or sent it; waiting for the answer.
    Offering,
    /// We took the device's offer and answer it.
    Answering,
    /// Connected, and the certificate was the sealed one: deposits go direct.
    Open,
}

/// The channel to one device (not persisted: a restart starts over on the relay).
#[derive(Clone, Debug)]
pub(super) struct Peer {
    pub(super) phase: Phase,
    /// When this phase began (an offer never answered is retried after
    /// [`SIGNAL_MAX_AGE`]).
    since: u64,
    /// The certificate the device sealed in its offer or answer.
    remote: Option<CertFingerprint>,
    /// Our offer as sealed (fingerprint, SDP), to send again on glare.
    offer: Option<(CertFingerprint, Vec<u8>)>,
}

/// The channels, per contact device. A list, not a map: a handful of entries, and one
/// more map type would cost the wasm build its own copy of the B-tree code.
#[derive(Debug, Default)]
pub(super) struct Peers(Vec<((UserId, DeviceId), Peer)>);

impl Peers {
    fn get(&self, key: &(UserId, DeviceId)) -> Option<&Peer> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, p)| p)
    }

    fn get_mut(&mut self, key: &(UserId, DeviceId)) -> Option<&mut Peer> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, p)| p)
    }

    fn contains_key(&self, key: &(UserId, DeviceId)) -> bool {
        self.get(key).is_some()
    }

    fn insert(&mut self, key: (UserId, DeviceId), peer: Peer) {
        match self.get_mut(&key) {
            Some(p) => *p = peer,
            None => self.0.push((key, peer)),
        }
    }

    fn remove(&mut self, key: &(UserId, DeviceId)) -> Option<Peer> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.swap_remove(i).1)
    }
}

impl Engine {
    /// `Input::ConnectDirect`: offer a channel to every device of an engaged contact
    /// that has none (or only a stale offer).
    pub(super) fn connect_direct(&mut self, now: u64, user: UserId, out: &mut Out) {
        if user == self.me.user_id || !self.trusts(&user) || self.contact_identity_changed(&user) {
            return refused(user, None, DirectError::NotAllowed, out);
        }
        let devices = self.current_devices(&user);
        if devices.is_empty() {
            return refused(user, None, DirectError::NoDevices, out);
        }
        for (user, device) in devices {
            let busy = self.direct.get(&(user, device)).is_some_and(|p| {
                p.phase == Phase::Open || now.saturating_sub(p.since) <= SIGNAL_MAX_AGE
            });
            if !busy {
                self.direct.insert(
                    (user, device),
                    Peer {
                        phase: Phase::Offering,
                        since: now,
                        remote: None,
                        offer: None,
                    },
                );
                out.push(Output::DirectStart { user, device });
            }
        }
    }

    /// `Input::DirectLocal`: seal this device's offer, answer or close to the peer device
    /// and deposit it through the relay (never over the channel it sets up).
    pub(super) fn direct_local<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        user: UserId,
        device: DeviceId,
        signal: Signal,
        out: &mut Out,
    ) {
        let phase = self.direct.get(&(user, device)).map(|p| p.phase);
        let expected = match signal.kind {
            SignalKind::Offer => phase == Some(Phase::Offering),
            SignalKind::Answer => phase == Some(Phase::Answering),
            SignalKind::Close => true,
            // A call's signals are sealed by the call's rules (`call.rs`) only.
            _ => false,
        };
        if !expected {
            return;
        }
        if signal.kind == SignalKind::Close {
            self.direct_closed(user, device, None, out);
        }
        if let (SignalKind::Offer, Some(p)) = (signal.kind, self.direct.get_mut(&(user, device))) {
            p.offer = Some((signal.fingerprint, signal.sdp.clone()));
        }
        self.seal_signal(rng, now, user, device, signal, out);
    }

    /// Seals a signal to one device and deposits it through the relay.
    pub(super) fn seal_signal<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        user: UserId,
        device: DeviceId,
        signal: Signal,
        out: &mut Out,
    ) {
        let payload = Payload::Signal(signal).to_bytes();
        if let Ok(envelope) = self.seal_to(rng, now, &user, &device, &payload) {
            out.persist(Part::Sessions);
            let handle = self.next_handle();
            out.push(Output::Deposit {
                to: user,
                device,
                envelope: envelope.clone(),
                handle,
            });
            self.track(handle, user, device, envelope, None, false);
        }
    }

    /// A `Signal` payload from a device: taken only from an engaged contact, fresh, and
    /// with an SDP that names exactly the certificate it sealed.
    pub(super) fn signal_received<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        m: &OpenedMessage,
        s: Signal,
        out: &mut Out,
    ) {
        let (user, device) = (m.sender, m.sender_device);
        if user == self.me.user_id || !self.trusts(&user) {
            return;
        }
        if let Some(call) = s.call {
            return self.call_received(rng, now, (user, device), call, s, out);
        }
        let fresh = now.saturating_sub(s.sent_at) <= SIGNAL_MAX_AGE
            && s.sent_at.saturating_sub(now) <= SIGNAL_MAX_AGE;
        if !fresh {
            return;
        }
        if s.kind == SignalKind::Close {
            if self.direct.contains_key(&(user, device)) {
                out.push(signal_out(user, device, &s));
                self.direct_closed(user, device, None, out);
            }
            return;
        }
        if !sdp_binds(&s.sdp, &s.fingerprint) {
            return self.refuse(user, device, DirectError::FingerprintMismatch, out);
        }
        let peer = self
            .direct
            .get(&(user, device))
            .map(|p| (p.phase, p.remote, p.offer.clone()));
        let take = match (s.kind, peer) {
            // A copy of the offer this device answers (or answered): sent again on glare.
            (SignalKind::Offer, Some((_, remote, _))) if remote == Some(s.fingerprint) => false,
            // Both offered: the device with the larger (user, device) answers; the
            // smaller keeps its offer and sends it again, in case the other dropped the
            // first (it came while this device was still a stranger to it, say).
            (SignalKind::Offer, Some((Phase::Offering, _, ours))) => {
                if (self.me.user_id, self.me.device_id()) > (user, device) {
                    true
                } else {
                    if let Some((fingerprint, sdp)) = ours {
                        let again = Signal {
                            kind: SignalKind::Offer,
                            sent_at: now,
                            fingerprint,
                            sdp,
                            call: None,
                        };
                        self.seal_signal(rng, now, user, device, again, out);
                    }
                    false
                }
            }
            (SignalKind::Offer, Some(_)) => {
                // The device started over (a reload): so does this side.
                self.direct_closed(user, device, None, out);
                true
            }
            (SignalKind::Offer, None) => true,
            (SignalKind::Answer, Some((Phase::Offering, _, _))) => true,
            _ => false,
        };
        if !take {
            return;
        }
        let phase = match s.kind {
            SignalKind::Offer => Phase::Answering,
            _ => Phase::Offering,
        };
        let offer = self
            .direct
            .get(&(user, device))
            .and_then(|p| p.offer.clone());
        self.direct.insert(
            (user, device),
            Peer {
                phase,
                since: now,
                remote: Some(s.fingerprint),
                offer: if phase == Phase::Offering {
                    offer
                } else {
                    None
                },
            },
        );
        out.push(signal_out(user, device, &s));
    }

    /// `Input::DirectOpened`: the channel is used only if the certificate the connection
    /// presented is the one the device sealed.
    pub(super) fn direct_opened(
        &mut self,
        user: UserId,
        device: DeviceId,
        seen: CertFingerprint,
        out: &mut Out,
    ) {
        let Some(peer) = self.direct.get_mut(&(user, device)) else {
            return;
        };
        if peer.phase == Phase::Open {
            return;
        }
        if peer.remote != Some(seen) {
            return self.refuse(user, device, DirectError::FingerprintMismatch, out);
        }
        peer.phase = Phase::Open;
        out.push(Output::DirectState {
            user,
            device: Some(device),
            open: true,
            error: None,
        });
    }

    /// The channel to `device` is gone (`Input::DirectClosed`, a close signal, a refusal,
    /// a peer that stopped acknowledging): what it had not acknowledged goes through the
    /// relay, the same envelopes (a copy that arrives twice is a replay there).
    pub(super) fn direct_closed(
        &mut self,
        user: UserId,
        device: DeviceId,
        error: Option<DirectError>,
        out: &mut Out,
    ) {
        if self.direct.remove(&(user, device)).is_none() {
            return;
        }
        for (handle, d) in &mut self.in_flight {
            if d.direct && d.to == user && d.device == device {
                d.direct = false;
                d.failed = false;
                out.push(Output::Deposit {
                    to: d.to,
                    device: d.device,
                    envelope: d.envelope.clone(),
                    handle: *handle,
                });
            }
        }
        out.push(Output::DirectState {
            user,
            device: Some(device),
            open: false,
            error,
        });
    }

    fn refuse(&mut self, user: UserId, device: DeviceId, error: DirectError, out: &mut Out) {
        if self.direct.contains_key(&(user, device)) {
            self.direct_closed(user, device, Some(error), out);
        } else {
            refused(user, Some(device), error, out);
        }
    }

    /// `Input::DirectFrame`: an envelope (handled as a blob whose acknowledgement goes
    /// back on the channel) or an acknowledgement of ours. Only on an open channel.
    pub(super) fn direct_frame<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        user: UserId,
        device: DeviceId,
        frame: &[u8],
        out: &mut Out,
    ) {
        if self.direct.get(&(user, device)).map(|p| p.phase) != Some(Phase::Open) {
            return;
        }
        match Frame::from_bytes(frame) {
            Ok(Frame::Blob { seq, envelope }) => self.receive(
                rng,
                now,
                direct::blob_id(&user, &device, seq),
                envelope,
                out,
            ),
            Ok(Frame::Ack { seq }) => {
                let handle = DepositHandle(seq);
                let ours = self
                    .in_flight
                    .get(&handle)
                    .is_some_and(|d| d.direct && d.to == user && d.device == device);
                if ours {
                    self.deposit_done(handle, out);
                }
            }
            // A peer that speaks nonsense gets the relay.
            Err(_) => self.direct_closed(user, device, None, out),
        }
    }

    /// Which transport a deposit takes: the open channel to its device, unless the
    /// envelope is too big for one channel message.
    pub(super) fn transport(
        &self,
        to: UserId,
        device: DeviceId,
        envelope: &[u8],
        handle: DepositHandle,
    ) -> (bool, Output) {
        let open = self.direct.get(&(to, device)).map(|p| p.phase) == Some(Phase::Open);
        if open && envelope.len() <= MAX_DIRECT_ENVELOPE {
            let frame = Frame::Blob {
                seq: handle.0,
                envelope: envelope.to_vec(),
            };
            let frame = frame.to_bytes();
            (true, Output::DirectFrame { to, device, frame })
        } else {
            let envelope = envelope.to_vec();
            (
                false,
                Output::Deposit {
                    to,
                    device,
                    envelope,
                    handle,
                },
            )
        }
    }

    /// On every tick: a channel deposit not acknowledged since the previous tick goes
    /// through the relay too (the peer may be stuck), and offers never answered expire.
    pub(super) fn direct_tick(&mut self, now: u64, out: &mut Out) {
        let mut stuck = Vec::new();
        for (handle, d) in &mut self.in_flight {
            if d.direct {
                if d.aged {
                    d.direct = false;
                    stuck.push(Output::Deposit {
                        to: d.to,
                        device: d.device,
                        envelope: d.envelope.clone(),
                        handle: *handle,
                    });
                } else {
                    d.aged = true;
                }
            }
        }
        for o in stuck {
            out.push(o);
        }
        let stale: Vec<(UserId, DeviceId)> = self
            .direct
            .0
            .iter()
            .filter(|(_, p)| p.phase != Phase::Open && now.saturating_sub(p.since) > SIGNAL_MAX_AGE)
            .map(|(k, _)| *k)
            .collect();
        for (user, device) in stale {
            self.direct_closed(user, device, None, out);
        }
    }
}

fn signal_out(user: UserId, device: DeviceId, s: &Signal) -> Output {
    Output::DirectSignal {
        user,
        device,
        kind: s.kind,
        sdp: s.sdp.clone(),
    }
}

fn refused(user: UserId, device: Option<DeviceId>, error: DirectError, out: &mut Out) {
    out.push(Output::DirectState {
        user,
        device,
        open: false,
        error: Some(error),
    });
}
