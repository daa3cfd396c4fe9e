//! Group messages that no held chain opened yet, by relay blob id, with when they first
//! failed (PROTOCOL.md 27.7, 18.7): each waits [`crate::limits::CHAIN_WAIT`] for its
//! chain, counted from then, so a restart neither starts that day again (a junk blob
//! kept for ever by an app restarted every day) nor reports it again. Stored as the
//! fourth trailing part of `Part::Groups` (stores written before it have none: their
//! waiting messages start their day when next tried, as before).

use alloc::string::String;
use alloc::vec::Vec;

use sealpost_core::{Error, Result};
use sha2::{Digest, Sha256};

use super::{Groups, put_count};
use crate::codec::{Reader, put_var8};

/// Most waiting group messages remembered (the one waiting longest makes room: if it
/// comes again, its wait starts anew, as after a restart before this part existed).
pub const MAX_WAITS: usize = 1024;

/// Longest blob id stored (relay ids are far shorter); a longer one waits in memory only.
const MAX_BLOB_ID: usize = 255;

impl Groups {
    /// When `blob_id` first failed to open, and whether that is now (the failure to
    /// report).
    pub fn wait_since(&mut self, blob_id: &str, now: u64) -> (u64, bool) {
        if let Some((_, since)) = self.waits.iter().find(|(id, _)| id == blob_id) {
            return (*since, false);
        }
        if self.waits.len() >= MAX_WAITS {
            let oldest = (0..self.waits.len()).min_by_key(|i| self.waits.get(*i).map(|w| w.1));
            if let Some(i) = oldest {
                self.waits.remove(i);
            }
        }
        self.waits.push((String::from(blob_id), now));
        (now, true)
    }

    /// `blob_id` opened, was refused or given up: whether it was waiting.
    pub fn wait_over(&mut self, blob_id: &str) -> bool {
        let before = self.waits.len();
        self.waits.retain(|(id, _)| id != blob_id);
        self.waits_changed();
        self.waits.len() != before
    }

    /// With nothing waiting, no later blob can be a copy of a waiting one.
    pub(crate) fn waits_changed(&mut self) {
        if self.waits.is_empty() {
            self.shown.clear();
        }
    }

    /// A group blob opened (and was shown): while others wait, remembered by digest, so
    /// a waiting copy of it (the same blob deposited twice) is known as one when it no
    /// longer opens (`REPLAY`), not given up with a notice as if it were lost.
    pub fn opened(&mut self, bytes: &[u8]) {
        if self.waits.is_empty() {
            return;
        }
        let digest = short_digest(bytes);
        if !self.shown.contains(&digest) {
            if self.shown.len() >= MAX_WAITS {
                self.shown.remove(0);
            }
            self.shown.push(digest);
        }
    }

    /// Whether `bytes` are those of a group blob that opened here while others waited.
    pub fn shown_before(&self, bytes: &[u8]) -> bool {
        self.shown.contains(&short_digest(bytes))
    }

    /// `u16(n) || n × digest[16]` (a later trailing part).
    pub(super) fn put_shown(&self, out: &mut Vec<u8>) {
        put_count(out, self.shown.len());
        for digest in &self.shown {
            out.extend_from_slice(digest);
        }
    }

    /// Reads [`Groups::put_shown`].
    pub(super) fn read_shown(&mut self, r: &mut Reader<'_>) -> Result<()> {
        let n = r.count16(MAX_WAITS, 16)?;
        self.shown = (0..n).map(|_| r.array()).collect::<Result<Vec<_>>>()?;
        Ok(())
    }

    /// `u16(n) || n × (var8(blob_id) || u64(since))`, in the order they first failed.
    pub(super) fn put_waits(&self, out: &mut Vec<u8>) {
        let kept = self.waits.iter().filter(|(id, _)| id.len() <= MAX_BLOB_ID);
        put_count(out, kept.clone().count());
        for (id, since) in kept {
            put_var8(out, id.as_bytes());
            out.extend_from_slice(&since.to_be_bytes());
        }
    }

    /// Reads [`Groups::put_waits`]: UTF-8 ids, no duplicates.
    pub(super) fn read_waits(&mut self, r: &mut Reader<'_>) -> Result<()> {
        for _ in 0..r.count16(MAX_WAITS, 9)? {
            let id = core::str::from_utf8(r.var8(MAX_BLOB_ID)?).map_err(|_| Error::Malformed)?;
            let since = r.u64()?;
            if self.waits.iter().any(|(w, _)| w == id) {
                return Err(Error::Malformed);
            }
            self.waits.push((String::from(id), since));
        }
        Ok(())
    }
}

/// The first 16 bytes of SHA-256 (another blob with them is out of reach).
fn short_digest(bytes: &[u8]) -> [u8; 16] {
    let full: [u8; 32] = Sha256::digest(bytes).into();
    let mut short = [0; 16];
    short.copy_from_slice(&full[..16]);
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_is_kept_and_the_longest_waiting_makes_room() {
        let mut g = Groups::default();
        assert_eq!(g.wait_since("a", 10), (10, true));
        assert_eq!(g.wait_since("a", 99), (10, false));
        for i in 1..MAX_WAITS {
            g.wait_since(&alloc::format!("b{i}"), 20 + i as u64);
        }
        assert_eq!(g.waits.len(), MAX_WAITS);
        g.wait_since("c", 5_000);
        assert!(
            g.waits.iter().all(|(id, _)| id != "a"),
            "the longest waiting went"
        );
        assert!(g.wait_over("c"));
        assert!(!g.wait_over("c"));
    }

    #[test]
    fn stored_without_duplicates_and_long_ids_in_memory_only() {
        let mut g = Groups::default();
        g.wait_since("b", 2);
        g.wait_since("a", 1);
        g.wait_since(&"x".repeat(MAX_BLOB_ID + 1), 3);
        let mut out = Vec::new();
        g.put_waits(&mut out);
        let mut back = Groups::default();
        let mut r = Reader::new(&out);
        back.read_waits(&mut r).unwrap();
        r.finish().unwrap();
        assert_eq!(back.waits, [(String::from("b"), 2), (String::from("a"), 1)]);
        // The same id twice, or an id not UTF-8, is malformed.
        let twice = [&[0, 2][..], &[1, b'a'], &[0; 8], &[1, b'a'], &[0; 8]].concat();
        let not_utf8 = [&[0, 1][..], &[1, 0xff], &[0; 8]].concat();
        for bad in [twice, not_utf8] {
            let mut r = Reader::new(&bad);
            assert!(Groups::default().read_waits(&mut r).is_err());
        }
    }
}
