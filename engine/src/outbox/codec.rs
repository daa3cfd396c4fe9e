//! The outbox's stored encoding: `"O" 4 || u64(last_seq) || u16(n) || n × (message without
//! seq || u64(seq) || u64(created_at) || u8(m) || m × (user || device || state ||
//! u8(resends) || u64(sealed_at)))`, strict (no complete entries, no duplicates,
//! `resends <= MAX_RESENDS`, no message numbered after `last_seq`). Formats from before
//! are still read: `"O" 3` (no `last_seq` and no `seq`: the numbering starts at 1) and
//! `"O" 2` (also without the last two target fields, from before the re-send schedule:
//! no re-sends, sealed at the message's creation).

use alloc::vec::Vec;

use sealpost_core::v2::DeviceId;
use sealpost_core::{Error, Result, UserId};

use super::{Entry, MAX_OUTBOX, MAX_TARGETS, Outbox, Target, TargetState, has_duplicates};
use crate::codec::{Codec, Reader, put_var32};
use crate::limits::MAX_RESENDS;
use crate::payload::Message;

/// Largest envelope kept (the largest bucket).
const MAX_ENVELOPE_LEN: usize = sealpost_core::padding::MAX_ENVELOPE_LEN;

const TAG: [u8; 2] = [b'O', 4];
const TAG_V3: [u8; 2] = [b'O', 3];
const TAG_V2: [u8; 2] = [b'O', 2];

impl Codec for Outbox {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&TAG);
        out.extend_from_slice(&self.last_seq.to_be_bytes());
        let n = u16::try_from(self.entries.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&n.to_be_bytes());
        for e in self.entries.iter().take(usize::from(n)) {
            e.message.encode_unnumbered(out);
            out.extend_from_slice(&e.message.seq().to_be_bytes());
            out.extend_from_slice(&e.created_at.to_be_bytes());
            let m = u8::try_from(e.targets.len()).unwrap_or(u8::MAX);
            out.push(m);
            for t in e.targets.iter().take(usize::from(m)) {
                t.user.encode(out);
                t.device.encode(out);
                match &t.state {
                    TargetState::Unsent(env) => {
                        out.push(0);
                        put_var32(out, env);
                    }
                    TargetState::Sent => out.push(1),
                    TargetState::Receipted => out.push(2),
                }
                out.push(t.resends);
                out.extend_from_slice(&t.sealed_at.to_be_bytes());
            }
        }
    }

    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let version = match r.array::<2>()? {
            TAG => 4,
            TAG_V3 => 3,
            TAG_V2 => 2,
            _ => return Err(Error::Malformed),
        };
        let last_seq = if version == 4 { r.u64()? } else { 0 };
        let n = r.count16(MAX_OUTBOX, 16 + 32 + 2 + 8 + 1 + 4 + 8 + 1)?;
        let mut outbox = Self {
            last_seq,
            ..Self::new()
        };
        for _ in 0..n {
            let mut message = Message::read_unnumbered(r)?;
            if version == 4 {
                message = message.with_seq(r.u64()?);
            }
            if message.seq() > last_seq {
                return Err(Error::Malformed);
            }
            let created_at = r.u64()?;
            let m = usize::from(r.u8()?);
            if m > MAX_TARGETS {
                return Err(Error::Malformed);
            }
            let mut targets = Vec::with_capacity(m);
            for _ in 0..m {
                let user = UserId::read(r)?;
                let device = DeviceId::read(r)?;
                let state = match r.u8()? {
                    0 => TargetState::Unsent(r.var32(MAX_ENVELOPE_LEN)?.to_vec()),
                    1 => TargetState::Sent,
                    2 => TargetState::Receipted,
                    _ => return Err(Error::Malformed),
                };
                let (resends, sealed_at) = if version >= 3 {
                    (r.u8()?, r.u64()?)
                } else {
                    (0, created_at)
                };
                if resends > MAX_RESENDS {
                    return Err(Error::Malformed);
                }
                targets.push(Target {
                    user,
                    device,
                    state,
                    resends,
                    sealed_at,
                });
            }
            let entry = Entry {
                message,
                created_at,
                targets,
            };
            if entry.complete()
                || outbox.contains(&entry.message.msg_id())
                || has_duplicates(entry.targets.iter().map(|t| (t.user, t.device)))
            {
                return Err(Error::Malformed);
            }
            outbox.entries.push(entry);
        }
        Ok(outbox)
    }
}
