//! v2 fixtures: devices built from the RSA-2048 fixture keys (no key generation).
//!
//! - alice/A: alice's identity, device `a1…`, encryption key `alice`
//! - alice/B: alice's identity, device `a2…`, encryption key `carol-id`
//! - bob/B1:  bob's identity, device `b1…`, encryption key `bob`
//! - mallory: carol's identity claiming to be whoever the test says, key `carol`

use sealpost_core::v2::{
    DeviceBundle, DeviceEntry, DeviceId, DeviceKeys, DeviceList, OpenedMessage, Opening,
    SealedEnvelope, SessionStore,
};
use sealpost_core::{Error, IdentityKey};

use super::*;

pub struct Dev {
    pub name: &'static str,
    pub identity: IdentityKey,
    pub keys: DeviceKeys,
    pub bundle: DeviceBundle,
    pub store: SessionStore,
    /// Seeds each seal's RNG differently (per device and call).
    pub seq: u64,
}

/// A device of `user` whose identity key is `identity_of`'s fixture key.
pub fn dev(name: &'static str, user: &str, identity_of: &str, device: u8, enc: &str) -> Dev {
    let identity = identity_key(identity_of);
    let mut keys = DeviceKeys::from_key(
        &mut rng(u64::from(device)),
        &identity,
        user_id(user),
        DeviceId::from_bytes([device; 16]),
        device_key(enc),
        T0,
    )
    .unwrap();
    let bundle = keys
        .bundle(&mut rng(u64::from(device) + 1000), &identity, T0)
        .unwrap();
    Dev {
        name,
        identity,
        keys,
        bundle,
        store: SessionStore::new(),
        seq: 0,
    }
}

pub fn alice_a() -> Dev {
    dev("alice/A", "alice", "alice", 0xa1, "alice")
}
pub fn alice_b() -> Dev {
    dev("alice/B", "alice", "alice", 0xa2, "carol-id")
}
pub fn bob() -> Dev {
    dev("bob", "bob", "bob", 0xb1, "bob")
}
/// Carol's keys claiming `claimed`'s user id and `device`.
pub fn mallory_as(claimed: &str, device: u8) -> Dev {
    dev("mallory", claimed, "carol", device, "carol")
}

pub fn list_of(devs: &[&Dev]) -> DeviceList {
    let entries = devs
        .iter()
        .map(|d| DeviceEntry {
            id: *d.keys.device_id(),
            added_at: T0,
            name: d.name.into(),
        })
        .collect();
    DeviceList::sign(
        &mut rng(77),
        *devs[0].keys.user_id(),
        &devs[0].identity,
        T0,
        entries,
    )
    .unwrap()
}

impl Dev {
    pub fn seal(&mut self, to: &DeviceBundle, payload: &[u8], now: u64) -> SealedEnvelope {
        self.seq += 1;
        let name = self
            .name
            .bytes()
            .fold(0u64, |h, c| h.wrapping_mul(31) ^ u64::from(c));
        let seed = name ^ (u64::from(self.keys.device_id().as_bytes()[0]) << 32) ^ self.seq;
        self.seal_rng(to, payload, now, seed)
    }

    pub fn seal_rng(
        &mut self,
        to: &DeviceBundle,
        payload: &[u8],
        now: u64,
        seed: u64,
    ) -> SealedEnvelope {
        self.store
            .seal(&mut rng(seed), &self.identity, &self.keys, to, payload, now)
            .unwrap()
    }

    pub fn open(&mut self, envelope: &[u8], now: u64) -> Result<Opening, Error> {
        self.store.open(&mut rng(9), &self.keys, envelope, now)
    }

    /// Opens, accepting a pending init as trusted.
    pub fn recv(&mut self, envelope: &[u8], now: u64) -> Result<OpenedMessage, Error> {
        match self.open(envelope, now)? {
            Opening::Message(m) => Ok(m),
            Opening::Pending(p) => self.store.accept(*p, true, now),
        }
    }

    /// The store's secret bytes (to check that nothing changed).
    pub fn state(&self) -> Vec<u8> {
        self.store.to_secret_bytes().unwrap().to_vec()
    }
}

pub fn expect_message(o: Opening) -> OpenedMessage {
    match o {
        Opening::Message(m) => m,
        Opening::Pending(p) => panic!("expected a message, got {p:?}"),
    }
}
