// RemoteClient and serveClient (sealpost-wasm/remote and /worker) in one Node.js process:
// the page and the "worker" talk through a pair of in-process message ports, so the
// worker's protocol v2 paths (link, approve, devices, revoke with the password) run
// here, where two devices of one account may share a process (no Web Locks).
import { assert, eq, throwsCode } from './harness.js';

/** A fake Worker and the worker scope it talks to (structured clones, asynchronous). */
export function workerPair() {
  const page = new EventTarget();
  const inside = new EventTarget();
  const deliver = (target, data) => setTimeout(() => target.dispatchEvent(new MessageEvent('message', { data: structuredClone(data) })), 0);
  const worker = {
    postMessage: (m) => deliver(inside, m),
    addEventListener: (t, f) => page.addEventListener(t, f),
    removeEventListener: (t, f) => page.removeEventListener(t, f),
    terminate() {},
  };
  const scope = {
    postMessage: (m) => deliver(page, m),
    addEventListener: (t, f) => inside.addEventListener(t, f),
  };
  return { worker, scope };
}

export function remoteSuite({ test }, sp, { relayUrl, worker }) {
  const tag = Math.random().toString(36).slice(2, 8);
  const pw = 'correct horse battery staple';
  const L = `lena-${tag}`;
  const opts = (extra = {}) => ({ relayUrl, storage: new sp.MemoryStorage(), keySize: 2048, bundleMaxAge: 0, ...extra });
  const recv = (client, ms = 30000) =>
    Promise.race([
      client.nextMessage(),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no message within ${ms} ms`)), ms)),
    ]);

  test('remote: link a worker device (RemoteClient.startLink), approve from it, revoke with the password', async () => {
    const { RemoteClient } = await import('../pkg/remote.js');
    const lena = await sp.Client.register(opts({ deviceName: 'Lena laptop' }), L, pw);
    // The worker's browser becomes a new device of Lena's account.
    const link = await RemoteClient.startLink(worker, { relayUrl, keySize: 2048, password: pw }, 'Lena tablet');
    eq(link.code.replaceAll('-', '').length, 20);
    const waiting = link.wait();
    const approval = await lena.approveLink(link.code);
    eq(approval.deviceName, 'Lena tablet');
    await approval.confirm({ history: new Uint8Array([1, 2, 3]) });
    const tablet = await waiting;
    eq(tablet.userId, lena.userId);
    eq(tablet.username, L);
    assert(tablet.deviceId && tablet.deviceId !== lena.deviceId, 'a new device');
    eq(Array.from(await tablet.takeLinkedHistory()), [1, 2, 3]);
    const notices = [];
    tablet.onNotice((n) => notices.push(n));
    const deliveries = [];
    tablet.onDelivery((d) => deliveries.push(d));
    const devices = await tablet.devices();
    eq(devices.map((d) => `${d.name}:${d.current}`).sort(), ['Lena laptop:false', 'Lena tablet:true']);
    // Messages between the two devices' account and a contact.
    const M = `max-${tag}`;
    const max = await sp.Client.register(opts(), M, pw);
    const sent = await tablet.send(M, 'from the worker device');
    eq(sent.total, 1);
    eq((await recv(max)).text, 'from the worker device');
    const copy = await recv(lena);
    eq([copy.text, copy.own], ['from the worker device', true]);
    for (let i = 0; i < 100 && !deliveries.some((d) => d.messageId === sent.messageId && d.delivered === 1); i++) await new Promise((r) => setTimeout(r, 100));
    assert(deliveries.some((d) => d.messageId === sent.messageId && d.delivered === 1), `deliveries ${JSON.stringify(deliveries)}`);
    // The worker device approves a third device.
    const third = await sp.Client.startLink(opts({ password: pw }), 'Lena phone');
    const fromWorker = await tablet.approveLink(third.code);
    eq(fromWorker.deviceName, 'Lena phone');
    await fromWorker.confirm();
    const phone = await third.wait();
    eq((await tablet.devices()).length, 3);
    // A full account: the password alone removes a device (here the phone).
    await throwsCode(() => RemoteClient.revokeDeviceWithPassword(worker, { relayUrl }, L, 'wrong password!', phone.deviceId), 'WRONG_PASSWORD');
    await RemoteClient.revokeDeviceWithPassword(worker, { relayUrl }, L, pw, phone.deviceId);
    eq((await tablet.devices()).length, 2);
    // And the worker device revokes the laptop.
    await tablet.revokeDevice(lena.deviceId);
    eq((await tablet.devices()).map((d) => d.id), [tablet.deviceId]);
    for (const c of [phone, lena, max]) await c.logout();
    await tablet.logout();
  });

  test('remote: a full account (8 devices) refuses a ninth with DEVICE_LIMIT', async () => {
    const F = `full-${tag}`;
    const first = await sp.Client.register(opts({ connect: false }), F, pw);
    const more = [];
    for (let i = 0; i < 7; i++) more.push(await sp.Client.login(opts({ connect: false, deviceName: `device ${i + 2}` }), F, pw));
    eq((await first.devices()).length, 8);
    await throwsCode(() => sp.Client.login(opts({ connect: false }), F, pw), 'DEVICE_LIMIT');
    const link = await sp.Client.startLink(opts({ password: pw }), 'ninth');
    await throwsCode(async () => (await first.approveLink(link.code)).confirm(), 'DEVICE_LIMIT');
    await link.cancel();
    await sp.Client.revokeDeviceWithPassword({ relayUrl }, F, pw, more[6].deviceId);
    const ninth = await sp.Client.login(opts({ connect: false }), F, pw);
    eq((await ninth.devices()).length, 8);
    for (const c of [first, ...more, ninth]) await c.logout();
  });
}
