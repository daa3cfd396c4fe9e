// A tiny promise wrapper over IndexedDB: one database per purpose, key-value stores.

export function openDb(name: string, stores: string[], version = 1): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(name, version);
    req.onupgradeneeded = () => {
      for (const s of stores) if (!req.result.objectStoreNames.contains(s)) req.result.createObjectStore(s);
    };
    req.onsuccess = () => {
      const db = req.result;
      db.onversionchange = () => db.close(); // let another tab delete or upgrade it
      resolve(db);
    };
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error(`IndexedDB ${name} is blocked by another tab`));
  });
}

function wrap<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

export class KV {
  constructor(private db: IDBDatabase, private store: string) {}
  get<T>(key: string): Promise<T | undefined> {
    return wrap(this.db.transaction(this.store).objectStore(this.store).get(key));
  }
  put(key: string, value: unknown): Promise<unknown> {
    return this.writeMany([[key, value]]);
  }
  /** Puts (or, for `null`, deletes) every entry in one transaction; resolves once committed. */
  writeMany(entries: [string, unknown][]): Promise<void> {
    const tx = this.db.transaction(this.store, 'readwrite');
    const os = tx.objectStore(this.store);
    for (const [k, v] of entries) {
      if (v === null) os.delete(k);
      else os.put(v, k);
    }
    return new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  }
  delete(key: string): Promise<unknown> {
    return wrap(this.db.transaction(this.store, 'readwrite').objectStore(this.store).delete(key));
  }
  async entries<T>(): Promise<[string, T][]> {
    const os = this.db.transaction(this.store).objectStore(this.store);
    const [keys, values] = await Promise.all([wrap(os.getAllKeys()), wrap(os.getAll())]);
    return keys.map((k, i) => [String(k), values[i] as T]);
  }
  clear(): Promise<unknown> {
    return wrap(this.db.transaction(this.store, 'readwrite').objectStore(this.store).clear());
  }
}

export function deleteDb(name: string): Promise<void> {
  return new Promise((resolve) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = req.onerror = req.onblocked = () => resolve();
  });
}

/** The IndexedDB database of an account's history on this device (see model.ts). */
export function historyDbName(userId: string): string {
  return `sealpost-www-${userId.slice(0, 16)}`;
}
