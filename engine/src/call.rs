//! Voice calls' vocabulary (PROTOCOL.md 18.10): what the app and the page's WebRTC host
//! tell the engine about a call, what the engine asks of them, and the stable reasons a
//! call ends. The signalling is the direct channel's `Signal` payload with a call id
//! (`crate::direct`); the rules are in `engine/call.rs`.

use alloc::vec::Vec;

use crate::direct::CertFingerprint;

/// How long a call rings, in seconds, before the caller gives up ("no answer") and the
/// callee's devices stop ("missed").
pub const RING_TIMEOUT: u64 = 45;

/// What the user or the page's WebRTC host did about a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallAction {
    /// The user takes the incoming call (the page may now ask for the microphone).
    Accept,
    /// The user refuses the incoming call.
    Decline,
    /// The user ends the call (a caller's before an answer cancels it).
    HangUp,
    /// The page's local SDP, for the step the engine asked ([`MediaStep::Offer`] or
    /// [`MediaStep::Answer`]), with the SHA-256 of its fresh DTLS certificate.
    Local {
        /// The certificate's fingerprint.
        fingerprint: CertFingerprint,
        /// The SDP, every ICE candidate inline.
        sdp: Vec<u8>,
    },
    /// The media connection is up; `fingerprint` is SHA-256 of the certificate the
    /// remote side presented in the DTLS handshake.
    Opened {
        /// The remote certificate's fingerprint.
        fingerprint: CertFingerprint,
    },
    /// The page could not go on (no microphone, WebRTC refused, the connection failed).
    Failed,
    /// A timer the page set for the ring's deadline fired (the engine checks the time).
    Timer,
}

/// What the page's WebRTC host does next for a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MediaStep {
    /// Make a peer connection with the microphone and a fresh certificate, and give its
    /// offer back ([`CallAction::Local`]). Asked of the callee once it accepted.
    Offer,
    /// Make a peer connection with the microphone, set this remote offer (already
    /// checked against its sealed fingerprint) and give the answer back. Asked of the
    /// caller.
    Answer(Vec<u8>),
    /// Set this remote answer (already checked). Asked of the callee.
    Remote(Vec<u8>),
}

/// Where a call stands, as the app sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallState {
    /// Ringing the callee's devices (outgoing) or this one (incoming) until `until`
    /// (unix seconds; the page sets a timer for it and reports [`CallAction::Timer`]).
    Ringing {
        /// The deadline.
        until: u64,
    },
    /// Accepted; the media connection is being made.
    Connecting,
    /// Audio flows, with the sealed certificate on the other end.
    Connected,
    /// Over.
    Ended {
        /// Why.
        reason: CallEnd,
        /// Seconds it was connected (0 if it never was).
        duration: u64,
    },
}

/// Why a call ended, with a stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallEnd {
    /// One side hung up (or the caller cancelled before an answer).
    HungUp,
    /// The callee declined.
    Declined,
    /// Every device of the callee is in another call.
    Busy,
    /// Nobody answered before the ring timed out (the caller's view).
    NoAnswer,
    /// An incoming call that was not taken: the caller gave up, the ring timed out, it
    /// came while this device was in another call or offline (the callee's view).
    Missed,
    /// Another device of this account took or declined it.
    Elsewhere,
    /// Both called each other at once: this call gave way to the other's, which goes on.
    Merged,
    /// A signal's SDP, or the certificate the connection presented, is not the one the
    /// peer sealed (here or, as it reported, on the other side): never connected.
    FingerprintMismatch,
    /// The media connection could not be made or broke (or the microphone was refused).
    Failed,
    /// Calls are only for engaged contacts (not strangers, not this account).
    NotAllowed,
    /// No device of the contact is known (look it up first).
    NoDevices,
    /// This device is already in a call.
    InCall,
}

impl CallEnd {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            CallEnd::HungUp => "CALL_HUNG_UP",
            CallEnd::Declined => "CALL_DECLINED",
            CallEnd::Busy => "CALL_BUSY",
            CallEnd::NoAnswer => "CALL_NO_ANSWER",
            CallEnd::Missed => "CALL_MISSED",
            CallEnd::Elsewhere => "CALL_ELSEWHERE",
            CallEnd::Merged => "CALL_MERGED",
            CallEnd::FingerprintMismatch => "CALL_FINGERPRINT_MISMATCH",
            CallEnd::Failed => "CALL_FAILED",
            CallEnd::NotAllowed => "CALL_NOT_ALLOWED",
            CallEnd::NoDevices => "CALL_NO_DEVICES",
            CallEnd::InCall => "CALL_IN_PROGRESS",
        }
    }
}
