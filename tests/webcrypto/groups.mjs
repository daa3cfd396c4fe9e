// Opens the group sender-key vectors (tests/vectors/v2/groups.json) with WebCrypto alone,
// written from docs/PROTOCOL.md section 27: group state parsing, sender key distributions
// and their checks against the state (27.5), group messages (27.6: header box, chain,
// body box, ECDSA P-256 signature), replays, flipped bits and the time window.
// Ends with "N passed, N failed" and exits non-zero on any failure.
//
//   node tests/webcrypto/groups.mjs

import {
  Reader, assert, cat, check, checkWindow, eq, fail, flip, hex, hmac, isBucket, MAX_MESSAGE_AGE,
  openBox, recvKey, rejects, sha256, spread, subtle, summary, u8, unhex, utf8, vectors,
} from "./common.mjs";

// ---------------------------------------------------------------- 27.2 state

function parseState(bytes) {
  const r = new Reader(bytes);
  const tag = r.bytes(2);
  if (tag[0] !== 0x47 || tag[1] !== 0x01) fail("MALFORMED");
  const s = { id: r.bytes(16), epoch: r.u64(), keyEpoch: r.u64(), name: r.var8(128), members: new Map() };
  const n = r.u16();
  if (s.keyEpoch === 0n || s.keyEpoch > s.epoch || n > 1000) fail("MALFORMED");
  let last = null;
  for (let i = 0; i < n; i++) {
    const user = r.bytes(32);
    if (last && hex(last) >= hex(user)) fail("MALFORMED");
    last = user;
    const fingerprint = r.bytes(32);
    const flags = r.u8();
    if (flags > 1) fail("MALFORMED");
    s.members.set(hex(user), { fingerprint, admin: flags === 1 });
  }
  r.finish();
  return s;
}

// ---------------------------------------------------------------- 27.5 distributions

async function parseDistribution(bytes) {
  const r = new Reader(bytes);
  const tag = r.bytes(2);
  if (tag[0] !== 0x43 || tag[1] !== 0x01) fail("MALFORMED");
  const d = {
    groupId: r.bytes(16), chainId: r.bytes(16), epoch: r.u64(), sender: r.bytes(32),
    senderDevice: r.bytes(16), counter: r.u64(), chainKey: r.bytes(32), headerKey: r.bytes(32),
    verifyingKey: r.bytes(65),
  };
  r.finish();
  if (d.verifyingKey[0] !== 4) fail("MALFORMED");
  try {
    d.key = await subtle.importKey("raw", d.verifyingKey, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  } catch {
    fail("MALFORMED");
  }
  return d;
}

/** 27.5: a receiving chain from a distribution that `from` sent over its pairwise session. */
async function takeChain(state, me, from, d) {
  if (!eq(d.groupId, state.id)) fail("GROUP_WRONG_GROUP");
  const own = eq(d.sender, me.user) && eq(d.senderDevice, me.device);
  if (!eq(d.sender, from.user) || !eq(d.senderDevice, from.device) || own) fail("GROUP_WRONG_SENDER");
  const member = state.members.get(hex(from.user));
  if (!member || !eq(member.fingerprint, await sha256(from.spki))) fail("GROUP_NOT_MEMBER");
  if (d.epoch < state.keyEpoch) fail("GROUP_OLD_EPOCH");
  if (d.epoch > state.epoch) fail("GROUP_EPOCH_AHEAD");
  return { ...d, recv: { ck: d.chainKey, next: d.counter }, skipped: [] };
}

// ---------------------------------------------------------------- 27.6 messages

async function openMessage(state, chain, blob, now) {
  if (!isBucket(blob.length) || blob[0] !== 3) fail("MALFORMED");
  const after = blob.subarray(89);
  const aad = cat(u8(3), await sha256(after));
  const plain = await openBox(chain.headerKey, aad, blob.subarray(1, 89));
  const r = new Reader(plain, "DECRYPT_FAILED");
  const h = { groupId: r.bytes(16), chainId: r.bytes(16), epoch: r.u64(), counter: r.u64(), sentAt: r.u64(), bodyLen: r.u32() };
  r.finish();
  if (h.bodyLen < 12 + 16 + 64 || h.bodyLen > after.length) fail("DECRYPT_FAILED");
  if (!eq(h.groupId, state.id) || !eq(h.chainId, chain.chainId) || h.epoch !== chain.epoch) fail("DECRYPT_FAILED");
  checkWindow(h.sentAt, now);
  const { mk, commit } = await recvKey(chain, h.counter);
  const body = await openBox(mk, utf8("sealpost/v2/group-body"), after.subarray(0, h.bodyLen));
  const payload = body.subarray(0, body.length - 64);
  const signature = body.subarray(body.length - 64);
  const signed = cat(utf8("sealpost/v2/group-message\0"), plain.subarray(0, 56), payload);
  const ok = await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, chain.key, signature, signed);
  if (!ok) fail("BAD_SIGNATURE");
  const skipped = commit();
  return { counter: h.counter, sentAt: h.sentAt, payload, skipped };
}

// ---------------------------------------------------------------- the vectors

const v = vectors("v2/groups.json");
const sk = v.sender_keys;
const party = (p) => ({ user: unhex(p.user_id), device: unhex(p.device_id), spki: unhex(p.identity_spki) });
const me = party(sk.receiver);
const now = v.t0 + 10;

async function fresh() {
  const state = parseState(unhex(sk.state));
  const chain = await takeChain(state, me, party(sk.from), await parseDistribution(unhex(sk.distribution)));
  return { state, chain };
}

await check("groups.json: every state_after parses (27.2)", async () => {
  for (const o of v.ops) parseState(unhex(o.state_after));
  const last = parseState(unhex(v.ops[v.ops.length - 1].state_after));
  assert(last.epoch === BigInt(v.ops.length) && last.keyEpoch === last.epoch, "epochs after leave");
});

await check("groups.json: messages open out of order, each once (27.6)", async () => {
  const { state, chain } = await fresh();
  for (const i of sk.open_order) {
    const m = sk.messages[i];
    const blob = unhex(m.message);
    const got = await openMessage(state, chain, blob, now);
    assert(new TextDecoder().decode(got.payload) === m.payload, `payload ${i}`);
    assert(got.counter === BigInt(m.counter) && got.sentAt === BigInt(m.sent_at), `counter ${i}`);
    await rejects(openMessage(state, chain, blob, now), "REPLAY", `replay ${i}`);
  }
});

await check("groups.json: any flipped bit fails, the version byte as MALFORMED", async () => {
  const blob = unhex(sk.messages[0].message);
  for (const at of spread(blob.length)) {
    const { state, chain } = await fresh();
    await rejects(openMessage(state, chain, flip(blob, at), now), at === 0 ? "MALFORMED" : "DECRYPT_FAILED", `byte ${at}`);
  }
  const { state, chain } = await fresh();
  await rejects(openMessage(state, chain, blob.subarray(0, blob.length - 1), now), "MALFORMED", "not a bucket");
});

await check("groups.json: the time window (15.3)", async () => {
  const { state, chain } = await fresh();
  await rejects(openMessage(state, chain, unhex(sk.messages[0].message), v.t0 + MAX_MESSAGE_AGE + 10), "EXPIRED", "15 days later");
});

await check("groups.json: a member's forged signature fails (27.6)", async () => {
  // A member holds the chain and header keys and can re-encrypt anything; only the
  // signature stops it. Re-seal message 0 with a changed payload under the real keys.
  const { state, chain } = await fresh();
  const blob = unhex(sk.messages[0].message);
  const after = blob.subarray(89);
  const header = await openBox(chain.headerKey, cat(u8(3), await sha256(after)), blob.subarray(1, 89));
  const mk = await hmac(chain.chainKey, u8(1));
  const body = await openBox(mk, utf8("sealpost/v2/group-body"), after.subarray(0, new DataView(header.buffer).getUint32(56)));
  const forged = body.slice();
  forged[0] ^= 1;
  const seal = async (key, aad, pt) => {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const k = await subtle.importKey("raw", key, "AES-GCM", false, ["encrypt"]);
    return cat(iv, new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad, tagLength: 128 }, k, pt)));
  };
  const newAfter = cat(await seal(mk, utf8("sealpost/v2/group-body"), forged), after.subarray(forged.length + 28));
  const newHeader = await seal(chain.headerKey, cat(u8(3), await sha256(newAfter)), header);
  await rejects(openMessage(state, chain, cat(u8(3), newHeader, newAfter), now), "BAD_SIGNATURE", "forged");
  const ok = await openMessage(state, chain, blob, now);
  assert(ok.counter === 0n, "the genuine message still opens");
});

for (const f of v.fail_distributions) {
  await check(`groups.json: ${f.name} is ${f.error} (27.5)`, async () => {
    const state = parseState(unhex(f.state));
    await rejects(
      (async () => takeChain(state, me, party(f.from), await parseDistribution(unhex(f.distribution))))(),
      f.error,
      f.name,
    );
  });
}

summary();
