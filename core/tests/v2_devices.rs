//! v2 device lists, device bundles and device keys, tested as an attacker would try
//! them: more than eight devices, duplicate ids, stale or foreign updates, altered bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::v2::{DeviceBundle, DeviceEntry, DeviceId, DeviceKeys, DeviceList, MAX_DEVICES};
use sealpost_core::{Error, ROTATE_BEFORE_EXPIRY};
use support::*;

fn entry(n: u8) -> DeviceEntry {
    DeviceEntry {
        id: DeviceId::from_bytes([n; 16]),
        added_at: T0 + u64::from(n),
        name: format!("device {n}"),
    }
}

fn alice_list(devices: Vec<DeviceEntry>, version: u64) -> Result<DeviceList, Error> {
    DeviceList::sign(
        &mut rng(1),
        user_id("alice"),
        &identity_key("alice"),
        version,
        devices,
    )
}

#[test]
fn device_list_round_trip_sorted() {
    let list = alice_list(vec![entry(3), entry(1), entry(2)], T0).unwrap();
    let ids: Vec<u8> = list.devices().iter().map(|d| d.id.as_bytes()[0]).collect();
    assert_eq!(ids, [1, 2, 3]);
    let parsed = DeviceList::from_bytes(list.to_bytes()).unwrap();
    assert_eq!(parsed, list);
    assert!(parsed.contains(&DeviceId::from_bytes([2; 16])));
    assert!(!parsed.contains(&DeviceId::from_bytes([4; 16])));
    assert_eq!(
        parsed.get(&DeviceId::from_bytes([3; 16])).unwrap().name,
        "device 3"
    );
    assert_eq!(parsed.identity(), &identity_key("alice").public());
    assert_eq!(parsed.version(), T0);
    assert_eq!(parsed.next_version(T0 - 5), T0 + 1);
    assert_eq!(parsed.next_version(T0 + 50), T0 + 50);
}

#[test]
fn more_than_eight_devices_refused() {
    let nine: Vec<DeviceEntry> = (1..=9).map(entry).collect();
    assert_eq!(alice_list(nine, T0), Err(Error::TooLarge));
    let eight = alice_list((1..=8).map(entry).collect(), T0).unwrap();
    assert_eq!(eight.devices().len(), MAX_DEVICES);
    let id = identity_key("alice");
    assert_eq!(
        eight
            .with_device(&mut rng(2), &id, entry(9), T0)
            .unwrap_err(),
        Error::TooLarge
    );
    // Replacing an existing entry is not an addition.
    let renamed = DeviceEntry {
        name: "renamed".into(),
        ..entry(8)
    };
    let updated = eight.with_device(&mut rng(2), &id, renamed, T0).unwrap();
    assert_eq!(updated.devices().len(), 8);
    eight.check_update(&updated).unwrap();
    // A forged count byte of 9 does not parse, whatever follows.
    let mut bytes = eight.to_bytes().to_vec();
    let count_at = 2 + 32 + 8 + 2 + id.public().to_spki_der().len();
    assert_eq!(bytes[count_at], 8);
    bytes[count_at] = 9;
    assert!(DeviceList::from_bytes(&bytes).is_err());
}

#[test]
fn duplicate_ids_and_bad_names_refused() {
    assert_eq!(
        alice_list(vec![entry(1), entry(1)], T0),
        Err(Error::Malformed)
    );
    assert_eq!(alice_list(vec![], T0), Err(Error::TooLarge));
    let long = DeviceEntry {
        name: "é".repeat(33),
        ..entry(1)
    };
    assert_eq!(alice_list(vec![long], T0), Err(Error::TooLarge));
    let max = DeviceEntry {
        name: "x".repeat(64),
        ..entry(1)
    };
    alice_list(vec![max], T0).unwrap();
}

/// Builds list bytes by hand (validly signed) to check that the parser, not only the
/// signer, refuses bad entries.
fn hand_signed(entries: &[([u8; 16], &[u8])]) -> Vec<u8> {
    let key = identity_key("alice");
    let mut b = vec![b'L', 2];
    b.extend_from_slice(user_id("alice").as_bytes());
    b.extend_from_slice(&T0.to_be_bytes());
    let spki = key.public().to_spki_der().to_vec();
    b.extend_from_slice(&(spki.len() as u16).to_be_bytes());
    b.extend_from_slice(&spki);
    b.push(entries.len() as u8);
    for (id, name) in entries {
        b.extend_from_slice(id);
        b.extend_from_slice(&T0.to_be_bytes());
        b.push(name.len() as u8);
        b.extend_from_slice(name);
    }
    let mut input = b"sealpost/v2/device-list\0".to_vec();
    input.extend_from_slice(&b);
    let sig = key.sign(&mut rng(3), &input).unwrap();
    b.extend_from_slice(&(sig.len() as u16).to_be_bytes());
    b.extend_from_slice(&sig);
    b
}

#[test]
fn parser_refuses_signed_but_invalid_entries() {
    DeviceList::from_bytes(&hand_signed(&[([1; 16], b"a"), ([2; 16], b"b")])).unwrap();
    for bad in [
        hand_signed(&[([1; 16], b"a"), ([1; 16], b"b")]),
        hand_signed(&[([2; 16], b"a"), ([1; 16], b"b")]),
        hand_signed(&[([1; 16], &[0xff, 0xfe])]),
        hand_signed(&[([1; 16], &[b'x'; 65])]),
        hand_signed(&[]),
    ] {
        assert_eq!(DeviceList::from_bytes(&bad), Err(Error::Malformed));
    }
}

#[test]
fn stale_and_foreign_updates_refused() {
    let v1 = alice_list(vec![entry(1)], T0).unwrap();
    let id = identity_key("alice");
    let v2 = v1.with_device(&mut rng(4), &id, entry(2), T0).unwrap();
    assert_eq!(v2.version(), T0 + 1);
    v1.check_update(&v2).unwrap();
    assert_eq!(v2.check_update(&v1), Err(Error::Stale));
    assert_eq!(v1.check_update(&v1), Err(Error::Stale));
    // Signed by another identity (mallory with carol's key claiming alice's id).
    let forged = DeviceList::sign(
        &mut rng(5),
        user_id("alice"),
        &identity_key("carol"),
        T0 + 100,
        vec![entry(1), entry(7)],
    )
    .unwrap();
    assert_eq!(v1.check_update(&forged), Err(Error::BadSignature));
    // Another user's genuine list.
    let bob = DeviceList::sign(
        &mut rng(6),
        user_id("bob"),
        &identity_key("bob"),
        T0 + 100,
        vec![entry(1)],
    )
    .unwrap();
    assert_eq!(v1.check_update(&bob), Err(Error::BadSignature));
    // Re-signing with the wrong identity key is refused.
    assert_eq!(
        v1.with_device(&mut rng(7), &identity_key("carol"), entry(3), T0)
            .unwrap_err(),
        Error::BadSignature
    );
    let removed = v2
        .without_device(&mut rng(8), &id, &DeviceId::from_bytes([1; 16]), T0)
        .unwrap();
    assert_eq!(removed.devices().len(), 1);
    v2.check_update(&removed).unwrap();
    assert_eq!(
        removed
            .without_device(&mut rng(8), &id, &DeviceId::from_bytes([2; 16]), T0)
            .unwrap_err(),
        Error::TooLarge
    );
}

#[test]
fn every_bit_flip_and_truncation_of_a_list_fails() {
    let list = alice_list(vec![entry(1), entry(2)], T0).unwrap();
    let bytes = list.to_bytes();
    for i in 0..bytes.len() {
        for bit in [0x01, 0x80] {
            let mut b = bytes.to_vec();
            b[i] ^= bit;
            assert!(DeviceList::from_bytes(&b).is_err(), "byte {i}");
        }
    }
    for len in [0, 1, 2, 40, bytes.len() - 1] {
        assert!(DeviceList::from_bytes(&bytes[..len]).is_err());
    }
    let mut long = bytes.to_vec();
    long.push(0);
    assert_eq!(DeviceList::from_bytes(&long), Err(Error::Malformed));
}

fn alice_device(id: u8, key: &str) -> DeviceKeys {
    DeviceKeys::from_key(
        &mut rng(u64::from(id)),
        &identity_key("alice"),
        user_id("alice"),
        DeviceId::from_bytes([id; 16]),
        device_key(key),
        T0,
    )
    .unwrap()
}

#[test]
fn device_bundle_round_trip_and_checks() {
    let ik = identity_key("alice");
    let mut dev = alice_device(1, "alice");
    let bundle = dev.bundle(&mut rng(9), &ik, T0).unwrap();
    let parsed = DeviceBundle::from_bytes(bundle.to_bytes()).unwrap();
    assert_eq!(parsed, bundle);
    assert_eq!(parsed.device_id(), &DeviceId::from_bytes([1; 16]));
    assert_eq!(parsed.user_id(), &user_id("alice"));
    assert_eq!(
        parsed.current_encryption_key(T0).unwrap(),
        &device_key("alice").public()
    );
    // Clock skew: a sender an hour behind can use the key; expired later.
    assert!(parsed.current_encryption_key(T0 - 3600).is_ok());
    assert_eq!(
        parsed.current_encryption_key(T0 - 3601).unwrap_err(),
        Error::Expired
    );
    assert_eq!(
        parsed.current_encryption_key(T0 + 30 * 86400).unwrap_err(),
        Error::Expired
    );
    let newer = dev.bundle(&mut rng(10), &ik, T0).unwrap();
    assert_eq!(newer.issued_at(), T0 + 1);
    bundle.check_update(&newer).unwrap();
    assert_eq!(newer.check_update(&bundle), Err(Error::Stale));
    let other_device = alice_device(2, "alice-id")
        .bundle(&mut rng(11), &ik, T0 + 10)
        .unwrap();
    assert_eq!(bundle.check_update(&other_device), Err(Error::BadSignature));
    // Signing a bundle with a foreign identity key is refused.
    assert_eq!(
        dev.bundle(&mut rng(12), &identity_key("carol"), T0)
            .unwrap_err(),
        Error::BadSignature
    );
    // Listed or not.
    let list = alice_list(vec![entry(1)], T0).unwrap();
    list.check_bundle(&bundle).unwrap();
    assert_eq!(list.check_bundle(&other_device), Err(Error::BadSignature));
    let bob_list = DeviceList::sign(
        &mut rng(13),
        user_id("bob"),
        &identity_key("bob"),
        T0,
        vec![entry(1)],
    )
    .unwrap();
    assert_eq!(bob_list.check_bundle(&bundle), Err(Error::BadSignature));
}

#[test]
fn bundle_bit_flips_fail() {
    let bundle = alice_device(1, "alice")
        .bundle(&mut rng(14), &identity_key("alice"), T0)
        .unwrap();
    let bytes = bundle.to_bytes();
    // Every byte of the header and ids, and a sample of the rest (RSA verifies are slow).
    for i in (0..60).chain((60..bytes.len()).step_by(7)) {
        let mut b = bytes.to_vec();
        b[i] ^= 0x04;
        assert!(DeviceBundle::from_bytes(&b).is_err(), "byte {i}");
    }
    assert!(DeviceBundle::from_bytes(&bytes[..bytes.len() - 1]).is_err());
}

#[test]
fn device_keys_life_cycle_and_secret_bytes() {
    let ik = identity_key("alice");
    let mut dev = alice_device(1, "alice");
    assert!(!dev.needs_rotation(T0));
    let rotate_at = T0 + 30 * 86400 - ROTATE_BEFORE_EXPIRY;
    assert!(dev.needs_rotation(rotate_at));
    let secret = dev.to_secret_bytes().unwrap();
    let back = DeviceKeys::from_secret_bytes(&secret, &ik.public()).unwrap();
    assert_eq!(back.device_id(), dev.device_id());
    assert_eq!(back.to_secret_bytes().unwrap(), secret);
    // Keys signed by alice do not load under another identity.
    assert_eq!(
        DeviceKeys::from_secret_bytes(&secret, &identity_key("bob").public()).unwrap_err(),
        Error::BadSignature
    );
    let mut long = secret.to_vec();
    long.push(0);
    assert_eq!(
        DeviceKeys::from_secret_bytes(&long, &ik.public()).unwrap_err(),
        Error::Malformed
    );
    // Debug shows no key material.
    let debug = format!("{dev:?}");
    assert!(debug.contains("encryption_keys: 1"), "{debug}");
    // Prune never deletes the only key; bundling after expiry is Expired.
    dev.prune(T0 + 400 * 86400);
    assert_eq!(dev.key_count(), 1);
    assert_eq!(
        dev.bundle(&mut rng(1), &ik, T0 + 31 * 86400).unwrap_err(),
        Error::Expired
    );
}

#[test]
fn device_keys_rotate() {
    let ik = identity_key("alice");
    let mut dev = alice_device(1, "alice");
    let at = T0 + 25 * 86400;
    dev.rotate(&mut rng(2), &ik, at).unwrap();
    assert_eq!(dev.key_count(), 2);
    let bundle = dev.bundle(&mut rng(3), &ik, at).unwrap();
    assert_eq!(bundle.encryption_keys().len(), 2);
    assert_ne!(
        bundle.current_encryption_key(at).unwrap(),
        &device_key("alice").public()
    );
}
