//! The outbox: every sent message until each device it was sealed to has receipted it.
//!
//! A message is sealed once per target device (the recipient's devices and the sender's
//! own other devices). It stays here until every target receipted it or left its
//! account's device list, so nothing is lost in silence: the app sees "delivered to n of
//! m devices", a message that no current device of the recipient receipted is re-sent
//! when one of the recipient's devices is removed, and sealed to a device that joins the
//! recipient's list (`added.rs`), everything a device asks for with a `ResetRequest` is
//! re-sealed to it, and a device that does not receipt a message is sent it again in a
//! new session on a schedule ([`Outbox::due`], `schedule.rs`: after
//! [`crate::limits::RESEND_AFTER`], then 4, 16 and 64 times that, at most
//! [`MAX_RESENDS`] re-sends per message and device in all). An envelope the relay has
//! not taken yet is kept with its target, so a restart re-deposits the very same bytes
//! instead of sealing a new counter (which the receiver would count as missing).

use alloc::vec::Vec;

use sealpost_core::v2::DeviceId;
use sealpost_core::{Error, Result, UserId};

use crate::limits::{MAX_MESSAGE_AGE, MAX_RESENDS};
use crate::msg_id::MsgId;
use crate::payload::Message;

/// Most messages waiting for receipts; a send beyond it is refused, not queued.
pub const MAX_OUTBOX: usize = 1024;
/// Most target devices per message (8 of the recipient, 7 own, and re-send targets).
pub const MAX_TARGETS: usize = 32;

/// Where a message stands with one target device.
#[derive(Clone, PartialEq, Eq)]
enum TargetState {
    /// Sealed, not yet taken by the relay: the envelope to (re-)deposit.
    Unsent(Vec<u8>),
    /// The relay took it.
    Sent,
    /// The device receipted it.
    Receipted,
}

/// One device a message was sealed to.
#[derive(Clone, PartialEq, Eq)]
struct Target {
    /// The device's account.
    pub user: UserId,
    /// The device.
    pub device: DeviceId,
    /// Where the message stands with it.
    pub state: TargetState,
    /// Re-sends to it so far (timer and reset requests), at most [`MAX_RESENDS`].
    pub resends: u8,
    /// When it was last sealed to it (the re-send timer runs from here).
    pub sealed_at: u64,
}

/// "Delivered to `delivered` of `total` devices of the recipient."
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// Recipient devices that receipted the message.
    pub delivered: usize,
    /// Recipient devices the message was sealed to and that are still in the list.
    pub total: usize,
}

/// A message waiting for receipts.
#[derive(Clone, PartialEq, Eq)]
struct Entry {
    message: Message,
    created_at: u64,
    targets: Vec<Target>,
}

impl Entry {
    fn delivery(&self) -> Delivery {
        let to = self.message.conversation();
        let mine = self.targets.iter().filter(|t| t.user == *to);
        let (delivered, total) = mine.fold((0, 0), |(d, n), t| {
            (d + usize::from(t.state == TargetState::Receipted), n + 1)
        });
        Delivery { delivered, total }
    }

    fn complete(&self) -> bool {
        self.targets
            .iter()
            .all(|t| t.state == TargetState::Receipted)
    }
}

/// A message to seal again for some devices (same `msg_id`: receivers de-duplicate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resend {
    /// The message.
    pub message: Message,
    /// The devices to seal it to, all of `message.conversation()`'s account or of the
    /// device that asked for a reset.
    pub devices: Vec<(UserId, DeviceId)>,
}

/// Sent messages by send order (re-sends keep that order).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Outbox {
    entries: Vec<Entry>,
    /// The largest `seq` of a message added (kept when the message leaves): the next
    /// message is numbered after it ([`Outbox::next_seq`]).
    last_seq: u64,
}

impl core::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Outbox")
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of messages waiting.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether a message with `id` is waiting.
    pub fn contains(&self, id: &MsgId) -> bool {
        self.entry(id).is_some()
    }

    fn entry(&self, id: &MsgId) -> Option<&Entry> {
        self.entries.iter().find(|e| e.message.msg_id() == *id)
    }

    fn entry_mut(&mut self, id: &MsgId) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.message.msg_id() == *id)
    }

    /// The `seq` of this device's next new message (PROTOCOL.md 17.2): one more than
    /// any message added before, also those that left since.
    pub fn next_seq(&self) -> u64 {
        self.last_seq.saturating_add(1)
    }

    /// Whether [`Outbox::add`] would refuse a new message for lack of room.
    pub fn is_full(&self) -> bool {
        self.entries.len() >= MAX_OUTBOX
    }

    /// Keeps a freshly sealed message: `sealed` holds each target and its envelope.
    /// [`Error::TooLarge`] when the outbox or the target list is full, [`Error::Malformed`]
    /// for a duplicate id or target: nothing changes then. A message sealed to no device
    /// at all (only possible to oneself with one device) is complete at once.
    pub fn add(
        &mut self,
        message: Message,
        created_at: u64,
        sealed: Vec<(UserId, DeviceId, Vec<u8>)>,
    ) -> Result<Delivery> {
        if self.is_full() || sealed.len() > MAX_TARGETS {
            return Err(Error::TooLarge);
        }
        if self.contains(&message.msg_id()) || has_duplicates(sealed.iter().map(|s| (s.0, s.1))) {
            return Err(Error::Malformed);
        }
        let targets = sealed
            .into_iter()
            .map(|(user, device, envelope)| Target {
                user,
                device,
                state: TargetState::Unsent(envelope),
                resends: 0,
                sealed_at: created_at,
            })
            .collect();
        let entry = Entry {
            message,
            created_at,
            targets,
        };
        let delivery = entry.delivery();
        self.last_seq = self.last_seq.max(entry.message.seq());
        if !entry.complete() {
            self.entries.push(entry);
        }
        Ok(delivery)
    }

    /// Adds or replaces targets of a waiting message with fresh envelopes (a re-send).
    /// Unknown messages are ignored; targets beyond [`MAX_TARGETS`] are dropped. Does
    /// not count re-sends: the engine uses [`Outbox::reseal_at`].
    pub fn reseal(&mut self, id: &MsgId, sealed: Vec<(UserId, DeviceId, Vec<u8>)>) {
        self.reseal_inner(id, sealed, None);
    }

    fn reseal_inner(
        &mut self,
        id: &MsgId,
        sealed: Vec<(UserId, DeviceId, Vec<u8>)>,
        now: Option<u64>,
    ) {
        let Some(entry) = self.entry_mut(id) else {
            return;
        };
        let created_at = entry.created_at;
        for (user, device, envelope) in sealed {
            let state = TargetState::Unsent(envelope);
            let at = entry
                .targets
                .iter()
                .position(|t| t.user == user && t.device == device);
            if let Some(t) = at.and_then(|i| entry.targets.get_mut(i)) {
                t.state = state;
                if let Some(now) = now {
                    t.resends = t.resends.saturating_add(1).min(MAX_RESENDS);
                    t.sealed_at = now;
                }
            } else if entry.targets.len() < MAX_TARGETS {
                entry.targets.push(Target {
                    user,
                    device,
                    state,
                    resends: 0,
                    sealed_at: now.unwrap_or(created_at),
                });
            }
        }
    }

    /// Envelopes the relay has not taken yet, in send order: `(msg, user, device, bytes)`.
    pub fn unsent(&self) -> impl Iterator<Item = (MsgId, UserId, DeviceId, &[u8])> {
        self.entries.iter().flat_map(|e| {
            e.targets.iter().filter_map(move |t| match &t.state {
                TargetState::Unsent(env) => Some((e.message.msg_id(), t.user, t.device, &env[..])),
                _ => None,
            })
        })
    }

    /// The relay took the envelope for `(user, device)`: drop the bytes.
    pub fn deposited(&mut self, id: &MsgId, user: &UserId, device: &DeviceId) {
        if let Some(t) = self.entry_mut(id).and_then(|e| {
            e.targets
                .iter_mut()
                .find(|t| t.user == *user && t.device == *device)
        }) && matches!(t.state, TargetState::Unsent(_))
        {
            t.state = TargetState::Sent;
        }
    }

    /// A receipt from `(user, device)`, which the session authenticated. Only messages
    /// sealed to that very device count. Returns each changed message with its delivery
    /// state; a message receipted by all its targets leaves the outbox.
    pub fn receipt(
        &mut self,
        user: &UserId,
        device: &DeviceId,
        ids: &[MsgId],
    ) -> Vec<(MsgId, Delivery)> {
        let mut changed = Vec::new();
        for id in ids {
            let Some(entry) = self.entry_mut(id) else {
                continue;
            };
            let Some(t) = entry
                .targets
                .iter_mut()
                .find(|t| t.user == *user && t.device == *device)
            else {
                continue;
            };
            if t.state != TargetState::Receipted {
                t.state = TargetState::Receipted;
                changed.push((*id, entry.delivery()));
            }
        }
        self.entries.retain(|e| !e.complete());
        changed
    }

    /// `user`'s current device list is `current`. Targets that left it are dropped (their
    /// messages can never be receipted). A message to `user` that no remaining device
    /// receipted, and that lost a target, is to be re-sent to the current devices it was
    /// not sealed to. Returns the re-sends and the changed delivery states; messages left
    /// without targets stay until [`Outbox::sweep`].
    pub fn devices_changed(
        &mut self,
        user: &UserId,
        current: &[DeviceId],
    ) -> (Vec<Resend>, Vec<(MsgId, Delivery)>) {
        let mut resends = Vec::new();
        let mut changed = Vec::new();
        for entry in &mut self.entries {
            let before = entry.targets.len();
            entry
                .targets
                .retain(|t| t.user != *user || current.contains(&t.device));
            if entry.targets.len() == before {
                continue;
            }
            changed.push((entry.message.msg_id(), entry.delivery()));
            let to_user = entry.message.conversation() == user;
            let receipted = entry
                .targets
                .iter()
                .any(|t| t.user == *user && t.state == TargetState::Receipted);
            if to_user && !receipted {
                let devices: Vec<(UserId, DeviceId)> = current
                    .iter()
                    .filter(|d| {
                        !entry
                            .targets
                            .iter()
                            .any(|t| t.user == *user && t.device == **d)
                    })
                    .map(|d| (*user, *d))
                    .collect();
                if !devices.is_empty() {
                    resends.push(Resend {
                        message: entry.message.clone(),
                        devices,
                    });
                }
            }
        }
        (resends, changed)
    }

    /// Drops messages no target is waiting for any more (all receipted, or every target
    /// left its list): call after sealing the re-sends of [`Outbox::devices_changed`].
    /// Returns the dropped ones that no recipient device ever receipted.
    pub fn sweep(&mut self) -> Vec<MsgId> {
        let mut undelivered = Vec::new();
        self.entries.retain(|e| {
            let done = e.complete();
            if done && e.delivery().delivered == 0 {
                undelivered.push(e.message.msg_id());
            }
            !done
        });
        undelivered
    }

    /// `(user, device)` lost its session with us: every message sealed to it and not
    /// receipted is to be sealed again, in send order, unless it was re-sent
    /// [`MAX_RESENDS`] times to it already (so repeated reset requests cost a bounded
    /// number of re-sends per message).
    pub fn reset(&self, user: &UserId, device: &DeviceId) -> Vec<Resend> {
        self.entries
            .iter()
            .filter(|e| {
                e.targets.iter().any(|t| {
                    t.user == *user
                        && t.device == *device
                        && t.state != TargetState::Receipted
                        && t.resends < MAX_RESENDS
                })
            })
            .map(|e| Resend {
                message: e.message.clone(),
                devices: alloc::vec![(*user, *device)],
            })
            .collect()
    }

    /// Drops messages older than [`MAX_MESSAGE_AGE`]: the relay no longer holds them and
    /// receivers would refuse them. Returns them with their final delivery state.
    pub fn expire(&mut self, now: u64) -> Vec<(MsgId, Delivery)> {
        let mut gone = Vec::new();
        self.entries.retain(|e| {
            let keep = e.created_at.saturating_add(MAX_MESSAGE_AGE) >= now;
            if !keep {
                gone.push((e.message.msg_id(), e.delivery()));
            }
            keep
        });
        gone
    }
}

fn has_duplicates(items: impl Iterator<Item = (UserId, DeviceId)>) -> bool {
    let mut seen = Vec::new();
    for item in items {
        if seen.contains(&item) {
            return true;
        }
        seen.push(item);
    }
    false
}

mod added;
mod codec;
mod schedule;
#[cfg(test)]
mod tests;
