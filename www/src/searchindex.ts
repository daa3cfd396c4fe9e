// The search index itself, without I/O (a chunk of its own, loaded when an account
// opens: src/lazy.ts). MiniSearch is an inverted index made for full-text search in the
// browser (a radix tree of terms, prefix search, add/discard one document at a time,
// JSON in and out; 7.x, about 7 KiB gzipped, no dependencies): the terms of each
// message's text, by record key. Next to it, a hash of each indexed text, so that the
// history read at unlock can be checked against the stored index without indexing it
// all again (historysearch.ts).

import MiniSearch, { type AsPlainObject, type Options } from 'minisearch';

/** Bumped when what is indexed, or how, changes: an index of another format is built again. */
const FORMAT = 1;

interface Doc {
  id: string;
  text: string;
}

/**
 * Every word of a query must start a word of the message. Not vacuumed on its own:
 * vacuumed before every serialization instead (toJSON), so that a discarded message's
 * terms are never in what is stored.
 */
const OPTIONS: Options<Doc> = { fields: ['text'], autoVacuum: false, searchOptions: { prefix: true, combineWith: 'AND' } };

/** FNV-1a over the UTF-16 code units: enough to notice that a stored text changed. */
export function textHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** What is stored (sealed): the format, each key's text hash, MiniSearch's own JSON. */
interface Stored {
  v: number;
  docs: Record<string, number>;
  ms: AsPlainObject;
}

export class TextIndex {
  private constructor(
    private ms: MiniSearch<Doc>,
    /** Text hash by record key, of every indexed message. */
    private docs: Map<string, number>,
  ) {}

  static empty(): TextIndex {
    return new TextIndex(new MiniSearch<Doc>(OPTIONS), new Map());
  }

  /** An index as `toJSON` wrote it; throws on anything else (the caller builds a new one). */
  static load(json: string): TextIndex {
    const s = JSON.parse(json) as Stored;
    if (s?.v !== FORMAT || typeof s.docs !== 'object' || s.docs === null) throw new Error('not a search index of this format');
    const ix = new TextIndex(MiniSearch.loadJS<Doc>(s.ms, OPTIONS), new Map(Object.entries(s.docs)));
    if (ix.docs.size !== ix.ms.documentCount || [...ix.docs.keys()].some((k) => !ix.ms.has(k))) throw new Error('a search index that disagrees with itself');
    return ix;
  }

  has(key: string): boolean {
    return this.docs.has(key);
  }

  keys(): IterableIterator<string> {
    return this.docs.keys();
  }

  /** Indexes `text` under `key` (replacing what was there); false when it was indexed already. */
  set(key: string, text: string): boolean {
    const h = textHash(text);
    const had = this.docs.get(key);
    if (had === h) return false;
    if (had !== undefined) this.ms.discard(key);
    this.ms.add({ id: key, text });
    this.docs.set(key, h);
    return true;
  }

  /** Takes `key` out; false when it was not in. */
  remove(key: string): boolean {
    if (!this.docs.delete(key)) return false;
    this.ms.discard(key);
    return true;
  }

  /** Keys of the messages that have a word starting with each word of `query`. */
  find(query: string): string[] {
    return this.ms.search(query).map((r) => String(r.id));
  }

  /**
   * What to store: without a trace of what was removed or replaced (vacuumed first, again
   * until nothing is left: the vacuum pauses between batches of terms, and a text removed
   * meanwhile keeps the terms already passed).
   */
  async toJSON(): Promise<string> {
    while (this.ms.dirtCount > 0) await this.ms.vacuum();
    return JSON.stringify({ v: FORMAT, docs: Object.fromEntries(this.docs), ms: this.ms.toJSON() } satisfies Stored);
  }
}
