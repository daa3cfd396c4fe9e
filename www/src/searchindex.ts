// The search index itself, without I/O (a chunk of its own, loaded when an account
// opens: src/lazy.ts). MiniSearch is an inverted index made for full-text search in the
// browser (a radix tree of terms, prefix search, add/discard one document at a time,
// JSON in and out; 7.x, about 7 KiB gzipped, no dependencies): the terms of each
// message's text, by record key. Next to it, a hash of each indexed text, so that the
// history read at unlock can be checked against the stored index without indexing it
// all again (historysearch.ts).
//
// The index is kept in segments of at most SEGMENT_DOCS messages, each stored on its
// own: a new message goes to the newest segment, so a burst of arrivals rewrites one
// segment (about 130 KB sealed when full) instead of the whole index (about 2.6 MB at
// 10,000 messages), and a deletion rewrites only the segment that held the text.

import MiniSearch, { type AsPlainObject, type Options } from 'minisearch';

/** Bumped when what is indexed, or how, changes: an index of another format is built again. */
const FORMAT = 2;

/** Messages per segment (the newest segment takes new ones until it holds this many). */
export const SEGMENT_DOCS = 500;

interface Doc {
  id: string;
  text: string;
}

/**
 * Every word of a query must start a word of the message. Not vacuumed on its own:
 * vacuumed before every serialization instead (changes), so that a discarded message's
 * terms are never in what is stored.
 */
const OPTIONS: Options<Doc> = { fields: ['text'], autoVacuum: false, searchOptions: { prefix: true, combineWith: 'AND' } };

/** FNV-1a over the UTF-16 code units: enough to notice that a stored text changed. */
export function textHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** What is stored of a segment (sealed): the format, each key's text hash, MiniSearch's own JSON. */
interface Stored {
  v: number;
  docs: Record<string, number>;
  ms: AsPlainObject;
}

/** Up to SEGMENT_DOCS messages' terms, and whether they changed since last stored. */
class Segment {
  dirty = false;
  constructor(
    readonly ms: MiniSearch<Doc>,
    /** Text hash by record key, of every message indexed here. */
    readonly docs: Map<string, number>,
  ) {}

  static empty(): Segment {
    return new Segment(new MiniSearch<Doc>(OPTIONS), new Map());
  }

  /** A segment as `changes` wrote it; throws on anything else. */
  static load(json: string): Segment {
    const s = JSON.parse(json) as Stored;
    if (s?.v !== FORMAT || typeof s.docs !== 'object' || s.docs === null) throw new Error('not a search index segment of this format');
    const seg = new Segment(MiniSearch.loadJS<Doc>(s.ms, OPTIONS), new Map(Object.entries(s.docs)));
    if (seg.docs.size !== seg.ms.documentCount || [...seg.docs.keys()].some((k) => !seg.ms.has(k))) throw new Error('a search index segment that disagrees with itself');
    return seg;
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

export class TextIndex {
  /** The segments by number. */
  private segs = new Map<number, Segment>();
  /** The segment of each indexed message, by record key. */
  private where = new Map<string, number>();
  /**
   * The highest segment number this index used or was given: a new segment gets the
   * next, never the number of one deleted (or dropped) whose record may still be there.
   */
  private top = 0;

  private constructor() {}

  static empty(): TextIndex {
    return new TextIndex();
  }

  /**
   * An index from the segments `changes` wrote, by number. A segment that is not of this
   * format, disagrees with itself or holds a key another segment holds is left out and
   * its number returned in `dropped`: the caller deletes its record, and the texts it
   * held are indexed again from the history.
   */
  static load(stored: Map<number, string>): { ix: TextIndex; dropped: number[] } {
    const ix = TextIndex.empty();
    const dropped: number[] = [];
    for (const [n, json] of [...stored].sort((a, b) => a[0] - b[0])) {
      ix.top = Math.max(ix.top, n);
      let seg: Segment;
      try {
        seg = Segment.load(json);
      } catch {
        dropped.push(n);
        continue;
      }
      if ([...seg.docs.keys()].some((k) => ix.where.has(k))) {
        dropped.push(n);
        continue;
      }
      ix.segs.set(n, seg);
      for (const k of seg.docs.keys()) ix.where.set(k, n);
    }
    return { ix, dropped };
  }

  has(key: string): boolean {
    return this.where.has(key);
  }

  keys(): IterableIterator<string> {
    return this.where.keys();
  }

  /** Indexes `text` under `key` (replacing what was there); false when it was indexed already. */
  set(key: string, text: string): boolean {
    const h = textHash(text);
    const at = this.where.get(key);
    const seg = at === undefined ? this.newest(key) : this.segs.get(at)!;
    const had = seg.docs.get(key);
    if (had === h) return false;
    if (had !== undefined) seg.ms.discard(key);
    seg.ms.add({ id: key, text });
    seg.docs.set(key, h);
    seg.dirty = true;
    return true;
  }

  /** Takes `key` out; false when it was not in. */
  remove(key: string): boolean {
    const at = this.where.get(key);
    if (at === undefined) return false;
    this.where.delete(key);
    const seg = this.segs.get(at)!;
    seg.docs.delete(key);
    seg.ms.discard(key);
    seg.dirty = true;
    return true;
  }

  /** Keys of the messages that have a word starting with each word of `query`. */
  find(query: string): string[] {
    return [...this.segs.values()].flatMap((s) => s.ms.search(query).map((r) => String(r.id)));
  }

  /**
   * What changed since the last call, to store: each changed segment's number and JSON,
   * or `null` for a segment left empty (its record is deleted, and the number not used
   * again by this index). Nothing of a removed or replaced text is in it.
   */
  async changes(): Promise<[number, string | null][]> {
    const out: [number, string | null][] = [];
    for (const [n, seg] of [...this.segs]) {
      if (!seg.dirty) continue;
      seg.dirty = false;
      if (seg.docs.size === 0) {
        this.segs.delete(n);
        out.push([n, null]);
      } else {
        out.push([n, await seg.toJSON()]);
      }
    }
    return out;
  }

  /** Segments `changes` gave whose write failed: given again by the next call. */
  unwritten(numbers: number[]): void {
    for (const n of numbers) {
      const seg = this.segs.get(n);
      if (seg) seg.dirty = true;
    }
  }

  /** The segment a new key goes to: the newest while it has room, else a new one (where it is recorded). */
  private newest(key: string): Segment {
    let n = Math.max(0, ...this.segs.keys());
    let seg = this.segs.get(n);
    if (!seg || seg.docs.size >= SEGMENT_DOCS) {
      n = ++this.top;
      seg = Segment.empty();
      this.segs.set(n, seg);
    }
    this.where.set(key, n);
    return seg;
  }
}
