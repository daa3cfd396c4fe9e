//! One upload per chunk address at a time in this process: a second upload of a chunk
//! (a client retrying while its first attempt is still running, or two clients) waits
//! for the first and then finds the chunk stored (`200`, no quota taken) instead of
//! taking quota for it as well. Relay processes sharing PostgreSQL do not see each
//! other's locks: there, two simultaneous uploads of one chunk may each take quota until
//! one of them finds the other's commit (docs/API.md).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OwnedMutexGuard;

use crate::store::Address;

/// The addresses being uploaded, each with the lock its uploads queue on.
#[derive(Debug, Default)]
pub struct ChunkLocks(Mutex<HashMap<Address, Arc<tokio::sync::Mutex<()>>>>);

/// Held while an address is uploaded; forgets the address once nobody holds or waits
/// for it (also when a waiting request is dropped).
#[derive(Debug)]
pub struct ChunkLock {
    locks: Arc<ChunkLocks>,
    address: Address,
    mutex: Option<Arc<tokio::sync::Mutex<()>>>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl ChunkLocks {
    /// Waits until no other upload of `address` runs in this process.
    pub async fn lock(self: &Arc<Self>, address: Address) -> ChunkLock {
        let mutex = Arc::clone(
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(address)
                .or_default(),
        );
        let mut lock = ChunkLock {
            locks: Arc::clone(self),
            address,
            mutex: Some(Arc::clone(&mutex)),
            guard: None,
        };
        lock.guard = Some(mutex.lock_owned().await);
        lock
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Drop for ChunkLock {
    fn drop(&mut self) {
        drop(self.guard.take());
        drop(self.mutex.take());
        let mut map = self.locks.0.lock().unwrap_or_else(PoisonError::into_inner);
        if map
            .get(&self.address)
            .is_some_and(|m| Arc::strong_count(m) == 1)
        {
            map.remove(&self.address);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn uploads_of_one_address_take_turns_and_leave_nothing_behind() {
        let locks = Arc::new(ChunkLocks::default());
        let first = locks.lock([1; 32]).await;
        let other = locks.lock([2; 32]).await;
        let waiting = tokio::spawn({
            let locks = Arc::clone(&locks);
            async move { drop(locks.lock([1; 32]).await) }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the second upload waits");
        drop(first);
        waiting.await.unwrap();
        drop(other);
        assert_eq!(locks.len(), 0);
        // A waiter dropped while waiting cleans up too.
        let held = locks.lock([3; 32]).await;
        let abandoned = tokio::spawn({
            let locks = Arc::clone(&locks);
            async move { drop(locks.lock([3; 32]).await) }
        });
        tokio::task::yield_now().await;
        abandoned.abort();
        let _ = abandoned.await;
        drop(held);
        assert_eq!(locks.len(), 0);
    }
}
