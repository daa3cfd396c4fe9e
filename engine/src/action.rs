//! What the engine asks its driver to do: the outputs of [`crate::Engine::handle`].

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use sealpost_core::v2::group::{Change, GroupError};
use sealpost_core::v2::{DeviceId, GroupId};
use sealpost_core::{Error, UserId, Username};

use crate::call::{CallState, MediaStep};
use crate::direct::{CallId, DirectError, SignalKind};
use crate::engine::SendError;
use crate::msg_id::MsgId;

/// Names one deposit, so the driver can report how it went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DepositHandle(pub u64);

/// A piece of the engine's state that changed and must be stored (encrypted) before
/// the driver acknowledges anything: [`crate::Engine::save`] encodes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    /// The identity key, the device's keys and the own device list.
    Device,
    /// The session store (ratchet secrets).
    Sessions,
    /// Contacts, pins, verified marks, and the contacts' device lists (the backup holds
    /// the compact [`crate::Engine::account_state`] instead: re-upload
    /// [`crate::Engine::export_backup`] when this part changes).
    Account,
    /// Sent messages waiting for receipts.
    Outbox,
    /// Delivered message ids (exactly-once).
    Seen,
    /// Gaps in sessions (maybe-missing messages).
    Missing,
    /// Receipts owed to senders until the relay took them
    /// ([`crate::receipts::OwedReceipts`]).
    Receipts,
    /// Groups: sessions (chain keys), held operations, group messages on their way,
    /// delivery states (`groups.rs`).
    Groups,
}

impl Part {
    /// Every part, in the order a fresh engine should be stored.
    pub const ALL: [Part; 8] = [
        Part::Device,
        Part::Sessions,
        Part::Account,
        Part::Outbox,
        Part::Seen,
        Part::Missing,
        Part::Receipts,
        Part::Groups,
    ];
}

/// A message for the app, opened, authenticated and never delivered before.
#[derive(Clone, PartialEq, Eq)]
pub struct IncomingMessage {
    /// The message id (stable across re-sends).
    pub msg_id: MsgId,
    /// Who wrote it (authenticated: the session's pinned identity).
    pub from: UserId,
    /// The writer's username.
    pub from_username: Username,
    /// The writer's device.
    pub from_device: DeviceId,
    /// The conversation it belongs to: the writer, or for a sync copy of a message this
    /// account sent from another device, the recipient.
    pub conversation: UserId,
    /// Whether it is such a sync copy (a message this account sent).
    pub own: bool,
    /// Whether the user verified the writer's safety number.
    pub verified: bool,
    /// A message request: the writer is a stranger (it wrote first; the user has not
    /// looked it up, written to it or marked it). Replying makes it a contact.
    pub request: bool,
    /// The writer's clock when it was first sent.
    pub sent_at: u64,
    /// The writing device's number for it (PROTOCOL.md 17.2, authenticated; 0 from a
    /// version before it). Show one device's messages by `(sent_at, seq)`: the relay
    /// can hand them over in any order, and `sent_at` has nothing finer than seconds.
    pub seq: u64,
    /// This device's clock when it was opened.
    pub received_at: u64,
    /// The application's content type.
    pub content_type: u8,
    /// The application's content.
    pub content: Vec<u8>,
}

impl fmt::Debug for IncomingMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingMessage")
            .field("msg_id", &self.msg_id)
            .field("from", &self.from_username)
            .field("own", &self.own)
            .field("sent_at", &self.sent_at)
            .field("seq", &self.seq)
            .field("content_len", &self.content.len())
            .finish_non_exhaustive()
    }
}

/// A message to a group, opened, authenticated (the sending chain's signature) and
/// never delivered before.
#[derive(Clone, PartialEq, Eq)]
pub struct IncomingGroupMessage {
    /// The group.
    pub group: GroupId,
    /// The message id (stable across re-sends).
    pub msg_id: MsgId,
    /// The sending member.
    pub from: UserId,
    /// The sending device.
    pub from_device: DeviceId,
    /// Whether it is this account's own (sent from another of its devices).
    pub own: bool,
    /// The sender's clock.
    pub sent_at: u64,
    /// The sending device's order for it ([`group_seq`]): one device's messages are
    /// shown by `(sent_at, seq)`, as 1:1 messages (PROTOCOL.md 18.2, 27.6).
    pub seq: u64,
    /// This device's clock when it was opened.
    pub received_at: u64,
    /// The application's content type.
    pub content_type: u8,
    /// The application's content.
    pub content: Vec<u8>,
}

/// Chain epochs that [`group_seq`] orders (2^21: with 32 bits of counter, every `seq`
/// stays below 2^53, exact as a JavaScript number).
const GROUP_SEQ_EPOCHS: u64 = 1 << 21;

/// A group message's place among its sending device's messages (PROTOCOL.md 27.6 "Order
/// shown"): its chain's epoch, then its counter in the chain, both authenticated by the
/// chain's signature, as `epoch * 2^32 + counter + 1`. A device's chains only move to
/// later epochs and count up, so this is its sealing order. `0` (not ordered, like a
/// message of an older version) past 2^21 epochs or 2^32 - 1 messages in one chain.
pub fn group_seq(epoch: u64, counter: u64) -> u64 {
    if epoch >= GROUP_SEQ_EPOCHS || counter >= u64::from(u32::MAX) {
        return 0;
    }
    (epoch << 32) + counter + 1
}

impl fmt::Debug for IncomingGroupMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingGroupMessage")
            .field("group", &self.group)
            .field("msg_id", &self.msg_id)
            .field("from", &self.from)
            .field("content_len", &self.content.len())
            .finish_non_exhaustive()
    }
}

/// What a security event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecurityKind {
    /// A session was offered under `user`'s name with another identity key than the
    /// pinned one: dropped, never shown as text.
    IdentityMismatch,
    /// The directory serves another identity key for a pinned contact: nothing is sent
    /// to it until the user forgets the contact (and so accepts the new key).
    IdentityChanged,
    /// The directory's answer does not verify (signature, user, stale version).
    BadDirectory,
    /// A message from a device that is not in the sender's device list.
    UnknownDevice,
    /// A payload that claims another sender than its session's, or an account sync from
    /// another account.
    ForgedPayload,
    /// The account's device list no longer lists this device: it was revoked.
    DeviceRevoked,
}

/// How a [`crate::Input::Lookup`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupOutcome {
    /// The account exists; it is a contact now (pinned on first use, with its name).
    Found,
    /// The directory has no such account.
    NoSuchUser,
    /// The directory serves another identity key than the pinned one (see
    /// [`SecurityKind::IdentityChanged`]).
    IdentityChanged,
    /// The directory's answer does not verify.
    BadDirectory,
    /// Too many lookups under way; try again.
    Busy,
}

/// Something the user should see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A blob could not be opened; `gave_up` once it was acknowledged after
    /// [`crate::limits::MAX_OPEN_ATTEMPTS`].
    CouldNotDecrypt {
        /// The relay's blob id.
        blob_id: String,
        /// Whether the blob was acknowledged (no more attempts).
        gave_up: bool,
    },
    /// Messages from `user`'s `device` may be missing (a gap that stayed open).
    MaybeMissing {
        /// The sender.
        user: UserId,
        /// The sending device.
        device: DeviceId,
        /// How many.
        count: usize,
    },
    /// See [`SecurityKind`].
    SecurityEvent {
        /// What happened.
        kind: SecurityKind,
        /// Whose name it was about.
        user: UserId,
    },
    /// A sent message left the outbox without any recipient device receipting it.
    NotDelivered {
        /// The message.
        msg_id: MsgId,
    },
    /// A send was refused.
    SendFailed {
        /// The message.
        msg_id: MsgId,
        /// Why.
        error: SendError,
    },
    /// A device could not be added or revoked (nothing changed).
    DeviceListRefused {
        /// Why (e.g. [`Error::TooLarge`]: eight devices already).
        error: Error,
    },
    /// Another device of the account changed what it knows of contact `user` (its
    /// name, verified mark or pin, or forgot it): the app shows [`crate::Engine::contact`]
    /// again.
    ContactChanged {
        /// The contact.
        user: UserId,
    },
    /// The directory answered "no such account" for `user`, whom this device holds
    /// something for (a contact, a group member, the own account): what is meant for it
    /// waits, group messages go to the other members, and the engine asks again at most
    /// once per [`crate::limits::RESEND_AFTER`] (PROTOCOL.md 18.1 "Lookups"). Once per run
    /// of the engine, until a listing comes again.
    Unreachable {
        /// The account.
        user: UserId,
    },
    /// A payload of an unknown type or structure from `user` (dropped).
    Unreadable {
        /// The sender.
        user: UserId,
    },
    /// A group operation, chain or message was refused (PROTOCOL.md 27.7, 27.8): a
    /// forged or unauthorised operation, a chain from the wrong device, a message from
    /// a non-member or of an old epoch. Never shown as text. Also the answer to a
    /// group request of the user that could not be carried out (`from` is this
    /// account then).
    GroupRefused {
        /// The group, when known.
        group: Option<GroupId>,
        /// The authenticated sender (pairwise) or the message's member, when known.
        from: Option<UserId>,
        /// Why; [`GroupError::code`] is the stable code.
        error: GroupError,
    },
}

/// One thing for the driver to do, in order.
#[derive(Clone, PartialEq, Eq)]
pub enum Output {
    /// Fetch `user`'s device list and bundles; answer with
    /// [`crate::Input::DirectoryFetched`] or [`crate::Input::DirectoryMissing`].
    FetchDirectory {
        /// The account.
        user: UserId,
    },
    /// Post `envelope` to `to`'s `device` mailbox; answer with
    /// [`crate::Input::DepositDone`] or [`crate::Input::DepositFailed`].
    Deposit {
        /// The account.
        to: UserId,
        /// The device.
        device: DeviceId,
        /// The envelope.
        envelope: Vec<u8>,
        /// For the answer.
        handle: DepositHandle,
    },
    /// Post one group message to every listed mailbox in one multi-recipient deposit
    /// (`POST /v2/mailboxes`); answer with [`crate::Input::DepositManyDone`] (naming
    /// the mailboxes the relay refused) or [`crate::Input::DepositFailed`].
    DepositMany {
        /// The mailboxes.
        to: Vec<(UserId, DeviceId)>,
        /// The group message (PROTOCOL.md 27.6), the same for every mailbox.
        blob: Vec<u8>,
        /// For the answer.
        handle: DepositHandle,
    },
    /// Show a group message.
    DeliverGroup(IncomingGroupMessage),
    /// A group changed by a verified operation (a system line such as "alice added
    /// carol"): also for this device's own operations and for the group this device
    /// was just added to (then `change` is the one that added it).
    GroupChanged {
        /// The group.
        group: GroupId,
        /// The member who made the change.
        actor: UserId,
        /// The change.
        change: Change,
        /// The group's epoch after it.
        epoch: u64,
    },
    /// Acknowledge the blob: the relay deletes it. Comes after the [`Output::Persist`]
    /// of everything it changed.
    Ack {
        /// The relay's blob id.
        blob_id: String,
    },
    /// Show a message.
    Deliver(IncomingMessage),
    /// A sent message's delivery state changed.
    DeliveryUpdate {
        /// The message.
        msg_id: MsgId,
        /// Recipient devices that receipted it.
        delivered: usize,
        /// Recipient devices it was sealed to.
        total: usize,
    },
    /// Show a notice.
    Notice(Notice),
    /// Store [`crate::Engine::save`]`(part)`: every `Persist` of one `handle` call
    /// (and the messages it delivers, when the driver keeps them) in one atomic write.
    Persist(Part),
    /// Publish this signed device list of the account.
    PublishDeviceList(Vec<u8>),
    /// Publish this device's signed bundle.
    PublishBundle(Vec<u8>),
    /// The answer to [`crate::Input::Lookup`].
    LookupDone {
        /// The name looked up.
        username: Username,
        /// Its user id.
        user: UserId,
        /// What the directory said.
        outcome: LookupOutcome,
    },
    /// Direct channel: create a peer connection to `device` (a data channel, a fresh
    /// DTLS certificate) and give its offer back with [`crate::Input::DirectLocal`].
    DirectStart {
        /// The contact.
        user: UserId,
        /// Its device.
        device: DeviceId,
    },
    /// Apply the device's signal, already checked against its sealed fingerprint: an
    /// offer (answer it with [`crate::Input::DirectLocal`]), an answer (set it), a close.
    DirectSignal {
        /// The contact.
        user: UserId,
        /// Its device.
        device: DeviceId,
        /// What to do.
        kind: SignalKind,
        /// The remote SDP (empty for a close).
        sdp: Vec<u8>,
    },
    /// Send these bytes on the data channel to `device` (a frame, [`crate::direct::Frame`]).
    DirectFrame {
        /// The contact.
        to: UserId,
        /// Its device.
        device: DeviceId,
        /// The frame.
        frame: Vec<u8>,
    },
    /// The channel to `device` opened (messages to it go direct) or is not open (they go
    /// through the relay; close any peer connection to it); `error` says why it was
    /// refused. `device` is `None` when none could be tried.
    DirectState {
        /// The contact.
        user: UserId,
        /// Its device.
        device: Option<DeviceId>,
        /// Whether the channel is open.
        open: bool,
        /// Why it was refused, if it was.
        error: Option<DirectError>,
    },
    /// A voice call changed state (PROTOCOL.md 18.10): tell the app; on `Ended`, the
    /// page closes the call's peer connection and releases the microphone.
    CallState {
        /// The call.
        call: CallId,
        /// The contact.
        user: UserId,
        /// Its device the call is with, once known.
        device: Option<DeviceId>,
        /// Whether this device placed the call.
        outgoing: bool,
        /// Where it stands.
        state: CallState,
    },
    /// The page's next media step for call `call` with `device`.
    CallMedia {
        /// The call.
        call: CallId,
        /// The contact.
        user: UserId,
        /// Its device.
        device: DeviceId,
        /// What to do.
        step: MediaStep,
    },
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Output::FetchDirectory { user } => f
                .debug_struct("FetchDirectory")
                .field("user", user)
                .finish(),
            Output::Deposit {
                to, device, handle, ..
            } => f
                .debug_struct("Deposit")
                .field("to", to)
                .field("device", device)
                .field("handle", handle)
                .finish_non_exhaustive(),
            Output::DepositMany { to, handle, .. } => f
                .debug_struct("DepositMany")
                .field("to", &to.len())
                .field("handle", handle)
                .finish_non_exhaustive(),
            Output::DeliverGroup(m) => f.debug_tuple("DeliverGroup").field(m).finish(),
            Output::GroupChanged {
                group,
                actor,
                change,
                epoch,
            } => f
                .debug_struct("GroupChanged")
                .field("group", group)
                .field("actor", actor)
                .field("change", change)
                .field("epoch", epoch)
                .finish(),
            Output::Ack { blob_id } => f.debug_struct("Ack").field("blob_id", blob_id).finish(),
            Output::Deliver(m) => f.debug_tuple("Deliver").field(m).finish(),
            Output::DeliveryUpdate {
                msg_id,
                delivered,
                total,
            } => f
                .debug_struct("DeliveryUpdate")
                .field("msg_id", msg_id)
                .field("delivered", delivered)
                .field("total", total)
                .finish(),
            Output::Notice(n) => f.debug_tuple("Notice").field(n).finish(),
            Output::Persist(p) => f.debug_tuple("Persist").field(p).finish(),
            Output::PublishDeviceList(b) => {
                f.debug_tuple("PublishDeviceList").field(&b.len()).finish()
            }
            Output::PublishBundle(b) => f.debug_tuple("PublishBundle").field(&b.len()).finish(),
            Output::LookupDone {
                username, outcome, ..
            } => f
                .debug_struct("LookupDone")
                .field("username", username)
                .field("outcome", outcome)
                .finish_non_exhaustive(),
            Output::DirectStart { user, device } => f
                .debug_struct("DirectStart")
                .field("user", user)
                .field("device", device)
                .finish(),
            Output::DirectSignal { kind, device, .. } => f
                .debug_struct("DirectSignal")
                .field("kind", kind)
                .field("device", device)
                .finish_non_exhaustive(),
            Output::CallState { device, state, .. } => f
                .debug_struct("CallState")
                .field("device", device)
                .field("state", state)
                .finish_non_exhaustive(),
            Output::CallMedia { device, step, .. } => f
                .debug_struct("CallMedia")
                .field("device", device)
                .field("step", &core::mem::discriminant(step))
                .finish_non_exhaustive(),
            Output::DirectFrame { device, frame, .. } => f
                .debug_struct("DirectFrame")
                .field("device", device)
                .field("len", &frame.len())
                .finish_non_exhaustive(),
            Output::DirectState {
                device,
                open,
                error,
                ..
            } => f
                .debug_struct("DirectState")
                .field("device", device)
                .field("open", open)
                .field("error", error)
                .finish_non_exhaustive(),
        }
    }
}
