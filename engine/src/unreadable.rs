//! Why [`crate::Engine::restore`] failed: a stored part that does not decode.

use core::fmt;

use sealpost_core::Error;

use crate::action::Part;

/// A stored part that does not decode: truncated, altered, or in a format this version
/// cannot read. The whole restore fails and nothing is written, so the stored bytes stay
/// as they are, for a version that reads them. Loading the other parts alone was not
/// chosen: the engine would then write a fresh part over the unreadable one at its next
/// change (losing it in silence), or run without what that part guards (the pins of
/// `Account`, the exactly-once record of `Seen`, the ratchets of `Sessions`, the chains
/// and the races of `Groups`, whose messages it would take from the relay and drop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreadable {
    /// The part (`Device` also when it is missing).
    pub part: Part,
    /// What its decoder said.
    pub error: Error,
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stored part {:?}: {}", self.part, self.error)
    }
}

impl core::error::Error for Unreadable {}
