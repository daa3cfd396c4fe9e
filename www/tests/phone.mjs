#!/usr/bin/env node
// Issue 14 on a 390x844 phone, screenshots in test-artifacts/phone-*.png and axe-core on
// each screen: the conversation features (reply, reaction, edit, delete for everyone,
// read receipts, typing, disappearing messages, search) with a desktop contact; contacts
// with names the user sets (contact list, verification state, the name in the chat, its
// notices and notifications; also on the desktop); the encrypted export file (and adding
// it to the open account), and a restore on a fresh browser that refuses
// a wrong password, a cut file and another file without changing anything, then brings
// back the account and its history (a reaction to a message sent before the export
// reaches the restored copy: its wire id came along) and sends and receives.
//
//   node www/tests/phone.mjs          (also part of www/tests/e2e.mjs)

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { register } from './edges.mjs';
import { artifacts, axeViolations, ensureBuilt, launchBrowser, newContext, recordNotifications, runner, startRelay } from './harness.mjs';

const PASSWORD = 'correct horse battery staple';
const FILE_PASSWORD = 'violet kettle mountain drum';
const T = { timeout: 180_000 };
const W = { timeout: 30_000 };
const PHONE = { width: 390, height: 844 };

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

const go = (page, hash) => page.evaluate((h) => (location.hash = h), hash);
/** The message whose own text is `text` (not one quoting it). */
export const msg = (page, text) => page.locator('[data-testid=msg]').filter({ has: page.locator('p.text', { hasText: new RegExp(`^${text}$`) }) });

async function openChat(page, username) {
  await go(page, '#/');
  await page.click(`[data-testid=conv-${username}]`);
  await page.locator('[data-testid=compose]').waitFor();
}

export async function send(page, text) {
  await page.fill('[data-testid=compose]', text);
  await page.press('[data-testid=compose]', 'Enter');
}

export async function menu(page, text, action) {
  const m = msg(page, text).last();
  await m.locator('[data-testid=msg-actions]').click();
  await m.locator(`[data-testid="${action}"]`).click();
}

/** Runs the steps on `r` (a harness runner) with a relay and browser of their own. */
export async function runPhone(r, { relayBin, problems }) {
  const relay = await startRelay(relayBin);
  const browser = await launchBrowser();
  const shot = (page, name) => page.screenshot({ path: join(artifacts, `phone-${name}.png`) });
  const axe = [];
  try {
    const phoneCtx = await newContext(browser, relay.url, problems, 'phone', { viewport: PHONE, acceptDownloads: true });
    const deskCtx = await newContext(browser, relay.url, problems, 'phone-peer', { viewport: { width: 1280, height: 800 } });
    const phone = await phoneCtx.newPage();
    const desk = await deskCtx.newPage();
    await Promise.all([register(phone, 'pia'), register(desk, 'quinn')]);
    for (const page of [phone, desk]) {
      await go(page, '#/account');
      await page.check('[data-testid=read-receipts]');
      await page.check('[data-testid=typing-toggle]');
    }
    await go(phone, '#/'); // on a phone the list hides while another screen shows
    await phone.fill('[data-testid=new-contact]', 'quinn');
    await phone.click('[data-testid=new-contact-submit]');
    await phone.locator('[data-testid=safety-digits]').waitFor(W);
    await phone.click('[data-testid=open-chat]');
    await send(phone, 'hello from the phone');
    await desk.locator('[data-testid=conv-pia]').waitFor(W);
    await openChat(desk, 'pia');

    await r.step('phone: reply, reaction, edit, delete for everyone, read receipts, typing, disappearing messages, search', async () => {
      await send(desk, 'please reply to this');
      await msg(phone, 'please reply to this').waitFor(W);
      await menu(phone, 'please reply to this', 'reply');
      await phone.locator('[data-testid=composing]', { hasText: 'please reply to this' }).waitFor();
      await shot(phone, '01-replying');
      axe.push(...await axeViolations(phone, 'chat, replying (phone)'));
      await send(phone, 'this is my reply');
      await msg(desk, 'this is my reply').locator('[data-testid=quote]', { hasText: 'please reply to this' }).waitFor(W);
      // Read: the desktop has the chat open.
      await msg(phone, 'this is my reply').locator('[data-testid=msg-state]', { hasText: 'Read' }).waitFor(W);
      await menu(phone, 'please reply to this', 'react-👍');
      await msg(desk, 'please reply to this').locator('[data-testid=reactions]', { hasText: '👍' }).waitFor(W);
      await msg(phone, 'please reply to this').locator('[data-testid=msg-actions]').click();
      await shot(phone, '02-message-menu');
      axe.push(...await axeViolations(phone, 'message menu (phone)'));
      await msg(phone, 'please reply to this').locator('[data-testid=msg-actions]').click();
      await send(phone, 'a tpyo here');
      await msg(desk, 'a tpyo here').waitFor(W);
      await phone.locator('[data-testid=msg][data-state=delivered]', { hasText: 'a tpyo here' }).waitFor(W);
      await menu(phone, 'a tpyo here', 'edit');
      await phone.fill('[data-testid=compose]', 'a typo fixed');
      await phone.press('[data-testid=compose]', 'Enter');
      await msg(desk, 'a typo fixed').locator('[data-testid=edited]').waitFor(W);
      await send(phone, 'this goes for everyone');
      await msg(desk, 'this goes for everyone').waitFor(W);
      await phone.locator('[data-testid=msg][data-state=delivered]', { hasText: 'this goes for everyone' }).waitFor(W);
      phone.once('dialog', (d) => d.accept());
      await menu(phone, 'this goes for everyone', 'delete-everyone');
      await desk.locator('[data-testid=deleted]').last().waitFor(W);
      expect((await msg(desk, 'this goes for everyone').count()) === 0, 'deleted for everyone');
      // Typing, seen on the phone.
      await desk.locator('[data-testid=compose]').pressSequentially('typing some');
      await phone.locator('[data-testid=typing]:not([hidden])').waitFor(W);
      await shot(phone, '03-typing-edited-deleted');
      axe.push(...await axeViolations(phone, 'chat with typing, edited and deleted messages (phone)'));
      await desk.fill('[data-testid=compose]', '');
      // Disappearing messages, set on the phone.
      await phone.selectOption('[data-testid=timer]', '30');
      await desk.locator('[data-testid=notice]', { hasText: 'set disappearing messages to 30 seconds' }).waitFor(W);
      await send(desk, 'this one disappears');
      await msg(phone, 'this one disappears').waitFor(W);
      await shot(phone, '04-disappearing');
      await msg(phone, 'this one disappears').waitFor({ state: 'detached', timeout: 60_000 });
      await phone.selectOption('[data-testid=timer]', '0');
      await desk.locator('[data-testid=notice]', { hasText: 'turned off disappearing messages' }).waitFor(W);
      // Search, from the list.
      await go(phone, '#/');
      await phone.fill('[data-testid=search]', 'REPLY TO');
      await phone.locator('[data-testid=search-result]', { hasText: 'please reply to this' }).waitFor();
      await shot(phone, '05-search');
      axe.push(...await axeViolations(phone, 'search results (phone)'));
      await phone.locator('[data-testid=search-result]', { hasText: 'please reply to this' }).click();
      await phone.locator('.msg.hit', { hasText: 'please reply to this' }).waitFor({ timeout: 10_000 });
      await go(phone, '#/');
      await phone.fill('[data-testid=search]', '');
    });

    await r.step('phone: contacts with names the user sets, their verification state in the list, the name in the chat, its notices and notifications (and on a desktop)', async () => {
      await go(phone, '#/');
      await phone.click('[data-testid=view-contacts]');
      const row = phone.locator('[data-testid=contact-quinn]');
      await row.waitFor();
      expect((await row.getAttribute('data-verify')) === 'unverified', 'listed as not verified');
      await row.click();
      await phone.fill('[data-testid=contact-name]', '  Quinn\u202e the Builder\n');
      await phone.click('[data-testid=contact-name-save]');
      await phone.locator('.chat-title', { hasText: 'Quinn the Builder' }).waitFor();
      await phone.click('[data-testid=mark-verified]');
      await phone.locator('[data-testid=unverify]').waitFor();
      await shot(phone, '06-contact-named');
      axe.push(...await axeViolations(phone, 'contact with a name (phone)'));
      await go(phone, '#/');
      await phone.click('[data-testid=view-contacts]');
      await phone.locator('[data-testid=contact-quinn][data-verify=verified]', { hasText: 'Quinn the Builder' }).waitFor();
      expect((await row.textContent()).includes('@quinn'), 'the username shows beside the name');
      await shot(phone, '07-contact-list');
      axe.push(...await axeViolations(phone, 'contact list (phone)'));
      await phone.click('[data-testid=view-chats]');
      await phone.locator('[data-testid=conv-quinn]', { hasText: 'Quinn the Builder' }).waitFor();
      await phone.click('[data-testid=conv-quinn]');
      await phone.locator('.chat-title', { hasText: 'Quinn the Builder' }).waitFor();
      await desk.locator('[data-testid=compose]').pressSequentially('hi');
      await phone.locator('[data-testid=typing]:not([hidden])', { hasText: 'Quinn the Builder is typing' }).waitFor(W);
      await desk.fill('[data-testid=compose]', '');
      await desk.selectOption('[data-testid=timer]', '3600');
      await phone.locator('[data-testid=notice]', { hasText: 'Quinn the Builder set disappearing messages to 1 hour' }).waitFor(W);
      // In the next second: two timers of one second are ordered by their random ids
      // (PROTOCOL.md 28.3), and the app refuses the second change if it would lose.
      await desk.waitForFunction((t) => Math.floor(Date.now() / 1000) > t, Math.floor(Date.now() / 1000));
      await desk.selectOption('[data-testid=timer]', '0');
      await phone.locator('[data-testid=notice]', { hasText: 'Quinn the Builder turned off' }).waitFor(W);
      // Two changes at once: whichever the protocol keeps (the same second: the larger
      // message id), both sides end up showing the same setting.
      const nextSecond = (page) => page.waitForFunction((t) => Math.floor(Date.now() / 1000) > t, Math.floor(Date.now() / 1000));
      await nextSecond(desk);
      await desk.selectOption('[data-testid=timer]', '30');
      await desk.selectOption('[data-testid=timer]', '300');
      await phone.locator('[data-testid=notice]', { hasText: 'Quinn the Builder set disappearing messages to 30 seconds' }).waitFor(W);
      let agreed = 0;
      for (let i = 0; i < 60 && agreed < 3; i++) {
        await phone.waitForTimeout(500);
        const [p, d] = [await phone.inputValue('[data-testid=timer]'), await desk.inputValue('[data-testid=timer]')];
        agreed = p === d && ['30', '300'].includes(p) ? agreed + 1 : 0;
      }
      expect(agreed === 3, `the two sides disagree: phone ${await phone.inputValue('[data-testid=timer]')}, desktop ${await desk.inputValue('[data-testid=timer]')}`);
      await nextSecond(desk);
      await desk.selectOption('[data-testid=timer]', '0');
      await phone.waitForFunction(() => document.querySelector('[data-testid=timer]')?.value === '0', null, W);
      // A notification names the sender by that name.
      await recordNotifications(phone);
      await go(phone, '#/account');
      await phone.click('[data-testid=notify-toggle]');
      await phone.locator('[data-testid=notify-toggle]', { hasText: 'Turn off' }).waitFor();
      await phone.evaluate(() => Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' }));
      await send(desk, 'a note while hidden');
      await phone.waitForFunction(() => window.__shown.length > 0, null, W);
      const shown = await phone.evaluate(() => window.__shown);
      expect(shown[0].body === 'New message from Quinn the Builder', `notifications: ${JSON.stringify(shown)}`);
      await phone.evaluate(() => delete document.visibilityState);
      // Never sent to the contact: the desktop still calls the phone "pia".
      expect((await desk.locator('.chat-title').textContent()).trim().startsWith('pia'), 'the name is local');
      // The same on the desktop viewport.
      await go(desk, `#/contact/${await desk.evaluate(() => document.querySelector('[data-testid=conv-pia]')?.getAttribute('data-peer'))}`);
      await desk.fill('[data-testid=contact-name]', 'Pia from work');
      await desk.click('[data-testid=contact-name-save]');
      await desk.click('[data-testid=view-contacts]');
      await desk.locator('[data-testid=contact-pia][data-verify=unverified]', { hasText: 'Pia from work' }).waitFor();
      await desk.screenshot({ path: join(artifacts, 'phone-07b-contacts-desktop.png') });
      axe.push(...await axeViolations(desk, 'contact with a name and the contact list (desktop)'));
      await desk.click('[data-testid=view-chats]');
    });

    let file;
    await r.step('phone: export to a file (password asked twice, the risk said plainly); the file added to the open account: a wrong password refused, nothing doubled', async () => {
      await go(phone, '#/account');
      await phone.locator('[data-testid=export-risk]', { hasText: 'Anyone who has this file and its password' }).waitFor();
      await phone.fill('[data-testid=export-password]', FILE_PASSWORD);
      await phone.fill('[data-testid=export-password2]', 'something else entirely');
      await phone.click('[data-testid=export-submit]');
      await phone.locator('[data-testid=export-result]', { hasText: 'differ' }).waitFor();
      await phone.fill('[data-testid=export-password2]', FILE_PASSWORD);
      const download = phone.waitForEvent('download', { timeout: 60_000 });
      await phone.click('[data-testid=export-submit]');
      const d = await download;
      file = join(artifacts, 'phone-export.sealpost');
      await d.saveAs(file);
      await phone.locator('[data-testid=export-result]', { hasText: 'Exported' }).waitFor(W);
      expect(/^sealpost-pia-\d{4}-\d\d-\d\d\.sealpost$/.test(d.suggestedFilename()), `file name ${d.suggestedFilename()}`);
      const bytes = readFileSync(file);
      expect(bytes.subarray(0, 4).equals(Buffer.from([0x53, 0x50, 0x58, 0x01])), 'the magic');
      expect(!bytes.includes(Buffer.from('please reply to this')) && !bytes.includes(Buffer.from('Quinn the Builder')), 'no text in the clear');
      await phone.locator('[data-testid=export-form]').scrollIntoViewIfNeeded();
      await shot(phone, '08-export');
      axe.push(...await axeViolations(phone, 'account with export (phone)'));
      // The same file into the open account: a wrong password says so; the right one adds
      // nothing that is already here.
      await phone.setInputFiles('[data-testid=import-file]', file);
      await phone.fill('[data-testid=import-password]', 'not the password at all');
      await phone.click('[data-testid=import-submit]');
      await phone.locator('[data-testid=import-result]', { hasText: 'Wrong password' }).waitFor(W);
      await phone.fill('[data-testid=import-password]', FILE_PASSWORD);
      await phone.click('[data-testid=import-submit]');
      await phone.locator('[data-testid=import-result]', { hasText: '0 messages added' }).waitFor(W);
      await go(desk, '#/account');
      await desk.locator('[data-testid=export-form]').scrollIntoViewIfNeeded();
      await desk.screenshot({ path: join(artifacts, 'phone-08b-export-desktop.png') });
      axe.push(...await axeViolations(desk, 'account with export (desktop)'));
    });

    await r.step('phone: restore on a fresh browser — wrong password, cut and foreign files change nothing; then the account, names and history come back and work', async () => {
      // Sent before the restore, reacted to after it: the restored copy applies the
      // reaction only if the message kept its wire id through the file.
      const freshCtx = await newContext(browser, relay.url, problems, 'phone-restored', { viewport: PHONE });
      const fresh = await freshCtx.newPage();
      await fresh.goto('/');
      await fresh.click('[data-testid=restore-from-file]');
      await fresh.locator('[data-testid=restore-file]').waitFor();
      axe.push(...await axeViolations(fresh, 'restore (phone)'));
      const attempt = async (buffer, password, expectText) => {
        await fresh.setInputFiles('[data-testid=restore-file]', { name: 'x.sealpost', mimeType: 'application/octet-stream', buffer });
        await fresh.fill('[data-testid=restore-password]', password);
        await fresh.click('[data-testid=restore-submit]');
        await fresh.locator('[data-testid=restore-error]', { hasText: expectText }).waitFor(W);
        // Nothing stored: no account in this browser yet.
        const dbs = await fresh.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
        expect(!dbs.some((n) => /^sealpost-www-[0-9a-f]/.test(n ?? '')), `nothing written (${dbs.join(', ')})`);
      };
      const bytes = readFileSync(file);
      await attempt(bytes, 'not the password at all', 'Wrong password');
      await shot(fresh, '09-restore-wrong-password');
      await attempt(bytes.subarray(0, bytes.length - 100), FILE_PASSWORD, 'damaged or cut short');
      const flipped = Buffer.from(bytes);
      flipped[flipped.length - 5] ^= 1;
      await attempt(flipped, FILE_PASSWORD, 'damaged or cut short');
      await attempt(Buffer.from('just some text file'), FILE_PASSWORD, 'not a Sealpost export');
      writeFileSync(join(artifacts, 'phone-export-cut.sealpost'), bytes.subarray(0, 60));
      await attempt(bytes.subarray(0, 60), FILE_PASSWORD, 'damaged or cut short');
      // The right password.
      await fresh.setInputFiles('[data-testid=restore-file]', file);
      await fresh.fill('[data-testid=restore-password]', FILE_PASSWORD);
      await fresh.click('[data-testid=restore-submit]');
      // The file's password is not the account's: asked for it, nothing written yet.
      await fresh.locator('[data-testid=restore-error]', { hasText: 'account password' }).waitFor(T);
      await fresh.fill('[data-testid=restore-account-password]', PASSWORD);
      await fresh.click('[data-testid=restore-submit]');
      await fresh.locator('[data-testid=me]').waitFor(T);
      await fresh.locator('[data-testid=conv-quinn]', { hasText: 'Quinn the Builder' }).waitFor(W);
      await fresh.click('[data-testid=conv-quinn]');
      await msg(fresh, 'please reply to this').waitFor(W);
      await msg(fresh, 'a typo fixed').locator('[data-testid=edited]').waitFor();
      expect((await fresh.locator('[data-testid=deleted]').count()) >= 1, 'the deletion came along');
      // The restored device sends (so Quinn's side learns of it) and receives.
      await send(fresh, 'sent from the restored browser');
      await openChat(desk, 'pia');
      await msg(desk, 'sent from the restored browser').waitFor(W);
      // Quinn reacts to a message the phone sent before the export.
      await menu(desk, 'this is my reply', 'react-❤️');
      await openChat(phone, 'quinn');
      await msg(phone, 'this is my reply').locator('[data-testid=reactions]', { hasText: '❤️' }).waitFor(W);
      await msg(fresh, 'this is my reply').locator('[data-testid=reactions]', { hasText: '❤️' }).waitFor(W);
      await send(desk, 'received on the restored browser');
      await msg(fresh, 'received on the restored browser').waitFor(W);
      await shot(fresh, '10-restored');
      axe.push(...await axeViolations(fresh, 'restored chat (phone)'));
      await freshCtx.close();
    });

    await r.step('phone: axe-core finds nothing on those screens', async () => {
      expect(axe.length === 0, axe.join('\n'));
    });
    await phoneCtx.close();
    await deskCtx.close();
  } finally {
    await browser.close().catch(() => undefined);
    await relay.stop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const relayBin = ensureBuilt({ rebuildWww: process.argv.includes('--build') });
  const problems = [];
  const r = runner();
  await runPhone(r, { relayBin, problems });
  await r.step('no CSP violations, no SRI failures, no third-party requests', async () => {
    expect(problems.length === 0, problems.join('\n'));
  });
  process.exit(r.summary() ? 1 : 0);
}
