//! Round trips through the streaming API with awkward piece sizes; the attacks are in
//! `core/tests/v2_attachments.rs`.

use alloc::vec::Vec;

use super::*;
use crate::os_rng;

fn encrypt(data: &[u8], piece: usize) -> (Manifest, Vec<Vec<u8>>) {
    let mut rng = os_rng();
    let mut enc = Encryptor::new(&mut rng, data.len() as u64).unwrap();
    let mut chunks = Vec::new();
    for mut rest in data.chunks(piece.max(1)) {
        while !rest.is_empty() {
            let taken = enc.write(rest).unwrap();
            rest = &rest[taken..];
            if let Some(c) = enc.next_chunk(&mut rng).unwrap() {
                assert_eq!(c.index() as usize, chunks.len());
                chunks.push(c.bytes().to_vec());
            }
        }
    }
    while let Some(c) = enc.next_chunk(&mut rng).unwrap() {
        chunks.push(c.bytes().to_vec());
    }
    let manifest = enc
        .finish(FileInfo::new("f.bin", "application/octet-stream").unwrap())
        .unwrap();
    (manifest, chunks)
}

fn decrypt(manifest: &Manifest, chunks: &[Vec<u8>]) -> Result<Vec<u8>, FileError> {
    let mut dec = Decryptor::new(manifest);
    let mut out = Vec::new();
    for c in chunks {
        out.extend_from_slice(dec.open_chunk(c)?);
    }
    dec.finish()?;
    Ok(out)
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
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let (manifest, chunks) = encrypt(&data, piece);
        let layout = manifest.layout();
        assert_eq!(chunks.len() as u32, layout.chunk_count());
        assert!(
            chunks
                .iter()
                .all(|c| c.len() == layout.chunk_len() && is_chunk_len(c.len()))
        );
        let parsed = Manifest::from_bytes(&manifest.to_bytes().unwrap()).unwrap();
        assert_eq!(parsed.to_bytes().unwrap(), manifest.to_bytes().unwrap());
        assert_eq!(decrypt(&parsed, &chunks).unwrap(), data, "{len}");
    }
}

#[test]
fn the_encryptor_refuses_more_or_fewer_bytes_than_declared() {
    let mut rng = os_rng();
    let mut enc = Encryptor::new(&mut rng, 10).unwrap();
    assert_eq!(enc.write(&[0; 11]), Err(FileError::TooLarge));
    assert_eq!(enc.write(&[0; 4]), Ok(4));
    assert!(enc.next_chunk(&mut rng).unwrap().is_none());
    let info = FileInfo::new("a", "text/plain").unwrap();
    assert_eq!(enc.finish(info).unwrap_err(), FileError::Incomplete);
    assert_eq!(
        Encryptor::new(&mut rng, MAX_FILE_LEN + 1).unwrap_err(),
        FileError::TooLarge
    );
}

#[test]
fn a_full_chunk_waits_for_next_chunk() {
    let mut rng = os_rng();
    let mut enc = Encryptor::new(&mut rng, 2048).unwrap();
    assert_eq!(enc.write(&[1; 2048]), Ok(1024));
    assert_eq!(enc.write(&[1; 1024]), Ok(0));
    assert!(enc.next_chunk(&mut rng).unwrap().is_some());
    assert!(enc.next_chunk(&mut rng).unwrap().is_none());
    assert_eq!(enc.write(&[1; 1024]), Ok(1024));
    assert!(enc.next_chunk(&mut rng).unwrap().is_some());
    assert!(enc.next_chunk(&mut rng).unwrap().is_none());
}

#[test]
fn a_chunk_served_wrong_can_be_fetched_again() {
    let data = [7u8; 3000];
    let (manifest, chunks) = encrypt(&data, 3000);
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
fn debug_output_holds_no_key_and_no_name() {
    let (manifest, _) = encrypt(b"hello", 5);
    let text = alloc::format!("{manifest:?}");
    assert!(!text.contains("f.bin"));
    assert!(text.contains("size: 5"));
}
