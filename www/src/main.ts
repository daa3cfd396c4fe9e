import './style.css';
import { backend, forgetDevice, warmUp } from './backend';
import type { Account, Progress, SafetyInfo } from './backend/types';
import { errorCode } from './backend/types';
import { notifyNew, notifyOn, notifySupported, setNotify } from './notify';
import { Model, type Contact, type Msg } from './model';
import { h, fmtTime, sleep } from './util';
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
  const pass = h('input#password', { name: 'password', type: 'password', autocomplete: 'new-password', required: true, minLength: 8 });
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
  const panel = h('div#auth-panel', { role: 'tabpanel' },
    h('label', { for: 'username' }, 'Username'), user, h('label', { for: 'password' }, 'Password'), pass, hint, advanced, submit, box, err);
  const render = () => {
    tabReg.setAttribute('aria-selected', String(mode === 'register'));
    tabLog.setAttribute('aria-selected', String(mode === 'login'));
    tabReg.tabIndex = mode === 'register' ? 0 : -1;
    tabLog.tabIndex = mode === 'login' ? 0 : -1;
    panel.setAttribute('aria-labelledby', mode === 'register' ? 'tab-register' : 'tab-login');
    submit.textContent = mode === 'register' ? 'Create account' : 'Log in';
    pass.autocomplete = mode === 'register' ? 'new-password' : 'current-password';
    advanced.hidden = mode !== 'register';
    hint.textContent =
      mode === 'register'
        ? 'No phone number, no email. Your keys are made in this browser; the relay only keeps your public keys and a backup locked with your password. There is no password reset: keep it safe.'
        : 'Log in on a new device with the same username and password: your keys come back from the encrypted backup.';
  };
  tabReg.onclick = () => ((mode = 'register'), render());
  tabLog.onclick = () => ((mode = 'login'), render());
  const form = h(
    'form.card.auth',
    {
      'aria-labelledby': 'auth-title',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        err.textContent = '';
        submit.disabled = true;
        form.setAttribute('aria-busy', 'true');
        try {
          const acct =
            mode === 'register'
              ? await backend.register(user.value.trim(), pass.value, set, Number(keySize.value) || undefined)
              : await backend.login(user.value.trim(), pass.value, set, takeOver());
          pass.value = '';
          await enter(acct);
        } catch (e) {
          if (errorCode(e) === 'LOCKED') return showElsewhere();
          err.textContent = friendly(e);
          set(null);
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
  );
  render();
  setScreen('auth', h('main.center', null, form));
  user.focus();
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

async function enter(acct: Account) {
  // The package keeps the account open in one tab at a time (a Web Lock it took before
  // reading anything). Another tab's "Use here" closes it here: the keys are gone, so
  // stop and offer to take it back.
  acct.onTakenOver(() => {
    model?.stop();
    model = null;
    showElsewhere();
  });
  model = new Model(acct);
  await model.load();
  model.start();
  model.on((w) => {
    if (w.contacts) renderList();
    if (w.link) renderLink();
    if (w.peer && w.peer === currentPeer()) renderChatUpdate(w.msg, w.oldId);
    document.title = model && model.totalUnread() ? `(${model.totalUnread()}) Sealpost` : 'Sealpost';
  });
  renderShell();
  route();
  void askPersistence();
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
  const side = h('nav.side', { 'aria-label': 'Chats' }, form, storageBanner, h('h2.sr-only', { tabIndex: -1 }, 'Conversations'), listEl);
  // Screen readers hear incoming messages (in any conversation) here, and only those.
  const announcer = h('div.sr-only', { role: 'status', 'data-testid': 'announcer' });
  const heard: string[] = [];
  const senders: { peer: string; name: string }[] = [];
  let announceTimer = 0;
  m.on((w) => {
    if (!w.msg || w.msg.dir !== 'in' || w.oldId) return;
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
  el.className = `msg ${msg.dir} ${msg.state}${msg.keyWarning ? ' warn' : ''}`;
  el.dataset.id = msg.id;
  el.dataset.state = msg.state;
  const st = el.querySelector('.state') as HTMLElement;
  if (msg.dir === 'out') {
    st.textContent = STATE_TEXT[msg.state];
    if (msg.state === 'failed' && !el.querySelector('.retry')) {
      el.append(h('button.link.retry', { type: 'button', onclick: () => model?.retry(msg) }, 'Retry'));
      st.title = msg.error ?? '';
    }
    if (msg.state !== 'failed') el.querySelector('.retry')?.remove();
  } else st.textContent = msg.keyWarning ? 'Sent with a new key' : '';
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
