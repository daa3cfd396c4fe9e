//! Where the engine's seen-set (`Part::Seen`: the ids of opened envelopes, up to 65,536)
//! is stored: in `SEEN_BUCKETS` records by message id (`sealpost_engine::seen`), so
//! a received message seals and writes the one record holding its id instead of the
//! whole set with every message (27 KB after 500 messages, up to 3.6 MB).
//!
//! Which records changed is a bit mask (`Inner::seen_dirty`): bit `b` is record `b`,
//! [`LEGACY`] the single record (`seen`, the engine's `Part::Seen`) written before the
//! records, emptied in the same atomic batch that first writes every record. The
//! changed records go in the batch that stores the engine's other parts: the
//! seen-set after a restart is exactly the one stored with the session that opened
//! the message, as before.

use sealpost_core::UserId;
use sealpost_engine::codec::Codec as _;
use sealpost_engine::seen::{SEEN_BUCKETS, SeenSet};
use sealpost_engine::{Engine, Part};
use wasm_bindgen::JsValue;

use super::persist;
use crate::error::{Code, err};
use crate::storage::StorageJs;
use crate::vault::Vault;

/// The single record of every id, as stored before the records (`Part::Seen`).
const LEGACY_NAME: &str = "seen";
/// The dirty bit of [`LEGACY_NAME`].
pub(crate) const LEGACY: u32 = 1 << SEEN_BUCKETS;
/// Every record and the legacy one.
const ALL: u32 = (LEGACY << 1) - 1;

fn name(bucket: u8) -> String {
    format!("seen.{bucket:x}")
}

/// Every record's name (not the legacy one: `persist::NAMES` has it), for removing an
/// account.
pub(crate) fn names() -> impl Iterator<Item = String> {
    (0..SEEN_BUCKETS).map(name)
}

/// Adds the stored records to the seen-set `engine` was restored with (the legacy
/// record's); the dirty bits to start with: [`ALL`] when the legacy record still held
/// ids (the next batch moves them into the records, in one write).
pub(crate) async fn load(
    storage: &StorageJs,
    vault: &Vault,
    user: &UserId,
    engine: &mut Engine,
) -> Result<u32, JsValue> {
    let empty = SeenSet::new().to_bytes();
    let legacy = engine.save(Part::Seen).map_err(crate::error::core_error)?;
    let mut dirty = if legacy[..] == empty[..] { 0 } else { ALL };
    for b in 0..SEEN_BUCKETS {
        if let Some(bytes) = persist::load(storage, vault, user, &name(b)).await? {
            engine
                .restore_seen_bucket(b, &bytes)
                .map_err(|e| err(Code::Storage, &format!("stored state does not load: {e}")))?;
        }
    }
    // Only records that lost ids to the cap while merging.
    dirty |= u32::from(engine.take_seen_changes());
    Ok(dirty)
}

/// The storage entries (key, sealed bytes) of the records marked in `dirty`.
pub(crate) fn entries(
    vault: &Vault,
    user: &UserId,
    engine: &Engine,
    dirty: u32,
) -> Result<Vec<(String, Vec<u8>)>, JsValue> {
    let mut out = Vec::new();
    let mut seal = |name: &str, bytes: &[u8]| -> Result<(), JsValue> {
        let sealed = vault.seal_raw(&format!("v2/{name}"), bytes)?;
        out.push((persist::key(user, name), sealed));
        Ok(())
    };
    for b in (0..SEEN_BUCKETS).filter(|b| dirty & (1 << b) != 0) {
        seal(&name(b), &engine.save_seen_bucket(b))?;
    }
    if dirty & LEGACY != 0 {
        seal(LEGACY_NAME, &SeenSet::new().to_bytes())?;
    }
    Ok(out)
}
