//! Store limits at realistic attack volumes (4, 2,048 and 4,096 strangers' sessions),
//! exercised without RSA by building sessions directly: what `accept` would insert.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use alloc::vec::Vec;

use zeroize::Zeroizing;

use crate::Error;
use crate::keys::IdentityPublicKey;
use crate::username::UserId;
use crate::v2::fixture_identity;
use crate::v2::ids::{DeviceId, SessionId};
use crate::v2::opened::PendingInit;
use crate::v2::replay::{MAX_MESSAGE_AGE, REPLAY_MEMORY, REPLAY_PER_PEER, TrustedEntry};
use crate::v2::session::{Chain, Session};
use crate::v2::store::SessionStore;
use crate::v2::store_caps::{MAX_SESSIONS_PER_DEVICE, MAX_UNTRUSTED_SESSIONS};

const NOW: u64 = 1_767_225_600;

fn identity(name: &str) -> IdentityPublicKey {
    fixture_identity(name).public()
}

fn chain() -> Chain {
    Chain {
        chain_key: Zeroizing::new([0; 32]),
        header_key: Zeroizing::new([0; 32]),
        next: 0,
    }
}

fn session(n: u32, peer: u8, device: u8, identity: &IdentityPublicKey, trusted: bool) -> Session {
    let mut id = [0u8; 16];
    id[..4].copy_from_slice(&n.to_be_bytes());
    id[4] = peer;
    id[5] = device;
    Session {
        id: SessionId::from_bytes(id),
        peer: UserId([peer; 32]),
        peer_device: DeviceId::from_bytes([device; 16]),
        peer_identity: identity.clone(),
        peer_epoch: NOW,
        init_at: NOW,
        created_at: NOW + u64::from(n),
        last_used: NOW + u64::from(n),
        initiator: false,
        confirmed: true,
        trusted,
        init_block: Vec::new(),
        send: chain(),
        recv: chain(),
        skipped: Vec::new(),
    }
}

fn pending(s: Session) -> PendingInit {
    PendingInit {
        session: s,
        counter: 0,
        sent_at: NOW,
        payload: Zeroizing::new(Vec::new()),
        skipped: Vec::new(),
    }
}

/// Bob's store with trusted sessions with alice's two devices and one dropped trusted
/// session in replay memory.
fn genuine(alice: &IdentityPublicKey) -> (SessionStore, SessionId) {
    let mut store = SessionStore::new();
    let dropped = session(1, 0xa1, 1, alice, true);
    let dropped_id = dropped.id;
    store.accept(pending(dropped), true, NOW).unwrap();
    store.forget_session(&dropped_id);
    for (n, device) in [(2, 1), (3, 2)] {
        store
            .accept(pending(session(n, 0xa1, device, alice, true)), true, NOW)
            .unwrap();
    }
    (store, dropped_id)
}

#[test]
fn strangers_cannot_evict_trusted_sessions_or_flush_replay_memory() {
    let alice = identity("alice");
    let mallory = identity("carol");
    for strangers in [4u32, 2048, 4096] {
        let (mut store, dropped) = genuine(&alice);
        let trusted_before: Vec<SessionId> = store.sessions.iter().map(|s| s.id).collect();
        for n in 0..strangers {
            // Each stranger is a different user (worst case: all accepted as message
            // requests), plus forgeries claiming alice's devices with mallory's key.
            let peer = (n % 250) as u8;
            let s = session(1000 + n, peer, (n / 250) as u8, &mallory, false);
            let _ = store.accept(pending(s), false, NOW + 1);
            // It may take the pair's free slot, never a trusted session's.
            let forged = session(100_000 + n, 0xa1, 1 + (n % 2) as u8, &mallory, false);
            let _ = store.accept(pending(forged), false, NOW + 1);
        }
        for id in &trusted_before {
            assert!(store.sessions.iter().any(|s| s.id == *id && s.trusted));
        }
        let untrusted = store.sessions.iter().filter(|s| !s.trusted).count();
        assert_eq!(
            untrusted,
            (strangers as usize + 2).min(MAX_UNTRUSTED_SESSIONS)
        );
        // With both of a device's slots trusted, a forgery is refused outright.
        store
            .accept(pending(session(7, 0xa1, 1, &alice, true)), true, NOW + 2)
            .unwrap();
        let forged = session(200_000, 0xa1, 1, &mallory, false);
        assert_eq!(
            store.accept(pending(forged), false, NOW + 2).unwrap_err(),
            Error::TooLarge
        );
        assert!(
            store.remembers(&dropped),
            "{strangers}: trusted replay memory intact"
        );
        assert_eq!(store.replay_memory_len().0, 1);
        // The dropped trusted session still cannot be set up again.
        let replayed = session(1, 0xa1, 1, &alice, true);
        assert_eq!(
            store.accept(pending(replayed), true, NOW + 2).unwrap_err(),
            Error::Replay
        );
        // The encoding holds all of it.
        let back = SessionStore::from_secret_bytes(&store.to_secret_bytes().unwrap()).unwrap();
        assert_eq!(
            back.to_secret_bytes().unwrap(),
            store.to_secret_bytes().unwrap()
        );
    }
}

#[test]
fn per_device_cap_keeps_current_and_previous() {
    let alice = identity("alice");
    let mut store = SessionStore::new();
    for n in 0..5 {
        store
            .accept(
                pending(session(n, 0xa1, 1, &alice, true)),
                true,
                NOW + u64::from(n),
            )
            .unwrap();
    }
    assert_eq!(store.len(), MAX_SESSIONS_PER_DEVICE);
    let ids: Vec<u8> = store.sessions.iter().map(|s| s.id.as_bytes()[3]).collect();
    assert_eq!(ids, [3, 4]);
    assert_eq!(store.replay_memory_len().0, 3);
}

#[test]
fn full_replay_memory_refuses_new_trusted_sessions_and_never_forgets_early() {
    let alice = identity("alice");
    let bob = identity("bob");
    let mut store = SessionStore::new();
    for n in 0..REPLAY_PER_PEER as u32 {
        store.replay.trusted.push(TrustedEntry {
            id: SessionId::from_bytes([
                n as u8,
                (n >> 8) as u8,
                0xee,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
            ]),
            peer: UserId([0xa1; 32]),
            expires_at: NOW + MAX_MESSAGE_AGE,
        });
    }
    let s = session(1, 0xa1, 1, &alice, true);
    assert_eq!(
        store.accept(pending(s), true, NOW).unwrap_err(),
        Error::TooLarge
    );
    // Another peer is not affected by alice's entries...
    store
        .accept(pending(session(2, 0xb1, 1, &bob, true)), true, NOW)
        .unwrap();
    // ...until the total is reached.
    while store.replay.trusted.len() < REPLAY_MEMORY {
        let n = store.replay.trusted.len() as u32;
        store.replay.trusted.push(TrustedEntry {
            id: SessionId::from_bytes([
                0xdd,
                n as u8,
                (n >> 8) as u8,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                1,
            ]),
            peer: UserId([0xcc; 32]),
            expires_at: NOW + MAX_MESSAGE_AGE,
        });
    }
    let s = session(3, 0xb1, 2, &bob, true);
    assert_eq!(
        store.accept(pending(s), true, NOW).unwrap_err(),
        Error::TooLarge
    );
    // Untrusted sessions have their own memory: strangers are not blocked, and their
    // drops do not touch the trusted memory.
    for n in 0..100 {
        let _ = store.accept(
            pending(session(10 + n, n as u8, 9, &bob, false)),
            false,
            NOW,
        );
    }
    assert_eq!(store.replay_memory_len(), (REPLAY_MEMORY, 36));
    // Entries leave only by expiry.
    store.prune(NOW + MAX_MESSAGE_AGE);
    assert_eq!(store.replay_memory_len().0, REPLAY_MEMORY);
    store.prune(NOW + MAX_MESSAGE_AGE + 1);
    assert_eq!(store.replay_memory_len().0, 0);
}

/// A full device pair makes room by dropping the session the peer was heard in least
/// recently (store order), never one of ours the peer has not answered yet; and
/// `created_at` stays strictly increasing within one second.
#[test]
fn a_full_pair_drops_the_session_the_peer_moved_on_from() {
    let alice = identity("alice");
    let mut store = SessionStore::new();
    // Ours, unconfirmed (the peer has not answered yet).
    let mut ours = session(1, 0xa1, 1, &alice, true);
    ours.initiator = true;
    ours.confirmed = false;
    ours.init_block = alloc::vec![1];
    let ours_id = ours.id;
    store.insert(ours, NOW).unwrap();
    let heard = session(2, 0xa1, 1, &alice, true);
    let heard_id = heard.id;
    store.accept(pending(heard), true, NOW).unwrap();
    let third = session(3, 0xa1, 1, &alice, true);
    let third_id = third.id;
    store.accept(pending(third), true, NOW).unwrap();
    let ids: Vec<SessionId> = store.sessions.iter().map(|s| s.id).collect();
    assert_eq!(
        ids,
        [ours_id, third_id],
        "the responder session heard first goes"
    );
    assert!(store.sessions[0].created_at < store.sessions[1].created_at);
    assert_ne!(heard_id, third_id);
}
