// Search in the history (issue 14: an index kept encrypted at rest, no plaintext in
// IndexedDB). The index (searchindex.ts, a chunk loaded when the account opens) lives in
// the page's memory, next to the messages the model shows, and is stored in segments of
// at most 500 messages, each a record sealed with the account's storage key the way the
// history's records are (store.ts: sealed and written in the crypto worker), under a
// label of its own.
// - It follows every write of a message record (store.ts calls `wrote`): a message that
//   arrives, is sent, edited, deleted (for me or for everyone) or disappears changes it
//   at once in memory. The changed segments are written, in one transaction, once for a
//   burst: a second after a text left the index (deleted, edited, disappeared: vacuumed
//   first, so that its words are not in what is stored), ten seconds after one was only
//   added (at worst the next unlock adds it again from the history), and whenever the
//   tab is hidden or locks (flush). New messages go to the newest segment, so a burst
//   rewrites about 130 KB, not the whole index (2.6 MB at 10,000 messages).
// - At unlock the stored segments are opened instead of indexing the whole history
//   again, and checked against the records just read (by key and text hash): whatever
//   their last write missed (a tab closed before it) is put right. A segment that is
//   unreadable or of another format is deleted, and its texts indexed again from the
//   records; so is the single record of the first format (`s:index`).

import type { Account } from './backend/types';
import type { Msg } from './records';
import type * as SearchIndex from './searchindex';
import type { TextIndex } from './searchindex';
import type { RecordStore } from './store';
import { dec, enc } from './util';

const LABEL = 'sealpost/www/search/v1';
/** The index's segments' records, the segment number after it (`s:` keys: under a label of their own, store.ts). */
const SEGMENT_PREFIX = 's:index:';
/** The whole index in one record, as the first format stored it: deleted. */
const OLD_INDEX_KEY = 's:index';
/** A segment's number from its record key, or null for another key. */
function segmentOf(key: string): number | null {
  const n = key.startsWith(SEGMENT_PREFIX) ? key.slice(SEGMENT_PREFIX.length) : '';
  return /^[1-9][0-9]{0,8}$/.test(n) ? Number(n) : null;
}
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
  /** The stored segments until they were opened, by number. */
  private sealed = new Map<number, Uint8Array>();
  /** Records of the index to delete with the next write (an old format, an unreadable segment). */
  private drop = new Set<string>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** When the timer fires (ms). */
  private due = 0;
  private dirty = false;
  /** Keys written that the index has not taken in yet (`wrote`). */
  private behind = new Set<string>();
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
    for (const [k, v] of sealed) {
      const n = segmentOf(k);
      if (n !== null) this.sealed.set(n, v);
      else if (k === OLD_INDEX_KEY || k.startsWith(SEGMENT_PREFIX)) this.drop.add(k);
    }
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
    const opened = new Map<number, string>();
    for (const [n, v] of this.sealed) {
      try {
        opened.set(n, dec.decode(await this.account.openLocal(LABEL, v)));
      } catch {
        opened.set(n, ''); // unreadable: dropped by `load` (its number not used again), its texts indexed again below
      }
    }
    const { ix, dropped } = TextIndex.load(opened);
    for (const n of dropped) this.drop.add(SEGMENT_PREFIX + n);
    // Nothing stored yet: the first write stores the index built here.
    let change: Change = this.sealed.size === 0 ? 'added' : 'none';
    // Records to delete may hold texts that left the history since: deleted soon.
    if (this.drop.size > 0) change = 'removed';
    this.sealed.clear();
    // Checked against the history in one go (no await): a record written meanwhile
    // is in `live` already, and any later one reaches `wrote` with `ix` set.
    for (const [k, m] of this.live) change = stronger(change, apply(ix, k, m));
    for (const k of [...ix.keys()]) if (!this.live.has(k)) change = stronger(change, apply(ix, k, null));
    this.ix = ix;
    this.schedule(change);
  }

  /**
   * A record written (`null`: deleted), as store.ts is asked to. The index takes it in
   * on the next task (`catchUp`), not here: store.ts calls this on a message's way (a
   * sent one before it is handed to the worker, a received one before it is drawn), and
   * the index's work, 0.3 ms a message in issue 13's profile, is no part of that way.
   * `find` and `flush` catch up first, so nothing answers or is stored without it.
   */
  wrote(key: string, rec: unknown): void {
    if (!isMsgKey(key)) return;
    const m = rec as Msg | null;
    if (m) this.live.set(key, m);
    else this.live.delete(key);
    // Still opening: the check against `live` takes it in.
    if (!this.ix) return;
    if (this.behind.size === 0) setTimeout(() => this.catchUp(), 0);
    this.behind.add(key);
  }

  /** Brings the index in line with the records written since it last was (`live` holds what each is now). */
  private catchUp(): void {
    const ix = this.ix;
    if (!ix || this.behind.size === 0) return;
    let change: Change = 'none';
    for (const k of this.behind) change = stronger(change, apply(ix, k, this.live.get(k) ?? null));
    this.behind.clear();
    this.schedule(change);
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
    this.catchUp();
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

  /** Writes the changed segments now, if any (called before the tab lets go of the account). */
  flush(): Promise<void> {
    this.catchUp();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.writes = this.writes.catch(() => undefined).then(async () => {
      const ix = this.ix;
      if (!this.dirty || !ix) return;
      this.dirty = false;
      const drop = [...this.drop];
      this.drop.clear();
      const changed = await ix.changes();
      const entries: [string, Uint8Array | null][] = [
        ...drop.map((k): [string, null] => [k, null]),
        ...changed.map(([n, json]): [string, Uint8Array | null] => [SEGMENT_PREFIX + n, json === null ? null : enc.encode(json)]),
      ];
      if (entries.length === 0) return;
      try {
        await this.store.saveSealed(LABEL, entries);
      } catch (e) {
        // Written with the next change, or opened and checked at the next unlock.
        this.dirty = true;
        for (const k of drop) this.drop.add(k);
        for (const [n, json] of changed) if (json === null) this.drop.add(SEGMENT_PREFIX + n);
        ix.unwritten(changed.map(([n]) => n));
        throw e;
      }
    });
    return this.writes;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    // A catch-up still due would set the timer again; what it held is put right at the
    // next unlock, as anything a last write missed.
    this.behind.clear();
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
