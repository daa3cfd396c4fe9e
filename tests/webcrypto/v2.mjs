// Opens and verifies every protocol v2 vector in tests/vectors/v2/ with WebCrypto alone
// (Node 20, globalThis.crypto.subtle, no npm packages, no code from the repository but the
// verifiers' own common.mjs),
// written from docs/PROTOCOL.md. Section numbers below are that document's.
// Ends with "N passed, N failed" and exits non-zero on any failure.
//
//   node tests/webcrypto/v2.mjs

import {
  enc, dec, utf8, hex, unhex, cat, eq, u8,
  u64, var16, cmp, ProtocolError, fail, Reader, sha256, openBox,
  check, assert, rejects, flip, spread,
  subtle,
  summary,
  vectors,
  hmac, isBucket, checkWindow, recvKey, MAX_MESSAGE_AGE, CLOCK_SKEW,
} from "./common.mjs";

// ---------------------------------------------------------------- primitives (section 3)

async function hkdf(ikm, salt, info, len) {
  const key = await subtle.importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  return new Uint8Array(await subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, 8 * len));
}

/** Section 7: a canonical rsaEncryption SPKI of 2048/3072/4096 bits with e = 65537. */
async function publicKey(spki, code = "INVALID_KEY") {
  if (spki.length > 1024) fail(code);
  let key;
  try {
    key = await subtle.importKey("spki", spki, { name: "RSA-PSS", hash: "SHA-256" }, true, ["verify"]);
  } catch {
    fail(code);
  }
  const { publicExponent, modulusLength } = key.algorithm;
  const k = modulusLength / 8;
  if (!eq(publicExponent, Uint8Array.of(1, 0, 1)) || ![256, 384, 512].includes(k)) fail(code);
  if (!eq(new Uint8Array(await subtle.exportKey("spki", key)), spki)) fail(code);
  return { spki, key, k };
}

/** RSASSA-PSS-SHA256, salt 32; the signature must be exactly `k` bytes. */
async function verifyPss(pub, message, signature) {
  if (signature.length !== pub.k) return false;
  return subtle.verify({ name: "RSA-PSS", saltLength: 32 }, pub.key, signature, message);
}

/** The canonical SPKI of a PKCS#8 private key (via JWK, WebCrypto exports no SPKI of a private key). */
async function spkiOfPkcs8(pkcs8) {
  const priv = await subtle.importKey("pkcs8", pkcs8, { name: "RSA-PSS", hash: "SHA-256" }, true, ["sign"]);
  const { kty, n, e } = await subtle.exportKey("jwk", priv);
  const pub = await subtle.importKey("jwk", { kty, n, e }, { name: "RSA-PSS", hash: "SHA-256" }, true, ["verify"]);
  return new Uint8Array(await subtle.exportKey("spki", pub));
}

async function oaepPrivate(pkcs8) {
  const key = await subtle.importKey("pkcs8", pkcs8, { name: "RSA-OAEP", hash: "SHA-256" }, false, ["decrypt"]);
  return { key, k: key.algorithm.modulusLength / 8 };
}

// ---------------------------------------------------------------- section 6

const userId = async (username) => sha256(cat(utf8("sealpost/user/v1"), utf8(username)));

function parseUsername(raw) {
  let text;
  try {
    text = dec.decode(raw);
  } catch {
    fail("MALFORMED");
  }
  if (raw.length < 3 || raw.length > 32 || !/^[a-z0-9._-]+$/.test(text)) fail("MALFORMED");
  return text;
}

// ---------------------------------------------------------------- sections 9, 10

/** Section 9.1: parse and verify a device list. */
async function parseDeviceList(bytes) {
  if (bytes.length > 4096) fail("TOO_LARGE");
  const r = new Reader(bytes);
  if (!eq(r.bytes(2), Uint8Array.of(0x4c, 0x02))) fail("MALFORMED");
  const user = r.bytes(32);
  const version = r.u64();
  const identity = await publicKey(r.var16(1024), "MALFORMED");
  const count = r.u8();
  if (count < 1 || count > 8) fail("MALFORMED");
  const devices = [];
  for (let i = 0; i < count; i++) {
    const id = r.bytes(16);
    const addedAt = r.u64();
    const nameBytes = r.var8(64);
    let name;
    try {
      name = dec.decode(nameBytes);
    } catch {
      fail("MALFORMED");
    }
    if (devices.length && cmp(devices[devices.length - 1].id, id) >= 0) fail("MALFORMED");
    devices.push({ id, addedAt, name });
  }
  const signed = bytes.subarray(0, r.at);
  const signature = r.var16(512);
  r.finish();
  if (!(await verifyPss(identity, cat(utf8("sealpost/v2/device-list\0"), signed), signature))) fail("BAD_SIGNATURE");
  return { user, version, identity, devices, contains: (d) => devices.some((x) => eq(x.id, d)) };
}

/** Section 10.1: the signing input of a device's encryption key. */
const keySigningInput = (user, device, spki, notBefore, notAfter) =>
  cat(utf8("sealpost/v2/encryption-key\0"), user, device, u64(notBefore), u64(notAfter), var16(spki));

/** Section 10.2: parse and verify a device bundle. */
async function parseBundle(bytes) {
  if (bytes.length > 8192) fail("TOO_LARGE");
  const r = new Reader(bytes);
  if (!eq(r.bytes(2), Uint8Array.of(0x42, 0x02))) fail("MALFORMED");
  const user = r.bytes(32);
  const device = r.bytes(16);
  const issuedAt = r.u64();
  const identity = await publicKey(r.var16(1024), "MALFORMED");
  const count = r.u8();
  if (count < 1 || count > 4) fail("MALFORMED");
  const keys = [];
  for (let i = 0; i < count; i++) {
    const spki = r.var16(1024);
    await publicKey(spki, "MALFORMED");
    const notBefore = r.u64();
    const notAfter = r.u64();
    const sig = r.var16(512);
    if (notBefore >= notAfter) fail("MALFORMED");
    if (!(await verifyPss(identity, keySigningInput(user, device, spki, notBefore, notAfter), sig))) {
      fail("BAD_SIGNATURE");
    }
    keys.push({ spki, notBefore, notAfter });
  }
  const signed = bytes.subarray(0, r.at);
  const signature = r.var16(512);
  r.finish();
  if (!(await verifyPss(identity, cat(utf8("sealpost/v2/bundle\0"), signed), signature))) fail("BAD_SIGNATURE");
  return { user, device, issuedAt, identity, keys };
}

/** Section 9.2 `check_bundle`. */
function checkBundle(list, bundle) {
  if (!eq(bundle.user, list.user) || !eq(bundle.identity.spki, list.identity.spki) || !list.contains(bundle.device)) {
    fail("BAD_SIGNATURE");
  }
}

/** Section 10.3 `current_encryption_key(now)`. */
function currentKey(bundle, now) {
  let best = null;
  for (const k of bundle.keys) {
    if (k.notBefore <= BigInt(now) + 3600n && BigInt(now) < k.notAfter && (!best || k.notBefore >= best.notBefore)) {
      best = k;
    }
  }
  if (!best) fail("EXPIRED");
  return best.spki;
}

// ---------------------------------------------------------------- sections 12, 13, 15, 16

/** Section 12.3: decode an opened header. */
function decodeHeader(plain, afterLen) {
  const r = new Reader(plain, "DECRYPT_FAILED");
  const h = {
    kind: r.u8(),
    flags: r.u8(),
    sender: r.bytes(32),
    senderDevice: r.bytes(16),
    session: r.bytes(16),
    counter: r.u64(),
    sentAt: r.u64(),
    initLen: r.u16(),
    bodyLen: r.u32(),
  };
  r.finish();
  const kindOk = (h.kind === 2 && h.initLen > 0) || (h.kind === 3 && h.initLen === 0);
  if (!kindOk || h.flags !== 0 || h.initLen + h.bodyLen > afterLen) fail("DECRYPT_FAILED");
  return h;
}

/** Section 13.1. */
async function sessionKeys(seed, responderUser, responderDevice) {
  const okm = await hkdf(seed, new Uint8Array(0), cat(utf8("sealpost/v2/session\0"), responderUser, responderDevice), 160);
  return {
    ck_i2r: okm.slice(0, 32),
    ck_r2i: okm.slice(32, 64),
    hk_i2r: okm.slice(64, 96),
    hk_r2i: okm.slice(96, 128),
    init_key: okm.slice(128, 160),
  };
}


/** Section 16.5: decode a session store. */
async function decodeStore(bytes) {
  const r = new Reader(bytes);
  if (!eq(r.bytes(2), Uint8Array.of(0x53, 0x02))) fail("MALFORMED");
  const n = r.u32();
  if (n > 2112) fail("MALFORMED");
  const sessions = [];
  const chain = () => ({ ck: r.bytes(32).slice(), hk: r.bytes(32).slice(), next: r.u64() });
  for (let i = 0; i < n; i++) {
    const s = {
      id: r.bytes(16).slice(),
      peer: r.bytes(32).slice(),
      peerDevice: r.bytes(16).slice(),
      peerIdentity: (await publicKey(r.var16(1024).slice(), "MALFORMED")).spki,
      peerEpoch: r.u64(),
      initAt: r.u64(),
      createdAt: r.u64(),
      lastUsed: r.u64(),
    };
    const flags = r.u8();
    if (flags & ~7) fail("MALFORMED");
    s.initiator = (flags & 1) !== 0;
    s.confirmed = (flags & 2) !== 0;
    s.trusted = (flags & 4) !== 0;
    s.initBlock = r.var16(4096).slice();
    if ((!s.initiator && !s.confirmed) || (s.initBlock.length === 0) !== s.confirmed) fail("MALFORMED");
    s.send = chain();
    s.recv = chain();
    const k = r.u16();
    if (k > 256) fail("MALFORMED");
    s.skipped = [];
    for (let j = 0; j < k; j++) {
      const counter = r.u64();
      if (counter >= s.recv.next || s.skipped.some((x) => x.counter === counter)) fail("MALFORMED");
      s.skipped.push({ counter, mk: r.bytes(32).slice() });
    }
    const samePair = sessions.filter((o) => eq(o.peer, s.peer) && eq(o.peerDevice, s.peerDevice)).length;
    if (samePair >= 2 || sessions.some((o) => eq(o.id, s.id))) fail("MALFORMED");
    sessions.push(s);
  }
  const untrusted = sessions.filter((s) => !s.trusted).length;
  if (untrusted > 64 || n - untrusted > 2048) fail("MALFORMED");
  const t = r.u32();
  if (t > 8192 + 2112) fail("MALFORMED");
  const replay = [];
  for (let i = 0; i < t; i++) replay.push({ id: r.bytes(16).slice(), peer: r.bytes(32).slice(), expiresAt: r.u64() });
  const u = r.u16();
  if (u > 256) fail("MALFORMED");
  for (let i = 0; i < u; i++) replay.push({ id: r.bytes(16).slice(), expiresAt: r.u64() });
  r.finish();
  return { sessions, replay };
}

const emptyStore = () => ({ sessions: [], replay: [] });
const knows = (store, id) => store.sessions.some((s) => eq(s.id, id)) || store.replay.some((e) => eq(e.id, id));

/** Section 15.1: open an envelope on device `me` ({user, device, keys: [{key, k}] newest first}). */
async function open(store, me, envelope, now) {
  // 1. Frame.
  if (!isBucket(envelope.length) || envelope[0] !== 2) fail("MALFORMED");
  if (!eq(envelope.subarray(1, 33), me.user) || !eq(envelope.subarray(33, 49), me.device)) fail("DECRYPT_FAILED");
  const prefix = envelope.subarray(0, 49);
  const headerBox = envelope.subarray(49, 165);
  const after = envelope.subarray(165);
  const aad = cat(prefix, await sha256(after));
  // 2. Sessions, in store order.
  for (const s of store.sessions) {
    let h;
    try {
      h = decodeHeader(await openBox(s.recv.hk, aad, headerBox), after.length);
    } catch {
      continue;
    }
    if (!eq(h.session, s.id) || !eq(h.sender, s.peer) || !eq(h.senderDevice, s.peerDevice) || (h.kind === 2 && s.initiator)) {
      fail("DECRYPT_FAILED");
    }
    checkWindow(h.sentAt, now);
    const { mk, commit } = await recvKey(s, h.counter);
    const payload = await openBox(mk, utf8("sealpost/v2/body"), after.subarray(h.initLen, h.initLen + h.bodyLen));
    const skipped = commit();
    if (BigInt(now) > s.lastUsed) s.lastUsed = BigInt(now);
    if (s.initiator) {
      s.confirmed = true;
      s.initBlock = new Uint8Array(0);
    }
    return { type: "message", sender: s.peer, senderDevice: s.peerDevice, identity: s.peerIdentity, session: s.id, counter: h.counter, sentAt: h.sentAt, kind: h.kind, payload, skipped };
  }
  // 3. Init, with every retained private key, newest first.
  let init = null;
  for (const { key, k } of me.keys) {
    try {
      init = await openInit(me, key, k, aad, headerBox, after);
      break;
    } catch {
      // next key
    }
  }
  if (!init) fail("DECRYPT_FAILED");
  const { h, keys, spki, initAt } = init;
  // 4. Checks on a verified init.
  if (eq(h.sender, me.user) && eq(h.senderDevice, me.device)) fail("DECRYPT_FAILED");
  checkWindow(initAt, now);
  checkWindow(h.sentAt, now);
  if (knows(store, h.session)) fail("REPLAY");
  // 5. Pending init: an in-memory responder session, nothing stored.
  const session = {
    id: h.session.slice(),
    peer: h.sender.slice(),
    peerDevice: h.senderDevice.slice(),
    peerIdentity: spki,
    peerEpoch: initAt,
    initAt,
    createdAt: BigInt(now),
    lastUsed: BigInt(now),
    initiator: false,
    confirmed: true,
    trusted: false,
    initBlock: new Uint8Array(0),
    send: { ck: keys.ck_r2i, hk: keys.hk_r2i, next: 0n },
    recv: { ck: keys.ck_i2r, hk: keys.hk_i2r, next: 0n },
    skipped: [],
  };
  const { mk, commit } = await recvKey(session, h.counter);
  const payload = await openBox(mk, utf8("sealpost/v2/body"), after.subarray(h.initLen, h.initLen + h.bodyLen));
  const skipped = commit();
  return { type: "pending", session, sender: session.peer, senderDevice: session.peerDevice, identity: spki, initAt, counter: h.counter, sentAt: h.sentAt, kind: h.kind, payload, skipped };
}

/** Section 15.1 step 3 with one private key. */
async function openInit(me, key, k, aad, headerBox, after) {
  const keyBlock = after.subarray(0, k);
  if (keyBlock.length < k) fail("DECRYPT_FAILED");
  const label = cat(utf8("sealpost/v2/key\0"), me.user, me.device);
  let seed;
  try {
    seed = new Uint8Array(await subtle.decrypt({ name: "RSA-OAEP", label }, key, keyBlock));
  } catch {
    fail("DECRYPT_FAILED");
  }
  if (seed.length !== 32) fail("DECRYPT_FAILED");
  const keys = await sessionKeys(seed, me.user, me.device);
  const h = decodeHeader(await openBox(keys.hk_i2r, aad, headerBox), after.length);
  if (h.kind !== 2 || h.initLen < k + 28) fail("DECRYPT_FAILED");
  const plain = await openBox(keys.init_key, utf8("sealpost/v2/init"), after.subarray(k, h.initLen));
  const r = new Reader(plain, "DECRYPT_FAILED");
  const initAt = r.u64();
  const identity = await publicKey(r.var16(1024).slice(), "DECRYPT_FAILED");
  const signature = r.var16(512);
  r.finish();
  const input = cat(
    utf8("sealpost/v2/init\0"),
    h.sender,
    h.senderDevice,
    me.user,
    me.device,
    h.session,
    u64(initAt),
    await sha256(seed),
    await sha256(keyBlock),
  );
  if (!(await verifyPss(identity, input, signature))) fail("DECRYPT_FAILED");
  return { h, keys, spki: identity.spki, initAt };
}

/** Section 15.4 (the parts a receiver needs here: window, replay, insert). */
function accept(store, pending, trusted, now) {
  checkWindow(pending.initAt, now);
  checkWindow(pending.sentAt, now);
  if (knows(store, pending.session.id)) fail("REPLAY");
  pending.session.trusted = trusted;
  store.sessions.push(pending.session);
  return { ...pending, type: "message", session: pending.session.id };
}

// ---------------------------------------------------------------- fixtures

const keysJson = vectors("keys.json");
const users = {};
for (const u of keysJson.users) {
  users[u.username] = {
    userId: unhex(u.user_id),
    identityPkcs8: unhex(u.identity_pkcs8),
    encryptionPkcs8: unhex(u.encryption_pkcs8),
    identitySpki: await spkiOfPkcs8(unhex(u.identity_pkcs8)),
  };
}

await check("keys.json: user ids are SHA-256(\"sealpost/user/v1\" || username)", async () => {
  for (const [name, u] of Object.entries(users)) assert(eq(await userId(name), u.userId), name);
});

// ---------------------------------------------------------------- devices.json

const devicesJson = vectors("v2/devices.json");
const t0 = devicesJson.t0;
const lists = {};
const bundles = {};

await check("devices.json: device lists parse and verify (9.1)", async () => {
  for (const l of devicesJson.lists) {
    const list = await parseDeviceList(unhex(l.list));
    assert(eq(list.user, users[l.user].userId), `${l.user}: user id`);
    assert(eq(list.identity.spki, users[l.user].identitySpki), `${l.user}: identity is the keys.json identity`);
    lists[l.user] = list;
  }
  assert(lists.alice.devices.length === 2 && lists.bob.devices.length === 1, "device counts");
  assert(lists.alice.devices.map((d) => d.name).join(",") === "alice/A,alice/B", "alice's device names");
});

await check("devices.json: device bundles parse and verify, and their lists authorise them (10.2, 9.2)", async () => {
  for (const b of devicesJson.bundles) {
    const bundle = await parseBundle(unhex(b.bundle));
    assert(hex(bundle.user) === b.user_id && hex(bundle.device) === b.device_id, `${b.device}: ids`);
    assert(Number(bundle.issuedAt) === b.issued_at, `${b.device}: issued_at`);
    assert(hex(currentKey(bundle, t0 + 10)) === b.encryption_spki, `${b.device}: current key`);
    const owner = b.device.split("/")[0];
    checkBundle(lists[owner], bundle);
    bundles[b.device] = bundle;
  }
  // The encryption keys are the documented fixture keys.
  assert(eq(currentKey(bundles["alice/A"], t0), await spkiOfPkcs8(users.alice.encryptionPkcs8)), "alice/A key");
  assert(eq(currentKey(bundles["alice/B"], t0), users.carol.identitySpki), "alice/B key is carol's identity key");
  assert(eq(currentKey(bundles.bob, t0), await spkiOfPkcs8(users.bob.encryptionPkcs8)), "bob key");
});

await check("devices.json negative: flipped bits in lists and bundles fail", async () => {
  for (const l of devicesJson.lists) {
    const bytes = unhex(l.list);
    for (const i of spread(bytes.length)) await rejects(parseDeviceList(flip(bytes, i)), null, `list ${l.user} bit ${i}`);
  }
  for (const b of devicesJson.bundles) {
    const bytes = unhex(b.bundle);
    for (const i of spread(bytes.length)) await rejects(parseBundle(flip(bytes, i)), null, `bundle ${b.device} bit ${i}`);
  }
});

await check("devices.json negative: trailing bytes, truncation, a bundle against another user's list", async () => {
  const list = unhex(devicesJson.lists[0].list);
  await rejects(parseDeviceList(cat(list, u8(0))), "MALFORMED", "list + 1 byte");
  await rejects(parseDeviceList(list.subarray(0, list.length - 1)), "MALFORMED", "list - 1 byte");
  const bundle = unhex(devicesJson.bundles[0].bundle);
  await rejects(parseBundle(cat(bundle, u8(0))), "MALFORMED", "bundle + 1 byte");
  await rejects((async () => checkBundle(lists.bob, bundles["alice/A"]))(), "BAD_SIGNATURE", "alice/A under bob's list");
  await rejects((async () => currentKey(bundles.bob, t0 + 31 * 24 * 3600))(), "EXPIRED", "no key after 30 days");
});

// ---------------------------------------------------------------- envelopes.json

const envJson = vectors("v2/envelopes.json");
const now = envJson.now;
const deviceOf = (name) => {
  const b = bundles[name];
  return { name, user: b.user, device: b.device, identity: b.identity.spki };
};
const me = {
  "alice/A": { ...deviceOf("alice/A"), keys: [await oaepPrivate(users.alice.encryptionPkcs8)] },
  bob: { ...deviceOf("bob"), keys: [await oaepPrivate(users.bob.encryptionPkcs8)] },
};

/** Section 18.1: a pending init is accepted only with the pinned key and a listed device. */
function pendingAllowed(pending, pins) {
  for (const [name, list] of Object.entries(lists)) {
    if (eq(list.user, pending.sender)) {
      const pin = pins[name];
      return pin !== undefined && eq(pin, pending.identity) && list.contains(pending.senderDevice);
    }
  }
  return false;
}
const pins = { alice: lists.alice?.identity.spki, bob: lists.bob?.identity.spki };

const stores = { "alice/A": emptyStore(), bob: emptyStore() };
const opened = [];
for (const [i, m] of envJson.messages.entries()) {
  await check(`envelopes.json #${i + 1}: ${m.from} -> ${m.to}, kind ${m.kind}, counter ${m.counter}`, async () => {
    const dev = me[m.to];
    if (m.recipient_state) stores[m.to] = await decodeStore(unhex(m.recipient_state));
    const env = unhex(m.envelope);
    let out = await open(stores[m.to], dev, env, now);
    if (out.type === "pending") {
      assert(m.kind === 2, "only kind 2 carries an init");
      assert(pendingAllowed(out, pins), "pending init passes the pin and device-list check");
      out = accept(stores[m.to], out, true, now);
    }
    const from = deviceOf(m.from);
    assert(eq(out.sender, from.user) && eq(out.senderDevice, from.device), "sender");
    assert(eq(out.identity, lists[m.from.split("/")[0]].identity.spki), "sender identity");
    assert(out.kind === m.kind, `kind ${out.kind}`);
    assert(hex(out.session) === m.session, "session");
    assert(out.counter === BigInt(m.counter), `counter ${out.counter}`);
    assert(dec.decode(out.payload) === m.payload, "payload");
    assert(Number(out.sentAt) <= now + CLOCK_SKEW, "sent_at");
    opened.push({ to: m.to, env });
  });
}

await check("envelopes.json: after message 1, counter 0 was a skipped key; after message 3 alice/A is confirmed", async () => {
  const bobSession = stores.bob.sessions[0];
  assert(stores.bob.sessions.length === 1 && bobSession.skipped.length === 0 && bobSession.recv.next === 3n, "bob's session");
  const aliceSession = stores["alice/A"].sessions[0];
  assert(aliceSession.initiator && aliceSession.confirmed && aliceSession.initBlock.length === 0, "alice/A's session");
});

await check("envelopes.json: opening every envelope again is REPLAY", async () => {
  for (const { to, env } of opened) await rejects(open(stores[to], me[to], env, now), "REPLAY", `again for ${to}`);
});

const first = envJson.messages[0];
const firstEnv = unhex(first.envelope);

await check("envelopes.json: the init is REPLAY for a store that remembers its session", async () => {
  const store = { sessions: [], replay: [{ id: unhex(first.session), expiresAt: BigInt(now + MAX_MESSAGE_AGE) }] };
  await rejects(open(store, me.bob, firstEnv, now), "REPLAY", "remembered session id");
});

await check("envelopes.json negative: the pending-init check refuses another pin and an unlisted device", async () => {
  const pending = await open(emptyStore(), me.bob, firstEnv, now);
  assert(pending.type === "pending", "pending");
  assert(!pendingAllowed(pending, { alice: users.carol.identitySpki }), "carol's key as alice's pin");
  assert(!pendingAllowed(pending, {}), "no pin");
  const shrunk = { ...lists.alice, contains: () => false };
  const saved = lists.alice;
  lists.alice = shrunk;
  try {
    assert(!pendingAllowed(pending, pins), "device not in the list");
  } finally {
    lists.alice = saved;
  }
});

await check("envelopes.json negative: flipped bits, wrong length, wrong device, other key", async () => {
  for (const i of spread(firstEnv.length)) {
    const expected = i === 0 ? "MALFORMED" : "DECRYPT_FAILED";
    await rejects(open(emptyStore(), me.bob, flip(firstEnv, i), now), expected, `bit at ${i}`);
  }
  await rejects(open(emptyStore(), me.bob, firstEnv.subarray(0, firstEnv.length - 1), now), "MALFORMED", "not a bucket");
  const otherDevice = { ...me.bob, device: new Uint8Array(16) };
  await rejects(open(emptyStore(), otherDevice, firstEnv, now), "DECRYPT_FAILED", "another device of bob");
  const otherKey = { ...me.bob, keys: [await oaepPrivate(users.carol.encryptionPkcs8)] };
  await rejects(open(emptyStore(), otherKey, firstEnv, now), "DECRYPT_FAILED", "another private key");
  // A kind 3 envelope without its session does not open (no init block to fall back on).
  const kind3 = unhex(envJson.messages[3].envelope);
  await rejects(open(emptyStore(), me.bob, kind3, now), "DECRYPT_FAILED", "kind 3 without a session");
});

await check("envelopes.json negative: the time window (15.3)", async () => {
  await rejects(open(emptyStore(), me.bob, firstEnv, now + MAX_MESSAGE_AGE + 11), "EXPIRED", "15 days later");
  await rejects(open(emptyStore(), me.bob, firstEnv, t0 - CLOCK_SKEW - 11), "EXPIRED", "sent in the future");
  const ok = await open(emptyStore(), me.bob, firstEnv, now + MAX_MESSAGE_AGE - 11);
  assert(ok.type === "pending", "still inside the window");
});

await check("envelopes.json negative: a corrupted session store is MALFORMED (16.5)", async () => {
  const state = unhex(envJson.messages.find((m) => m.recipient_state).recipient_state);
  await rejects(decodeStore(cat(state, u8(0))), "MALFORMED", "trailing byte");
  await rejects(decodeStore(flip(state, 0)), "MALFORMED", "tag");
});

// ---------------------------------------------------------------- link.json

const linkJson = vectors("v2/link.json");
const linkCode = linkJson.code;

await check("link.json: channel, deletion proof and link key from the code (19.2)", async () => {
  assert(/^[A-Z2-7]{20}$/.test(linkCode), "20 base32 characters");
  const channel = (await sha256(cat(utf8("sealpost/v2/link-channel\0"), utf8(linkCode)))).subarray(0, 16);
  assert(hex(channel) === linkJson.channel, "channel");
  const proof = await sha256(cat(utf8("sealpost/v2/link-delete\0"), utf8(linkCode)));
  assert(hex(proof) === linkJson.delete_proof, "deletion proof");
});

const linkKey = await hkdf(utf8(linkCode), new Uint8Array(0), utf8("sealpost/v2/link-key"), 32);
const hello = unhex(linkJson.hello);

async function openHello(key, sealed) {
  if (sealed.length > 1135) fail("TOO_LARGE");
  const plain = await openBox(key, utf8("sealpost/v2/link-hello"), sealed);
  const r = new Reader(plain, "DECRYPT_FAILED");
  const deviceId = r.bytes(16);
  let name;
  try {
    name = dec.decode(r.var8(64));
  } catch {
    fail("DECRYPT_FAILED");
  }
  const spki = (await publicKey(r.var16(1024).slice(), "DECRYPT_FAILED")).spki;
  r.finish();
  return { deviceId, name, spki };
}

async function openGrant(key, sealedHello, sealed) {
  if (sealed.length > 1048576) fail("TOO_LARGE");
  const aad = cat(utf8("sealpost/v2/link-grant"), await sha256(sealedHello));
  const plain = await openBox(key, aad, sealed);
  const r = new Reader(plain, "DECRYPT_FAILED");
  const username = parseUsername(r.var8(255));
  const pkcs8 = r.var16(4096).slice();
  const accountState = r.var32(262144).slice();
  const history = r.var32(1048576).slice();
  r.finish();
  return { username, pkcs8, accountState, history };
}

await check("link.json: open the hello", async () => {
  const h = await openHello(linkKey, hello);
  assert(hex(h.deviceId) === linkJson.hello_device_id, "device id");
  assert(h.name === linkJson.hello_name, "name");
  assert(eq(h.spki, users.bob.identitySpki), "the new device's key (bob's identity key read as an encryption key)");
});

await check("link.json: open the grant bound to the hello", async () => {
  const g = await openGrant(linkKey, hello, unhex(linkJson.grant));
  assert(g.username === linkJson.grant_username, "username");
  assert(eq(await userId(g.username), users.alice.userId), "user id");
  assert(eq(await spkiOfPkcs8(g.pkcs8), users.alice.identitySpki), "alice's identity key");
  assert(hex(g.accountState) === linkJson.grant_account_state, "account state");
  assert(g.history.length === 0, "no history");
});

await check("link.json negative: another code, another hello, flipped bits", async () => {
  const otherCode = (linkCode[0] === "A" ? "B" : "A") + linkCode.slice(1);
  const otherKey = await hkdf(utf8(otherCode), new Uint8Array(0), utf8("sealpost/v2/link-key"), 32);
  await rejects(openHello(otherKey, hello), "DECRYPT_FAILED", "hello with another code");
  const grant = unhex(linkJson.grant);
  await rejects(openGrant(linkKey, flip(hello, 20), grant), "DECRYPT_FAILED", "grant for another hello");
  await rejects(openGrant(otherKey, hello, grant), "DECRYPT_FAILED", "grant with another code");
  for (const i of spread(hello.length)) await rejects(openHello(linkKey, flip(hello, i)), "DECRYPT_FAILED", `hello bit ${i}`);
  for (const i of spread(grant.length)) await rejects(openGrant(linkKey, hello, flip(grant, i)), "DECRYPT_FAILED", `grant bit ${i}`);
});

// ---------------------------------------------------------------- backups.json

const backupJson = vectors("v2/backups.json");

async function backupKeys(password, user, salt, iterations) {
  const pw = utf8(password.normalize("NFC"));
  if (pw.length < 8 || pw.length > 1024) fail("WEAK_PARAMETERS");
  if (iterations < 600000 || iterations > 10000000) fail("WEAK_PARAMETERS");
  const base = await subtle.importKey("raw", pw, "PBKDF2", false, ["deriveBits"]);
  const master = new Uint8Array(await subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base, 256));
  const okm = await hkdf(master, user, utf8("sealpost/v1/backup"), 64);
  return { kek: okm.slice(0, 32), authToken: okm.slice(32, 64) };
}

function backupHeader(blob) {
  if (blob.length > 266328) fail("TOO_LARGE");
  const r = new Reader(blob);
  if (!eq(r.bytes(2), Uint8Array.of(0x4b, 0x02))) fail("MALFORMED");
  const user = r.bytes(32);
  const salt = r.bytes(16);
  const iterations = r.u32();
  if (iterations < 600000 || iterations > 10000000) fail("WEAK_PARAMETERS");
  return { user, salt, iterations };
}

async function importBackup(blob, kek) {
  backupHeader(blob);
  const content = await openBox(kek, blob.subarray(0, 54), blob.subarray(54), "WRONG_PASSWORD");
  const r = new Reader(content, "WRONG_PASSWORD");
  const pkcs8 = r.var16(4096).slice();
  const accountState = r.var32(262144).slice();
  r.finish();
  return { pkcs8, accountState };
}

const blob = unhex(backupJson.blob);
let backupKek;

await check("backups.json: NFC, PBKDF2 + HKDF, auth token, open the blob (20)", async () => {
  assert(backupJson.password_nfd !== backupJson.password_nfc, "the vector's two spellings differ");
  assert(backupJson.password_nfd.normalize("NFC") === backupJson.password_nfc, "NFC of the NFD spelling");
  const { user, salt, iterations } = backupHeader(blob);
  assert(eq(user, users[backupJson.user].userId) && hex(salt) === backupJson.salt && iterations === backupJson.iterations, "header");
  const keys = await backupKeys(backupJson.password_nfd, user, salt, iterations);
  assert(hex(keys.authToken) === backupJson.auth_token, "auth token");
  backupKek = keys.kek;
  const content = await importBackup(blob, keys.kek);
  assert(eq(await spkiOfPkcs8(content.pkcs8), users.alice.identitySpki), "alice's identity key");
  assert(hex(content.accountState) === backupJson.account_state, "account state");
});

await check("backups.json negative: unnormalized password, flipped bits, tag, weak parameters", async () => {
  // Without NFC the NFD spelling derives other keys.
  const { user, salt, iterations } = backupHeader(blob);
  const base = await subtle.importKey("raw", utf8(backupJson.password_nfd), "PBKDF2", false, ["deriveBits"]);
  const master = new Uint8Array(await subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base, 256));
  const raw = await hkdf(master, user, utf8("sealpost/v1/backup"), 64);
  assert(hex(raw.slice(32)) !== backupJson.auth_token, "raw NFD bytes give another token");
  await rejects(importBackup(blob, raw.slice(0, 32)), "WRONG_PASSWORD", "raw NFD kek");
  for (const i of spread(blob.length).filter((i) => i >= 54)) {
    await rejects(importBackup(flip(blob, i), backupKek), "WRONG_PASSWORD", `bit at ${i}`);
  }
  // The header is authenticated too (user id, salt, iterations are the associated data).
  await rejects(importBackup(flip(blob, 40), backupKek), "WRONG_PASSWORD", "salt bit");
  await rejects(importBackup(flip(blob, 1, 3), backupKek), "MALFORMED", "tag K 1");
  const weak = blob.slice();
  new DataView(weak.buffer).setUint32(50, 599999);
  await rejects(importBackup(weak, backupKek), "WEAK_PARAMETERS", "iterations under the floor");
  await rejects(backupKeys("short", user, salt, iterations), "WEAK_PARAMETERS", "7-byte password");
});

// ---------------------------------------------------------------- section 22

await check("relay challenge input for a v2 device mailbox (22)", async () => {
  const challenge = new Uint8Array(32).fill(7);
  const input = cat(utf8("sealpost/v1/challenge\0"), users.alice.userId, bundles["alice/A"].device, challenge);
  assert(input.length === 102, "102 bytes");
});

summary();
