//! v2 device linking (codes, hello, grant) and backup v2 (NFC passwords, content).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::backup::{BackupParams, MIN_ITERATIONS};
use sealpost_core::v2::backup::{self, normalize_password};
use sealpost_core::v2::{DeviceId, LinkCode, LinkGrant, LinkHello};
use sealpost_core::{Error, Username};
use support::*;
use zeroize::Zeroizing;

#[test]
fn link_code_format_and_channel() {
    let code = LinkCode::generate(&mut rng(1));
    assert_eq!(code.as_str().len(), 20);
    assert!(
        code.as_str()
            .bytes()
            .all(|b| b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".contains(&b))
    );
    let grouped = code.grouped();
    assert_eq!(grouped.len(), 23);
    let typed = grouped.to_lowercase().replace('-', " ");
    assert_eq!(LinkCode::parse(&typed).unwrap(), code);
    assert_eq!(LinkCode::parse(&grouped).unwrap().channel(), code.channel());
    assert_ne!(LinkCode::generate(&mut rng(2)).channel(), code.channel());
    // The deletion proof: as the channel, from the code alone, and not the channel's hash.
    assert_eq!(
        LinkCode::parse(&grouped).unwrap().delete_proof(),
        code.delete_proof()
    );
    assert_ne!(
        LinkCode::generate(&mut rng(2)).delete_proof(),
        code.delete_proof()
    );
    assert_ne!(code.delete_proof()[..16], code.channel());
    for bad in [
        "",
        "ABCDE",
        "ABCDEFGHIJKLMNOPQRS1",
        "ABCDEFGHIJKLMNOPQRSTU",
        "ABCDEFGHIJKLMNOPQRS0",
    ] {
        assert_eq!(LinkCode::parse(bad).unwrap_err(), Error::Malformed, "{bad}");
    }
    assert_eq!(format!("{code:?}"), "LinkCode(<redacted>)");
    // Uniform: over many codes every character appears.
    let mut r = rng(3);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..100 {
        seen.extend(LinkCode::generate(&mut r).as_str().bytes());
    }
    assert_eq!(seen.len(), 32);
}

#[test]
fn hello_and_grant() {
    let code = LinkCode::generate(&mut rng(4));
    let hello = LinkHello {
        device_id: DeviceId::from_bytes([7; 16]),
        name: "Firefox on Linux".into(),
        encryption_key: device_key("carol-id").public(),
    };
    let sealed_hello = hello.seal(&mut rng(5), &code).unwrap();
    assert_eq!(LinkHello::open(&code, &sealed_hello).unwrap(), hello);
    let wrong = LinkCode::generate(&mut rng(6));
    assert_eq!(
        LinkHello::open(&wrong, &sealed_hello).unwrap_err(),
        Error::Decrypt
    );
    let grant = LinkGrant {
        username: Username::parse("alice").unwrap(),
        identity: identity_key("alice"),
        account_state: Zeroizing::new(b"contacts".to_vec()),
        history: Zeroizing::new(Vec::new()),
    };
    let sealed_grant = grant.seal(&mut rng(7), &code, &sealed_hello).unwrap();
    let opened = LinkGrant::open(&code, &sealed_hello, &sealed_grant).unwrap();
    assert_eq!(opened.username.as_str(), "alice");
    assert_eq!(opened.identity.public(), identity_key("alice").public());
    assert_eq!(&opened.account_state[..], b"contacts");
    assert!(format!("{opened:?}").contains("account_state_len: 8"));
    // Bound to that exact hello: another device's hello (same code) does not open it.
    let other_hello = LinkHello {
        device_id: DeviceId::from_bytes([8; 16]),
        ..hello.clone()
    }
    .seal(&mut rng(8), &code)
    .unwrap();
    assert_eq!(
        LinkGrant::open(&code, &other_hello, &sealed_grant).unwrap_err(),
        Error::Decrypt
    );
    assert_eq!(
        LinkGrant::open(&wrong, &sealed_hello, &sealed_grant).unwrap_err(),
        Error::Decrypt
    );
    for i in (0..sealed_grant.len()).step_by(13) {
        let mut g = sealed_grant.clone();
        g[i] ^= 0x10;
        assert_eq!(
            LinkGrant::open(&code, &sealed_hello, &g).unwrap_err(),
            Error::Decrypt
        );
    }
    // A hello is not a grant and vice versa (different associated data).
    assert!(LinkHello::open(&code, &sealed_grant).is_err());
    // Bounded names.
    let long = LinkHello {
        name: "x".repeat(65),
        ..hello
    };
    assert_eq!(long.seal(&mut rng(9), &code).unwrap_err(), Error::TooLarge);
}

fn params() -> BackupParams {
    BackupParams::generate(&mut rng(10), MIN_ITERATIONS).unwrap()
}

#[test]
fn backup_nfc_and_nfd_passwords_restore() {
    let nfd = "cafe\u{301} au lait";
    let nfc = "caf\u{e9} au lait";
    assert_ne!(nfd, nfc);
    assert_eq!(&*normalize_password(nfd), nfc);
    let alice = user_id("alice");
    let p = params();
    let keys = backup::derive_keys(nfd, &alice, &p).unwrap();
    let blob = backup::export(
        &mut rng(11),
        &alice,
        &identity_key("alice"),
        b"state",
        &p,
        &keys,
    )
    .unwrap();
    let (uid, read) = backup::params_from_blob(&blob).unwrap();
    assert_eq!((uid, read), (alice, p));
    let restored =
        backup::import(&blob, &backup::derive_keys(nfc, &alice, &read).unwrap()).unwrap();
    assert_eq!(restored.identity.public(), identity_key("alice").public());
    assert_eq!(&restored.account_state[..], b"state");
    assert_eq!(
        keys.auth_token(),
        backup::derive_keys(nfc, &alice, &read)
            .unwrap()
            .auth_token()
    );
    // The keys as a session keeps them (sealpost-wasm's exportSession) open it too.
    let kept = sealpost_core::backup::BackupKeys::from_secret_bytes(&keys.to_secret_bytes());
    assert_eq!(kept.auth_token(), keys.auth_token());
    assert_eq!(
        &backup::import(&blob, &kept).unwrap().account_state[..],
        b"state"
    );
    // Wrong password, altered blob.
    let wrong = backup::derive_keys("cafe au lait", &alice, &read).unwrap();
    assert_eq!(
        backup::import(&blob, &wrong).unwrap_err(),
        Error::WrongPassword
    );
    let mut altered = blob.clone();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    assert_eq!(
        backup::import(&altered, &keys).unwrap_err(),
        Error::WrongPassword
    );
    // A v1 blob is not a v2 blob.
    let mut v1 = blob.clone();
    v1[1] = 1;
    assert_eq!(backup::import(&v1, &keys).unwrap_err(), Error::Malformed);
    assert_eq!(
        backup::derive_keys("short", &alice, &read).unwrap_err(),
        Error::WeakParameters
    );
}

#[test]
fn backup_holds_no_encryption_key() {
    let alice = user_id("alice");
    let p = params();
    let keys = backup::derive_keys("correct horse battery", &alice, &p).unwrap();
    let identity = identity_key("alice");
    let state = b"{\"contacts\":[]}";
    let blob = backup::export(&mut rng(12), &alice, &identity, state, &p, &keys).unwrap();
    // header 54 || nonce 12 || var16(pkcs8) || var32(state) || tag 16: nothing else fits.
    let pkcs8 = identity.to_pkcs8_der().unwrap();
    assert_eq!(blob.len(), 54 + 12 + 2 + pkcs8.len() + 4 + state.len() + 16);
    let content = backup::import(&blob, &keys).unwrap();
    assert!(format!("{content:?}").contains("account_state_len: 15"));
    let huge = vec![0u8; sealpost_core::v2::MAX_ACCOUNT_STATE_LEN + 1];
    assert_eq!(
        backup::export(&mut rng(13), &alice, &identity, &huge, &p, &keys).unwrap_err(),
        Error::TooLarge
    );
}
