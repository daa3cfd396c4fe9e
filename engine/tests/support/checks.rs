//! What tests read off devices and the relay, and the one way they break a device's
//! stored sessions (shared: each test file used to have its own copy).

use sealpost_core::UserId;
use sealpost_core::v2::{DeviceId, SessionStore};
use sealpost_engine::{Notice, Part};

use super::{Device, Relay, T0, register};

/// An hour in seconds.
pub const HOUR: u64 = 3600;

/// Envelopes deposited for `(user, device)` since log position `from`.
pub fn deposits_to(relay: &Relay, from: usize, user: UserId, device: DeviceId) -> usize {
    relay.log[from..]
        .iter()
        .filter(|(u, d, _)| *u == user && *d == device)
        .count()
}

/// "May be missing" notices `d` got.
pub fn maybe_missing(d: &Device) -> usize {
    d.notices
        .iter()
        .filter(|n| matches!(n, Notice::MaybeMissing { .. }))
        .count()
}

/// "Could not decrypt" notices for blobs `d` gave up on.
pub fn gave_up_notices(d: &Device) -> usize {
    d.notices
        .iter()
        .filter(|n| matches!(n, Notice::CouldNotDecrypt { gave_up: true, .. }))
        .count()
}

/// `d`'s stored session store.
pub fn sessions_of(d: &Device) -> SessionStore {
    SessionStore::from_secret_bytes(d.store.get(&Part::Sessions).unwrap()).unwrap()
}

/// `d`'s stored sessions with the send chain key of its only session altered (a chain
/// out of sync, e.g. a corrupted or half-restored store), then a restart: its next
/// messages' headers open at the receiver, their bodies do not.
pub fn desync_send_chain(d: &mut Device) {
    let mut b = d.store.get(&Part::Sessions).unwrap().to_vec();
    assert_eq!(&b[2..6], &1u32.to_be_bytes(), "one session");
    let mut at = 2 + 4 + 16 + 32 + 16;
    let spki = usize::from(u16::from_be_bytes([b[at], b[at + 1]]));
    at += 2 + spki + 4 * 8 + 1;
    let init = usize::from(u16::from_be_bytes([b[at], b[at + 1]]));
    at += 2 + init;
    b[at] ^= 1;
    d.store.insert(Part::Sessions, b.into());
    d.restart();
}

/// Alice and bob (one device each) have written to each other (alice first): one
/// confirmed session between them, everything receipted.
pub fn talked(relay: &mut Relay) -> (Device, Device) {
    let mut alice = register(relay, "alice", 1);
    let mut bob = register(relay, "bob", 2);
    alice.send(relay, T0 + 1, "bob", "hi");
    bob.receive(relay, T0 + 2);
    bob.send(relay, T0 + 3, "alice", "hello");
    alice.receive(relay, T0 + 4);
    bob.receive(relay, T0 + 5);
    assert_eq!(alice.engine.outbox_len(), 0);
    assert_eq!(bob.engine.outbox_len(), 0);
    (alice, bob)
}
