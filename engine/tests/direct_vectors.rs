//! `tests/vectors/v2/direct.json` (PROTOCOL.md 17.6, 18.9, 25): the `Signal` payload,
//! the data channel's frames and the SDP fingerprint rule, built here and required to
//! match the file byte for byte (`SEALPOST_WRITE_VECTORS=1` rewrites it), then read back
//! as another implementation would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a panic is the failure report

use sealpost_engine::codec::Codec;
use sealpost_engine::direct::{Frame, Signal, SignalKind, sdp_binds};
use sealpost_engine::payload::Payload;
use serde_json::{Value, json};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/vectors/v2/direct.json"
);
const T0: u64 = 1_767_225_600;

fn colon(fp: &[u8; 32]) -> String {
    fp.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn fp(n: u8) -> [u8; 32] {
    core::array::from_fn(|i| n.wrapping_add(i as u8))
}

fn sdp(lines: &[String]) -> String {
    let mut s = String::from("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n");
    for l in lines {
        s.push_str(l);
        s.push_str("\r\n");
    }
    s
}

fn fingerprint_line(hash: &str, value: &str) -> String {
    format!("a=fingerprint:{hash} {value}")
}

fn build() -> Value {
    let offer_sdp = sdp(&[
        fingerprint_line("sha-256", &colon(&fp(0x10))),
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel".into(),
        "a=candidate:1 1 udp 2122260223 192.0.2.2 50000 typ host".into(),
        "a=setup:actpass".into(),
    ]);
    let answer_sdp = sdp(&[
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel".into(),
        fingerprint_line("sha-256", &colon(&fp(0x80)).to_lowercase()),
        "a=setup:active".into(),
    ]);
    let call_id = [0x42u8; 16];
    let signal = |name: &str, kind: SignalKind, fingerprint: [u8; 32], sdp: &str| {
        let s = Signal {
            kind,
            sent_at: T0 + 5,
            fingerprint,
            sdp: sdp.as_bytes().to_vec(),
            call: kind.is_call().then_some(call_id),
        };
        let code = Payload::Signal(s.clone()).to_bytes()[1];
        let mut v = json!({
            "name": name,
            "kind": code,
            "sent_at": s.sent_at,
            "fingerprint": hex::encode(fingerprint),
            "sdp": sdp,
            "payload": hex::encode(Payload::Signal(s).to_bytes()),
        });
        if kind.is_call() {
            v["call"] = json!(hex::encode(call_id));
        }
        v
    };
    let raw_call = |kind: u8, fingerprint: [u8; 32], sdp: &[u8], call: &[u8]| {
        let mut p = vec![5, kind];
        p.extend_from_slice(&(T0 + 5).to_be_bytes());
        p.extend_from_slice(&fingerprint);
        p.extend_from_slice(&(sdp.len() as u32).to_be_bytes());
        p.extend_from_slice(sdp);
        p.extend_from_slice(call);
        hex::encode(p)
    };
    let raw = |kind: u8, fingerprint: [u8; 32], sdp: &[u8]| raw_call(kind, fingerprint, sdp, &[]);
    let envelope: Vec<u8> = (0..64u8).collect();
    let frames = [
        (
            "blob",
            Frame::Blob {
                seq: 7,
                envelope: envelope.clone(),
            },
        ),
        ("ack", Frame::Ack { seq: 7 }),
    ];
    let binding = |name: &str, sdp: String, binds: bool| json!({ "name": name, "sdp": sdp, "fingerprint": hex::encode(fp(0x10)), "binds": binds });
    let good = fingerprint_line("sha-256", &colon(&fp(0x10)));
    json!({
        "note": "PROTOCOL.md 17.6, 18.9 and 18.10. payload = an engine payload (type 5); call kinds (4..11) end with the 16-byte call id. Frames: 0x01 || u64(seq) || envelope, 0x02 || u64(seq).",
        "signals": [
            signal("offer", SignalKind::Offer, fp(0x10), &offer_sdp),
            signal("answer", SignalKind::Answer, fp(0x80), &answer_sdp),
            signal("close", SignalKind::Close, [0; 32], ""),
            signal("call ring", SignalKind::Ring, [0; 32], ""),
            signal("call accept (the callee's offer)", SignalKind::Accept, fp(0x80), &answer_sdp),
            signal("call answer", SignalKind::CallAnswer, fp(0x10), &offer_sdp),
            signal("call decline", SignalKind::Decline, [0; 32], ""),
            signal("call busy", SignalKind::Busy, [0; 32], ""),
            signal("call hang-up", SignalKind::HangUp, [0; 32], ""),
            signal("call taken elsewhere", SignalKind::Taken, [0; 32], ""),
            signal("call refused (fingerprint)", SignalKind::Refuse, [0; 32], ""),
        ],
        "fail_signals": [
            { "name": "unknown kind", "payload": raw_call(12, [0; 32], b"", &call_id), "error": "MALFORMED" },
            { "name": "ring without its call id", "payload": raw(4, [0; 32], b""), "error": "MALFORMED" },
            { "name": "ring with an sdp", "payload": raw_call(4, fp(1), b"v=0", &call_id), "error": "MALFORMED" },
            { "name": "accept without sdp", "payload": raw_call(5, [0; 32], b"", &call_id), "error": "MALFORMED" },
            { "name": "close with a call id", "payload": raw_call(3, [0; 32], b"", &call_id), "error": "MALFORMED" },
            { "name": "close with an sdp", "payload": raw(3, [0; 32], b"v=0"), "error": "MALFORMED" },
            { "name": "close with a fingerprint", "payload": raw(3, fp(1), b""), "error": "MALFORMED" },
            { "name": "offer without sdp", "payload": raw(1, [0; 32], b""), "error": "MALFORMED" },
            { "name": "sdp not utf-8", "payload": raw(1, fp(1), &[0xc3, 0x28]), "error": "MALFORMED" },
            { "name": "sdp too long", "payload": raw(2, fp(1), &[b'a'; 16_385]), "error": "MALFORMED" },
        ],
        "frames": frames.iter().map(|(name, f)| match f {
            Frame::Blob { seq, envelope } => json!({ "name": name, "seq": seq, "envelope": hex::encode(envelope), "frame": hex::encode(f.to_bytes()) }),
            Frame::Ack { seq } => json!({ "name": name, "seq": seq, "frame": hex::encode(f.to_bytes()) }),
        }).collect::<Vec<_>>(),
        "fail_frames": [
            { "name": "empty", "frame": "" },
            { "name": "blob without envelope", "frame": "010000000000000007" },
            { "name": "ack with a trailing byte", "frame": "02000000000000000700" },
            { "name": "unknown type", "frame": "030000000000000007" },
            { "name": "short sequence number", "frame": "0200000007" },
        ],
        "sdp_binding": [
            binding("the sealed certificate", sdp(std::slice::from_ref(&good)), true),
            binding("lower case, at session and media level", sdp(&[good.to_lowercase(), "m=application 9".into(), good.clone()]), true),
            binding("no fingerprint", sdp(&[]), false),
            binding("another certificate", sdp(&[fingerprint_line("sha-256", &colon(&fp(0x11)))]), false),
            binding("a second certificate too", sdp(&[good.clone(), fingerprint_line("sha-256", &colon(&fp(0x11)))]), false),
            binding("another hash function", sdp(&[fingerprint_line("sha-1", &colon(&fp(0x10))[..59])]), false),
            binding("a byte too many", sdp(&[format!("{good}:00")]), false),
        ],
    })
}

#[test]
fn the_direct_vectors_match_and_read_back() {
    let want = serde_json::to_string_pretty(&build()).unwrap() + "\n";
    if std::env::var_os("SEALPOST_WRITE_VECTORS").is_some() {
        std::fs::write(PATH, &want).unwrap();
    }
    let file = std::fs::read_to_string(PATH).unwrap();
    assert_eq!(file, want, "tests/vectors/v2/direct.json is stale");
    let v: Value = serde_json::from_str(&file).unwrap();
    let bytes = |x: &Value| hex::decode(x.as_str().unwrap()).unwrap();
    for s in v["signals"].as_array().unwrap() {
        let payload = bytes(&s["payload"]);
        let Ok(Payload::Signal(sig)) = Payload::from_bytes(&payload) else {
            panic!("{}", s["name"]);
        };
        assert_eq!(sig.sent_at, s["sent_at"].as_u64().unwrap());
        assert_eq!(sig.fingerprint.to_vec(), bytes(&s["fingerprint"]));
        assert_eq!(sig.sdp, s["sdp"].as_str().unwrap().as_bytes());
        let call = s.get("call").map(bytes);
        assert_eq!(sig.call.map(|c| c.to_vec()), call);
        assert_eq!(Payload::Signal(sig).to_bytes(), payload);
    }
    for s in v["fail_signals"].as_array().unwrap() {
        let err = Payload::from_bytes(&bytes(&s["payload"])).unwrap_err();
        assert_eq!(err.code(), s["error"].as_str().unwrap(), "{}", s["name"]);
    }
    for f in v["frames"].as_array().unwrap() {
        let frame = bytes(&f["frame"]);
        let parsed = Frame::from_bytes(&frame).unwrap();
        assert_eq!(parsed.to_bytes(), frame);
    }
    for f in v["fail_frames"].as_array().unwrap() {
        assert!(
            Frame::from_bytes(&bytes(&f["frame"])).is_err(),
            "{}",
            f["name"]
        );
    }
    for b in v["sdp_binding"].as_array().unwrap() {
        let fp: [u8; 32] = bytes(&b["fingerprint"]).try_into().unwrap();
        let sdp = b["sdp"].as_str().unwrap().as_bytes();
        assert_eq!(
            sdp_binds(sdp, &fp),
            b["binds"].as_bool().unwrap(),
            "{}",
            b["name"]
        );
    }
}
