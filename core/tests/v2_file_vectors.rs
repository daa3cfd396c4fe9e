//! Interop vectors for files (PROTOCOL.md 26) in `tests/vectors/v2/files.json`, as
//! `v2_vectors.rs` does for the rest of v2: a deterministic scenario (seeded ChaCha20)
//! regenerated and compared byte for byte, then every file opened and every `fail_` case
//! checked from what the file holds. Regenerate with `SEALPOST_REGENERATE_VECTORS=1`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

mod support;

use sealpost_core::v2::attachment::{
    CHUNK_SIZES, CONTENT_TYPE, Encryptor, FileError, FileInfo, MAX_FILE_LEN, Manifest, Thumbnail,
};
use serde_json::{Value, json};
use support::files::*;
use support::*;

/// One entry of a `fail_` case's chunk list (see files.json's note).
fn served_chunk(entry: &Value, files: &[(Manifest, Vec<Vec<u8>>)], file: usize) -> Vec<u8> {
    if let Some(i) = entry.as_u64() {
        return files[file].1[i as usize].clone();
    }
    if let Some(h) = entry.get("hex") {
        return hex::decode(h.as_str().unwrap()).unwrap();
    }
    let from = entry
        .get("file")
        .map_or(file, |f| f.as_u64().unwrap() as usize);
    let mut chunk = files[from].1[entry["chunk"].as_u64().unwrap() as usize].clone();
    if let Some(at) = entry.get("flip_byte") {
        chunk[at.as_u64().unwrap() as usize] ^= 1;
    }
    chunk
}

#[test]
fn files() {
    let photo_info = FileInfo::new("photo.jpg", "image/jpeg")
        .unwrap()
        .with_thumbnail(Thumbnail::new("image/webp", b"RIFF thumbnail".to_vec()).unwrap());
    let voice_info = FileInfo::new("voice.ogg", "audio/ogg; codecs=opus")
        .unwrap()
        .with_duration_ms(4200)
        .unwrap();
    let specs = [
        (
            "report.pdf",
            2500,
            FileInfo::new("report.pdf", "application/pdf").unwrap(),
        ),
        ("photo.jpg", 600, photo_info),
        ("voice.ogg", 300, voice_info),
        (
            "empty.txt",
            0,
            FileInfo::new("empty.txt", "text/plain").unwrap(),
        ),
    ];
    let files: Vec<(Manifest, Vec<Vec<u8>>)> = specs
        .iter()
        .enumerate()
        .map(|(i, (_, len, info))| {
            encrypt(&mut rng(60 + i as u64), &pattern(*len), 700, info.clone())
        })
        .collect();
    let (report, chunks) = &files[0];
    let data = pattern(2500);
    let key = file_key(report);
    let a = report.chunk_addresses();
    let padded_tail = |poison: bool| {
        let mut p = data[2048..].to_vec();
        p.resize(1024, 0);
        if poison {
            p[1000] = 1;
        }
        p
    };
    let no_last_flag = forge_chunk(&key, 2, false, &padded_tail(false), 1);
    let bad_padding = forge_chunk(&key, 2, true, &padded_tail(true), 2);
    let mut flipped = chunks[1].clone();
    flipped[40] ^= 1;
    let sha = sha256(&data);
    let with = |addresses: &[[u8; 32]]| hex::encode(rewrite_manifest(report, 2500, sha, addresses));
    let fail =
        |name: &str, chunks: Value, manifest: Option<String>, error: &str, index: Option<u32>| {
            let mut case = json!({"name": name, "file": 0, "chunks": chunks, "error": error});
            if let Some(m) = manifest {
                case["manifest"] = json!(m);
            }
            if let Some(i) = index {
                case["index"] = json!(i);
            }
            case
        };
    let fails = vec![
        fail(
            "fail_truncated",
            json!([0, 1]),
            None,
            "INTEGRITY_TRUNCATED",
            None,
        ),
        fail(
            "fail_reordered",
            json!([1, 0, 2]),
            None,
            "INTEGRITY_CHUNK_ADDRESS",
            Some(0),
        ),
        fail(
            "fail_reordered_in_manifest",
            json!([1, 0, 2]),
            Some(with(&[a[1], a[0], a[2]])),
            "INTEGRITY_CHUNK",
            Some(0),
        ),
        fail(
            "fail_swapped_chunk",
            json!([0, {"file": 1, "chunk": 0}, 2]),
            None,
            "INTEGRITY_CHUNK_ADDRESS",
            Some(1),
        ),
        fail(
            "fail_swapped_chunk_in_manifest",
            json!([0, {"file": 1, "chunk": 0}, 2]),
            Some(with(&[a[0], files[1].0.chunk_addresses()[0], a[2]])),
            "INTEGRITY_CHUNK",
            Some(1),
        ),
        fail(
            "fail_flipped_bit",
            json!([0, {"chunk": 1, "flip_byte": 40}, 2]),
            None,
            "INTEGRITY_CHUNK_ADDRESS",
            Some(1),
        ),
        fail(
            "fail_flipped_bit_in_manifest",
            json!([0, {"chunk": 1, "flip_byte": 40}, 2]),
            Some(with(&[a[0], sha256(&flipped), a[2]])),
            "INTEGRITY_CHUNK",
            Some(1),
        ),
        fail(
            "fail_last_flag_missing",
            json!([0, 1, {"hex": hex::encode(&no_last_flag)}]),
            Some(with(&[a[0], a[1], sha256(&no_last_flag)])),
            "INTEGRITY_CHUNK",
            Some(2),
        ),
        fail(
            "fail_last_flag_early",
            json!([0, 1]),
            Some(hex::encode(rewrite_manifest(
                report,
                2048,
                sha256(&data[..2048]),
                &[a[0], a[1]],
            ))),
            "INTEGRITY_CHUNK",
            Some(1),
        ),
        fail(
            "fail_padding_not_zero",
            json!([0, 1, {"hex": hex::encode(&bad_padding)}]),
            Some(with(&[a[0], a[1], sha256(&bad_padding)])),
            "INTEGRITY_CHUNK",
            Some(2),
        ),
        fail(
            "fail_extended",
            json!([0, 1, 2, 2]),
            None,
            "INTEGRITY_EXTENDED",
            Some(3),
        ),
        fail(
            "fail_wrong_address",
            json!([0, 1, 2]),
            Some(with(&[a[0], a[1], [0xaa; 32]])),
            "INTEGRITY_CHUNK_ADDRESS",
            Some(2),
        ),
        fail(
            "fail_wrong_hash",
            json!([0, 1, 2]),
            Some(hex::encode(rewrite_manifest(report, 2500, [0xbb; 32], a))),
            "INTEGRITY_HASH",
            None,
        ),
    ];
    let good = report.to_bytes().unwrap().to_vec();
    let mut trailing = good.clone();
    trailing.push(0);
    let mut flags = files[2].0.to_bytes().unwrap().to_vec();
    let flags_at = flags.len() - 5;
    flags[flags_at] |= 4;
    let mut too_big = good.clone();
    too_big[34..42].copy_from_slice(&(MAX_FILE_LEN + 1).to_be_bytes());
    let mut slash = good.clone();
    let name_at = good.len() - 1 - 1 - "application/pdf".len() - "report.pdf".len();
    slash[name_at + 6] = b'/';
    // "report\u{202E}fdp.exe" would show as "reportexe.pdf".
    let bidi_name = "report\u{202E}fdp.exe".as_bytes();
    let mut bidi = good[..name_at - 1].to_vec();
    bidi.push(bidi_name.len() as u8);
    bidi.extend_from_slice(bidi_name);
    bidi.extend_from_slice(&good[name_at + "report.pdf".len()..]);
    let bad_manifests = [
        ("fail_manifest_trailing_byte", trailing),
        ("fail_manifest_cut", good[..good.len() - 1].to_vec()),
        ("fail_manifest_unknown_flag", flags),
        ("fail_manifest_too_large", too_big),
        ("fail_manifest_name_with_slash", slash),
        ("fail_manifest_name_bidi_override", bidi),
        (
            "fail_manifest_fewer_addresses",
            rewrite_manifest(report, 2500, sha, &a[..2]),
        ),
    ];
    // Derived nonces (26.6): report.pdf's bytes, then the same bytes with byte 2100 (in
    // chunk 2) changed, both under one key: chunks 0 and 1 are the same, chunk 2 is not.
    let resumable_key = sha256(b"sealpost test vector: resumable file key");
    let mut changed = data.clone();
    changed[2100] ^= 1;
    let resumable: Vec<Value> = [&data, &changed]
        .iter()
        .map(|bytes| {
            let enc = Encryptor::resumable(resumable_key, bytes.len() as u64).unwrap();
            let info = FileInfo::new("report.pdf", "application/pdf").unwrap();
            let (m, c) = encrypt_with(enc, &mut rng(71), bytes, 700, info);
            assert_eq!(decrypt(&m, &c).unwrap(), **bytes);
            json!({
                "flip_byte": if *bytes == &data { Value::Null } else { json!(2100) },
                "manifest": hex::encode(m.to_bytes().unwrap()),
                "chunks": c.iter().map(hex::encode).collect::<Vec<_>>(),
            })
        })
        .collect();
    let generated = json!({
        "note": "Files (PROTOCOL.md 26). plaintext[i] = i % 251 for i < size. Open each file: parse its manifest, feed its chunks in order to a decryptor, compare the plaintext. fail: feed the case's chunks (an integer is that chunk of the case's file; {file, chunk} a chunk of another file; {chunk, flip_byte} that chunk with byte flip_byte XOR 1; {hex} a chunk made by the sender) under the case's manifest (or the file's), expecting 'error' at the chunk 'index', or at the end without 'index'. fail_manifests must not parse (MALFORMED). resumable: files sealed with derived nonces (26.6) under file_key, the first with report.pdf's bytes, the second with byte flip_byte XOR 1: each chunk's nonce is the documented HMAC, so sealing each padded chunk again gives the same bytes.",
        "content_type": CONTENT_TYPE,
        "chunk_sizes": CHUNK_SIZES,
        "files": specs.iter().zip(&files).map(|((name, len, _), (m, c))| json!({
            "name": name,
            "size": len,
            "manifest": hex::encode(m.to_bytes().unwrap()),
            "chunks": c.iter().map(hex::encode).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "fail": fails,
        "fail_manifests": bad_manifests.iter().map(|(name, m)| json!({"name": name, "manifest": hex::encode(m), "error": "MALFORMED"})).collect::<Vec<_>>(),
        "resumable": {"file_key": hex::encode(resumable_key), "size": 2500, "files": resumable},
    });
    check_or_write("files.json", generated.clone());

    let files: Vec<(Manifest, Vec<Vec<u8>>)> = generated["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let m = Manifest::from_bytes(&hex_of(f, "manifest")).unwrap();
            let chunks: Vec<Vec<u8>> = f["chunks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| hex::decode(c.as_str().unwrap()).unwrap())
                .collect();
            assert_eq!(
                decrypt(&m, &chunks).unwrap(),
                pattern(f["size"].as_u64().unwrap() as usize)
            );
            (m, chunks)
        })
        .collect();
    for case in generated["fail"].as_array().unwrap() {
        let file = case["file"].as_u64().unwrap() as usize;
        let manifest = match case.get("manifest") {
            Some(_) => Manifest::from_bytes(&hex_of(case, "manifest")).unwrap(),
            None => files[file].0.clone(),
        };
        let served: Vec<Vec<u8>> = case["chunks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| served_chunk(e, &files, file))
            .collect();
        let err = decrypt(&manifest, &served).unwrap_err();
        assert_eq!(err.code(), case["error"], "{}", case["name"]);
        let index = match err {
            FileError::ChunkAddress { index } | FileError::ChunkOpen { index } => Some(index),
            FileError::Extended => Some(served.len() as u32 - 1),
            _ => None,
        };
        assert_eq!(
            index.map(|i| json!(i)),
            case.get("index").cloned(),
            "{}",
            case["name"]
        );
    }
    for case in generated["fail_manifests"].as_array().unwrap() {
        assert_eq!(
            Manifest::from_bytes(&hex_of(case, "manifest")).unwrap_err(),
            FileError::Malformed,
            "{}",
            case["name"]
        );
    }
}
