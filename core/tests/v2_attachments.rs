//! Files as the attacker sees them (PROTOCOL.md 26). The relay (or anyone on the path)
//! holds every chunk and may drop, reorder, swap, truncate, extend or flip them: every
//! such change is an integrity error, never wrong plaintext. A malicious sender may also
//! write a manifest that lies about its chunks: the index and last-chunk flag in each
//! chunk's associated data and the plaintext SHA-256 catch that too. Manifests from peers
//! never panic the parser.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use proptest::prelude::*;
use sealpost_core::v2::attachment::{
    Decryptor, FileError, FileInfo, MAX_FILE_LEN, MAX_MANIFEST_LEN, Manifest, Thumbnail,
};
use support::files::*;
use support::rng;

fn info() -> FileInfo {
    FileInfo::new("report.pdf", "application/pdf").unwrap()
}

/// A 3-chunk file (2500 bytes in 1 KiB chunks) and its chunks.
fn three_chunks(seed: u64) -> (Vec<u8>, Manifest, Vec<Vec<u8>>) {
    let data = pattern(2500);
    let (m, c) = encrypt(&mut rng(seed), &data, 700, info());
    (data, m, c)
}

fn reparse(bytes: &[u8]) -> Manifest {
    Manifest::from_bytes(bytes).unwrap()
}

/// What opening `served` gives under `m` rewritten by a lying sender: a manifest stating
/// `data` (its length and SHA-256) in the chunks named by `addresses`.
fn open_under_lie(
    m: &Manifest,
    data: &[u8],
    addresses: &[[u8; 32]],
    served: &[Vec<u8>],
) -> Result<Vec<u8>, FileError> {
    let lying = reparse(&rewrite_manifest(
        m,
        data.len() as u64,
        sha256(data),
        addresses,
    ));
    decrypt(&lying, served)
}

#[test]
fn the_genuine_file_opens() {
    let (data, m, c) = three_chunks(1);
    assert_eq!(decrypt(&m, &c).unwrap(), data);
}

#[test]
fn relay_reorders_chunks() {
    let (_, m, c) = three_chunks(1);
    let swapped = vec![c[1].clone(), c[0].clone(), c[2].clone()];
    assert_eq!(
        decrypt(&m, &swapped),
        Err(FileError::ChunkAddress { index: 0 })
    );
}

#[test]
fn relay_drops_the_last_chunk() {
    let (_, m, c) = three_chunks(1);
    assert_eq!(decrypt(&m, &c[..2]), Err(FileError::Truncated));
    assert_eq!(decrypt(&m, &[]), Err(FileError::Truncated));
}

#[test]
fn relay_appends_a_chunk() {
    let (_, m, c) = three_chunks(1);
    let mut longer = c.clone();
    longer.push(c[2].clone());
    assert_eq!(decrypt(&m, &longer), Err(FileError::Extended));
}

#[test]
fn relay_serves_a_chunk_of_another_file() {
    let (_, m, c) = three_chunks(1);
    let (_, _, other) = three_chunks(2);
    let mixed = vec![c[0].clone(), other[1].clone(), c[2].clone()];
    assert_eq!(
        decrypt(&m, &mixed),
        Err(FileError::ChunkAddress { index: 1 })
    );
}

#[test]
fn relay_flips_any_bit_of_any_chunk() {
    let (_, m, c) = three_chunks(1);
    for i in 0..3 {
        for byte in [0, 11, 12, 500, 1035, 1036, 1051] {
            let mut bad = c.clone();
            bad[i][byte] ^= 0x10;
            assert_eq!(
                decrypt(&m, &bad),
                Err(FileError::ChunkAddress { index: i as u32 })
            );
        }
    }
}

#[test]
fn relay_cuts_or_pads_a_chunk() {
    let (_, m, c) = three_chunks(1);
    let mut bad = c.clone();
    bad[1].pop();
    assert_eq!(decrypt(&m, &bad), Err(FileError::ChunkAddress { index: 1 }));
    let mut bad = c.clone();
    bad[1].push(0);
    assert_eq!(decrypt(&m, &bad), Err(FileError::ChunkAddress { index: 1 }));
}

#[test]
fn sender_lists_chunks_out_of_order_and_the_index_catches_it() {
    let (data, m, c) = three_chunks(1);
    let a = m.chunk_addresses();
    assert_eq!(
        open_under_lie(
            &m,
            &data,
            &[a[1], a[0], a[2]],
            &[c[1].clone(), c[0].clone(), c[2].clone()]
        ),
        Err(FileError::ChunkOpen { index: 0 })
    );
}

#[test]
fn sender_names_a_chunk_of_another_file() {
    let (data, m, c) = three_chunks(1);
    let (_, _, other) = three_chunks(2);
    let a = m.chunk_addresses();
    assert_eq!(
        open_under_lie(
            &m,
            &data,
            &[a[0], sha256(&other[1]), a[2]],
            &[c[0].clone(), other[1].clone(), c[2].clone()]
        ),
        Err(FileError::ChunkOpen { index: 1 })
    );
}

#[test]
fn a_flipped_bit_under_a_matching_address_fails_the_tag() {
    let (data, m, c) = three_chunks(1);
    let mut bad = c.clone();
    bad[1][40] ^= 1;
    let a = m.chunk_addresses();
    assert_eq!(
        open_under_lie(&m, &data, &[a[0], sha256(&bad[1]), a[2]], &bad),
        Err(FileError::ChunkOpen { index: 1 })
    );
}

/// Opens the file with its last chunk re-sealed by a lying sender, flagged `last`, from
/// the real last bytes zero-padded to the chunk length and then `tweak`ed, under a
/// manifest naming the forged chunk.
fn open_with_forged_last(last: bool, tweak: impl FnOnce(&mut [u8])) -> Result<Vec<u8>, FileError> {
    let (data, m, c) = three_chunks(1);
    let mut padded = data[2048..].to_vec();
    padded.resize(1024, 0);
    tweak(&mut padded);
    let forged = forge_chunk(&file_key(&m), 2, last, &padded, 9);
    let a = m.chunk_addresses();
    open_under_lie(
        &m,
        &data,
        &[a[0], a[1], sha256(&forged)],
        &[c[0].clone(), c[1].clone(), forged],
    )
}

/// The last chunk sealed without its last flag: a file that could be extended.
#[test]
fn a_last_chunk_without_its_flag_fails() {
    assert_eq!(
        open_with_forged_last(false, |_| {}),
        Err(FileError::ChunkOpen { index: 2 })
    );
}

/// A manifest shortened to two chunks (a truncation that rewrote the size and hash):
/// chunk 1 was not sealed as a last chunk.
#[test]
fn a_manifest_truncated_to_fewer_chunks_fails_on_the_flag() {
    let (data, m, c) = three_chunks(1);
    let a = m.chunk_addresses();
    assert_eq!(
        open_under_lie(&m, &data[..2048], &[a[0], a[1]], &c[..2]),
        Err(FileError::ChunkOpen { index: 1 })
    );
}

#[test]
fn padding_that_is_not_zeros_fails() {
    assert_eq!(
        open_with_forged_last(true, |padded| padded[1000] = 1),
        Err(FileError::ChunkOpen { index: 2 })
    );
}

#[test]
fn a_wrong_plaintext_hash_fails_at_the_end() {
    let (_, m, c) = three_chunks(1);
    let lying = reparse(&rewrite_manifest(&m, 2500, [7; 32], m.chunk_addresses()));
    assert_eq!(decrypt(&lying, &c), Err(FileError::PlaintextHash));
    assert!(FileError::PlaintextHash.is_integrity());
}

#[test]
fn a_chunk_of_the_wrong_length_under_its_address_fails() {
    let (data, m, c) = three_chunks(1);
    let short = c[0][..100].to_vec();
    let a = m.chunk_addresses();
    assert_eq!(
        open_under_lie(&m, &data, &[sha256(&short), a[1], a[2]], &[short]),
        Err(FileError::ChunkOpen { index: 0 })
    );
}

/// No convergent encryption: the same file sent twice shares no chunk, so a relay cannot
/// confirm that someone holds a file it knows.
#[test]
fn the_same_file_twice_shares_nothing() {
    let (_, m1, c1) = three_chunks(1);
    let (_, m2, c2) = three_chunks(2);
    assert_ne!(file_key(&m1), file_key(&m2));
    assert!(c1.iter().all(|c| !c2.contains(c)));
    assert_eq!(m1.sha256(), m2.sha256());
}

/// What the relay sees is `chunk count × chunk length`: two files of different sizes in
/// the same number of chunks look the same.
#[test]
fn the_relay_learns_only_count_and_chunk_length() {
    let (m1, c1) = encrypt(&mut rng(1), &pattern(2049), 500, info());
    let (m2, c2) = encrypt(&mut rng(2), &pattern(3072), 500, info());
    assert_eq!(c1.len(), c2.len());
    assert!(c1.iter().chain(&c2).all(|c| c.len() == 1052));
    assert_eq!(m1.layout().stored_len(), m2.layout().stored_len());
}

#[test]
fn manifests_parse_strictly() {
    let thumb = Thumbnail::new("image/webp", vec![1, 2, 3]).unwrap();
    let info = FileInfo::new("a.jpg", "image/jpeg")
        .unwrap()
        .with_thumbnail(thumb)
        .with_duration_ms(1500)
        .unwrap();
    let (m, _) = encrypt(&mut rng(3), &pattern(10), 10, info);
    let good = m.to_bytes().unwrap().to_vec();
    let parsed = Manifest::from_bytes(&good).unwrap();
    assert_eq!(parsed.info().duration_ms(), Some(1500));
    assert_eq!(parsed.info().thumbnail().unwrap().bytes(), &[1, 2, 3]);
    for cut in 0..good.len() {
        assert_eq!(
            Manifest::from_bytes(&good[..cut]).unwrap_err(),
            FileError::Malformed,
            "cut {cut}"
        );
    }
    let mut longer = good.clone();
    longer.push(0);
    assert_eq!(
        Manifest::from_bytes(&longer).unwrap_err(),
        FileError::Malformed
    );
    let flags_at = good.len() - 4 - 3 - 2 - 1 - "image/webp".len() - 1;
    for bad_flags in [4u8, 0x80] {
        let mut bad = good.clone();
        bad[flags_at] |= bad_flags;
        assert_eq!(
            Manifest::from_bytes(&bad).unwrap_err(),
            FileError::Malformed
        );
    }
    let mut bad = good.clone();
    bad[0] = b'G';
    assert_eq!(
        Manifest::from_bytes(&bad).unwrap_err(),
        FileError::Malformed
    );
    let mut huge = good.clone();
    huge[34..42].copy_from_slice(&(MAX_FILE_LEN + 1).to_be_bytes());
    assert_eq!(
        Manifest::from_bytes(&huge).unwrap_err(),
        FileError::Malformed
    );
    assert_eq!(
        Manifest::from_bytes(&vec![0; MAX_MANIFEST_LEN + 1]).unwrap_err(),
        FileError::Malformed
    );
}

#[test]
fn the_largest_manifest_fits_its_bound() {
    let big = FileInfo::new(&"n".repeat(255), &format!("a/{}", "b".repeat(125)))
        .unwrap()
        .with_thumbnail(
            Thumbnail::new(&format!("image/{}", "w".repeat(121)), vec![9; 16 * 1024]).unwrap(),
        )
        .with_duration_ms(1)
        .unwrap();
    // The manifest of a MAX_FILE_LEN file, spelled by hand: 256 addresses.
    let (m, _) = encrypt(&mut rng(4), &pattern(1), 1, big);
    let bytes = rewrite_manifest(&m, MAX_FILE_LEN, [0; 32], &[[1; 32]; 256]);
    assert_eq!(bytes.len(), MAX_MANIFEST_LEN);
    assert_eq!(
        Manifest::from_bytes(&bytes)
            .unwrap()
            .chunk_addresses()
            .len(),
        256
    );
}

proptest! {
    #[test]
    fn arbitrary_manifests_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Manifest::from_bytes(&bytes);
    }

    #[test]
    fn arbitrary_chunks_are_integrity_errors(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..1100), 0..5)) {
        let (_, m, _) = three_chunks(1);
        let mut dec = Decryptor::new(&m);
        for c in &chunks {
            let err = dec.open_chunk(c).unwrap_err();
            prop_assert!(err.is_integrity());
        }
        prop_assert!(dec.finish().unwrap_err().is_integrity());
    }
}
