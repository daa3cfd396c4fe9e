//! What happens to the engine: the inputs of [`crate::Engine::handle`].

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use sealpost_core::v2::{DeviceEntry, DeviceId, GroupId};
use sealpost_core::{UserId, Username};

use crate::action::DepositHandle;
use crate::call::CallAction;
use crate::direct::{CallId, CertFingerprint, SignalKind};
use crate::msg_id::MsgId;

/// One event for the engine. The driver supplies the clock and the randomness with it.
pub enum Input {
    /// The relay pushed a blob from this device's mailbox.
    BlobReceived {
        /// The relay's id of the blob (for [`crate::Output::Ack`]).
        blob_id: String,
        /// The envelope.
        bytes: Vec<u8>,
    },
    /// The user sends a message. `msg_id` makes the request idempotent: a repeated
    /// request with the id of a message still in the outbox seals nothing new.
    SendRequested {
        /// Chosen by the driver (e.g. [`MsgId::random`]), kept by every re-send.
        msg_id: MsgId,
        /// The recipient.
        to: Username,
        /// The application's content type.
        content_type: u8,
        /// The application's content.
        content: Vec<u8>,
    },
    /// The directory's answer to [`crate::Output::FetchDirectory`]: the signed device
    /// list and the device bundles, unverified (the engine verifies them).
    DirectoryFetched {
        /// The account asked for.
        user: UserId,
        /// Its signed device list.
        device_list: Vec<u8>,
        /// Its device bundles.
        bundles: Vec<Vec<u8>>,
    },
    /// The directory has no such account.
    DirectoryMissing {
        /// The account asked for.
        user: UserId,
    },
    /// The relay took the envelope of [`crate::Output::Deposit`].
    DepositDone {
        /// The deposit's handle.
        handle: DepositHandle,
    },
    /// The relay did not take it (network, mailbox full): the engine retries on a tick.
    DepositFailed {
        /// The deposit's handle.
        handle: DepositHandle,
    },
    /// The user looks up an account by name (e.g. to start a conversation): the engine
    /// asks the directory and pins the account with its name on first use (a contact
    /// restored from the backup is checked against its pinned fingerprint). Answered by
    /// [`crate::Output::LookupDone`].
    Lookup {
        /// The name.
        username: Username,
    },
    /// Time passed (drive it every minute or so): missing-message notices, expiry,
    /// retries, key rotation.
    Tick,
    /// The user compared safety numbers with `user` (or takes the mark back).
    SetVerified {
        /// The contact.
        user: UserId,
        /// The mark.
        verified: bool,
    },
    /// The user gives `user` a name (an empty one removes it): every device of the
    /// account shows it (it travels in the account state, 17.5).
    SetContactName {
        /// The contact.
        user: UserId,
        /// The name, at most [`crate::account_state::MAX_NICKNAME_LEN`] bytes of UTF-8
        /// (a longer one changes nothing).
        name: String,
    },
    /// Forget a contact and its pin (e.g. after an identity change the user accepts): the
    /// next contact is a new trust on first use.
    ForgetContact {
        /// The contact.
        user: UserId,
    },
    /// Add a device to the account (the user confirmed a link): a new signed list. The
    /// engine first fetches the account's current list (another device may have changed
    /// it) and applies the change to that.
    AddDevice {
        /// The new device's entry.
        entry: DeviceEntry,
    },
    /// Remove a device from the account: a new signed list without it (made, as for
    /// [`Input::AddDevice`], from the freshly fetched current list).
    RevokeDevice {
        /// The device.
        device: DeviceId,
    },
    /// The user wants a direct channel to `user` (e.g. a chat with it is open): the
    /// engine offers one to each of its devices ([`crate::Output::DirectStart`]).
    ConnectDirect {
        /// The contact.
        user: UserId,
    },
    /// This device's offer or answer for `device`, to seal and send through the relay.
    DirectLocal {
        /// The contact.
        user: UserId,
        /// Its device.
        device: DeviceId,
        /// [`SignalKind::Offer`] after a `DirectStart`, [`SignalKind::Answer`] after an
        /// offer, [`SignalKind::Close`] to end the channel.
        kind: SignalKind,
        /// SHA-256 of this device's DTLS certificate.
        fingerprint: CertFingerprint,
        /// The local SDP.
        sdp: Vec<u8>,
    },
    /// The data channel to `device` opened; `fingerprint` is SHA-256 of the certificate
    /// the remote side presented in the DTLS handshake.
    DirectOpened {
        /// The contact.
        user: UserId,
        /// Its device.
        device: DeviceId,
        /// The remote certificate's fingerprint.
        fingerprint: CertFingerprint,
    },
    /// The data channel to `device` closed or failed (or could not be made).
    DirectClosed {
        /// The contact.
        user: UserId,
        /// Its device.
        device: DeviceId,
    },
    /// A message arrived on the data channel from `device`.
    DirectFrame {
        /// The contact.
        user: UserId,
        /// Its device.
        device: DeviceId,
        /// Its bytes.
        frame: Vec<u8>,
    },
    /// The user calls `user` (PROTOCOL.md 18.10): every device of it rings.
    CallStart {
        /// A fresh random id for the call, picked by the driver.
        call: CallId,
        /// The contact.
        user: UserId,
    },
    /// The user or the page's WebRTC host acted on call `call`.
    Call {
        /// The call.
        call: CallId,
        /// What happened.
        action: CallAction,
    },
    /// The relay answered a [`crate::Output::DepositMany`]: every mailbox took the
    /// group message except `refused` (full, unknown, rate-limited; retried on a tick).
    DepositManyDone {
        /// The deposit's handle.
        handle: DepositHandle,
        /// The mailboxes the relay refused.
        refused: Vec<(UserId, DeviceId)>,
    },
    /// The user creates a group named `name` with these contacts (their pinned identity
    /// keys become their member fingerprints). Answered by
    /// [`crate::Output::GroupChanged`] with the new group's id, or a
    /// [`crate::Notice::GroupRefused`].
    CreateGroup {
        /// 1 to 128 bytes, no control or bidirectional formatting characters.
        name: String,
        /// The other first members (contacts).
        members: Vec<UserId>,
    },
    /// The user changes a group (PROTOCOL.md 27.3): signed, applied here, sent to every
    /// member device.
    ChangeGroup {
        /// The group.
        group: GroupId,
        /// What to change.
        change: GroupRequest,
    },
    /// The user writes to a group: one group message, one multi-recipient deposit.
    SendToGroup {
        /// The group.
        group: GroupId,
        /// Chosen by the driver; a repeated id is not sealed again.
        msg_id: MsgId,
        /// The application's content type.
        content_type: u8,
        /// The application's content.
        content: Vec<u8>,
    },
}

/// A change of a group the user asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupRequest {
    /// Add these contacts (admins).
    Add(Vec<UserId>),
    /// Remove these members (admins): every chain is replaced.
    Remove(Vec<UserId>),
    /// Leave the group.
    Leave,
    /// Rename it (admins).
    Rename(String),
    /// Make a member an admin (admins).
    Promote(UserId),
    /// Make an admin a member (admins).
    Demote(UserId),
    /// Replace every chain (admins), e.g. after a member's device was revoked.
    Rekey,
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::BlobReceived { blob_id, bytes } => f
                .debug_struct("BlobReceived")
                .field("blob_id", blob_id)
                .field("len", &bytes.len())
                .finish(),
            Input::SendRequested { msg_id, to, .. } => f
                .debug_struct("SendRequested")
                .field("msg_id", msg_id)
                .field("to", to)
                .finish_non_exhaustive(),
            Input::DirectoryFetched { user, .. } => f
                .debug_struct("DirectoryFetched")
                .field("user", user)
                .finish_non_exhaustive(),
            Input::DirectoryMissing { user } => f
                .debug_struct("DirectoryMissing")
                .field("user", user)
                .finish(),
            Input::DepositDone { handle } => f.debug_tuple("DepositDone").field(handle).finish(),
            Input::DepositFailed { handle } => {
                f.debug_tuple("DepositFailed").field(handle).finish()
            }
            Input::Lookup { username } => f
                .debug_struct("Lookup")
                .field("username", username)
                .finish(),
            Input::Tick => f.write_str("Tick"),
            Input::SetVerified { user, verified } => f
                .debug_struct("SetVerified")
                .field("user", user)
                .field("verified", verified)
                .finish(),
            Input::SetContactName { user, name } => f
                .debug_struct("SetContactName")
                .field("user", user)
                .field("named", &!name.is_empty())
                .finish(),
            Input::ForgetContact { user } => {
                f.debug_struct("ForgetContact").field("user", user).finish()
            }
            Input::AddDevice { entry } => {
                f.debug_struct("AddDevice").field("entry", entry).finish()
            }
            Input::RevokeDevice { device } => f
                .debug_struct("RevokeDevice")
                .field("device", device)
                .finish(),
            Input::ConnectDirect { user } => {
                f.debug_struct("ConnectDirect").field("user", user).finish()
            }
            Input::DirectLocal { device, kind, .. } => f
                .debug_struct("DirectLocal")
                .field("device", device)
                .field("kind", kind)
                .finish_non_exhaustive(),
            Input::DirectOpened { device, .. } => f
                .debug_struct("DirectOpened")
                .field("device", device)
                .finish_non_exhaustive(),
            Input::DirectClosed { device, .. } => f
                .debug_struct("DirectClosed")
                .field("device", device)
                .finish_non_exhaustive(),
            Input::DirectFrame { device, frame, .. } => f
                .debug_struct("DirectFrame")
                .field("device", device)
                .field("len", &frame.len())
                .finish_non_exhaustive(),
            Input::CallStart { user, .. } => f
                .debug_struct("CallStart")
                .field("user", user)
                .finish_non_exhaustive(),
            Input::Call { action, .. } => f
                .debug_struct("Call")
                .field("action", &core::mem::discriminant(action))
                .finish_non_exhaustive(),
            Input::DepositManyDone { handle, refused } => f
                .debug_struct("DepositManyDone")
                .field("handle", handle)
                .field("refused", &refused.len())
                .finish(),
            Input::CreateGroup { members, .. } => f
                .debug_struct("CreateGroup")
                .field("members", &members.len())
                .finish_non_exhaustive(),
            Input::ChangeGroup { group, change } => f
                .debug_struct("ChangeGroup")
                .field("group", group)
                .field("change", change)
                .finish(),
            Input::SendToGroup { group, msg_id, .. } => f
                .debug_struct("SendToGroup")
                .field("group", group)
                .field("msg_id", msg_id)
                .finish_non_exhaustive(),
        }
    }
}
