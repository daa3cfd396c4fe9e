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
