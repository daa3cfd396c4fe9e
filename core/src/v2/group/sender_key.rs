//! Sender keys (PROTOCOL.md 27.5): each member device has one sending chain per group and
//! key epoch, an HMAC chain as in sessions (13.2) with its own header key, and an ECDSA
//! P-256 key that signs every message, so a member, who holds every chain key, still
//! cannot forge another member's messages. The chain's current position, header key and
//! public signing key go to every other member device once, in a
//! [`SenderKeyDistribution`] sent over the pairwise sessions.

use alloc::vec::Vec;
use core::fmt;

use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::elliptic_curve::Generate;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::error::{GroupError, GroupResult};
use crate::primitives::{self, Key};
use crate::username::UserId;
use crate::v2::ids::{ChainId, DeviceId, GroupId};
use crate::v2::session::Chain;
use crate::wire::Reader;

const DISTRIBUTION_TAG: [u8; 2] = [b'C', 1];
/// Uncompressed SEC1 P-256 point: `0x04 || x[32] || y[32]` (WebCrypto's `raw` format).
pub const VERIFYING_KEY_LEN: usize = 65;
/// ECDSA P-256 signature `r[32] || s[32]` (WebCrypto's format).
pub const SIGNATURE_LEN: usize = 64;
/// Length of a distribution's encoding.
pub const DISTRIBUTION_LEN: usize = 2 + 16 + 16 + 8 + 32 + 16 + 8 + 32 + 32 + VERIFYING_KEY_LEN;

/// This device's sending chain in one group.
pub(super) struct SendingChain {
    pub(super) chain_id: ChainId,
    pub(super) epoch: u64,
    pub(super) chain: Chain,
    pub(super) signing: SigningKey,
}

impl SendingChain {
    pub(super) fn generate<R: CryptoRng + ?Sized>(rng: &mut R, epoch: u64) -> Self {
        Self {
            chain_id: ChainId::generate(rng),
            epoch,
            chain: Chain {
                chain_key: primitives::random_key(rng),
                header_key: primitives::random_key(rng),
                next: 0,
            },
            signing: SigningKey::generate_from_rng(rng),
        }
    }

    /// ECDSA P-256 with SHA-256 over `message` (RFC 6979 nonces: no RNG needed).
    pub(super) fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        use p256::ecdsa::signature::Signer;
        let signature: Signature = self.signing.sign(message);
        signature.to_bytes().into()
    }
}

/// What a member device sends every other member device so they can read its messages:
/// its chain at the current position (never an earlier one), the chain's header key and
/// the public key that checks its signatures. Secret (it holds the chain key); it travels
/// only inside pairwise sessions, whose peer must be `sender`/`sender_device`.
#[derive(Clone, PartialEq, Eq)]
pub struct SenderKeyDistribution {
    /// The group.
    pub group_id: GroupId,
    /// The chain.
    pub chain_id: ChainId,
    /// The group epoch the chain was made in (at least the group's key epoch).
    pub epoch: u64,
    /// The member.
    pub sender: UserId,
    /// The member's device.
    pub sender_device: DeviceId,
    /// The position `chain_key` is at: messages before it cannot be read with it.
    pub counter: u64,
    /// The chain key at `counter`.
    pub chain_key: Zeroizing<[u8; 32]>,
    /// The key of the chain's message headers.
    pub header_key: Zeroizing<[u8; 32]>,
    /// The uncompressed P-256 point that verifies the chain's signatures.
    pub verifying_key: [u8; VERIFYING_KEY_LEN],
}

impl SenderKeyDistribution {
    /// The encoding (PROTOCOL.md 27.5), [`DISTRIBUTION_LEN`] bytes. Secret.
    pub fn to_bytes(&self) -> Zeroizing<alloc::vec::Vec<u8>> {
        let mut out = Zeroizing::new(alloc::vec::Vec::with_capacity(DISTRIBUTION_LEN));
        out.extend_from_slice(&DISTRIBUTION_TAG);
        out.extend_from_slice(self.group_id.as_bytes());
        out.extend_from_slice(self.chain_id.as_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(self.sender.as_bytes());
        out.extend_from_slice(self.sender_device.as_bytes());
        out.extend_from_slice(&self.counter.to_be_bytes());
        out.extend_from_slice(self.chain_key.as_ref());
        out.extend_from_slice(self.header_key.as_ref());
        out.extend_from_slice(&self.verifying_key);
        out
    }

    /// Parses strictly: the tag, exact length, a valid uncompressed P-256 point; else
    /// [`GroupError::Malformed`].
    pub fn from_bytes(bytes: &[u8]) -> GroupResult<Self> {
        let mut r = Reader::new(bytes);
        if r.array::<2>()? != DISTRIBUTION_TAG {
            return Err(GroupError::Malformed);
        }
        let dist = Self {
            group_id: GroupId::from_bytes(r.array()?),
            chain_id: ChainId::from_bytes(r.array()?),
            epoch: r.u64()?,
            sender: UserId::from_bytes(r.array()?),
            sender_device: DeviceId::from_bytes(r.array()?),
            counter: r.u64()?,
            chain_key: Zeroizing::new(r.array()?),
            header_key: Zeroizing::new(r.array()?),
            verifying_key: r.array()?,
        };
        r.finish()?;
        verifying_key(&dist.verifying_key)?;
        Ok(dist)
    }

    pub(super) fn of(
        chain: &SendingChain,
        group_id: GroupId,
        sender: UserId,
        sender_device: DeviceId,
    ) -> Self {
        let mut verifying = [0u8; VERIFYING_KEY_LEN];
        let point = chain.signing.verifying_key().to_sec1_point(false);
        verifying.copy_from_slice(point.as_bytes());
        Self {
            group_id,
            chain_id: chain.chain_id,
            epoch: chain.epoch,
            sender,
            sender_device,
            counter: chain.chain.next,
            chain_key: Zeroizing::new(*chain.chain.chain_key),
            header_key: Zeroizing::new(*chain.chain.header_key),
            verifying_key: verifying,
        }
    }
}

impl SenderKeyDistribution {
    /// A received chain as the distribution of its current position (for storage).
    pub(super) fn of_receiving(c: &ReceivingChain) -> Self {
        let mut verifying = [0u8; VERIFYING_KEY_LEN];
        verifying.copy_from_slice(c.verifying.to_sec1_point(false).as_bytes());
        Self {
            group_id: c.group_id,
            chain_id: c.chain_id,
            epoch: c.epoch,
            sender: c.sender,
            sender_device: c.sender_device,
            counter: c.chain.next,
            chain_key: Zeroizing::new(*c.chain.chain_key),
            header_key: Zeroizing::new(*c.chain.header_key),
            verifying_key: verifying,
        }
    }
}

impl fmt::Debug for SenderKeyDistribution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SenderKeyDistribution")
            .field("group_id", &self.group_id)
            .field("chain_id", &self.chain_id)
            .field("epoch", &self.epoch)
            .field("sender", &self.sender)
            .field("sender_device", &self.sender_device)
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

/// Exactly 65 bytes starting `0x04` that are a point on P-256 (not the identity).
fn verifying_key(bytes: &[u8; VERIFYING_KEY_LEN]) -> GroupResult<VerifyingKey> {
    if bytes.first() != Some(&4) {
        return Err(GroupError::Malformed);
    }
    VerifyingKey::from_sec1_bytes(bytes).map_err(|_| GroupError::Malformed)
}

/// Another device's chain as this device holds it.
pub(super) struct ReceivingChain {
    pub(super) group_id: GroupId,
    pub(super) chain_id: ChainId,
    pub(super) epoch: u64,
    pub(super) sender: UserId,
    pub(super) sender_device: DeviceId,
    pub(super) chain: Chain,
    pub(super) skipped: Vec<(u64, Key)>,
    pub(super) verifying: VerifyingKey,
}

impl ReceivingChain {
    pub(super) fn from_distribution(d: &SenderKeyDistribution) -> GroupResult<Self> {
        Ok(Self {
            group_id: d.group_id,
            chain_id: d.chain_id,
            epoch: d.epoch,
            sender: d.sender,
            sender_device: d.sender_device,
            chain: Chain {
                chain_key: d.chain_key.clone(),
                header_key: d.header_key.clone(),
                next: d.counter,
            },
            skipped: Vec::new(),
            verifying: verifying_key(&d.verifying_key)?,
        })
    }

    /// ECDSA P-256 with SHA-256: exactly [`SIGNATURE_LEN`] bytes `r || s` over `message`.
    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> GroupResult<()> {
        use p256::ecdsa::signature::Verifier;
        let signature = Signature::from_slice(signature).map_err(|_| GroupError::BadSignature)?;
        self.verifying
            .verify(message, &signature)
            .map_err(|_| GroupError::BadSignature)
    }
}
