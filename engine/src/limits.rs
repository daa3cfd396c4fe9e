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

/// A member's `DeviceLeft` notice (PROTOCOL.md 17.1, 27.2 "Devices") makes this device
/// read that member's device list from the directory at most once in this long: the
/// notice carries nothing trusted, so a member that floods them (or a relay that
/// replays them, which the session's replay memory already stops) costs at most one
/// lookup a minute of its own list. A notice that comes sooner waits for the minute to
/// pass (a second revocation within it is not lost).
pub const DEVICE_LEFT_INTERVAL: u64 = 60;

/// Most re-sends of one message to one device, by the timer and by reset requests
/// together: a device offline for days, or a peer that keeps asking, costs at most this
/// many seals per message.
pub const MAX_RESENDS: u8 = 4;

/// A device asks a peer device to reset one session at most once in this long
/// (PROTOCOL.md 18.6).
pub const RESET_INTERVAL: u64 = 3600;

/// A device that gave its group chain to a member device and has no confirmation of it
/// (PROTOCOL.md 27.5 "Confirming a chain") gives it again this long after; each further
/// re-send waits 4 times longer (10 min, 40 min, 160 min, 640 min), at most
/// [`MAX_CHAIN_RESENDS`] times: a relay that took the deposit and dropped it costs that
/// member device minutes of its sender's messages, not the rest of the key epoch.
pub const CHAIN_RESEND_AFTER: u64 = 600;

/// Most re-sends of one chain to one device. Four intervals after the last one (about
/// 57 hours after the chain was first given) the device stops waiting for its
/// confirmation and forgets the chain key it kept for it.
pub const MAX_CHAIN_RESENDS: u8 = 4;

/// A group message that no held chain opens stays on the relay at least this long after
/// its first failed attempt (and at least [`MAX_OPEN_ATTEMPTS`] attempts), so that the
/// last re-send of its chain can still come and open it.
pub const CHAIN_WAIT: u64 = 86_400;

/// When the last re-send of a chain goes, after it was first given: the sum of the
/// intervals before each re-send.
pub const LAST_CHAIN_RESEND: u64 = {
    let mut at = 0;
    let mut wait = CHAIN_RESEND_AFTER;
    let mut n = 0;
    while n < MAX_CHAIN_RESENDS {
        at += wait;
        wait *= 4;
        n += 1;
    }
    at
};

// A message's receiver first tries it no earlier than its chain was given, so holding it
// CHAIN_WAIT after that covers every re-send of the chain, with hours to spare for a
// sender that was offline when one was due.
const _: () = assert!(LAST_CHAIN_RESEND + 8 * 3600 <= CHAIN_WAIT);
