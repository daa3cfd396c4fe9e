//! The engine: one device's client rules as a state machine over `sealpost_core::v2`.
//!
//! [`Engine::handle`] takes one [`Input`] with the driver's clock and randomness and
//! returns the [`Output`]s to carry out, in order. Nothing here does I/O, so every rule
//! (sender authentication, exactly-once, receipts, re-sends, notices) is a plain function
//! that `cargo test` drives. The concerns live in their own files: `receive` (blobs),
//! `send` (messages, receipts, re-sends), `heal` (reset requests and the re-send
//! schedule), `listing` (directory answers and pins), `devices` (own device list),
//! `tick` (time).

mod call;
mod contacts;
mod devices;
mod direct;
mod directory;
#[cfg(feature = "groups")]
mod group_chains;
#[cfg(feature = "groups")]
mod group_race;
#[cfg(feature = "groups")]
mod group_rekey;
#[cfg(feature = "groups")]
mod groups;
#[cfg(not(feature = "groups"))]
#[path = "groups_off.rs"]
mod groups;
mod heal;
mod listing;
mod me;
mod out;
mod receive;
mod secrets;
mod send;
mod tick;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use sealpost_core::sorted::SortedMap;

use rand_core::CryptoRng;
use sealpost_core::v2::{DeviceEntry, DeviceId, DeviceKeys, DeviceList, SessionStore};
use sealpost_core::{Error, IdentityKey, Result, UserId, Username};
use zeroize::Zeroizing;

use crate::account_state::AccountState;
use crate::action::{DepositHandle, Output, Part};
use crate::codec::Codec;
use crate::event::Input;
use crate::failures::Failures;
use crate::groups::Groups;
use crate::missing::Missing;
use crate::msg_id::MsgId;
use crate::outbox::Outbox;
use crate::receipts::OwedReceipts;
use crate::seen::SeenSet;
use crate::unreadable::Unreadable;

pub use contacts::ContactInfo;
use devices::DeviceOp;
pub use directory::DIRECTORY_MAX_AGE;
use directory::Directory;
use heal::ResetLimit;
use me::Me;
use out::Out;
pub use send::SendError;

/// Most blobs parked while the directory is asked about their sender.
pub const MAX_PARKED: usize = 64;
/// Most sends waiting for the directory.
pub const MAX_WAITING_SENDS: usize = 256;
/// Most lookups waiting for the directory.
pub const MAX_LOOKUPS: usize = 64;
/// Most device list changes waiting for the directory's current list.
pub const MAX_DEVICE_OPS: usize = 8;

/// A deposit the relay has not confirmed yet.
struct InFlight {
    to: UserId,
    device: DeviceId,
    envelope: Vec<u8>,
    /// The outbox message it carries (resets and syncs are not kept).
    msg: Option<MsgId>,
    /// The owed receipts it carries: paid once the relay took it.
    receipts: Vec<MsgId>,
    failed: bool,
    /// Sent on the direct channel (waiting for the peer's acknowledgement there).
    direct: bool,
    /// A direct deposit already waiting at the last tick (see `direct_tick`).
    aged: bool,
}

/// A send waiting for the directory.
struct WaitingSend {
    msg_id: MsgId,
    to: Username,
    content_type: u8,
    content: Vec<u8>,
}

/// A group send waiting for the device lists of members.
#[cfg_attr(not(feature = "groups"), allow(dead_code))]
pub(super) struct WaitingGroupSend {
    group: sealpost_core::v2::GroupId,
    msg_id: MsgId,
    content_type: u8,
    content: Vec<u8>,
}

/// A blob whose sender must be looked up before its session can be accepted.
struct Parked {
    blob_id: String,
    bytes: Vec<u8>,
    sender: UserId,
}

/// What a new device brings: the account's name and identity key, its own fresh keys
/// (never another device's) and a name for the device list.
pub struct NewDevice {
    /// The account.
    pub username: Username,
    /// The account's identity key (from registration, the backup or a link grant).
    pub identity: IdentityKey,
    /// This device's keys ([`DeviceKeys::generate`]).
    pub keys: DeviceKeys,
    /// Shown in the device list, e.g. "Firefox on Linux".
    pub name: String,
}

impl fmt::Debug for NewDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewDevice")
            .field("username", &self.username)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// One device's client engine. See the module documentation.
pub struct Engine {
    me: Me,
    sessions: SessionStore,
    account: AccountState,
    outbox: Outbox,
    seen: SeenSet,
    missing: Missing,
    failures: Failures,
    directory: Directory,
    in_flight: SortedMap<DepositHandle, InFlight>,
    next_handle: u64,
    /// Receipts to seal this run (a subset of `owed`).
    receipts: SortedMap<(UserId, DeviceId), Vec<MsgId>>,
    /// Receipts owed until a deposit carrying them is confirmed (persisted).
    owed: OwedReceipts,
    resets: SortedMap<(UserId, DeviceId), [u8; 16]>,
    reset_limit: ResetLimit,
    waiting: Vec<WaitingSend>,
    parked: Vec<Parked>,
    lookups: SortedMap<UserId, Username>,
    device_ops: Vec<DeviceOp>,
    account_changed: bool,
    /// Direct channels, per contact device.
    direct: direct::Peers,
    /// The voice call in progress.
    calls: call::Calls,
    groups: Groups,
    /// Multi-recipient deposits the relay has not answered: message and mailboxes.
    #[cfg(feature = "groups")]
    group_in_flight: SortedMap<DepositHandle, (MsgId, Vec<(UserId, DeviceId)>)>,
    #[cfg(feature = "groups")]
    waiting_groups: Vec<WaitingGroupSend>,
    /// Group messages no held chain opened (unacknowledged), tried again when a chain
    /// arrives: the relay may hand a message over before the chain it needs.
    #[cfg(feature = "groups")]
    group_parked: Vec<(String, Vec<u8>)>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("me", &self.me)
            .field("outbox", &self.outbox)
            .field("seen", &self.seen.len())
            .finish_non_exhaustive()
    }
}

impl Engine {
    fn with(me: Me, sessions: SessionStore, account: AccountState) -> Self {
        Self {
            me,
            sessions,
            account,
            outbox: Outbox::new(),
            seen: SeenSet::new(),
            missing: Missing::new(),
            failures: Failures::new(),
            directory: Directory::default(),
            in_flight: SortedMap::new(),
            next_handle: 0,
            receipts: SortedMap::new(),
            owed: OwedReceipts::new(),
            resets: SortedMap::new(),
            reset_limit: ResetLimit::default(),
            waiting: Vec::new(),
            parked: Vec::new(),
            lookups: SortedMap::new(),
            device_ops: Vec::new(),
            account_changed: false,
            direct: direct::Peers::default(),
            calls: call::Calls::default(),
            groups: Groups::default(),
            #[cfg(feature = "groups")]
            group_in_flight: SortedMap::new(),
            #[cfg(feature = "groups")]
            waiting_groups: Vec::new(),
            #[cfg(feature = "groups")]
            group_parked: Vec::new(),
        }
    }

    /// The first device of a new account: signs a device list with only this device.
    /// Outputs: the list and bundle to publish, and every part to persist.
    pub fn create_account<R: CryptoRng + ?Sized>(
        rng: &mut R,
        device: NewDevice,
        now: u64,
    ) -> Result<(Self, Vec<Output>)> {
        let NewDevice {
            username,
            identity,
            mut keys,
            name: device_name,
        } = device;
        let entry = DeviceEntry {
            id: *keys.device_id(),
            added_at: now,
            name: device_name,
        };
        let list = DeviceList::sign(rng, username.user_id(), &identity, now, alloc::vec![entry])?;
        let bundle = keys.bundle(rng, &identity, now)?;
        let me = Me::new(username, identity, keys, list)?;
        let engine = Self::with(me, SessionStore::new(), AccountState::new());
        let outputs = engine.fresh_outputs(bundle.to_bytes().to_vec());
        Ok((engine, outputs))
    }

    /// A new device of an existing account (password login, or a link grant): adds
    /// itself to `current_list` (the directory's, verified here) and takes the account
    /// state from the backup or the grant. Fails when the list is not this account's or
    /// already has the maximum number of devices (revoke one first).
    pub fn join_account<R: CryptoRng + ?Sized>(
        rng: &mut R,
        device: NewDevice,
        current_list: &[u8],
        account: AccountState,
        now: u64,
    ) -> Result<(Self, Vec<Output>)> {
        let NewDevice {
            username,
            identity,
            mut keys,
            name: device_name,
        } = device;
        let current = DeviceList::from_bytes(current_list)?;
        if *current.user_id() != username.user_id()
            || current.identity().to_spki_der() != identity.public().to_spki_der()
        {
            return Err(Error::BadSignature);
        }
        let entry = DeviceEntry {
            id: *keys.device_id(),
            added_at: now,
            name: device_name,
        };
        let list = current.with_device(rng, &identity, entry, now)?;
        let bundle = keys.bundle(rng, &identity, now)?;
        let me = Me::new(username, identity, keys, list)?;
        let engine = Self::with(me, SessionStore::new(), account);
        let outputs = engine.fresh_outputs(bundle.to_bytes().to_vec());
        Ok((engine, outputs))
    }

    fn fresh_outputs(&self, bundle: Vec<u8>) -> Vec<Output> {
        let mut outputs: Vec<Output> = Part::ALL.iter().map(|p| Output::Persist(*p)).collect();
        outputs.push(Output::PublishDeviceList(self.me.list.to_bytes().to_vec()));
        outputs.push(Output::PublishBundle(bundle));
        outputs
    }

    /// An engine from what [`Engine::save`] wrote. `load` returns the stored bytes of a
    /// part (`None` when never stored: that part starts empty, except `Device`).
    /// Deposits that were under way are re-emitted by the next [`Input::Tick`]. A part
    /// that does not decode fails the whole restore, naming it ([`Unreadable`]: why not
    /// the rest without it); the engine writes nothing, so the stored bytes stay.
    pub fn restore(
        mut load: impl FnMut(Part) -> Option<Zeroizing<Vec<u8>>>,
    ) -> core::result::Result<Self, Unreadable> {
        let at = |part| move |error| Unreadable { part, error };
        let me = load(Part::Device)
            .ok_or(Error::Malformed)
            .and_then(|b| Me::from_secret_bytes(&b))
            .map_err(at(Part::Device))?;
        let sessions = match load(Part::Sessions) {
            Some(b) => SessionStore::from_secret_bytes(&b).map_err(at(Part::Sessions))?,
            None => SessionStore::new(),
        };
        let (account, lists) = match load(Part::Account) {
            Some(b) => Self::account_from_local(&b).map_err(at(Part::Account))?,
            None => (AccountState::new(), Vec::new()),
        };
        let mut engine = Self::with(me, sessions, account);
        if let Some(b) = load(Part::Outbox) {
            engine.outbox = Outbox::from_bytes(&b).map_err(at(Part::Outbox))?;
        }
        if let Some(b) = load(Part::Seen) {
            engine.seen = SeenSet::from_bytes(&b).map_err(at(Part::Seen))?;
        }
        if let Some(b) = load(Part::Missing) {
            engine.missing = Missing::from_bytes(&b).map_err(at(Part::Missing))?;
        }
        if let Some(b) = load(Part::Receipts) {
            engine.owed = OwedReceipts::from_bytes(&b).map_err(at(Part::Receipts))?;
            // Whatever was sealed before the restart may never have reached the relay.
            for (device, ids) in engine.owed.iter() {
                engine.receipts.insert(*device, ids.clone());
            }
        }
        if let Some(b) = load(Part::Groups) {
            engine.groups = Groups::from_secret_bytes(&b).map_err(at(Part::Groups))?;
        }
        engine.load_contact_lists(lists);
        Ok(engine)
    }

    /// The stored encoding of `part`. Store it encrypted: `Device` and `Sessions` are
    /// key material, the others are message content and metadata.
    pub fn save(&self, part: Part) -> Result<Zeroizing<Vec<u8>>> {
        let plain = |v: Vec<u8>| Zeroizing::new(v);
        match part {
            Part::Device => self.me.to_secret_bytes(),
            Part::Sessions => self.sessions.to_secret_bytes(),
            Part::Account => Ok(plain(self.account_to_local())),
            Part::Outbox => Ok(plain(self.outbox.to_bytes())),
            Part::Seen => Ok(plain(self.seen.to_bytes())),
            Part::Missing => Ok(plain(self.missing.to_bytes())),
            Part::Receipts => Ok(plain(self.owed.to_bytes())),
            Part::Groups => self.groups.to_secret_bytes(),
        }
    }

    /// Which of the seen-set's stored records changed since the last call (bit `b`:
    /// [`Engine::save_seen_bucket`] of `b`; see [`crate::seen`]). A driver that stores
    /// the seen-set as these records instead of one [`Part::Seen`] writes the changed
    /// ones with every batch that persists `Part::Seen`, in the same atomic write, and
    /// keeps the bits until that write landed.
    pub fn take_seen_changes(&mut self) -> u16 {
        self.seen.take_changed()
    }

    /// The stored encoding of the seen-set's record `bucket` (message content metadata:
    /// store it encrypted, like the parts).
    pub fn save_seen_bucket(&self, bucket: u8) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.seen.bucket_to_bytes(bucket))
    }

    /// Adds a record that [`Engine::save_seen_bucket`] wrote to the seen-set that
    /// [`Engine::restore`] read from `Part::Seen` (a store of before the records, or
    /// empty). A record that does not decode, or holds an id of another record, fails
    /// as an unreadable `Part::Seen`.
    pub fn restore_seen_bucket(
        &mut self,
        bucket: u8,
        bytes: &[u8],
    ) -> core::result::Result<(), Unreadable> {
        self.seen
            .merge_bucket(bucket, bytes)
            .map_err(|error| Unreadable {
                part: Part::Seen,
                error,
            })
    }

    /// This account's user id.
    pub fn user_id(&self) -> &UserId {
        &self.me.user_id
    }

    /// This account's username.
    pub fn username(&self) -> &Username {
        &self.me.username
    }

    /// This device's id.
    pub fn device_id(&self) -> DeviceId {
        self.me.device_id()
    }

    /// The account's device list as this device knows it (signed bytes).
    pub fn device_list(&self) -> &[u8] {
        self.me.list.to_bytes()
    }

    /// The account state: the compact form (contacts, pinned fingerprints, verified
    /// marks) that the backup, the link grant and account syncs carry.
    pub fn account_state(&self) -> &AccountState {
        &self.account
    }

    /// The groups this device is in (verified states: id, name, members, admins,
    /// epoch).
    pub fn groups(&self) -> impl Iterator<Item = &sealpost_core::v2::group::GroupState> {
        self.groups.states()
    }

    /// Messages waiting for receipts.
    pub fn outbox_len(&self) -> usize {
        self.outbox.len()
    }

    /// When the waiting message `id` was stamped (Unix seconds), so an app can order
    /// its own amendments exactly as its recipients will.
    pub fn sent_at(&self, id: &MsgId) -> Option<u64> {
        self.outbox.sent_at(id)
    }

    /// Handles one input at time `now` (Unix seconds). Never panics on any input; bad
    /// input changes no stored state.
    pub fn handle<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        now: u64,
        input: Input,
    ) -> Vec<Output> {
        let mut out = Out::default();
        match input {
            Input::BlobReceived { blob_id, bytes } => {
                self.receive(rng, now, blob_id, bytes, &mut out)
            }
            Input::SendRequested {
                msg_id,
                to,
                content_type,
                content,
            } => self.send_requested(
                rng,
                now,
                WaitingSend {
                    msg_id,
                    to,
                    content_type,
                    content,
                },
                &mut out,
            ),
            Input::DirectoryFetched {
                user,
                device_list,
                bundles,
            } => self.directory_fetched(rng, now, user, &device_list, &bundles, &mut out),
            Input::DirectoryMissing { user } => self.directory_missing(rng, now, user, &mut out),
            Input::DepositDone { handle } => self.deposit_done(handle, &mut out),
            Input::DepositFailed { handle } => {
                if let Some(d) = self.in_flight.get_mut(&handle) {
                    d.failed = true;
                }
                self.deposit_many_failed(handle);
            }
            Input::DepositManyDone { handle, refused } => {
                self.deposit_many_done(handle, &refused, now, &mut out)
            }
            Input::CreateGroup { name, members } => self.create_group(rng, name, members, &mut out),
            Input::ChangeGroup { group, change } => self.change_group(rng, group, change, &mut out),
            Input::SendToGroup {
                group,
                msg_id,
                content_type,
                content,
            } => self.send_to_group(
                rng,
                now,
                WaitingGroupSend {
                    group,
                    msg_id,
                    content_type,
                    content,
                },
                &mut out,
            ),
            Input::Tick => self.tick(rng, now, &mut out),
            Input::SetContactName { user, name } => {
                self.set_contact_name(user, &name, now, &mut out)
            }
            Input::SetVerified { user, verified } => {
                self.set_verified(user, verified, now, &mut out)
            }
            Input::Lookup { username } => self.lookup(now, username, &mut out),
            Input::ForgetContact { user } => self.forget_contact(user, now, &mut out),
            Input::AddDevice { entry } => self.device_op(DeviceOp::Add(entry), now, &mut out),
            Input::RevokeDevice { device } => {
                self.device_op(DeviceOp::Revoke(device), now, &mut out)
            }
            Input::ConnectDirect { user } => self.connect_direct(now, user, &mut out),
            Input::DirectLocal {
                user,
                device,
                kind,
                fingerprint,
                sdp,
            } => {
                let signal = crate::direct::Signal {
                    kind,
                    sent_at: now,
                    fingerprint,
                    sdp,
                    call: None,
                };
                self.direct_local(rng, now, user, device, signal, &mut out)
            }
            Input::DirectOpened {
                user,
                device,
                fingerprint,
            } => self.direct_opened(user, device, fingerprint, &mut out),
            Input::DirectClosed { user, device } => {
                self.direct_closed(user, device, None, &mut out)
            }
            Input::DirectFrame {
                user,
                device,
                frame,
            } => self.direct_frame(rng, now, user, device, &frame, &mut out),
            Input::CallStart { call, user } => self.call_start(rng, now, call, user, &mut out),
            Input::Call { call, action } => self.call_action(rng, now, call, action, &mut out),
        }
        self.flush_control(rng, now, &mut out);
        out.finish()
    }

    /// Hands an envelope to the driver, over the direct channel to its device when one
    /// is open (`direct.rs`), else to the relay.
    fn deposit(
        &mut self,
        to: UserId,
        device: DeviceId,
        envelope: Vec<u8>,
        msg: Option<MsgId>,
        out: &mut Out,
    ) -> DepositHandle {
        let handle = self.next_handle();
        let (direct, output) = self.transport(to, device, &envelope, handle);
        out.push(output);
        self.track(handle, to, device, envelope, msg, direct);
        handle
    }

    fn next_handle(&mut self) -> DepositHandle {
        let handle = DepositHandle(self.next_handle);
        self.next_handle = self.next_handle.wrapping_add(1);
        handle
    }

    fn track(
        &mut self,
        handle: DepositHandle,
        to: UserId,
        device: DeviceId,
        envelope: Vec<u8>,
        msg: Option<MsgId>,
        direct: bool,
    ) {
        self.in_flight.insert(
            handle,
            InFlight {
                to,
                device,
                envelope,
                msg,
                receipts: Vec::new(),
                failed: false,
                direct,
                aged: false,
            },
        );
    }

    fn deposit_done(&mut self, handle: DepositHandle, out: &mut Out) {
        let Some(done) = self.in_flight.remove(&handle) else {
            return;
        };
        self.group_payload_deposited(handle, out);
        if let Some(msg) = done.msg {
            self.outbox.deposited(&msg, &done.to, &done.device);
            out.persist(Part::Outbox);
        }
        if self.owed.paid(done.to, done.device, &done.receipts) {
            out.persist(Part::Receipts);
        }
    }
}
