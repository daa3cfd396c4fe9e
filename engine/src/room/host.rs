//! The host's part of a room: answering joins (SPAKE2, checking the joiner's
//! confirmation, the grant) and rotating the room key at every change of membership.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use sealpost_core::sorted::SortedMap;

use rand_core::CryptoRng;
use sealpost_core::v2::room::{EpochKey, HostPake, MAX_MEMBERS, MemberId, RoomCode, seal_rekey};
use zeroize::Zeroizing;

use super::member::Membership;
use super::{HOST, MAX_PENDING_JOINS, Output, Refusal, RoomEvent, RoomOut};

/// What only the host holds. Its secrets are wiped when dropped (`RoomCode` and the
/// keys zeroize themselves); those in the maps are boxed, because a `SortedMap` is a
/// `Vec` that moves its entries when one is inserted or removed, and a moved-from slot
/// or a reallocated buffer is not wiped: boxed, only the pointers move.
pub(super) struct HostState {
    code: RoomCode,
    /// Each guest's pairwise key from its join (rekeys are sealed under it).
    pairs: SortedMap<MemberId, Box<Zeroizing<[u8; 32]>>>,
    /// Joins that answered SPAKE2 and wait for the joiner's confirmation: the keys
    /// derived from the SPAKE2 key (the SPAKE2 state itself is gone, `HostPake`).
    pending: SortedMap<MemberId, Box<HostPake>>,
}

impl HostState {
    pub(super) fn new(code: RoomCode) -> Self {
        Self {
            code,
            pairs: SortedMap::new(),
            pending: SortedMap::new(),
        }
    }

    pub(super) fn code(&self) -> &RoomCode {
        &self.code
    }

    /// Forgets a join in progress whose joiner went away; `true` if there was one.
    pub(super) fn forget_pending(&mut self, member: MemberId) -> bool {
        self.pending.remove(&member).is_some()
    }
}

impl Membership {
    /// A PAKE message from `from`: its SPAKE2 message, or its confirmation.
    pub(super) fn host_pake<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        from: MemberId,
        data: &[u8],
    ) -> Vec<Output> {
        let refused = |reason| vec![Output::Event(RoomEvent::Refused { from, reason })];
        if from == HOST || self.peer_ids().any(|p| p == from) {
            return refused(Refusal::Unexpected);
        }
        let members = self.member_count();
        let Some(host) = self.host.as_mut() else {
            return refused(Refusal::Unexpected);
        };
        let refuse_join = || {
            vec![
                Output::Send(RoomOut::Refuse { to: from }),
                Output::Event(RoomEvent::JoinRefused { member: from }),
            ]
        };
        if let Some(pake) = host.pending.remove(&from) {
            if pake.check(data).is_err() || members >= MAX_MEMBERS {
                return refuse_join();
            }
            return self.rotate(rng, Some((from, pake)));
        }
        if host.pending.len() >= MAX_PENDING_JOINS || members >= MAX_MEMBERS {
            return refuse_join();
        }
        match HostPake::respond(rng, &host.code, data) {
            Ok((pake, msg_b)) => {
                host.pending.insert(from, Box::new(pake));
                vec![Output::Send(RoomOut::Pake {
                    to: from,
                    data: msg_b.to_vec(),
                })]
            }
            Err(_) => refuse_join(),
        }
    }

    /// A new epoch: its key sealed to every guest that stays, then (when someone is
    /// being admitted) the grant of that key to the joiner.
    pub(super) fn rotate<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        admit: Option<(MemberId, Box<HostPake>)>,
    ) -> Vec<Output> {
        let mut out = Vec::new();
        let next = EpochKey::generate(rng, self.key.epoch.saturating_add(1));
        let guests: Vec<MemberId> = self.peer_ids().collect();
        let Some(host) = self.host.as_mut() else {
            return out;
        };
        host.pairs.retain(|id, _| guests.contains(id));
        for (&to, pair) in &host.pairs {
            if let Ok(data) = seal_rekey(rng, pair, to, &next) {
                out.push(Output::Send(RoomOut::Rekey { to, data }));
            }
        }
        let admitted = match admit {
            Some((to, pake)) => match pake.grant(rng, to, &next) {
                Ok(grant) => {
                    host.pairs.insert(to, Box::new(pake.pair_key()));
                    Some((to, grant))
                }
                Err(_) => None,
            },
            None => None,
        };
        let epoch = next.epoch;
        self.advance(next);
        out.push(Output::Event(RoomEvent::Rekeyed { epoch }));
        if let Some((to, grant)) = admitted {
            self.add_peer(to, true);
            out.push(Output::Send(RoomOut::Admit { to, grant }));
            out.push(Output::Event(RoomEvent::MemberJoined { member: to }));
            out.extend(self.announce(to));
        }
        out
    }
}
