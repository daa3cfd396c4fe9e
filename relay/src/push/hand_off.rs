//! What a deposit hands to its mailbox's WebSocket subscribers once the store has it.
//!
//! On PostgreSQL the blob is handed over after its commit. The SQLite writer thread
//! hands it over before its commit's fsync ([`HandOff::early`]), so the push does
//! not wait for the disk, and the `201` still does. Why that is sound
//! (docs/API.md "WebSocket"): the blob is end-to-end encrypted, so the push reveals
//! nothing a committed one would not; if the relay dies before the commit, the
//! depositor got no `201` and deposits the same envelope again, which the recipient
//! drops as a replay (docs/PROTOCOL.md 15.2 and the seen-set), and a blob the
//! depositor never sends again was delivered anyway; an acknowledgement of it is
//! committed after it (the writer takes new jobs only after the commit in progress),
//! so it never deletes before the insert nor leaves the blob behind.

use std::sync::Arc;

use axum::extract::ws::Utf8Bytes;

use super::hub::{Hub, Mark, Pushed};
use crate::store::Mailbox;

/// The hub of this process and the blob's `blob` frame (`None`: too large to push
/// inline, subscribers read it from the store).
#[derive(Debug, Clone)]
pub struct HandOff {
    hub: Arc<Hub>,
    frame: Option<Utf8Bytes>,
}

impl HandOff {
    /// Hands to `hub`'s subscribers, `frame` inline if given.
    pub fn new(hub: Arc<Hub>, frame: Option<Utf8Bytes>) -> Self {
        Self { hub, frame }
    }

    /// Before the commit of the blob stored under `seq`: hands its frame to the
    /// subscribers. A blob without frame waits for [`HandOff::committed`] (they would
    /// read the store too early). The mark goes to [`HandOff::committed`].
    pub fn early(&self, mailbox: &Mailbox, seq: i64) -> Option<Mark> {
        let frame = self.frame.clone()?;
        Some(self.hub.publish(mailbox, &Pushed { seq, frame }))
    }

    /// After the commit: settles an early hand-off ([`Hub::settle`]), or hands the
    /// blob over now.
    pub fn committed(&self, mailbox: &Mailbox, seq: i64, early: Option<Mark>) {
        match (early, &self.frame) {
            (Some(mark), _) => self.hub.settle(mailbox, mark),
            (None, Some(frame)) => {
                self.hub.publish(
                    mailbox,
                    &Pushed {
                        seq,
                        frame: frame.clone(),
                    },
                );
            }
            (None, None) => self.hub.notify(mailbox),
        }
    }

    /// The commit after an early hand-off failed: the subscribers start over.
    pub fn withdrawn(&self, mailbox: &Mailbox) {
        self.hub.reset(mailbox);
    }
}
