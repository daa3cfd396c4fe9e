#![no_std]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Untrusted bytes are parsed only through `codec::Reader`; no indexing that can panic.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

extern crate alloc;

pub mod account_state;
pub mod action;
pub mod call;
pub mod codec;
pub mod content;
pub mod direct;
mod engine;
pub mod event;
pub mod failures;
#[cfg(feature = "groups")]
mod groups;
#[cfg(not(feature = "groups"))]
#[path = "groups_off.rs"]
mod groups;
pub mod limits;
pub mod missing;
pub mod msg_id;
pub mod outbox;
pub mod payload;
pub mod receipts;
#[cfg(feature = "rooms")]
pub mod room;
pub mod seen;
mod unreadable;

pub use action::{
    DepositHandle, IncomingGroupMessage, IncomingMessage, LookupOutcome, Notice, Output, Part,
    SecurityKind,
};
pub use engine::{
    ContactInfo, DIRECTORY_MAX_AGE, Engine, MAX_DEVICE_OPS, MAX_LOOKUPS, MAX_PARKED,
    MAX_WAITING_SENDS, NewDevice, SendError,
};
pub use event::{GroupRequest, Input};
pub use msg_id::MsgId;
pub use unreadable::Unreadable;
