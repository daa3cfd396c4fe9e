//! The account across devices and logins: lookups by name, the contact list and safety
//! numbers, the compact account state in backups, link grants and account syncs (pins
//! by fingerprint), identity changes and forgetting, and own device list changes made
//! on a stale copy of the list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::backup::BackupParams;
use sealpost_core::v2::{DeviceList, LinkCode, LinkGrant, LinkHello, backup};
use sealpost_core::{Error, SafetyNumber, Username, auth};
use sealpost_engine::account_state::AccountState;
use sealpost_engine::codec::Codec;
use sealpost_engine::{
    DIRECTORY_MAX_AGE, Engine, Input, LookupOutcome, Notice, SecurityKind, SendError,
};
use support::*;

fn send_failed(d: &Device) -> Vec<SendError> {
    d.notices
        .iter()
        .filter_map(|n| match n {
            Notice::SendFailed { error, .. } => Some(*error),
            _ => None,
        })
        .collect()
}

fn listed_devices(relay: &Relay, name: &str) -> usize {
    DeviceList::from_bytes(relay.lists.get(&user(name)).unwrap())
        .unwrap()
        .devices()
        .len()
}

/// `name`'s account now holds `keys_of`'s identity key (a re-registration, or a relay
/// that swapped it): the forger's list and bundle are published under `name`.
fn swap_identity(relay: &mut Relay, name: &str, keys_of: &str, seed: u64) -> Device {
    let fake = forger(relay, name, keys_of, seed);
    let (list, bundles) = fake.overrides.get(&user(name)).unwrap().clone();
    relay.lists.insert(user(name), list);
    relay.bundles.retain(|(u, _), _| *u != user(name));
    for b in bundles {
        let parsed = sealpost_core::v2::DeviceBundle::from_bytes(&b).unwrap();
        relay.bundles.insert((user(name), *parsed.device_id()), b);
    }
    fake
}

#[test]
fn a_lookup_pins_the_contact_with_its_name_and_gives_a_safety_number() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let bob = register(&mut relay, "bob", 2);
    assert_eq!(
        alice.lookup(&mut relay, T0 + 1, "bob"),
        LookupOutcome::Found
    );
    assert_eq!(
        alice.lookup(&mut relay, T0 + 2, "nobody"),
        LookupOutcome::NoSuchUser
    );
    let contacts = alice.engine.contacts();
    assert_eq!(contacts.len(), 1, "a missing account is no contact");
    let c = &contacts[0];
    assert_eq!(c.username.as_ref().map(Username::as_str), Some("bob"));
    assert_eq!(c.user_id, user("bob"));
    assert_eq!(c.fingerprint, identity_key("bob").public().fingerprint());
    assert!(!c.verified && !c.identity_changed);
    assert_eq!(c.identity.as_ref(), Some(&identity_key("bob").public()));
    assert_eq!(c.devices, 1);
    let expected = SafetyNumber::new(
        &user("alice"),
        &identity_key("alice").public(),
        &user("bob"),
        &identity_key("bob").public(),
    );
    assert_eq!(alice.engine.safety_number(&user("bob")), Some(expected));
    // A second lookup while the listing is fresh needs no directory round trip.
    let fetches = alice.fetches;
    assert_eq!(
        alice.lookup(&mut relay, T0 + 3, "bob"),
        LookupOutcome::Found
    );
    assert_eq!(alice.fetches, fetches);
    // The own device list for the app.
    assert_eq!(alice.engine.devices().len(), 1);
    assert_eq!(alice.engine.devices()[0].id, alice.id());
    assert_eq!(alice.engine.devices()[0].name, "alice device 0");
    let _ = bob;
}

#[test]
fn identity_keys_sign_relay_requests_and_the_device_challenge() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let public = identity_key("alice").public();
    let sig = alice
        .engine
        .sign_request(
            &mut alice.rng,
            "PUT",
            "/v2/users/x/devices",
            b"body",
            T0,
            "n1",
        )
        .unwrap();
    let input = auth::request_signing_input("PUT", "/v2/users/x/devices", b"body", T0, "n1");
    assert_eq!(public.verify(&input, &sig), Ok(()));
    let other = auth::request_signing_input("PUT", "/v2/users/x/devices", b"body", T0, "n2");
    assert!(public.verify(&other, &sig).is_err());
    // The relay's v2 input: the device id is signed with the challenge.
    let challenge = [7u8; 32];
    let sig = alice
        .engine
        .sign_challenge(&mut alice.rng, &challenge)
        .unwrap();
    let mut bound = alice.id().as_bytes().to_vec();
    bound.extend_from_slice(&challenge);
    let input = auth::challenge_signing_input(&user("alice"), &bound);
    assert_eq!(public.verify(&input, &sig), Ok(()));
    let v1 = auth::challenge_signing_input(&user("alice"), &challenge);
    assert!(
        public.verify(&v1, &sig).is_err(),
        "good for one device only"
    );
}

#[test]
fn a_backup_restores_pins_by_fingerprint_and_catches_a_changed_key() {
    let mut relay = Relay::default();
    let mut alice = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    let _carol = register(&mut relay, "carol", 3);
    alice.send(&mut relay, T0 + 1, "bob", "hi bob");
    alice.send(&mut relay, T0 + 1, "carol", "hi carol");
    alice.run(
        &mut relay,
        T0 + 2,
        Input::SetVerified {
            user: user("bob"),
            verified: true,
        },
    );
    bob.receive(&mut relay, T0 + 3);
    let params = BackupParams::generate(&mut alice.rng, 600_000).unwrap();
    let keys = backup::derive_keys("correct horse battery", &user("alice"), &params).unwrap();
    let blob = alice
        .engine
        .export_backup(&mut alice.rng, &params, &keys)
        .unwrap();
    assert!(blob.len() < 4096, "no device lists or keys: {}", blob.len());
    // A password login on a new device; meanwhile carol's key changed.
    let content = backup::import(&blob, &keys).unwrap();
    assert_eq!(content.identity.public(), identity_key("alice").public());
    let state = AccountState::from_bytes(&content.account_state).unwrap();
    assert_eq!(state.contacts().len(), 2);
    let _fake_carol = swap_identity(&mut relay, "carol", "bob", 9);
    let t = T0 + 10;
    let mut a2 = join(&mut relay, "alice", 1, 4, t, state);
    let bob_info = a2.engine.contact(&user("bob")).unwrap();
    assert!(bob_info.verified);
    assert_eq!(
        bob_info.identity, None,
        "only the fingerprint until the directory answers"
    );
    a2.send(&mut relay, t, "bob", "from the new login");
    a2.send(&mut relay, t, "carol", "carol?");
    bob.receive(&mut relay, t + 1);
    assert_eq!(bob.texts(), ["hi bob", "from the new login"]);
    assert!(a2.engine.contact(&user("bob")).unwrap().identity.is_some());
    // Carol's directory key is not the backed-up pin: a security event, nothing sent.
    assert!(a2.notices.contains(&Notice::SecurityEvent {
        kind: SecurityKind::IdentityChanged,
        user: user("carol"),
    }));
    assert_eq!(send_failed(&a2), [SendError::IdentityChanged]);
    assert!(a2.engine.contact(&user("carol")).unwrap().identity_changed);
    assert_eq!(
        a2.lookup(&mut relay, t + 2, "carol"),
        LookupOutcome::IdentityChanged
    );
    // A wrong password opens nothing.
    let wrong = backup::derive_keys("wrong horse battery", &user("alice"), &params).unwrap();
    assert_eq!(
        backup::import(&blob, &wrong).err(),
        Some(Error::WrongPassword)
    );
}

#[test]
fn an_identity_change_blocks_sending_until_the_contact_is_forgotten_on_every_device() {
    let mut relay = Relay::default();
    let mut a1 = register(&mut relay, "alice", 1);
    let mut a2 = add_device(&mut relay, "alice", 1, 2, T0);
    let mut bob = register(&mut relay, "bob", 3);
    a1.send(&mut relay, T0 + 1, "bob", "before");
    bob.receive(&mut relay, T0 + 2);
    a2.receive(&mut relay, T0 + 2);
    a1.receive(&mut relay, T0 + 3);
    assert_eq!(
        a2.engine.contacts().len(),
        1,
        "the sync copy's pin reached a2"
    );
    let mut new_bob = swap_identity(&mut relay, "bob", "carol", 9);
    let t = T0 + DIRECTORY_MAX_AGE + 10;
    a1.receive(&mut relay, t);
    a1.send(&mut relay, t, "bob", "to the new key?");
    assert_eq!(send_failed(&a1), [SendError::IdentityChanged]);
    assert_eq!(a1.security_events(), 1);
    // Sending again fails again, without another security event.
    a1.send(&mut relay, t + 1, "bob", "again?");
    assert_eq!(send_failed(&a1).len(), 2);
    assert_eq!(a1.security_events(), 1);
    // The user accepts the new key: forget, then write again (a new first use).
    a1.run(
        &mut relay,
        t + 2,
        Input::ForgetContact { user: user("bob") },
    );
    assert!(a1.engine.contact(&user("bob")).is_none());
    a1.send(&mut relay, t + 3, "bob", "hello new key");
    let pinned = a1.engine.contact(&user("bob")).unwrap();
    assert_eq!(
        pinned.fingerprint,
        identity_key("carol").public().fingerprint()
    );
    new_bob.receive(&mut relay, t + 4);
    assert_eq!(new_bob.texts(), ["hello new key"]);
    // a2 learns the forgetting and the new pin through account syncs: it can write
    // to the new key too, and the old pin never comes back.
    a2.receive(&mut relay, t + 5);
    let on_a2 = a2.engine.contact(&user("bob")).unwrap();
    assert_eq!(on_a2.fingerprint, pinned.fingerprint);
    a2.send(&mut relay, t + 6, "bob", "from a2");
    new_bob.receive(&mut relay, t + 7);
    assert_eq!(new_bob.texts(), ["hello new key", "from a2"]);
    a1.receive(&mut relay, t + 8);
    assert_eq!(
        a1.engine.contact(&user("bob")).unwrap().fingerprint,
        pinned.fingerprint
    );
}

#[test]
fn account_syncs_carry_names_verified_marks_and_forgetting_between_own_devices() {
    let mut relay = Relay::default();
    let mut a1 = register(&mut relay, "alice", 1);
    let mut a2 = add_device(&mut relay, "alice", 1, 2, T0);
    let _bob = register(&mut relay, "bob", 3);
    let _carol = register(&mut relay, "carol", 4);
    // a1 needs a2's bundle: the first tick reads the own directory.
    a1.receive(&mut relay, T0 + 1);
    assert_eq!(a1.lookup(&mut relay, T0 + 2, "bob"), LookupOutcome::Found);
    assert_eq!(a1.lookup(&mut relay, T0 + 2, "carol"), LookupOutcome::Found);
    a2.receive(&mut relay, T0 + 3);
    let names: Vec<_> = a2
        .engine
        .contacts()
        .iter()
        .map(|c| c.username.as_ref().unwrap().as_str().to_owned())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(sorted, ["bob", "carol"]);
    a2.run(
        &mut relay,
        T0 + 4,
        Input::SetVerified {
            user: user("bob"),
            verified: true,
        },
    );
    a1.receive(&mut relay, T0 + 5);
    assert!(a1.engine.contact(&user("bob")).unwrap().verified);
    a1.run(
        &mut relay,
        T0 + 6,
        Input::ForgetContact {
            user: user("carol"),
        },
    );
    a2.receive(&mut relay, T0 + 7);
    assert!(a2.engine.contact(&user("carol")).is_none());
    assert!(a2.engine.contact(&user("bob")).unwrap().verified);
    // Both converge on the same compact state, and nothing bounced back.
    a1.receive(&mut relay, T0 + 8);
    assert_eq!(
        a1.engine.account_state().to_bytes(),
        a2.engine.account_state().to_bytes()
    );
    assert!(a1.engine.contact(&user("carol")).is_none());
    // The state survives a restart, with the contacts' lists once fetched.
    assert!(a2.engine.contact(&user("bob")).unwrap().identity.is_none());
    assert_eq!(a2.lookup(&mut relay, T0 + 9, "bob"), LookupOutcome::Found);
    a2.restart();
    assert!(a2.engine.contact(&user("bob")).unwrap().identity.is_some());
}

#[test]
fn a_name_given_on_one_device_shows_on_the_other_with_a_mark_set_there_at_once() {
    let mut relay = Relay::default();
    let mut a1 = register(&mut relay, "alice", 1);
    let mut a2 = add_device(&mut relay, "alice", 1, 2, T0);
    let _bob = register(&mut relay, "bob", 3);
    a1.receive(&mut relay, T0 + 1);
    assert_eq!(a1.lookup(&mut relay, T0 + 2, "bob"), LookupOutcome::Found);
    a2.receive(&mut relay, T0 + 3);
    let bob = user("bob");
    assert_eq!(a2.engine.contact(&bob).unwrap().name, None);
    // Both devices act before either hears the other.
    let name = |name: &str| Input::SetContactName {
        user: bob,
        name: name.into(),
    };
    a1.run(&mut relay, T0 + 4, name("Bobby 🐝"));
    a2.run(
        &mut relay,
        T0 + 4,
        Input::SetVerified {
            user: bob,
            verified: true,
        },
    );
    a2.notices.clear();
    a2.receive(&mut relay, T0 + 5);
    a1.receive(&mut relay, T0 + 5);
    for d in [&a1, &a2] {
        let c = d.engine.contact(&bob).unwrap();
        assert_eq!(c.name.as_deref(), Some("Bobby 🐝"));
        assert!(c.verified, "the mark set at the same time survives");
    }
    assert!(a2.notices.contains(&Notice::ContactChanged { user: bob }));
    assert_eq!(
        a1.engine.account_state().to_bytes(),
        a2.engine.account_state().to_bytes()
    );
    // A removal travels; a name too long for the state changes nothing.
    a2.run(&mut relay, T0 + 6, name(""));
    a1.receive(&mut relay, T0 + 7);
    assert_eq!(a1.engine.contact(&bob).unwrap().name.as_deref(), Some(""));
    a1.run(&mut relay, T0 + 8, name(&"x".repeat(97)));
    assert_eq!(a1.engine.contact(&bob).unwrap().name.as_deref(), Some(""));
    // Kept across a restart; naming an id that is no contact changes nothing.
    a1.run(&mut relay, T0 + 9, name("B"));
    a1.restart();
    assert_eq!(a1.engine.contact(&bob).unwrap().name.as_deref(), Some("B"));
    a1.run(
        &mut relay,
        T0 + 10,
        Input::SetContactName {
            user: user("nobody"),
            name: "x".into(),
        },
    );
    assert!(a1.engine.contact(&user("nobody")).is_none());
}

#[test]
fn a_link_grant_hands_the_account_to_a_new_device() {
    let mut relay = Relay::default();
    let mut a1 = register(&mut relay, "alice", 1);
    let mut bob = register(&mut relay, "bob", 2);
    a1.lookup(&mut relay, T0 + 1, "bob");
    // The new device shows its code and deposits its hello.
    let mut n_rng = rng(50);
    let code = LinkCode::generate(&mut n_rng);
    let new = fresh_device("alice", 1, 50);
    let hello = LinkHello {
        device_id: *new.keys.device_id(),
        name: new.name.clone(),
        encryption_key: encryption_key(1).public(),
    };
    let sealed_hello = hello.seal(&mut n_rng, &code).unwrap();
    // The old device: a wrong code opens nothing; the right one shows the name.
    let wrong = LinkCode::generate(&mut n_rng);
    assert!(
        a1.engine
            .link_grant(&mut a1.rng, &wrong, &sealed_hello, &[])
            .is_err()
    );
    // A history that cannot fit in a grant is refused.
    let huge = vec![0u8; sealpost_core::v2::MAX_GRANT_LEN + 1];
    assert_eq!(
        a1.engine
            .link_grant(&mut a1.rng, &code, &sealed_hello, &huge)
            .map(|_| ()),
        Err(sealpost_core::Error::TooLarge)
    );
    // The history the user chose to transfer goes into the grant the engine seals.
    let (grant, shown) = a1
        .engine
        .link_grant(&mut a1.rng, &code, &sealed_hello, b"old messages")
        .unwrap();
    assert_eq!(shown.name, "alice device 1");
    let t = T0 + 5;
    a1.run(
        &mut relay,
        t,
        Input::AddDevice {
            entry: Engine::link_entry(&shown, t),
        },
    );
    assert_eq!(listed_devices(&relay, "alice"), 2);
    // The new device opens the grant and joins with the list that already has it.
    let opened = LinkGrant::open(&code, &sealed_hello, &grant).unwrap();
    assert_eq!(opened.username.as_str(), "alice");
    assert_eq!(&opened.history[..], b"old messages");
    let state = AccountState::from_bytes(&opened.account_state).unwrap();
    let list = relay.lists.get(&user("alice")).unwrap().clone();
    let device = sealpost_engine::NewDevice {
        username: opened.username,
        identity: opened.identity,
        keys: new.keys,
        name: new.name,
    };
    let (engine, outputs) = Engine::join_account(&mut n_rng, device, &list, state, t).unwrap();
    let mut a3 = support::device(engine, outputs, &mut relay, 50);
    assert_eq!(listed_devices(&relay, "alice"), 2);
    assert_eq!(a3.engine.contacts().len(), 1);
    let later = t + DIRECTORY_MAX_AGE + 1;
    bob.send(&mut relay, later, "alice", "to every device");
    a3.receive(&mut relay, later + 1);
    assert_eq!(a3.texts(), ["to every device"]);
    assert_eq!(a3.security_events(), 0);
}

#[test]
fn device_changes_on_a_stale_own_list_are_made_on_the_current_one() {
    let mut relay = Relay::default();
    let mut a1 = register(&mut relay, "alice", 1);
    // a2 joins after a1 last looked: a1's copy of the list does not have it.
    let a2 = add_device(&mut relay, "alice", 1, 2, T0 + 1);
    let x = fresh_device("alice", 2, 60);
    let entry = sealpost_core::v2::DeviceEntry {
        id: *x.keys.device_id(),
        added_at: T0 + 2,
        name: x.name.clone(),
    };
    a1.run(&mut relay, T0 + 2, Input::AddDevice { entry });
    assert!(a1.notices.is_empty(), "{:?}", a1.notices);
    let list = DeviceList::from_bytes(relay.lists.get(&user("alice")).unwrap()).unwrap();
    assert!(
        list.contains(&a2.id()),
        "a2 was not dropped by a1's stale copy"
    );
    assert!(list.contains(x.keys.device_id()));
    assert_eq!(list.devices().len(), 3);
    // Revoking a device a1 never saw works too (it is in the fetched list).
    let a3 = add_device(&mut relay, "alice", 3, 3, T0 + 3);
    a1.run(&mut relay, T0 + 4, Input::RevokeDevice { device: a3.id() });
    assert!(a1.notices.is_empty(), "{:?}", a1.notices);
    let list = DeviceList::from_bytes(relay.lists.get(&user("alice")).unwrap()).unwrap();
    assert!(!list.contains(&a3.id()));
    assert_eq!(list.devices().len(), 3);
    // Revoking oneself or an unknown device is refused, and changes nothing.
    let version = list.version();
    a1.run(&mut relay, T0 + 5, Input::RevokeDevice { device: a1.id() });
    a1.run(&mut relay, T0 + 5, Input::RevokeDevice { device: a3.id() });
    assert_eq!(a1.notices.len(), 2);
    let list = DeviceList::from_bytes(relay.lists.get(&user("alice")).unwrap()).unwrap();
    assert_eq!(list.version(), version);
}

#[test]
fn joining_a_full_account_is_refused() {
    let mut relay = Relay::default();
    let _a = register(&mut relay, "alice", 1);
    for n in 1..8 {
        add_device(&mut relay, "alice", n, 10 + n as u64, T0 + n as u64);
    }
    assert_eq!(listed_devices(&relay, "alice"), 8);
    let list = relay.lists.get(&user("alice")).unwrap().clone();
    let joined = Engine::join_account(
        &mut rng(99),
        fresh_device("alice", 9, 99),
        &list,
        AccountState::new(),
        T0 + 20,
    );
    assert!(joined.is_err());
    assert_eq!(listed_devices(&relay, "alice"), 8);
    // Nor may another account's list be joined.
    let _bob = register(&mut relay, "bob", 2);
    let bobs = relay.lists.get(&user("bob")).unwrap().clone();
    let wrong = Engine::join_account(
        &mut rng(98),
        fresh_device("alice", 9, 98),
        &bobs,
        AccountState::new(),
        T0 + 20,
    );
    assert_eq!(wrong.err(), Some(Error::BadSignature));
}

#[test]
fn a_new_own_device_learns_contacts_looked_up_before_its_bundle_was_known() {
    let mut relay = Relay::default();
    let mut a1 = register(&mut relay, "alice", 1);
    let _bob = register(&mut relay, "bob", 3);
    // a2 joins, but a1 has not read its own directory since: a2's bundle is unknown to it.
    let mut a2 = add_device(&mut relay, "alice", 1, 2, T0);
    assert_eq!(a1.lookup(&mut relay, T0 + 2, "bob"), LookupOutcome::Found);
    // The sync skipped for a2 goes out once a1 sees a2's bundle.
    a1.receive(&mut relay, T0 + 3);
    a2.receive(&mut relay, T0 + 4);
    let bob = a2.engine.contact(&user("bob")).expect("bob reached a2");
    assert_eq!(bob.username.as_ref().map(|n| n.as_str()), Some("bob"));
}
