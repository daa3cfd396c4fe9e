// The app's history records in IndexedDB, sealed under the account's password-derived
// local key: written through the crypto worker (backend/history.ts: sealed and written
// there in one call, in the order asked), a burst's contact saves and a typed draft
// written once, and everything still waiting written before the tab lets go.

import type { Account } from './backend/types';
import { KV, deleteDb, historyDbName, openDb } from './idb';
import type { Contact, Msg } from './records';
import { dec, enc } from './util';

const LABEL = 'sealpost/www/record/v1';
/** A message's record. */
export const msgKey = (id: string) => `m:${id}`;

/** What the store needs from the model. */
export interface StoreHost {
  account: Account;
  /** By user id. */
  contacts: Map<string, Contact>;
  /** Drafts by peer user id. */
  drafts: Map<string, string>;
  /** Each record as it is written (`null`: deleted), in the order asked: the search index follows the messages (historysearch.ts). */
  wrote(key: string, rec: unknown): void;
}

/**
 * Keys of records sealed under a label of their own (the search index), read for their
 * owner as they are stored: `s:`.
 */
const isOwnLabel = (key: string) => key.startsWith('s:');

export class RecordStore {
  private kv: KV | null = null;
  /** Writes under way (flushPending waits for them). */
  private writing = new Set<Promise<void>>();
  private contactSaves = new Map<string, { p: Promise<void>; now: () => void }>();
  private draftTimers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(private host: StoreHost) {}

  /**
   * Opens this account's history and reads every record it can open, by key; records
   * under a label of their own come back still sealed (`sealed`).
   */
  async read(): Promise<{ records: [string, unknown][]; sealed: Map<string, Uint8Array> }> {
    const db = await openDb(historyDbName(this.host.account.userId), ['records']);
    this.kv = new KV(db, 'records');
    const records: [string, unknown][] = [];
    const sealed = new Map<string, Uint8Array>();
    for (const [k, v] of await this.kv.entries<Uint8Array>()) {
      if (isOwnLabel(k)) {
        sealed.set(k, v);
        continue;
      }
      try {
        records.push([k, JSON.parse(dec.decode(await this.host.account.openLocal(LABEL, v)))]);
      } catch {
        continue; // a record we cannot open is not ours to show
      }
    }
    return { records, sealed };
  }

  /**
   * Seals and writes a record (`null`: deletes it). The worker does both in one call
   * (backend/history.ts): one trip instead of a seal there and a write here, and every
   * write and deletion in the order they were asked for.
   */
  save(key: string, rec: unknown): Promise<void> {
    this.host.wrote(key, rec);
    return this.write(LABEL, key, rec === null ? null : enc.encode(JSON.stringify(rec)));
  }
  /** Writes each `data` sealed under `label` of its own (`s:` keys; `null`: deletes), in one transaction. */
  saveSealed(label: string, entries: [string, Uint8Array | null][]): Promise<void> {
    for (const [key] of entries) if (!isOwnLabel(key)) throw new Error(`${key} is not a key for a record of its own label`);
    return this.writeAll(label, entries);
  }
  private write(label: string, key: string, data: Uint8Array | null): Promise<void> {
    return this.writeAll(label, [[key, data]]);
  }
  private writeAll(label: string, entries: [string, Uint8Array | null][]): Promise<void> {
    const p = this.host.account.storeRecords(label, entries);
    this.writing.add(p);
    void p.catch(() => undefined).then(() => this.writing.delete(p));
    return p;
  }
  remove(key: string): Promise<void> {
    return this.save(key, null);
  }
  /** Saves a contact; calls in the same burst of messages are written once. */
  saveContact(c: Contact): Promise<void> {
    let s = this.contactSaves.get(c.key);
    if (!s) {
      let now!: () => void;
      const go = new Promise<void>((r) => (now = r));
      const t = setTimeout(now, 50);
      const p = go.then(() => {
        clearTimeout(t);
        this.contactSaves.delete(c.key);
        return this.save(`c:${c.key}`, c);
      });
      this.contactSaves.set(c.key, (s = { p, now }));
    }
    return s.p;
  }
  saveMsg(m: Msg) {
    return this.save(msgKey(m.id), m);
  }

  setDraft(peer: string, text: string) {
    if (text) this.host.drafts.set(peer, text);
    else this.host.drafts.delete(peer);
    clearTimeout(this.draftTimers.get(peer));
    this.draftTimers.set(peer, setTimeout(() => void this.flushDraft(peer), 300));
  }
  async flushDraft(peer: string) {
    clearTimeout(this.draftTimers.get(peer));
    this.draftTimers.delete(peer);
    // Keyed by the contact's random record key: no user id in the clear.
    const c = this.host.contacts.get(peer);
    if (!c) return;
    const key = `d:${c.key}`;
    const text = this.host.drafts.get(peer);
    if (text) await this.save(key, { peer, text });
    else await this.remove(key);
  }

  /**
   * Writes everything still waiting at once: debounced drafts and contact saves, and
   * waits for writes under way. Called before the tab lets go of the account.
   */
  async flushPending(): Promise<void> {
    if (!this.kv) return;
    const work: Promise<unknown>[] = [...this.draftTimers.keys()].map((peer) => this.flushDraft(peer));
    for (const s of [...this.contactSaves.values()]) {
      s.now();
      work.push(s.p);
    }
    work.push(...this.writing);
    await Promise.allSettled(work);
    // Saves started meanwhile (a flushed contact save).
    if (this.writing.size) await Promise.allSettled([...this.writing]);
  }

  /** Deletes this account's history (log out). */
  async wipe(): Promise<void> {
    await this.kv?.clear().catch(() => undefined);
    await deleteDb(historyDbName(this.host.account.userId));
  }
}
