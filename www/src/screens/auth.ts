// Before an account is open: create account / log in (with the password strength check
// and the 8-device limit), unlock a stored account, and this browser's side of a device
// link (the code and QR code it shows).

import { backend, forgetDevice } from '../backend';
import { errorCode } from '../backend/types';
import type { Account, PendingLink, Progress } from '../backend/types';
import { drawQr } from '../qr';
import { hasPasskey, unlockWithPasskey } from '../passkey';
import { resumeSession } from '../session';
import { passwordStrength } from '../strength';
import { setScreen, timeEl, toast, ui } from '../ui';
import { friendly } from '../errors';
import { h } from '../util';
import { enter, showElsewhere, takeOver, takeOverRequested } from './shell';
import { showRestore } from './transfer';
import { isRoomLink, showRooms } from '../rooms';

function progressView() {
  const bar = h('progress', { max: 1, value: 0, 'aria-label': 'Progress' });
  const label = h('p.progress-label', { 'data-testid': 'progress-label' });
  const box = h('div.progress', { role: 'status', 'aria-live': 'polite', hidden: true }, label, bar);
  const set = (p: Progress | null) => {
    box.hidden = !p;
    if (!p) return;
    label.textContent = p.label;
    bar.max = p.total || 1;
    bar.value = p.done;
  };
  return { box, set };
}

export async function showAuth(initial: 'register' | 'login' = 'register') {
  const stored = await backend.storedUsername().catch(() => null);
  // Open in another tab: say so before asking for the password ("Use here" takes over).
  if (stored && !takeOverRequested() && (await backend.openElsewhere().catch(() => false))) return showElsewhere();
  if (stored) {
    // Unlocked in this tab before the reload: no password (session.ts).
    let acct: Account | null = null;
    try {
      acct = await resumeSession((key, sealed) => backend.resume(key, sealed, takeOverRequested()));
    } catch {
      return showElsewhere(); // LOCKED: opened in another tab meanwhile
    }
    if (acct) {
      takeOver(); // done
      return enter(acct, { resumed: true });
    }
    // A room link needs no account: straight to its join form.
    return isRoomLink() ? roomsHere() : showUnlock(stored);
  }
  if (isRoomLink()) return roomsHere();
  let mode = initial;
  const user = h('input#username', { name: 'username', autocomplete: 'username', required: true, minLength: 3, maxLength: 32, pattern: '[A-Za-z0-9._\\-]{3,32}', autocapitalize: 'none', spellcheck: false });
  const pass = h('input#password', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minLength: 8, 'aria-describedby': 'pw-strength' });
  // Registration only: the estimator's verdict as the password is typed (not a live
  // region: it would talk over every keystroke; the field points to it instead).
  const strength = h('p.strength#pw-strength', { 'data-testid': 'pw-strength' });
  const meter = h('meter.strength-meter', { min: 0, max: 4, low: 2, high: 3, optimum: 4, value: 0, 'aria-label': 'Strength' });
  const strengthBox = h('div.strength-box', null, meter, strength);
  const rate = () => {
    if (!pass.value) {
      meter.value = 0;
      strength.textContent = 'Use a long passphrase: several uncommon words.';
      return null;
    }
    const st = passwordStrength(pass.value, [user.value.trim()]);
    meter.value = st.score;
    strength.textContent = `${st.label}. ${st.ok ? 'Good.' : st.feedback}`.trim();
    strength.dataset.ok = String(st.ok);
    return st;
  };
  pass.addEventListener('input', rate);
  const submit = h('button.primary', { type: 'submit', 'data-testid': 'auth-submit' });
  // The WAI-ARIA tabs pattern: arrow keys move between the two tabs, Tab goes on to the
  // panel (the form's fields).
  const tabReg = h('button.tab#tab-register', { type: 'button', role: 'tab', 'aria-controls': 'auth-panel' }, 'Create account');
  const tabLog = h('button.tab#tab-login', { type: 'button', role: 'tab', 'aria-controls': 'auth-panel' }, 'Log in');
  const hint = h('p.hint');
  const keySize = h('select#key-size', { 'data-testid': 'key-size' },
    h('option', { value: '' }, 'Default (strongest, RSA-4096; 5–15 s)'),
    h('option', { value: '3072' }, 'RSA-3072 (faster)'),
    h('option', { value: '2048' }, 'RSA-2048 (fastest; demos, slow phones)'),
  );
  const advanced = h('details.advanced', null, h('summary', null, 'Advanced'), h('label', { for: 'key-size' }, 'Key size'), keySize);
  const err = h('p.error', { role: 'alert', 'data-testid': 'auth-error' });
  const { box, set } = progressView();
  const full = h('div.approve', { hidden: true, 'data-testid': 'device-limit' });
  const panel = h('div#auth-panel', { role: 'tabpanel' },
    h('label', { for: 'username' }, 'Username'), user, h('label', { for: 'password' }, 'Password'), pass, strengthBox, hint, advanced, submit, box, err, full);
  const render = () => {
    tabReg.setAttribute('aria-selected', String(mode === 'register'));
    tabLog.setAttribute('aria-selected', String(mode === 'login'));
    tabReg.tabIndex = mode === 'register' ? 0 : -1;
    tabLog.tabIndex = mode === 'login' ? 0 : -1;
    panel.setAttribute('aria-labelledby', mode === 'register' ? 'tab-register' : 'tab-login');
    submit.textContent = mode === 'register' ? 'Create account' : 'Log in';
    pass.autocomplete = mode === 'register' ? 'new-password' : 'current-password';
    advanced.hidden = mode !== 'register';
    strengthBox.hidden = mode !== 'register';
    if (mode === 'register') rate();
    hint.textContent =
      mode === 'register'
        ? 'No phone number, no email. Your keys are made in this browser; the relay only keeps your public keys and a backup locked with your password. There is no password reset: keep it safe.'
        : 'Log in on a new device with the same username and password: it becomes one more device of your account (up to 8). Past messages stay on your other devices; to bring them along, link this browser from one of them instead.';
  };
  tabReg.onclick = () => ((mode = 'register'), render());
  tabLog.onclick = () => ((mode = 'login'), render());
  const linkBtn = h('button.link', { type: 'button', 'data-testid': 'link-from-device', onclick: () => showLinkNew() }, 'Link from another device');
  const restoreBtn = h('button.link', { type: 'button', 'data-testid': 'restore-from-file', onclick: () => showRestore(defaultDeviceName(), () => void showAuth('login')) }, 'Restore from an export file');
  const roomsBtn = h('button.link', { type: 'button', 'data-testid': 'rooms-no-account', onclick: roomsHere }, 'Join or start a room (no account needed)');
  const form = authForm(
    'auth-title',
    err,
    async () => {
      if (mode === 'register') {
        const st = rate();
        if (st && !st.ok) {
          err.textContent = `This password is too easy to guess (${st.label.toLowerCase()}). ${st.feedback}`;
          pass.focus();
          return;
        }
      }
      submit.disabled = true;
      form.setAttribute('aria-busy', 'true');
      try {
        const acct =
          mode === 'register'
            ? await backend.register(user.value.trim(), pass.value, set, Number(keySize.value) || undefined, defaultDeviceName())
            : await backend.login(user.value.trim(), pass.value, set, takeOver(), defaultDeviceName());
        pass.value = '';
        await enter(acct, { fresh: mode === 'register' });
      } catch (e) {
        if (errorCode(e) === 'LOCKED') return showElsewhere();
        err.textContent = friendly(e);
        set(null);
        if (errorCode(e) === 'DEVICE_LIMIT') void offerRemoval(user.value.trim(), pass.value, full, () => form.requestSubmit());
      } finally {
        submit.disabled = false;
        form.removeAttribute('aria-busy');
      }
    },
    h('h1#auth-title', null, 'Sealpost'),
    h('p.lede', null, 'Private messages, end-to-end encrypted, right in your browser.'),
    h('div.tabs', {
      role: 'tablist',
      'aria-label': 'Account',
      onkeydown: (ev: KeyboardEvent) => {
        const to = { ArrowLeft: 'register', ArrowRight: 'login', Home: 'register', End: 'login' }[ev.key] as typeof mode | undefined;
        if (!to) return;
        ev.preventDefault();
        mode = to;
        render();
        (mode === 'register' ? tabReg : tabLog).focus();
      },
    }, tabReg, tabLog),
    panel,
    linkBtn,
    restoreBtn,
    roomsBtn,
  );
  render();
  setScreen('auth', h('main.center', null, form));
  user.focus();
}

/** Rooms before any account is open, in the log-in card; "Back" returns here. */
function roomsHere() {
  void showRooms({ mount: (el) => setScreen('auth', h('main.center', null, h('div.card', null, el))), heading: 'h1', back: () => void showAuth() });
}
// A room link opened in this tab before any account is open (the shell routes it after).
addEventListener('hashchange', () => {
  if (!ui.model && isRoomLink()) roomsHere();
});

/** The account is full (8 devices): pick one to remove with the password, then `retry`. */
async function offerRemoval(username: string, password: string, box: HTMLElement, retry: () => void) {
  const list = await backend.listedDevices(username).catch(() => []);
  if (!list.length) return;
  box.replaceChildren(
    h('p', null, 'Remove a device you no longer use to add this browser:'),
    h('ul.devices', null, ...list.map((d) => h('li.device', null,
      h('span.device-main', null, h('strong', null, h('bdi', null, d.name || 'Unnamed device')), h('span.device-meta', null, 'Added ', timeEl(d.addedAt))),
      h('button.warn', {
        type: 'button',
        'data-testid': 'remove-with-password',
        onclick: async () => {
          if (!confirm(`Remove “${d.name}” from your account? It stops receiving messages at once.`)) return;
          try {
            await backend.revokeWithPassword(username, password, d.id);
          } catch (e) {
            return toast(`Could not remove it: ${friendly(e)}`);
          }
          box.hidden = true;
          retry();
        },
      }, 'Remove'),
    ))),
  );
  box.hidden = false;
}

/** A name for this browser, as its other devices and contacts will see it (browser and system, as the User-Agent says). */
function defaultDeviceName(): string {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? 'Edge' : /Firefox\//.test(ua) ? 'Firefox' : /Chromium\//.test(ua) ? 'Chromium' : /Chrome\//.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /CrOS/.test(ua) ? 'ChromeOS' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

/** A link code in groups of five (docs/PROTOCOL.md 19.2), for reading it out or typing it. */
const groupCode = (code: string) => code.toUpperCase().replace(/[^A-Z0-9]/g, '').replace(/(.{5})(?=.)/g, '$1 ');

/** The new device's side of a link: a name, then the code (QR and typed) until the old device confirms. */
function showLinkNew() {
  const err = h('p.error', { role: 'alert', 'data-testid': 'link-error' });
  const name = h('input#device-name', { required: true, maxLength: 48, value: defaultDeviceName(), autocomplete: 'off', 'data-testid': 'device-name' });
  const user = h('input', { type: 'text', autocomplete: 'username', hidden: true, value: '' });
  const pass = h('input#link-password', { type: 'password', autocomplete: 'current-password', required: true, minLength: 8, 'aria-describedby': 'link-password-hint', 'data-testid': 'link-password' });
  const go = h('button.primary', { type: 'submit', 'data-testid': 'link-start' }, 'Show the link code');
  let pending: PendingLink | null = null;
  const back = h('button.link', {
    type: 'button',
    onclick: () => {
      void pending?.cancel();
      pending = null;
      void showAuth('login');
    },
  }, 'Back');
  const form = authForm(
    'link-title',
    err,
    async () => {
      go.disabled = true;
      try {
        pending = await backend.startLink(name.value.trim() || defaultDeviceName(), pass.value);
        pass.value = '';
      } catch (e) {
        err.textContent = friendly(e);
        go.disabled = false;
        return;
      }
      const link = pending;
      const canvas = h('canvas.qr', { role: 'img', 'aria-label': 'QR code that links this browser', 'data-testid': 'link-qr' });
      const groups = groupCode(link.code).split(' ');
      const status = h('p.result', { role: 'status', 'data-testid': 'link-status' }, 'Waiting for your other device…');
      form.replaceChildren(
        h('h1#link-title', null, 'Link this browser'),
        h('p', null, 'On a device where you use Sealpost, open ', h('strong', null, 'Account → Devices → Link a new device'), ', then scan this code or type the characters below.'),
        h('div.qr-box', null, canvas),
        h('div.digits.link-code', { role: 'group', 'data-testid': 'link-code', 'aria-label': `Link code: ${groups.join(' ')}` }, ...groups.map((g) => h('span', null, g))),
        h('p.hint', null, `This browser will be called “${name.value.trim() || defaultDeviceName()}”. Check that your other device shows that name before you confirm there.`),
        status,
        err,
        back,
      );
      await drawQr(canvas, link.qrPayload).catch(() => (canvas.hidden = true));
      try {
        const { account, history } = await link.wait();
        if (pending !== link) return; // cancelled meanwhile
        status.textContent = 'Linked. Opening your messages…';
        status.className = 'result good';
        await enter(account, { history, fresh: true });
      } catch (e) {
        if (pending !== link) return;
        status.textContent = '';
        const code = errorCode(e);
        err.textContent =
          code === 'LINK_REFUSED' ? 'The link was cancelled on the other device.' : code === 'LINK_EXPIRED' ? 'The code expired before your other device confirmed it. Go back and start again.' : `The link did not complete: ${friendly(e)}`;
      }
    },
    h('h1#link-title', null, 'Link from another device'),
    h('p.lede', null, 'Add this browser to an account you use on another device: no password needed, and your contacts and (if you want) your messages come along.'),
    h('label', { for: 'device-name' }, 'Name for this browser'),
    name,
    h('p.hint', null, 'Your other devices and your contacts see this name.'),
    user,
    h('label', { for: 'link-password' }, 'Your account’s password'),
    pass,
    h('p.hint#link-password-hint', null, 'It locks this browser’s copy of your account and never leaves it; with the same password as on your other devices, “Unlock” works here as there.'),
    go,
    err,
    back,
  );
  setScreen('auth', h('main.center', null, form));
  name.focus();
}

function showUnlock(username: string) {
  const err = h('p.error', { role: 'alert', 'data-testid': 'auth-error' });
  const { box, set } = progressView();
  const pass = h('input#password', { type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button.primary', { type: 'submit', 'data-testid': 'unlock-submit' }, 'Unlock');
  const passkey = h('button', {
    type: 'button',
    hidden: true,
    'data-testid': 'passkey-unlock',
    onclick: async () => {
      err.textContent = '';
      passkey.disabled = true;
      try {
        const acct = await unlockWithPasskey((key, sealed) => backend.resume(key, sealed, takeOver()));
        pass.value = '';
        await enter(acct);
      } catch (e) {
        if (errorCode(e) === 'LOCKED') return showElsewhere();
        err.textContent = friendly(e);
      } finally {
        passkey.disabled = false;
      }
    },
  }, 'Unlock with passkey');
  void hasPasskey(username).then((has) => (passkey.hidden = !has));
  const form = authForm(
    undefined,
    err,
    async () => {
      submit.disabled = true;
      try {
        const acct = await backend.unlock(pass.value, set, takeOver());
        pass.value = '';
        await enter(acct);
      } catch (e) {
        if (errorCode(e) === 'LOCKED') return showElsewhere();
        err.textContent = friendly(e);
        set(null);
      } finally {
        submit.disabled = false;
      }
    },
    h('h1', null, 'Welcome back'),
    h('p.lede', null, `Your messages on this device are locked with your password. Unlock as `, h('strong', null, username), '.'),
    h('input', { type: 'text', autocomplete: 'username', value: username, hidden: true, readOnly: true }),
    h('label', { for: 'password' }, 'Password'),
    pass,
    submit,
    passkey,
    box,
    err,
    h(
      'button.link',
      {
        type: 'button',
        onclick: async () => {
          if (!confirm(`Remove ${username}'s keys and messages from this browser? You can log in again with the password.`)) return;
          try {
            await forgetDevice();
          } catch (e) {
            toast(`Could not remove the account from this browser: ${friendly(e)}`);
            return;
          }
          location.hash = '';
          location.reload();
        },
      },
      'Use another account',
    ),
    h('button.link', { type: 'button', 'data-testid': 'rooms-no-account', onclick: roomsHere }, 'Join or start a room without unlocking'),
  );
  setScreen('auth', h('main.center', null, form));
  pass.focus();
}

/**
 * An auth card form (labelled by the heading `titleId`): submitting clears `err` and runs
 * `onSubmit` in the page instead of navigating.
 */
function authForm(
  titleId: string | undefined,
  err: HTMLElement,
  onSubmit: () => Promise<unknown>,
  ...children: (Node | string | null | undefined | false)[]
): HTMLFormElement {
  return h(
    'form.card.auth',
    {
      'aria-labelledby': titleId,
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        err.textContent = '';
        await onSubmit();
      },
    },
    ...children,
  );
}
