//! The in-process hand-off from a deposit to the connections subscribed to its mailbox
//! (docs/API.md "WebSocket"): a bounded queue per connection, and a flag that turns a
//! full queue into "look at the store" so a slow connection costs memory for at most
//! [`QUEUE`] frames and never loses a blob.
//!
//! A hand-off may come before its commit is durable (`hand_off.rs`): then the store,
//! read in between, may not show the blob yet. [`Hub::settle`] after the commit wakes
//! the connections that may have looked too early; [`Hub::reset`] after a failed
//! commit ends the connections that were handed a blob the store then forgot.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::ws::Utf8Bytes;
use base64::Engine;
use tokio::sync::mpsc;

use crate::B64;
use crate::store::{BlobId, Mailbox};

/// Hand-offs queued per connection before it falls back to reading the store: a
/// connection that does not keep up holds at most this many frames.
const QUEUE: usize = 16;
/// Largest blob handed to subscribers in memory; larger ones are read from the store,
/// so queued frames stay small (a queue holds at most [`QUEUE`] of these).
pub const PUSH_INLINE_MAX: usize = 64 * 1024;

/// A blob committed by this process, ready to send: its place in the mailbox and its
/// `blob` frame.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The blob's sequence number in its mailbox.
    pub seq: i64,
    /// The encoded `{"type":"blob",...}` message.
    pub frame: Utf8Bytes,
}

/// What a subscriber is woken with.
#[derive(Debug)]
pub enum Wake<M> {
    /// The next hand-off, in the order they were published.
    Message(M),
    /// Something changed that was not handed over (or a hand-off was dropped because
    /// the queue was full): look at the store.
    Changed,
    /// Hand-offs were withdrawn (their commit failed): what this connection sent may
    /// be more than the store holds, so it starts over (docs/API.md: the client
    /// reconnects and reads the store).
    Reset,
}

/// Which subscriptions existed when a message was published ([`Hub::publish`]): those
/// made later did not get it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark(u64);

/// Wakes the connections subscribed to a mailbox (or, for link channels, the requests
/// waiting for a slot): `K` is what they wait on, `M` what is handed to them.
#[derive(Debug)]
pub struct Hub<K = Mailbox, M = Pushed> {
    subscribers: Mutex<HashMap<K, Vec<Subscriber<M>>>>,
    next_key: AtomicU64,
}

#[derive(Debug)]
struct Subscriber<M> {
    key: u64,
    tx: mpsc::Sender<Wake<M>>,
    missed: Arc<AtomicBool>,
    /// A hand-off was dropped since the last [`Hub::settle`] of this mailbox.
    dropped: AtomicBool,
    reset: Arc<AtomicBool>,
}

impl<M> Subscriber<M> {
    /// Queues `wake`; if the queue is full, the subscriber re-reads the store instead.
    fn wake(&self, wake: Wake<M>) {
        if self.tx.try_send(wake).is_err() {
            self.dropped.store(true, Ordering::Release);
            self.missed.store(true, Ordering::Release);
            // Wakes a subscriber that is waiting on an empty queue only in theory (the
            // queue is full); the flag is read before its next wait.
        }
    }
}

impl<K, M> Default for Hub<K, M> {
    fn default() -> Self {
        Self {
            subscribers: Mutex::new(HashMap::new()),
            next_key: AtomicU64::new(0),
        }
    }
}

/// A connection's subscription; unsubscribes on drop.
#[derive(Debug)]
pub struct Subscription<K: Hash + Eq + Copy = Mailbox, M = Pushed> {
    hub: Arc<Hub<K, M>>,
    id: K,
    key: u64,
    rx: mpsc::Receiver<Wake<M>>,
    missed: Arc<AtomicBool>,
    reset: Arc<AtomicBool>,
}

impl<K: Hash + Eq + Copy, M: Clone> Hub<K, M> {
    /// Subscribes to `id`, unless `max` connections already are.
    pub fn subscribe(self: &Arc<Self>, id: K, max: usize) -> Option<Subscription<K, M>> {
        let mut map = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let list = map.entry(id).or_default();
        if list.len() >= max {
            if list.is_empty() {
                map.remove(&id);
            }
            return None;
        }
        let key = self.next_key.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(QUEUE);
        let missed = Arc::new(AtomicBool::new(false));
        let reset = Arc::new(AtomicBool::new(false));
        list.push(Subscriber {
            key,
            tx,
            missed: Arc::clone(&missed),
            dropped: AtomicBool::new(false),
            reset: Arc::clone(&reset),
        });
        Some(Subscription {
            hub: Arc::clone(self),
            id,
            key,
            rx,
            missed,
            reset,
        })
    }

    /// Hands `message` to every connection subscribed to `id`; the mark tells
    /// [`Hub::settle`] who did not get it.
    pub fn publish(&self, id: &K, message: &M) -> Mark {
        let map = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Read under the lock: a subscription made after this one is released has a
        // key at least this.
        let mark = Mark(self.next_key.load(Ordering::Relaxed));
        for s in map.get(id).into_iter().flatten() {
            s.wake(Wake::Message(message.clone()));
        }
        mark
    }

    /// After the commit of what was published to `id` at `mark`: wakes the connections
    /// that may have read the store before that commit and so missed it (subscribed
    /// after the publish, or their queue had no room for it), so they read it again.
    pub fn settle(&self, id: &K, mark: Mark) {
        let map = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for s in map.get(id).into_iter().flatten() {
            if s.key >= mark.0 || s.dropped.swap(false, Ordering::AcqRel) {
                s.wake(Wake::Changed);
            }
        }
    }

    /// What was published to `id` was not committed: ends every connection subscribed
    /// to it ([`Wake::Reset`]), whatever its queue holds.
    pub fn reset(&self, id: &K) {
        let map = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for s in map.get(id).into_iter().flatten() {
            s.reset.store(true, Ordering::Release);
            // Wakes a connection waiting on an empty queue; a full one is read soon.
            let _ = s.tx.try_send(Wake::Changed);
        }
    }

    /// Wakes every connection subscribed to `id` to look at the store.
    pub fn notify(&self, id: &K) {
        let map = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for s in map.get(id).into_iter().flatten() {
            s.wake(Wake::Changed);
        }
    }

    /// Wakes every connection (after notifications from other processes may have been
    /// missed).
    pub fn notify_all(&self) {
        let map = self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for s in map.values().flatten() {
            s.wake(Wake::Changed);
        }
    }
}

impl<K: Hash + Eq + Copy, M> Subscription<K, M> {
    /// The next wake-up: hand-offs in order, `Changed` when one was dropped, `Reset`
    /// (before anything still queued) once hand-offs were withdrawn.
    pub async fn next(&mut self) -> Wake<M> {
        if self.reset.load(Ordering::Acquire) {
            return Wake::Reset;
        }
        if self.missed.swap(false, Ordering::AcqRel) {
            return Wake::Changed;
        }
        let wake = match self.rx.recv().await {
            Some(wake) => wake,
            // The hub keeps the sender until this subscription is dropped.
            None => std::future::pending().await,
        };
        if self.reset.load(Ordering::Acquire) {
            return Wake::Reset;
        }
        wake
    }

    /// Waits until the subscribed item may have changed.
    pub async fn changed(&mut self) {
        self.next().await;
    }
}

impl<K: Hash + Eq + Copy, M> Drop for Subscription<K, M> {
    fn drop(&mut self) {
        let mut map = self
            .hub
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(list) = map.get_mut(&self.id) {
            list.retain(|s| s.key != self.key);
            if list.is_empty() {
                map.remove(&self.id);
            }
        }
    }
}

/// The `blob` message for a blob, written directly (hex and base64url need no JSON
/// escaping), with the fields in the order serde would write them.
pub fn blob_frame(id: &BlobId, received_at: i64, data: &[u8]) -> Utf8Bytes {
    let mut text = String::with_capacity(80 + data.len().div_ceil(3) * 4);
    text.push_str(r#"{"type":"blob","id":""#);
    text.push_str(&hex::encode(id));
    let _ = write!(text, r#"","received_at":{received_at},"data":""#);
    B64.encode_string(data, &mut text);
    text.push_str(r#""}"#);
    text.into()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn blob_frame_is_the_json_serde_would_write() {
        let (id, data) = ([7u8; 16], b"\x00\xffsome envelope bytes".as_slice());
        let frame = blob_frame(&id, 1_700_000_100, data);
        let expected = serde_json::json!({
            "type": "blob",
            "id": hex::encode(id),
            "received_at": 1_700_000_100,
            "data": B64.encode(data),
        });
        let parsed: serde_json::Value = serde_json::from_str(frame.as_str()).unwrap();
        assert_eq!(parsed, expected);
    }

    #[tokio::test]
    async fn a_full_queue_turns_into_a_look_at_the_store() {
        let hub: Arc<Hub<u8, u32>> = Arc::new(Hub::default());
        let mut sub = hub.subscribe(1, 1).unwrap();
        assert!(hub.subscribe(1, 1).is_none(), "one subscriber allowed");
        for i in 0..u32::try_from(QUEUE).unwrap() + 5 {
            hub.publish(&1, &i);
        }
        assert!(
            matches!(sub.next().await, Wake::Changed),
            "told it missed some"
        );
        assert!(matches!(sub.next().await, Wake::Message(0)));
        hub.notify(&1);
        drop(sub);
        assert!(hub.subscribe(1, 1).is_some(), "unsubscribed on drop");
    }

    #[tokio::test]
    async fn settling_wakes_whoever_may_have_read_the_store_before_the_commit() {
        let hub: Arc<Hub<u8, u32>> = Arc::new(Hub::default());
        let mut before = hub.subscribe(1, 3).unwrap();
        let mark = hub.publish(&1, &7);
        // Subscribed between the hand-off and its commit: its first read of the store
        // may not show the blob.
        let mut between = hub.subscribe(1, 3).unwrap();
        hub.settle(&1, mark);
        assert!(matches!(before.next().await, Wake::Message(7)));
        assert!(before.rx.try_recv().is_err(), "had it: not woken again");
        assert!(matches!(between.next().await, Wake::Changed));

        // A queue without room for a hand-off: it looks at the store at once (maybe
        // before the commit), and again once settled.
        let mut mark = mark;
        for i in 0..=u32::try_from(QUEUE).unwrap() {
            mark = hub.publish(&1, &i);
        }
        assert!(matches!(before.next().await, Wake::Changed));
        assert!(matches!(before.next().await, Wake::Message(0)));
        hub.settle(&1, mark);
        let mut woken = false;
        while let Ok(wake) = before.rx.try_recv() {
            woken |= matches!(wake, Wake::Changed);
        }
        assert!(woken, "told to read the store after the commit");
    }

    #[tokio::test]
    async fn a_withdrawn_hand_off_resets_before_anything_queued() {
        let hub: Arc<Hub<u8, u32>> = Arc::new(Hub::default());
        let mut sub = hub.subscribe(1, 1).unwrap();
        hub.publish(&1, &1);
        hub.reset(&1);
        assert!(matches!(sub.next().await, Wake::Reset));
        assert!(matches!(sub.next().await, Wake::Reset), "for good");
        let mut idle = hub.subscribe(2, 1).unwrap();
        let waiting = tokio::spawn(async move { matches!(idle.next().await, Wake::Reset) });
        tokio::task::yield_now().await;
        hub.reset(&2);
        assert!(waiting.await.unwrap(), "a waiting session is woken");
    }
}
