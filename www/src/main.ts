import './style.css';
import { backend, forgetDevice, warmUp } from './backend';
import type { Account, DeviceInfo, LinkApproval, PendingLink, Progress, SafetyInfo } from './backend/types';
import { errorCode } from './backend/types';
import { notifyNew, notifyOn, notifySupported, setNotify } from './notify';
import { Model, type Contact, type Msg } from './model';
import { passwordStrength } from './strength';
import { dec, h, fmtTime, sleep } from './util';
import { decodeImageFile, drawQr, scanCamera } from './qr';

const app = document.getElementById('app')!;
const toastEl = document.getElementById('toast')!;
let model: Model | null = null;
let storageNote = '';

// ---- small helpers -----------------------------------------------------------------

function toast(text: string) {
  toastEl.textContent = text;
  toastEl.classList.add('show');
  clearTimeout((toast as unknown as { t?: number }).t);
  (toast as unknown as { t?: number }).t = window.setTimeout(() => toastEl.classList.remove('show'), 4000);
}

function friendly(e: unknown): string {
  const code = errorCode(e);
  const msg = e instanceof Error ? e.message : String(e);
  switch (code) {
    case 'INVALID_USERNAME':
      return 'Usernames are 3 to 32 characters: letters, digits, dot, dash and underscore.';
    case 'WEAK_PARAMETERS':
      return 'Use a password of at least 8 characters.';
    case 'WRONG_PASSWORD':
      return 'Wrong username or password.';
    case 'NETWORK':
      return 'The relay cannot be reached. Check your connection and try again.';
    case 'DEVICE_LIMIT':
      return 'This account already has 8 devices. On one of them, open Account → Devices and remove one you no longer use, then try again.';
    case 'DEVICE_REVOKED':
      return 'This device was removed from the account. Log in again to add it back.';
    default:
      return msg;
  }
}

function setScreen(name: string, ...children: Node[]) {
  app.dataset.screen = name;
  app.replaceChildren(...children);
}

/** The protection badge: always visible, plain words. */
function badge(c: Contact | null): HTMLElement {
  if (!c) return h('span.badge.enc', { 'data-testid': 'badge' }, h('span.dot', { 'aria-hidden': 'true' }), 'Encrypted');
  if (c.keyChanged)
    return h('span.badge.changed', { 'data-testid': 'badge', title: 'Their key changed: check their safety number before you continue.' }, h('span.dot', { 'aria-hidden': 'true' }), 'Key changed');
  if (c.verified)
    return h('span.badge.verified', { 'data-testid': 'badge', title: 'Encrypted end to end, and you checked their safety number.' }, h('span.dot', { 'aria-hidden': 'true' }), 'Encrypted · Verified');
  return h('span.badge.unverified', { 'data-testid': 'badge', title: 'Encrypted end to end. Compare safety numbers to be sure who you talk to.' }, h('span.dot', { 'aria-hidden': 'true' }), 'Encrypted · Not verified');
}

// ---- auth ------------------------------------------------------------------------

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

async function showAuth(initial: 'register' | 'login' = 'register') {
  const stored = await backend.storedUsername().catch(() => null);
  // Open in another tab: say so before asking for the password ("Use here" takes over).
  if (stored && !takeOverRequested() && (await backend.openElsewhere().catch(() => false))) return showElsewhere();
  if (stored) return showUnlock(stored);
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
  const form = h(
    'form.card.auth',
    {
      'aria-labelledby': 'auth-title',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        err.textContent = '';
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
          await enter(acct);
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
  );
  render();
  setScreen('auth', h('main.center', null, form));
  user.focus();
}

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
  const form = h(
    'form.card.auth',
    {
      'aria-labelledby': 'link-title',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        err.textContent = '';
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
          await enter(account, history);
        } catch (e) {
          if (pending !== link) return;
          status.textContent = '';
          const code = errorCode(e);
          err.textContent =
            code === 'LINK_REFUSED' ? 'The link was cancelled on the other device.' : code === 'LINK_EXPIRED' ? 'The code expired before your other device confirmed it. Go back and start again.' : `The link did not complete: ${friendly(e)}`;
        }
      },
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
  const form = h(
    'form.card.auth',
    {
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        err.textContent = '';
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
    },
    h('h1', null, 'Welcome back'),
    h('p.lede', null, `Your messages on this device are locked with your password. Unlock as `, h('strong', null, username), '.'),
    h('input', { type: 'text', autocomplete: 'username', value: username, hidden: true, readOnly: true }),
    h('label', { for: 'password' }, 'Password'),
    pass,
    submit,
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
  );
  setScreen('auth', h('main.center', null, form));
  pass.focus();
}

// ---- main screens -------------------------------------------------------------------

async function enter(acct: Account, history?: Uint8Array) {
  // The package keeps the account open in one tab at a time (a Web Lock it took before
  // reading anything). Another tab's "Use here" closes it here: the keys are gone, so
  // stop and offer to take it back.
  acct.onTakenOver(() => {
    model?.stop();
    model = null;
    showElsewhere();
  });
  acct.onRemoved(() => {
    model?.stop();
    model = null;
    showRemoved();
  });
  model = new Model(acct);
  await model.load();
  let imported = -1;
  if (history) imported = await model.importHistory(history).catch((e) => (console.warn('sealpost: history', e), -2));
  model.start();
  model.on((w) => {
    if (w.contacts) renderList();
    if (w.link) renderLink();
    if (w.notice) showLooseNotice(w.notice);
    if (w.peer && w.peer === currentPeer()) renderChatUpdate(w.msg, w.oldId);
    document.title = model && model.totalUnread() ? `(${model.totalUnread()}) Sealpost` : 'Sealpost';
  });
  renderShell();
  route();
  void askPersistence();
  if (imported >= 0) toast(`Linked. ${imported} message${imported === 1 ? '' : 's'} came over from your other device.`);
  else if (imported === -2) toast('Linked, but the message history from your other device could not be opened.');
}

/** "Use here" was clicked: the next unlock or log-in takes the account over. */
const USE_HERE = 'sealpost.useHere';
const takeOverRequested = () => sessionStorage.getItem(USE_HERE) === '1';
function takeOver(): boolean {
  const want = takeOverRequested();
  sessionStorage.removeItem(USE_HERE);
  return want;
}

function showElsewhere() {
  setScreen(
    'auth',
    h(
      'main.center',
      null,
      h(
        'div.card',
        { role: 'alert' },
        h('h1', null, 'Open in another tab'),
        h('p', null, 'Sealpost is active in another tab or window. Use it there, or continue here (the other tab will pause).'),
        h('button.primary', {
          type: 'button',
          'data-testid': 'use-here',
          onclick: () => {
            // Reload, unlock and take over: this tab then reads the newest state the
            // other tab saved.
            sessionStorage.setItem(USE_HERE, '1');
            location.reload();
          },
        }, 'Use here'),
      ),
    ),
  );
}

/** Another device of the account removed this one. */
function showRemoved() {
  setScreen(
    'auth',
    h(
      'main.center',
      null,
      h(
        'div.card',
        { role: 'alert', 'data-testid': 'device-removed' },
        h('h1', null, 'This browser was removed'),
        h('p', null, 'Another device of your account removed this browser: it no longer receives messages. Its copy of your past messages is still here until you wipe it. Log in again with your password to add it back as a new device.'),
        h('button.primary', {
          type: 'button',
          onclick: async () => {
            try {
              await forgetDevice();
            } catch (e) {
              toast(`Could not wipe this browser: ${friendly(e)}`);
              return;
            }
            location.hash = '';
            location.reload();
          },
        }, 'Wipe this browser and log in again'),
      ),
    ),
  );
}

async function askPersistence() {
  try {
    if (!navigator.storage?.persist) {
      storageNote = 'This browser cannot promise to keep your messages: it may delete them when space runs low.';
    } else if (!(await navigator.storage.persisted()) && !(await navigator.storage.persist())) {
      storageNote = 'Your browser did not grant persistent storage, so it may delete your messages when space runs low. Installing Sealpost (Add to Home screen) or bookmarking it usually helps.';
    } else storageNote = '';
  } catch {
    storageNote = 'Storage status unknown.';
  }
  const n = document.getElementById('storage-note');
  if (n) {
    n.textContent = storageNote;
    n.hidden = !storageNote;
  }
  const b = document.querySelector<HTMLElement>('[data-testid=storage-banner]');
  if (b && storageNote && sessionStorage.getItem('sealpost.storageSeen') !== '1') {
    b.replaceChildren(
      storageNote + ' ',
      h('button.link', { type: 'button', onclick: () => ((b.hidden = true), sessionStorage.setItem('sealpost.storageSeen', '1')) }, 'OK'),
    );
    b.hidden = false;
  }
}

let listEl: HTMLElement;
let noticeEl: HTMLElement | null = null;
const looseNotices: { text: string; at: number }[] = [];

/** A marker with no conversation to go in (e.g. a message whose sender could not be read). */
function showLooseNotice(text: string) {
  // The same words again (another attempt): one line, with the latest time.
  if (looseNotices[looseNotices.length - 1]?.text === text) looseNotices.pop();
  looseNotices.push({ text, at: Date.now() });
  if (looseNotices.length > 5) looseNotices.shift();
  if (!noticeEl) return toast(text);
  const el = noticeEl;
  el.replaceChildren(
    h('ul', null, ...looseNotices.map((n) => h('li', { 'data-testid': 'notice', 'data-kind': 'loose' }, n.text, ' ', timeEl(n.at)))),
    h('button.link', { type: 'button', onclick: () => ((looseNotices.length = 0), (el.hidden = true)) }, 'Dismiss'),
  );
  el.hidden = false;
}
let paneEl: HTMLElement;
let linkEl: HTMLElement;

function renderShell() {
  const m = model!;
  linkEl = h('span.link-state', { role: 'status', 'data-testid': 'link-state' });
  listEl = h('ul.conversations', { 'aria-label': 'Conversations', 'data-testid': 'conversations' });
  paneEl = h('section.pane', { 'aria-live': 'off' });
  const input = h('input#new-contact', { placeholder: 'Username', autocomplete: 'off', autocapitalize: 'none', spellcheck: false, required: true, 'data-testid': 'new-contact' });
  const err = h('p.error', { role: 'alert', 'data-testid': 'new-contact-error' });
  const btn = h('button.primary', { type: 'submit', 'data-testid': 'new-contact-submit' }, 'Start chat');
  const form = h(
    'form.new-chat',
    {
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        err.textContent = '';
        btn.disabled = true;
        try {
          const c = await m.addContact(input.value.trim());
          input.value = '';
          location.hash = `#/contact/${c.userId}`;
        } catch (e) {
          err.textContent = errorCode(e) === 'SELF' ? 'That is your own username.' : friendly(e);
        } finally {
          btn.disabled = false;
        }
      },
    },
    h('label', { for: 'new-contact' }, 'Start a chat with'),
    h('div.row', null, input, btn),
    err,
  );
  const header = h(
    'header.topbar',
    null,
    h('a.brand', { href: '#/' }, h('img', { src: '/icons/icon.svg', alt: '', width: 28, height: 28 }), h('span', null, 'Sealpost')),
    linkEl,
    h('a.me', { href: '#/account', 'data-testid': 'me', 'aria-label': `Your account: ${m.account.username}` }, m.account.username),
  );
  const storageBanner = h('p.banner.info.storage-banner', { role: 'status', hidden: true, 'data-testid': 'storage-banner' });
  // Markers that belong to no conversation (the sender is unknown): listed here until dismissed.
  noticeEl = h('div.banner.info.loose-notices', { role: 'status', hidden: true, 'data-testid': 'loose-notices' });
  const side = h('nav.side', { 'aria-label': 'Chats' }, form, storageBanner, noticeEl, h('h2.sr-only', { tabIndex: -1 }, 'Conversations'), listEl);
  // Screen readers hear incoming messages (in any conversation) here, and only those.
  const announcer = h('div.sr-only', { role: 'status', 'data-testid': 'announcer' });
  const heard: string[] = [];
  const senders: { peer: string; name: string }[] = [];
  let announceTimer = 0;
  m.on((w) => {
    if (!w.msg || w.msg.dir !== 'in' || w.oldId || w.msg.notice) return;
    const from = m.contacts.get(w.msg.peer)?.username ?? 'someone';
    heard.push(`New message from ${from}: ${w.msg.text.slice(0, 100)}`);
    senders.push({ peer: w.msg.peer, name: from });
    // A backlog arrives in a burst: one announcement (and notification) for it.
    clearTimeout(announceTimer);
    announceTimer = window.setTimeout(() => {
      const n = heard.length;
      announcer.textContent = n > 3 ? `${n} new messages. ${heard.slice(-1)[0]}` : heard.join('. ');
      heard.length = 0;
      notifyNew(senders.splice(0));
    }, 300);
  });
  setScreen('main', header, h('div.layout', null, side, paneEl), announcer);
  renderLink();
  renderList();
}

function renderLink() {
  if (!linkEl || !model) return;
  const s = model.link;
  linkEl.dataset.state = s;
  linkEl.textContent = s === 'online' ? 'Connected' : s === 'connecting' ? 'Connecting…' : 'Offline: messages will wait';
}

function renderList() {
  if (!listEl || !model) return;
  const m = model;
  const cur = currentPeer();
  // The links are rebuilt: a keyboard user's focus goes back to the same conversation.
  const focused = listEl.contains(document.activeElement) ? (document.activeElement as HTMLElement).closest<HTMLElement>('a.conv')?.dataset.peer : undefined;
  const items = m.sortedContacts().map((c) => {
    const msgs = m.messages.get(c.userId) ?? [];
    const last = msgs[msgs.length - 1];
    return h(
      'li',
      null,
      h(
        'a.conv',
        { href: `#/chat/${c.userId}`, 'aria-current': c.userId === cur ? 'page' : undefined, 'data-testid': `conv-${c.username}`, 'data-peer': c.userId },
        h('span.avatar', { 'aria-hidden': 'true' }, c.username.slice(0, 1).toUpperCase()),
        h(
          'span.conv-main',
          null,
          h('span.conv-name', null, c.username, ' ', c.keyChanged ? h('span.mini.changed', null, 'Key changed') : c.verified ? h('span.mini.verified', null, 'Verified') : null),
          last
            ? h('span.conv-last', null, last.dir === 'out' ? 'You: ' : '', h('bdi', { dir: 'auto' }, last.text.slice(0, 200)))
            : h('span.conv-last', null, 'No messages yet'),
        ),
        c.unread ? h('span.unread', { 'data-testid': 'unread' }, String(c.unread), h('span.sr-only', null, ' unread')) : null,
      ),
    );
  });
  listEl.replaceChildren(...(items.length ? items : [h('li.empty', null, 'No chats yet. Type a username above.')]));
  if (focused) listEl.querySelector<HTMLElement>(`a.conv[data-peer="${focused}"]`)?.focus({ preventScroll: true });
}

/** Moves focus to the heading of the screen just shown (a route change), for screen readers and keyboards. */
function focusHeading(root: ParentNode) {
  root.querySelector<HTMLElement>('h2[tabindex="-1"]')?.focus({ preventScroll: true });
}

function currentPeer(): string | null {
  const m = /^#\/(chat|contact)\/([0-9a-f]{64})$/.exec(location.hash);
  return m ? m[2] : null;
}

function route() {
  if (!model) return;
  const hash = location.hash;
  let m: RegExpExecArray | null;
  model.activePeer = null;
  if ((m = /^#\/chat\/([0-9a-f]{64})$/.exec(hash)) && model.contacts.has(m[1])) {
    app.dataset.view = 'pane';
    // On a desktop the compose box takes focus (showChat); elsewhere the chat's heading.
    if (!showChat(model.contacts.get(m[1])!)) focusHeading(paneEl);
  } else if ((m = /^#\/contact\/([0-9a-f]{64})$/.exec(hash)) && model.contacts.has(m[1])) {
    app.dataset.view = 'pane';
    void showContact(model.contacts.get(m[1])!, true);
  } else if (hash === '#/account') {
    app.dataset.view = 'pane';
    showAccount();
    focusHeading(paneEl);
  } else if (hash === '#/devices') {
    app.dataset.view = 'pane';
    void showDevices(true);
  } else {
    app.dataset.view = 'list';
    chatState = null;
    paneEl.replaceChildren(
      h('div.empty-pane', null, h('h2', { tabIndex: -1 }, 'Your messages are encrypted end to end'), h('p', null, 'Only you and the people you write to can read them — not the relay, not us. Start a chat with a username on the left.')),
    );
    renderList();
    // On a phone only the list shows: its heading; on a desktop the pane's.
    focusHeading(matchMedia('(min-width: 720px)').matches ? paneEl : listEl.parentElement!);
    return;
  }
  renderList();
}

// ---- chat ----------------------------------------------------------------------------

let chatState: { peer: string; list: HTMLElement; els: Map<string, HTMLElement>; header: HTMLElement; banner: HTMLElement; composer: HTMLFormElement; text: HTMLTextAreaElement; send: HTMLButtonElement; stick: boolean } | null = null;

let scrollPending = false;
/** Scrolls the message list to the end once per frame (no forced layout per message). */
function scrollToEnd() {
  if (scrollPending) return;
  scrollPending = true;
  requestAnimationFrame(() => {
    scrollPending = false;
    if (chatState) chatState.list.scrollTop = chatState.list.scrollHeight;
  });
}

const STATE_TEXT: Record<string, string> = { queued: 'Waiting to send', sending: 'Sending…', relay: 'On relay', delivered: 'Delivered', failed: 'Not sent' };

/** What a sent message's state line says: with devices, how many of them have it. */
function outState(msg: Msg): string {
  const d = msg.delivery;
  if (d && d.total > 1 && d.delivered >= d.total) return `Delivered to all ${d.total} devices`;
  if (d && d.total > 1 && d.delivered > 0) return `Delivered to ${d.delivered} of ${d.total} devices`;
  if (msg.otherDevice && msg.state === 'relay') return 'Sent from another device';
  return STATE_TEXT[msg.state];
}

const timeEl = (ms: number) => h('time', { datetime: new Date(ms).toISOString() }, fmtTime(ms));

/**
 * When a message was written: ours by our clock; theirs by the sender's clock (sentAt),
 * and also when it arrived if that was more than a minute later (a backlog) or earlier
 * (a clock that is off).
 */
function timesOf(msg: Msg): (Node | string)[] {
  if (msg.dir === 'out' || !msg.sentAt || !Number.isFinite(msg.sentAt)) return [timeEl(msg.at)];
  const sent = msg.sentAt * 1000;
  if (Math.abs(msg.at - sent) <= 60_000) return [timeEl(sent)];
  return ['Sent ', timeEl(sent), ', received ', timeEl(msg.at)];
}

/** `peerName`: who wrote incoming messages (read out before the text). */
function msgEl(msg: Msg, peerName: string): HTMLElement {
  if (msg.notice) {
    // A marker, not a message: what happened, when, never any text from the wire.
    return h(
      'li.notice',
      { 'data-id': msg.id, 'data-testid': 'notice', 'data-kind': msg.notice, class: msg.notice === 'security' ? 'warn' : undefined },
      msg.notice === 'security' ? h('span.notice-icon', { 'aria-hidden': 'true' }, '⚠ ') : null,
      h('span', null, msg.text),
      ' ',
      timeEl(msg.at),
    );
  }
  const state = h('span.state', { 'data-testid': 'msg-state' });
  const el = h(
    'li.msg',
    { 'data-id': msg.id, 'data-testid': 'msg' },
    h('span.sr-only', null, msg.dir === 'out' ? 'You: ' : `${peerName}: `),
    h('p.text', { dir: 'auto' }, msg.text),
    h('span.meta', null, ...timesOf(msg), ' ', state),
  );
  updateMsgEl(el, msg);
  return el;
}

function updateMsgEl(el: HTMLElement, msg: Msg) {
  if (msg.notice) return; // markers do not change
  el.className = `msg ${msg.dir} ${msg.state}`;
  el.dataset.id = msg.id;
  el.dataset.state = msg.state;
  const st = el.querySelector('.state') as HTMLElement;
  if (msg.dir === 'out') {
    st.textContent = outState(msg);
    if (msg.state === 'failed' && !el.querySelector('.retry')) {
      el.append(h('button.link.retry', { type: 'button', onclick: () => model?.retry(msg) }, 'Retry'));
      st.title = msg.error ?? '';
    }
    if (msg.state !== 'failed') el.querySelector('.retry')?.remove();
  }
}

function chatHeader(c: Contact) {
  return [
    h('a.back', { href: '#/', 'aria-label': 'Back to chats' }, '‹'),
    h('h2.chat-title', { tabIndex: -1 }, c.username),
    badge(c),
    h('a.button', { href: `#/contact/${c.userId}`, 'data-testid': 'safety-link' }, c.verified ? 'Safety number' : 'Verify'),
  ];
}

function keyBanner(c: Contact): (Node | string)[] {
  if (!c.keyChanged) return [];
  return [
    h('strong', null, `${c.username}'s key changed.`),
    ' This happens when they reinstall or log in again — or when someone tries to listen in. Nothing more will be sent until you look. ',
    h('a.button.warn', { href: `#/contact/${c.userId}`, 'data-testid': 'review-key' }, 'Review'),
  ];
}

/** Shows a chat; true when the compose box took focus (desktop). */
function showChat(c: Contact): boolean {
  const m = model!;
  m.activePeer = c.userId;
  const list = h('ol.messages', { 'aria-label': `Messages with ${c.username}`, 'data-testid': 'messages', tabIndex: 0 });
  const els = new Map<string, HTMLElement>();
  for (const msg of m.messages.get(c.userId) ?? []) {
    const el = msgEl(msg, c.username);
    els.set(msg.id, el);
    list.append(el);
  }
  const text = h('textarea#compose', { rows: 1, placeholder: 'Message', 'aria-label': `Message to ${c.username}`, 'data-testid': 'compose', maxLength: 10000 });
  text.value = m.drafts.get(c.userId) ?? '';
  const send = h('button.primary', { type: 'submit', 'data-testid': 'send' }, 'Send');
  const composer = h('form.composer', {
    onsubmit: (ev: Event) => {
      ev.preventDefault();
      // Trailing spaces and newlines go; leading indentation (code, poems) stays.
      const v = text.value.trimEnd();
      if (!v.trim() || c.keyChanged) return;
      text.value = '';
      m.setDraft(c.userId, '');
      void m.send(c, v);
    },
  }, text, send);
  text.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      composer.requestSubmit();
    }
  });
  text.addEventListener('input', () => m.setDraft(c.userId, text.value));
  const header = h('header.chat-head', null, ...chatHeader(c));
  const banner = h('div.banner.warn', { role: 'alert', 'data-testid': 'key-banner', hidden: !c.keyChanged }, ...keyBanner(c));
  paneEl.replaceChildren(header, banner, list, composer);
  chatState = { peer: c.userId, list, els, header, banner, composer, text, send, stick: true };
  // Follow new messages only while the reader is at the end of the list.
  list.addEventListener('scroll', () => {
    if (chatState && !scrollPending) chatState.stick = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }, { passive: true });
  applyKeyState(c);
  list.scrollTop = list.scrollHeight;
  void m.markRead(c);
  void m.checkContact(c);
  if (matchMedia('(min-width: 720px)').matches) {
    text.focus();
    return true;
  }
  return false;
}

function applyKeyState(c: Contact) {
  if (!chatState) return;
  chatState.text.disabled = chatState.send.disabled = !!c.keyChanged;
  // Rebuilt only when what they show changed, so focus on their links stays put.
  const sig = `${c.keyChanged ? 'k' : ''}${c.verified ? 'v' : ''}`;
  if (chatState.header.dataset.sig === sig) return;
  chatState.header.dataset.sig = sig;
  chatState.banner.hidden = !c.keyChanged;
  chatState.banner.replaceChildren(...keyBanner(c));
  chatState.header.replaceChildren(...chatHeader(c));
}

function renderChatUpdate(msg?: Msg, oldId?: string) {
  const m = model;
  if (!m) return;
  const peer = currentPeer();
  if (!peer) return;
  const c = m.contacts.get(peer);
  if (!c) return;
  if (!chatState || chatState.peer !== peer) {
    if (location.hash.startsWith('#/contact/')) void showContact(c);
    return;
  }
  applyKeyState(c);
  if (!msg) return;
  let el = chatState.els.get(msg.id);
  if (!el && oldId && chatState.els.has(oldId)) {
    // An outgoing message is re-keyed from its local id to its wire id once sealed.
    el = chatState.els.get(oldId)!;
    chatState.els.delete(oldId);
  }
  if (el) {
    chatState.els.set(msg.id, el);
    updateMsgEl(el, msg);
  } else {
    el = msgEl(msg, c.username);
    chatState.els.set(msg.id, el);
    chatState.list.append(el);
    if (chatState.stick || msg.dir === 'out') scrollToEnd();
  }
  if (msg.dir === 'in' && document.visibilityState === 'visible') void m.markRead(c);
}

document.addEventListener('visibilitychange', () => {
  const p = currentPeer();
  const c = p && model?.contacts.get(p);
  if (c && document.visibilityState === 'visible' && location.hash.startsWith('#/chat/')) void model!.markRead(c);
});

// ---- contact / safety number ------------------------------------------------------------

/** A safety number as twelve groups of five digits, read out whole by screen readers. */
function digitsEl(testid: string, label: string, safety: SafetyInfo) {
  return h('div.digits', { role: 'group', 'data-testid': testid, 'aria-label': `${label}: ${safety.display}` }, ...safety.display.split(' ').map((g: string) => h('span', null, g)));
}

/** `focus`: shown by a route change (not a refresh): the heading takes focus. */
async function showContact(c: Contact, focus = false) {
  const m = model!;
  chatState = null;
  m.activePeer = null;
  // A change seen only in a message does not say which key they use now: ask the directory.
  if (c.keyChanged && !c.keyChanged.safety) await Promise.race([m.checkContact(c, 0), sleep(5000)]);
  const peer = (await m.account.contact(c.userId)) ?? (await m.account.lookup(c.username).catch(() => null));
  if (!peer) {
    paneEl.replaceChildren(h('p.error', { role: 'alert' }, 'This contact’s keys are not available offline. Connect and try again.'));
    return;
  }
  const result = h('p.result', { role: 'status', 'aria-live': 'polite', 'data-testid': 'verify-result' });
  const canvas = h('canvas.qr', { role: 'img', 'aria-label': 'QR code of your safety number with this contact', 'data-testid': 'qr' });
  const video = h('video.scanner', { hidden: true, 'aria-label': 'Camera preview' });
  let scanning: AbortController | null = null;
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
  const scanBtn = h('button', {
    type: 'button',
    onclick: async () => {
      if (scanning) {
        scanning.abort();
        return;
      }
      scanning = new AbortController();
      video.hidden = false;
      scanBtn.textContent = 'Stop camera';
      try {
        const found = await scanCamera(video, scanning.signal);
        if (found || !scanning.signal.aborted) await onScanned(found);
      } catch {
        result.textContent = 'The camera is not available. Upload a picture of their code instead, or compare the digits.';
        result.className = 'result bad';
      } finally {
        scanning = null;
        video.hidden = true;
        scanBtn.textContent = 'Scan their code';
      }
    },
  }, 'Scan their code');

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
  paneEl.replaceChildren(
    h('header.chat-head', null, h('a.back', { href: `#/chat/${c.userId}`, 'aria-label': 'Back to the chat' }, '‹'), h('h2.chat-title', { tabIndex: -1 }, c.username), badge(c)),
    h(
      'div.contact',
      null,
      changed ?? '',
      newSection ?? '',
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
  if (focus) focusHeading(paneEl);
  try {
    await drawQr(canvas, await m.account.qrPayload(c.userId));
  } catch (e) {
    canvas.parentElement!.hidden = true;
    result.textContent = errorCode(e) === 'IDENTITY_CHANGED' ? 'Their key changed: see above.' : 'The QR code needs a connection to the relay. You can still compare the digits.';
  }
}

// ---- account -------------------------------------------------------------------------

function showAccount() {
  const m = model!;
  chatState = null;
  const note = h('p#storage-note.banner.info', { role: 'status', hidden: !storageNote, 'data-testid': 'storage-note' }, storageNote);
  paneEl.replaceChildren(
    h('header.chat-head', null, h('a.back', { href: '#/', 'aria-label': 'Back to chats' }, '‹'), h('h2.chat-title', { tabIndex: -1 }, 'Your account')),
    h(
      'div.contact',
      null,
      h('p', null, 'Username: ', h('strong', { 'data-testid': 'account-username' }, m.account.username)),
      h('p.mono', { 'data-testid': 'account-fingerprint' }, `Key fingerprint: ${m.account.fingerprint}`),
      h('p', null, 'Your keys and messages on this device are encrypted with your password. Your password never leaves this browser.'),
      h('p', null, h('a.button', { href: '#/devices', 'data-testid': 'devices-link' }, 'Devices'), ' Your account on other browsers and phones; link a new one.'),
      note,
      notifySupported()
        ? h('button', {
          type: 'button',
          'data-testid': 'notify-toggle',
          onclick: async () => {
            const on = await setNotify(!notifyOn());
            if (!on && Notification.permission === 'denied') toast('The browser blocks notifications for this site: allow them in its site settings.');
            showAccount();
          },
        }, notifyOn() ? 'Turn off notifications' : 'Notify me of new messages (who wrote, not what)')
        : '',
      h(
        'button.warn',
        {
          type: 'button',
          'data-testid': 'logout',
          onclick: async () => {
            if (!confirm('Log out and delete your messages from this browser? Your account stays: log in again with your password (past messages do not come back).')) return;
            try {
              // This browser also leaves the account's list (best effort: offline, it
              // stays listed until removed from another device).
              const me = (await m.account.devices().catch(() => [])).find((d) => d.current);
              if (me) await m.account.revokeDevice(me.id).catch(() => undefined);
              await m.wipe();
              model = null;
              await forgetDevice();
            } catch (e) {
              toast(`Could not wipe this device: ${friendly(e)}. Try again, or clear the site's data in the browser settings.`);
              return;
            }
            location.hash = '';
            location.reload();
          },
        },
        'Log out and wipe this device',
      ),
    ),
  );
}

// ---- devices -------------------------------------------------------------------------

/** The link code in `text` (typed with any spacing or case, or read from a QR code), or null. */
function linkCode(text: string): string | null {
  const t = text.toUpperCase().replace(/[\s-]/g, '');
  const m = /[A-Z2-7]{20}/.exec(t);
  return m && (t.length === 20 || /[^A-Z2-7]/.test(t)) ? m[0] : null;
}

/** The devices of the account, revoke, and linking a new one (the old device's side). */
async function showDevices(focus = false) {
  const m = model!;
  chatState = null;
  const listEl = h('ul.devices', { 'aria-label': 'Devices of your account', 'data-testid': 'devices' });
  const status = h('p.result', { role: 'status', 'data-testid': 'devices-status' });
  const fill = async () => {
    let devices: DeviceInfo[];
    try {
      devices = await m.account.devices();
    } catch (e) {
      status.textContent = `The list of devices needs a connection to the relay: ${friendly(e)}`;
      status.className = 'result bad';
      return;
    }
    devices.sort((a, b) => Number(b.current) - Number(a.current) || a.addedAt - b.addedAt);
    listEl.replaceChildren(
      ...devices.map((d) =>
        h(
          'li.device',
          { 'data-testid': 'device', 'data-device': d.id, 'data-current': String(d.current) },
          h('span.device-main', null,
            h('strong.device-name', null, h('bdi', null, d.name || 'Unnamed device')),
            d.current ? h('span.mini.verified', { 'data-testid': 'this-device' }, 'This device') : null,
            h('span.device-meta', null, 'Added ', timeEl(d.addedAt), ...(d.current ? [] : d.lastSeen ? [' · Last seen ', timeEl(d.lastSeen)] : [' · Not seen yet'])),
          ),
          d.current
            ? null
            : h('button.warn', {
                type: 'button',
                'data-testid': 'revoke-device',
                'aria-label': `Remove ${d.name || 'this device'}`,
                onclick: async (ev: Event) => {
                  if (!confirm(`Remove “${d.name}” from your account? It stops receiving messages at once, and it can come back only by logging in again with the password or by a new link.`)) return;
                  const b = ev.currentTarget as HTMLButtonElement;
                  b.disabled = true;
                  try {
                    await m.account.revokeDevice(d.id);
                    status.textContent = `“${d.name}” was removed.`;
                    status.className = 'result good';
                  } catch (e) {
                    status.textContent = `Could not remove it: ${friendly(e)}`;
                    status.className = 'result bad';
                  }
                  await fill();
                },
              }, 'Remove'),
        ),
      ),
    );
  };

  // Linking: the new device shows a code; here it is typed, scanned or read from a picture.
  const codeIn = h('input#link-code', { autocomplete: 'off', autocapitalize: 'characters', spellcheck: false, 'data-testid': 'link-code-input', 'aria-describedby': 'link-code-hint' });
  const linkResult = h('p.result', { role: 'status', 'data-testid': 'link-result' });
  const approveBox = h('div.approve', { hidden: true });
  let approval: LinkApproval | null = null;
  const video = h('video.scanner', { hidden: true, 'aria-label': 'Camera preview' });
  let scanning: AbortController | null = null;
  const useCode = async (code: string | null) => {
    linkResult.textContent = '';
    linkResult.className = 'result';
    if (!code) {
      linkResult.textContent = 'That is not a link code: it has 20 letters and digits. Check it on the new device.';
      linkResult.className = 'result bad';
      return;
    }
    linkResult.textContent = 'Looking for the new device…';
    try {
      await approval?.cancel();
      approval = await m.account.approveLink(code);
    } catch (e) {
      approval = null;
      linkResult.textContent = ['NOT_FOUND', 'EXPIRED', 'LINK_EXPIRED'].includes(errorCode(e) ?? '') ? 'No device is waiting with this code (it may have expired). Start again on the new device.' : `Could not read the new device: ${friendly(e)}`;
      linkResult.className = 'result bad';
      return;
    }
    linkResult.textContent = '';
    const a = approval;
    const history = h('input#link-history', { type: 'checkbox', checked: true, 'data-testid': 'link-history' });
    const confirmBtn = h('button.primary', {
      type: 'button',
      'data-testid': 'link-confirm',
      onclick: async () => {
        confirmBtn.disabled = true;
        try {
          linkResult.textContent = history.checked ? 'Sealing your messages for the new device…' : 'Linking…';
          await a.confirm(history.checked ? await m.exportHistory() : undefined);
          linkResult.textContent = `“${a.deviceName}” is linked.`;
          linkResult.className = 'result good';
          approveBox.hidden = true;
          approval = null;
          codeIn.value = '';
          await fill();
        } catch (e) {
          linkResult.textContent = `The link failed: ${friendly(e)}`;
          linkResult.className = 'result bad';
          confirmBtn.disabled = false;
        }
      },
    }, 'Link this device');
    approveBox.replaceChildren(
      h('h4', null, 'Add “', h('bdi', { 'data-testid': 'link-device-name' }, a.deviceName), '” to your account?'),
      h('p', null, 'Confirm only if the new device shows this name and you started the link there yourself. It gets your account and your contacts, and can read every message from now on.'),
      h('div.check', null, history, h('label', { for: 'link-history' }, 'Also transfer message history')),
      h('div.row.wrap', null, confirmBtn, h('button', {
        type: 'button',
        'data-testid': 'link-cancel',
        onclick: async () => {
          await a.cancel();
          approval = null;
          approveBox.hidden = true;
          linkResult.textContent = 'Cancelled.';
        },
      }, 'Cancel')),
    );
    approveBox.hidden = false;
    confirmBtn.focus();
  };
  const file = h('input#link-qr-file', {
    type: 'file',
    accept: 'image/*',
    class: 'sr-only',
    'data-testid': 'link-qr-file',
    onchange: async () => {
      const f = file.files?.[0];
      file.value = '';
      if (!f) return;
      const bytes = await decodeImageFile(f).catch(() => null);
      if (!bytes) {
        linkResult.textContent = 'No QR code found in that picture. Try again with the whole code in view, or type the code.';
        linkResult.className = 'result bad';
        return;
      }
      await useCode(linkCode(dec.decode(bytes)));
    },
  });
  const scanBtn = h('button', {
    type: 'button',
    'data-testid': 'link-scan',
    onclick: async () => {
      if (scanning) {
        scanning.abort();
        return;
      }
      scanning = new AbortController();
      video.hidden = false;
      scanBtn.textContent = 'Stop camera';
      try {
        const found = await scanCamera(video, scanning.signal);
        if (found) await useCode(linkCode(dec.decode(found)));
      } catch {
        linkResult.textContent = 'The camera is not available. Upload a picture of the code, or type it.';
        linkResult.className = 'result bad';
      } finally {
        scanning = null;
        video.hidden = true;
        scanBtn.textContent = 'Scan its code';
      }
    },
  }, 'Scan its code');
  const linkForm = h(
    'form.link-form',
    {
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        void useCode(linkCode(codeIn.value));
      },
    },
    h('label', { for: 'link-code' }, 'Code shown on the new device'),
    h('div.row', null, codeIn, h('button.primary', { type: 'submit', 'data-testid': 'link-code-submit' }, 'Continue')),
    h('p.hint#link-code-hint', null, 'On the new device, choose “Link from another device” on the log-in screen. Its code has 20 letters and digits; spaces do not matter.'),
  );
  paneEl.replaceChildren(
    h('header.chat-head', null, h('a.back', { href: '#/account', 'aria-label': 'Back to your account' }, '‹'), h('h2.chat-title', { tabIndex: -1 }, 'Devices')),
    h(
      'div.contact',
      null,
      h('p', null, 'Every device of your account has its own keys. Messages are encrypted to each of them, and what you send from one shows on the others. Up to 8 devices.'),
      listEl,
      status,
      h('section', { 'aria-labelledby': 'link-title' },
        h('h3#link-title', null, 'Link a new device'),
        linkForm,
        h('div.row.wrap', null, scanBtn, h('label.button', { for: 'link-qr-file' }, 'Upload a picture of its code'), file),
        h('div.qr-box', null, video),
        linkResult,
        approveBox,
      ),
    ),
  );
  if (focus) focusHeading(paneEl);
  await fill();
}

// ---- boot -----------------------------------------------------------------------------

addEventListener('hashchange', route);
addEventListener('pagehide', () => {
  if (model) void model.flushPending();
});
// Leaving the tab (e.g. for another tab that takes the account over, which closes it
// here at once): write the pending draft now.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden' && model) void model.flushPending();
});

if ('serviceWorker' in navigator && import.meta.env.PROD) {
  // A new service worker taking over a page an older one served: the page runs the old
  // code. Not on the first install (no controller yet when the page loaded).
  const hadController = !!navigator.serviceWorker.controller;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (!hadController || document.querySelector('[data-testid=update-notice]')) return;
    // Filled after it is in the page, so screen readers announce it.
    const notice = h('div.update-notice', { role: 'status', 'data-testid': 'update-notice' });
    document.body.append(notice);
    setTimeout(() => notice.append('New version available — ', h('button.link', { type: 'button', onclick: () => location.reload() }, 'Reload')), 100);
  });
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => undefined);
}

warmUp();
void showAuth();
