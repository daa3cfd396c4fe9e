//! Protocol v2 (docs/V2-DESIGN.md, issue 9): accounts with up to eight devices, and
//! sessions per device pair that set themselves up from any message.
//!
//! Public API (additive; v1 stays as it is until the client moves over):
//!
//! - [`DeviceId`], [`SessionId`]: 16-byte random ids (hex text form).
//! - [`DeviceList`] / [`DeviceEntry`] (design 1.1): the account's devices, signed by the
//!   identity key. `sign`, `from_bytes` (verifies), `to_bytes`, `devices`, `get`,
//!   `contains`, `next_version`, `with_device`, `without_device`, `check_update`,
//!   `check_bundle`.
//! - [`DeviceBundle`] / [`SignedDeviceKey`] (design 1.2): one device's encryption keys.
//!   `new`, `from_bytes`, `to_bytes`, `current_encryption_key(now)`, `check_update`.
//! - [`DeviceKeys`]: the device's own secret keys and their life cycle: `generate`,
//!   `from_key`, `bundle`, `needs_rotation`, `rotate`, `prune`, `to_secret_bytes`,
//!   `from_secret_bytes`.
//!
//! Coming in the next steps (names as planned): envelope v2 and `SessionStore` (`seal`,
//! `open` → `Opening::{Message, Pending}`, `accept`, `forget_device`, `forget_peer`,
//! `prune`, secret encoding), device linking (`link`), backup v2 (`backup`).

mod bundle;
mod device;
mod device_keys;
mod ids;

pub use bundle::{DeviceBundle, MAX_DEVICE_BUNDLE_LEN, SignedDeviceKey};
pub use device::{DeviceEntry, DeviceList, MAX_DEVICE_LIST_LEN, MAX_DEVICE_NAME_LEN, MAX_DEVICES};
pub use device_keys::DeviceKeys;
pub use ids::{DeviceId, SessionId};
