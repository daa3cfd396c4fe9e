//! Files through the streaming API (PROTOCOL.md 26.6, 26.7) as a client drives it:
//! awkward piece sizes, every layout edge, the encryptor's bookkeeping, re-fetching a
//! chunk. The attacks are in `v2_attachments.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::v2::attachment::{
    Decryptor, Encryptor, FileError, FileInfo, MAX_FILE_LEN, Manifest, is_chunk_len,
};
use support::files::*;
use support::rng;

fn info() -> FileInfo {
    FileInfo::new("f.bin", "application/octet-stream").unwrap()
}

#[test]
fn files_of_every_shape_round_trip() {
    for (len, piece) in [
        (0, 1),
        (1, 1),
        (1023, 7),
        (1024, 1024),
        (1025, 1000),
        (2500, 3),
        (16 * 1024 + 1, 5000),
        (300_000, 65_536),
    ] {
        let data = pattern(len);
        let (manifest, chunks) = encrypt(&mut rng(len as u64), &data, piece, info());
        let layout = manifest.layout();
        assert_eq!(chunks.len() as u32, layout.chunk_count());
        assert!(
            chunks
                .iter()
                .all(|c| c.len() == layout.chunk_len() && is_chunk_len(c.len()))
        );
        let parsed = Manifest::from_bytes(&manifest.to_bytes().unwrap()).unwrap();
        assert_eq!(parsed.to_bytes().unwrap(), manifest.to_bytes().unwrap());
        assert_eq!(parsed.size(), len as u64);
        assert_eq!(parsed.sha256(), &sha256(&data));
        assert_eq!(decrypt(&parsed, &chunks).unwrap(), data, "{len}");
    }
}

#[test]
fn the_encryptor_refuses_more_or_fewer_bytes_than_declared() {
    let mut rng = rng(1);
    let mut enc = Encryptor::new(&mut rng, 10).unwrap();
    assert_eq!(enc.write(&[0; 11]), Err(FileError::TooLarge));
    assert_eq!(enc.write(&[0; 4]), Ok(4));
    assert!(enc.next_chunk(&mut rng).unwrap().is_none());
    assert_eq!(enc.finish(info()).unwrap_err(), FileError::Incomplete);
    assert_eq!(
        Encryptor::new(&mut rng, MAX_FILE_LEN + 1).unwrap_err(),
        FileError::TooLarge
    );
}

#[test]
fn a_full_chunk_waits_for_next_chunk() {
    let mut rng = rng(2);
    let mut enc = Encryptor::new(&mut rng, 2048).unwrap();
    assert_eq!(enc.write(&[1; 2048]), Ok(1024));
    assert_eq!(enc.write(&[1; 1024]), Ok(0));
    assert_eq!(enc.next_chunk(&mut rng).unwrap().unwrap().index(), 0);
    assert!(enc.next_chunk(&mut rng).unwrap().is_none());
    assert_eq!(enc.write(&[1; 1024]), Ok(1024));
    assert_eq!(enc.next_chunk(&mut rng).unwrap().unwrap().index(), 1);
    assert!(enc.next_chunk(&mut rng).unwrap().is_none());
    assert!(enc.finish(info()).is_ok());
}

#[test]
fn a_chunk_served_wrong_can_be_fetched_again() {
    let data = pattern(3000);
    let (manifest, chunks) = encrypt(&mut rng(3), &data, 3000, info());
    let mut dec = Decryptor::new(&manifest);
    assert_eq!(dec.next_address(), Some(&manifest.chunk_addresses()[0]));
    assert_eq!(
        dec.open_chunk(&chunks[1]),
        Err(FileError::ChunkAddress { index: 0 })
    );
    assert_eq!(dec.open_chunk(&chunks[0]).unwrap(), &data[..1024]);
    assert_eq!(dec.next_address(), Some(&manifest.chunk_addresses()[1]));
}

#[test]
fn the_addresses_ahead_follow_the_next_one_and_end_with_the_file() {
    let data = pattern(3000);
    let (manifest, chunks) = encrypt(&mut rng(5), &data, 3000, info());
    let a = manifest.chunk_addresses();
    let mut dec = Decryptor::new(&manifest);
    assert_eq!(dec.upcoming(0), dec.next_address());
    assert_eq!(dec.upcoming(2), Some(&a[2]));
    assert_eq!(dec.upcoming(3), None);
    assert_eq!(dec.upcoming(u32::MAX), None);
    dec.open_chunk(&chunks[0]).unwrap();
    assert_eq!(dec.upcoming(1), Some(&a[2]));
    assert_eq!(dec.upcoming(2), None);
}

#[test]
fn debug_output_holds_no_key_and_no_name() {
    let (manifest, _) = encrypt(&mut rng(4), b"hello", 5, info());
    let text = format!("{manifest:?}");
    assert!(!text.contains("f.bin"));
    assert!(text.contains("size: 5"));
    let key_hex = file_key(&manifest)
        .iter()
        .map(|b| format!("{b}"))
        .collect::<Vec<_>>()
        .join(", ");
    assert!(!text.contains(&key_hex));
}

#[test]
fn a_resumable_encryptor_seals_the_same_file_into_the_same_chunks() {
    let key = [7u8; 32];
    let data = pattern(20_000); // 4 KiB chunks: 5
    let start = |n| Encryptor::resumable(key, n).unwrap();
    let (m1, c1) = encrypt_with(start(20_000), &mut rng(5), &data, 3000, info());
    // Another run (another page, other piece sizes, another random source): the same.
    let (m2, c2) = encrypt_with(start(20_000), &mut rng(6), &data, 777, info());
    assert_eq!(c1, c2);
    assert_eq!(*m1.to_bytes().unwrap(), *m2.to_bytes().unwrap());
    assert_eq!(file_key(&m1), key);
    assert_eq!(decrypt(&m1, &c1).unwrap(), data);
    // Another file of the same size under the same key: the chunks before the first
    // changed byte are the same, every one from it on has another nonce (no nonce ever
    // seals two plaintexts under one key).
    let mut other = data.clone();
    other[9_000] ^= 1; // in chunk 2
    let (m3, c3) = encrypt_with(start(20_000), &mut rng(5), &other, 3000, info());
    assert_eq!(c3[..2], c1[..2]);
    for i in 2..5 {
        assert_ne!(c3[i][..12], c1[i][..12], "chunk {i} has its own nonce");
    }
    assert_eq!(decrypt(&m3, &c3).unwrap(), other);
}

proptest::proptest! {
    /// Any size and any way of cutting the input into pieces gives the same file back.
    #[test]
    fn any_size_and_any_pieces_round_trip(len in 0usize..40_000, piece in 1usize..5000, seed: u64) {
        let data = pattern(len);
        let (manifest, chunks) = encrypt(&mut rng(seed), &data, piece, info());
        proptest::prop_assert_eq!(decrypt(&manifest, &chunks).unwrap(), data);
    }
}
