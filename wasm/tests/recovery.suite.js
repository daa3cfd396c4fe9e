// The client after things go wrong, against a real relay: a reload with a receipt still
// owed, a tab that crashed at any point of a send, a message the relay dropped (found
// by gap detection an hour later, on an injected clock). Own accounts, so
// `--filter=recovery` runs it alone.
import { assert, eq } from './harness.js';
import { notices, online, recv, until, within } from './client.helpers.js';

/** A storage that can show every state a crash could have left: a copy after each write. */
class CrashingStorage {
  constructor(map = new Map()) {
    this.map = map;
    this.states = null;
  }
  async get(k) {
    return this.map.get(k)?.slice();
  }
  async set(k, v) {
    this.map.set(k, v.slice());
    this.states?.push(new Map(this.map));
  }
  async delete(k) {
    this.map.delete(k);
    this.states?.push(new Map(this.map));
  }
  /** All or none: a crash leaves the state before the batch or the one after it. */
  async setMany(entries) {
    for (const [k, v] of entries) this.map.set(k, v.slice());
    this.states?.push(new Map(this.map));
  }
  /** Starts keeping a copy after each write. */
  record() {
    this.states = [];
  }
  /** The states kept since `record()`, each as a storage of its own. */
  crashes() {
    const states = this.states ?? [];
    this.states = null;
    return states.map((m) => new CrashingStorage(new Map(m)));
  }
}

export function recoverySuite({ test }, sp, { relayUrl }) {
  const tag = Math.random().toString(36).slice(2, 8);
  const S = `sam-${tag}`;
  const M = `mia-${tag}`;
  const pw = 'correct horse battery staple';
  // depositSocket off: the network's lies below are told to deposits made as POSTs.
  const opts = (storage, extra = {}) => ({ relayUrl, storage, keySize: 2048, bundleMaxAge: 0, depositSocket: false, ...extra });
  const mailbox = (client) => `/v2/mailboxes/${client.userId}/${client.deviceId}`;
  // Mia's engine clock: `offset` seconds from the real one.
  let offset = -1800;
  const clock = () => Date.now() + offset * 1000;
  const miaStorage = new sp.MemoryStorage();
  let sam;
  let mia;

  // `lie(request)` may answer instead of the relay (a relay that drops or is cut off).
  let lie = null;
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const req = input instanceof Request ? input : new Request(input, init);
    return (lie && (await lie(req))) || realFetch(input, init);
  };

  test('recovery: a receipt whose deposit failed is sent after a reload, not at the hourly re-send', async () => {
    sam = await sp.Client.register(opts(new sp.MemoryStorage()), S, pw);
    mia = await sp.Client.register(opts(miaStorage, { clock }), M, pw);
    await online(sam);
    await online(mia);
    await mia.lookup(S);
    const deliveries = [];
    sam.onDelivery((d) => deliveries.push(d));
    let cut = 0;
    lie = (req) => (req.method === 'POST' && req.url.endsWith(mailbox(sam)) ? (cut++, Promise.reject(new TypeError('cut'))) : null);
    let sent;
    try {
      sent = await sam.send(M, 'read before a reload');
      eq((await recv(mia)).text, 'read before a reload');
      await until(() => cut > 0, 30000, "mia's receipt to be attempted");
      await mia.logout();
    } finally {
      lie = null;
    }
    mia = await sp.Client.login(opts(miaStorage, { clock }), M, pw);
    await until(() => deliveries.some((d) => d.messageId === sent.messageId && d.delivered === 1), 60000, 'the receipt after the reload');
  });

  test('recovery: a send retried after a crash at any point of the first attempt resolves, and the message arrives once', async () => {
    const K = `kim-${tag}`;
    const storage = new CrashingStorage();
    const kim = await sp.Client.register(opts(storage, { connect: false }), K, pw);
    await kim.lookup(M);
    await mia.lookup(K); // a contact: its blobs are not held back for a directory read
    const key = `crash-${tag}`;
    // The first attempt: every write kept; its deposit never reaches the relay (the tab
    // dies while it is under way).
    storage.record();
    lie = (req) => (req.method === 'POST' && req.url.endsWith(mailbox(mia)) ? new Promise(() => {}) : null);
    const first = kim.send(M, 'survives a crash', undefined, { idempotencyKey: key });
    first.catch(() => {});
    let writes = -1;
    await until(async () => {
      const n = storage.states.length;
      const settled = n === writes;
      writes = n;
      await new Promise((r) => setTimeout(r, 500));
      return settled && n > 0;
    }, 30000, 'the first attempt to stop writing');
    const crashes = storage.crashes();
    await kim.logout();
    lie = null;
    // Each batch is one setMany (all or none): a crash leaves the state after the
    // batch that records the key and seals the message, or after a later one.
    assert(crashes.length >= 2, `${crashes.length} crash points`);
    // A retry from each state a crash could leave (each write in order).
    const ids = [];
    for (const [i, state] of crashes.entries()) {
      const again = await sp.Client.login(opts(state, { connect: false }), K, pw);
      const r = await within(again.send(M, 'survives a crash', undefined, { idempotencyKey: key }), 60000, `the retry after write ${i + 1}`);
      eq(r.total, 1);
      ids.push(r.messageId);
      await again.logout();
    }
    // One message: the key was recorded by the first write, before anything was sealed.
    eq(new Set(ids).size, 1, `message ids ${ids}`);
    // Mia gets it once (then sam's marker, deposited after every retry).
    await sam.send(M, 'after the retries');
    const got = [];
    for (let m = await recv(mia); m.text !== 'after the retries'; m = await recv(mia)) got.push(m);
    eq(got.map((m) => [m.text, m.messageId]), [['survives a crash', ids[0]]]);
  });

  test('recovery: a message the relay dropped is surfaced as mayBeMissing once its gap is an hour old (injected clock), then re-sent', async () => {
    const all = notices(mia);
    const seen = { filter: (f) => all.filter((n) => n.from === sam.userId).filter(f), some: (f) => all.some((n) => n.from === sam.userId && f(n)), find: (f) => all.find((n) => n.from === sam.userId && f(n)) };
    await sam.send(M, 'one');
    eq((await recv(mia)).text, 'one');
    // The relay takes the next one and never delivers it.
    lie = (req) => (req.method === 'POST' && req.url.endsWith(mailbox(mia)) ? new Response(null, { status: 201 }) : null);
    try {
      await sam.send(M, 'two (dropped)');
    } finally {
      lie = null;
    }
    await sam.send(M, 'three');
    eq((await recv(mia)).text, 'three');
    await mia.rotateKeys(); // the engine's timers: the gap may still close (reordering)
    eq(seen.filter((n) => n.kind === 'mayBeMissing').length, 0);
    // An hour later on mia's clock (the relay's signatures keep the real one).
    offset += 3600;
    await mia.rotateKeys();
    await until(() => seen.some((n) => n.kind === 'mayBeMissing'), 30000, 'a mayBeMissing notice');
    const n = seen.find((x) => x.kind === 'mayBeMissing');
    eq([n.from, n.fromUsername, n.device, n.count], [sam.userId, S, sam.deviceId, 1]);
    // Mia asked sam to reset the session: he re-sends what she did not receipt.
    eq((await recv(mia)).text, 'two (dropped)');
    await sam.send(M, 'four');
    eq((await recv(mia)).text, 'four');
    await sam.logout();
    await mia.logout();
  });
}
