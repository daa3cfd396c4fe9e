// What the page keeps about the account in the clear (not secret): which account this
// device unlocks, by username and user id.

import { KV, deleteDb, openDb } from '../idb';

export interface Meta {
  username: string;
  userId: string;
}
const META_DB = 'sealpost-www-meta';
let kvP: Promise<KV> | null = null;
export const metaKv = () => (kvP ??= openDb(META_DB, ['meta']).then((db) => new KV(db, 'meta')));

/** Deletes it all (the device forgets the account). */
export async function forgetMeta(): Promise<void> {
  await (await metaKv()).clear();
  await deleteDb(META_DB);
  kvP = null;
}
