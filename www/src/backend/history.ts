// In the crypto worker: the app's history records sealed and written in one step, and a
// send that waits for its message's record. The page used to seal a record here
// (a round trip), write it itself and only then hand the message over (another trip):
// issue 13's trace put a third of a message's time in that. Now the page posts the
// record and the send together; the send still starts only once the record committed,
// so a message that went out is always in this device's history.

import { KV, historyDbName, openDb } from '../idb';

/** What these calls need of the package's Client in the worker. */
export interface LocalClient {
  userId: string;
  sealLocal(label: string, data: Uint8Array): Uint8Array;
  send(to: string, content: Uint8Array, contentType: number, options?: object): Promise<unknown>;
}

/** A record to write (`null`: delete it). */
export type Entry = [key: string, data: Uint8Array | null];

/**
 * The history database of each logged-in Client, opened once; `null` once the page
 * deleted it (log-out, "use another account", a removed device: the Client is closed
 * next). Writes then still under way, such as a debounced contact save, are dropped
 * rather than recreate the database, and a send waiting for one does not go.
 */
const dbs = new WeakMap<LocalClient, Promise<KV> | null>();
/** Writes under way by record key, and failed ones until the key is written again. */
const writes = new WeakMap<LocalClient, Map<string, Promise<void>>>();

function history(client: LocalClient): Promise<KV> | null {
  let kv = dbs.get(client);
  if (kv === undefined) {
    kv = openDb(historyDbName(client.userId), ['records']).then((db) => {
      db.onversionchange = () => {
        db.close();
        dbs.set(client, null);
      };
      return new KV(db, 'records');
    });
    const opening = kv;
    // A database that did not open (blocked by another tab) is tried again next time.
    opening.catch(() => dbs.get(client) === opening && dbs.delete(client));
    dbs.set(client, kv);
  }
  return kv;
}

const closed = () => Object.assign(new Error('not logged in'), { code: 'CLOSED' });

/** Seals each record under `label` and writes them all in one transaction; resolves once committed. */
export function storeRecords(client: LocalClient | null, label: string, entries: Entry[]): Promise<void> {
  if (!client) return Promise.reject(closed());
  // Registered before anything is awaited: a send posted right after this call finds it.
  const sealed = entries.map(([k, v]): [string, Uint8Array | null] => [k, v && client.sealLocal(label, v)]);
  const gone = () => dbs.get(client) === null;
  const done = (history(client) ?? Promise.reject(closed())).then(
    (kv) => {
      if (gone()) throw closed();
      return kv.writeMany(sealed).catch((e: unknown) => {
        throw Object.assign(new Error(`the history could not be written (${(e as Error)?.name ?? e})`), { code: 'STORAGE' });
      });
    },
  );
  let pending = writes.get(client);
  if (!pending) writes.set(client, (pending = new Map()));
  for (const [k] of entries) pending.set(k, done);
  void done.then(
    () => {
      for (const [k] of entries) if (pending.get(k) === done) pending.delete(k);
    },
    () => undefined, // kept: a send waiting for this record must not go
  );
  // Dropped because the history is gone (see `dbs`): nothing to tell the page.
  return done.catch((e: { code?: string }) => {
    if (e?.code !== 'CLOSED' || !gone()) throw e;
  });
}

/**
 * `client.send(...args)` once the record `key` (written by an earlier `storeRecords`)
 * committed; nothing is sent when that write failed.
 */
export async function sendStored(client: LocalClient | null, key: string, ...args: Parameters<LocalClient['send']>): Promise<unknown> {
  if (!client) throw closed();
  await writes.get(client)?.get(key);
  return client.send(...args);
}
