// Files against a real relay (issue 11): sendFile / openAttachment round trips byte for
// byte, the relay (here: the network between it and the page, by wrapping fetch) as
// the attacker that alters a chunk, resumption after a relay restart mid-upload, one
// upload for several recipients and for a group of five (sendFileToGroup), a file post
// (reply, disappearing), cancelling, an upload started again with its key (resume), and
// refused when resumed with another file of the same size (sha256), a download with
// several chunks in flight. Browser only; the expired file is a Node
// test against a relay whose chunks expire at once (scripts/test.mjs).
import { assert, eq, throwsCode } from './harness.js';
import { notices, online, recv, until } from './client.helpers.js';

const sha256 = async (blob) => {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', await blob.arrayBuffer()));
  return Array.from(d, (x) => x.toString(16).padStart(2, '0')).join('');
};

/** `n` random bytes (getRandomValues fills at most 64 KiB at a time). */
function randomBytes(n) {
  const b = new Uint8Array(n);
  for (let at = 0; at < n; at += 65536) crypto.getRandomValues(b.subarray(at, Math.min(n, at + 65536)));
  return b;
}

export function filesSuite({ test }, sp, { relayUrl, restartRelay }) {
  const tag = Math.random().toString(36).slice(2, 8);
  const pw = 'correct horse battery staple';
  const opts = () => ({ relayUrl, storage: new sp.MemoryStorage(), keySize: 2048, bundleMaxAge: 0 });
  const users = {};
  // Chunk requests the package makes, and a hook to alter them (the network or relay
  // as the attacker). Installed over whatever fetch the page has.
  const log = [];
  let hook = null;
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input, init = {}) => {
    const url = String(input instanceof Request ? input.url : input);
    const m = /\/v2\/chunks\/([0-9a-f]{64})$/.exec(url);
    if (!m) return realFetch(input, init);
    const entry = { method: init.method ?? 'GET', address: m[1] };
    log.push(entry);
    const hooked = await hook?.(entry, () => realFetch(input, init));
    return hooked ?? realFetch(input, init);
  };
  const puts = () => log.filter((e) => e.method === 'PUT');

  const user = async (name) => {
    if (!users[name]) {
      users[name] = await sp.Client.register(opts(), `${name}-${tag}`, pw);
      await online(users[name]);
    }
    return users[name];
  };
  const contacts = async () => {
    const [a, b, c] = [await user('fia'), await user('gus'), await user('hal')];
    for (const x of [b, c]) await a.lookup(x.username);
    return [a, b, c];
  };

  test('files: a file round-trips byte for byte (SHA-256) with progress on both sides; the relay sees only chunks', async () => {
    const [a, b] = await contacts();
    const bytes = randomBytes(300_000); // 64 KiB chunks: 5 of them
    const file = new File([bytes], 'report.pdf', { type: 'application/pdf' });
    const up = [];
    log.length = 0;
    const { manifest, sent } = await a.sendFile(b.username, file, { onProgress: (p) => up.push(p) });
    eq(sent.map((s) => [s.to, typeof s.messageId]), [[b.username, 'string']]);
    eq(up.at(-1), { done: 300_000, total: 300_000, waiting: false });
    assert(up.every((p, i) => i === 0 || p.done >= up[i - 1].done), 'progress goes forward');
    eq(puts().length, 5);
    const m = await recv(b);
    eq(m.contentType, 2);
    eq(Array.from(m.content), Array.from(manifest));
    const info = sp.fileInfo(m.content);
    eq([info.name, info.mediaType, info.size], ['report.pdf', 'application/pdf', 300_000]);
    const down = [];
    const blob = await b.openAttachment(m, { onProgress: (p) => down.push(p) });
    eq(await sha256(blob), await sha256(file));
    eq(info.sha256, await sha256(file));
    eq(blob.type, 'application/pdf');
    eq(down.at(-1), { done: 300_000, total: 300_000 });
    // The relay stored whole padded chunks only (no name, type or exact size went up).
    for (const e of puts()) assert(!e.address.includes('report'), 'addresses are hashes');
  });

  test('files: a stream, an empty file and an image with a thumbnail; the thumbnail rides in the manifest', async () => {
    const [a, b] = await contacts();
    const bytes = randomBytes(70_000);
    const stream = new Blob([bytes]).stream();
    await a.sendFile(b.username, stream, { size: bytes.length, name: 'pipe.bin' });
    const m1 = await recv(b);
    eq(await sha256(await b.openAttachment(m1)), await sha256(new Blob([bytes])));
    // A stream that ends early is refused before any message is sent.
    await throwsCode(() => a.sendFile(b.username, new Blob([bytes]).stream(), { size: bytes.length + 1 }), 'FILE_INCOMPLETE');
    await a.sendFile(b.username, new Blob([]), { name: 'empty.txt' });
    const m2 = await recv(b);
    eq((await b.openAttachment(m2)).size, 0);
    const thumb = { mediaType: 'image/jpeg', bytes: randomBytes(900) };
    await a.sendFile(b.username, new Blob([randomBytes(5000)], { type: 'image/png' }), { name: 'cat.png', thumbnail: thumb });
    const m3 = await recv(b);
    const info = sp.fileInfo(m3.content);
    eq(info.thumbnail.mediaType, 'image/jpeg');
    eq(Array.from(info.thumbnail.bytes), Array.from(thumb.bytes));
    await throwsCode(() => a.sendFile(b.username, new Blob([bytes]), { name: 'a/b' }), 'FILE_INVALID_INFO');
  });

  test('files: one upload for several recipients; each opens the same file', async () => {
    const [a, b, c] = await contacts();
    const bytes = randomBytes(40_000); // 4 KiB chunks: 10 of them
    log.length = 0;
    const { sent } = await a.sendFile([b.username, c.username], new Blob([bytes]), { name: 'both.bin' });
    eq(sent.length, 2);
    const [mb, mc] = [await recv(b), await recv(c)];
    eq(puts().length, 10);
    log.length = 0;
    eq(await sha256(await b.openAttachment(mb)), await sha256(new Blob([bytes])));
    eq(await sha256(await c.openAttachment(mc)), await sha256(new Blob([bytes])));
    eq(puts().length, 0);
  });

  test('files: a file sent as a reply that disappears is a file post (type 3): replyTo, expiresIn and manifest come with it, and it opens', async () => {
    const [a, b] = await contacts();
    const first = await a.send(b.username, 'look at this');
    const m0 = await recv(b);
    eq(m0.text, 'look at this');
    const bytes = randomBytes(9_000);
    const { manifest } = await a.sendFile(b.username, new Blob([bytes]), { name: 'r.bin', replyTo: first.messageId, expiresIn: 30 });
    const m = await recv(b);
    eq([m.contentType, m.kind, m.replyTo, m.expiresIn], [3, 'file', first.messageId, 30]);
    eq(Array.from(m.manifest), Array.from(manifest));
    eq(sp.fileInfo(m.manifest).name, 'r.bin');
    eq(await sha256(await b.openAttachment(m)), await sha256(new Blob([bytes])));
    // A plain file message names its manifest too (the same bytes as its content).
    await a.sendFile(b.username, new Blob([bytes]), { name: 'plain.bin' });
    const p = await recv(b);
    eq([p.contentType, p.kind, p.replyTo, p.expiresIn], [2, 'file', undefined, undefined]);
    eq(Array.from(p.manifest), Array.from(p.content));
    // A text is not a file.
    await throwsCode(() => b.openAttachment(m0), 'INVALID_ARGUMENT');
  });

  test('files: a chunk altered on the way from the relay is detected (INTEGRITY_*), fetched once more, never delivered', async () => {
    const [a, b] = await contacts();
    await a.sendFile(b.username, new Blob([randomBytes(50_000)]), { name: 'x.bin' });
    const m = await recv(b);
    const bad = async (entry, go) => {
      if (entry.method !== 'GET') return null;
      const body = new Uint8Array(await (await go()).arrayBuffer());
      body[100] ^= 1;
      return new Response(body, { status: 200 });
    };
    hook = bad;
    log.length = 0;
    let progressed = 0;
    const e = await throwsCode(() => b.openAttachment(m, { onProgress: () => progressed++ }), 'INTEGRITY_CHUNK_ADDRESS');
    eq(e.index, 0);
    eq(progressed, 0);
    const gets = log.filter((x) => x.method === 'GET');
    eq(gets.filter((x) => x.address === gets[0].address).length, 2); // the first chunk, twice
    assert(gets.length <= 2 + 3, `${gets.length} GETs: at most three more were fetched ahead`);
    // Once the network behaves, the same file opens.
    hook = null;
    assert((await b.openAttachment(m)).size === 50_000, 'opens afterwards');
  });

  test('files: a download keeps up to four chunks coming, answered in any order, and opens them in order; cancel stops it', async () => {
    const [a, b] = await contacts();
    const bytes = randomBytes(200_000); // 16 KiB chunks: 13
    await a.sendFile(b.username, new Blob([bytes]), { name: 'many.bin' });
    const m = await recv(b);
    let now = 0;
    let most = 0;
    // Each answer waits 0-40 ms: later chunks often come first.
    hook = async (entry, go) => {
      if (entry.method !== 'GET') return null;
      most = Math.max(most, ++now);
      try {
        await new Promise((r) => setTimeout(r, Math.random() * 40));
        return await go();
      } finally {
        now--;
      }
    };
    log.length = 0;
    const done = [];
    const blob = await b.openAttachment(m, { onProgress: (p) => done.push(p.done) });
    eq(await sha256(blob), await sha256(new Blob([bytes])));
    eq(most, 4, 'four fetches at most, and four at once');
    eq(log.filter((e) => e.method === 'GET').length, 13, 'each chunk once');
    assert(done.every((d, i) => i === 0 || d > done[i - 1]) && done.at(-1) === 200_000, 'progress in order');
    // Cancelled after the third answer: CANCELLED, and nothing more is asked for.
    const abort = new AbortController();
    log.length = 0;
    let answered = 0;
    hook = async (entry, go) => {
      if (entry.method !== 'GET') return null;
      const r = await go();
      if (++answered === 3) abort.abort();
      return r;
    };
    await throwsCode(() => b.openAttachment(m, { signal: abort.signal }), 'CANCELLED');
    const asked = log.length;
    assert(asked <= 3 + 4, `${asked} GETs before the cancel took`);
    await new Promise((r) => setTimeout(r, 100));
    eq(log.length, asked, 'nothing asked for after the cancel');
    hook = null;
  });

  test('files: resuming with another file of the same size (sha256 given) is FILE_MISMATCH before any request; the same file goes on', async () => {
    const [a, b] = await contacts();
    const bytes = randomBytes(100_000);
    const fileKey = randomBytes(32);
    const file = new Blob([bytes]);
    const digest = await a.fileDigest(file);
    eq(Array.from(digest), Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))));
    // The attacker's (or the user's wrong) pick: same size, one byte different.
    const other = bytes.slice();
    other[99_999] ^= 1;
    log.length = 0;
    await throwsCode(() => a.sendFile(b.username, new Blob([other]), { name: 'mine.bin', fileKey, sha256: digest, resume: true, idempotencyKey: `m-${tag}` }), 'FILE_MISMATCH');
    eq(log.length, 0, 'nothing sent: no chunk looked for or uploaded');
    // A stream of another file (read once) is refused at its end, before any message.
    await throwsCode(() => a.sendFile(b.username, new Blob([other]).stream(), { size: other.length, name: 'mine.bin', fileKey, sha256: digest, resume: true }), 'FILE_MISMATCH');
    await throwsCode(() => a.uploadFile(file, { sha256: new Uint8Array(31) }), 'INVALID_ARGUMENT');
    // The same file goes, once, even when sent twice with its key.
    const first = await a.sendFile(b.username, file, { name: 'mine.bin', fileKey, sha256: digest, resume: true, idempotencyKey: `m-${tag}` });
    const again = await a.sendFile(b.username, file, { name: 'mine.bin', fileKey, sha256: digest, resume: true, idempotencyKey: `m-${tag}` });
    eq(again.sent[0].messageId, first.sent[0].messageId);
    const m = await recv(b);
    eq(m.messageId, first.sent[0].messageId);
    eq(await sha256(await b.openAttachment(m)), await sha256(file));
    await a.send(b.username, 'after the file');
    eq((await recv(b)).text, 'after the file'); // the file came once
  });

  test('files: an upload resumes after the relay restarts mid-transfer, from the first chunk it lacks', async () => {
    if (!restartRelay) return;
    const [a, b] = await contacts();
    const bytes = randomBytes(200_000); // 16 KiB chunks: 13
    log.length = 0;
    let restarted = null;
    hook = async (entry) => {
      if (entry.method === 'PUT' && puts().length === 4 && !restarted) restarted = restartRelay();
      return null;
    };
    const waits = [];
    const r = await a.sendFile(b.username, new Blob([bytes]), { name: 'resume.bin', onProgress: (p) => p.waiting && waits.push(p.done) });
    hook = null;
    assert(await restarted, 'the relay came back');
    assert(waits.length > 0, 'the upload waited for the relay');
    // Every chunk went up once, apart from at most the two under way at the restart.
    const addresses = new Set(puts().map((e) => e.address));
    eq(addresses.size, 13);
    assert(puts().length <= 15, `${puts().length} PUTs for 13 chunks`);
    eq(typeof r.sent[0].messageId, 'string');
    await online(b, 30000);
    const m = await recv(b, 60000);
    eq(await sha256(await b.openAttachment(m)), await sha256(new Blob([bytes])));
  });

  test('files: cancelling an upload rejects with CANCELLED and sends nothing', async () => {
    const [a, b] = await contacts();
    const abort = new AbortController();
    hook = async (entry) => {
      if (entry.method === 'PUT' && puts().length === 2) abort.abort();
      return null;
    };
    log.length = 0;
    await throwsCode(() => a.sendFile(b.username, new Blob([randomBytes(100_000)]), { signal: abort.signal }), 'CANCELLED');
    hook = null;
    assert(puts().length <= 4, 'stopped (at most two uploads were under way)');
  });

  test('files: an upload cut off (its page gone) starts again with the same fileKey and resume: only the chunks the relay lacks go up', async () => {
    const [a, b] = await contacts();
    const bytes = randomBytes(200_000); // 16 KiB chunks: 13
    const fileKey = randomBytes(32);
    const abort = new AbortController();
    log.length = 0;
    hook = async (entry, go) => {
      const r = await go();
      entry.status = r.status;
      if (entry.method === 'PUT' && puts().length === 5) abort.abort();
      return r;
    };
    await throwsCode(() => a.sendFile(b.username, new Blob([bytes]), { name: 'cut.bin', fileKey, signal: abort.signal }), 'CANCELLED');
    const first = new Set(puts().filter((e) => e.status === 201).map((e) => e.address));
    assert(first.size >= 2 && first.size < 13, `${first.size} chunks went up before the cut`);
    log.length = 0;
    const { manifest } = await a.sendFile(b.username, new Blob([bytes]), { name: 'cut.bin', fileKey, resume: true });
    hook = null;
    const again = puts().map((e) => e.address);
    // (At most the two uploads under way at the cut may have landed unrecorded.)
    assert(again.length <= 13 - first.size && again.length >= 11 - first.size, `${again.length} chunks sent again after ${first.size}`);
    assert(again.every((x) => !first.has(x)), 'only the missing chunks');
    eq(log.filter((e) => e.method === 'HEAD').length, 13, 'each chunk looked for once');
    const m = await recv(b);
    eq(Array.from(m.manifest), Array.from(manifest));
    eq(await sha256(await b.openAttachment(m)), await sha256(new Blob([bytes])));
    await throwsCode(() => a.sendFile(b.username, new Blob([bytes]), { fileKey: new Uint8Array(31) }), 'INVALID_ARGUMENT');
  });

  test('files: the same file to a group of 5 is uploaded once (sendFileToGroup: one group message); every member opens it', async () => {
    const [a, b, c] = await contacts();
    const members = [b, c, await user('ivy'), await user('jon')];
    const seen = members.map((m) => notices(m));
    for (const m of members.slice(2)) await a.lookup(m.username);
    const group = await a.createGroup('files', members.map((m) => m.username));
    await until(() => seen.every((n) => n.some((x) => x.kind === 'groupChanged' && x.change === 'create')), 30000, 'every member joins');
    const bytes = randomBytes(300_000); // 64 KiB chunks: 5
    log.length = 0;
    // What the relay answered to each upload: 201 stored, 200 already there.
    hook = async (entry, go) => {
      const r = await go();
      entry.status = r.status;
      return r;
    };
    const up = [];
    const { manifest, messageId } = await a.sendFileToGroup(group, new Blob([bytes]), { name: 'team.bin', onProgress: (p) => up.push(p.done) });
    eq(up.at(-1), 300_000);
    eq(puts().length, 5);
    eq(puts().filter((e) => e.status === 201).length, 5, 'the relay stored each chunk once');
    for (const m of members) {
      const msg = await recv(m);
      eq([msg.group, msg.contentType, msg.kind, msg.id, msg.from], [group, 2, 'file', messageId, a.userId]);
      eq(Array.from(msg.manifest), Array.from(manifest));
      eq(await sha256(await m.openAttachment(msg)), await sha256(new Blob([bytes])));
    }
    eq(puts().length, 5, 'opening uploads nothing');
    eq(log.filter((e) => e.method === 'GET').length, 20, 'each member fetched the 5 chunks');
    hook = null;
    // A group this device is not in: refused before anything goes up.
    log.length = 0;
    await throwsCode(() => a.sendFileToGroup('00'.repeat(16), new Blob([bytes])), 'NOT_GROUP_MEMBER');
    eq(log.length, 0);
  });

  test('files: teardown', async () => {
    globalThis.fetch = realFetch;
    for (const c of Object.values(users)) await c.logout();
  });
}
