// Groups through the package against a real relay (browser only): create, talk with
// one upload per message and delivery states, add (no history), remove (nothing after),
// rename, promote and demote, leave, and the stable codes of refused requests.
import { assert, bytesToHex as toHex, eq, throwsCode } from './harness.js';
import { notices, online, recv, until } from './client.helpers.js';

export function groupsSuite({ test }, sp, { relayUrl }) {
  const tag = Math.random().toString(36).slice(2, 8);
  const [A, B, C] = ['galice', 'gbob', 'gcarol'].map((n) => `${n}-${tag}`);
  const pw = 'correct horse battery staple';
  const opts = () => ({ relayUrl, storage: new sp.MemoryStorage(), keySize: 2048, bundleMaxAge: 0 });
  let alice, bob, carol, group, seenB, seenC;
  // Multi-recipient deposits the package makes (recorded by wrapping fetch).
  const fanouts = [];
  // While set, multi-recipient deposits fail as if the network were down (`cutHits` counts them).
  let cut = false;
  let cutHits = 0;
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const req = input instanceof Request ? input : new Request(input, init);
    if (req.method === 'POST' && /\/v2\/mailboxes$/.test(req.url)) {
      if (cut) {
        cutHits++;
        throw new TypeError('cut');
      }
      const body = new Uint8Array(await req.clone().arrayBuffer());
      const n = (body[0] << 8) | body[1];
      const users = [];
      for (let i = 0; i < n; i++) users.push(toHex(body.subarray(2 + 48 * i, 2 + 48 * i + 32)));
      fanouts.push(users);
    }
    return realFetch(input, init);
  };
  const groupChanges = (seen, change) => seen.filter((n) => n.kind === 'groupChanged' && n.change === change);

  test('groups: create, one upload per message, delivered to every member', async () => {
    [alice, bob, carol] = await Promise.all([A, B, C].map((n) => sp.Client.register(opts(), n, pw)));
    await Promise.all([alice, bob, carol].map((c) => online(c)));
    seenB = notices(bob);
    seenC = notices(carol);
    await alice.lookup(B);
    await alice.lookup(C);
    await throwsCode(() => alice.createGroup('nobody', [`nobody-${tag}`]), 'NOT_GROUP_MEMBER');
    group = await alice.createGroup('friends', [B]);
    eq(group.length, 32);
    await until(() => groupChanges(seenB, 'create').length === 1, 30000, 'bob joins');
    eq(groupChanges(seenB, 'create')[0].name, 'friends');
    const deliveries = [];
    alice.onDelivery((d) => deliveries.push(d));
    const before = fanouts.length;
    const id = await alice.sendToGroup(group, 'hello');
    const m = await recv(bob);
    eq([m.group, m.conversation, m.text, m.from], [group, group, 'hello', alice.userId]);
    eq(fanouts.length, before + 1, 'one upload');
    await until(() => deliveries.some((d) => d.messageId === id && d.delivered === 1 && d.total === 1), 30000, 'delivered to 1 of 1');
  });

  test('groups: sendToGroup with an idempotencyKey sends once: a retry (its upload failed, or it went) gets the same id and nothing twice', async () => {
    const key = `g-once-${tag}`;
    // The upload fails: the message is sealed and kept; the retry sends it, once.
    cut = true;
    const hits = cutHits;
    let first;
    try {
      first = await alice.sendToGroup(group, 'exactly once', undefined, { idempotencyKey: key });
      // (The upload runs after the call resolved: it failed before the retry.)
      await until(() => cutHits > hits, 30000, 'the upload was tried');
    } finally {
      cut = false;
    }
    eq(await alice.sendToGroup(group, 'exactly once', undefined, { idempotencyKey: key }), first);
    // The upload is made again by a tick (the client's own, every minute, at the latest).
    const m = await recv(bob, 90000);
    eq([m.text, m.id], ['exactly once', first]);
    eq(await alice.sendToGroup(group, 'exactly once', undefined, { idempotencyKey: key }), first);
    await alice.sendToGroup(group, 'after it');
    eq((await recv(bob)).text, 'after it'); // nothing in between
    await throwsCode(() => alice.sendToGroup(group, 'other content', undefined, { idempotencyKey: key }), 'INVALID_ARGUMENT');
    await throwsCode(() => alice.sendToGroup(group, 'x', undefined, { idempotencyKey: '' }), 'INVALID_ARGUMENT');
  });

  test('groups: an added member reads nothing from before; a removed one nothing after', async () => {
    await alice.sendToGroup(group, 'before carol');
    eq((await recv(bob)).text, 'before carol');
    await alice.addMembers(group, [C]);
    await until(() => groupChanges(seenC, 'add').length === 1, 30000, 'carol joins');
    await alice.sendToGroup(group, 'welcome carol');
    eq((await recv(carol)).text, 'welcome carol');
    eq((await recv(bob)).text, 'welcome carol');
    await alice.removeMembers(group, [C]);
    await until(() => groupChanges(seenC, 'remove').length === 1, 30000, 'carol learns she is out');
    await alice.sendToGroup(group, 'after carol');
    eq((await recv(bob)).text, 'after carol');
    assert(!fanouts.at(-1).includes(carol.userId), 'nothing deposited for carol');
    assert(fanouts.at(-1).includes(bob.userId), 'bob is a recipient');
    eq(carol.groups(), []);
    await throwsCode(() => carol.sendToGroup(group, 'still here'), 'NOT_GROUP_MEMBER');
  });

  test('groups: members only rename as admins; leaving tells everyone', async () => {
    await until(() => bob.groups().length === 1, 30000, 'bob has the group');
    await throwsCode(() => bob.renameGroup(group, 'mine'), 'NOT_GROUP_ADMIN');
    await throwsCode(() => alice.sendToGroup('00', 'x'), 'INVALID_ARGUMENT');
    await alice.renameGroup(group, 'best friends');
    await until(() => bob.groups()[0]?.name === 'best friends', 30000, 'renamed for bob');
    // An admin makes bob an admin; bob then renames, and steps down himself.
    await alice.promoteAdmin(group, B);
    await until(() => bob.groups()[0]?.members.find((m) => m.userId === bob.userId)?.admin, 30000, 'bob is an admin');
    await bob.renameGroup(group, 'friends again');
    await until(() => alice.groups()[0]?.name === 'friends again', 30000, 'renamed by bob');
    await bob.demoteAdmin(group, B);
    await until(() => !alice.groups()[0]?.members.find((m) => m.userId === bob.userId)?.admin, 30000, 'bob stepped down');
    await throwsCode(() => alice.demoteAdmin(group, A), 'INVALID_GROUP_OPERATION');
    await throwsCode(() => bob.promoteAdmin(group, B), 'NOT_GROUP_ADMIN');
    const seenA = notices(alice);
    await bob.leaveGroup(group);
    await until(() => groupChanges(seenA, 'leave').length === 1, 30000, 'alice sees bob leave');
    const [info] = alice.groups();
    eq(info.members.map((m) => [m.userId, m.admin]), [[alice.userId, true]]);
    eq(info.epoch, 8, 'create, add, remove, rename, promote, rename, demote, leave');
    for (const c of [alice, bob, carol]) await c.logout();
  });

  test('groups: the same calls through a RemoteClient served by a worker (serveClient)', async () => {
    const { RemoteClient } = await import('../pkg/remote.js');
    const worker = new Worker(new URL('./test.worker.js', import.meta.url), { type: 'module' });
    const [W, X] = [`gwork-${tag}`, `gx-${tag}`];
    const w = await RemoteClient.register(worker, { relayUrl, keySize: 2048, bundleMaxAge: 0 }, W, pw);
    const x = await sp.Client.register(opts(), X, pw);
    await online(x);
    const seenX = notices(x);
    await w.lookup(X);
    await throwsCode(() => w.sendToGroup('00', 'x'), 'INVALID_ARGUMENT');
    const g = await w.createGroup('remote', [X]);
    await until(() => x.groups().length === 1, 30000, 'x joins');
    const id = await w.sendToGroup(g, 'via the worker');
    eq(typeof id, 'string');
    const m = await recv(x);
    eq([m.group, m.text], [g, 'via the worker']);
    await w.renameGroup(g, 'remote 2');
    await w.promoteAdmin(g, X);
    await until(() => x.groups()[0]?.members.every((mem) => mem.admin), 30000, 'x is an admin');
    await w.demoteAdmin(g, X);
    await until(() => groupChanges(seenX, 'demote').length === 1, 30000, 'x stepped down');
    const [info] = await w.groups();
    eq([info.name, info.members.map((mem) => [mem.userId, mem.admin])], ['remote 2', [[w.userId, true], [x.userId, false]].sort()]);
    await w.removeMembers(g, [X]);
    await until(() => x.groups().length === 0, 30000, 'x is out');
    await w.leaveGroup(g);
    eq(await w.groups(), []);
    await w.logout();
    await x.logout();
    worker.terminate();
  });
}
