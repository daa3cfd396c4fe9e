//! RSA identity (RSA-PSS) and encryption (RSA-OAEP) keys.
//!
//! Both kinds are plain RSA keys with `e = 65537` that serialize as standard
//! SubjectPublicKeyInfo / PKCS#8 DER with the `rsaEncryption` algorithm identifier, so
//! WebCrypto's `importKey("spki" | "pkcs8")` and OpenSSL read them unchanged. They are
//! distinct Rust types so an identity key can never be used to wrap keys, nor an
//! encryption key to sign.
//!
//! Every private operation is blinded (RUSTSEC-2023-0071 / Marvin: see docs/AUDIT.md).

use alloc::vec::Vec;
use core::fmt;

use rand_core::CryptoRng;
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, Pss, RsaPrivateKey, RsaPublicKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::rsa_der;
use crate::rsa_gen;

/// Supported RSA modulus sizes. 4096 is the default the design promises; the smaller
/// sizes trade security margin for much faster key generation in the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum KeySize {
    /// RSA-2048 (about 112-bit security).
    Rsa2048,
    /// RSA-3072 (about 128-bit security).
    Rsa3072,
    /// RSA-4096 (the default).
    #[default]
    Rsa4096,
}

impl KeySize {
    /// Modulus size in bits.
    pub const fn bits(self) -> usize {
        match self {
            KeySize::Rsa2048 => 2048,
            KeySize::Rsa3072 => 3072,
            KeySize::Rsa4096 => 4096,
        }
    }

    /// Modulus (and so ciphertext and signature) size in bytes.
    pub const fn bytes(self) -> usize {
        self.bits() / 8
    }

    /// The size with this many bits, if supported.
    pub fn from_bits(bits: usize) -> Result<Self> {
        match bits {
            2048 => Ok(KeySize::Rsa2048),
            3072 => Ok(KeySize::Rsa3072),
            4096 => Ok(KeySize::Rsa4096),
            _ => Err(Error::InvalidKey),
        }
    }
}

/// Longest SPKI DER we accept (RSA-4096 is 550 bytes).
pub(crate) const MAX_SPKI_LEN: usize = 1024;
/// Longest PKCS#8 DER we accept (RSA-4096 is about 2.4 KiB).
pub(crate) const MAX_PKCS8_LEN: usize = 4096;
/// Largest modulus in bytes: the bound on signatures and wrapped keys.
pub(crate) const MAX_MODULUS_LEN: usize = 512;

/// An RSA public key together with its canonical SPKI DER encoding.
#[derive(Clone)]
struct PublicKey {
    key: RsaPublicKey,
    der: Vec<u8>,
    size: KeySize,
}

impl PublicKey {
    fn from_rsa(key: RsaPublicKey) -> Result<Self> {
        let size = KeySize::from_bits(key.size().saturating_mul(8))?;
        if *key.e_bytes() != [1, 0, 1] {
            return Err(Error::InvalidKey);
        }
        let der = rsa_der::encode_spki(&key);
        Ok(Self { key, der, size })
    }

    /// Only canonical DER is accepted, so every key has exactly one encoding and one
    /// fingerprint.
    fn from_der(der: &[u8]) -> Result<Self> {
        if der.len() > MAX_SPKI_LEN {
            return Err(Error::InvalidKey);
        }
        let key = rsa_der::decode_spki(der).ok_or(Error::InvalidKey)?;
        let parsed = Self::from_rsa(key)?;
        if parsed.der != der {
            return Err(Error::InvalidKey);
        }
        Ok(parsed)
    }

    fn fingerprint(&self) -> [u8; 32] {
        Sha256::digest(&self.der).into()
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}
impl Eq for PublicKey {}

/// An RSA private key and its public half.
struct KeyPair {
    private: RsaPrivateKey,
    public: PublicKey,
}

impl KeyPair {
    fn generate<R: CryptoRng + ?Sized>(rng: &mut R, size: KeySize) -> Result<Self> {
        let private = rsa_gen::generate(rng, size.bits())?;
        Self::from_private(private)
    }

    fn from_private(mut private: RsaPrivateKey) -> Result<Self> {
        private.validate().map_err(|_| Error::InvalidKey)?;
        private.precompute().map_err(|_| Error::InvalidKey)?;
        let public = PublicKey::from_rsa(private.to_public_key())?;
        Ok(Self { private, public })
    }

    fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        if der.len() > MAX_PKCS8_LEN {
            return Err(Error::InvalidKey);
        }
        Self::from_private(rsa_der::decode_pkcs8(der).ok_or(Error::InvalidKey)?)
    }

    fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        rsa_der::encode_pkcs8(&self.private).ok_or(Error::Crypto)
    }
}

macro_rules! redacted_debug {
    ($ty:ident) => {
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("public", &self.public())
                    .field("private", &"<redacted>")
                    .finish()
            }
        }
    };
}

macro_rules! public_debug {
    ($ty:ident) => {
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let fp = self.fingerprint();
                write!(
                    f,
                    "{}({} bits, sha256:",
                    stringify!($ty),
                    self.0.size.bits()
                )?;
                for b in fp.iter().take(8) {
                    write!(f, "{b:02x}")?;
                }
                f.write_str("…)")
            }
        }
    };
}

/// The long-term identity key: signs key bundles, encryption keys, session set-up
/// envelopes and relay requests with RSASSA-PSS (SHA-256, MGF1-SHA-256, 32-byte salt).
pub struct IdentityKey(KeyPair);

/// The public half of an [`IdentityKey`].
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityPublicKey(PublicKey);

/// A medium-term encryption key: unwraps envelope keys with RSAES-OAEP (SHA-256,
/// MGF1-SHA-256). Rotated and deleted after expiry for forward secrecy.
pub struct EncryptionKey(KeyPair);

/// The public half of an [`EncryptionKey`].
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionPublicKey(PublicKey);

redacted_debug!(IdentityKey);
redacted_debug!(EncryptionKey);
public_debug!(IdentityPublicKey);
public_debug!(EncryptionPublicKey);

/// The methods every private key type shares (one implementation, on [`KeyPair`]).
macro_rules! private_key_methods {
    ($ty:ident, $public:ident) => {
        impl $ty {
            /// Generates a fresh key (seconds for RSA-4096 in WebAssembly: use a worker).
            pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R, size: KeySize) -> Result<Self> {
                KeyPair::generate(rng, size).map(Self)
            }

            /// Reads a PKCS#8 DER private key.
            pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
                KeyPair::from_pkcs8_der(der).map(Self)
            }

            /// PKCS#8 DER of the private key, wiped on drop.
            pub fn to_pkcs8_der(&self) -> Result<Zeroizing<Vec<u8>>> {
                self.0.to_pkcs8_der()
            }

            /// The public half.
            pub fn public(&self) -> $public {
                $public(self.0.public.clone())
            }
        }
    };
}

/// The methods every public key type shares (one implementation, on [`PublicKey`]).
macro_rules! public_key_methods {
    ($ty:ident) => {
        impl $ty {
            /// Reads canonical SPKI DER (2048/3072/4096-bit RSA, e = 65537).
            pub fn from_spki_der(der: &[u8]) -> Result<Self> {
                PublicKey::from_der(der).map(Self)
            }

            /// The canonical SPKI DER.
            pub fn to_spki_der(&self) -> &[u8] {
                &self.0.der
            }

            /// SHA-256 of the SPKI DER.
            pub fn fingerprint(&self) -> [u8; 32] {
                self.0.fingerprint()
            }

            /// Modulus size (also the length of its signatures and wrapped keys).
            pub fn size(&self) -> KeySize {
                self.0.size
            }
        }
    };
}

private_key_methods!(IdentityKey, IdentityPublicKey);
private_key_methods!(EncryptionKey, EncryptionPublicKey);
public_key_methods!(IdentityPublicKey);
public_key_methods!(EncryptionPublicKey);

/// PSS with a 32-byte salt and, explicitly, RSA blinding of the private operation.
fn pss() -> Pss<Sha256> {
    Pss::<Sha256>::new_blinded_with_salt(32)
}

impl IdentityKey {
    /// RSASSA-PSS-SHA256 signature over `message`, blinded.
    pub fn sign<R: CryptoRng + ?Sized>(&self, rng: &mut R, message: &[u8]) -> Result<Vec<u8>> {
        let digest = Sha256::digest(message);
        self.0
            .private
            .sign_with_rng(rng, pss(), &digest)
            .map_err(|_| Error::Crypto)
    }
}

impl IdentityPublicKey {
    /// Verifies an RSASSA-PSS-SHA256 signature (32-byte salt) over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        if signature.len() != self.0.size.bytes() {
            return Err(Error::BadSignature);
        }
        let digest = Sha256::digest(message);
        self.0
            .key
            .verify(pss(), &digest, signature)
            .map_err(|_| Error::BadSignature)
    }
}

impl EncryptionKey {
    /// RSAES-OAEP-SHA256 decryption with `label`, blinded. Every failure is the same
    /// [`Error::Decrypt`].
    pub fn unwrap_key<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        label: &[u8],
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        if ciphertext.len() != self.0.public.size.bytes() {
            return Err(Error::Decrypt);
        }
        let padding = Oaep::<Sha256>::new_with_label(label.to_vec());
        self.0
            .private
            .decrypt_blinded(rng, padding, ciphertext)
            .map(Zeroizing::new)
            .map_err(|_| Error::Decrypt)
    }
}

impl EncryptionPublicKey {
    /// RSAES-OAEP-SHA256 encryption of `key` with `label`.
    pub fn wrap_key<R: CryptoRng + ?Sized>(
        &self,
        rng: &mut R,
        label: &[u8],
        key: &[u8],
    ) -> Result<Vec<u8>> {
        let padding = Oaep::<Sha256>::new_with_label(label.to_vec());
        self.0
            .key
            .encrypt(rng, padding, key)
            .map_err(|_| Error::Crypto)
    }
}
