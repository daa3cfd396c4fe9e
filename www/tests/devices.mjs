#!/usr/bin/env node
// Protocol v2 end to end in the PWA: alice and bob with two browsers each (alice's second
// one added by password login, bob's by linking from his first one: QR picture or typed
// code, with the message history), going online and offline in a seeded random order
// (network cut with the page open, or the page closed and opened again) while messages
// go both ways; then every message must show exactly once on every device of the
// recipient and of the sender, in order per sending device. Then the markers (a message
// that cannot be decrypted) and revoking a device.
//
//   node www/tests/devices.mjs                         (DEVICES_MESSAGES each way, default
//                                                       200: the figure)
//   DEVICES_MESSAGES=40 node www/tests/devices.mjs     (a quicker run)
//   DEVICES_SEED=7 ...                                 (another order of events)
//
// Also run as the last part of www/tests/e2e.mjs. Each device's worker is tapped
// (tap.mjs): test-artifacts/devices-tap-<device>.log says what it deposited, received,
// acknowledged and delivered, with the test's own steps, for diagnosing a lost message.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { artifacts, axeViolations, launchBrowser, newContext, runner, standalone, startRelay, unlockIfAsked } from './harness.mjs';
import { tapWorkers } from './tap.mjs';

const KEY_SIZE = process.env.E2E_KEY_SIZE ?? '2048';
const PASSWORD = 'correct horse battery staple';
const MESSAGES = Number(process.env.DEVICES_MESSAGES ?? 200);
const SEED = Number(process.env.DEVICES_SEED ?? 0x5ea1);
const T = { timeout: 180_000 };

function expect(cond, what) {
  if (!cond) throw new Error(what);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** mulberry32: the scripted random order, reproducible from the seed. */
function prng(seed) {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function register(page, username) {
  await page.goto('/');
  await page.getByRole('tab', { name: 'Create account' }).click();
  await page.fill('#username', username);
  await page.fill('#password', PASSWORD);
  if (KEY_SIZE !== '4096') {
    await page.locator('details.advanced summary').click();
    await page.selectOption('[data-testid=key-size]', KEY_SIZE);
  }
  await page.click('[data-testid=auth-submit]');
  await page.locator('[data-testid=me]').waitFor(T);
}

export async function login(page, username) {
  await page.goto('/');
  await page.getByRole('tab', { name: 'Log in' }).click();
  await page.fill('#username', username);
  await page.fill('#password', PASSWORD);
  await page.click('[data-testid=auth-submit]');
  await page.locator('[data-testid=me]').waitFor(T);
}

async function unlock(page) {
  await page.goto('/');
  await unlockIfAsked(page, PASSWORD);
}

export async function startChat(page, username) {
  await page.fill('[data-testid=new-contact]', username);
  await page.click('[data-testid=new-contact-submit]');
  await page.locator('[data-testid=safety-digits]').waitFor({ timeout: 30_000 });
  await page.click('[data-testid=open-chat]');
  await page.locator('[data-testid=compose]').waitFor();
}

async function openChat(page, username) {
  await page.evaluate(() => (location.hash = '#/'));
  // Generous: a page that just came back may be busy taking in a backlog of hundreds
  // of messages on a loaded machine (what this test is about is delivery, not speed).
  await page.locator(`[data-testid=conv-${username}]`).waitFor({ timeout: 120_000 });
  await page.click(`[data-testid=conv-${username}]`, { timeout: 120_000 });
  await page.locator('[data-testid=compose]').waitFor({ timeout: 120_000 });
}

async function send(page, text) {
  await page.fill('[data-testid=compose]', text);
  await page.press('[data-testid=compose]', 'Enter');
}

/** The texts of the open chat, in screen order. */
const texts = (page) => page.locator('[data-testid=msg] .text').allTextContents();

/**
 * Links `fresh` (a new browser) to the account open on `old`: the new device shows a
 * code, the old one reads it (`via`: 'qr' uploads a picture of the QR code, 'code'
 * types it) and confirms after seeing the new device's name.
 */
async function link(fresh, old, { via, name, history = true, shot, axe }) {
  await fresh.goto('/');
  await fresh.locator('[data-testid=link-from-device]').click({ timeout: 30_000 });
  await fresh.fill('[data-testid=device-name]', name);
  await fresh.fill('[data-testid=link-password]', PASSWORD);
  await fresh.click('[data-testid=link-start]');
  await fresh.locator('[data-testid=link-qr]').waitFor({ timeout: 60_000 });
  const code = (await fresh.textContent('[data-testid=link-code]')).replace(/\s/g, '');
  expect(/^[A-Z2-7]{20}$/.test(code), `link code ${code}`);
  expect(/^(\S{5} ){3}\S{5}$/.test(await fresh.getAttribute('[data-testid=link-code]', 'aria-label').then((l) => l.replace('Link code: ', ''))), 'the code is read out in groups of five');
  if (shot) await shot(fresh, 'link-new-device');
  if (axe) axe.push(...await axeViolations(fresh, 'link: the new device\'s code'));
  await old.evaluate(() => (location.hash = '#/devices'));
  await old.locator('[data-testid=device]').first().waitFor({ timeout: 30_000 });
  if (via === 'qr') {
    const file = join(artifacts, `link-qr-${name.replace(/\W/g, '_')}.png`);
    writeFileSync(file, await fresh.locator('[data-testid=link-qr]').screenshot());
    await old.setInputFiles('[data-testid=link-qr-file]', file);
  } else {
    // Typed as one might: lower case, in groups, with dashes.
    await old.fill('[data-testid=link-code-input]', code.toLowerCase().replace(/(.{5})(?=.)/g, '$1-'));
    await old.click('[data-testid=link-code-submit]');
  }
  await old.locator('[data-testid=link-device-name]', { hasText: name }).waitFor({ timeout: 60_000 });
  expect(await old.isChecked('[data-testid=link-history]'), 'history transfer is on by default');
  if (!history) await old.uncheck('[data-testid=link-history]');
  if (shot) await shot(old, 'link-confirm');
  if (axe) axe.push(...await axeViolations(old, 'devices: link confirmation'));
  await old.click('[data-testid=link-confirm]');
  await old.locator('[data-testid=link-result]', { hasText: 'is linked' }).waitFor({ timeout: 60_000 });
  await fresh.locator('[data-testid=me]').waitFor(T);
}

/** Runs the device steps on `r` (a harness runner) with a relay and browser of their own. */
export async function runDevices(r, { relayBin, problems }) {
  const relay = await startRelay(relayBin);
  const browser = await launchBrowser();
  const shot = (page, name) => page.screenshot({ path: join(artifacts, `devices-${name}.png`) });
  const names = ['A1', 'A2', 'B1', 'B2'];
  /** @type {Record<string, {ctx: any, page: any, user: string, peer: string, up: boolean, how?: string, sent: number}>} */
  const dev = {};
  /** axe-core findings on the new screens, checked by the last step. */
  const axe = [];
  /** Per device: a log of what its worker did (see tap.mjs), with the test's steps. */
  const taps = {};
  const note = (line) => Object.values(taps).forEach((t) => t.note(line));
  try {
    for (const n of names) {
      const ctx = await newContext(browser, relay.url, problems, `dev-${n}`);
      // The relay path across devices going offline and online is what this checks: no
      // direct WebRTC channel here. (A channel opened mid-burst carries later messages
      // past earlier ones still on the relay, so a device can show them out of order:
      // a known limit of the direct channel, see the closing note of session 5.)
      await ctx.addInitScript(() => {
        delete window.RTCPeerConnection;
      });
      taps[n] = tapWorkers(ctx, n, join(artifacts, `devices-tap-${n}.log`));
      dev[n] = { name: n, ctx, page: await ctx.newPage(), user: n[0] === 'A' ? 'alice' : 'bob', peer: n[0] === 'A' ? 'bob' : 'alice', up: true, sent: 0 };
    }
    const { A1, A2, B1, B2 } = dev;
    await Promise.all([register(A1.page, 'alice'), register(B1.page, 'bob')]);

    let linkedAt = 0;
    const ok = await r.step('devices: alice adds a second browser by password; bob links one from his first (QR picture, with history)', async () => {
      await startChat(A1.page, 'bob');
      await startChat(B1.page, 'alice');
      for (let i = 0; i < 3; i++) {
        await send(A1.page, `before the link a${i}`);
        await send(B1.page, `before the link b${i}`);
      }
      await B1.page.locator('[data-testid=msg]', { hasText: 'before the link a2' }).waitFor({ timeout: 60_000 });
      await A1.page.locator('[data-testid=msg]', { hasText: 'before the link b2' }).waitFor({ timeout: 60_000 });
      await login(A2.page, 'alice');
      await link(B2.page, B1.page, { via: 'qr', name: 'Bob’s laptop', shot, axe });
      linkedAt = Date.now();
      // The history came along: the six messages, outgoing and incoming as on B1.
      await openChat(B2.page, 'alice');
      const t = await texts(B2.page);
      for (let i = 0; i < 3; i++) expect(t.includes(`before the link a${i}`) && t.includes(`before the link b${i}`), `history on the linked device: ${t}`);
      expect((await B2.page.locator('[data-testid=msg].out', { hasText: 'before the link b0' }).count()) === 1, 'sent messages stay outgoing on the new device');
      // Each account lists two devices, this one marked.
      for (const d of [A1, B1]) {
        await d.page.evaluate(() => (location.hash = '#/devices'));
        await d.page.locator('[data-testid=device]').nth(1).waitFor({ timeout: 30_000 });
        expect((await d.page.locator('[data-testid=device]').count()) === 2, 'two devices');
        expect((await d.page.locator('[data-testid=device][data-current=true] [data-testid=this-device]').count()) === 1, '"this device" marked');
      }
      await shot(B1.page, 'list');
      axe.push(...await axeViolations(B1.page, 'devices'));
      await openChat(A1.page, 'bob');
      await openChat(B1.page, 'alice');
      await openChat(A2.page, 'bob');
      // Senders re-read a contact's (and their own) device list once it is a minute old
      // (the package's bundleMaxAge): from then on the new devices get every message.
      await sleep(Math.max(0, linkedAt + 61_000 - Date.now()));
    });
    if (!ok) return;

    await r.step('devices: a name alice gives bob on one browser shows on her other; removing it there travels back', async () => {
      const rename = async (page, name) => {
        await page.evaluate(() => (location.hash = '#/'));
        await page.click('[data-testid=view-contacts]');
        await page.click('[data-testid=contact-bob]');
        await page.fill('[data-testid=contact-name]', name);
        await page.click('[data-testid=contact-name-save]');
      };
      const shown = async (page, name) => {
        await page.evaluate(() => (location.hash = '#/'));
        await page.click('[data-testid=view-chats]');
        await page.locator('[data-testid=conv-bob]', { hasText: name }).waitFor({ timeout: 60_000 });
      };
      await rename(A1.page, 'Bobby the Builder');
      await shown(A2.page, 'Bobby the Builder');
      await rename(A2.page, '');
      await shown(A1.page, 'bob');
      await A1.page.waitForFunction(() => {
        const row = document.querySelector('[data-testid=conv-bob]');
        return row && !row.textContent.includes('Bobby');
      }, null, { timeout: 60_000 });
      // Bob never learns what alice calls him.
      expect(!(await B1.page.content()).includes('Bobby'), 'the name stays in alice\'s account');
      // Back to the chats (the list stays on Contacts once switched) for the next steps.
      await shown(A2.page, 'bob');
      await openChat(A1.page, 'bob');
      await openChat(A2.page, 'bob');
    });

    await r.step(`devices: ${MESSAGES} messages each way while devices go offline and online (seed ${SEED}): each exactly once on all four, in order per sending device`, async () => {
      const rand = prng(SEED);
      const pick = (xs) => xs[Math.floor(rand() * xs.length)];
      const side = { alice: [A1, A2], bob: [B1, B2] };
      const left = { alice: MESSAGES, bob: MESSAGES };
      const expected = [];
      const down = async (d) => {
        d.how = rand() < 0.5 ? 'network' : 'closed';
        note(`down ${d.name} ${d.how}`);
        if (d.how === 'network') await d.ctx.setOffline(true);
        else {
          // Nobody closes a tab within milliseconds of pressing Send: let the last
          // message be stored (IndexedDB) first.
          await sleep(300);
          await d.page.close();
        }
        d.up = false;
      };
      const up = async (d) => {
        note(`up ${d.name} ${d.how}`);
        if (d.how === 'network') await d.ctx.setOffline(false);
        else {
          d.page = await d.ctx.newPage();
          await unlock(d.page);
        }
        await openChat(d.page, d.peer);
        d.up = true;
      };
      let events = 0;
      const started = Date.now();
      while (left.alice + left.bob > 0) {
        if (rand() < 0.12) {
          // At most one device per account is away at a time, so that each account has
          // an open page to type on.
          const d = pick(Object.values(dev));
          const sibling = side[d.user].find((x) => x !== d);
          if (d.up && sibling.up) await down(d);
          else if (!d.up) await up(d);
          events++;
          continue;
        }
        const who = rand() * (left.alice + left.bob) < left.alice ? 'alice' : 'bob';
        // A device whose network is cut still takes messages (they wait in its outbox).
        const candidates = side[who].filter((d) => d.up || d.how === 'network');
        const d = pick(candidates.length ? candidates : side[who]);
        if (!d.up && d.how === 'closed') continue;
        const name = Object.keys(dev).find((k) => dev[k] === d);
        const text = `${name} #${String(d.sent).padStart(3, '0')}`;
        d.sent++;
        left[who]--;
        expected.push(text);
        note(`type ${text}`);
        await send(d.page, text);
        if (rand() < 0.3) await sleep(Math.floor(rand() * 300));
      }
      for (const d of Object.values(dev)) if (!d.up) await up(d);
      console.log(`      ${expected.length} messages, ${events} online/offline events, typed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      // Everything everywhere: poll until each device shows every message, then check.
      const until = Date.now() + Math.max(180_000, MESSAGES * 3_000);
      const ours = async (page) => (await texts(page)).filter((x) => /^[AB][12] #\d{3}$/.test(x));
      const bad = [];
      for (const [n, d] of Object.entries(dev)) {
        let t = [];
        for (;;) {
          t = await ours(d.page);
          if (expected.every((e) => t.includes(e)) || Date.now() > until) break;
          await sleep(1000);
        }
        const missing = expected.filter((e) => !t.includes(e));
        if (missing.length) {
          let note = '';
          try {
            // Diagnosis: does a reload bring them (the app did not take them the first
            // time), or are they not on this device at all?
            await d.page.close();
            d.page = await d.ctx.newPage();
            await unlock(d.page);
            await openChat(d.page, d.peer);
            await sleep(10_000);
            const after = await ours(d.page);
            note = ` (after a reload ${missing.filter((e) => after.includes(e)).length} of them showed)`;
            t = after;
          } catch (e) {
            note = ` (reload failed: ${String(e).split('\n')[0]})`;
          }
          bad.push(`${n} lacks ${missing.length} of ${expected.length}: ${missing.slice(0, 10).join(', ')}${note}`);
        }
        const counts = new Map();
        for (const x of t) counts.set(x, (counts.get(x) ?? 0) + 1);
        const twice = [...counts].filter(([, c]) => c > 1).map(([x]) => x);
        if (twice.length) bad.push(`${n} shows ${twice.length} messages more than once: ${twice.slice(0, 10).join(', ')}`);
        for (const from of names) {
          const seq = t.filter((x) => x.startsWith(`${from} #`));
          if (!seq.every((x, i) => i === 0 || x > seq[i - 1])) bad.push(`${n}: messages of ${from} out of order: ${seq.join(', ')}`);
        }
        // Own messages are outgoing on both devices of the sender.
        const own = d.user === 'alice' ? ['A1', 'A2'] : ['B1', 'B2'];
        const outs = (await d.page.locator('[data-testid=msg].out .text').allTextContents()).filter((x) => own.includes(x.slice(0, 2)));
        const want = expected.filter((x) => own.includes(x.slice(0, 2))).length;
        if (outs.length !== want) bad.push(`${n}: ${outs.length} of ${want} own messages shown as outgoing`);
      }
      expect(!bad.length, bad.join('\n'));
      await shot(A2.page, 'chat-after-exchange');
      // Delivery per device: the sender says to how many of the devices it was sealed to.
      const last = A1.page.locator('[data-testid=msg].out', { hasText: /A1 #\d{3}/ }).last().locator('[data-testid=msg-state]');
      await last.filter({ hasText: /Delivered to all 2 devices/ }).waitFor({ timeout: 60_000 });
      // A copy of what A2 sent says so on A1.
      await A1.page.locator('[data-testid=msg].out', { hasText: /A2 #\d{3}/ }).last().locator('[data-testid=msg-state]', { hasText: 'Sent from another device' }).waitFor();
    });

    await r.step('devices: a message that cannot be decrypted is a marker line, never text', async () => {
      // An anonymous deposit (anyone may) of a v2 envelope for bob's first device that is not one.
      const bobId = /#\/chat\/([0-9a-f]{64})/.exec(A1.page.url())[1];
      const list = Buffer.from(await (await fetch(`${relay.url}/v2/users/${bobId}/devices`)).arrayBuffer());
      let o = 2 + 32 + 8;
      o += 2 + list.readUInt16BE(o);
      const count = list[o++];
      const ids = [];
      for (let i = 0; i < count; i++) {
        ids.push(list.subarray(o, o + 16));
        o += 16 + 8;
        o += 1 + list[o];
      }
      await B1.page.evaluate(() => (location.hash = '#/devices'));
      const current = await B1.page.getAttribute('[data-testid=device][data-current=true]', 'data-device');
      const device = ids.find((x) => x.toString('hex') === current) ?? ids[0];
      const junk = Buffer.alloc(512);
      for (let i = 0; i < junk.length; i++) junk[i] = (i * 131 + 7) & 0xff;
      junk[0] = 2;
      Buffer.from(bobId, 'hex').copy(junk, 1);
      device.copy(junk, 33);
      const res = await fetch(`${relay.url}/v2/mailboxes/${bobId}/${device.toString('hex')}`, { method: 'POST', body: junk, headers: { 'content-type': 'application/octet-stream' } });
      expect(res.status === 201, `deposit: ${res.status}`);
      // The engine gives up after a few attempts (reconnects), then says so.
      let seen = false;
      for (let i = 0; i < 4 && !seen; i++) {
        await unlock(B1.page);
        seen = await B1.page.locator('[data-testid=notice]', { hasText: 'could not be decrypted' }).first().waitFor({ timeout: 15_000 }).then(() => true, () => false);
      }
      expect(seen, 'a "could not be decrypted" marker');
      await shot(B1.page, 'marker');
      axe.push(...await axeViolations(B1.page, 'a marker'));
      await openChat(B1.page, 'alice');
    });

    await r.step('devices: alice removes her second browser; it stops getting messages, the first still does', async () => {
      await A1.page.evaluate(() => (location.hash = '#/devices'));
      await A1.page.locator('[data-testid=revoke-device]').waitFor({ timeout: 30_000 });
      A1.page.once('dialog', (dlg) => dlg.accept());
      await A1.page.click('[data-testid=revoke-device]');
      await A1.page.locator('[data-testid=devices-status]', { hasText: 'was removed' }).waitFor({ timeout: 60_000 });
      await A1.page.waitForFunction(() => document.querySelectorAll('[data-testid=device]').length === 1, null, { timeout: 30_000 });
      await shot(A1.page, 'after-revoke');
      await openChat(A1.page, 'bob');
      await send(B1.page, 'after the removal');
      await A1.page.locator('[data-testid=msg]', { hasText: 'after the removal' }).waitFor({ timeout: 60_000 });
      await sleep(5_000);
      const onRemoved = await A2.page.locator('[data-testid=msg]', { hasText: 'after the removal' }).count();
      expect(onRemoved === 0, 'the removed device got a message after its removal');
      // The removed browser says so (and offers to log in again) once the package tells it.
      await A2.page.locator('[data-testid=device-removed]').waitFor({ timeout: 60_000 });
      await shot(A2.page, 'removed');
      axe.push(...await axeViolations(A2.page, 'device removed'));
    });

    await r.step('devices: the removed browser wipes itself and is linked again by the typed code, without history', async () => {
      await A2.page.click('[data-testid=device-removed] button');
      await A2.page.locator('[data-testid=auth-submit]').waitFor({ timeout: 30_000 });
      await link(A2.page, A1.page, { via: 'code', name: 'Alice’s second browser', history: false });
      await openChat(A2.page, 'bob').catch(() => undefined);
      expect((await A2.page.locator('[data-testid=msg]', { hasText: 'A1 #000' }).count()) === 0, 'no history when unticked');
      await A1.page.evaluate(() => (location.hash = '#/devices'));
      await A1.page.waitForFunction(() => document.querySelectorAll('[data-testid=device]').length === 2, null, { timeout: 30_000 });
      const relinkedAt = Date.now();
      // The contacts came with the link (a conversation, without messages).
      await A2.page.locator('[data-testid=conv-bob]').waitFor({ timeout: 60_000 });
      await openChat(A2.page, 'bob');
      // Senders re-read device lists once a minute old (bundleMaxAge): then messages
      // reach it, incoming and as sync copies of what A1 sends.
      await openChat(A1.page, 'bob');
      await sleep(Math.max(0, relinkedAt + 61_000 - Date.now()));
      await send(B1.page, 'to the relinked browser');
      await send(A1.page, 'from alice after the relink');
      await A2.page.locator('[data-testid=msg]', { hasText: 'to the relinked browser' }).waitFor({ timeout: 60_000 });
      await A2.page.locator('[data-testid=msg].out', { hasText: 'from alice after the relink' }).waitFor({ timeout: 60_000 });
    });

    await r.step('devices: a ninth device is refused; one is removed with the password alone, then it joins', async () => {
      // Password logins up to eight devices.
      await A1.page.evaluate(() => (location.hash = '#/devices'));
      await A1.page.locator('[data-testid=device]').first().waitFor({ timeout: 30_000 });
      const have = await A1.page.locator('[data-testid=device]').count();
      for (let i = have; i < 8; i++) {
        const ctx = await newContext(browser, relay.url, problems, `extra-${i}`);
        await login(await ctx.newPage(), 'alice');
        await ctx.close();
      }
      const ctx = await newContext(browser, relay.url, problems, 'ninth');
      const p = await ctx.newPage();
      await p.goto('/');
      await p.getByRole('tab', { name: 'Log in' }).click();
      await p.fill('#username', 'alice');
      await p.fill('#password', PASSWORD);
      await p.click('[data-testid=auth-submit]');
      await p.locator('[data-testid=auth-error]', { hasText: '8 devices' }).waitFor(T);
      await p.locator('[data-testid=remove-with-password]').nth(7).waitFor({ timeout: 30_000 });
      axe.push(...await axeViolations(p, 'account full'));
      await shot(p, 'account-full');
      p.once('dialog', (dlg) => dlg.accept());
      await p.locator('[data-testid=remove-with-password]').last().click();
      await p.locator('[data-testid=me]').waitFor(T);
      await p.evaluate(() => (location.hash = '#/devices'));
      await p.locator('[data-testid=device]').nth(7).waitFor({ timeout: 30_000 });
      expect((await p.locator('[data-testid=device]').count()) === 8, 'eight devices, this one among them');
      await ctx.close();
    });

    await r.step('devices: axe-core finds no WCAG 2.1 A/AA violations on the device screens', async () => {
      expect(axe.length === 0, axe.join('\n'));
    });
  } finally {
    await browser.close().catch(() => undefined);
    await relay.stop();
  }
}

await standalone(import.meta.url, 'devices', runDevices);
