//! What needs the inside of a session: a member who holds another member's chain key and
//! header key (every member does) but not its signing key cannot forge its messages.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use alloc::vec;

use p256::ecdsa::SigningKey;
use p256::elliptic_curve::Generate;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;

use super::{GroupError, GroupSession, GroupState, Invitee};
use crate::username::Username;
use crate::v2::fixture_identity as identity;
use crate::v2::ids::DeviceId;

#[test]
fn a_member_with_the_chain_key_cannot_forge_its_messages() {
    let mut r = ChaCha20Rng::seed_from_u64(5);
    let (alice, bob) = (identity("alice"), identity("bob"));
    let (a_name, b_name) = (
        Username::parse("alice").unwrap(),
        Username::parse("bob").unwrap(),
    );
    let (a_user, b_user) = (a_name.user_id(), b_name.user_id());
    let (a_dev, b_dev) = (DeviceId::from_bytes([1; 16]), DeviceId::from_bytes([2; 16]));
    let (mut a, create) = GroupSession::create(
        &mut r,
        &alice,
        &a_name,
        a_dev,
        "g",
        vec![Invitee::new(b_name, bob.public().fingerprint())],
    )
    .unwrap();
    let mut b = GroupSession::join(GroupState::create(&create).unwrap(), b_user, b_dev).unwrap();
    let d = a.sender_key(&mut r).unwrap();
    b.add_chain(&a_user, &a_dev, &alice.public(), &d).unwrap();

    // The forger: alice's chain (key, header key, id, position) with another signing key.
    let mut forger = GroupSession::join(a.state().clone(), a_user, a_dev).unwrap();
    forger.sender_key(&mut r).unwrap();
    let own = forger.own.as_mut().unwrap();
    own.chain_id = d.chain_id;
    own.chain.chain_key = d.chain_key.clone();
    own.chain.header_key = d.header_key.clone();
    own.signing = SigningKey::generate_from_rng(&mut r);
    let forged = forger.seal(&mut r, b"send me your password", 0).unwrap();
    assert_eq!(b.open(&forged, 0).unwrap_err(), GroupError::BadSignature);

    // Nothing moved: alice's genuine message at the same counter still opens.
    let genuine = a.seal(&mut r, b"hi", 0).unwrap();
    assert_eq!(&b.open(&genuine, 0).unwrap().payload[..], b"hi");
}
