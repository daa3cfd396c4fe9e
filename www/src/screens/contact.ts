// A contact: the safety number (digits, QR code, camera scan, picture upload), the
// verified mark, and accepting a changed key.

import { errorCode } from '../backend/types';
import type { SafetyInfo } from '../backend/types';
import type { Contact } from '../records';
import { cameraScanButton, decodeImageFile, drawQr } from '../qr';
import { friendly } from '../errors';
import { badge, focusHeading, toast, ui } from '../ui';
import { h, sleep } from '../util';
import { displayName } from '../records';
import { nameForm } from './contacts';

/** A safety number as twelve groups of five digits, read out whole by screen readers. */
function digitsEl(testid: string, label: string, safety: SafetyInfo) {
  return h('div.digits', { role: 'group', 'data-testid': testid, 'aria-label': `${label}: ${safety.display}` }, ...safety.display.split(' ').map((g: string) => h('span', null, g)));
}

/** What the contact screen shows of `c`: it is drawn again only when this changes. */
function shownState(c: Contact): string {
  return JSON.stringify([c.username, c.name ?? '', c.fingerprint, c.verified, c.keyChanged ?? null]);
}

/** The contact on screen and what was drawn of it. */
let drawn: { userId: string; state: string } | null = null;

/**
 * After a change to `c` while its screen is up: drawn again only when something it shows
 * changed. Drawing it for every message and receipt replaced the pane under the user (a
 * name being typed was wiped, a press on "Open chat" straddling the redraw was lost).
 */
export function refreshContact(c: Contact) {
  if (drawn?.userId === c.userId && drawn.state === shownState(c)) return;
  void showContact(c);
}

/** `focus`: shown by a route change (not a refresh): the heading takes focus. */
export async function showContact(c: Contact, focus = false) {
  const m = ui.model!;
  ui.chatState = null;
  m.activePeer = null;
  drawn = null;
  // A change seen only in a message does not say which key they use now: ask the directory.
  if (c.keyChanged && !c.keyChanged.safety) await Promise.race([m.checkContact(c, 0), sleep(5000)]);
  const peer = (await m.account.contact(c.userId)) ?? (await m.account.lookup(c.username).catch(() => null));
  // The user went elsewhere meanwhile (e.g. "Open chat"): that screen stays.
  if (location.hash !== `#/contact/${c.userId}`) return;
  if (!peer) {
    ui.paneEl.replaceChildren(h('p.error', { role: 'alert' }, 'This contact’s keys are not available offline. Connect and try again.'));
    return;
  }
  const result = h('p.result', { role: 'status', 'aria-live': 'polite', 'data-testid': 'verify-result' });
  const canvas = h('canvas.qr', { role: 'img', 'aria-label': 'QR code of your safety number with this contact', 'data-testid': 'qr' });
  const video = h('video.scanner', { hidden: true, 'aria-label': 'Camera preview' });
  const onScanned = async (bytes: Uint8Array | null) => {
    if (!bytes) {
      result.textContent = 'No QR code found. Try again with the whole code in view.';
      result.className = 'result bad';
      return;
    }
    if (await m.account.matchesQr(c.userId, bytes)) {
      await m.setVerified(c, true);
      result.textContent = `Safety numbers match. ${c.username} is verified.`;
      result.className = 'result good';
      void showContact(c).then(() => {
        const r = document.querySelector('[data-testid="verify-result"]');
        if (r) (r.textContent = `Safety numbers match. ${c.username} is verified.`), (r.className = 'result good');
      });
    } else {
      result.textContent = 'These safety numbers do NOT match. Do not mark this contact as verified: you may not be talking to who you think.';
      result.className = 'result bad';
    }
  };
  const file = h('input#qr-file', {
    type: 'file',
    accept: 'image/*',
    class: 'sr-only',
    'data-testid': 'qr-file',
    onchange: async () => {
      const f = file.files?.[0];
      if (f) await onScanned(await decodeImageFile(f).catch(() => null));
      file.value = '';
    },
  });
  const scanBtn = cameraScanButton({
    video,
    label: 'Scan their code',
    onResult: async (found, stopped) => {
      if (found || !stopped) await onScanned(found);
    },
    onUnavailable: () => {
      result.textContent = 'The camera is not available. Upload a picture of their code instead, or compare the digits.';
      result.className = 'result bad';
    },
  });

  const kc = c.keyChanged;
  // The new key's safety number, when known. After a key that changed again while being
  // accepted, the package already pins the new key: there is no "key you had" to show.
  const fresh = kc?.safety;
  const oldGone = !!kc?.fingerprint && kc.fingerprint === peer.fingerprint;
  const digits = oldGone ? null : digitsEl('safety-digits', kc ? 'Safety number with the key you had' : 'Safety number', peer.safety);
  const accept = h('button.warn', {
    type: 'button',
    'data-testid': 'accept-key',
    onclick: async () => {
      try {
        await m.acceptNewKey(c);
      } catch (e) {
        toast(friendly(e));
      }
      void showContact(c);
    },
  }, 'Accept the new key');
  const changed = kc
    ? h(
        'div.banner.warn',
        { role: 'alert', 'data-testid': 'key-changed' },
        h('h3', null, 'Their key changed'),
        h('p', null, `The key ${c.username} uses is not the one you had. This happens when they reinstall or log in again, but it can also mean someone is trying to read your messages. Messages to them are on hold.`),
        fresh ? null : accept,
      )
    : null;
  const newSection = fresh
    ? h(
        'section.new-safety',
        { 'aria-labelledby': 'new-safety-title' },
        h('h3#new-safety-title', null, 'New safety number'),
        h('p', null, `These are the digits with the key ${c.username} uses now. Compare them with ${c.username}, in person or on a call. Accept the new key only if they match.`),
        digitsEl('new-safety-digits', 'New safety number', fresh),
        h('div.row.wrap', null, accept),
      )
    : null;
  ui.paneEl.replaceChildren(
    h('header.chat-head', null, h('a.back', { href: `#/chat/${c.userId}`, 'aria-label': 'Back to the chat' }, '‹'), h('h2.chat-title', { tabIndex: -1 }, displayName(c), c.name ? h('span.handle', null, ` @${c.username}`) : null), badge(c)),
    h(
      'div.contact',
      null,
      changed ?? '',
      newSection ?? '',
      nameForm(c),
      oldGone ? '' : h('h3', null, kc ? 'Safety number with the key you had' : 'Safety number'),
      oldGone ? '' : h('p', null, !kc
        ? `Compare these digits with ${c.username}, in person or on a call, or scan each other's code. If they match, nobody is in the middle.`
        : fresh
          ? 'The digits from before the change, for reference only: do not compare these.'
          : `Once you accept the new key, compare the new digits with ${c.username} again.`),
      digits ?? '',
      h('div.qr-box', null, canvas, video),
      h('div.row.wrap', null, scanBtn, h('label.button', { for: 'qr-file' }, 'Upload a picture of their code'), file),
      result,
      h(
        'div.row.wrap',
        null,
        c.verified
          ? h('button', { type: 'button', 'data-testid': 'unverify', onclick: async () => (await m.setVerified(c, false), showContact(c)) }, 'Mark as not verified')
          : h('button.primary', { type: 'button', 'data-testid': 'mark-verified', disabled: !!kc, onclick: async () => (await m.setVerified(c, true), showContact(c)) }, 'The digits match: mark as verified'),
        h('a.button', { href: `#/chat/${c.userId}`, 'data-testid': 'open-chat' }, 'Open chat'),
      ),
      h(
        'details',
        null,
        h('summary', null, 'Technical details'),
        oldGone ? null : h('p.mono', null, kc ? `Their previous key fingerprint: ${c.fingerprint}` : `Their key fingerprint: ${c.fingerprint}`),
        kc?.fingerprint ? h('p.mono', { 'data-testid': 'new-fingerprint' }, `Their new key fingerprint: ${kc.fingerprint}`) : null,
        h('p.mono', null, `Yours: ${m.account.fingerprint}`),
      ),
    ),
  );
  drawn = { userId: c.userId, state: shownState(c) };
  if (focus) focusHeading(ui.paneEl);
  try {
    await drawQr(canvas, await m.account.qrPayload(c.userId));
  } catch (e) {
    canvas.parentElement!.hidden = true;
    result.textContent = errorCode(e) === 'IDENTITY_CHANGED' ? 'Their key changed: see above.' : 'The QR code needs a connection to the relay. You can still compare the digits.';
  }
}
