// Direct channels and calls' signalling (docs/PROTOCOL.md 17.6, 18.9, 18.10) read from the document alone: every
// Signal payload of tests/vectors/v2/direct.json parses to its fields and re-encodes to
// the same bytes, every fail_ signal is its error, frames parse and re-encode, bad frames
// are MALFORMED, and the fingerprint rule on the SDP gives the expected verdicts. No
// crypto here; it checks that the sections are precise enough to agree byte for byte.

import { Reader, assert, cat, check, dec, eq, fail, hex, summary, u64, u8, unhex, utf8, vectors } from "./common.mjs";

const MAX_SDP = 16_384;
const MAX_DIRECT_ENVELOPE = 65_536;
const u32 = (n) => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);

/** An engine payload of type 5 (17.6). */
function parseSignal(bytes) {
  const r = new Reader(bytes);
  if (r.u8() !== 5) fail("MALFORMED");
  const kind = r.u8();
  if (kind < 1 || kind > 11) fail("MALFORMED");
  const sentAt = r.u64();
  const fingerprint = r.bytes(32);
  const sdpBytes = r.var32(MAX_SDP);
  // 18.10: the call kinds (4 to 11) end with the call id.
  const call = kind >= 4 ? r.bytes(16) : undefined;
  r.finish();
  const empty = sdpBytes.length === 0 && fingerprint.every((b) => b === 0);
  // Offer, answer, accept and call answer carry an SDP; the others nothing.
  if ([1, 2, 5, 6].includes(kind) === empty) fail("MALFORMED");
  let sdp;
  try {
    sdp = dec.decode(sdpBytes);
  } catch {
    fail("MALFORMED");
  }
  return { kind, sentAt, fingerprint, sdp, call };
}

const encodeSignal = (s) => {
  const sdp = utf8(s.sdp);
  return cat(u8(5), u8(s.kind), u64(s.sentAt), s.fingerprint, u32(sdp.length), sdp, s.call ?? new Uint8Array(0));
};

/** A data channel frame (18.9). */
function parseFrame(bytes) {
  const r = new Reader(bytes);
  const type = r.u8();
  const seq = r.u64();
  if (type === 1) {
    const envelope = r.bytes(r.remaining);
    if (envelope.length === 0 || envelope.length > MAX_DIRECT_ENVELOPE) fail("MALFORMED");
    return { seq, envelope };
  }
  if (type !== 2) fail("MALFORMED");
  r.finish();
  return { seq };
}

const encodeFrame = (f) => cat(u8(f.envelope ? 1 : 2), u64(f.seq), f.envelope ?? new Uint8Array(0));

/** 18.9: at least one a=fingerprint line, each sha-256 and equal to the sealed one. */
function binds(sdp, fingerprint) {
  const lines = sdp.split("\n").map((l) => l.replace(/\r$/, "")).filter((l) => l.startsWith("a=fingerprint:"));
  return lines.length > 0 && lines.every((l) => {
    const m = /^a=fingerprint:sha-256 ((?:[0-9a-f]{2}:){31}[0-9a-f]{2})$/i.exec(l);
    return m !== null && eq(unhex(m[1].replaceAll(":", "")), fingerprint);
  });
}

const json = vectors("v2/direct.json");

for (const s of json.signals) {
  await check(`direct.json: signal ${s.name} parses and re-encodes (17.6)`, () => {
    const v = parseSignal(unhex(s.payload));
    assert(v.kind === s.kind && v.sentAt === BigInt(s.sent_at) && hex(v.fingerprint) === s.fingerprint && v.sdp === s.sdp, "fields");
    assert((v.call === undefined ? undefined : hex(v.call)) === s.call, "call id");
    assert(hex(encodeSignal(v)) === s.payload, "same bytes");
  });
}
for (const s of json.fail_signals) {
  await check(`direct.json fail: signal ${s.name} is ${s.error}`, () => {
    try {
      parseSignal(unhex(s.payload));
    } catch (e) {
      assert(e.code === s.error, `${s.error}, got ${e.code ?? e}`);
      return;
    }
    throw new Error("parsed");
  });
}
for (const f of json.frames) {
  await check(`direct.json: frame ${f.name} parses and re-encodes (18.9)`, () => {
    const v = parseFrame(unhex(f.frame));
    assert(v.seq === BigInt(f.seq) && (f.envelope === undefined || hex(v.envelope) === f.envelope), "fields");
    assert(hex(encodeFrame(v)) === f.frame, "same bytes");
  });
}
for (const f of json.fail_frames) {
  await check(`direct.json fail: frame ${f.name} is MALFORMED`, () => {
    try {
      parseFrame(unhex(f.frame));
    } catch (e) {
      assert(e.code === "MALFORMED", `MALFORMED, got ${e.code ?? e}`);
      return;
    }
    throw new Error("parsed");
  });
}
for (const b of json.sdp_binding) {
  await check(`direct.json: the SDP of "${b.name}" ${b.binds ? "binds" : "does not bind"} the sealed certificate (18.9)`, () => {
    assert(binds(b.sdp, unhex(b.fingerprint)) === b.binds, "verdict");
  });
}

summary();
