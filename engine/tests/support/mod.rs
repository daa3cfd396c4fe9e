//! An in-memory relay and a driver for engines, with the knobs of a misbehaving relay:
//! drop, replay, reorder blobs; devices go offline, restart from their stored parts.
//! Fixture keys: the RSA-2048 test keys of `tests/vectors/keys.json` (public on purpose).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report
#![allow(dead_code)]

mod checks;
mod fixture;
pub mod groups;
pub mod stored;
pub mod strangers;
mod webrtc;

#[allow(unused_imports)] // not every test binary reads them
pub use checks::*;
pub use fixture::{encryption_key, identity_key};
#[allow(unused_imports)] // not every test binary reads them
pub use webrtc::{cert, sdp};

use std::collections::{BTreeMap, VecDeque};

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};
use sealpost_core::v2::group::Change;
use sealpost_core::v2::{DeviceBundle, DeviceId, DeviceKeys, GroupId};
use sealpost_core::{UserId, Username};
use sealpost_engine::{
    Engine, IncomingGroupMessage, IncomingMessage, Input, LookupOutcome, MsgId, NewDevice, Notice,
    Output, Part,
};
use zeroize::Zeroizing;

/// 2026-01-01T00:00:00Z.
pub const T0: u64 = 1_767_225_600;

pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

pub fn user(name: &str) -> UserId {
    Username::parse(name).unwrap().user_id()
}

/// A stored blob.
#[derive(Clone)]
pub struct Blob {
    pub id: String,
    pub bytes: Vec<u8>,
}

/// The relay: mailboxes per device, a directory, a log of every deposit (for replays).
#[derive(Default)]
pub struct Relay {
    pub mailboxes: BTreeMap<(UserId, DeviceId), VecDeque<Blob>>,
    pub lists: BTreeMap<UserId, Vec<u8>>,
    pub bundles: BTreeMap<(UserId, DeviceId), Vec<u8>>,
    pub log: Vec<(UserId, DeviceId, Blob)>,
    next_id: u64,
    /// Drop (acknowledge without delivering) the next deposits matching this.
    pub drop_next: usize,
    /// Per mailbox: drop the next this many pairwise envelopes (version 2) deposited to
    /// it, after taking them (the depositor gets its `201`); group messages still go.
    pub drop_envelopes: BTreeMap<(UserId, DeviceId), usize>,
    /// Hand each connection's blobs over in a random order (seeded).
    pub reorder: Option<ChaCha20Rng>,
    /// Mailboxes that refuse deposits (full).
    pub full: std::collections::BTreeSet<(UserId, DeviceId)>,
    /// Multi-recipient deposits taken (one upload each).
    pub uploads: usize,
}

impl Relay {
    /// Everything ever deposited to `d`'s mailbox (the dropped deposits too), in order.
    pub fn carried_to(&self, d: &Device) -> Vec<Vec<u8>> {
        self.log
            .iter()
            .filter(|(u, dev, _)| *u == d.user() && *dev == d.id())
            .map(|(_, _, b)| b.bytes.clone())
            .collect()
    }

    /// A replaying relay: deposits again everything it ever carried to `d`.
    pub fn replay_to(&mut self, d: &Device) {
        for bytes in self.carried_to(d) {
            self.deposit(d.user(), d.id(), bytes);
        }
    }

    pub fn deposit(&mut self, to: UserId, device: DeviceId, bytes: Vec<u8>) {
        self.next_id += 1;
        let blob = Blob {
            id: format!("b{}", self.next_id),
            bytes,
        };
        self.log.push((to, device, blob.clone()));
        if self.drop_next > 0 {
            self.drop_next -= 1;
            return;
        }
        if blob.bytes.first() == Some(&2)
            && let Some(n) = self.drop_envelopes.get_mut(&(to, device))
            && *n > 0
        {
            *n -= 1;
            return;
        }
        self.mailboxes
            .entry((to, device))
            .or_default()
            .push_back(blob);
    }

    /// A multi-recipient deposit: the mailboxes that refused it.
    pub fn deposit_many(
        &mut self,
        to: &[(UserId, DeviceId)],
        blob: &[u8],
    ) -> Vec<(UserId, DeviceId)> {
        self.uploads += 1;
        let mut refused = Vec::new();
        for (user, device) in to {
            if self.full.contains(&(*user, *device)) {
                refused.push((*user, *device));
            } else {
                self.deposit(*user, *device, blob.to_vec());
            }
        }
        refused
    }

    /// Deposits `n` junk blobs for `(to, device)`: the right version and mailbox, a
    /// bucket's length, random bytes (what a stranger can send without any key).
    pub fn flood(&mut self, to: UserId, device: DeviceId, n: usize, seed: u64) {
        let mut r = rng(seed);
        for _ in 0..n {
            let mut bytes = vec![0u8; 1024];
            r.fill_bytes(&mut bytes);
            bytes[0] = 2;
            bytes[1..33].copy_from_slice(to.as_bytes());
            bytes[33..49].copy_from_slice(device.as_bytes());
            self.deposit(to, device, bytes);
        }
    }

    /// How many blobs wait for `(user, device)`.
    pub fn waiting(&self, user: UserId, device: DeviceId) -> usize {
        self.mailboxes.get(&(user, device)).map_or(0, |m| m.len())
    }

    pub fn directory(&self, user: &UserId) -> Option<(Vec<u8>, Vec<Vec<u8>>)> {
        let list = self.lists.get(user)?.clone();
        let bundles = self
            .bundles
            .iter()
            .filter(|((u, _), _)| u == user)
            .map(|(_, b)| b.clone())
            .collect();
        Some((list, bundles))
    }
}

/// How the directory answers the lookups [`Device::run_counting`] counts.
#[derive(Clone)]
pub enum Answer {
    /// "No such account".
    Missing,
    /// This list and these bundles, as they are (junk, without a bundle, another's).
    Listing(Vec<u8>, Vec<Vec<u8>>),
}

impl Answer {
    fn input(&self, user: UserId) -> Input {
        match self {
            Answer::Missing => Input::DirectoryMissing { user },
            Answer::Listing(list, bundles) => Input::DirectoryFetched {
                user,
                device_list: list.clone(),
                bundles: bundles.clone(),
            },
        }
    }
}

/// One device: an engine, what it stored, what the app saw.
pub struct Device {
    pub engine: Engine,
    pub rng: ChaCha20Rng,
    pub store: BTreeMap<Part, Zeroizing<Vec<u8>>>,
    pub delivered: Vec<IncomingMessage>,
    pub group_delivered: Vec<IncomingGroupMessage>,
    /// Verified group changes, in order: (group, actor, change, epoch).
    pub group_events: Vec<(GroupId, UserId, Change, u64)>,
    pub notices: Vec<Notice>,
    pub updates: BTreeMap<MsgId, (usize, usize)>,
    /// Directory answers this device gets instead of the relay's (a forger's view).
    pub overrides: BTreeMap<UserId, (Vec<u8>, Vec<Vec<u8>>)>,
    /// Answers to lookups.
    pub lookups: Vec<(Username, LookupOutcome)>,
    /// Direct channel and call outputs, for the test's WebRTC stand-in
    /// (`tests/direct.rs`, `tests/calls.rs`).
    pub direct: Vec<Output>,
    /// Inputs handled, directory fetches asked for (work counters).
    pub handled: usize,
    pub fetches: usize,
    /// The account of each directory fetch asked for, in order.
    pub fetched: Vec<UserId>,
    /// Hold `DepositDone` answers until [`Device::confirm_deposits`].
    pub hold_deposit_done: bool,
    /// The relay cannot be reached: deposits fail (`DepositFailed`).
    pub offline_deposits: bool,
    held: Vec<Input>,
    inputs: VecDeque<Input>,
}

impl Device {
    pub fn user(&self) -> UserId {
        *self.engine.user_id()
    }

    pub fn id(&self) -> DeviceId {
        self.engine.device_id()
    }

    pub fn texts(&self) -> Vec<String> {
        self.delivered
            .iter()
            .map(|m| String::from_utf8(m.content.clone()).unwrap())
            .collect()
    }

    pub fn security_events(&self) -> usize {
        self.notices
            .iter()
            .filter(|n| matches!(n, Notice::SecurityEvent { .. }))
            .count()
    }

    /// Handles `input` and everything it leads to at time `now`.
    pub fn run(&mut self, relay: &mut Relay, now: u64, input: Input) {
        self.inputs.push_back(input);
        while let Some(input) = self.inputs.pop_front() {
            self.handled += 1;
            let outputs = self.engine.handle(&mut self.rng, now, input);
            for output in outputs {
                self.apply(relay, output);
            }
        }
    }

    /// [`Device::run`], but the lookups of `of` are answered with `answer` (the others
    /// from the relay) and counted. Fails after 1,000 inputs: a loop of lookups, which
    /// `run` would never leave (it answers every lookup at once).
    pub fn run_counting(
        &mut self,
        relay: &mut Relay,
        now: u64,
        input: Input,
        of: UserId,
        answer: &Answer,
    ) -> usize {
        let mut asked = 0;
        let mut handled = 0;
        self.inputs.push_back(input);
        while let Some(input) = self.inputs.pop_front() {
            handled += 1;
            assert!(handled < 1000, "a loop of directory lookups: {asked} asked");
            for o in self.engine.handle(&mut self.rng, now, input) {
                match o {
                    Output::FetchDirectory { user } if user == of => {
                        asked += 1;
                        self.inputs.push_back(answer.input(user));
                    }
                    o => self.apply(relay, o),
                }
            }
        }
        asked
    }

    /// Carries out one output (a test that crashes mid-batch carries out a prefix of
    /// the batch, then [`Device::restart`]s).
    pub fn apply(&mut self, relay: &mut Relay, output: Output) {
        match output {
            Output::Persist(part) => {
                self.store.insert(part, self.engine.save(part).unwrap());
            }
            Output::FetchDirectory { user } => {
                self.fetches += 1;
                self.fetched.push(user);
                let answer = self
                    .overrides
                    .get(&user)
                    .cloned()
                    .or_else(|| relay.directory(&user));
                self.inputs.push_back(match answer {
                    Some((device_list, bundles)) => Input::DirectoryFetched {
                        user,
                        device_list,
                        bundles,
                    },
                    None => Input::DirectoryMissing { user },
                });
            }
            Output::Deposit {
                to,
                device,
                envelope,
                handle,
            } => {
                if self.offline_deposits {
                    self.inputs.push_back(Input::DepositFailed { handle });
                    return;
                }
                relay.deposit(to, device, envelope);
                if self.hold_deposit_done {
                    self.held.push(Input::DepositDone { handle });
                } else {
                    self.inputs.push_back(Input::DepositDone { handle });
                }
            }
            Output::Ack { blob_id } => {
                if let Some(mb) = relay.mailboxes.get_mut(&(self.user(), self.id())) {
                    mb.retain(|b| b.id != blob_id);
                }
            }
            Output::Deliver(m) => self.delivered.push(m),
            Output::DeliverGroup(m) => self.group_delivered.push(m),
            Output::GroupChanged {
                group,
                actor,
                change,
                epoch,
            } => self.group_events.push((group, actor, change, epoch)),
            Output::DepositMany { to, blob, handle } => {
                if self.offline_deposits {
                    self.inputs.push_back(Input::DepositFailed { handle });
                    return;
                }
                let refused = relay.deposit_many(&to, &blob);
                self.inputs
                    .push_back(Input::DepositManyDone { handle, refused });
            }
            Output::DeliveryUpdate {
                msg_id,
                delivered,
                total,
            } => {
                self.updates.insert(msg_id, (delivered, total));
            }
            Output::Notice(n) => self.notices.push(n),
            Output::PublishDeviceList(list) => {
                relay.lists.insert(self.user(), list);
            }
            Output::PublishBundle(bytes) => {
                let b = DeviceBundle::from_bytes(&bytes).unwrap();
                relay.bundles.insert((*b.user_id(), *b.device_id()), bytes);
            }
            Output::LookupDone {
                username, outcome, ..
            } => self.lookups.push((username, outcome)),
            o @ (Output::DirectStart { .. }
            | Output::DirectSignal { .. }
            | Output::DirectFrame { .. }
            | Output::DirectState { .. }
            | Output::CallState { .. }
            | Output::CallMedia { .. }) => self.direct.push(o),
        }
    }

    /// Hands over the held `DepositDone` answers (a slow relay).
    pub fn confirm_deposits(&mut self, relay: &mut Relay, now: u64) {
        for input in std::mem::take(&mut self.held) {
            self.run(relay, now, input);
        }
    }

    /// Connects: a tick (as a driver does on start and every minute), then what waits
    /// in the mailbox (one connection's push).
    pub fn receive(&mut self, relay: &mut Relay, now: u64) {
        self.run(relay, now, Input::Tick);
        let mut blobs: Vec<Blob> = relay
            .mailboxes
            .get(&(self.user(), self.id()))
            .map(|mb| mb.iter().cloned().collect())
            .unwrap_or_default();
        if let Some(r) = relay.reorder.as_mut() {
            // Fisher-Yates with the relay's seeded generator.
            for i in (1..blobs.len()).rev() {
                let j = (r.next_u64() % (i as u64 + 1)) as usize;
                blobs.swap(i, j);
            }
        }
        for blob in blobs {
            self.run(
                relay,
                now,
                Input::BlobReceived {
                    blob_id: blob.id,
                    bytes: blob.bytes,
                },
            );
        }
    }

    pub fn send(&mut self, relay: &mut Relay, now: u64, to: &str, text: &str) -> MsgId {
        let msg_id = MsgId::random(&mut self.rng);
        self.send_as(relay, now, msg_id, to, text)
    }

    /// A send request with a given message id (a driver's idempotent retry repeats it).
    pub fn send_as(
        &mut self,
        relay: &mut Relay,
        now: u64,
        msg_id: MsgId,
        to: &str,
        text: &str,
    ) -> MsgId {
        self.run(
            relay,
            now,
            Input::SendRequested {
                msg_id,
                to: Username::parse(to).unwrap(),
                content_type: 1,
                content: text.as_bytes().to_vec(),
            },
        );
        msg_id
    }

    /// Restarts from the stored parts (in-memory state is lost).
    pub fn restart(&mut self) {
        let store = self.store.clone();
        self.engine = Engine::restore(|part| store.get(&part).cloned()).unwrap();
        self.inputs.clear();
        self.held.clear();
    }

    pub fn lookup(&mut self, relay: &mut Relay, now: u64, name: &str) -> LookupOutcome {
        self.run(
            relay,
            now,
            Input::Lookup {
                username: Username::parse(name).unwrap(),
            },
        );
        let (username, outcome) = self.lookups.last().cloned().unwrap();
        assert_eq!(username.as_str(), name);
        outcome
    }
}

fn device_from(engine: Engine, outputs: Vec<Output>, relay: &mut Relay, seed: u64) -> Device {
    let mut d = Device {
        engine,
        rng: rng(seed),
        store: BTreeMap::new(),
        delivered: Vec::new(),
        group_delivered: Vec::new(),
        group_events: Vec::new(),
        notices: Vec::new(),
        updates: BTreeMap::new(),
        overrides: BTreeMap::new(),
        lookups: Vec::new(),
        direct: Vec::new(),
        handled: 0,
        fetches: 0,
        fetched: Vec::new(),
        hold_deposit_done: false,
        offline_deposits: false,
        held: Vec::new(),
        inputs: VecDeque::new(),
    };
    for o in outputs {
        d.apply(relay, o);
    }
    d
}

fn new_device(name: &str, keys_of: &str, n: usize, seed: u64) -> NewDevice {
    let identity = identity_key(keys_of);
    let mut r = rng(seed);
    let device_id = DeviceId::generate(&mut r);
    let keys = DeviceKeys::from_key(
        &mut r,
        &identity,
        user(name),
        device_id,
        encryption_key(n),
        T0,
    )
    .unwrap();
    NewDevice {
        username: Username::parse(name).unwrap(),
        identity,
        keys,
        name: format!("{name} device {n}"),
    }
}

/// The first device of `name` (fixture identity of `name`), published on `relay`.
pub fn register(relay: &mut Relay, name: &str, seed: u64) -> Device {
    let (engine, outputs) =
        Engine::create_account(&mut rng(seed), new_device(name, name, 0, seed), T0).unwrap();
    device_from(engine, outputs, relay, seed)
}

/// A new account `name` with the fixture keys of `keys_of` (there are three fixture
/// identities; a test with more accounts shares them, which the protocol allows).
pub fn register_as(relay: &mut Relay, name: &str, keys_of: &str, seed: u64) -> Device {
    let (engine, outputs) =
        Engine::create_account(&mut rng(seed), new_device(name, keys_of, 0, seed), T0).unwrap();
    device_from(engine, outputs, relay, seed)
}

/// Another device of `name`'s account (a password login).
pub fn add_device(relay: &mut Relay, name: &str, n: usize, seed: u64, now: u64) -> Device {
    join(relay, name, n, seed, now, Default::default())
}

/// Another device of `name`'s account with the account state of a backup or a grant.
pub fn join(
    relay: &mut Relay,
    name: &str,
    n: usize,
    seed: u64,
    now: u64,
    state: sealpost_engine::account_state::AccountState,
) -> Device {
    let list = relay.lists.get(&user(name)).unwrap().clone();
    let (engine, outputs) = Engine::join_account(
        &mut rng(seed),
        new_device(name, name, n, seed),
        &list,
        state,
        now,
    )
    .unwrap();
    device_from(engine, outputs, relay, seed)
}

/// A fresh device of `name` (not joined anywhere yet).
pub fn fresh_device(name: &str, n: usize, seed: u64) -> NewDevice {
    new_device(name, name, n, seed)
}

/// A device from an engine and its first outputs.
pub fn device(engine: Engine, outputs: Vec<Output>, relay: &mut Relay, seed: u64) -> Device {
    device_from(engine, outputs, relay, seed)
}

/// A device that claims to be `name` but holds `keys_of`'s identity key. It never
/// publishes anything on `relay`: its own account's listing is an override.
pub fn forger(relay: &mut Relay, name: &str, keys_of: &str, seed: u64) -> Device {
    let (engine, outputs) =
        Engine::create_account(&mut rng(seed), new_device(name, keys_of, 2, seed), T0).unwrap();
    let mut scratch = Relay::default();
    let mut d = device_from(engine, outputs, &mut scratch, seed);
    let me = d.user();
    let list = scratch.lists.get(&me).unwrap().clone();
    let bundles = scratch.bundles.values().cloned().collect();
    d.overrides.insert(me, (list, bundles));
    let _ = relay;
    d
}
