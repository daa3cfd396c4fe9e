// The crypto-level API of sealpost-wasm (protocol v2 without the network), run in
// Node.js and in headless Chromium. `sp` is the package module (initialised), `vectors`
// the parsed tests/vectors/*.json (v2 ones under `v2_*`), `interop` optional envelopes
// sealed by the native core (see scripts/test.mjs).
import { assert, bytesToHex, eq, hexToBytes, throwsCode } from './harness.js';

const subtle = globalThis.crypto.subtle;

/** The vector files the suite reads (tests/vectors/NAME.json, as `vectors[NAME with _ for /]`). */
export const VECTORS = ['keys', 'user_ids', 'safety', 'v2/devices', 'v2/envelopes', 'v2/backups'];
const utf8 = (s) => new TextEncoder().encode(s);
const text = (b) => new TextDecoder().decode(b);

/** The fixture devices of tests/vectors/v2 (core/tests/support/v2.rs). */
export function fixtures(sp, vectors) {
  const keys = Object.fromEntries(vectors.keys.users.map((u) => [u.username, u]));
  const T0 = vectors.v2_devices.t0;
  const ids = {};
  const identity = (name) => (ids[name] ??= sp.Identity.fromPkcs8(name, hexToBytes(keys[name].identity_pkcs8)));
  const spec = {
    'alice/A': ['alice', 'a1', 'alice'],
    'alice/B': ['alice', 'a2', 'carol-id'],
    bob: ['bob', 'b1', 'bob'],
  };
  const pkcs8 = (enc) => hexToBytes(enc === 'carol-id' ? keys.carol.identity_pkcs8 : keys[enc].encryption_pkcs8);
  const device = (name, now = T0) => {
    const [user, byte, enc] = spec[name];
    const d = sp.DeviceKeys.fromPkcs8(identity(user), byte.repeat(16), pkcs8(enc), now);
    return { name, identity: identity(user), keys: d, bundle: d.bundle(identity(user), now), store: new sp.SessionStore() };
  };
  return { keys, T0, identity, device };
}

export function cryptoSuite({ test }, sp, vectors, interop = {}) {
  const fx = fixtures(sp, vectors);
  const { keys, T0, identity } = fx;

  test('user ids match the shared vectors', () => {
    for (const v of vectors.user_ids.valid) {
      eq(sp.normalizeUsername(v.input), v.normalized, v.input);
      eq(sp.userIdFromUsername(v.input), v.user_id, v.input);
    }
    for (const bad of vectors.user_ids.invalid) {
      throwsCode(() => sp.userIdFromUsername(bad), 'INVALID_USERNAME');
    }
  });

  test('errors are SealpostErrors with a stable code', async () => {
    const e = await throwsCode(() => sp.DeviceBundle.fromBytes(new Uint8Array(10)), 'MALFORMED');
    assert(e instanceof Error, 'instanceof Error');
    await throwsCode(() => sp.Identity.generate('alice', 1024), 'INVALID_ARGUMENT');
    await throwsCode(() => sp.SessionStore.fromSecretBytes(new Uint8Array([1, 2, 3])), 'MALFORMED');
    await throwsCode(() => sp.DeviceList.fromBytes(new Uint8Array(5000)), 'TOO_LARGE');
    await throwsCode(() => sp.envelopeRecipient(new Uint8Array(3)), 'MALFORMED');
    await throwsCode(() => identity('alice').signChallenge('not hex', new Uint8Array(32)), 'MALFORMED');
  });

  test('fixture identities load with the right user ids', () => {
    for (const u of vectors.keys.users) {
      const i = identity(u.username);
      eq(i.userId, u.user_id);
      eq(i.username, u.username);
      eq(i.fingerprint, sp.sha256Hex(i.identityKey));
    }
  });

  test('device lists and bundles from the native core verify; tampering is rejected', async () => {
    const v = vectors.v2_devices;
    const lists = Object.fromEntries(v.lists.map((l) => [l.user, sp.DeviceList.fromBytes(hexToBytes(l.list))]));
    for (const [user, list] of Object.entries(lists)) {
      eq(list.userId, keys[user].user_id);
      eq(bytesToHex(list.identityKey), bytesToHex(identity(user).identityKey));
      eq(bytesToHex(list.toBytes()), v.lists.find((l) => l.user === user).list);
      assert(list.devices().length >= 1, 'devices');
    }
    for (const b of v.bundles) {
      const bytes = hexToBytes(b.bundle);
      const bundle = sp.DeviceBundle.fromBytes(bytes);
      eq(bundle.userId, b.user_id);
      eq(bundle.deviceId, b.device_id);
      eq(bundle.issuedAt, b.issued_at);
      eq(bytesToHex(bundle.currentEncryptionKey(b.issued_at)), b.encryption_spki);
      eq(bytesToHex(bundle.toBytes()), b.bundle);
      assert(bundle.encryptionKeys()[0].publicKey instanceof Uint8Array, 'encryptionKeys');
      const list = lists[b.device.split('/')[0]];
      list.checkBundle(bundle);
      assert(list.contains(b.device_id), 'listed');
      const other = lists[b.device.startsWith('alice') ? 'bob' : 'alice'];
      await throwsCode(() => other.checkBundle(bundle), 'BAD_SIGNATURE');
      const bad = bytes.slice();
      bad[bad.length - 5] ^= 1;
      await throwsCode(() => sp.DeviceBundle.fromBytes(bad), 'BAD_SIGNATURE');
      await throwsCode(() => bundle.currentEncryptionKey(1), 'EXPIRED');
    }
    const bad = hexToBytes(v.lists[0].list);
    bad[bad.length - 3] ^= 1;
    await throwsCode(() => sp.DeviceList.fromBytes(bad), 'BAD_SIGNATURE');
  });

  test('envelopes v2 sealed by the native core open (shared vectors); a second open is REPLAY', async () => {
    const v = vectors.v2_envelopes;
    const devs = { 'alice/A': fx.device('alice/A'), bob: fx.device('bob') };
    for (const [i, m] of v.messages.entries()) {
      const to = devs[m.to];
      if (m.recipient_state) to.store = sp.SessionStore.fromSecretBytes(hexToBytes(m.recipient_state));
      const env = hexToBytes(m.envelope);
      eq(sp.envelopeRecipient(env), { userId: to.keys.userId, deviceId: to.keys.deviceId }, `#${i} prefix`);
      let o = to.store.open(to.keys, env, v.now);
      if (o.kind === 'pending') {
        assert(o instanceof sp.PendingInit, 'a PendingInit handle');
        eq(o.senderFingerprint, devs[m.from].identity.fingerprint, `#${i} signer`);
        eq(o.sessionId, m.session, `#${i} session`);
        o = to.store.accept(o, true, v.now);
      }
      eq(o.kind, 'message');
      eq(text(o.payload), m.payload, `#${i} payload`);
      eq(o.counter, m.counter, `#${i} counter`);
      eq(o.sender, devs[m.from].keys.userId, `#${i} sender`);
      eq(o.senderDevice, devs[m.from].keys.deviceId, `#${i} device`);
      await throwsCode(() => to.store.open(to.keys, env, v.now), 'REPLAY');
    }
  });

  test('safety numbers match the shared vectors, from either side', () => {
    const v = vectors.safety;
    const a = identity(v.a);
    const b = identity(v.b);
    const ab = sp.SafetyNumber.compute(a.userId, a.identityKey, b.userId, b.identityKey);
    const ba = sp.SafetyNumber.compute(b.userId, b.identityKey, a.userId, a.identityKey);
    eq(ab.digits, v.digits);
    eq(ab.display, v.display);
    eq(bytesToHex(ab.qrPayload), v.qr_payload);
    eq(ba.digits, v.digits);
    assert(ab.matchesQr(hexToBytes(v.qr_payload)), 'matchesQr');
    assert(!ab.matchesQr(new Uint8Array(65)), '!matchesQr');
    eq(a.safetyNumber(b.userId, b.identityKey).digits, v.digits);
  });

  test('backup v2 from the native core imports (NFD password); wrong password is WRONG_PASSWORD', async () => {
    const v = vectors.v2_backups;
    const blob = hexToBytes(v.blob);
    const params = sp.readBackupParams(blob.subarray(0, 54));
    eq(params.iterations, v.iterations);
    eq(bytesToHex(params.salt), v.salt);
    eq(params.userId, keys[v.user].user_id);
    const k = sp.BackupKeys.forBlob(v.password_nfd, blob.subarray(0, 54));
    eq(bytesToHex(k.authToken), v.auth_token);
    const restored = sp.importBackup(v.user, blob, k);
    assert(restored.identity instanceof sp.Identity, 'an Identity handle');
    eq(restored.identity.fingerprint, identity(v.user).fingerprint);
    eq(bytesToHex(restored.accountState), v.account_state);
    const wrong = sp.BackupKeys.forBlob('not the password', blob);
    await throwsCode(() => sp.importBackup(v.user, blob, wrong), 'WRONG_PASSWORD');
    await throwsCode(() => sp.importBackup('bob', blob, k), 'WRONG_PASSWORD');
    await throwsCode(() => sp.BackupKeys.forBlob('short', blob), 'WEAK_PARAMETERS');
    const altered = blob.slice();
    altered[altered.length - 1] ^= 1;
    await throwsCode(() => sp.importBackup(v.user, altered, k), 'WRONG_PASSWORD');
  });

  test('sessions: a pending init, both directions, replay, tampering, out of order, forged device', async () => {
    const a = fx.device('alice/A');
    const b = fx.device('bob');
    const now = T0 + 100;
    const s1 = a.store.seal(a.identity, a.keys, b.bundle, 'hello bob', now);
    eq([s1.recipient, s1.recipientDevice], [b.keys.userId, b.keys.deviceId]);
    assert(s1.newSession && s1.withInit, 'first message starts a session and carries its init');
    const n = s1.envelope.length;
    assert(n >= 512 && (n & (n - 1)) === 0, `padded to a bucket: ${n}`);
    const p = b.store.open(b.keys, s1.envelope, now);
    eq(p.kind, 'pending');
    eq(b.store.size, 0);
    eq(p.sender, a.keys.userId);
    const o1 = b.store.accept(p, true, now);
    eq(text(o1.payload), 'hello bob');
    assert(o1.newSession && o1.trusted, 'accepted as trusted');
    eq(o1.sessionId, s1.sessionId);
    await throwsCode(() => b.store.open(b.keys, s1.envelope, now), 'REPLAY');
    const r = b.store.seal(b.identity, b.keys, a.bundle, new Uint8Array([1, 2, 3]), now);
    assert(!r.newSession, 'reply reuses the session');
    const o2 = a.store.open(a.keys, r.envelope, now);
    eq(Array.from(o2.payload), [1, 2, 3]);
    const m2 = a.store.seal(a.identity, a.keys, b.bundle, 'two', now);
    assert(!m2.withInit, 'confirmed: no init block');
    const m3 = a.store.seal(a.identity, a.keys, b.bundle, 'three', now);
    const o3 = b.store.open(b.keys, m3.envelope, now);
    eq(text(o3.payload), 'three');
    eq(o3.skipped, [m2.counter]);
    eq(text(b.store.open(b.keys, m2.envelope, now).payload), 'two');
    const bad = a.store.seal(a.identity, a.keys, b.bundle, 'x', now).envelope;
    bad[bad.length - 1] ^= 1;
    await throwsCode(() => b.store.open(b.keys, bad, now), 'DECRYPT_FAILED');
    // Another device's mailbox, or a prefix rewritten to name it: never opens.
    const b2 = fx.device('alice/B');
    await throwsCode(() => b2.store.open(b2.keys, m3.envelope, now), 'DECRYPT_FAILED');
    const late = a.store.seal(a.identity, a.keys, b.bundle, 'late', now);
    await throwsCode(() => b.store.open(b.keys, late.envelope, now + 30 * 24 * 3600), 'EXPIRED');
    eq(a.store.sessions().map((s) => [s.peer, s.peerDevice, s.confirmed, s.trusted]), [[b.keys.userId, b.keys.deviceId, true, true]]);
    await throwsCode(() => a.store.seal(a.identity, a.keys, a.bundle, 'me', now), 'MALFORMED');
    await throwsCode(() => a.store.seal(b.identity, a.keys, b.bundle, 'x', now), 'INVALID_ARGUMENT');
  });

  test('sessions: an init signed by another identity is never trusted by accident; a refused init leaves nothing', () => {
    const a = fx.device('alice/A');
    const b = fx.device('bob');
    const now = T0 + 100;
    // Mallory: carol's identity key, claiming alice's account (a forged bundle would
    // not pass alice's device list; the init itself names the signer).
    const mallory = sp.Identity.fromPkcs8('alice', hexToBytes(keys.carol.identity_pkcs8));
    const mk = sp.DeviceKeys.fromPkcs8(mallory, 'a9'.repeat(16), hexToBytes(keys.carol.encryption_pkcs8), T0);
    const forged = new sp.SessionStore().seal(mallory, mk, b.bundle, 'it is me, alice', now);
    const p = b.store.open(b.keys, forged.envelope, now);
    eq(p.kind, 'pending');
    assert(p.senderFingerprint !== a.identity.fingerprint, 'the signer is visible before accepting');
    p.free();
    eq(b.store.size, 0);
  });

  test('sealFresh and setTrusted', () => {
    const a = fx.device('alice/A');
    const b = fx.device('bob');
    const now = T0 + 100;
    const first = a.store.seal(a.identity, a.keys, b.bundle, 'one', now);
    const again = a.store.sealFresh(a.identity, a.keys, b.bundle, 'one again', now);
    eq(again.sessionId, first.sessionId);
    assert(again.withInit, 'unanswered: the init rides along');
    const p = b.store.open(b.keys, again.envelope, now);
    const o = b.store.accept(p, false, now);
    assert(!o.trusted, 'a stranger');
    eq(b.store.setTrusted(a.keys.userId, a.identity.identityKey, true), 1);
    eq(b.store.sessions()[0].trusted, true);
    b.store.forgetDevice(a.keys.userId, a.keys.deviceId);
    eq(b.store.size, 0);
  });

  test('device lists: create, add, remove, update checks; a ninth device is TOO_LARGE', async () => {
    const alice = identity('alice');
    const entry = (i) => ({ id: i.toString(16).padStart(2, '0').repeat(16), name: `device ${i}`, addedAt: T0 });
    const list = sp.DeviceList.create(alice, [entry(1)], T0);
    eq(list.version, T0);
    eq(list.devices(), [entry(1)]);
    const two = list.withDevice(alice, entry(2), T0);
    eq(two.version, T0 + 1);
    list.checkUpdate(two);
    await throwsCode(() => two.checkUpdate(list), 'STALE');
    const one = two.withoutDevice(alice, entry(1).id, T0 + 5);
    eq(one.devices().map((d) => d.id), [entry(2).id]);
    await throwsCode(() => one.withoutDevice(alice, entry(2).id, T0 + 6), 'TOO_LARGE');
    const bobs = sp.DeviceList.create(identity('bob'), [entry(1)], T0 + 10);
    await throwsCode(() => list.checkUpdate(bobs), 'BAD_SIGNATURE');
    let full = list;
    for (let i = 2; i <= 8; i++) full = full.withDevice(alice, entry(i), T0);
    await throwsCode(() => full.withDevice(alice, entry(9), T0), 'TOO_LARGE');
    await throwsCode(() => sp.DeviceList.create(alice, [{ id: 'x' }]), 'INVALID_ARGUMENT');
    eq(sp.DeviceList.fromBytes(full.toBytes()).devices().length, 8);
  });

  test('vault: identity, device keys, sessions and app data survive a reload; wrong password fails', async () => {
    const a = fx.device('alice/A');
    const b = fx.device('bob');
    const now = T0 + 100;
    const vault = sp.Vault.create('a long password');
    const header = vault.header;
    const first = a.store.seal(a.identity, a.keys, b.bundle, 'one', now);
    b.store.accept(b.store.open(b.keys, first.envelope, now), true, now);
    const sealedId = vault.sealIdentity(a.identity);
    const sealedKeys = vault.sealDeviceKeys(a.keys);
    const sealedSessions = vault.sealSessions(a.store);
    const note = vault.seal('contacts', utf8('{"bob":1}'));
    vault.free();
    const again = sp.Vault.unlock('a long password', header);
    const alice2 = again.openIdentity(sealedId);
    eq(alice2.username, 'alice');
    eq(alice2.fingerprint, a.identity.fingerprint);
    const keys2 = again.openDeviceKeys(sealedKeys, alice2);
    eq(keys2.deviceId, a.keys.deviceId);
    await throwsCode(() => again.openDeviceKeys(sealedKeys, identity('bob')), 'BAD_SIGNATURE');
    const store2 = again.openSessions(sealedSessions);
    const next = store2.seal(alice2, keys2, b.bundle, 'two', now);
    assert(!next.newSession, 'the restored session continues');
    eq(text(b.store.open(b.keys, next.envelope, now).payload), 'two');
    eq(text(again.open('contacts', note)), '{"bob":1}');
    await throwsCode(() => again.open('other', note), 'DECRYPT_FAILED');
    await throwsCode(() => again.openSessions(sealedId), 'DECRYPT_FAILED');
    await throwsCode(() => sp.Vault.unlock('wrong password', header), 'WRONG_PASSWORD');
    assert(!bytesToHex(sealedId).includes(bytesToHex(utf8('alice'))), 'sealed identity hides the username');
  });

  test('generate (RSA-2048) with progress; device keys, bundle, rotation; backup round trip', async () => {
    const seen = [];
    const me = sp.Identity.generate('Dave', 2048, (d, t) => seen.push([d, t]));
    eq(seen, [[0, 1], [1, 1]]);
    eq(me.username, 'dave');
    eq(me.userId, sp.userIdFromUsername('dave'));
    const dev = sp.DeviceKeys.generate(me);
    eq(dev.userId, me.userId);
    const list = sp.DeviceList.create(me, [{ id: dev.deviceId, name: 'Test browser', addedAt: Math.floor(Date.now() / 1000) }]);
    const b = sp.DeviceBundle.fromBytes(dev.bundle(me).toBytes());
    sp.DeviceList.fromBytes(list.toBytes()).checkBundle(b);
    await throwsCode(() => dev.bundle(identity('alice')), 'INVALID_ARGUMENT');
    assert(!dev.needsRotation(), 'fresh keys need no rotation');
    assert(dev.needsRotation(Date.now() / 1000 + 24 * 24 * 3600), 'old keys need rotation');
    dev.rotate(me);
    eq(dev.keyCount, 2);
    const b2 = dev.bundle(me);
    eq(b2.encryptionKeys().length, 2);
    b.checkUpdate(b2);
    await throwsCode(() => b2.checkUpdate(b), 'STALE');
    const k = sp.BackupKeys.create('correct horse', me.userId);
    const blob = sp.exportBackup(me, k, utf8('state'));
    const back = sp.importBackup('dave', blob, sp.BackupKeys.forBlob('correct horse', blob));
    eq(back.identity.fingerprint, me.fingerprint);
    eq(text(back.accountState), 'state');
    await throwsCode(() => sp.exportBackup(identity('alice'), k), 'INVALID_ARGUMENT');
  });

  test('signatures verify with WebCrypto (RSA-PSS SHA-256, salt 32); a challenge answer names the device', async () => {
    const alice = identity('alice');
    const key = await subtle.importKey('spki', alice.identityKey, { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['verify']);
    const challenge = crypto.getRandomValues(new Uint8Array(32));
    const device = 'a1'.repeat(16);
    const sig = alice.signChallenge(device, challenge);
    const input = new Uint8Array([...utf8('sealpost/v1/challenge\0'), ...hexToBytes(alice.userId), ...hexToBytes(device), ...challenge]);
    assert(await subtle.verify({ name: 'RSA-PSS', saltLength: 32 }, key, sig, input), 'challenge signature');
    const other = new Uint8Array([...utf8('sealpost/v1/challenge\0'), ...hexToBytes(alice.userId), ...hexToBytes('a2'.repeat(16)), ...challenge]);
    assert(!(await subtle.verify({ name: 'RSA-PSS', saltLength: 32 }, key, sig, other)), 'not good for another device');
    const body = utf8('{}');
    const path = `/v2/mailboxes/${alice.userId}/${device}/blobs`;
    const rs = alice.signRequest('POST', path, body, 1700000000, 'nonce123');
    const digest = bytesToHex(new Uint8Array(await subtle.digest('SHA-256', body)));
    const reqInput = utf8(`sealpost/v1/request\0POST\n${path}\n${digest}\n1700000000\nnonce123`);
    assert(await subtle.verify({ name: 'RSA-PSS', saltLength: 32 }, key, rs, reqInput), 'request signature');
  });

  test('freed handles are unusable', () => {
    const i = sp.Identity.fromPkcs8('carol', hexToBytes(keys.carol.identity_pkcs8));
    i.free();
    let threw = false;
    try {
      void i.userId;
    } catch {
      threw = true;
    }
    assert(threw, 'use after free throws');
  });

  if (interop.fromNative) {
    test('interop: envelopes v2 sealed by the native core in this run open in the package', () => {
      const { now, messages } = interop.fromNative;
      const a = fx.device('alice/A', interop.fromNative.t0);
      for (const m of messages) {
        let o = a.store.open(a.keys, hexToBytes(m.envelope), now);
        if (o.kind === 'pending') o = a.store.accept(o, true, now);
        eq(text(o.payload), m.payload);
        eq(o.sender, keys.bob.user_id);
      }
      assert(interop.fromNative.opened >= 1, 'the native side opened our envelopes');
    });
  }
}

/** Seals envelopes v2 from alice/A to bob for the native core to open (package -> native). */
export function sealForNative(sp, vectors, now) {
  const fx = fixtures(sp, vectors);
  const a = fx.device('alice/A');
  const b = fx.device('bob');
  const messages = [];
  for (const payload of ['from wasm: session set-up', 'from wasm: again', 'from wasm: ✓']) {
    const s = a.store.seal(a.identity, a.keys, b.bundle, payload, now);
    messages.push({ payload, envelope: bytesToHex(s.envelope) });
  }
  return { t0: fx.T0, now, messages };
}
