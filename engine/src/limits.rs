//! Time limits shared by the engine's memories.

/// How long an envelope is accepted after its `sent_at` (design 2.3): the relay's 14-day
/// retention plus an hour of clock skew. Every memory that refuses replays keeps its
/// entries exactly this long, so nothing old enough to be forgotten can still open.
pub const MAX_MESSAGE_AGE: u64 = sealpost_core::v2::MAX_MESSAGE_AGE;

/// How far in the future a peer's clock may be (design 2.3).
pub const CLOCK_SKEW: u64 = sealpost_core::CLOCK_SKEW;

/// A skipped message still missing after this long is surfaced once (design 3).
pub const MISSING_AFTER: u64 = 3600;

/// An envelope that failed to open this many times is acknowledged (design 3).
pub const MAX_OPEN_ATTEMPTS: u8 = 3;

/// A target device that has not receipted a message this long after it was sealed to
/// it gets it again, in a new session; each further re-send waits 4 times longer (1 h,
/// 4 h, 16 h, 64 h), at most [`MAX_RESENDS`] times (PROTOCOL.md 18.4).
pub const RESEND_AFTER: u64 = 3600;

/// Most re-sends of one message to one device, by the timer and by reset requests
/// together: a device offline for days, or a peer that keeps asking, costs at most this
/// many seals per message.
pub const MAX_RESENDS: u8 = 4;

/// A device asks a peer device to reset one session at most once in this long
/// (PROTOCOL.md 18.6).
pub const RESET_INTERVAL: u64 = 3600;
