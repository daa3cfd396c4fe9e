#!/usr/bin/env node
// Search in the history, its index kept sealed at rest (issue 14; www/src/historysearch.ts):
// - bob finds alice's messages by the start of their words; a message he deleted for
//   himself, one alice deleted for everyone and one that disappeared are not found;
// - no word of any of them is in IndexedDB in the clear: every store of every database
//   of the origin, raw values scanned (the scan itself checked on the username, which is
//   kept in the clear);
// - after a reload the same search finds the same, from the stored index: locked right
//   before and after, its sealed record is byte for byte the one written before (opened,
//   checked against the history, not built and written again);
// - an unreadable index is built again from the history (and written anew).
//
//   node www/tests/search.mjs          (also run as part of www/tests/e2e.mjs)

import { launchBrowser, lock, newContext, standalone, startRelay, unlockIfAsked } from './harness.mjs';
import { register, startChat } from './devices.mjs';
import { menu, msg, send } from './phone.mjs';

const PASSWORD = 'correct horse battery staple';
const T = { timeout: 60_000 };
const KEPT = 'zebracornet stays findable';
const FOR_ME = 'quokkaflute deleted here';
const FOR_ALL = 'ibexoboe deleted for everyone';
const GONE = 'narwhalpiccolo disappears';
/** Words that must never be in IndexedDB in the clear. */
const WORDS = ['zebracornet', 'findable', 'quokkaflute', 'ibexoboe', 'narwhalpiccolo'];

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

/** The texts of the search results for `q` (waits for the index if it is still opening). */
async function search(page, q) {
  await page.evaluate(() => (location.hash = '#/'));
  await page.fill('[data-testid=search]', q);
  await page.locator('[data-testid=search-result], [data-testid=search-none]').first().waitFor(T);
  const texts = await page.locator('[data-testid=search-result]').allInnerTexts();
  await page.fill('[data-testid=search]', '');
  return texts;
}

/**
 * Runs in the page: every database of the origin, every store, every raw value (strings,
 * bytes as UTF-8 and as Latin-1, objects walked), lower-cased; which of `words` occur where.
 */
function scanIndexedDb(words) {
  const req = (r) => new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  const texts = (v, out = []) => {
    if (typeof v === 'string') out.push(v);
    else if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
      const b = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      out.push(new TextDecoder().decode(b));
      let s = '';
      for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
      out.push(s);
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        out.push(k);
        texts(x, out);
      }
    }
    return out;
  };
  return (async () => {
    const hits = [];
    let values = 0;
    for (const { name } of await indexedDB.databases()) {
      const db = await req(indexedDB.open(name));
      for (const store of db.objectStoreNames) {
        const os = db.transaction(store).objectStore(store);
        const [keys, vals] = await Promise.all([req(os.getAllKeys()), req(os.getAll())]);
        vals.forEach((v, i) => {
          values++;
          const all = texts([keys[i], v]).join('\n').toLowerCase();
          for (const w of words) if (all.includes(w)) hits.push(`${name}/${store}/${String(keys[i]).slice(0, 12)}: ${w}`);
        });
      }
      db.close();
    }
    return { hits, values };
  })();
}

/**
 * Runs in the page: the search index's sealed records (`s:index:<n>`, and the first
 * format's `s:index`) as `{ key: [bytes] }`, or null when there are none; with `write`,
 * each of them is overwritten with those bytes first.
 */
function sealedIndex(write) {
  const req = (r) => new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  return (async () => {
    const meta = await req(indexedDB.open('sealpost-www-meta'));
    const { userId } = await req(meta.transaction('meta').objectStore('meta').get('current'));
    meta.close();
    return `sealpost-www-${userId.slice(0, 16)}`;
  })().then((name) => new Promise((resolve, reject) => {
    const open = indexedDB.open(name);
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction('records', write ? 'readwrite' : 'readonly');
      const found = {};
      const cursor = tx.objectStore('records').openCursor(IDBKeyRange.bound('s:index', 's:index\uffff'));
      cursor.onsuccess = () => {
        const c = cursor.result;
        if (!c) return;
        if (write) c.update(new Uint8Array(write));
        found[c.key] = write ? [...write] : Array.from(c.value);
        c.continue();
      };
      tx.oncomplete = () => {
        db.close();
        resolve(Object.keys(found).length > 0 ? found : null);
      };
      tx.onerror = () => reject(tx.error);
    };
  }));
}

export async function runSearch(r, { relayBin, problems }) {
  const relay = await startRelay(relayBin);
  const browser = await launchBrowser();
  try {
    const [a, b] = await Promise.all(['search-A', 'search-B'].map(async (name) => (await newContext(browser, relay.url, problems, name)).newPage()));
    await register(a, 'search-a');
    await register(b, 'search-b');
    await startChat(a, 'search-b');

    await r.step('search: found by the start of its words; a message deleted here, one deleted for everyone and one that disappeared are not found', async () => {
      for (const t of [KEPT, FOR_ME, FOR_ALL]) await send(a, t);
      await a.locator('[data-testid=msg][data-state=delivered]', { hasText: FOR_ALL }).waitFor(T);
      await b.click('[data-testid=conv-search-a]', T);
      await msg(b, FOR_ALL).waitFor(T);
      b.once('dialog', (d) => d.accept());
      await menu(b, FOR_ME, 'delete-me');
      await msg(b, FOR_ME).waitFor({ state: 'detached' });
      a.once('dialog', (d) => d.accept());
      await menu(a, FOR_ALL, 'delete-everyone');
      await b.locator('[data-testid=deleted]').last().waitFor(T);
      await b.selectOption('[data-testid=timer]', '30');
      await a.locator('[data-testid=notice]', { hasText: 'set disappearing messages to 30 seconds' }).waitFor(T);
      await send(a, GONE);
      await msg(b, GONE).waitFor(T);
      expect((await search(b, 'NARWHALPIC')).length === 1, 'the disappearing message is found before it disappears');
      await b.click('[data-testid=conv-search-a]', T);
      await msg(b, KEPT).waitFor(T);
      await msg(b, GONE).waitFor({ state: 'detached', timeout: 90_000 });
      await b.selectOption('[data-testid=timer]', '0');
      const kept = await search(b, 'zebra FIND');
      expect(kept.length === 1 && kept[0].includes(KEPT), `"zebra FIND" finds the kept message: ${JSON.stringify(kept)}`);
      for (const q of ['quokkaflute', 'ibexoboe', 'narwhalpiccolo', 'cornet']) expect((await search(b, q)).length === 0, `"${q}" finds nothing`);
    });

    let stored = null;
    await r.step('search: no word of the messages in IndexedDB in the clear, the index stored sealed', async () => {
      await lock(b); // writes what waits, the index too
      stored = await b.evaluate(sealedIndex, null);
      expect(stored && Object.keys(stored).every((k) => /^s:index:[1-9][0-9]*$/.test(k) && stored[k].length > 0), `the index is stored in segments: ${Object.keys(stored ?? {})}`);
      const { hits, values } = await b.evaluate(scanIndexedDb, [...WORDS, 'search-b']);
      expect(values > 10, `only ${values} values scanned`);
      expect(hits.some((h) => h.endsWith('search-b')), 'the scan finds the username, which is kept in the clear');
      const leaks = hits.filter((h) => !h.endsWith('search-b'));
      expect(leaks.length === 0, `in the clear: ${leaks.join(', ')}`);
      await unlockIfAsked(b, PASSWORD);
    });

    await r.step('search: after a reload, found again from the stored index (not built again)', async () => {
      await b.reload();
      await unlockIfAsked(b, PASSWORD);
      const kept = await search(b, 'zebracor');
      expect(kept.length === 1 && kept[0].includes(KEPT), `found after the reload: ${JSON.stringify(kept)}`);
      for (const q of ['quokkaflute', 'ibexoboe', 'narwhalpiccolo']) expect((await search(b, q)).length === 0, `"${q}" finds nothing after the reload`);
      await lock(b);
      const again = await b.evaluate(sealedIndex, null);
      expect(JSON.stringify(again) === JSON.stringify(stored), 'the stored index was written again although nothing changed');
    });

    await r.step('search: an unreadable index is built again from the history', async () => {
      await b.evaluate(sealedIndex, [1, 2, 3, 4]);
      await unlockIfAsked(b, PASSWORD);
      const kept = await search(b, 'ZEBRACORNET');
      expect(kept.length === 1 && kept[0].includes(KEPT), `found with a rebuilt index: ${JSON.stringify(kept)}`);
      expect((await search(b, 'quokkaflute')).length === 0, 'a deleted message is not in the rebuilt index');
      await lock(b);
      const rebuilt = await b.evaluate(sealedIndex, null);
      const gone = Object.keys(stored).filter((k) => k in rebuilt);
      expect(rebuilt && gone.length === 0 && Object.values(rebuilt).every((v) => v.length > 4), `the rebuilt index is stored, the unreadable segments deleted: ${Object.keys(rebuilt ?? {})}`);
      const { hits } = await b.evaluate(scanIndexedDb, WORDS);
      expect(hits.length === 0, `in the clear: ${hits.join(', ')}`);
    });
  } finally {
    await browser.close().catch(() => undefined);
    await relay.stop();
  }
}

await standalone(import.meta.url, 'search', runSearch);
