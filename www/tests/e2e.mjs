#!/usr/bin/env node
// End-to-end test of the PWA in headless Chromium (Debian's, through playwright-core):
// a fresh relay on loopback serving www/dist, two independent browser contexts that
// register, find each other, verify safety numbers (QR picture upload and digits),
// chat both ways, queue offline, receive a backlog, a third context that logs in as one
// of them, and a browser whose (fake) camera films a QR code; then files (files.mjs), the
// device steps (devices.mjs), the rough edges on desktop and phone (edges.mjs), groups
// (groups.mjs) and files in groups (groupfiles.mjs), a sent message stored first
// (durable.mjs), the cost of a message at two chat lengths (growth.mjs), the direct channel with its data channel in the worker and on the page (direct.mjs), search with its index sealed at rest (search.mjs), the service worker's shell (shell.mjs), the error texts (errors.mjs), the I/O-free rules (units.mjs), issue 14 on a phone (phone.mjs), rooms
// (rooms.mjs); voice calls (calls.mjs) run as their own process (xtask). Screenshots of the main screens go to test-artifacts/.
//
//   node www/tests/e2e.mjs            (E2E_KEY_SIZE=4096 for the package default keys)
//
// Prints `N passed, N failed` last and exits non-zero on any failure.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canvasQrPayload, writeQrY4m } from './fakecam.mjs';
import { runDevices } from './devices.mjs';
import { runEdges } from './edges.mjs';
import { runPhone } from './phone.mjs';
import { runGroups } from './groups.mjs';
import { checkErrorTexts } from './errors.mjs';
import { runUnits } from './units.mjs';
import { runFiles } from './files.mjs';
import { runGroupFiles } from './groupfiles.mjs';
import { runRooms } from './rooms.mjs';
import { runDurable } from './durable.mjs';
import { runDirect } from './direct.mjs';
import { runSearch } from './search.mjs';
import { runGrowth } from './growth.mjs';
import { runShell } from './shell.mjs';
import { artifacts, axeViolations, ensureBuilt, launchBrowser, launchBrowserWithCamera, lock, newContext, recordNotifications, runner, startRelay, unlockIfAsked } from './harness.mjs';

const KEY_SIZE = process.env.E2E_KEY_SIZE ?? '2048';
const PASSWORD = 'correct horse battery staple';
const T = { timeout: 180_000 };

const relayBin = ensureBuilt({ rebuildWww: process.argv.includes('--build') });
const relay = await startRelay(relayBin);
const browser = await launchBrowser();
const problems = [];
const r = runner();
console.log(`relay ${relay.url}, keys RSA-${KEY_SIZE}`);

const shot = (page, name) => page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: false });

async function register(page, username, { key = KEY_SIZE, screenshots = false } = {}) {
  await page.goto('/');
  await page.getByRole('tab', { name: 'Create account' }).click();
  await page.fill('#username', username);
  await page.fill('#password', PASSWORD);
  if (key !== '4096') {
    await page.locator('details.advanced summary').click();
    await page.selectOption('[data-testid=key-size]', key);
  }
  if (screenshots) await shot(page, '01-register');
  await page.click('[data-testid=auth-submit]');
  if (screenshots) {
    await page.locator('[data-testid=progress-label]').waitFor({ state: 'visible' });
    await shot(page, '02-keygen-progress');
  }
  await page.locator('[data-testid=me]').waitFor(T);
}

async function startChat(page, username) {
  await page.fill('[data-testid=new-contact]', username);
  await page.click('[data-testid=new-contact-submit]');
  await page.locator('[data-testid=safety-digits]').waitFor({ timeout: 30_000 });
}

async function openChat(page, username) {
  await page.evaluate(() => (location.hash = '#/')); // on a phone the list is hidden inside a chat
  await page.click(`[data-testid=conv-${username}]`);
  await page.locator('[data-testid=compose]').waitFor();
}

async function send(page, text) {
  await page.fill('[data-testid=compose]', text);
  await page.press('[data-testid=compose]', 'Enter');
}

const msg = (page, text) => page.locator('[data-testid=msg]', { hasText: text });
async function waitState(page, text, state, timeout = 30_000) {
  await page.locator(`[data-testid=msg][data-state=${state}]`, { hasText: text }).waitFor({ timeout });
}
function expect(cond, what) {
  if (!cond) throw new Error(what);
}

let ctxA, ctxB, ctxC, pageA, pageB;
try {
  ctxA = await newContext(browser, relay.url, problems, 'A');
  ctxB = await newContext(browser, relay.url, problems, 'B');
  pageA = await ctxA.newPage();
  pageB = await ctxB.newPage();

  await r.step('every error code the package can raise has friendly text (errors.mjs)', checkErrorTexts);
  await runUnits(r);

  const ok = await r.step('A and B register in independent contexts (keys in a worker, with progress)', async () => {
    await Promise.all([register(pageA, 'alice', { screenshots: true }), register(pageB, 'bob')]);
    expect((await pageA.textContent('[data-testid=me]')) === 'alice', 'A shows its username');
    await shot(pageA, '03-empty-conversations');
  });
  if (!ok) throw new Error('cannot continue without accounts');

  await r.step('registering a taken username is refused', async () => {
    const ctx = await newContext(browser, relay.url, problems, 'X');
    const p = await ctx.newPage();
    await p.goto('/');
    await p.fill('#username', 'alice');
    await p.fill('#password', PASSWORD);
    await p.click('[data-testid=auth-submit]');
    await p.locator('[data-testid=auth-error]', { hasText: 'taken' }).waitFor({ timeout: 30_000 });
    await ctx.close();
  });

  await r.step('a weak password is refused at registration, with the strength estimator\'s feedback', async () => {
    const ctx = await newContext(browser, relay.url, problems, 'W');
    const p = await ctx.newPage();
    await p.goto('/');
    await p.fill('#username', 'walter');
    await p.fill('#password', 'password123');
    // The verdict shows as it is typed, and the field points to it.
    await p.locator('[data-testid=pw-strength]', { hasText: 'commonly used password' }).waitFor();
    expect((await p.getAttribute('#password', 'aria-describedby')) === 'pw-strength', 'the field is described by the verdict');
    await p.click('[data-testid=auth-submit]');
    await p.locator('[data-testid=auth-error]', { hasText: 'too easy to guess' }).waitFor();
    expect((await p.textContent('[data-testid=auth-error]')).includes('commonly used password'), 'the estimator\'s warning is shown');
    // Made of the username: refused too.
    await p.fill('#password', 'walter2024');
    await p.click('[data-testid=auth-submit]');
    await p.locator('[data-testid=auth-error]', { hasText: 'too easy to guess' }).waitFor();
    await shot(p, '01b-weak-password');
    expect((await p.locator('[data-testid=me]').count()) === 0, 'no account was made');
    await p.fill('#password', PASSWORD);
    await p.locator('[data-testid=pw-strength]', { hasText: /Strong|Very strong/ }).waitFor();
    await ctx.close();
  });

  await r.step('A finds B, B finds A; both see the same safety number', async () => {
    await startChat(pageA, 'bob');
    await startChat(pageB, 'alice');
    const a = (await pageA.textContent('[data-testid=safety-digits]')).replace(/\D/g, '');
    const b = (await pageB.textContent('[data-testid=safety-digits]')).replace(/\D/g, '');
    expect(a.length === 60 && a === b, `safety numbers differ or malformed: ${a} vs ${b}`);
    await pageA.locator('[data-testid=qr]').waitFor();
    await shot(pageA, '04-safety-number');
    await pageA.getByText('Unknown user').count().then((n) => expect(n === 0, 'no unknown user'));
    expect((await pageA.textContent('[data-testid=badge]')).includes('Not verified'), 'unverified badge shown');
  });

  await r.step('B verifies A by uploading a picture of A\'s QR code; A verifies by digits', async () => {
    const png = await pageA.locator('[data-testid=qr]').screenshot();
    const file = join(artifacts, 'qr-alice-bob.png');
    writeFileSync(file, png);
    await pageB.setInputFiles('[data-testid=qr-file]', file);
    await pageB.locator('[data-testid=verify-result]', { hasText: 'match' }).waitFor({ timeout: 15_000 });
    await pageB.locator('[data-testid=badge].verified').waitFor();
    await shot(pageB, '05-verified-by-qr');
    await pageA.click('[data-testid=mark-verified]');
    await pageA.locator('[data-testid=badge].verified').waitFor();
  });

  await r.step('a wrong QR code is rejected', async () => {
    // A QR code of some other payload: the icon is not one; use B's own view of a
    // different pair by rendering A's QR for a third party later. Simplest: a blank image.
    const blank = join(artifacts, 'blank.png');
    writeFileSync(blank, await pageA.locator('[data-testid=me]').screenshot());
    await pageB.setInputFiles('[data-testid=qr-file]', blank);
    await pageB.locator('[data-testid=verify-result]', { hasText: 'No QR code' }).waitFor({ timeout: 15_000 });
  });

  await r.step('messages both ways, in real time, reaching "Delivered"', async () => {
    await pageA.click('[data-testid=open-chat]');
    await pageB.click('[data-testid=open-chat]');
    await send(pageA, 'Hello Bob, this is end-to-end encrypted.');
    await msg(pageB, 'Hello Bob, this is end-to-end encrypted.').waitFor({ timeout: 30_000 });
    // Screen readers hear incoming messages from one status region, not the whole list.
    await pageB.locator('[data-testid=announcer][role=status]', { hasText: 'New message from alice: Hello Bob' }).waitFor({ state: 'attached' });
    expect((await pageB.locator('[aria-live]:not([aria-live=off]) [data-testid=msg]').count()) === 0, 'messages are not in a live region');
    await waitState(pageA, 'Hello Bob', 'delivered');
    await send(pageB, 'Hi Alice! Loud and clear.');
    await msg(pageA, 'Hi Alice! Loud and clear.').waitFor({ timeout: 30_000 });
    await waitState(pageB, 'Loud and clear', 'delivered');
    // Trailing whitespace goes, leading indentation stays; whitespace alone is not sent.
    await send(pageB, '    indented line  \n\n');
    await msg(pageA, 'indented line').waitFor({ timeout: 30_000 });
    const got = await msg(pageA, 'indented line').locator('.text').textContent();
    expect(got === '    indented line', `sent text: ${JSON.stringify(got)}`);
    await send(pageB, '   ');
    expect((await pageB.inputValue('[data-testid=compose]')) === '   ', 'whitespace alone is not sent');
    await pageB.fill('[data-testid=compose]', '');
    for (let i = 0; i < 5; i++) await send(pageA, `burst ${i}`);
    await msg(pageB, 'burst 4').waitFor({ timeout: 30_000 });
    const texts = await pageB.locator('[data-testid=msg] .text').allTextContents();
    const burst = texts.filter((t) => t.startsWith('burst'));
    expect(JSON.stringify(burst) === JSON.stringify(['burst 0', 'burst 1', 'burst 2', 'burst 3', 'burst 4']), `order/duplicates: ${burst}`);
    await shot(pageA, '06-chat-desktop');
  });

  await r.step('both chats open: a direct channel opens and the chat says "direct"; messages still arrive once', async () => {
    // The channel's own rules are tested in engine/tests/direct.rs and the package's
    // Chromium suite; here: the PWA asks for it, shows it, and keeps working on it.
    for (const page of [pageA, pageB]) await page.locator('[data-testid=direct]').waitFor({ timeout: 60_000 });
    await send(pageA, 'over the direct channel');
    await msg(pageB, 'over the direct channel').waitFor({ timeout: 30_000 });
    await waitState(pageA, 'over the direct channel', 'delivered');
    expect((await msg(pageB, 'over the direct channel').count()) === 1, 'delivered once');
  });

  await r.step('conversation: reply, react, edit, delete for everyone, read receipts, typing, disappearing messages', async () => {
    // Opt in to read receipts and typing on both sides (Account screen toggles).
    for (const page of [pageA, pageB]) {
      await page.evaluate(() => (location.hash = '#/account'));
      await page.check('[data-testid=read-receipts]');
      await page.check('[data-testid=typing-toggle]');
    }
    await openChat(pageA, 'bob');
    await openChat(pageB, 'alice');
    const menu = async (page, text, action) => {
      const m = msg(page, text).last();
      await m.locator('[data-testid=msg-actions]').click();
      await m.locator(`[data-testid="${action}"]`).click();
    };
    // Reply: the quote shows on the other side.
    await send(pageA, 'please reply to this');
    await msg(pageB, 'please reply to this').waitFor({ timeout: 30_000 });
    await menu(pageB, 'please reply to this', 'reply');
    await pageB.locator('[data-testid=composing]', { hasText: 'please reply to this' }).waitFor();
    await send(pageB, 'this is my reply');
    await msg(pageA, 'this is my reply').locator('[data-testid=quote]', { hasText: 'please reply to this' }).waitFor({ timeout: 30_000 });
    // Read receipt: Bob has the chat open, so Alice's message shows "Read".
    await msg(pageA, 'please reply to this').locator('[data-testid=msg-state]', { hasText: 'Read' }).waitFor({ timeout: 30_000 });
    // A reaction.
    await menu(pageA, 'this is my reply', 'react-👍');
    await msg(pageB, 'this is my reply').locator('[data-testid=reactions]', { hasText: '👍' }).waitFor({ timeout: 30_000 });
    // Edit, then delete for everyone.
    await send(pageA, 'a tpyo here');
    await msg(pageB, 'a tpyo here').waitFor({ timeout: 30_000 });
    await waitState(pageA, 'a tpyo here', 'delivered');
    await menu(pageA, 'a tpyo here', 'edit');
    await pageA.fill('[data-testid=compose]', 'a typo fixed');
    await pageA.press('[data-testid=compose]', 'Enter');
    await msg(pageB, 'a typo fixed').locator('[data-testid=edited]').waitFor({ timeout: 30_000 });
    expect((await msg(pageB, 'a tpyo here').count()) === 0, 'the old text is gone');
    pageA.once('dialog', (d) => d.accept());
    await menu(pageA, 'a typo fixed', 'delete-everyone');
    await pageB.locator('[data-testid=deleted]').last().waitFor({ timeout: 30_000 });
    expect((await msg(pageB, 'a typo fixed').count()) === 0, 'deleted for everyone');
    // Typing.
    await pageA.locator('[data-testid=compose]').pressSequentially('typing some');
    await pageB.locator('[data-testid=typing]:not([hidden])').waitFor({ timeout: 30_000 });
    await pageA.fill('[data-testid=compose]', '');
    // Disappearing messages: 30 seconds, agreed in the conversation, removed on both sides.
    await pageA.selectOption('[data-testid=timer]', '30');
    await pageB.locator('[data-testid=notice]', { hasText: 'set disappearing messages to 30 seconds' }).waitFor({ timeout: 30_000 });
    expect((await pageB.inputValue('[data-testid=timer]')) === '30', 'the timer is shared');
    await send(pageA, 'this one disappears');
    await msg(pageB, 'this one disappears').waitFor({ timeout: 30_000 });
    await shot(pageB, '06b-conversation-features');
    await msg(pageB, 'this one disappears').waitFor({ state: 'detached', timeout: 60_000 });
    await msg(pageA, 'this one disappears').waitFor({ state: 'detached', timeout: 60_000 });
    await pageB.selectOption('[data-testid=timer]', '0');
    await pageA.locator('[data-testid=notice]', { hasText: 'turned off disappearing messages' }).waitFor({ timeout: 30_000 });
    // Search in the history (local, over the opened messages): a result opens its chat at it.
    await pageB.evaluate(() => (location.hash = '#/'));
    await pageB.fill('[data-testid=search]', 'REPLY TO');
    await pageB.locator('[data-testid=search-result]', { hasText: 'please reply to this' }).click();
    await pageB.locator('.msg.hit', { hasText: 'please reply to this' }).waitFor({ timeout: 10_000 });
    await pageB.fill('[data-testid=search]', 'nothing like this');
    await pageB.locator('[data-testid=search-none]').waitFor();
    await pageB.fill('[data-testid=search]', '');
  });

  await r.step('B goes away; A\'s messages wait on the relay; B comes back and gets the backlog', async () => {
    await pageB.close();
    await pageA.locator('[data-testid=link-state]').waitFor();
    for (let i = 1; i <= 3; i++) await send(pageA, `while you were away ${i}`);
    await waitState(pageA, 'while you were away 3', 'relay');
    await shot(pageA, '07-on-relay');
    pageB = await ctxB.newPage();
    await pageB.goto('/');
    await pageB.fill('#password', PASSWORD);
    await pageB.click('[data-testid=unlock-submit]');
    await pageB.locator('[data-testid=me]').waitFor(T);
    await pageB.locator('[data-testid=conv-alice] [data-testid=unread]', { hasText: '3' }).waitFor({ timeout: 30_000 });
    await shot(pageB, '08-unread-backlog');
    await openChat(pageB, 'alice');
    for (let i = 1; i <= 3; i++) await msg(pageB, `while you were away ${i}`).waitFor();
    expect((await msg(pageB, 'Hello Bob, this is end-to-end encrypted.').count()) === 1, 'history kept across reload, no duplicates');
    await waitState(pageA, 'while you were away 3', 'delivered');
  });

  await r.step('A offline: the message is queued, then sent when back online; draft survives reload', async () => {
    await ctxA.setOffline(true);
    await send(pageA, 'typed while offline');
    await waitState(pageA, 'typed while offline', 'queued', 10_000);
    await shot(pageA, '09-offline-queued');
    await ctxA.setOffline(false);
    await msg(pageB, 'typed while offline').waitFor({ timeout: 60_000 });
    await waitState(pageA, 'typed while offline', 'delivered');
    await pageB.fill('[data-testid=compose]', 'an unsent draft');
    await pageB.waitForTimeout(600);
    await pageB.reload();
    expect(!(await unlockIfAsked(pageB, PASSWORD)), 'a reload of the tab does not ask for the password');
    await openChat(pageB, 'alice');
    expect((await pageB.inputValue('[data-testid=compose]')) === 'an unsent draft', 'draft kept');
  });

  await r.step('a second tab of the same profile steps aside ("Use here")', async () => {
    await openChat(pageB, 'alice');
    await pageB.fill('[data-testid=compose]', 'a draft across tabs');
    const tab2 = await ctxB.newPage();
    await tab2.goto('/');
    // Asked before the password: the account is open in the first tab (the package's lock).
    await tab2.locator('[data-testid=use-here]').waitFor({ timeout: 30_000 });
    expect(await tab2.locator('#password').count() === 0, 'no password prompt while the account is open elsewhere');
    // Taking over: the first tab pauses, the second unlocks and works.
    await tab2.click('[data-testid=use-here]');
    await tab2.fill('#password', PASSWORD);
    await tab2.click('[data-testid=unlock-submit]');
    await tab2.locator('[data-testid=me]').waitFor(T);
    await pageB.locator('[data-testid=use-here]').waitFor({ timeout: 30_000 });
    await openChat(tab2, 'alice');
    const draft = await tab2.inputValue('[data-testid=compose]');
    expect(draft === 'a draft across tabs', `the draft typed in the first tab: ${JSON.stringify(draft)}`);
    await send(pageA, 'to the new tab');
    await msg(tab2, 'to the new tab').waitFor({ timeout: 30_000 });
    await send(tab2, draft); // clears the draft
    await msg(pageA, draft).waitFor({ timeout: 30_000 });
    await tab2.close();
  });

  await r.step('phone-sized screen: conversation list and chat', async () => {
    const phone = await ctxB.newPage();
    await pageB.close();
    pageB = phone;
    await phone.setViewportSize({ width: 390, height: 780 });
    await phone.goto('/');
    await phone.fill('#password', PASSWORD);
    await phone.click('[data-testid=unlock-submit]');
    await phone.locator('[data-testid=me]').waitFor(T);
    await shot(phone, '10-phone-list');
    await openChat(phone, 'alice');
    await shot(phone, '11-phone-chat');
    expect(await phone.locator('[data-testid=conversations]').isHidden(), 'list hidden in chat on phone');
  });

  await r.step('A logs in on a third context and gets its identity back', async () => {
    const fpA = await (async () => {
      await pageA.click('[data-testid=me]');
      return (await pageA.textContent('[data-testid=account-fingerprint]')).trim();
    })();
    ctxC = await newContext(browser, relay.url, problems, 'C');
    const pageC = await ctxC.newPage();
    await pageC.goto('/');
    await pageC.getByRole('tab', { name: 'Log in' }).click();
    await pageC.fill('#username', 'alice');
    await pageC.fill('#password', 'wrong password!');
    await pageC.click('[data-testid=auth-submit]');
    await pageC.locator('[data-testid=auth-error]', { hasText: 'Wrong' }).waitFor({ timeout: 60_000 });
    // Keyboard and labels only: the fields are found by their visible labels and the
    // form is submitted with Enter.
    await pageC.getByLabel('Password').fill(PASSWORD);
    await pageC.getByLabel('Password').press('Enter');
    await pageC.locator('[data-testid=me]').waitFor(T);
    await pageC.getByLabel('Start a chat with').focus();
    await pageC.keyboard.press('Tab'); // from the field to its button: a real focus order
    expect(await pageC.evaluate(() => document.activeElement?.textContent === 'Start chat'), 'Tab reaches "Start chat"');
    await pageC.click('[data-testid=me]');
    const fpC = (await pageC.textContent('[data-testid=account-fingerprint]')).trim();
    expect(fpA === fpC, `identity differs: ${fpA} vs ${fpC}`);
    await shot(pageC, '12-account-restored');
    // Log out wipes this browser's copy.
    pageC.once('dialog', (d) => d.accept());
    await pageC.click('[data-testid=logout]');
    await pageC.locator('[data-testid=auth-submit]').waitFor({ timeout: 30_000 });
    const wiped = async (how) => {
      const left = await pageC.evaluate(async () => {
        const names = (await indexedDB.databases()).map((d) => d.name);
        const keys = await new Promise((resolve) => {
          const req = indexedDB.open('sealpost');
          req.onsuccess = () => {
            const db = req.result;
            if (!db.objectStoreNames.length) return resolve([]);
            const st = db.transaction([...db.objectStoreNames]).objectStore(db.objectStoreNames[0]);
            const k = st.getAllKeys();
            k.onsuccess = () => resolve(k.result.map(String));
          };
          req.onerror = () => resolve([]);
        });
        return { names, keys };
      });
      expect(!left.names.some((n) => /^sealpost-www-[0-9a-f]{16}$/.test(n)), `${how}: history database left: ${left.names}`);
      expect(left.keys.length === 0, `${how}: package storage keys left: ${left.keys}`);
    };
    await wiped('log out');
    // "Use another account" on the unlock screen removes the account without its password.
    await pageC.getByRole('tab', { name: 'Log in' }).click();
    await pageC.fill('#username', 'alice');
    await pageC.fill('#password', PASSWORD);
    await pageC.click('[data-testid=auth-submit]');
    await pageC.locator('[data-testid=me]').waitFor(T);
    await lock(pageC);
    pageC.once('dialog', (d) => d.accept());
    await pageC.getByRole('button', { name: 'Use another account' }).click();
    await pageC.locator('[data-testid=auth-submit]').waitFor({ timeout: 30_000 });
    await wiped('use another account');
  });

  await r.step('A, on a device with a camera, scans B\'s QR code: verified; a different code is not', async () => {
    // What the camera films: the code B's contact screen draws for A and B (both sides
    // draw the same 65 bytes), re-encoded as the app encodes it.
    await openChat(pageB, 'alice');
    await pageB.click('[data-testid=safety-link]');
    const code = await canvasQrPayload(pageB, '[data-testid=qr]');
    expect(code.length === 65, `QR payload of ${code.length} bytes`);
    // First another code: B's fingerprint with one bit off, as a man in the middle's.
    const other = Uint8Array.from(code);
    other[40] ^= 1;
    const y4m = join(artifacts, 'camera.y4m');
    writeQrY4m(y4m, other);
    const cam = await launchBrowserWithCamera(y4m);
    try {
      const ctx = await newContext(cam, relay.url, problems, 'F');
      const page = await ctx.newPage();
      await page.goto('/');
      await page.getByRole('tab', { name: 'Log in' }).click();
      await page.fill('#username', 'alice');
      await page.fill('#password', PASSWORD);
      await page.click('[data-testid=auth-submit]');
      await page.locator('[data-testid=me]').waitFor(T);
      await startChat(page, 'bob');
      // Verified marks travel to the account's new devices: A verified B (digits) above.
      await page.locator('[data-testid=badge].verified').waitFor({ timeout: 30_000 });
      await page.click('[data-testid=unverify]');
      await page.locator('[data-testid=mark-verified]').waitFor();
      const result = page.locator('[data-testid=verify-result]');
      const scan = page.getByRole('button', { name: 'Scan their code' });
      await scan.click();
      await result.filter({ hasText: 'do NOT match' }).waitFor({ timeout: 30_000 });
      expect((await page.textContent('[data-testid=badge]')).includes('Not verified'), 'a different code leaves B unverified');
      // Then B's code: the camera reads the new file the next time it starts.
      writeQrY4m(y4m, code);
      await scan.click();
      await result.filter({ hasText: 'Safety numbers match' }).waitFor({ timeout: 30_000 });
      await page.locator('[data-testid=badge].verified').waitFor();
      expect(!(await page.textContent('[data-testid=badge]')).includes('Not verified'), 'badge says verified');
      await page.locator('[data-testid=unverify]').waitFor();
      await shot(page, '16-camera-scan');
      await ctx.close();
    } finally {
      await cam.close().catch(() => undefined);
    }
  });

  await r.step('offline: the app opens from the service worker cache and queues messages', async () => {
    const controlled = await pageB.evaluate(async () => {
      await navigator.serviceWorker.ready;
      return !!navigator.serviceWorker.controller;
    });
    expect(controlled, 'the service worker controls the page');
    await openChat(pageA, 'bob');
    await ctxB.setOffline(true);
    await pageB.reload();
    expect(!(await unlockIfAsked(pageB, PASSWORD)), 'opened offline without the password (same tab)');
    expect(await pageB.evaluate(() => !navigator.onLine), 'page is offline');
    await pageB.locator('[data-testid=link-state][data-state=offline]').waitFor({ timeout: 10_000 });
    await openChat(pageB, 'alice');
    await send(pageB, 'written in an app opened offline');
    await waitState(pageB, 'written in an app opened offline', 'queued', 10_000);
    await shot(pageB, '13-phone-offline-queued');
    await ctxB.setOffline(false);
    await msg(pageA, 'written in an app opened offline').waitFor({ timeout: 60_000 });
    await waitState(pageB, 'written in an app opened offline', 'delivered', 30_000);
  });

  await r.step('malformed content from a stranger is dropped and acknowledged (not retried forever); a valid message shows, named by the package', async () => {
    // Mallory uses the package's Client from Node and posts raw content to B.
    // The package the PWA is built with (www/node_modules/sealpost-wasm, i.e. wasm/pkg).
    const sp = await import('sealpost-wasm');
    const mallory = await sp.Client.register({ relayUrl: relay.url, storage: new sp.MemoryStorage(), keySize: 2048, connect: false }, 'mallory', PASSWORD);
    const acked = async () => Number(/^sealpost_acked_total (\d+)$/m.exec(await (await fetch(`${relay.url}/metrics`)).text())?.[1] ?? NaN);
    const before = await acked();
    // Contents the app cannot show: text that is not UTF-8, malformed conversation
    // content (PROTOCOL.md 28), a file manifest of junk, unknown content types.
    const junk = [[0, [0xff, 0xfe]], [3, [0]], [3, [4, 0, 0, 0, 0, 0]], [4, [1, 2]], [2, [1, 2, 3]], [9, [0, 0, 0, 1]], [42, [1]]];
    for (const [type, bytes] of junk) await mallory.send('bob', new Uint8Array(bytes), type);
    // No name in the content: B learns "mallory" from the package (checked against her id).
    await mallory.send('bob', 'after the junk');
    await pageB.evaluate(() => (location.hash = '#/'));
    await pageB.locator('[data-testid=conv-mallory]', { hasText: 'after the junk' }).waitFor({ timeout: 30_000 });
    // B deletes every one of them from its mailbox (a message it cannot handle would
    // stay and come back on every connection).
    const want = before + junk.length + 1;
    for (let i = 0; i < 150 && (await acked()) < want; i++) await new Promise((res) => setTimeout(res, 200));
    const got = await acked();
    expect(got >= want, `acknowledged ${got - before} of ${junk.length + 1} blobs`);
    await openChat(pageB, 'mallory');
    expect((await pageB.locator('[data-testid=msg]').count()) === 1, 'only the valid message is shown');
    // Plain text (content type 0) from another app on the package: shown too.
    const trent = await sp.Client.register({ relayUrl: relay.url, storage: new sp.MemoryStorage(), keySize: 2048, connect: false }, 'trent', PASSWORD);
    await trent.send('bob', 'plain text from another app');
    await pageB.evaluate(() => (location.hash = '#/'));
    await pageB.locator('[data-testid=conv-trent]', { hasText: 'plain text from another app' }).waitFor({ timeout: 30_000 });
    await Promise.all([mallory.logout(), trent.logout()]);
  });

  await r.step('a delivery receipt that could not be sent survives a reload and goes later', async () => {
    await openChat(pageB, 'alice');
    const aliceId = /#\/chat\/([0-9a-f]{64})/.exec(pageB.url())[1];
    // B cannot post to A's mailbox (its receipts fail); everything else works.
    // Each of her devices' mailboxes.
    const deposits = new RegExp(`/v2/mailboxes/${aliceId}/[0-9a-f]{32}$`);
    let refused = 0;
    await ctxB.route(deposits, (route) => (route.request().method() === 'POST' ? (refused++, route.abort('failed')) : route.continue()));
    // No direct channel either (it would carry the receipt past the relay): a reload
    // closes one the open chats made, and B's half of the signalling now cannot reach A.
    await pageB.reload();
    await Promise.race([pageB.locator('[data-testid=me]').waitFor(T), pageB.locator('#password').waitFor(T)]);
    if (await pageB.locator('#password').isVisible()) {
      await pageB.fill('#password', PASSWORD);
      await pageB.click('[data-testid=unlock-submit]');
    }
    await pageB.locator('[data-testid=me]').waitFor(T);
    // Routes see HTTP requests, not the worker's deposit socket: the network drops what
    // B's worker sends on it too, so each deposit falls back to a POST, which the route
    // refuses.
    for (const w of pageB.workers()) {
      await w.evaluate(() => {
        const send = WebSocket.prototype.send;
        WebSocket.prototype.send = function (data) {
          if (this.url.endsWith('/v2/deposits')) throw new DOMException('dropped by the test', 'NetworkError');
          return send.call(this, data);
        };
      });
    }
    await openChat(pageB, 'alice');
    refused = 0;
    await send(pageA, 'a receipt for this one waits');
    await msg(pageB, 'a receipt for this one waits').waitFor({ timeout: 30_000 });
    for (let i = 0; i < 150 && !refused; i++) await new Promise((res) => setTimeout(res, 200));
    expect(refused > 0, 'B tried to send the receipt');
    await waitState(pageA, 'a receipt for this one waits', 'relay');
    // The package retries a refused receipt deposit (each minute) while the tab is open.
    await ctxB.unroute(deposits);
    await waitState(pageA, 'a receipt for this one waits', 'delivered', 90_000);
  });

  await r.step('a changed key (a lying directory) is a clear warning and nothing is sent', async () => {
    // The impostor: another relay where "carol" has different keys. A's relay then
    // answers carol's bundle with the impostor's (self-signed, so it verifies).
    const relay2 = await startRelay(relayBin);
    try {
      const ctxD = await newContext(browser, relay.url, problems, 'D');
      const ctxE = await newContext(browser, relay2.url, problems, 'E');
      const [pageD, pageE] = [await ctxD.newPage(), await ctxE.newPage()];
      await Promise.all([register(pageD, 'carol'), register(pageE, 'carol')]);
      await startChat(pageA, 'carol');
      const carolId = /#\/contact\/([0-9a-f]{64})/.exec(pageA.url())[1];
      await pageA.click('[data-testid=open-chat]');
      await send(pageA, 'hi carol');
      await pageD.locator('[data-testid=conv-alice]', { hasText: 'hi carol' }).waitFor({ timeout: 60_000 });
      // Every directory answer about carol comes from the impostor's relay (her device
      // list and device bundles).
      const directory = new RegExp(`/v2/users/${carolId}/(bundles|devices)(/|\\?|$)`);
      await ctxA.route(directory, async (route) => {
        if (route.request().method() !== 'GET') return route.continue();
        const u = new URL(route.request().url());
        const res = await fetch(`${relay2.url}${u.pathname}${u.search}`);
        await route.fulfill({ status: res.status, headers: { 'content-type': res.headers.get('content-type') ?? 'application/octet-stream' }, body: Buffer.from(await res.arrayBuffer()) });
      });
      await pageA.reload();
      await unlockIfAsked(pageA, PASSWORD);
      await openChat(pageA, 'carol');
      await pageA.locator('[data-testid=key-banner]').waitFor({ timeout: 30_000 });
      expect((await pageA.textContent('[data-testid=badge]')).includes('Key changed'), 'badge says key changed');
      expect(await pageA.isDisabled('[data-testid=compose]'), 'composer disabled');
      await pageA.locator('[data-testid=conv-carol]', { hasText: 'Key changed' }).waitFor();
      await shot(pageA, '14-key-changed');
      await pageA.click('[data-testid=review-key]');
      await pageA.locator('[data-testid=key-changed]').waitFor();
      // The new safety number is shown before accepting (the package's IDENTITY_CHANGED
      // details), next to the old one, and the new fingerprint is the impostor's key.
      await pageA.locator('[data-testid=new-safety-digits]').waitFor({ timeout: 30_000 });
      const digitsOf = async (sel) => (await pageA.textContent(sel)).replace(/\D/g, '');
      const oldDigits = await digitsOf('[data-testid=safety-digits]');
      const newDigits = await digitsOf('[data-testid=new-safety-digits]');
      expect(oldDigits.length === 60 && newDigits.length === 60, `malformed safety numbers: ${oldDigits} / ${newDigits}`);
      expect(oldDigits !== newDigits, 'the new safety number differs from the old one');
      expect(/New safety number: (\d{5} ){11}\d{5}$/.test(await pageA.getAttribute('[data-testid=new-safety-digits]', 'aria-label')), 'new digits are labelled');
      await pageE.evaluate(() => (location.hash = '#/account'));
      const impostorFp = /[0-9a-f]{64}/.exec(await pageE.textContent('[data-testid=account-fingerprint]'))[0];
      const newFp = /[0-9a-f]{64}/.exec(await pageA.textContent('[data-testid=new-fingerprint]'))?.[0];
      expect(newFp === impostorFp, `new fingerprint ${newFp} is the impostor's ${impostorFp}`);
      await shot(pageA, '15-key-changed-review');
      await pageA.click('[data-testid=accept-key]');
      await pageA.locator('[data-testid=key-changed]').waitFor({ state: 'detached', timeout: 30_000 });
      expect((await pageA.textContent('[data-testid=badge]')).includes('Not verified'), 'accepted key starts unverified');
      // What was shown as the new safety number is the one of the key now pinned.
      await pageA.locator('[data-testid=safety-digits]').waitFor();
      const pinned = await digitsOf('[data-testid=safety-digits]');
      expect(pinned === newDigits, `after accepting, the safety number is the one shown as new: ${pinned} vs ${newDigits}`);
      await ctxA.unroute(directory);
      await ctxD.close();
      await ctxE.close();
    } finally {
      await relay2.stop();
    }
  });

  await r.step('notifications: turned on in Account; a message while the page is hidden notifies who wrote, not what', async () => {
    await recordNotifications(pageB);
    await pageB.evaluate(() => (location.hash = '#/account'));
    await pageB.click('[data-testid=notify-toggle]');
    await pageB.locator('[data-testid=notify-toggle]', { hasText: 'Turn off' }).waitFor();
    // In view: no notification.
    await openChat(pageA, 'bob');
    await send(pageA, 'seen on screen');
    await pageB.locator('[data-testid=conv-alice]', { hasText: 'seen on screen' }).waitFor({ state: 'attached', timeout: 30_000 });
    await new Promise((res) => setTimeout(res, 600)); // past the burst timer
    await pageB.evaluate(() => Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' }));
    await send(pageA, 'secret words');
    await pageB.waitForFunction(() => window.__shown.length > 0, null, { timeout: 30_000 });
    await new Promise((res) => setTimeout(res, 500));
    const shown = await pageB.evaluate(() => window.__shown);
    expect(shown.length === 1 && shown[0].body === 'New message from alice', `notifications: ${JSON.stringify(shown)}`);
    expect(!JSON.stringify(shown).includes('secret'), 'the text is not in the notification');
    await pageB.evaluate(() => delete document.visibilityState);
  });

  await r.step('accessibility: axe-core finds no WCAG 2.1 A/AA violations (contrast, labels, roles) on the main screens', async () => {
    const found = [];
    await openChat(pageA, 'bob');
    found.push(...await axeViolations(pageA, 'chat'));
    const bobId = /#\/chat\/([0-9a-f]{64})/.exec(pageA.url())[1];
    await pageA.evaluate((id) => (location.hash = `#/contact/${id}`), bobId);
    await pageA.locator('[data-testid=safety-digits]').waitFor();
    found.push(...await axeViolations(pageA, 'safety number'));
    await pageA.evaluate(() => (location.hash = '#/account'));
    await pageA.locator('[data-testid=account-fingerprint]').waitFor();
    expect(await pageA.evaluate(() => document.activeElement?.tagName === 'H2' && document.activeElement.textContent === 'Your account'), 'a route change focuses the new screen\'s heading');
    found.push(...await axeViolations(pageA, 'account'));
    await pageB.setViewportSize({ width: 390, height: 780 });
    await pageB.evaluate(() => (location.hash = '#/'));
    await pageB.locator('[data-testid=conv-alice]').waitFor();
    found.push(...await axeViolations(pageB, 'conversation list (phone)'));
    // The list is rebuilt when a message comes in: keyboard focus stays on the conversation.
    await pageB.locator('[data-testid=conv-alice]').focus();
    await openChat(pageA, 'bob');
    await send(pageA, 'focus stays put');
    await pageB.locator('[data-testid=conv-alice]', { hasText: 'focus stays put' }).waitFor({ timeout: 30_000 });
    expect(await pageB.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'conv-alice'), 'focus stays on the conversation link when the list updates');
    // The same screens in dark mode (prefers-color-scheme: dark has its own colours).
    await pageB.emulateMedia({ colorScheme: 'dark' });
    expect(await pageB.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches), 'dark mode emulated');
    found.push(...await axeViolations(pageB, 'conversation list (phone, dark)'));
    await openChat(pageB, 'alice');
    found.push(...await axeViolations(pageB, 'chat (phone, dark)'));
    await pageA.emulateMedia({ colorScheme: 'dark' });
    await pageA.evaluate(() => (location.hash = '#/account'));
    await pageA.locator('[data-testid=account-fingerprint]').waitFor();
    found.push(...await axeViolations(pageA, 'account (dark)'));
    await pageA.evaluate((id) => (location.hash = `#/contact/${id}`), bobId);
    await pageA.locator('[data-testid=safety-digits]').waitFor();
    found.push(...await axeViolations(pageA, 'safety number (dark)'));
    await pageA.emulateMedia({ colorScheme: 'light' });
    await lock(pageB);
    found.push(...await axeViolations(pageB, 'unlock (dark)'));
    await pageB.emulateMedia({ colorScheme: 'light' });
    found.push(...await axeViolations(pageB, 'unlock'));
    const fresh = await (await newContext(browser, relay.url, problems, 'F')).newPage();
    await fresh.goto('/');
    await fresh.locator('[data-testid=auth-submit]').waitFor(T);
    found.push(...await axeViolations(fresh, 'register'));
    await fresh.getByRole('tab', { name: 'Log in' }).click();
    found.push(...await axeViolations(fresh, 'log in'));
    await fresh.context().close();
    expect(found.length === 0, found.join('\n'));
  });

  // Files (issue 11): two browsers, their own relay.
  await runFiles(r, { relayBin, problems });
  // Protocol v2: two devices per account (their own relay and browser).
  await runDevices(r, { relayBin, problems });
  // Issue 14's rough edges, desktop and phone (their own relay and browser).
  await runEdges(r, { relayBin, problems });
  // Issue 14's conversation features, contacts and export on a phone (their own relay and browser).
  await runPhone(r, { relayBin, problems });
  // Groups of issue 10: five accounts, six browsers (their own relay and browser).
  await runGroups(r, { relayBin, problems });
  // Files in groups, with disappearing times and after a reload (their own relay and browser).
  await runGroupFiles(r, { relayBin, problems });
  // Rooms of issue 12: a host and three guests with no account (their own relay and browser).
  await runRooms(r, { relayBin, problems });
  // Voice calls (issue 12) run as a process of their own (xtask: `node www/tests/calls.mjs`):
  // here, after the suites above, their first step failed twice in a row (the chat's
  // composer did not show within 30 s after "Open chat") while alone, or after rooms, it
  // passes; the cause is not found yet.
  // A message leaves only once its record is stored (issue 13; its own relay and browser).
  await runDurable(r, { relayBin, problems });
  // The direct channel, its data channel in the crypto worker and on the page (issue 12).
  await runDirect(r, { relayBin, problems });
  // Search, its index sealed at rest (issue 14; its own relay and browser).
  await runSearch(r, { relayBin, problems });
  // A message costs the same in a long chat (issue 13; counted, not timed).
  await runGrowth(r, { relayBin, problems });
  // The service worker's shell: first-visit bytes, offline start, updates (issue 14; its own relays, proxy and browser).
  await runShell(r, { relayBin, problems });

  await r.step('no CSP violations, no SRI failures, no third-party requests', async () => {
    expect(problems.length === 0, problems.join('\n'));
  });
} catch (e) {
  console.log(`aborted: ${e?.stack ?? e}`);
  await r.step('run to completion', async () => {
    throw e;
  });
} finally {
  await browser.close().catch(() => undefined);
  await relay.stop();
}
process.exit(r.summary() ? 1 : 0);
