//! Voice calls' rules (PROTOCOL.md 18.10): ringing every device of the callee, accept,
//! decline, busy, glare, the first device to accept wins, hang-up from either side, the
//! ring timeout and missed calls. The signalling is the direct channel's: `Signal`
//! payloads (with a call id) sealed to one device and deposited through the relay
//! (`seal_signal`), the SDP checked with `sdp_binds`, and the DTLS certificate the
//! connection presented compared with the sealed one before the call counts as
//! connected. The media (microphone, RTCPeerConnection) is the page's.

use alloc::vec::Vec;

use rand_core::CryptoRng;
use sealpost_core::UserId;
use sealpost_core::v2::DeviceId;

use super::Engine;
use super::out::Out;
use crate::action::Output;
use crate::call::{CallAction, CallEnd, CallState, MediaStep, RING_TIMEOUT};
use crate::direct::{CallId, CertFingerprint, SIGNAL_MAX_AGE, Signal, SignalKind, sdp_binds};

/// Ended calls remembered, so a late or repeated signal for one does nothing.
const ENDED_KEPT: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Ringing (either side).
    Ringing,
    /// The callee accepted: its offer is being made or was sent; waiting for the answer.
    Accepting,
    /// Offer and answer exchanged; waiting for the connection and its certificate.
    Connecting,
    /// Connected to the sealed certificate.
    Connected,
}

/// The local SDP the engine asked the page for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Asked {
    Nothing,
    Offer,
    Answer,
}

/// The call in progress (not persisted: a restart ends it, and the peer's side times
/// out or is hung up on).
#[derive(Clone, Debug)]
pub(super) struct Call {
    id: CallId,
    user: UserId,
    outgoing: bool,
    /// Outgoing: the devices rung that may still answer. Incoming: the caller's device.
    devices: Vec<DeviceId>,
    /// The device the call is with: the caller's, or the callee's that accepted first.
    peer: Option<DeviceId>,
    phase: Phase,
    /// Ringing: the deadline. Later: when the phase began (a connection not made within
    /// `SIGNAL_MAX_AGE` of it fails).
    at: u64,
    asked: Asked,
    /// The certificate the peer sealed with its offer or answer.
    remote: Option<CertFingerprint>,
    connected_at: Option<u64>,
}

/// This device's calls: at most one at a time.
#[derive(Debug, Default)]
pub(super) struct Calls {
    current: Option<Call>,
    ended: Vec<CallId>,
}

impl Calls {
    fn remember(&mut self, call: CallId) {
        if self.ended.len() == ENDED_KEPT {
            self.ended.remove(0);
        }
        self.ended.push(call);
    }
}

fn state(call: &Call, state: CallState) -> Output {
    Output::CallState {
        call: call.id,
        user: call.user,
        device: call.peer,
        outgoing: call.outgoing,
        state,
    }
}

fn refused(
    call: CallId,
    user: UserId,
    device: Option<DeviceId>,
    outgoing: bool,
    reason: CallEnd,
) -> Output {
    Output::CallState {
        call,
        user,
        device,
        outgoing,
        state: CallState::Ended {
            reason,
            duration: 0,
        },
    }
}

impl Engine {
    /// `Input::CallStart`: ring every current device of an engaged contact.
    pub(super) fn call_start<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        call: CallId,
        user: UserId,
        out: &mut Out,
    ) {
        let reason = if self.calls.current.is_some() {
            Some(CallEnd::InCall)
        } else if user == self.me.user_id
            || !self.trusts(&user)
            || self.contact_identity_changed(&user)
        {
            Some(CallEnd::NotAllowed)
        } else {
            None
        };
        let devices: Vec<DeviceId> = self
            .current_devices(&user)
            .into_iter()
            .map(|(_, d)| d)
            .collect();
        let reason = reason.or(devices.is_empty().then_some(CallEnd::NoDevices));
        if let Some(reason) = reason {
            return out.push(refused(call, user, None, true, reason));
        }
        for device in &devices {
            self.call_signal(rng, now, user, *device, SignalKind::Ring, call, None, out);
        }
        let c = Call {
            id: call,
            user,
            outgoing: true,
            devices,
            peer: None,
            phase: Phase::Ringing,
            at: now + RING_TIMEOUT,
            asked: Asked::Nothing,
            remote: None,
            connected_at: None,
        };
        out.push(state(&c, CallState::Ringing { until: c.at }));
        self.calls.current = Some(c);
    }

    /// `Input::Call`: the user or the page acted on the current call.
    pub(super) fn call_action<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        call: CallId,
        action: CallAction,
        out: &mut Out,
    ) {
        let Some(c) = self.calls.current.as_mut().filter(|c| c.id == call) else {
            return;
        };
        let (outgoing, phase, user, peer) = (c.outgoing, c.phase, c.user, c.peer);
        match action {
            CallAction::Accept if !outgoing && phase == Phase::Ringing => {
                c.phase = Phase::Accepting;
                c.at = now;
                c.asked = Asked::Offer;
                out.push(state(c, CallState::Connecting));
                media(c, MediaStep::Offer, out);
            }
            CallAction::Decline | CallAction::HangUp if !outgoing && phase == Phase::Ringing => {
                self.call_notify(rng, now, SignalKind::Decline, out);
                self.call_end(now, CallEnd::Declined, out);
            }
            CallAction::HangUp => {
                self.call_notify(rng, now, SignalKind::HangUp, out);
                self.call_end(now, CallEnd::HungUp, out);
            }
            CallAction::Local { fingerprint, sdp } => {
                let kind = match c.asked {
                    Asked::Offer => SignalKind::Accept,
                    Asked::Answer => SignalKind::CallAnswer,
                    Asked::Nothing => return,
                };
                c.asked = Asked::Nothing;
                if let Some(device) = peer {
                    let local = Some((fingerprint, sdp));
                    self.call_signal(rng, now, user, device, kind, call, local, out);
                }
            }
            CallAction::Opened { fingerprint } if phase == Phase::Connecting => {
                if c.remote != Some(fingerprint) {
                    self.call_notify(rng, now, SignalKind::Refuse, out);
                    return self.call_end(now, CallEnd::FingerprintMismatch, out);
                }
                c.phase = Phase::Connected;
                c.connected_at = Some(now);
                out.push(state(c, CallState::Connected));
            }
            CallAction::Failed => {
                self.call_notify(rng, now, SignalKind::HangUp, out);
                self.call_end(now, CallEnd::Failed, out);
            }
            CallAction::Timer => self.call_tick(rng, now, out),
            _ => {}
        }
    }

    /// On every tick (and the page's ring timer): a ring past its deadline ends (no
    /// answer for the caller, who tells the devices it rang; missed for the callee), and
    /// a connection not made within `SIGNAL_MAX_AGE` of the accept fails.
    pub(super) fn call_tick<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        out: &mut Out,
    ) {
        let Some(c) = &self.calls.current else {
            return;
        };
        let reason = match c.phase {
            Phase::Ringing if now >= c.at && c.outgoing => CallEnd::NoAnswer,
            Phase::Ringing if now >= c.at => return self.call_end(now, CallEnd::Missed, out),
            Phase::Accepting | Phase::Connecting if now.saturating_sub(c.at) > SIGNAL_MAX_AGE => {
                CallEnd::Failed
            }
            _ => return,
        };
        self.call_notify(rng, now, SignalKind::HangUp, out);
        self.call_end(now, reason, out);
    }

    /// A call's `Signal` from an engaged contact's device (the caller checked that).
    pub(super) fn call_received<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        (user, device): (UserId, DeviceId),
        call: CallId,
        s: Signal,
        out: &mut Out,
    ) {
        if s.sent_at.saturating_sub(now) > SIGNAL_MAX_AGE || self.calls.ended.contains(&call) {
            return;
        }
        if s.kind == SignalKind::Ring {
            return self.ring_received(rng, now, (user, device), call, s.sent_at, out);
        }
        if now.saturating_sub(s.sent_at) > SIGNAL_MAX_AGE {
            return;
        }
        let Some(c) = self
            .calls
            .current
            .as_mut()
            .filter(|c| c.id == call && c.user == user)
        else {
            return;
        };
        let from_peer = c.peer == Some(device);
        let rung = c.outgoing && c.phase == Phase::Ringing && c.devices.contains(&device);
        match (c.outgoing, s.kind) {
            (true, SignalKind::Accept) if rung => {
                if !sdp_binds(&s.sdp, &s.fingerprint) {
                    c.peer = Some(device);
                    self.call_notify(rng, now, SignalKind::Refuse, out);
                    self.call_others(rng, now, out);
                    return self.call_end(now, CallEnd::FingerprintMismatch, out);
                }
                c.peer = Some(device);
                c.remote = Some(s.fingerprint);
                c.phase = Phase::Connecting;
                c.at = now;
                c.asked = Asked::Answer;
                out.push(state(c, CallState::Connecting));
                media(c, MediaStep::Answer(s.sdp), out);
                self.call_others(rng, now, out);
            }
            // Another device accepted first: this one stops.
            (true, SignalKind::Accept) if c.devices.contains(&device) && !from_peer => {
                self.call_signal(rng, now, user, device, SignalKind::Taken, call, None, out);
            }
            (true, SignalKind::Decline) if rung => {
                c.peer = Some(device);
                self.call_others(rng, now, out);
                self.call_end(now, CallEnd::Declined, out);
            }
            // A device in another call, or one that accepted and then failed or hung
            // up before its offer came: the others may still answer.
            (true, kind @ (SignalKind::Busy | SignalKind::HangUp)) if rung => {
                c.devices.retain(|d| *d != device);
                if c.devices.is_empty() {
                    let reason = match kind {
                        SignalKind::Busy => CallEnd::Busy,
                        _ => CallEnd::HungUp,
                    };
                    self.call_end(now, reason, out);
                }
            }
            (false, SignalKind::CallAnswer) if from_peer && c.phase == Phase::Accepting => {
                if !sdp_binds(&s.sdp, &s.fingerprint) {
                    self.call_notify(rng, now, SignalKind::Refuse, out);
                    return self.call_end(now, CallEnd::FingerprintMismatch, out);
                }
                c.remote = Some(s.fingerprint);
                c.phase = Phase::Connecting;
                c.at = now;
                media(c, MediaStep::Remote(s.sdp), out);
            }
            (_, SignalKind::HangUp) if from_peer => {
                let reason = match c.phase {
                    Phase::Ringing => CallEnd::Missed,
                    _ => CallEnd::HungUp,
                };
                self.call_end(now, reason, out);
            }
            (false, SignalKind::Taken) if from_peer => self.call_end(now, CallEnd::Elsewhere, out),
            (_, SignalKind::Refuse) if from_peer => {
                self.call_end(now, CallEnd::FingerprintMismatch, out)
            }
            _ => {}
        }
    }

    /// A `Ring`: rings here, or is a missed call (too old, or this device is in another
    /// call, which the caller hears as busy), or is glare.
    fn ring_received<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        (user, device): (UserId, DeviceId),
        call: CallId,
        sent_at: u64,
        out: &mut Out,
    ) {
        let mut c = Call {
            id: call,
            user,
            outgoing: false,
            devices: alloc::vec![device],
            peer: Some(device),
            phase: Phase::Ringing,
            at: sent_at.min(now) + RING_TIMEOUT,
            asked: Asked::Nothing,
            remote: None,
            connected_at: None,
        };
        let current = self
            .calls
            .current
            .as_ref()
            .map(|o| (o.id, o.outgoing, o.user, o.phase));
        match current {
            Some((id, ..)) if id == call => {}
            _ if now >= c.at => {
                // It rang while this device was offline.
                self.calls.remember(call);
                out.push(state(
                    &c,
                    CallState::Ended {
                        reason: CallEnd::Missed,
                        duration: 0,
                    },
                ));
            }
            None => {
                out.push(state(&c, CallState::Ringing { until: c.at }));
                self.calls.current = Some(c);
            }
            // Glare: both called each other. The device with the smaller
            // `user_id || device_id` keeps its call (the other's ring is ignored); the
            // other ends its own as merged and takes this one at once.
            Some((_, true, u, Phase::Ringing)) if u == user => {
                if (self.me.user_id, self.me.device_id()) < (user, device) {
                    return;
                }
                self.call_notify(rng, now, SignalKind::Taken, out);
                self.call_end(now, CallEnd::Merged, out);
                c.phase = Phase::Accepting;
                c.at = now;
                c.asked = Asked::Offer;
                out.push(state(&c, CallState::Connecting));
                media(&c, MediaStep::Offer, out);
                self.calls.current = Some(c);
            }
            Some(_) => {
                self.call_signal(rng, now, user, device, SignalKind::Busy, call, None, out);
                self.calls.remember(call);
                out.push(state(
                    &c,
                    CallState::Ended {
                        reason: CallEnd::Missed,
                        duration: 0,
                    },
                ));
            }
        }
    }

    /// Seals a note about the current call to the other side: the device it is with, or
    /// (a caller still ringing) every device rung.
    fn call_notify<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        kind: SignalKind,
        out: &mut Out,
    ) {
        let Some(c) = &self.calls.current else {
            return;
        };
        let (user, call) = (c.user, c.id);
        let to: Vec<DeviceId> = match c.peer {
            Some(d) => alloc::vec![d],
            None => c.devices.clone(),
        };
        for device in to {
            self.call_signal(rng, now, user, device, kind, call, None, out);
        }
    }

    /// Tells the callee's devices other than the one the call went to to stop ringing.
    fn call_others<R: CryptoRng + ?Sized>(&mut self, rng: &mut R, now: u64, out: &mut Out) {
        let Some(c) = &self.calls.current else {
            return;
        };
        let (user, call) = (c.user, c.id);
        let others: Vec<DeviceId> = c
            .devices
            .iter()
            .filter(|d| Some(**d) != c.peer)
            .copied()
            .collect();
        for device in others {
            self.call_signal(rng, now, user, device, SignalKind::Taken, call, None, out);
        }
    }

    /// Ends the current call: the app hears why and how long it was connected.
    fn call_end(&mut self, now: u64, reason: CallEnd, out: &mut Out) {
        let Some(c) = self.calls.current.take() else {
            return;
        };
        let duration = c.connected_at.map_or(0, |t| now.saturating_sub(t));
        out.push(state(&c, CallState::Ended { reason, duration }));
        self.calls.remember(c.id);
    }

    #[allow(clippy::too_many_arguments)] // one signal's fields, spelled out
    fn call_signal<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        user: UserId,
        device: DeviceId,
        kind: SignalKind,
        call: CallId,
        local: Option<(CertFingerprint, Vec<u8>)>,
        out: &mut Out,
    ) {
        let (fingerprint, sdp) = local.unwrap_or(([0; 32], Vec::new()));
        let signal = Signal {
            kind,
            sent_at: now,
            fingerprint,
            sdp,
            call: Some(call),
        };
        self.seal_signal(rng, now, user, device, signal, out);
    }
}

fn media(c: &Call, step: MediaStep, out: &mut Out) {
    if let Some(device) = c.peer {
        out.push(Output::CallMedia {
            call: c.id,
            user: c.user,
            device,
            step,
        });
    }
}
