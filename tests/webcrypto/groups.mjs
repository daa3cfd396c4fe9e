// Opens the group vectors (tests/vectors/v2/groups.json) with WebCrypto alone, written
// from docs/PROTOCOL.md section 27: group states (27.2) with their heads and member
// usernames checked against the user ids, operations applied with their RSA-PSS
// signatures, priors and rules (27.3, 27.4), format-2 states and format-1 operations of
// devices that have not updated, races of operations signed for the same
// epoch settled by admin seniority (27.4), sender key distributions and their checks
// against the state (27.5), group messages (27.6: header box, chain, body box, ECDSA
// P-256 signature), replays, flipped bits and the time window. Also the `DeviceLeft`
// notice of tests/vectors/v2/device_left.json (17.7): its payload, and when a receiver
// asks the directory for the sender's list (18.1 "Lookups" (c)), from the rule alone.
// Ends with "N passed, N failed" and exits non-zero on any failure.
//
//   node tests/webcrypto/groups.mjs

import {
  Reader, assert, cat, check, checkWindow, cmp, dec, eq, fail, flip, hex, hmac, isBucket,
  MAX_MESSAGE_AGE, openBox, recvKey, rejects, sha256, spread, subtle, summary, u8, u64, unhex,
  utf8, vectors,
} from "./common.mjs";

const MAX_MEMBERS = 1000;

// ---------------------------------------------------------------- 27.2 state

/** 27.2 name rule: 1 to 128 bytes of UTF-8, no control or bidirectional formatting character. */
function checkName(raw, code) {
  let name;
  try {
    name = dec.decode(raw);
  } catch {
    fail(code);
  }
  const bad = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
  if (raw.length < 1 || raw.length > 128 || bad.test(name)) fail(code);
  return raw;
}

const USER_ID_DOMAIN = utf8("sealpost/user/v1");

/**
 * 27.2: `var8(username)` of member `user`: empty (unknown) only where `optional`; else a
 * normalized username (3 to 32 of `[a-z0-9._-]`) whose SHA-256("sealpost/user/v1" ||
 * username) is the user id, or GROUP_USERNAME_MISMATCH.
 */
async function readUsername(r, user, optional) {
  const raw = r.var8(32);
  if (raw.length === 0 && optional) return null;
  const ok = (b) => (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2e || b === 0x5f || b === 0x2d;
  if (raw.length < 3 || !raw.every(ok)) fail("MALFORMED");
  if (!eq(await sha256(cat(USER_ID_DOMAIN, raw)), user)) fail("GROUP_USERNAME_MISMATCH");
  return raw;
}

/** Format 3, or format 2 (a device that has not updated) as a legacy state: no head, no usernames. */
async function parseState(bytes) {
  const r = new Reader(bytes);
  const tag = r.bytes(2);
  if (tag[0] !== 0x47 || (tag[1] !== 0x03 && tag[1] !== 0x02)) fail("MALFORMED");
  const v3 = tag[1] === 0x03;
  const s = { id: r.bytes(16), epoch: r.u64(), keyEpoch: r.u64(), head: null, members: new Map() };
  if (v3) {
    const has = r.u8();
    if (has === 1) s.head = r.bytes(32);
    else if (has !== 0) fail("MALFORMED");
  }
  s.name = checkName(r.var8(128), "MALFORMED");
  const n = r.u16();
  if (s.keyEpoch === 0n || s.keyEpoch > s.epoch || n > MAX_MEMBERS) fail("MALFORMED");
  let last = null;
  const since = new Set();
  for (let i = 0; i < n; i++) {
    const user = r.bytes(32);
    if (last && cmp(last, user) >= 0) fail("MALFORMED");
    last = user;
    const fingerprint = r.bytes(32);
    const adminSince = r.u64();
    if (adminSince > s.epoch) fail("MALFORMED");
    const username = v3 ? await readUsername(r, user, true) : null;
    if (username && !s.head) fail("MALFORMED"); // a legacy state never had usernames
    if (adminSince !== 0n) {
      if (since.has(adminSince)) fail("MALFORMED"); // seniority must be a strict order
      since.add(adminSince);
    }
    s.members.set(hex(user), { user, fingerprint, adminSince, username });
  }
  r.finish();
  if (n > 0 && since.size === 0) fail("MALFORMED");
  return s;
}

/** Format 3; `v2` the format-2 encoding (what a legacy state's head hashes). */
function encodeState(s, v2 = false) {
  const members = [...s.members.values()].sort((a, b) => cmp(a.user, b.user));
  const name = (m) => (m.username ? cat(u8(m.username.length), m.username) : u8(0));
  return cat(
    Uint8Array.of(0x47, v2 ? 0x02 : 0x03), s.id, u64(s.epoch), u64(s.keyEpoch),
    v2 ? new Uint8Array(0) : s.head ? cat(u8(1), s.head) : u8(0),
    u8(s.name.length), s.name,
    Uint8Array.of(members.length >> 8, members.length & 0xff),
    ...members.map((m) => cat(m.user, m.fingerprint, u64(m.adminSince), v2 ? new Uint8Array(0) : name(m))),
  );
}

/** 27.2: what operations on `s` carry as their prior. */
async function headOf(s) {
  return s.head ?? sha256(cat(utf8("sealpost/v2/group-legacy-head\0"), encodeState(s, true)));
}

const isAdmin = (s, user) => (s.members.get(hex(user))?.adminSince ?? 0n) !== 0n;

// ---------------------------------------------------------------- 27.3 operations

/** `u16(n) || n × (user_id || (fingerprint || var8(username))?)`, strictly sorted by user id; format 1 without usernames. */
async function readMembers(r, min, withFingerprint, format1) {
  const n = r.u16();
  if (n < min || n > MAX_MEMBERS) fail("MALFORMED");
  const out = [];
  for (let i = 0; i < n; i++) {
    const user = r.bytes(32);
    if (out.length && cmp(out[out.length - 1].user, user) >= 0) fail("MALFORMED");
    const fingerprint = withFingerprint ? r.bytes(32) : null;
    const username = withFingerprint && !format1 ? await readUsername(r, user, false) : null;
    out.push({ user, fingerprint, username });
  }
  return out;
}

/** Section 7: a canonical rsaEncryption SPKI of 2048/3072/4096 bits with e = 65537. */
async function identityKey(spki) {
  let key;
  try {
    key = await subtle.importKey("spki", spki, { name: "RSA-PSS", hash: "SHA-256" }, true, ["verify"]);
  } catch {
    fail("MALFORMED");
  }
  const { publicExponent, modulusLength } = key.algorithm;
  const k = modulusLength / 8;
  if (!eq(publicExponent, Uint8Array.of(1, 0, 1)) || ![256, 384, 512].includes(k)) fail("MALFORMED");
  if (!eq(new Uint8Array(await subtle.exportKey("spki", key)), spki)) fail("MALFORMED");
  return { key, k };
}

/** Format 2, or format 1 (no prior, no usernames: `prior` null). */
async function parseOp(bytes) {
  if (bytes.length > 98795) fail("MALFORMED");
  const r = new Reader(bytes);
  const tag = r.bytes(2);
  if (tag[0] !== 0x4f || (tag[1] !== 0x02 && tag[1] !== 0x01)) fail("MALFORMED");
  const format1 = tag[1] === 0x01;
  const op = { bytes, groupId: r.bytes(16), epoch: r.u64() };
  op.prior = format1 ? null : r.bytes(32);
  op.actor = r.bytes(32);
  op.kind = r.u8();
  switch (op.kind) {
    case 1:
      op.creator = format1 ? null : await readUsername(r, op.actor, false);
      op.name = checkName(r.var8(128), "MALFORMED");
      op.members = await readMembers(r, 0, true, format1);
      break;
    case 2: op.members = await readMembers(r, 1, true, format1); break;
    case 3: op.users = (await readMembers(r, 1, false, format1)).map((m) => m.user); break;
    case 4: case 8: break;
    case 5: op.name = checkName(r.var8(128), "MALFORMED"); break;
    case 6: case 7: op.user = r.bytes(32); break;
    default: fail("MALFORMED");
  }
  op.spki = r.var16(1024);
  op.signed = bytes.subarray(0, r.at);
  op.signature = r.var16(512);
  r.finish();
  op.identity = await identityKey(op.spki);
  return op;
}

async function verifyOp(op) {
  const { key, k } = op.identity;
  const ok = op.signature.length === k &&
    (await subtle.verify({ name: "RSA-PSS", saltLength: 32 }, key, op.signature, cat(utf8("sealpost/v2/group-op\0"), op.signed)));
  if (!ok) fail("BAD_SIGNATURE");
}

// ---------------------------------------------------------------- 27.4 applying them

const cloneState = (s) => ({ ...s, members: new Map([...s.members].map(([k, m]) => [k, { ...m }])) });

async function createState(op) {
  if (op.kind !== 1 || op.epoch !== 0n || (op.prior && op.prior.some((b) => b !== 0))) fail("GROUP_INVALID_OPERATION");
  await verifyOp(op);
  const head = op.prior ? await sha256(op.bytes) : null;
  const s = { id: op.groupId, epoch: 1n, keyEpoch: 1n, head, name: op.name, members: new Map() };
  s.members.set(hex(op.actor), { user: op.actor, fingerprint: await sha256(op.spki), adminSince: 1n, username: op.creator });
  addMembers(s, op.members);
  return s;
}

function addMembers(s, members) {
  for (const m of members) {
    if (s.members.has(hex(m.user))) fail("GROUP_INVALID_OPERATION");
    s.members.set(hex(m.user), { user: m.user, fingerprint: m.fingerprint, adminSince: 0n, username: m.username });
  }
  if (s.members.size > MAX_MEMBERS) fail("TOO_LARGE");
}

async function applyOp(s, op) {
  if (!eq(op.groupId, s.id)) fail("GROUP_WRONG_GROUP");
  if (op.epoch < s.epoch) fail("GROUP_OLD_EPOCH");
  if (op.epoch > s.epoch) fail("GROUP_EPOCH_AHEAD");
  const actor = s.members.get(hex(op.actor));
  if (!actor || !eq(actor.fingerprint, await sha256(op.spki))) fail("GROUP_NOT_MEMBER");
  await verifyOp(op);
  if (op.kind !== 4 && actor.adminSince === 0n) fail("GROUP_NOT_ADMIN");
  // Made on this state (its head), in the format this state takes.
  if (!op.prior) {
    if (s.head) fail("GROUP_OLD_FORMAT");
  } else if (!eq(op.prior, await headOf(s))) fail("GROUP_FORKED");
  const next = cloneState(s);
  next.head = op.prior ? await sha256(op.bytes) : null;
  next.epoch = s.epoch + 1n;
  const target = () => next.members.get(hex(op.user));
  switch (op.kind) {
    case 2: addMembers(next, op.members); break;
    case 3:
      for (const u of op.users) {
        if (eq(u, op.actor) || !next.members.delete(hex(u))) fail("GROUP_INVALID_OPERATION");
      }
      next.keyEpoch = next.epoch;
      break;
    case 4: next.members.delete(hex(op.actor)); next.keyEpoch = next.epoch; break;
    case 5: next.name = op.name; break;
    case 6: if (!target() || target().adminSince !== 0n) fail("GROUP_INVALID_OPERATION"); target().adminSince = next.epoch; break;
    case 7:
      if (!target() || target().adminSince === 0n) fail("GROUP_INVALID_OPERATION");
      target().adminSince = 0n;
      if (![...next.members.values()].some((m) => m.adminSince !== 0n)) fail("GROUP_INVALID_OPERATION");
      break;
    case 8: next.keyEpoch = next.epoch; break;
    default: fail("GROUP_INVALID_OPERATION");
  }
  // The last admin left: the remaining member with the smallest user id takes over.
  const members = [...next.members.values()].sort((a, b) => cmp(a.user, b.user));
  if (members.length && !members.some((m) => m.adminSince !== 0n)) members[0].adminSince = next.epoch;
  return next;
}

/**
 * 27.4 "Concurrent operations": the winner among operations for the epoch of `s`, each of
 * which applies to `s`. A function of the set, not of the order of arrival.
 */
async function raceWinner(s, ops) {
  // 1. One operation per actor: the lowest SHA-256 of its bytes.
  const best = new Map();
  for (const op of ops) {
    const h = await sha256(op.bytes);
    const held = best.get(hex(op.actor));
    if (!held || cmp(h, held.h) < 0) best.set(hex(op.actor), { op, h });
  }
  // 2. Admins by admin_since (seniority), then the other members by user id.
  const since = (op) => s.members.get(hex(op.actor)).adminSince;
  const order = [...best.values()].map((b) => b.op).sort((a, b) => {
    const [x, y] = [since(a), since(b)];
    if ((x === 0n) !== (y === 0n)) return x === 0n ? 1 : -1;
    return x !== y ? (x < y ? -1 : 1) : cmp(a.actor, b.actor);
  });
  // 3. Walk: an operation whose actor is not overruled overrules those it removes or demotes.
  const overruled = new Set();
  for (const op of order) {
    if (overruled.has(hex(op.actor))) continue;
    const targets = op.kind === 3 ? op.users : op.kind === 7 ? [op.user] : [];
    for (const t of targets) if (!eq(t, op.actor)) overruled.add(hex(t));
  }
  // 4. The first whose actor is not overruled at the end.
  return order.find((op) => !overruled.has(hex(op.actor)));
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
  const state = await parseState(unhex(sk.state));
  const chain = await takeChain(state, me, party(sk.from), await parseDistribution(unhex(sk.distribution)));
  return { state, chain };
}

await check("groups.json: every state_after parses (27.2)", async () => {
  for (const o of v.ops) await parseState(unhex(o.state_after));
  const last = await parseState(unhex(v.ops[v.ops.length - 1].state_after));
  assert(last.epoch === BigInt(v.ops.length) && last.keyEpoch === last.epoch, "epochs after leave");
});

await check("groups.json: the operations, applied in order, make each state_after (27.3, 27.4)", async () => {
  let s = await createState(await parseOp(unhex(v.ops[0].op)));
  assert(eq(encodeState(s), unhex(v.ops[0].state_after)), "create");
  for (const o of v.ops.slice(1)) {
    s = await applyOp(s, await parseOp(unhex(o.op)));
    assert(eq(encodeState(s), unhex(o.state_after)), o.name);
    assert(eq(encodeState(await parseState(unhex(o.state_after))), unhex(o.state_after)), `${o.name} re-encodes`);
  }
});

for (const f of v.fail_ops) {
  await check(`groups.json: ${f.name} is ${f.error} (27.4)`, async () => {
    const s = await parseState(unhex(f.state));
    await rejects((async () => applyOp(s, await parseOp(unhex(f.op))))(), f.error, f.name);
  });
}

for (const f of v.fail_states) {
  await check(`groups.json: ${f.name} is ${f.error} (27.2)`, async () => {
    await rejects((async () => parseState(unhex(f.state)))(), f.error, f.name);
  });
}

await check("groups.json: a device that has not updated: a format-2 state, a format-1 operation, then a format-2 one on its head (27.2, 27.4)", async () => {
  const l = v.legacy;
  const s = await parseState(unhex(l.state));
  assert(s.head === null && eq(await headOf(s), unhex(l.legacy_head)), "legacy head");
  const after = await applyOp(s, await parseOp(unhex(l.op)));
  assert(eq(encodeState(after), unhex(l.state_after)), "state_after");
  const then = await applyOp(after, await parseOp(unhex(l.then)));
  assert(eq(encodeState(then), unhex(l.then_state_after)), "then_state_after");
  await rejects((async () => applyOp(then, await parseOp(unhex(l.op))))(), "GROUP_OLD_EPOCH", "the old operation again");
});

for (const race of v.races) {
  await check(`groups.json: ${race.name} has the same winner in every order (27.4)`, async () => {
    const s = await parseState(unhex(race.state));
    const ops = [];
    for (const o of race.ops) ops.push(await parseOp(unhex(o)));
    for (const op of ops) await applyOp(s, op); // every entrant applies to the raced state
    const want = ops[race.winner];
    for (let k = 0; k < ops.length; k++) {
      const order = [...ops.slice(k), ...ops.slice(0, k)];
      for (const o of [order, [...order].reverse()]) {
        assert((await raceWinner(s, o)) === want, `${race.name}: order ${k}`);
      }
    }
    assert(eq(encodeState(await applyOp(s, want)), unhex(race.state_after)), `${race.name}: state_after`);
  });
}

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
    const state = await parseState(unhex(f.state));
    await rejects(
      (async () => takeChain(state, me, party(f.from), await parseDistribution(unhex(f.distribution))))(),
      f.error,
      f.name,
    );
  });
}

// ---------------------------------------------------------------- 17.7 DeviceLeft

const dl = vectors("v2/device_left.json");

/** An engine payload of type 9 (17.7): the type byte and nothing else. */
function parseDeviceLeft(bytes) {
  const r = new Reader(bytes);
  if (r.u8() !== 9) fail("MALFORMED");
  r.finish();
  return {};
}

await check("device_left.json: the payload is type 9 with no fields (17.7)", async () => {
  parseDeviceLeft(unhex(dl.payload));
  assert(dl.payload === "09", "one byte");
});

for (const f of dl.fail_payloads) {
  await check(`device_left.json: ${f.name} is ${f.error} (17.7)`, async () => {
    await rejects((async () => parseDeviceLeft(unhex(f.payload)))(), f.error, f.name);
  });
}

await check("device_left.json: a member's notices ask for its list at most once per interval, none is lost (17.7, 18.1)", async () => {
  // The receiver's memory of the member: its last lookup or listing (the directory
  // answers at once here), and whether a notice waits for the interval to pass.
  let last = -dl.listed_before;
  let waiting = false;
  const may = (at) => at - last >= dl.interval;
  for (const e of dl.timeline) {
    let asks = false;
    if (e.event === "notice") {
      if (may(e.at)) asks = true;
      else waiting = true;
    } else if (e.event === "tick") {
      asks = waiting && may(e.at);
    }
    // A notice from an account in none of the receiver's groups asks for nothing.
    if (asks) {
      last = e.at;
      waiting = false;
    }
    assert(asks === e.asks, `${e.event} at ${e.at}: asks ${asks}, the vector says ${e.asks}`);
  }
});

summary();
