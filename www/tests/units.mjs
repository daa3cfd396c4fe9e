#!/usr/bin/env node
// Unit tests of the PWA's I/O-free rules, bundled with esbuild (Vite's own) and run in
// Node: where an arriving message goes in its conversation (order.ts: a direct channel
// opened mid-burst hands over later messages before earlier ones still on the relay) and
// the held amendments' bound (held.ts: 256 per conversation, the oldest dropped), and the
// export file's refusals (exportfile.ts, PROTOCOL.md 29; Node's WebCrypto), contact
// names as kept and shared (records.ts cleanName), and the search index (searchindex.ts:
// what it stores keeps nothing of a removed or replaced text; historysearch.ts: it follows
// the history's writes, and a stored copy that is stale or unreadable is put right).
//
//   node www/tests/units.mjs          (also part of www/tests/e2e.mjs)

import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** The modules, compiled in memory. */
async function load() {
  const out = await build({
    stdin: { contents: "export * from './order.ts'; export * from './held.ts'; export * from './exportfile.ts'; export { cleanName, noticeText } from './records.ts'; export { TextIndex, SEGMENT_DOCS } from './searchindex.ts'; export { HistorySearch } from './historysearch.ts';", resolveDir: src, loader: 'ts' },
    bundle: true,
    format: 'esm',
    write: false,
    platform: 'neutral',
  });
  return import(`data:text/javascript;base64,${Buffer.from(out.outputFiles[0].text).toString('base64')}`);
}

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

/** Runs the checks on `r` (a harness runner). */
export async function runUnits(r) {
  const { ArrivalClock, arrange, placeOf, newer, HeldAmendments, sealExport, openExport, peekExport, cleanName, TextIndex, SEGMENT_DOCS, HistorySearch, noticeText } = await load();
  const texts = (list) => list.map((m) => m.text).join(' ');

  await r.step('units: a sender\'s messages show in the order it sent them, whatever path brought them first', async () => {
    // B sends b1..b6 over seconds 10..15; the relay has b1, b2; a direct channel opens and
    // carries b5, b6; A replies; then the relay's b3, b4 arrive.
    const b = (n, extra = {}) => ({ text: `b${n}`, dir: 'in', sentAt: 9 + n, fromDevice: 'B1', ...extra });
    const list = [];
    const arrive = (m) => list.splice(placeOf(list, m), 0, m);
    for (const m of [b(1), b(2), b(5), b(6), { text: 'a1', dir: 'out' }, b(3), b(4)]) arrive(m);
    expect(texts(list) === 'b1 b2 b3 b4 b5 b6 a1', `got ${texts(list)}`);
    // Markers and this device's own messages are never moved; messages of the same second
    // keep the order they came in (there is nothing finer to go by).
    const l2 = [];
    for (const m of [b(1), { text: 'note', dir: 'in', notice: 'missing', sentAt: 99 }, b(1, { text: 'b1bis' }), b(0)]) l2.splice(placeOf(l2, m), 0, m);
    expect(texts(l2) === 'b0 b1 note b1bis', `same second: got ${texts(l2)}`);
    // Each writing device is ordered by its own clock, never against another's (this
    // account's other devices, or the contact's second device with a clock behind).
    const own = (n) => ({ text: `o${n}`, dir: 'out', otherDevice: true, sentAt: 100 + n, fromDevice: 'A2' });
    const l3 = [];
    for (const m of [own(2), b(1), own(1), b(2, { fromDevice: 'B2', sentAt: 1 })]) l3.splice(placeOf(l3, m), 0, m);
    expect(texts(l3) === 'o1 o2 b1 b2', `per device: got ${texts(l3)}`);
    // After a reload (stored by arrival time) the same order comes back.
    const stored = [b(1), b(2), b(5), b(6), { text: 'a1', dir: 'out' }, b(3), b(4)].map((m, i) => ({ ...m, at: 1000 + i }));
    expect(texts(arrange(stored.reverse())) === 'b1 b2 b3 b4 b5 b6 a1', 'arrange after a reload');
  });

  await r.step('units: one device\'s messages of the same second show by their seq, whatever order the relay gave', async () => {
    // A1's #1..#4 in one second: #1's deposit failed and went after the others, and the
    // relay handed #3 before #2. Each copy carries A1's number for it (PROTOCOL.md 17.2).
    const a = (n) => ({ text: `#${n}`, dir: 'in', sentAt: 7, seq: 40 + n, fromDevice: 'A1' });
    const list = [];
    for (const m of [a(3), a(2), a(4), a(1)]) list.splice(placeOf(list, m), 0, m);
    expect(texts(list) === '#1 #2 #3 #4', `got ${texts(list)}`);
    // The same after a reload, and a later second still goes after them.
    const stored = [a(3), a(2), a(4), a(1), { ...a(5), sentAt: 8, seq: 1 }].map((m, i) => ({ ...m, at: 1000 - i }));
    expect(texts(arrange(stored)) === '#1 #2 #3 #4 #5', `after a reload: ${texts(arrange(stored))}`);
  });

  await r.step('units: one member device\'s group messages of one second show by their chain order, whatever order the relay gave', async () => {
    // A group message's seq is its chain's epoch * 2^32 + counter + 1 (PROTOCOL.md 27.6):
    // #1, #2 in the chain of key epoch 1, then a rekey in the same second, #3, #4 in the
    // chain of epoch 3 (counting from 0 again). The relay hands them over last first.
    const seq = (epoch, counter) => epoch * 2 ** 32 + counter + 1;
    const g = (n, epoch, counter) => ({ text: `#${n}`, dir: 'in', sentAt: 9, seq: seq(epoch, counter), fromDevice: 'A1' });
    const sent = [g(1, 1, 0), g(2, 1, 1), g(3, 3, 0), g(4, 3, 1)];
    const list = [];
    for (const m of [...sent].reverse()) list.splice(placeOf(list, m), 0, m);
    expect(texts(list) === '#1 #2 #3 #4', `got ${texts(list)}`);
    // After a reload, arrival stamps that tie (Date.now() in one millisecond) in any order.
    const stored = [...sent].reverse().map((m) => ({ ...m, at: 1000 }));
    expect(texts(arrange(stored)) === '#1 #2 #3 #4', `after a reload: ${texts(arrange(stored))}`);
  });

  await r.step('units: one device\'s messages handled in the same millisecond keep their order after a reload', async () => {
    // A1 sends #048 and #049 within one second; A2 handles both copies within one
    // millisecond. Stored under random keys, they may come back from storage in either
    // order: only distinct arrival stamps keep #048 first (the devices e2e once showed
    // #049 before #048 on A2 when both were stamped with Date.now()).
    const clock = new ArrivalClock(() => 5_000);
    const copy = (n) => ({ text: `A1 #${n}`, dir: 'out', otherDevice: true, sentAt: 5, fromDevice: 'A1', at: clock.next() });
    const first = copy('048');
    const second = copy('049');
    expect(second.at > first.at, `distinct stamps: ${first.at}, ${second.at}`);
    expect(texts(arrange([second, first])) === 'A1 #048 A1 #049', `after a reload: ${texts(arrange([second, first]))}`);
    // A stored stamp is followed; one ahead of the clock is not (no run-away stamps).
    const later = new ArrivalClock(() => 5_000);
    later.seen(4_999);
    later.seen(4_999);
    expect(later.next() === 5_000 && later.next() === 5_001, 'after a stored stamp');
    const ahead = new ArrivalClock(() => 5_000);
    ahead.seen(9_000_000);
    expect(ahead.next() === 5_000, 'a stamp from the future is not followed');
  });

  await r.step('units: (sent_at, msg_id) order decides between two edits, reactions or timers', async () => {
    expect(newer({ at: 2, id: '00' }, { at: 1, id: 'ff' }), 'a later second wins');
    expect(newer({ at: 1, id: 'b0' }, { at: 1, id: 'a0' }) && !newer({ at: 1, id: 'a0' }, { at: 1, id: 'b0' }), 'the same second: the larger id');
    expect(!newer({ at: 1, id: 'a0' }, { at: 1, id: 'a0' }), 'the same one again does not replace itself');
    expect(newer({ at: 0, id: '' }), 'anything beats nothing');
  });

  await r.step('units: at most 256 amendments wait per conversation, the oldest dropped, other conversations untouched', async () => {
    const held = new HeldAmendments();
    const a = (i, conversation = 'c1') => ({ msgId: `m${i}`, target: `t${i % 7}`, conversation });
    for (let i = 0; i < 10; i++) expect(held.add(a(i, 'c2')).length === 0, 'room in c2');
    let dropped = [];
    for (let i = 0; i < 300; i++) dropped.push(...held.add(a(i)));
    expect(held.count('c1') === 256 && held.count('c2') === 10, `counts ${held.count('c1')}, ${held.count('c2')}`);
    expect(dropped.length === 44 && dropped.every((d, i) => d.msgId === `m${i}`), 'the 44 oldest of c1 went, oldest first');
    expect(held.add(a(299)).length === 0 && held.count('c1') === 256, 'a replay of a held one is not held twice');
    // What waits for a target comes out in the order it came, and leaves the count.
    const t3 = held.take('t3');
    expect(t3.length > 0 && t3.every((h) => h.target === 't3') && t3.every((h, i) => i === 0 || Number(h.msgId.slice(1)) > Number(t3[i - 1].msgId.slice(1))), 'take: in order');
    expect(held.take('t3').length === 0, 'taken once');
    expect(held.count('c1') + held.count('c2') === 266 - t3.length, 'counts follow take');
  });

  await r.step('units: a contact name loses control and direction characters and fits what the package shares (64 characters, 96 UTF-8 bytes)', async () => {
    expect(cleanName('  Quinn\u202e the\n Builder ') === 'Quinn the Builder', 'cleaned');
    expect(cleanName('a'.repeat(70)) === 'a'.repeat(64), '64 characters');
    const wide = cleanName('🐝'.repeat(40));
    expect(wide === '🐝'.repeat(24) && new TextEncoder().encode(wide).length === 96, `96 bytes: ${wide.length}`);
    expect(cleanName('\u202e\u2066') === '', 'nothing left is no name');
  });

  await r.step('units: the export file (PROTOCOL.md 29) opens only with its password; every cut or changed part is refused with its code', async () => {
    const history = new TextEncoder().encode(JSON.stringify({ v: 1, contacts: [{ userId: 'u', username: 'bob', name: 'Bob B' }], messages: [] }));
    const uid = 'ab'.repeat(32);
    const file = await sealExport('alice', uid, 'a long file password', history);
    const head = peekExport(file);
    expect(head.username === 'alice' && head.userId === uid && head.iterations === 600000 && head.headerLen === 32 + 1 + 5 + 64, 'the header');
    const got = await openExport(file, 'a long file password');
    expect(new TextDecoder().decode(got.history) === new TextDecoder().decode(history), 'round trip');
    const code = async (bytes, password = 'a long file password') => {
      try {
        await openExport(bytes, password);
        return 'opened';
      } catch (e) {
        return e.code;
      }
    };
    expect((await code(file, 'a long file passwore')) === 'EXPORT_WRONG_PASSWORD', 'a wrong password');
    const flip = (at) => {
      const b = Uint8Array.from(file);
      b[at] ^= 1;
      return b;
    };
    const H = head.headerLen;
    // Magic; salt, count and user id (in the derivation); exported_at and username (in the
    // box's associated data); nonce; ciphertext; tag.
    const cases = [[0, 'EXPORT_NOT_SEALPOST'], [4, 'EXPORT_WRONG_PASSWORD'], [23, 'EXPORT_WRONG_PASSWORD'], [31, 'EXPORT_DAMAGED'], [34, 'EXPORT_DAMAGED'], [40, 'EXPORT_WRONG_PASSWORD'], [H - 1, 'EXPORT_WRONG_PASSWORD'], [H, 'EXPORT_DAMAGED'], [H + 13, 'EXPORT_DAMAGED'], [file.length - 1, 'EXPORT_DAMAGED']];
    for (const [at, want] of cases) expect((await code(flip(at))) === want, `byte ${at} changed: ${await code(flip(at))}, not ${want}`);
    // A count out of range is refused before any derivation.
    const slow = Uint8Array.from(file);
    new DataView(slow.buffer).setUint32(20, 0xffffffff);
    expect((await code(slow)) === 'EXPORT_DAMAGED', 'count out of range');
    for (const n of [0, 3, 4, 32, H - 1, H + 27]) expect((await code(file.subarray(0, n))) === (n < 4 ? 'EXPORT_NOT_SEALPOST' : 'EXPORT_DAMAGED'), `cut to ${n} bytes`);
    expect((await code(file.subarray(0, file.length - 1))) === 'EXPORT_DAMAGED', 'one byte short');
    // Sealed right, but not a history: refused before a restore would log in.
    expect((await code(await sealExport('alice', uid, 'a long file password', new TextEncoder().encode('[]')))) === 'EXPORT_DAMAGED', 'not a history');
  });

  await r.step('units: the search index finds by word starts, and what it stores keeps nothing of a removed or replaced text', async () => {
    const ix = TextIndex.empty();
    ix.set('m:1', 'Zebracornet at noon');
    ix.set('m:2', 'quokkaflute tonight');
    ix.set('gm:3', 'noon quokkas');
    expect(!ix.set('m:1', 'Zebracornet at noon'), 'the same text again is no change');
    const find = (i, q) => i.find(q).sort().join(' ');
    expect(find(ix, 'NOON') === 'gm:3 m:1', `noon: ${find(ix, 'NOON')}`);
    expect(find(ix, 'quokka noo') === 'gm:3', `every word must start a word: ${find(ix, 'quokka noo')}`);
    expect(find(ix, 'cornet') === '', 'the middle of a word is not a start');
    ix.remove('m:2');
    ix.set('m:1', 'edited away');
    // Stored before any search (a search drops the removed texts' terms it meets).
    const changed = await ix.changes();
    expect(changed.length === 1 && changed[0][0] === 1, `one segment: ${JSON.stringify(changed.map(([n]) => n))}`);
    const json = changed[0][1];
    for (const w of ['quokkaflute', 'zebracornet']) expect(!json.toLowerCase().includes(w), `${w} is still in what is stored`);
    expect((await ix.changes()).length === 0, 'nothing changed since');
    expect(find(ix, 'quokkaflute') === '' && find(ix, 'zebracornet') === '' && find(ix, 'edited') === 'm:1', 'removed and replaced texts are not found');
    const { ix: back, dropped } = TextIndex.load(new Map([[1, json]]));
    expect(dropped.length === 0 && find(back, 'noon') === 'gm:3' && find(back, 'edit') === 'm:1', 'the stored index finds the same');
    expect(!back.set('m:1', 'edited away') && back.set('m:1', 'edited again'), 'text hashes come back with it');
    for (const bad of ['{}', '[]', 'null', 'not json', JSON.stringify({ ...JSON.parse(json), v: 1 }), JSON.stringify({ ...JSON.parse(json), docs: { 'm:9': 1 } })]) {
      const { ix: none, dropped: d } = TextIndex.load(new Map([[1, json], [4, bad]]));
      expect(d.join() === '4' && find(none, 'noon') === 'gm:3', `loaded: ${bad.slice(0, 40)}`);
    }
    // Two segments that hold the same key: the later is dropped (its texts come back from the history).
    expect(TextIndex.load(new Map([[1, json], [2, json]])).dropped.join() === '2', 'a key held twice');
    // A text removed while the vacuum before a write is under way (it pauses between
    // batches of 1,000 terms): none of its words is in what that write stores.
    const big = TextIndex.empty();
    for (let i = 0; i < 400; i++) big.set(`m:${i}`, `w${i}x y${i}z v${i}q`);
    big.set('m:late', 'aardvarkwaltz');
    big.remove('m:0');
    const writing = big.changes();
    big.remove('m:late');
    const stored = await writing;
    expect(stored.length === 1 && !stored[0][1].includes('aardvarkwaltz'), 'a text removed during the vacuum is in what is stored');
    expect((await big.changes()).length === 1, 'and the segment is written again');
  });

  await r.step('units: the search index is stored in segments: a new message rewrites the newest, a deletion only its own', async () => {
    const ix = TextIndex.empty();
    for (let i = 0; i < 2 * SEGMENT_DOCS + 200; i++) ix.set(`m:${i}`, `word${i} common`);
    const nums = (c) => c.map(([n, j]) => `${n}${j === null ? '-' : ''}`).join(' ');
    expect(nums(await ix.changes()) === '1 2 3', 'three segments');
    ix.set('m:new', 'fresh arrival');
    expect(nums(await ix.changes()) === '3', 'a new message: the newest segment only');
    ix.remove('m:5');
    ix.set('m:6', 'edited');
    expect(nums(await ix.changes()) === '1', 'a deletion and an edit in the first: that segment only');
    for (let i = SEGMENT_DOCS; i < 2 * SEGMENT_DOCS; i++) ix.remove(`m:${i}`);
    expect(nums(await ix.changes()) === '2-', 'a segment left empty is deleted');
    for (let i = 0; i < SEGMENT_DOCS; i++) ix.set(`n:${i}`, `later${i}`);
    expect(nums(await ix.changes()) === '3 4', 'the newest fills up, then a new number (2 is not used again)');
    expect(ix.find('common').length === SEGMENT_DOCS + 198, `found in every segment: ${ix.find('common').length}`);
  });

  await r.step('units: search follows every write of the history, stores no word of what left it, and puts a stale or unreadable stored index right', async () => {
    const LABEL = 'sealpost/www/search/v1';
    // Sealing is the worker's (storeRecords); here what would be sealed is kept as it is.
    const account = {
      openLocal: async (label, data) => {
        if (label !== LABEL || data[0] === 0xff) throw Object.assign(new Error('cannot open'), { code: 'DECRYPT_FAILED' });
        return data;
      },
    };
    const writes = [];
    const store = {
      saveSealed: async (label, entries) => {
        expect(label === LABEL, `label ${label}`);
        writes.push(entries.map(([k, d]) => [k, d === null ? null : new TextDecoder().decode(d)]));
      },
    };
    const engine = async () => ({ TextIndex });
    const bytes = (v) => (typeof v === 'string' ? new TextEncoder().encode(v) : v);
    const keeper = (records, stored = []) => {
      const k = new HistorySearch(account, store, engine);
      k.loaded(records, new Map(stored.filter(([, v]) => v !== null).map(([key, v]) => [key, bytes(v)])));
      return k;
    };
    const keys = (w) => w.map(([k, v]) => `${k}${v === null ? '-' : ''}`).join(' ');
    const found = (k, q) => k.find(q).map((f) => (f.group ? `g:${f.m.id}` : f.m.id)).join(' ');
    const m = (id, text, extra = {}) => ({ id, peer: 'bob', dir: 'in', text, at: id.charCodeAt(0), state: 'delivered', ...extra });
    const a = m('a', 'zebracornet one');
    const b = m('b', 'quokkaflute two');
    const g = m('g', 'ibexoboe in a group', { peer: 'grp' });
    const n = m('n', 'zebracornet set a timer', { notice: 'timer' });
    const one = keeper([['m:a', a], ['m:b', b], ['gm:g', g], ['m:n', n], ['c:x', { userId: 'x' }]]);
    expect(one.find('zebra') === null, 'no answer before the index opened');
    expect(await one.ready(), 'the index opened');
    expect(found(one, 'ZEBRA') === 'a' && found(one, 'ibex') === 'g:g', `found: ${found(one, 'ZEBRA')} / ${found(one, 'ibex')}`);
    one.wrote('m:a', { ...a, text: 'edited words' });
    one.wrote('m:b', { ...b, text: '', deleted: true });
    one.wrote('gm:g', null);
    one.wrote('m:e', m('e', 'narwhalpiccolo arrives'));
    expect(found(one, 'zebracornet quokkaflute ibexoboe') === '' && found(one, 'edit') === 'a' && found(one, 'narwhal') === 'e', 'edits, deletions and arrivals are searched at once');
    await one.flush();
    one.stop();
    const stored = writes.at(-1);
    expect(writes.length === 1 && keys(stored) === 's:index:1', `one write of the index: ${JSON.stringify(writes.map(keys))}`);
    for (const w of ['zebracornet', 'quokkaflute', 'ibexoboe']) expect(!stored[0][1].includes(w), `${w} is in the stored index`);
    // Unlock: the history as now stored, the index as it was written: opened, and not written again.
    const now = [['m:a', { ...a, text: 'edited words' }], ['m:b', { ...b, text: '', deleted: true }], ['m:e', m('e', 'narwhalpiccolo arrives')]];
    const two = keeper(now, stored);
    await two.ready();
    await two.flush();
    expect(writes.length === 1 && found(two, 'narwhal') === 'e', 'an index that agrees with the history is opened as it is');
    // The history moved on after the index's last write (a tab closed before it): put right, and written.
    const three = keeper([now[0], ['m:f', m('f', 'okapi oboe')]], stored);
    await three.ready();
    expect(found(three, 'okapi') === 'f' && found(three, 'narwhal') === '', 'a stale index is put right');
    await three.flush();
    expect(writes.length === 2 && keys(writes[1]) === 's:index:1' && !writes[1][0][1].includes('narwhal'), 'and written without the message gone meanwhile');
    // Unreadable (or another format): its record deleted, its texts indexed again from the history.
    for (const bad of [Uint8Array.of(0xff, 1, 2), 'not json', '{"v":0}']) {
      const k = keeper(now, [['s:index:1', bad]]);
      expect((await k.ready()) && found(k, 'edited') === 'a', `rebuilt from ${bad}`);
      await k.flush();
      expect(keys(writes.at(-1)) === 's:index:1- s:index:2', `the bad segment deleted, a new one written: ${keys(writes.at(-1))}`);
      k.stop();
    }
    // The first format's single record (it may hold words of texts deleted since): deleted.
    const old = keeper(now, [['s:index', '{"v":1,"docs":{},"ms":{}}'], ...stored]);
    await old.ready();
    await old.flush();
    expect(keys(writes.at(-1)) === 's:index-', `the old record deleted: ${keys(writes.at(-1))}`);
    old.stop();
    // A write that fails is tried again with the next one, deletions included.
    let fail = true;
    const flaky = { saveSealed: async (label, entries) => (fail ? Promise.reject(new Error('disk full')) : store.saveSealed(label, entries)) };
    const four = new HistorySearch(account, flaky, engine);
    four.loaded(now, new Map([['s:index:7', bytes('junk')]]));
    await four.ready();
    let threw = false;
    await four.flush().catch(() => (threw = true));
    fail = false;
    four.wrote('m:h', m('h', 'hippo'));
    await four.flush();
    expect(threw && keys(writes.at(-1)) === 's:index:7- s:index:8', `retried: ${keys(writes.at(-1))}`);
    for (const k of [two, three, four]) k.stop();
  });

  await r.step('units: an account the directory does not know is said as such, not as a forged message', async () => {
    const gone = noticeText({ kind: 'unreachable', username: 'zoe' });
    expect(gone.includes('zoe') && gone.includes('cannot be delivered') && !gone.startsWith('Security warning'), gone);
    const forged = noticeText({ kind: 'security', username: 'zoe', detail: 'x' });
    expect(forged.startsWith('Security warning'), forged);
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { runner } = await import('./harness.mjs');
  const r = runner();
  await runUnits(r);
  process.exit(r.summary() ? 1 : 0);
}
