//! What `Part::Groups` held before group state format 2 (commit bc62016), read and
//! upgraded so that such a store loads (PROTOCOL.md 27.2 "Format 1", 27.7): states in
//! format 1 become format 2 ([`GroupState::from_stored_bytes`]), the old last step (one
//! operation) becomes a race of that operation.

use alloc::vec::Vec;

use sealpost_core::v2::group::{GroupOp, GroupState, Race};
use sealpost_core::{Error, Result};
use zeroize::Zeroizing;

use super::read_op;
use crate::codec::{Codec, Reader};
use crate::payload::Payload;

/// A last step as stored before group state format 2 (commit bc62016): the state before
/// (format 1, upgraded as in [`GroupState::from_stored_bytes`]), the one operation
/// applied, and whether this device signed it. It becomes a race of that one operation.
pub(super) fn read_last_v1(before: &[u8], r: &mut Reader<'_>) -> Result<(Race, Option<GroupOp>)> {
    let before = GroupState::from_stored_bytes(before).map_err(|_| Error::Malformed)?;
    let op = read_op(r)?;
    let own = r.bool()?.then(|| op.clone());
    let race = Race::new(before, op).map_err(|_| Error::Malformed)?;
    Ok((race, own))
}

/// A pairwise group payload stored (held or pending) before format 2 carries a state
/// of format 1 for a member being added: upgraded, so it is taken or sent like one made
/// now. Anything else is kept as it is.
pub(super) fn upgrade_payload(payload: &[u8]) -> Zeroizing<Vec<u8>> {
    let upgraded = match Payload::from_bytes(payload) {
        Ok(Payload::GroupOp {
            state: Some(state),
            op,
        }) if GroupState::is_format_1(&state) => GroupState::from_stored_bytes(&state)
            .and_then(|s| s.to_bytes())
            .ok()
            .map(|state| Payload::GroupOp {
                state: Some(state),
                op,
            }),
        _ => None,
    };
    Zeroizing::new(upgraded.map_or_else(|| payload.to_vec(), |p| p.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A format-1 state of two members, one admin, at epoch 2.
    fn v1_state() -> Vec<u8> {
        let mut s = alloc::vec![b'G', 1];
        s.extend_from_slice(&[7; 16]);
        s.extend_from_slice(&2u64.to_be_bytes());
        s.extend_from_slice(&1u64.to_be_bytes());
        s.push(1);
        s.push(b'g');
        s.extend_from_slice(&2u16.to_be_bytes());
        for (user, flag) in [(1u8, 0u8), (2, 1)] {
            s.extend_from_slice(&[user; 32]);
            s.extend_from_slice(&[9; 32]);
            s.push(flag);
        }
        s
    }

    #[test]
    fn a_stored_payload_with_a_format_1_state_is_upgraded_and_others_are_kept() {
        let op = alloc::vec![5; 40];
        let old = Payload::GroupOp {
            state: Some(v1_state()),
            op: op.clone(),
        };
        let up = Payload::from_bytes(&upgrade_payload(&old.to_bytes())).unwrap();
        let Payload::GroupOp {
            state: Some(state),
            op: same,
        } = up
        else {
            panic!("not a group operation");
        };
        assert_eq!(same, op);
        assert!(!GroupState::is_format_1(&state));
        let state = GroupState::from_bytes(&state).unwrap();
        let admin = state.members().values().find(|m| m.is_admin()).unwrap();
        assert_eq!((state.epoch(), admin.admin_since), (2, 1));
        // Without a state, in format 2, or not a payload at all: the same bytes.
        let plain = Payload::GroupOp { state: None, op }.to_bytes();
        let current = Payload::GroupOp {
            state: Some(state.to_bytes().unwrap()),
            op: alloc::vec![5; 40],
        }
        .to_bytes();
        for bytes in [plain, current, alloc::vec![0xff; 9]] {
            assert_eq!(*upgrade_payload(&bytes), bytes);
        }
        // A format-1 state that does not parse: kept as it is, refused when taken.
        let mut bad = v1_state();
        bad.push(0);
        let broken = Payload::GroupOp {
            state: Some(bad),
            op: alloc::vec![5; 40],
        }
        .to_bytes();
        assert_eq!(*upgrade_payload(&broken), broken);
    }
}
