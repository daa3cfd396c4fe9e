// Rooms (docs/PROTOCOL.md 30.4, 30.5) from the document alone, with WebCrypto: every
// frame of tests/vectors/v2/room.json (format 4) opens under the room key with the nonce and
// associated data built from its header and gives its header (stream number included) and
// content; every fail_ frame is its error (a frame of format 3 is MALFORMED to a bare open); the rekey opens with the member's pairwise key and every fail_ rekey does not.
// (The SPAKE2 join needs Ed25519 arithmetic WebCrypto does not offer: 30.)

import { Reader, assert, cat, check, dec, fail, hex, openBox, summary, subtle, unhex, utf8, vectors } from "./common.mjs";

const v = vectors("v2/room.json");
const FRAME_AAD = utf8("sealpost/v2/room-frame");
const REKEY_AAD = utf8("sealpost/v2/room-rekey");
const MAX = { 1: 64, 2: 4096, 3: 16384, 4: 0 };
const be16 = (n) => Uint8Array.of(n >> 8, n & 0xff);
const be32 = (n) => Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);

/** 30.4: header fields, then open `n || roster || kind || body`. */
async function openFrame(roomKey, epoch, frame) {
  const r = new Reader(frame);
  if (frame.length < 21 || r.u8() !== 4) fail("MALFORMED");
  const header = { epoch: r.u32(), sender: r.u16(), to: r.u16(), counter: r.u64(), seq: r.u32() };
  const head = frame.subarray(0, 21);
  const ct = frame.subarray(21);
  if (ct.length < 18) fail("MALFORMED");
  if (header.epoch !== epoch) fail("DECRYPT_FAILED");
  const nonce = cat(Uint8Array.of(0, 0), head.subarray(5, 7), head.subarray(9, 17));
  let plain;
  try {
    const k = await subtle.importKey("raw", roomKey, "AES-GCM", false, ["decrypt"]);
    plain = new Uint8Array(await subtle.decrypt({ name: "AES-GCM", iv: nonce, additionalData: cat(FRAME_AAD, head), tagLength: 128 }, k, ct));
  } catch {
    fail("DECRYPT_FAILED");
  }
  // The sender's roster: at most 8 entries `member_id(u16) || counter(u64)`, member ids
  // ascending, none 0; then the kind and the body.
  const n = plain[0];
  if (n > 8 || plain.length < 2 + 10 * n) fail("MALFORMED");
  const entries = new Reader(plain.subarray(1, 1 + 10 * n));
  const roster = [];
  for (let i = 0; i < n; i++) roster.push({ member: entries.u16(), counter: entries.u64() });
  if (roster.some((e, i) => e.member === 0 || (i > 0 && e.member <= roster[i - 1].member))) fail("MALFORMED");
  const kind = plain[1 + 10 * n];
  const body = plain.subarray(2 + 10 * n);
  if (MAX[kind] === undefined || body.length > MAX[kind]) fail("MALFORMED");
  let text;
  try {
    text = dec.decode(body);
  } catch {
    fail("MALFORMED");
  }
  return { ...header, roster, kind, text };
}

/** 30.5: `epoch || box(pair_key, aad, key)`. */
async function openRekey(pairKey, member, rekey) {
  if (rekey.length !== 64) fail("MALFORMED");
  const epoch = new Reader(rekey.subarray(0, 4)).u32();
  const key = await openBox(pairKey, cat(REKEY_AAD, be32(epoch), be16(member)), rekey.subarray(4));
  return { epoch, key };
}

const roomKey = unhex(v.join.room_key);
const epoch = v.join.epoch;

await check("room frames open to their header and content (30.4)", async () => {
  for (const f of v.frames) {
    const got = await openFrame(roomKey, epoch, unhex(f.frame));
    assert(got.sender === f.sender && got.to === f.to && got.counter === BigInt(f.counter) && got.seq === f.seq, `header of ${f.frame.slice(0, 42)}`);
    assert(got.kind === f.content.kind && got.text === (f.content.text ?? ""), `content ${f.content.text}`);
    const want = f.roster.map((e) => `${e.member}:${e.counter}`).join(",");
    assert(got.roster.map((e) => `${e.member}:${e.counter}`).join(",") === want, `roster ${want}`);
  }
});

await check("altered, re-addressed and foreign frames are refused with their code", async () => {
  for (const f of v.fail_frames) {
    let code = null;
    try {
      await openFrame(roomKey, epoch, unhex(f.frame));
    } catch (e) {
      code = e.code;
    }
    assert(code === f.error, `${f.name}: expected ${f.error}, got ${code}`);
  }
});

await check("the rekey opens for its member with the pairwise key (30.5), and only for it", async () => {
  const pair = unhex(v.join.pair_key);
  const got = await openRekey(pair, v.rekey.member, unhex(v.rekey.rekey));
  assert(got.epoch === v.rekey.epoch && hex(got.key) === v.rekey.key, "rekey content");
  for (const f of v.fail_rekeys) {
    let code = null;
    try {
      await openRekey(pair, f.member, unhex(f.rekey));
    } catch (e) {
      code = e.code;
    }
    assert(code === f.error, `${f.name}: expected ${f.error}, got ${code}`);
  }
});

summary();
