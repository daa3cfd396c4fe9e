//! Members the relay hides (PROTOCOL.md 30.4 "Rosters"). The relay forwards every frame,
//! so it can drop one member's frames to another, or tell one member that another left,
//! and the member would simply not be shown. But every frame carries, sealed under the
//! room key, the members its sender sees; a member listed by someone this member sees,
//! and not seen by this member, is reported as not reaching it instead of being left
//! out in silence. To hide a member from A the relay would have to drop the frames of
//! everyone who sees it, which cuts A off visibly.
//!
//! The same rosters tell a member whom it does not reach: a shown member whose last
//! frame does not list it is **unheard by** that member. A relay that drops X's frames to
//! everyone leaves the others nothing to notice (X never reached them), but X sees every
//! roster leave it out, and is told its messages go nowhere instead of talking on into
//! silence.

use alloc::vec::Vec;

use sealpost_core::v2::room::{MemberId, RosterEntry};

use super::member::Membership;
use super::{Output, RoomEvent};

/// What the rosters reported before an input ([`Membership::reports`]).
pub(super) struct Reports {
    unreached: Vec<(MemberId, MemberId)>,
    unheard: Vec<MemberId>,
}

impl Membership {
    /// What this member's frames say it sees: itself (counter 0) and each shown member
    /// it accepted a frame from, with the last counter it accepted from it (its receipt,
    /// `receipts.rs`). Not a member the host admitted and has not heard from yet: the
    /// others see that member through its own hello to everyone, which comes before
    /// anything the host sends after hearing it, so no one reports it in the meantime.
    pub(super) fn roster(&self) -> Vec<RosterEntry> {
        let mut roster: Vec<RosterEntry> = self
            .peers
            .iter()
            .filter(|(_, p)| p.proven && p.last_counter > 0)
            .map(|(&member, p)| RosterEntry {
                member,
                counter: p.last_counter,
            })
            .collect();
        // The peers come in ascending order: this member goes in its place.
        let at = roster.partition_point(|e| e.member < self.me);
        roster.insert(
            at,
            RosterEntry {
                member: self.me,
                counter: 0,
            },
        );
        roster
    }

    /// `(member, via)` for each member listed in the last current-key roster of a shown
    /// member `via` (the lowest such id) that this member does not show, in the order
    /// found. At most one entry per member id, and rosters are at most `MAX_MEMBERS`
    /// long, so this is bounded by the room's size squared.
    pub(super) fn unreached(&self) -> Vec<(MemberId, MemberId)> {
        let mut out: Vec<(MemberId, MemberId)> = Vec::new();
        for (&via, peer) in self.peers.iter() {
            for &member in peer.roster.iter().filter(|_| peer.proven) {
                let seen = member == self.me || self.peers.get(&member).is_some_and(|p| p.proven);
                if !seen && out.iter().all(|&(m, _)| m != member) {
                    out.push((member, via));
                }
            }
        }
        out
    }

    /// Each shown member whose last frame under the current key does not list this
    /// member (its roster is empty until it sends one after a rotation: not counted).
    /// A member lists another once it accepted a frame from it, and answers the first
    /// one with a frame of its own, so an honest relay leaves none here for longer than
    /// a round trip after a join.
    pub(super) fn unheard(&self) -> Vec<MemberId> {
        self.peers
            .iter()
            .filter(|(_, p)| p.proven && !p.roster.is_empty() && !p.roster.contains(&self.me))
            .map(|(id, _)| *id)
            .collect()
    }

    /// What the rosters report now, to compare after an input.
    pub(super) fn reports(&self) -> Reports {
        Reports {
            unreached: self.unreached(),
            unheard: self.unheard(),
        }
    }

    /// Tells of each member unreached ([`RoomEvent::Unreached`]) or unheard by
    /// ([`RoomEvent::Unheard`]) now and not in `before`.
    pub(super) fn tell(&self, before: &Reports, out: &mut Vec<Output>) {
        for (member, via) in self.unreached() {
            if before.unreached.iter().all(|&(m, _)| m != member) {
                out.push(Output::Event(RoomEvent::Unreached { member, via }));
            }
        }
        for by in self.unheard() {
            if !before.unheard.contains(&by) {
                out.push(Output::Event(RoomEvent::Unheard { by }));
            }
        }
    }

    /// `member` left (by the relay's word): no roster names it any more until its
    /// sender says so again in a later frame, so a member who truly left is not reported
    /// in the moment before the others' next frames, and one the relay only claims left
    /// is reported again by the next frame of anyone who still sees it.
    pub(super) fn forget_in_rosters(&mut self, member: MemberId) {
        for p in self.peers.values_mut() {
            p.roster.retain(|&m| m != member);
        }
    }
}
