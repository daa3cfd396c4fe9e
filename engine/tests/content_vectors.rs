//! `tests/vectors/v2/content.json`: an encoding of every conversation content type
//! (PROTOCOL.md 28) and `fail_` contents that must be `MALFORMED`. Regenerate with
//! `SEALPOST_REGENERATE_VECTORS=1 cargo test -p sealpost-engine --test content_vectors`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::path::PathBuf;

use sealpost_core::Error;
use sealpost_engine::MsgId;
use sealpost_engine::content::{Body, Content, MAX_EXPIRY_SECS, Post};
use serde_json::{Value, json};

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors/v2/content.json")
}

fn id(b: u8) -> MsgId {
    MsgId([b; 16])
}

fn cases() -> Vec<(&'static str, Content)> {
    vec![
        (
            "text",
            Content::Post(Post::plain(Body::Text("héllo".into()))),
        ),
        ("bytes", Content::Bytes(vec![0, 1, 254, 255])),
        (
            "file",
            Content::Post(Post::plain(Body::File(vec![0x46, 0x01]))),
        ),
        (
            "reply",
            Content::Post(Post {
                reply_to: Some(id(0x11)),
                expires_in: None,
                body: Body::Text("yes".into()),
            }),
        ),
        (
            "disappearing reply",
            Content::Post(Post {
                reply_to: Some(id(0x12)),
                expires_in: Some(3600),
                body: Body::Text("for an hour".into()),
            }),
        ),
        (
            "disappearing file",
            Content::Post(Post {
                reply_to: None,
                expires_in: Some(MAX_EXPIRY_SECS),
                body: Body::File(vec![0x46, 0x01]),
            }),
        ),
        (
            "edit",
            Content::Edit {
                target: id(0x13),
                text: "fixed typo".into(),
            },
        ),
        ("delete", Content::Delete { target: id(0x14) }),
        (
            "reaction",
            Content::Reaction {
                target: id(0x15),
                emoji: "👍🏽".into(),
            },
        ),
        (
            "reaction taken back",
            Content::Reaction {
                target: id(0x15),
                emoji: String::new(),
            },
        ),
        (
            "read",
            Content::Read {
                targets: vec![id(0x16), id(0x17)],
            },
        ),
        ("typing", Content::Typing { active: true }),
        ("typing stopped", Content::Typing { active: false }),
        (
            "timer",
            Content::Timer {
                expires_in: Some(604_800),
            },
        ),
        ("timer off", Content::Timer { expires_in: None }),
    ]
}

fn fail_cases() -> Vec<(&'static str, u8, String)> {
    let h = |s: &str| s.to_string();
    vec![
        ("text not UTF-8", 0, h("ff")),
        ("post without flags", 3, h("000000000000")),
        ("post with an unknown flag", 3, h("040000000000")),
        ("post expiring too soon", 3, h("02000000040000000000")),
        ("post expiring after a year", 3, h("0201e133810000000000")),
        ("post with a bytes body", 3, h("020000003c0100000000")),
        ("post with a trailing byte", 3, h("020000003c000000000000")),
        (
            "edit without text",
            4,
            format!("{}00000000", "13".repeat(16)),
        ),
        ("edit cut short", 4, "13".repeat(16)),
        ("delete cut short", 5, "14".repeat(15)),
        ("delete with a trailing byte", 5, "14".repeat(17)),
        (
            "reaction with a bidi override",
            6,
            format!("{}03e280ae", "15".repeat(16)),
        ),
        (
            "reaction too long",
            6,
            format!("{}21{}", "15".repeat(16), "61".repeat(33)),
        ),
        ("read of nothing", 7, h("0000")),
        (
            "read count beyond the bytes",
            7,
            format!("0002{}", "16".repeat(16)),
        ),
        ("typing 2", 8, h("02")),
        ("timer of one second", 9, h("00000001")),
        ("unknown type", 10, String::new()),
    ]
}

#[test]
fn content_vectors() {
    let contents: Vec<Value> = cases()
        .into_iter()
        .map(|(name, c)| {
            let (ty, bytes) = c.encode().unwrap();
            json!({ "name": name, "content_type": ty, "content": hex::encode(bytes) })
        })
        .collect();
    let fails: Vec<Value> = fail_cases()
        .into_iter()
        .map(|(name, ty, content)| json!({ "name": name, "content_type": ty, "content": content }))
        .collect();
    let generated = json!({
        "note": "PROTOCOL.md 28: each `contents` entry parses and re-encodes to the same bytes; each `fail_contents` entry is MALFORMED. Message ids are 16 equal bytes.",
        "contents": contents,
        "fail_contents": fails,
    });
    if std::env::var_os("SEALPOST_REGENERATE_VECTORS").is_some() {
        std::fs::write(
            path(),
            serde_json::to_string_pretty(&generated).unwrap() + "\n",
        )
        .unwrap();
    }
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();
    assert_eq!(stored, generated, "content.json differs from the scenario");
    for c in stored["contents"].as_array().unwrap() {
        let ty = u8::try_from(c["content_type"].as_u64().unwrap()).unwrap();
        let bytes = hex::decode(c["content"].as_str().unwrap()).unwrap();
        let parsed = Content::parse(ty, &bytes).unwrap();
        assert_eq!(parsed.encode().unwrap(), (ty, bytes), "{}", c["name"]);
    }
    for c in stored["fail_contents"].as_array().unwrap() {
        let ty = u8::try_from(c["content_type"].as_u64().unwrap()).unwrap();
        let bytes = hex::decode(c["content"].as_str().unwrap()).unwrap();
        assert_eq!(
            Content::parse(ty, &bytes),
            Err(Error::Malformed),
            "{}",
            c["name"]
        );
    }
}
