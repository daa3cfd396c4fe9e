//! Strangers with accounts of their own: registered on the relay under any name (with a
//! fixture identity key), each able to start as many sessions as it likes, cheaply, by
//! sealing every init with a fresh session store (what an attacker's own client does).

use sealpost_core::v2::{DeviceBundle, DeviceId, DeviceKeys, SessionStore};
use sealpost_core::{IdentityKey, UserId, Username};
use sealpost_engine::codec::Codec;
use sealpost_engine::payload::{Message, Payload};
use sealpost_engine::{Engine, MsgId};

use super::{Device, Relay, T0, device, encryption_key, identity_key, rng};

/// A registered account that is nobody's contact yet.
pub struct Stranger {
    pub name: Username,
    pub identity: IdentityKey,
    pub keys: DeviceKeys,
    rng: rand_chacha::ChaCha20Rng,
}

fn keys(name: &Username, identity: &IdentityKey, seed: u64) -> DeviceKeys {
    let mut r = rng(seed);
    let device_id = DeviceId::generate(&mut r);
    DeviceKeys::from_key(
        &mut r,
        identity,
        name.user_id(),
        device_id,
        encryption_key(2),
        T0,
    )
    .unwrap()
}

impl Stranger {
    /// Registers `name` (carol's fixture identity key) on the relay.
    pub fn register(relay: &mut Relay, name: &str, seed: u64) -> (Self, Device) {
        let name = Username::parse(name).unwrap();
        let identity = identity_key("carol");
        let new = sealpost_engine::NewDevice {
            username: name.clone(),
            identity: identity_key("carol"),
            keys: keys(&name, &identity, seed),
            name: "stranger".into(),
        };
        let (engine, outputs) = Engine::create_account(&mut rng(seed), new, T0).unwrap();
        let d = device(engine, outputs, relay, seed);
        let keys = keys(&name, &identity, seed);
        let me = Self {
            name,
            identity,
            keys,
            rng: rng(seed ^ 0x5eed),
        };
        (me, d)
    }

    pub fn user(&self) -> UserId {
        self.name.user_id()
    }

    /// Deposits `n` messages to `to`'s device, each in a session of its own.
    pub fn sessions(&mut self, relay: &mut Relay, to: &Device, n: usize, now: u64) {
        for i in 0..n {
            let msg = Message::new(
                MsgId::random(&mut self.rng),
                to.user(),
                self.name.clone(),
                now,
                1,
                format!("spam {i}").into_bytes(),
            )
            .unwrap();
            self.seal(relay, to, &Payload::Message(msg), now);
        }
    }

    /// Deposits `payload` to `to`'s device in a session of its own.
    pub fn seal(&mut self, relay: &mut Relay, to: &Device, payload: &Payload, now: u64) {
        let raw = relay.bundles.get(&(to.user(), to.id())).unwrap();
        let bundle = DeviceBundle::from_bytes(raw).unwrap();
        let sealed = SessionStore::new()
            .seal(
                &mut self.rng,
                &self.identity,
                &self.keys,
                &bundle,
                &payload.to_bytes(),
                now,
            )
            .unwrap();
        relay.deposit(to.user(), to.id(), sealed.envelope);
    }
}
