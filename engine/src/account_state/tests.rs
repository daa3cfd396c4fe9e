use super::*;
use alloc::vec;

fn contact(name: &str, verified: bool, updated_at: u64) -> Contact {
    let username = Username::parse(name).unwrap();
    Contact {
        user_id: username.user_id(),
        username: Some(username),
        fingerprint: [name.len() as u8; 32],
        verified,
        engaged: true,
        updated_at,
        nickname: None,
    }
}

fn stranger(i: u64, updated_at: u64) -> Contact {
    let mut id = [0xffu8; 32];
    id[..8].copy_from_slice(&i.to_be_bytes());
    Contact {
        user_id: UserId::from_bytes(id),
        username: None,
        fingerprint: [7; 32],
        verified: false,
        engaged: false,
        updated_at,
        nickname: None,
    }
}

#[test]
fn round_trips_and_is_canonical() {
    let mut state = AccountState::new();
    state.upsert(contact("alice", true, 5)).unwrap();
    state.upsert(contact("bob", false, 6)).unwrap();
    let mut nameless = contact("carol", false, 7);
    nameless.username = None;
    state.upsert(nameless).unwrap();
    state.forget(&Username::parse("dave").unwrap().user_id(), 9);
    let bytes = state.to_bytes();
    assert_eq!(AccountState::from_bytes(&bytes), Ok(state));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(AccountState::from_bytes(&trailing), Err(Error::Malformed));
}

#[test]
fn a_contact_costs_under_200_bytes_and_the_largest_state_fits_a_backup() {
    let longest = "a".repeat(Username::MAX_LEN);
    let mut one = AccountState::new();
    one.upsert(nicknamed(
        contact(&longest, true, u64::MAX),
        &"n".repeat(MAX_NICKNAME_LEN),
        u64::MAX,
    ))
    .unwrap();
    let base = AccountState::new().to_bytes().len();
    assert!(one.to_bytes().len() - base <= MAX_CONTACT_LEN);
    // MAX_CONTACT_LEN < 200 and the worst case under 256 KiB: const assertions in mod.rs.
    assert_eq!(
        MAX_LEN,
        2 + 2 + (MAX_CONTACTS + MAX_STRANGERS) * MAX_CONTACT_LEN + 2 + MAX_FORGOTTEN * 40
    );
}

#[test]
fn every_truncation_and_bit_flip_is_refused_or_harmless() {
    let mut state = AccountState::new();
    state.upsert(contact("alice", true, 5)).unwrap();
    state.forget(&Username::parse("bob").unwrap().user_id(), 3);
    let bytes = state.to_bytes();
    for len in 0..bytes.len() {
        assert!(AccountState::from_bytes(&bytes[..len]).is_err());
    }
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x80;
        if let Ok(other) = AccountState::from_bytes(&flipped) {
            assert_eq!(other.to_bytes(), flipped);
        }
    }
}

#[test]
fn duplicate_or_unsorted_contacts_are_malformed() {
    let mut one = AccountState::new();
    one.upsert(contact("alice", true, 5)).unwrap();
    let bytes = one.to_bytes();
    let entry = &bytes[4..bytes.len() - 2];
    let mut twice = vec![b'A', 4, 0, 2];
    twice.extend_from_slice(entry);
    twice.extend_from_slice(entry);
    twice.extend_from_slice(&[0, 0]);
    assert_eq!(AccountState::from_bytes(&twice), Err(Error::Malformed));
    // A contact that is also forgotten has two meanings: refused.
    let mut both = bytes[..bytes.len() - 2].to_vec();
    both.extend_from_slice(&[0, 1]);
    both.extend_from_slice(one.contacts().next().unwrap().user_id.as_bytes());
    both.extend_from_slice(&1u64.to_be_bytes());
    assert_eq!(AccountState::from_bytes(&both), Err(Error::Malformed));
}

#[test]
fn a_username_must_be_the_user_ids() {
    let mut state = AccountState::new();
    let mut wrong = contact("alice", false, 1);
    wrong.user_id = Username::parse("bob").unwrap().user_id();
    assert_eq!(state.upsert(wrong), Err(Error::Malformed));
    assert_eq!(state.contacts().len(), 0);
}

#[test]
fn merge_keeps_the_newest_entry_per_contact() {
    let mut mine = AccountState::new();
    mine.upsert(contact("alice", false, 10)).unwrap();
    mine.upsert(contact("bob", true, 10)).unwrap();
    let mut theirs = AccountState::new();
    theirs.upsert(contact("alice", true, 11)).unwrap();
    theirs.upsert(contact("bob", false, 9)).unwrap();
    theirs.upsert(contact("carol", false, 1)).unwrap();
    assert_eq!(mine.merge(&theirs).len(), 2);
    let alice = Username::parse("alice").unwrap().user_id();
    let bob = Username::parse("bob").unwrap().user_id();
    assert!(mine.get(&alice).unwrap().verified);
    assert!(mine.get(&bob).unwrap().verified);
    assert_eq!(mine.contacts().len(), 3);
    assert!(mine.merge(&theirs).is_empty());
}

#[test]
fn forgetting_travels_and_an_older_pin_does_not_come_back() {
    let bob = Username::parse("bob").unwrap().user_id();
    let mut a1 = AccountState::new();
    a1.upsert(contact("bob", true, 10)).unwrap();
    let mut a2 = a1.clone();
    a1.forget(&bob, 20);
    // a2 syncs its (older) state to a1: bob stays forgotten.
    assert!(a1.merge(&a2).is_empty());
    assert!(a1.get(&bob).is_none());
    // a1's state reaches a2: bob is forgotten there too.
    assert_eq!(a2.merge(&a1), vec![bob]);
    assert!(a2.get(&bob).is_none());
    // A newer pin (bob's new key, accepted on a1) wins over the forgetting.
    let mut renewed = contact("bob", false, 30);
    renewed.fingerprint = [9; 32];
    a1.upsert(renewed.clone()).unwrap();
    assert_eq!(a2.merge(&a1), vec![bob]);
    assert_eq!(a2.get(&bob), Some(&renewed));
    assert_eq!(a2.forgotten_at(&bob), None);
}

#[test]
fn forgotten_contacts_are_bounded() {
    let mut state = AccountState::new();
    for i in 0..(MAX_FORGOTTEN as u64 + 10) {
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&i.to_be_bytes());
        state.forget(&UserId::from_bytes(id), i);
    }
    let bytes = state.to_bytes();
    assert_eq!(AccountState::from_bytes(&bytes).unwrap(), state);
    let mut first = [0u8; 32];
    first[..8].copy_from_slice(&0u64.to_be_bytes());
    assert_eq!(state.forgotten_at(&UserId::from_bytes(first)), None);
}

#[test]
fn format_3_is_read_with_every_contact_engaged() {
    let mut state = AccountState::new();
    state.upsert(contact("alice", true, 5)).unwrap();
    state.upsert(stranger(1, 6)).unwrap();
    let mut v3 = state.to_bytes();
    v3[1] = 3;
    // The stranger's engaged bit (4) is not a format 3 flag.
    assert_eq!(AccountState::from_bytes(&v3), Err(Error::Malformed));
    state.remove(&stranger(1, 6).user_id);
    let mut v3 = state.to_bytes();
    assert_eq!(&v3[..2], b"A\x05");
    v3[1] = 3;
    let alice = v3.iter().position(|b| *b == 1 | 2 | 4).unwrap();
    v3[alice] = 1 | 2;
    let read = AccountState::from_bytes(&v3).unwrap();
    assert_eq!(read, state);
    assert!(read.contacts().all(|c| c.engaged));
}

#[test]
fn strangers_have_their_own_cap_and_never_evict_an_engaged_contact() {
    let mut state = AccountState::new();
    state.upsert(contact("alice", false, 1)).unwrap();
    for i in 0..MAX_STRANGERS as u64 {
        assert_eq!(state.upsert(stranger(i, 100 + i)).unwrap(), None);
    }
    // One more: the least recently changed stranger goes, alice stays.
    let evicted = state.upsert(stranger(999, 10)).unwrap();
    assert_eq!(evicted, Some(stranger(0, 0).user_id));
    assert_eq!(state.strangers(), MAX_STRANGERS);
    assert!(
        state
            .get(&Username::parse("alice").unwrap().user_id())
            .is_some()
    );
    assert_eq!(state.forgotten_at(&stranger(0, 0).user_id), None);
    let bytes = state.to_bytes();
    assert_eq!(AccountState::from_bytes(&bytes), Ok(state.clone()));
    // Engaged contacts are full only at MAX_CONTACTS, whatever the strangers.
    for i in 0..MAX_CONTACTS as u64 - 1 {
        let mut c = stranger(10_000 + i, 1);
        c.engaged = true;
        state.upsert(c).unwrap();
    }
    let mut one_more = stranger(20_000, 1);
    one_more.engaged = true;
    assert_eq!(state.upsert(one_more), Err(Error::TooLarge));
    assert!(state.upsert(stranger(20_001, 500)).unwrap().is_some());
    let bytes = state.to_bytes();
    assert!(bytes.len() <= MAX_LEN);
    assert_eq!(AccountState::from_bytes(&bytes), Ok(state));
}

#[test]
fn engagement_with_one_pin_survives_any_merge_order() {
    let mut engaged = stranger(1, 10);
    engaged.engaged = true;
    let mut a = AccountState::new();
    a.upsert(engaged.clone()).unwrap();
    // Another device saw the same pin later, still as a stranger.
    let mut b = AccountState::new();
    b.upsert(stranger(1, 20)).unwrap();
    assert_eq!(a.merge(&b), vec![engaged.user_id]);
    let merged = a.get(&engaged.user_id).unwrap();
    assert!(merged.engaged && merged.updated_at == 20);
    assert_eq!(b.merge(&a), vec![engaged.user_id]);
    assert!(b.get(&engaged.user_id).unwrap().engaged);
    assert!(a.merge(&b).is_empty() && b.merge(&a).is_empty());
    // An older engaged entry with the same pin still engages.
    let mut c = AccountState::new();
    c.upsert(stranger(1, 30)).unwrap();
    assert_eq!(
        c.merge(
            &AccountState::from_bytes(&{
                let mut old = AccountState::new();
                old.upsert(engaged).unwrap();
                old.to_bytes()
            })
            .unwrap()
        )
        .len(),
        1
    );
    assert!(c.get(&stranger(1, 0).user_id).unwrap().engaged);
    assert_eq!(c.get(&stranger(1, 0).user_id).unwrap().updated_at, 30);
}

fn nicknamed(mut c: Contact, name: &str, set_at: u64) -> Contact {
    c.nickname = Some(Nickname::new(name, set_at).unwrap());
    c
}

#[test]
fn a_nickname_round_trips_and_a_long_one_is_refused() {
    let mut state = AccountState::new();
    state
        .upsert(nicknamed(contact("alice", true, 5), "Mum ❤", 6))
        .unwrap();
    state
        .upsert(nicknamed(contact("bob", false, 5), "", 7))
        .unwrap();
    let bytes = state.to_bytes();
    assert_eq!(&bytes[..2], b"A\x05");
    assert_eq!(AccountState::from_bytes(&bytes), Ok(state));
    assert_eq!(
        Nickname::new(&"é".repeat(48), 1).map(|n| n.name().len()),
        Ok(96)
    );
    assert_eq!(Nickname::new(&"a".repeat(97), 1), Err(Error::TooLarge));
}

#[test]
fn fail_nicknames_that_are_too_long_not_utf8_or_in_an_older_format() {
    let mut state = AccountState::new();
    state
        .upsert(nicknamed(contact("alice", true, 5), "ab", 6))
        .unwrap();
    let bytes = state.to_bytes();
    // The name's var8 length sits 8 (set_at) + 2 (name) + 1 bytes before the forgotten count.
    let len_at = bytes.len() - 2 - 8 - 2 - 1;
    assert_eq!(bytes[len_at], 2);
    let mut not_utf8 = bytes.clone();
    not_utf8[len_at + 1] = 0xff;
    assert_eq!(AccountState::from_bytes(&not_utf8), Err(Error::Malformed));
    let mut long = bytes[..len_at].to_vec();
    long.push(97);
    long.extend_from_slice(&[b'a'; 97]);
    long.extend_from_slice(&bytes[len_at + 3..]);
    assert_eq!(AccountState::from_bytes(&long), Err(Error::Malformed));
    let mut v4 = bytes.clone();
    v4[1] = 4;
    assert_eq!(AccountState::from_bytes(&v4), Err(Error::Malformed));
}

#[test]
fn a_format_4_state_is_still_read() {
    let mut state = AccountState::new();
    state.upsert(contact("alice", true, 5)).unwrap();
    let mut v4 = state.to_bytes();
    v4[1] = 4;
    assert_eq!(AccountState::from_bytes(&v4), Ok(state));
}

#[test]
fn a_name_and_a_mark_set_at_once_on_two_devices_both_survive_in_either_order() {
    let base = contact("alice", false, 5);
    let mut named = AccountState::new();
    named.upsert(nicknamed(base.clone(), "Al", 10)).unwrap();
    let mut marked = AccountState::new();
    marked
        .upsert(Contact {
            verified: true,
            updated_at: 11,
            ..base
        })
        .unwrap();
    let mut a = named.clone();
    a.merge(&marked);
    let mut b = marked.clone();
    b.merge(&named);
    assert_eq!(a, b);
    let c = a.get(&Username::parse("alice").unwrap().user_id()).unwrap();
    assert!(c.verified);
    assert_eq!(c.nickname.as_ref().map(Nickname::name), Some("Al"));
}

#[test]
fn the_newest_name_wins_and_a_removal_travels() {
    let base = contact("alice", false, 5);
    let mut one = AccountState::new();
    one.upsert(nicknamed(base.clone(), "Al", 10)).unwrap();
    let mut two = AccountState::new();
    two.upsert(nicknamed(base.clone(), "", 12)).unwrap();
    let user = base.user_id;
    assert_eq!(one.merge(&two), vec![user]);
    assert_eq!(
        one.get(&user)
            .unwrap()
            .nickname
            .as_ref()
            .map(Nickname::name),
        Some("")
    );
    // Same time on both: the larger name, so both converge.
    let mut x = AccountState::new();
    x.upsert(nicknamed(base.clone(), "Ann", 20)).unwrap();
    let mut y = AccountState::new();
    y.upsert(nicknamed(base, "Bea", 20)).unwrap();
    let (mut xy, mut yx) = (x.clone(), y.clone());
    xy.merge(&y);
    yx.merge(&x);
    assert_eq!(xy, yx);
    assert_eq!(
        xy.get(&user).unwrap().nickname.as_ref().map(Nickname::name),
        Some("Bea")
    );
}
