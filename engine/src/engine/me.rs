//! This device: the account's identity key, the device's own keys and the account's
//! device list as this device last signed or verified it (the `Device` part).

use alloc::vec::Vec;
use core::fmt;

use sealpost_core::v2::{DeviceId, DeviceKeys, DeviceList};
use sealpost_core::{Error, IdentityKey, Result, UserId, Username};
use zeroize::Zeroizing;

use crate::account_state::Fingerprint;
use crate::codec::{Reader, put_var16, put_var32};

const TAG: [u8; 2] = [b'E', 2];
/// Longest PKCS#8 identity key kept (RSA-4096 is about 2.4 KB).
const MAX_PKCS8_LEN: usize = 8192;
/// Longest encoded device keys (up to 8 RSA-4096 keys with signatures).
const MAX_DEVICE_KEYS_LEN: usize = 64 * 1024;

/// This device's secrets and its view of its own account.
pub(crate) struct Me {
    pub(crate) username: Username,
    pub(crate) user_id: UserId,
    pub(crate) identity: IdentityKey,
    /// The fingerprint of `identity`: the pin every own device is checked against.
    pub(crate) identity_fp: Fingerprint,
    pub(crate) keys: DeviceKeys,
    pub(crate) list: DeviceList,
}

impl fmt::Debug for Me {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Me")
            .field("username", &self.username)
            .field("device", self.keys.device_id())
            .finish_non_exhaustive()
    }
}

impl Me {
    /// Checks that the parts belong together: the keys are this user's, the list is
    /// this user's, signed by this identity and lists this device.
    pub(crate) fn new(
        username: Username,
        identity: IdentityKey,
        keys: DeviceKeys,
        list: DeviceList,
    ) -> Result<Self> {
        let user_id = username.user_id();
        let identity_fp = identity.public().fingerprint();
        if *keys.user_id() != user_id
            || *list.user_id() != user_id
            || list.identity().fingerprint() != identity_fp
            || !list.contains(keys.device_id())
        {
            return Err(Error::BadSignature);
        }
        Ok(Self {
            username,
            user_id,
            identity,
            identity_fp,
            keys,
            list,
        })
    }

    pub(crate) fn device_id(&self) -> DeviceId {
        *self.keys.device_id()
    }

    /// The account's other devices, to which sync copies go.
    pub(crate) fn other_devices(&self) -> Vec<DeviceId> {
        let me = self.device_id();
        self.list
            .devices()
            .iter()
            .map(|d| d.id)
            .filter(|d| *d != me)
            .collect()
    }

    /// The secret encoding: `"E" 2 || var16(identity pkcs8) || var8(username) ||
    /// var32(device keys) || var16(device list)`. Store it encrypted.
    pub(crate) fn to_secret_bytes(&self) -> Result<Zeroizing<Vec<u8>>> {
        let pkcs8 = self.identity.to_pkcs8_der()?;
        let keys = self.keys.to_secret_bytes()?;
        let mut out = Zeroizing::new(Vec::with_capacity(
            pkcs8.len() + keys.len() + self.list.to_bytes().len() + 64,
        ));
        out.extend_from_slice(&TAG);
        put_var16(&mut out, &pkcs8);
        crate::codec::Codec::encode(&self.username, &mut out);
        put_var32(&mut out, &keys);
        put_var16(&mut out, self.list.to_bytes());
        Ok(out)
    }

    /// Reads [`Me::to_secret_bytes`], re-verifying the keys and the list.
    pub(crate) fn from_secret_bytes(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes);
        if r.array::<2>()? != TAG {
            return Err(Error::Malformed);
        }
        let identity = IdentityKey::from_pkcs8_der(r.var16(MAX_PKCS8_LEN)?)?;
        let username = <Username as crate::codec::Codec>::read(&mut r)?;
        let keys =
            DeviceKeys::from_secret_bytes(r.var32(MAX_DEVICE_KEYS_LEN)?, &identity.public())?;
        let list = DeviceList::from_bytes(r.var16(sealpost_core::v2::MAX_DEVICE_LIST_LEN)?)?;
        r.finish()?;
        Self::new(username, identity, keys, list)
    }
}
