//! Group fixtures: members built from the fixture identity keys.

use sealpost_core::v2::DeviceId;
use sealpost_core::v2::group::{GroupOp, GroupSession, Invitee};
use sealpost_core::{IdentityKey, UserId, Username};

use super::*;

pub struct Dev {
    pub name: &'static str,
    pub user: UserId,
    pub device: DeviceId,
    pub identity: IdentityKey,
}

/// The fixture user `name` (alice, bob, carol) on device `[device; 16]`.
pub fn dev(name: &'static str, device: u8) -> Dev {
    Dev {
        name,
        user: user_id(name),
        device: DeviceId::from_bytes([device; 16]),
        identity: identity_key(name),
    }
}

/// A new member as an adder names it: username (its user id) and identity fingerprint.
pub fn member(d: &Dev) -> Invitee {
    invitee(d.name, d.identity.public().fingerprint())
}

/// The new member `name` with `fingerprint`.
pub fn invitee(name: &str, fingerprint: [u8; 32]) -> Invitee {
    Invitee::new(Username::parse(name).unwrap(), fingerprint)
}

/// `by` creates the group `name` with `members`.
pub fn create(
    r: &mut rand_chacha::ChaCha20Rng,
    by: &Dev,
    name: &str,
    members: &[&Dev],
) -> (GroupSession, GroupOp) {
    let members = members.iter().map(|d| member(d)).collect();
    let creator = Username::parse(by.name).unwrap();
    GroupSession::create(r, &by.identity, &creator, by.device, name, members).unwrap()
}

/// A fourth or fifth member (`dave`, `erin`, ...) whose identity key is the fixture
/// encryption key of `key_of` (a plain RSA key too): the fixtures have three identities.
pub fn extra_dev(name: &'static str, device: u8, key_of: &str) -> Dev {
    let pkcs8 = hex::decode(&fixture_user(key_of).encryption_pkcs8).unwrap();
    Dev {
        name,
        user: user_id(name),
        device: DeviceId::from_bytes([device; 16]),
        identity: IdentityKey::from_pkcs8_der(&pkcs8).unwrap(),
    }
}
