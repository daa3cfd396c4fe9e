// Search in the history (issue 14: an index kept encrypted at rest, no plaintext in
// IndexedDB). The index (searchindex.ts, a chunk loaded when the account opens) lives in
// the page's memory, next to the messages the model shows, and is stored as one record
// sealed with the account's storage key the way the history's records are (store.ts:
// sealed and written in the crypto worker), under a label of its own.
// - It follows every write of a message record (store.ts calls `wrote`): a message that
//   arrives, is sent, edited, deleted (for me or for everyone) or disappears changes it
//   at once in memory. The sealed copy (the whole index: about 2.6 MB for 10,000
//   messages, docs/BENCHMARKS.md) is written once for a burst: a second after a text
//   left it (deleted, edited, disappeared: vacuumed first, so that its words are not in
//   what is stored), ten seconds after one was only added (at worst the next unlock
//   adds it again from the history), and whenever the tab is hidden or locks (flush).
// - At unlock the stored index is opened instead of indexing the whole history again,
//   and checked against the records just read (by key and text hash): whatever its last
//   copy missed (a tab closed before it was written) is put right. One that is missing,
//   unreadable or of another format is built again from the records.

import type { Account } from './backend/types';
import type { Msg } from './records';
import type * as SearchIndex from './searchindex';
import type { TextIndex } from './searchindex';
import type { RecordStore } from './store';
import { dec, enc } from './util';

const LABEL = 'sealpost/www/search/v1';
/** The index's record (an `s:` key: under a label of its own, store.ts). */
const INDEX_KEY = 's:index';
/** The sealed copy is written at the latest this long after a text left the index... */
const WRITE_REMOVED_MS = 1000;
/** ...or after texts were only added. */
const WRITE_ADDED_MS = 10_000;
/** Most results shown. */
const MAX_RESULTS = 100;

/** Direct (`m:`) and group (`gm:`) messages are searched. */
const isMsgKey = (key: string) => key.startsWith('m:') || key.startsWith('gm:');
/** What of a message is searched: its text (a file's name), none for a marker line or a deleted one. */
const searchedText = (m: Msg | null) => (m && !m.notice && !m.deleted && m.text ? m.text : null);

/** A message found, and whether it is in a group (then `peer` is the group's id). */
export interface Found {
  m: Msg;
  group: boolean;
}

export class HistorySearch {
  /** The messages as the model holds them, by record key. */
  private live = new Map<string, Msg>();
  private ix: TextIndex | null = null;
  private opening: Promise<void> | null = null;
  /** The stored index until it was opened. */
  private sealed: Uint8Array | undefined;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** When the timer fires (ms). */
  private due = 0;
  private dirty = false;
  /** Writes of the sealed copy, one after the other. */
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private account: Pick<Account, 'openLocal'>,
    private store: Pick<RecordStore, 'saveSealed'>,
    /** The index's chunk (model.ts: loaded through lazy.ts). */
    private engine: () => Promise<typeof SearchIndex>,
  ) {}

  /** At load: the records the model just read (the very objects it shows) and the sealed records of their own label. */
  loaded(records: [string, unknown][], sealed: Map<string, Uint8Array>): void {
    for (const [k, rec] of records) if (isMsgKey(k)) this.live.set(k, rec as Msg);
    this.sealed = sealed.get(INDEX_KEY);
    this.open();
  }

  private open(): Promise<void> {
    return (this.opening ??= this.openIndex().catch((e: unknown) => {
      this.opening = null; // the chunk did not load: tried again on the next search
      throw e;
    }));
  }

  private async openIndex(): Promise<void> {
    const { TextIndex } = await this.engine();
    let ix: TextIndex | null = null;
    if (this.sealed) {
      try {
        ix = TextIndex.load(dec.decode(await this.account.openLocal(LABEL, this.sealed)));
      } catch {
        // Unreadable, or of another format: built again from the history below.
      }
    }
    this.sealed = undefined;
    const added = !ix;
    ix ??= TextIndex.empty();
    // Checked against the history in one go (no await): a record written meanwhile
    // is in `live` already, and any later one reaches `wrote` with `ix` set.
    let change: Change = added ? 'added' : 'none';
    for (const [k, m] of this.live) change = stronger(change, apply(ix, k, m));
    for (const k of [...ix.keys()]) if (!this.live.has(k)) change = stronger(change, apply(ix, k, null));
    this.ix = ix;
    this.schedule(change);
  }

  /** A record written (`null`: deleted), as store.ts is asked to. */
  wrote(key: string, rec: unknown): void {
    if (!isMsgKey(key)) return;
    const m = rec as Msg | null;
    if (m) this.live.set(key, m);
    else this.live.delete(key);
    // Still opening: the check against `live` takes it in.
    if (this.ix) this.schedule(apply(this.ix, key, m));
  }

  /**
   * Messages with a word starting with each word of `query`, newest first; `null` while
   * the index is opening (`ready` says when to ask again).
   */
  find(query: string): Found[] | null {
    if (!this.ix) {
      void this.open().catch(() => undefined);
      return null;
    }
    const out: Found[] = [];
    for (const k of this.ix.find(query)) {
      const m = this.live.get(k);
      if (searchedText(m ?? null)) out.push({ m: m!, group: k.startsWith('gm:') });
    }
    return out.sort((a, b) => b.m.at - a.m.at).slice(0, MAX_RESULTS);
  }

  /** True once `find` can answer; false when the index could not be opened (its chunk did not load). */
  ready(): Promise<boolean> {
    return this.open().then(
      () => true,
      () => false,
    );
  }

  private schedule(change: Change) {
    if (change === 'none') return;
    this.dirty = true;
    const due = Date.now() + (change === 'removed' ? WRITE_REMOVED_MS : WRITE_ADDED_MS);
    if (this.timer && this.due <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.due = due;
    this.timer = setTimeout(() => void this.flush().catch(() => undefined), due - Date.now());
  }

  /** Writes the sealed copy now if it changed (called before the tab lets go of the account). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.writes = this.writes.catch(() => undefined).then(async () => {
      if (!this.dirty || !this.ix) return;
      this.dirty = false;
      try {
        await this.store.saveSealed(LABEL, INDEX_KEY, enc.encode(await this.ix.toJSON()));
      } catch (e) {
        this.dirty = true; // written with the next change, or opened and checked at the next unlock
        throw e;
      }
    });
    return this.writes;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** What a change did to the index: `removed` when a text left it (deleted, or replaced by an edit). */
type Change = 'none' | 'added' | 'removed';
const stronger = (a: Change, b: Change): Change => (a === 'removed' || b === 'removed' ? 'removed' : a === 'added' ? a : b);

/** Brings `key` in `ix` in line with `m`. */
function apply(ix: TextIndex, key: string, m: Msg | null): Change {
  const text = searchedText(m);
  if (text === null) return ix.remove(key) ? 'removed' : 'none';
  const had = ix.has(key);
  if (!ix.set(key, text)) return 'none';
  return had ? 'removed' : 'added';
}
