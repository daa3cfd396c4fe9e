#!/usr/bin/env node
// Groups in the PWA (issue 10), end to end: five accounts, alice with two browsers (six
// pages in one Chromium, one context each). Alice creates a group, members talk (sender
// names, "delivered to N of M"), she adds erin (who cannot read what was said before),
// removes dave (who gets nothing he can open after: the test deposits the next group
// message into his mailbox itself), makes bob an admin, bob renames it, carol leaves.
// As the relay, the test then replays a message dave sent before his removal to bob,
// and hands bob a tampered copy of the envelope that carried a membership change: both
// are refused and reported, nothing changes.
//
//   node www/tests/groups.mjs          (also run as part of www/tests/e2e.mjs)

import { axeViolations, launchBrowser, newContext, standalone, startRelay } from './harness.mjs';
import { login, register, startChat } from './devices.mjs';

const T = { timeout: 120_000 };

function expect(cond, what) {
  if (!cond) throw new Error(what);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs in each crypto worker: keeps the bodies of the deposits it makes. */
function recordDeposits() {
  if (self.__deposits) return;
  self.__deposits = [];
  const real = self.fetch.bind(self);
  self.fetch = async (input, init) => {
    const req = input instanceof Request ? input : new Request(input, init);
    if (req.method === 'POST' && /\/v2\/mailboxes(\/[0-9a-f]+\/[0-9a-f]+)?$/.test(new URL(req.url).pathname)) {
      const body = new Uint8Array(await req.clone().arrayBuffer());
      self.__deposits.push({ path: new URL(req.url).pathname, body: Array.from(body) });
    }
    return real(input, init);
  };
  // Single deposits also go over the deposit socket: one binary frame each,
  // req[4] || user id[32] || device id[16] || blob (docs/API.md "Deposit socket").
  const send = WebSocket.prototype.send;
  const hexOf = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  WebSocket.prototype.send = function (data) {
    if (this.url.endsWith('/v2/deposits') && typeof data !== 'string') {
      const f = new Uint8Array(ArrayBuffer.isView(data) ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : data);
      self.__deposits.push({ path: `/v2/mailboxes/${hexOf(f.subarray(4, 36))}/${hexOf(f.subarray(36, 52))}`, body: Array.from(f.subarray(52)) });
    }
    return send.call(this, data);
  };
}

/** The deposits a page's worker made since the last call. */
async function deposits(page) {
  const out = [];
  for (const w of page.workers()) out.push(...(await w.evaluate(() => (self.__deposits ?? []).splice(0)).catch(() => [])));
  return out.map((d) => ({ path: d.path, body: new Uint8Array(d.body) }));
}

const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** A multi-recipient deposit: its recipients (user id, device id) and the blob. */
function fanout(body) {
  const n = (body[0] << 8) | body[1];
  const to = [];
  for (let i = 0; i < n; i++) to.push([hex(body.subarray(2 + 48 * i, 34 + 48 * i)), hex(body.subarray(34 + 48 * i, 50 + 48 * i))]);
  return { to, blob: body.subarray(2 + 48 * n) };
}

/** What the message list of the open screen says. */
const listText = (page) => page.locator('[data-testid=messages]').innerText();

async function waitText(page, text, timeout = 60_000) {
  await page.locator('[data-testid=messages]', { hasText: text }).waitFor({ timeout });
}

async function openGroup(page, name) {
  await page.locator(`[data-testid="group-${name}"]`).click(T);
  await page.locator('[data-testid=compose]').waitFor(T);
}

async function say(page, text) {
  await page.fill('[data-testid=compose]', text);
  await page.click('[data-testid=send]');
}

async function members(page, group) {
  await page.evaluate((id) => (location.hash = `#/group/${id}/members`), group);
  await page.locator('[data-testid=members]').waitFor(T);
}

export async function runGroups(r, { relayBin, problems }) {
  const relay = await startRelay(relayBin);
  const browser = await launchBrowser();
  const sp = await import('sealpost-wasm');
  const names = { A1: 'alice', A2: 'alice', B: 'bob', C: 'carol', D: 'dave', E: 'erin' };
  const uid = Object.fromEntries(Object.values(names).map((n) => [n, sp.userIdFromUsername(n)]));
  const p = {};
  const axe = [];
  let group = '';
  /** A device of each account (user id → device id), as the relay sees them. */
  const devices = {};
  let helloBlob = null;
  try {
    for (const k of Object.keys(names)) {
      const ctx = await newContext(browser, relay.url, problems, `groups-${k}`);
      ctx.on('page', (page) => page.on('worker', (w) => void w.evaluate(recordDeposits).catch(() => undefined)));
      // Everything through the relay (the test plays the relay): no direct WebRTC channels.
      await ctx.addInitScript(() => {
        delete window.RTCPeerConnection;
      });
      p[k] = await ctx.newPage();
    }
    const ok = await r.step('groups: five accounts (alice on two browsers); alice creates a group of four and everyone sees it', async () => {
      await Promise.all(['A1', 'B', 'C', 'D', 'E'].map((k) => register(p[k], names[k])));
      await login(p.A2, 'alice');
      for (const n of ['bob', 'carol', 'dave', 'erin']) await startChat(p.A1, n);
      // Contacts show by their contact name; other members by the username the group state
      // carries (checked against the user id by every member): carol never adds dave.
      await Promise.all([startChat(p.B, 'alice').then(() => startChat(p.B, 'dave')), startChat(p.D, 'alice'), startChat(p.C, 'alice'), startChat(p.E, 'alice').then(() => startChat(p.E, 'bob'))]);
      await p.A1.evaluate(() => (location.hash = '#/new-group'));
      await p.A1.locator('[data-testid=new-group-name]').waitFor(T);
      axe.push(...(await axeViolations(p.A1, 'new group')));
      await p.A1.fill('[data-testid=new-group-name]', 'trip');
      for (const n of ['bob', 'carol', 'dave']) await p.A1.check(`[data-testid=pick-${n}]`);
      await p.A1.click('[data-testid=new-group-submit]');
      await p.A1.waitForURL(/#\/group\/[0-9a-f]{32}$/, T);
      group = /#\/group\/([0-9a-f]{32})$/.exec(p.A1.url())[1];
      for (const k of ['A2', 'B', 'C', 'D']) await p[k].locator('[data-testid="group-trip"]').waitFor(T);
      await openGroup(p.B, 'trip');
      await waitText(p.B, 'alice created the group “trip”.');
    });
    if (!ok) return;

    await r.step('groups: members talk, with names; "delivered to 3 of 3"; unread counts', async () => {
      await deposits(p.A1);
      await say(p.A1, 'hello all');
      await waitText(p.B, 'hello all');
      // Who the message went to (the relay sees mailboxes): each member's device.
      for (const d of await deposits(p.A1)) {
        if (d.path !== '/v2/mailboxes') continue;
        const f = fanout(d.body);
        helloBlob = f.blob;
        for (const [u, dev] of f.to) devices[u] ??= dev;
      }
      expect(devices[uid.bob] && devices[uid.dave] && devices[uid.carol], 'one upload to every member device');
      expect((await p.B.locator('[data-testid=msg]', { hasText: 'hello all' }).locator('[data-testid=sender]').innerText()).startsWith('alice'), 'bob sees alice as the sender');
      await p.A1.locator('[data-testid=msg-state]', { hasText: 'Delivered to all 3 members' }).waitFor(T);
      // Carol has not opened it: one unread.
      await p.C.locator('[data-testid="group-trip"] [data-testid=unread]', { hasText: '1' }).waitFor(T);
      await say(p.B, 'hi from bob');
      await waitText(p.A1, 'hi from bob');
      // Alice's other browser has both: hers as sent from another device.
      await openGroup(p.A2, 'trip');
      await waitText(p.A2, 'hi from bob');
      expect((await listText(p.A2)).includes('hello all'), 'alice’s second browser has her message');
      await openGroup(p.D, 'trip');
      await say(p.D, 'dave here');
      await waitText(p.B, 'dave here');
      // Dave is no contact of carol's: she sees his name from the group state all the same.
      await openGroup(p.C, 'trip');
      await waitText(p.C, 'dave here');
      const daveTo = await p.C.locator('[data-testid=msg]', { hasText: 'dave here' }).locator('[data-testid=sender]').innerText();
      expect(daveTo.startsWith('dave'), `carol sees dave by name though he is not her contact: ${daveTo}`);
      axe.push(...(await axeViolations(p.B, 'group chat')));
    });

    await r.step('groups: search finds group messages, with the group and sender named, and opens the group at the message', async () => {
      // Bob has dave as a contact.
      await p.B.evaluate(() => (location.hash = '#/'));
      try {
        await p.B.fill('[data-testid=search]', 'DAVE HERE');
        const hit = p.B.locator('[data-testid=search-result]', { hasText: 'dave here' });
        const said = await hit.innerText(T);
        expect(said.includes('trip · dave'), `the result names the group and its sender: ${said}`);
        await hit.click();
        await p.B.locator('[data-testid=group-title]', { hasText: 'trip' }).waitFor(T);
        await p.B.locator('[data-testid=msg].hit', { hasText: 'dave here' }).waitFor(T);
      } finally {
        await p.B.fill('[data-testid=search]', '');
      }
    });

    await r.step('groups: a press on a conversation whose row changes before the release still opens it', async () => {
      // The rows are patched in place (listpatch.ts): rebuilt, the pressed element was gone
      // at the release and the browser fired no click.
      await p.B.evaluate(() => (location.hash = '#/'));
      const row = p.B.locator('[data-testid="group-trip"]');
      expect((await p.B.locator('a.conv').first().getAttribute('data-testid')) === 'group-trip', 'the group is the top row (it does not move)');
      const box = await row.boundingBox();
      await p.B.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await p.B.mouse.down();
      await say(p.A1, 'while pressed');
      await row.filter({ hasText: 'while pressed' }).waitFor(T);
      await p.B.mouse.up();
      await p.B.locator('[data-testid=group-title]', { hasText: 'trip' }).waitFor(T);
      await waitText(p.B, 'while pressed');
    });

    await r.step('contact screen: a message from that contact does not redraw it under the user (a name being typed stays)', async () => {
      try {
        await p.B.evaluate((id) => (location.hash = `#/contact/${id}`), uid.alice);
        await p.B.fill('[data-testid=contact-name]', 'Ali typing');
        await p.A1.evaluate((id) => (location.hash = `#/chat/${id}`), uid.bob);
        await say(p.A1, 'one to one, to bob');
        await p.B.locator('[data-testid=conv-alice]', { hasText: 'one to one, to bob' }).waitFor(T);
        expect((await p.B.inputValue('[data-testid=contact-name]')) === 'Ali typing', 'the typed name is still there');
        await p.B.click('[data-testid=open-chat]');
        await waitText(p.B, 'one to one, to bob');
      } finally {
        // The group steps that follow expect both in the group.
        for (const k of ['A1', 'B']) await p[k].evaluate((id) => (location.hash = `#/group/${id}`), group);
      }
    });

    // Dave's message as the relay saw it (to replay after his removal).
    const daveBlob = (await deposits(p.D)).filter((d) => d.path === '/v2/mailboxes').map((d) => fanout(d.body).blob).at(-1);

    await r.step('groups: alice adds erin, who reads nothing from before', async () => {
      await members(p.A1, group);
      axe.push(...(await axeViolations(p.A1, 'group members (admin)')));
      await p.A1.selectOption('[data-testid=add-member]', 'erin');
      await p.A1.click('[data-testid=add-member-submit]');
      await p.E.locator('[data-testid="group-trip"]').waitFor(T);
      await openGroup(p.E, 'trip');
      await waitText(p.E, 'alice added');
      await p.A1.evaluate((id) => (location.hash = `#/group/${id}`), group);
      await say(p.A1, 'welcome erin');
      await waitText(p.E, 'welcome erin');
      for (const d of await deposits(p.A1)) if (d.path === '/v2/mailboxes') for (const [u, dev] of fanout(d.body).to) devices[u] ??= dev;
      // As the relay, the test hands erin the blob of "hello all" (sent before she was
      // added): she has no chain that opens it.
      expect(helloBlob && devices[uid.erin], 'the earlier blob and erin’s device are known');
      const res = await fetch(`${relay.url}/v2/mailboxes/${uid.erin}/${devices[uid.erin]}`, { method: 'POST', body: helloBlob });
      expect(res.status === 201, `deposit to erin: ${res.status}`);
      await sleep(5000);
      const seen = await listText(p.E);
      for (const before of ['hello all', 'hi from bob', 'dave here']) expect(!seen.includes(before), `erin must not read “${before}”`);
    });

    await r.step('groups: alice removes dave; the next message, put in his mailbox by the test, is nothing he can open', async () => {
      await deposits(p.A1);
      await members(p.A1, group);
      await p.A1.locator('[data-testid=member-dave] [data-testid=remove-member]').click();
      await waitText(p.D, 'alice removed you.');
      const changeEnvelopes = (await deposits(p.A1)).filter((d) => d.path.startsWith(`/v2/mailboxes/${uid.bob}/`));
      await p.A1.evaluate((id) => (location.hash = `#/group/${id}`), group);
      await p.A1.locator('[data-testid=compose]').waitFor(T);
      await say(p.A1, 'after dave');
      await waitText(p.B, 'after dave');
      const sent = (await deposits(p.A1)).filter((d) => d.path === '/v2/mailboxes').map((d) => fanout(d.body));
      const last = sent.at(-1);
      expect(last && !last.to.some(([u]) => u === uid.dave), 'nothing was deposited for dave');
      // The test, as a relay that hands dave the blob anyway: his device cannot open it.
      const device = devices[uid.dave];
      expect(device, 'dave’s device is known from an earlier message');
      const res = await fetch(`${relay.url}/v2/mailboxes/${uid.dave}/${device}`, { method: 'POST', body: last.blob });
      expect(res.status === 201, `deposit to dave: ${res.status}`);
      await sleep(5000);
      expect(!(await p.D.locator('body').innerText()).includes('after dave'), 'dave cannot read what follows');
      // Relay-level forgery: the envelopes that carried the removal to bob, altered.
      for (const e of changeEnvelopes) {
        const forged = e.body.slice();
        forged[64] ^= 1;
        await fetch(`${relay.url}${e.path}`, { method: 'POST', body: forged });
      }
      expect(changeEnvelopes.length > 0, 'the removal reached bob in an envelope');
      await p.B.locator('[data-testid=loose-notices]', { hasText: 'could not be decrypted' }).waitFor(T);
      expect((await listText(p.B)).includes('alice removed dave.'), 'bob saw the genuine removal once');
    });

    await r.step('groups: a message dave sent before his removal, replayed to bob, is refused and reported', async () => {
      expect(daveBlob, 'dave’s message was recorded');
      const target = devices[uid.bob];
      const res = await fetch(`${relay.url}/v2/mailboxes/${uid.bob}/${target}`, { method: 'POST', body: daveBlob });
      expect(res.status === 201, `deposit to bob: ${res.status}`);
      await p.B.locator('[data-testid=notice][data-kind=security]', { hasText: 'GROUP_NOT_MEMBER' }).waitFor(T);
      expect((await listText(p.B)).split('dave here').length === 2, 'the replay is not shown as a message');
    });

    await r.step('groups: bob is made an admin and renames; carol leaves; every member sees each change', async () => {
      await members(p.A1, group);
      await p.A1.locator('[data-testid=member-bob] [data-testid=promote]').click();
      await members(p.B, group);
      await p.B.locator('[data-testid=group-rename]').waitFor(T);
      axe.push(...(await axeViolations(p.B, 'group members (new admin)')));
      await p.B.fill('[data-testid=group-rename]', 'summer trip');
      await p.B.click('[data-testid=group-rename-submit]');
      for (const k of ['A1', 'A2', 'C', 'E']) await p[k].locator('[data-testid="group-summer trip"]').waitFor(T);
      await members(p.C, group);
      p.C.once('dialog', (d) => d.accept());
      await p.C.click('[data-testid=leave-group]');
      await p.C.locator('text=You are not in this group any more.').waitFor(T);
      await openGroup(p.E, 'summer trip');
      await waitText(p.E, 'left.');
      await waitText(p.E, 'bob renamed the group to “summer trip”.');
      await say(p.E, 'bye carol');
      await p.A1.evaluate((id) => (location.hash = `#/group/${id}`), group);
      await waitText(p.A1, 'bye carol');
      expect(!(await p.C.locator('body').innerText()).includes('bye carol'), 'carol left: she does not read it');
    });

    await r.step('groups: no accessibility violations on the group screens', async () => {
      expect(axe.length === 0, axe.join('\n'));
    });
  } finally {
    await browser.close().catch(() => undefined);
    await relay.stop();
  }
}

await standalone(import.meta.url, 'groups', runGroups);
