#!/usr/bin/env node
// Groups in the PWA (issue 10), end to end: five accounts, alice with two browsers (six
// pages in one Chromium, one context each). Alice creates a group, members talk (sender
// names, each sender in a colour of its own that a reload keeps, "delivered to N of M"),
// she adds erin (who cannot read what was said before), bob opens every member's safety
// number from the member list (contact or not) and marks alice verified there, alice
// removes dave (who gets nothing he can open after: the test deposits the next group
// message into his mailbox itself), makes bob an admin, bob renames it, carol leaves.
// As the relay, the test replays a message dave sent before his removal to bob, and
// hands bob a tampered copy of the envelope that carried a membership change: both are
// refused and reported, nothing changes. Last, mallory, a member the test drives itself
// through the package's crypto level (forger.mjs), signs changes she has no right to
// make (removing alice; promoting herself in bob's name): every member's PWA refuses and
// reports them, and the group goes on; her leave, made the same way, applies.
//
//   node www/tests/groups.mjs          (also run as part of www/tests/e2e.mjs)

import { axeViolations, launchBrowser, newContext, standalone, startRelay } from './harness.mjs';
import { login, register, startChat } from './devices.mjs';
import { forger } from './forger.mjs';

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

/** Each incoming message's sender (as written) and computed colour, in screen order. */
const senderColours = (page) =>
  page.locator('[data-testid=msg].in').evaluateAll((els) => els.map((e) => [e.querySelector('[data-testid=sender]').textContent.replace(/:$/, ''), getComputedStyle(e).borderLeftColor]));

/** The hue (degrees) of a computed `rgb(r, g, b)` colour; NaN for a grey. */
function hueOf(rgb) {
  const [r, g, b] = rgb.match(/\d+/g).map((x) => Number(x) / 255);
  const max = Math.max(r, g, b);
  const d = max - Math.min(r, g, b);
  if (d === 0) return NaN;
  const h = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
  return (h * 60 + 360) % 360;
}

/** The 60 digits of the safety number on the contact screen. */
async function safetyDigits(page) {
  const label = await page.locator('[data-testid=safety-digits]').getAttribute('aria-label', T);
  const digits = label.replace(/\D/g, '');
  expect(digits.length === 60, `a safety number of 60 digits: ${label}`);
  return digits;
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

    await r.step('groups: each sender has a colour of its own, the same on every message and after a reload', async () => {
      // Carol has alice's two messages, bob's and dave's.
      await waitText(p.C, 'while pressed');
      const byName = (pairs) => {
        const out = {};
        for (const [name, colour] of pairs) (out[name] ??= new Set()).add(colour);
        return out;
      };
      const before = await senderColours(p.C);
      const seen = byName(before);
      expect(['alice', 'bob', 'dave'].every((n) => seen[n]?.size === 1), `one colour per sender: ${JSON.stringify(before)}`);
      expect(before.filter(([n]) => n === 'alice').length >= 2, 'alice has two messages');
      // Told apart at a glance: hues at least 30° apart (before, a hash of the user id
      // gave bob 120° and dave 106°).
      const hues = ['alice', 'bob', 'dave'].map((n) => hueOf([...seen[n]][0]));
      for (let i = 0; i < hues.length; i++) {
        for (let j = i + 1; j < hues.length; j++) {
          const d = Math.abs(hues[i] - hues[j]);
          expect(Math.min(d, 360 - d) >= 29, `colours far enough apart: ${JSON.stringify(before)}`);
        }
      }
      await p.C.reload();
      await p.C.locator('[data-testid=compose]').waitFor(T);
      await waitText(p.C, 'while pressed');
      // The screen is drawn from the stored messages at once, and again when the package
      // has said who the members are (bob and dave are no contacts of carol's).
      let after;
      for (const end = Date.now() + 30_000; JSON.stringify((after = await senderColours(p.C))) !== JSON.stringify(before) && Date.now() < end; ) await sleep(100);
      expect(JSON.stringify(after) === JSON.stringify(before), `the same names and colours after a reload: ${JSON.stringify(before)} then ${JSON.stringify(after)}`);
      axe.push(...(await axeViolations(p.C, 'group chat, colours')));
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

    await r.step('groups: the member list shows each member’s verification state and their safety number, contact or not', async () => {
      try {
        await members(p.B, group);
        const state = (u) => p.B.locator(`[data-testid=member-${u}] [data-testid=member-state]`).innerText(T);
        expect((await state('bob')) === 'You', 'bob is "You"');
        for (const u of ['alice', 'carol', 'dave', 'erin']) expect((await state(u)) === 'Not verified', `${u} is not verified yet`);
        axe.push(...(await axeViolations(p.B, 'group members (member)')));
        // A contact: the safety number, compared and marked verified.
        await p.B.click('[data-testid=member-alice] [data-testid=member-safety]');
        await safetyDigits(p.B);
        await p.B.click('[data-testid=mark-verified]');
        await p.B.locator('[data-testid=unverify]').waitFor(T);
        await members(p.B, group);
        await p.B.locator('[data-testid=member-alice] [data-testid=member-state]', { hasText: /^Verified$/ }).waitFor(T);
        // Erin is no contact of bob's (she looked him up, he never wrote to her): her
        // safety number all the same, the digits erin sees with bob.
        expect((await p.B.locator('[data-testid=member-erin] button[data-testid=member-safety]').count()) === 1, 'erin is no contact of bob’s');
        await p.B.click('[data-testid=member-erin] [data-testid=member-safety]');
        await p.B.waitForURL(new RegExp(`#/contact/${uid.erin}$`), T);
        const bobSide = await safetyDigits(p.B);
        await p.E.evaluate((id) => (location.hash = `#/contact/${id}`), uid.bob);
        expect(bobSide === (await safetyDigits(p.E)), 'bob and erin see the same safety number');
      } finally {
        for (const k of ['B', 'E']) await p[k].evaluate((id) => (location.hash = `#/group/${id}`), group);
      }
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

    await r.step('groups: changes a member has no right to make (mallory removes alice; promotes herself in bob’s name) are refused and reported by every member’s PWA; the group goes on', async () => {
      const mallory = await forger(sp, relay.url, 'mallory');
      await startChat(p.A1, 'mallory');
      await members(p.A1, group);
      await p.A1.selectOption('[data-testid=add-member]', 'mallory');
      await p.A1.click('[data-testid=add-member-submit]');
      const everyone = ['A1', 'A2', 'B', 'E'];
      for (const k of everyone) await p[k].evaluate((id) => (location.hash = `#/group/${id}`), group);
      await Promise.all(everyone.map((k) => waitText(p[k], 'added mallory.')));
      await mallory.joined(group);
      const to = ['alice', 'bob', 'erin'];
      // Well-formed, on the group's current state, signed with her own identity key:
      // refused only because she is no admin (27.4 step 5, after the member and
      // signature checks).
      await mallory.propose(group, { kind: 'remove', users: [uid.alice] }, to);
      // In bob's name, with his identity key as the directory serves it, signed with hers.
      await mallory.propose(group, { kind: 'promote', user: mallory.userId }, to, { actor: 'bob', spki: await mallory.identityOf('bob') });
      for (const k of everyone) {
        const notice = (code) => p[k].locator('[data-testid=notice][data-kind=security]', { hasText: code });
        await notice('GROUP_NOT_ADMIN').waitFor(T);
        await notice('BAD_SIGNATURE').waitFor(T);
        const said = await notice('GROUP_NOT_ADMIN').innerText();
        expect(said.includes('from mallory'), `${k}: the refusal names mallory: ${said}`);
        const forged = await notice('BAD_SIGNATURE').innerText();
        expect(forged.includes(k === 'B' ? 'made in your name' : 'from bob'), `${k}: the forgery names bob: ${forged}`);
      }
      // The group goes on: a message after them is read by every member.
      await say(p.E, 'still the four of us');
      await Promise.all(['A1', 'A2', 'B'].map((k) => waitText(p[k], 'still the four of us')));
      for (const k of everyone) {
        const seen = await listText(p[k]);
        expect(!/removed alice|removed you|an admin\./.test(seen.split('added mallory.').at(-1)), `${k}: no change applied: ${seen}`);
        const title = await p[k].locator('[data-testid=group-title]').innerText();
        expect(title === 'summer trip', `${k}: the name is unchanged: ${title}`);
        await members(p[k], group);
        const rows = await p[k].locator('[data-testid=members] li.member').allInnerTexts();
        expect(rows.length === 4, `${k}: four members: ${rows}`);
        expect(rows.some((t) => t.startsWith('alice') || (k.startsWith('A') && t.startsWith('You'))), `${k}: alice is a member`);
        expect(!(await p[k].locator('[data-testid=member-mallory]').innerText()).includes('Admin'), `${k}: mallory is no admin`);
        await p[k].evaluate((id) => (location.hash = `#/group/${id}`), group);
      }
      // Her leave, built, signed and sealed the same way, applies everywhere: the two
      // above were refused for what they are, not for a flaw of the test's making.
      await mallory.propose(group, { kind: 'leave' }, to);
      await Promise.all(everyone.map((k) => waitText(p[k], 'mallory left.')));
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
