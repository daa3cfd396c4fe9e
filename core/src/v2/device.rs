//! The account's device list (design 1.1): which devices belong to an account, signed
//! by the account's identity key.
//!
//! A [`DeviceList`] value only exists once its signature verified and its entries are
//! valid (1 to [`MAX_DEVICES`], sorted by id, no duplicates, names of at most
//! [`MAX_DEVICE_NAME_LEN`] UTF-8 bytes), so holding one means it is self-consistent.
//! Whether its identity key really is the user's is the engine's pin (TOFU and safety
//! numbers).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;

use crate::error::{Error, Result};
use crate::keys::{IdentityKey, IdentityPublicKey, MAX_MODULUS_LEN, MAX_SPKI_LEN};
use crate::username::UserId;
use crate::v2::ids::DeviceId;
use crate::wire::{Reader, put_var16};

const LIST_TAG: [u8; 2] = [b'L', 2];
const LIST_SIG_DOMAIN: &[u8] = b"sealpost/v2/device-list\0";

/// Most devices per account.
pub const MAX_DEVICES: usize = 8;
/// Longest device name in UTF-8 bytes (the relay and contacts see it).
pub const MAX_DEVICE_NAME_LEN: usize = 64;
/// Longest encoded device list.
pub const MAX_DEVICE_LIST_LEN: usize = 4096;

/// One device of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceEntry {
    /// The device's id.
    pub id: DeviceId,
    /// When it was added (Unix seconds, the adding device's clock).
    pub added_at: u64,
    /// A label such as "Firefox on Linux", at most [`MAX_DEVICE_NAME_LEN`] bytes.
    pub name: String,
}

/// A verified, signed device list.
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceList {
    user_id: UserId,
    version: u64,
    identity: IdentityPublicKey,
    devices: Vec<DeviceEntry>,
    bytes: Vec<u8>,
}

impl fmt::Debug for DeviceList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceList")
            .field("user_id", &self.user_id)
            .field("version", &self.version)
            .field("identity", &self.identity)
            .field("devices", &self.devices)
            .finish_non_exhaustive()
    }
}

/// Checks count, name lengths and strict ordering (which also rules out duplicates).
fn check_entries(devices: &[DeviceEntry]) -> Result<()> {
    if devices.is_empty() || devices.len() > MAX_DEVICES {
        return Err(Error::TooLarge);
    }
    if devices.iter().any(|d| d.name.len() > MAX_DEVICE_NAME_LEN) {
        return Err(Error::TooLarge);
    }
    if devices.windows(2).any(|w| match w {
        [a, b] => a.id >= b.id,
        _ => false,
    }) {
        return Err(Error::Malformed);
    }
    Ok(())
}

fn signing_input(signed: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(LIST_SIG_DOMAIN.len() + signed.len());
    m.extend_from_slice(LIST_SIG_DOMAIN);
    m.extend_from_slice(signed);
    m
}

impl DeviceList {
    /// Builds and signs a list. `devices` may come in any order (they are sorted by id);
    /// more than [`MAX_DEVICES`] or a name longer than [`MAX_DEVICE_NAME_LEN`] is
    /// [`Error::TooLarge`], a duplicate id [`Error::Malformed`]. For an update, pass
    /// [`DeviceList::next_version`] of the current list as `version`.
    pub fn sign<R: CryptoRng + ?Sized>(
        rng: &mut R,
        user_id: UserId,
        identity: &IdentityKey,
        version: u64,
        mut devices: Vec<DeviceEntry>,
    ) -> Result<Self> {
        crate::sort::sort_by_key(&mut devices, |d| d.id);
        check_entries(&devices)?;
        let public = identity.public();
        let mut bytes = Vec::with_capacity(1024);
        bytes.extend_from_slice(&LIST_TAG);
        bytes.extend_from_slice(user_id.as_bytes());
        bytes.extend_from_slice(&version.to_be_bytes());
        put_var16(&mut bytes, public.to_spki_der())?;
        bytes.push(u8::try_from(devices.len()).map_err(|_| Error::TooLarge)?);
        for d in &devices {
            bytes.extend_from_slice(d.id.as_bytes());
            bytes.extend_from_slice(&d.added_at.to_be_bytes());
            bytes.push(u8::try_from(d.name.len()).map_err(|_| Error::TooLarge)?);
            bytes.extend_from_slice(d.name.as_bytes());
        }
        let signature = identity.sign(rng, &signing_input(&bytes))?;
        put_var16(&mut bytes, &signature)?;
        if bytes.len() > MAX_DEVICE_LIST_LEN {
            return Err(Error::TooLarge);
        }
        Ok(Self {
            user_id,
            version,
            identity: public,
            devices,
            bytes,
        })
    }

    /// Parses a list and verifies its signature and entries (any structural problem is
    /// [`Error::Malformed`], a bad signature [`Error::BadSignature`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_DEVICE_LIST_LEN {
            return Err(Error::TooLarge);
        }
        let mut r = Reader::new(bytes);
        if r.array::<2>()? != LIST_TAG {
            return Err(Error::Malformed);
        }
        let user_id = UserId(r.array()?);
        let version = r.u64()?;
        let identity = IdentityPublicKey::from_spki_der(r.var16(MAX_SPKI_LEN)?)?;
        let count = usize::from(r.u8()?);
        if count == 0 || count > MAX_DEVICES {
            return Err(Error::Malformed);
        }
        let mut devices = Vec::with_capacity(count);
        for _ in 0..count {
            let id = DeviceId::from_bytes(r.array()?);
            let added_at = r.u64()?;
            let len = usize::from(r.u8()?);
            if len > MAX_DEVICE_NAME_LEN {
                return Err(Error::Malformed);
            }
            let name = core::str::from_utf8(r.bytes(len)?).map_err(|_| Error::Malformed)?;
            devices.push(DeviceEntry {
                id,
                added_at,
                name: String::from(name),
            });
        }
        check_entries(&devices).map_err(|_| Error::Malformed)?;
        let signed_len = bytes.len().saturating_sub(r.remaining());
        let signature = r.var16(MAX_MODULUS_LEN)?;
        r.finish()?;
        let signed = bytes.get(..signed_len).ok_or(Error::Malformed)?;
        identity.verify(&signing_input(signed), signature)?;
        Ok(Self {
            user_id,
            version,
            identity,
            devices,
            bytes: bytes.to_vec(),
        })
    }

    /// The canonical encoding (what the relay stores and serves).
    pub fn to_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whose list this claims to be.
    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }

    /// The list's version; updates strictly increase it.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The version an update signed at `now` should carry: `max(now, version + 1)`.
    pub fn next_version(&self, now: u64) -> u64 {
        now.max(self.version.saturating_add(1))
    }

    /// The identity key that signed it (and signs every device bundle of the account).
    pub fn identity(&self) -> &IdentityPublicKey {
        &self.identity
    }

    /// The devices, sorted by id.
    pub fn devices(&self) -> &[DeviceEntry] {
        &self.devices
    }

    /// The entry for `id`, if listed.
    pub fn get(&self, id: &DeviceId) -> Option<&DeviceEntry> {
        self.devices
            .binary_search_by(|d| d.id.cmp(id))
            .ok()
            .and_then(|i| self.devices.get(i))
    }

    /// Whether `id` is listed.
    pub fn contains(&self, id: &DeviceId) -> bool {
        self.get(id).is_some()
    }

    /// Checks that `newer` may replace `self`: same user and byte-identical identity
    /// key (else [`Error::BadSignature`]), strictly larger version (else
    /// [`Error::Stale`]).
    pub fn check_update(&self, newer: &DeviceList) -> Result<()> {
        if newer.user_id != self.user_id || newer.identity != self.identity {
            return Err(Error::BadSignature);
        }
        if newer.version <= self.version {
            return Err(Error::Stale);
        }
        Ok(())
    }

    /// A new list with `entry` added (or its entry replaced), signed at `now`.
    /// A ninth device is [`Error::TooLarge`]: revoke one first.
    pub fn with_device<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        identity: &IdentityKey,
        entry: DeviceEntry,
        now: u64,
    ) -> Result<Self> {
        let mut devices: Vec<DeviceEntry> = self
            .devices
            .iter()
            .filter(|d| d.id != entry.id)
            .cloned()
            .collect();
        devices.push(entry);
        self.resigned(rng, identity, devices, now)
    }

    /// A new list without device `id`, signed at `now`. Removing the last device is
    /// [`Error::TooLarge`] (a list has at least one device).
    pub fn without_device<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        identity: &IdentityKey,
        id: &DeviceId,
        now: u64,
    ) -> Result<Self> {
        let devices = self
            .devices
            .iter()
            .filter(|d| d.id != *id)
            .cloned()
            .collect();
        self.resigned(rng, identity, devices, now)
    }

    fn resigned<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        identity: &IdentityKey,
        devices: Vec<DeviceEntry>,
        now: u64,
    ) -> Result<Self> {
        if identity.public() != self.identity {
            return Err(Error::BadSignature);
        }
        Self::sign(rng, self.user_id, identity, self.next_version(now), devices)
    }
}
