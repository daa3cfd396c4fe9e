// The crypto-level API of sealpost-wasm, run in Node.js and in headless Chromium.
// `sp` is the package module (initialised), `vectors` the parsed tests/vectors/*.json,
// `interop` optional envelopes sealed by the native core (see scripts/test.mjs).
import { assert, bytesToHex, eq, hexToBytes, throwsCode } from './harness.js';

const subtle = globalThis.crypto.subtle;

export function cryptoSuite({ test }, sp, vectors, interop = {}) {
  const T0 = vectors.envelopes.t0;
  const keys = Object.fromEntries(vectors.keys.users.map((u) => [u.username, u]));
  const fixture = (name, now = T0) =>
    sp.Identity.fromPkcs8(name, hexToBytes(keys[name].identity_pkcs8), hexToBytes(keys[name].encryption_pkcs8), now);
  const cache = {};
  const id = (name) => (cache[name] ??= fixture(name));

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
    const e = await throwsCode(() => sp.KeyBundle.fromBytes(new Uint8Array(10)), 'MALFORMED');
    assert(e instanceof Error, 'instanceof Error');
    await throwsCode(() => sp.Identity.generate('alice', 1024), 'INVALID_ARGUMENT');
    await throwsCode(() => sp.SessionStore.fromSecretBytes(new Uint8Array([1, 2, 3])), 'MALFORMED');
  });

  test('fixture identities load with the right user ids', () => {
    for (const u of vectors.keys.users) {
      const i = id(u.username);
      eq(i.userId, u.user_id);
      eq(i.username, u.username);
      eq(i.fingerprint, sp.sha256Hex(i.identityKey));
    }
  });

  test('bundles from the native core verify, tampering is rejected', async () => {
    for (const b of vectors.bundles.bundles) {
      const bytes = hexToBytes(b.bundle);
      const bundle = sp.KeyBundle.fromBytes(bytes);
      eq(bundle.userId, b.user_id);
      eq(bytesToHex(bundle.identityKey), b.identity_spki);
      eq(bundle.issuedAt, b.issued_at);
      eq(bytesToHex(bundle.currentEncryptionKey(b.issued_at)), b.encryption_spki);
      eq(bytesToHex(bundle.toBytes()), b.bundle);
      const keysListed = bundle.encryptionKeys();
      assert(keysListed.length >= 1 && keysListed[0].publicKey instanceof Uint8Array, 'encryptionKeys');
      const bad = bytes.slice();
      bad[bad.length - 5] ^= 1;
      await throwsCode(() => sp.KeyBundle.fromBytes(bad), 'BAD_SIGNATURE');
      await throwsCode(() => bundle.currentEncryptionKey(1), 'EXPIRED');
    }
  });

  test('envelopes sealed by the native core open (shared vectors)', () => {
    const stores = {};
    for (const [i, m] of vectors.envelopes.messages.entries()) {
      if (m.recipient_state) stores[m.to] = sp.SessionStore.fromSecretBytes(hexToBytes(m.recipient_state));
      stores[m.to] ??= new sp.SessionStore();
      const o = stores[m.to].open(id(m.to), hexToBytes(m.envelope), T0 + 10);
      eq(o.sender, keys[m.from].user_id, `#${i} sender`);
      eq(o.text, m.content, `#${i} text`);
      eq(o.contentType, m.content_type, `#${i} contentType`);
      eq(o.kind, { SessionInit: 'sessionInit', Session: 'session', Sealed: 'sealed' }[m.kind], `#${i} kind`);
      eq(bytesToHex(o.senderIdentity), bytesToHex(id(m.from).identityKey), `#${i} sender identity`);
      if (m.message_id && m.kind !== 'Sealed') eq(o.messageId, m.message_id, `#${i} message id`);
    }
  });

  test('safety numbers match the shared vectors, from either side', () => {
    const v = vectors.safety;
    const a = id(v.a);
    const b = id(v.b);
    const ab = sp.SafetyNumber.compute(a.userId, a.identityKey, b.userId, b.identityKey);
    const ba = sp.SafetyNumber.compute(b.userId, b.identityKey, a.userId, a.identityKey);
    eq(ab.digits, v.digits);
    eq(ab.display, v.display);
    eq(bytesToHex(ab.qrPayload), v.qr_payload);
    eq(ba.digits, v.digits);
    assert(ab.matchesQr(hexToBytes(v.qr_payload)), 'matchesQr');
    assert(!ab.matchesQr(new Uint8Array(65)), '!matchesQr');
    eq(a.safetyNumber(b.bundle(T0 + 1)).digits, v.digits);
  });

  test('backup from the native core imports; wrong password is WRONG_PASSWORD', async () => {
    const v = vectors.backups;
    const blob = hexToBytes(v.blob);
    const params = sp.readBackupParams(blob.subarray(0, 54));
    eq(params.iterations, v.iterations);
    eq(bytesToHex(params.salt), v.salt);
    const k = sp.BackupKeys.forBlob(v.password, blob.subarray(0, 54));
    eq(bytesToHex(k.authToken), v.auth_token);
    const restored = sp.Identity.importBackup(v.user, blob, k);
    eq(restored.userId, keys[v.user].user_id);
    eq(bytesToHex(restored.identityKey), bytesToHex(id(v.user).identityKey));
    const wrong = sp.BackupKeys.forBlob('not the password', blob);
    await throwsCode(() => sp.Identity.importBackup(v.user, blob, wrong), 'WRONG_PASSWORD');
    await throwsCode(() => sp.Identity.importBackup('bob', blob, k), 'WRONG_PASSWORD');
    await throwsCode(() => sp.BackupKeys.forBlob('short', blob), 'WEAK_PARAMETERS');
  });

  test('sessions: both directions, replay, tampering, out of order', async () => {
    const alice = id('alice');
    const bob = id('bob');
    const now = T0 + 100;
    const aStore = new sp.SessionStore();
    const bStore = new sp.SessionStore();
    const bobBundle = bob.bundle(now);
    const aliceBundle = alice.bundle(now);
    const s1 = aStore.seal(alice, bobBundle, 'hello bob', undefined, now);
    eq(s1.recipient, bob.userId);
    assert(s1.newSession, 'first message starts a session');
    assert(s1.envelope.length === 1024 || s1.envelope.length === 512, `bucket ${s1.envelope.length}`);
    const o1 = bStore.open(bob, s1.envelope, now);
    eq(o1.text, 'hello bob');
    eq(o1.kind, 'sessionInit');
    eq(o1.messageId, s1.messageId);
    await throwsCode(() => bStore.open(bob, s1.envelope, now), 'REPLAY');
    const r = bStore.seal(bob, aliceBundle, new Uint8Array([1, 2, 3]), 7, now);
    assert(!r.newSession, 'reply reuses the session');
    const o2 = aStore.open(alice, r.envelope, now);
    eq(Array.from(o2.content), [1, 2, 3]);
    eq(o2.contentType, 7);
    eq(o2.text, undefined);
    const m2 = aStore.seal(alice, bobBundle, 'two', undefined, now);
    const m3 = aStore.seal(alice, bobBundle, 'three', undefined, now);
    eq(bStore.open(bob, m3.envelope, now).text, 'three');
    eq(bStore.open(bob, m2.envelope, now).text, 'two');
    const bad = aStore.seal(alice, bobBundle, 'x', undefined, now).envelope;
    bad[bad.length - 1] ^= 1;
    bad[200] ^= 1;
    await throwsCode(() => bStore.open(bob, bad, now), 'DECRYPT_FAILED');
    await throwsCode(() => aStore.open(alice, s1.envelope, now), 'DECRYPT_FAILED');
    eq(aStore.size, 1);
  });

  test('sealToMany: one-shot envelopes to several recipients', () => {
    const alice = id('alice');
    const now = T0 + 100;
    const out = sp.sealToMany(alice, [id('bob').bundle(now).toBytes(), id('carol').bundle(now).toBytes()], 'to both', undefined, now);
    eq(out.map((o) => o.recipient), [id('bob').userId, id('carol').userId]);
    for (const [name, o] of [['bob', out[0]], ['carol', out[1]]]) {
      const opened = new sp.SessionStore().open(id(name), o.envelope, now);
      eq(opened.kind, 'sealed');
      eq(opened.text, 'to both');
      eq(opened.recipients, [id('bob').userId, id('carol').userId]);
    }
  });

  test('vault: identities, sessions and app data survive a reload; wrong password fails', async () => {
    const alice = fixture('alice');
    const bob = id('bob');
    const now = T0 + 100;
    const vault = sp.Vault.create('a long password');
    const header = vault.header;
    const store = new sp.SessionStore();
    // One bundle for both messages: a newer bundle of Bob's would retire the session.
    const bobBundle = bob.bundle(now);
    const first = store.seal(alice, bobBundle, 'one', undefined, now);
    const bobStore = new sp.SessionStore();
    bobStore.open(bob, first.envelope, now);
    const sealedId = vault.sealIdentity(alice);
    const sealedSessions = vault.sealSessions(store);
    const note = vault.seal('contacts', new TextEncoder().encode('{"bob":1}'));
    alice.free();
    vault.free();
    const again = sp.Vault.unlock('a long password', header);
    const alice2 = again.openIdentity(sealedId);
    eq(alice2.username, 'alice');
    const store2 = again.openSessions(sealedSessions);
    const next = store2.seal(alice2, bobBundle, 'two', undefined, now);
    assert(!next.newSession, 'the restored session continues');
    eq(bobStore.open(bob, next.envelope, now).text, 'two');
    eq(new TextDecoder().decode(again.open('contacts', note)), '{"bob":1}');
    await throwsCode(() => again.open('other', note), 'DECRYPT_FAILED');
    await throwsCode(() => again.openSessions(sealedId), 'DECRYPT_FAILED');
    await throwsCode(() => sp.Vault.unlock('wrong password', header), 'WRONG_PASSWORD');
    const plaintext = new TextEncoder().encode('alice');
    assert(!bytesToHex(sealedId).includes(bytesToHex(plaintext)), 'sealed identity hides the username');
  });

  test('generate (RSA-2048) with progress; backup export/import round trip; rotation', async () => {
    const seen = [];
    const me = sp.Identity.generate('Dave', 2048, (d, t) => seen.push([d, t]));
    eq(seen, [[0, 2], [1, 2], [2, 2]]);
    eq(me.username, 'dave');
    eq(me.userId, sp.userIdFromUsername('dave'));
    const b = sp.KeyBundle.fromBytes(me.bundle().toBytes());
    eq(b.userId, me.userId);
    const k = sp.BackupKeys.create('correct horse', me.userId);
    const blob = me.exportBackup(k);
    const again = sp.Identity.importBackup('dave', blob, sp.BackupKeys.forBlob('correct horse', blob));
    eq(again.fingerprint, me.fingerprint);
    assert(!me.needsRotation(), 'fresh keys need no rotation');
    assert(me.needsRotation(Date.now() / 1000 + 24 * 24 * 3600), 'old keys need rotation');
    me.rotateEncryptionKey();
    const b2 = me.bundle();
    eq(b2.encryptionKeys().length, 2);
    b.checkUpdate(b2);
    await throwsCode(() => b2.checkUpdate(b), 'STALE');
  });

  test('signatures verify with WebCrypto (RSA-PSS SHA-256, salt 32)', async () => {
    const alice = id('alice');
    const key = await subtle.importKey('spki', alice.identityKey, { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['verify']);
    const challenge = crypto.getRandomValues(new Uint8Array(32));
    const sig = alice.signChallenge(challenge);
    const input = new Uint8Array([...new TextEncoder().encode('sealpost/v1/challenge\0'), ...hexToBytes(alice.userId), ...challenge]);
    assert(await subtle.verify({ name: 'RSA-PSS', saltLength: 32 }, key, sig, input), 'challenge signature');
    const body = new TextEncoder().encode('{}');
    const rs = alice.signRequest('POST', '/v1/mailboxes/x/token', body, 1700000000, 'nonce123');
    const digest = bytesToHex(new Uint8Array(await subtle.digest('SHA-256', body)));
    const reqInput = new TextEncoder().encode(`sealpost/v1/request\0POST\n/v1/mailboxes/x/token\n${digest}\n1700000000\nnonce123`);
    assert(await subtle.verify({ name: 'RSA-PSS', saltLength: 32 }, key, rs, reqInput), 'request signature');
  });

  test('freed handles are unusable', () => {
    const i = fixture('carol');
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
    test('interop: envelopes sealed by the native core in this run open in the package', () => {
      const stores = {};
      for (const m of interop.fromNative.messages) {
        stores[m.to] ??= new sp.SessionStore();
        const o = stores[m.to].open(id(m.to), hexToBytes(m.envelope), interop.fromNative.now);
        eq(o.text, m.content);
        eq(o.sender, keys[m.from].user_id);
      }
      assert(interop.fromNative.opened >= 1, 'the native side opened our envelopes');
    });
  }
}

/** Seals envelopes for the native core to open (interop, package -> native). */
export function sealForNative(sp, vectors, now) {
  const keys = Object.fromEntries(vectors.keys.users.map((u) => [u.username, u]));
  const fixture = (name) =>
    sp.Identity.fromPkcs8(name, hexToBytes(keys[name].identity_pkcs8), hexToBytes(keys[name].encryption_pkcs8), now);
  const alice = fixture('alice');
  const bob = fixture('bob');
  const carol = fixture('carol');
  const store = new sp.SessionStore();
  const messages = [];
  for (const text of ['from wasm: session set-up', 'from wasm: ratchet 1', 'from wasm: ratchet 2 ✓']) {
    const s = store.seal(alice, bob.bundle(now), text, undefined, now);
    messages.push({ from: 'alice', to: 'bob', content: text, envelope: bytesToHex(s.envelope), message_id: s.messageId });
  }
  for (const s of sp.sealToMany(alice, [bob.bundle(now).toBytes(), carol.bundle(now).toBytes()], 'from wasm: sealed', undefined, now)) {
    messages.push({ from: 'alice', to: s.recipient === bob.userId ? 'bob' : 'carol', content: 'from wasm: sealed', envelope: bytesToHex(s.envelope) });
  }
  return { now, messages };
}
