// The main screen around the chats: opening an account (enter), the conversation list,
// the connection line, loose notices, "open in another tab" and "device removed", and the
// hash router that picks what the pane shows.

import { forgetDevice } from '../backend';
import { errorCode } from '../backend/types';
import type { Account } from '../backend/types';
import { Model } from '../model';
import { notifyNew } from '../notify';
import { keepSession } from '../session';
import { app, focusHeading, setScreen, timeEl, toast, ui } from '../ui';
import { friendly } from '../errors';
import { h } from '../util';
import { showAccount } from './account';
import { removeFromChat, renderChatUpdate, renderTyping, showChat } from './chat';
import { jumpToResult, query, resultItems, searchBox } from './search';
import { showContact } from './contact';
import { contactItems, sideView, viewSwitch } from './contacts';
import { patchList } from './listpatch';
import { displayName } from '../records';
import { showDevices } from './devices';
import { leaveGroupScreen, showGroup, showGroupMembers, showNewGroup } from './groupchat';
import { closeOpened } from './files';
import { isRoomLink, showRooms } from '../rooms';
import { watchCalls } from './calling';

/**
 * Opens the main screen on `acct`. `history`: what a device link (or, `from: 'file'`, an
 * export file) brought; `fresh`: the
 * account was just created or added here (a moment to ask for persistent storage);
 * `resumed`: opened from this tab's session (session.ts), otherwise kept for it.
 */
export async function enter(acct: Account, { history, fresh = false, resumed = false, from = 'link' }: { history?: Uint8Array; fresh?: boolean; resumed?: boolean; from?: 'link' | 'file' } = {}) {
  // The package keeps the account open in one tab at a time (a Web Lock it took before
  // reading anything). Another tab's "Use here" closes it here: the keys are gone, so
  // stop and offer to take it back.
  acct.onTakenOver(() => {
    ui.model?.stop();
    ui.model = null;
    showElsewhere();
  });
  acct.onRemoved(() => {
    ui.model?.stop();
    ui.model = null;
    showRemoved();
  });
  ui.model = new Model(acct);
  watchCalls(ui.model);
  await ui.model.load();
  let imported = -1;
  if (history) imported = await ui.model.importHistory(history).catch((e) => (console.warn('sealpost: history', e), -2));
  ui.model.start();
  ui.model.on((w) => {
    if (w.contacts) renderList();
    if (w.link) renderLink();
    if (w.notice) showLooseNotice(w.notice);
    if (w.peer && w.peer === currentPeer()) {
      if (w.removed) removeFromChat(w.removed);
      else if (w.typing !== undefined) renderTyping(w.typing);
      else renderChatUpdate(w.msg, w.oldId);
    }
    document.title = ui.model && ui.model.totalUnread() ? `(${ui.model.totalUnread()}) Sealpost` : 'Sealpost';
  });
  renderShell();
  route();
  void checkPersistence(fresh);
  if (!resumed) void keepSession(acct);
  const plural = imported === 1 ? '' : 's';
  if (imported >= 0) toast(from === 'file' ? `Restored. ${imported} message${plural} came from the file.` : `Linked. ${imported} message${plural} came over from your other device.`);
  else if (imported === -2) toast(from === 'file' ? 'Logged in, but the messages in the file could not be read.' : 'Linked, but the message history from your other device could not be opened.');
}

/** "Use here" was clicked: the next unlock or log-in takes the account over. */
const USE_HERE = 'sealpost.useHere';
export const takeOverRequested = () => sessionStorage.getItem(USE_HERE) === '1';
export function takeOver(): boolean {
  const want = takeOverRequested();
  sessionStorage.removeItem(USE_HERE);
  return want;
}

export function showElsewhere() {
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

const STORAGE_DISMISSED = 'sealpost.storageNoticeDismissed';

/**
 * Whether the browser may delete this site's data when space runs low: the account
 * screen explains it (ui.storageNote); the side bar says it in one line until dismissed
 * (remembered in this browser). Asks for persistent storage only with `ask` (after the
 * account was created or a message was sent: Firefox shows a prompt, Chromium decides
 * from how the site is used), otherwise just looks.
 */
let asked = false;
export async function checkPersistence(ask = false) {
  if (ask && asked) return;
  asked ||= ask;
  let persisted = false;
  try {
    if (!navigator.storage?.persist) {
      ui.storageNote = 'This browser cannot promise to keep your messages: it may delete them when space runs low.';
    } else {
      persisted = (await navigator.storage.persisted()) || (ask && (await navigator.storage.persist()));
      ui.storageNote = persisted ? '' : 'Your browser has not granted persistent storage, so it may delete your messages when space runs low. Installing Sealpost (Add to Home screen) or bookmarking it usually helps; your other devices keep their own copy.';
    }
  } catch {
    ui.storageNote = 'Storage status unknown.';
  }
  const n = document.getElementById('storage-note');
  if (n) {
    n.textContent = ui.storageNote;
    n.hidden = !ui.storageNote;
  }
  const b = document.querySelector<HTMLElement>('[data-testid=storage-banner]');
  if (!b) return;
  b.hidden = !ui.storageNote || localStorage.getItem(STORAGE_DISMISSED) === '1';
  b.replaceChildren(
    h('span.storage-text', null, 'This browser may delete messages.'),
    h('a', { href: '#/account', 'data-testid': 'storage-details' }, 'Why?'),
    h('button.link', {
      type: 'button',
      'aria-label': 'Dismiss the storage notice',
      'data-testid': 'storage-dismiss',
      onclick: () => {
        b.hidden = true;
        localStorage.setItem(STORAGE_DISMISSED, '1');
      },
    }, '✕'),
  );
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
let linkEl: HTMLElement;

function renderShell() {
  const m = ui.model!;
  linkEl = h('span.link-state', { role: 'status', 'data-testid': 'link-state' });
  listEl = h('ul.conversations', { 'aria-label': 'Conversations', 'data-testid': 'conversations' });
  ui.paneEl = h('section.pane', { 'aria-live': 'off' });
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
          err.textContent = errorCode(e) === 'NOT_FOUND' ? `No one is registered as “${input.value.trim()}”. Check the spelling, or ask them for their username.` : friendly(e);
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
  const storageBanner = h('p.storage-banner', { hidden: true, 'data-testid': 'storage-banner' });
  // Markers that belong to no conversation (the sender is unknown): listed here until dismissed.
  noticeEl = h('div.banner.info.loose-notices', { role: 'status', hidden: true, 'data-testid': 'loose-notices' });
  const newGroup = h('a.button.new-group', { href: '#/new-group', 'data-testid': 'new-group' }, 'New group');
  const rooms = h('a.button.new-group', { href: '#/room', 'data-testid': 'rooms' }, 'Rooms');
  const side = h('nav.side', { 'aria-label': 'Chats' }, form, h('div.row.side-actions', null, newGroup, rooms), searchBox(renderList), storageBanner, noticeEl, viewSwitch(renderList), h('h2.sr-only', { tabIndex: -1 }, 'Conversations'), listEl);
  // Screen readers hear incoming messages (in any conversation) here, and only those.
  const announcer = h('div.sr-only', { role: 'status', 'data-testid': 'announcer' });
  const heard: string[] = [];
  const senders: { peer: string; name: string }[] = [];
  let announceTimer = 0;
  m.on((w) => {
    if (!w.msg || w.msg.dir !== 'in' || w.oldId || w.msg.notice) return;
    const c = m.contacts.get(w.msg.peer);
    const from = c ? displayName(c) : 'someone';
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
  setScreen('main', header, h('div.layout', null, side, ui.paneEl), announcer);
  renderLink();
  renderList();
}

function renderLink() {
  if (!linkEl || !ui.model) return;
  const s = ui.model.link;
  linkEl.dataset.state = s;
  linkEl.textContent = s === 'online' ? 'Connected' : s === 'connecting' ? 'Connecting…' : navigator.onLine ? 'Offline: reconnecting…' : 'Offline: messages will wait';
}

function renderList() {
  if (!listEl || !ui.model) return;
  const m = ui.model;
  const cur = currentPeer();
  // A link that is rebuilt (not patched): a keyboard user's focus goes back to the same conversation.
  if (query) {
    patchList(listEl, resultItems());
    return;
  }
  if (sideView === 'contacts') {
    listEl.setAttribute('aria-label', 'Contacts');
    patchList(listEl, contactItems());
    return;
  }
  listEl.setAttribute('aria-label', 'Conversations');
  const focused = listEl.contains(document.activeElement) ? (document.activeElement as HTMLElement).closest<HTMLElement>('a.conv')?.dataset.peer : undefined;
  const rows = m.sortedContacts().map((c) => {
    const msgs = m.messages.get(c.userId) ?? [];
    const last = msgs[msgs.length - 1];
    return { at: c.lastActivity, el: h(
      'li',
      null,
      h(
        'a.conv',
        { href: `#/chat/${c.userId}`, 'aria-current': c.userId === cur ? 'page' : undefined, 'data-testid': `conv-${c.username}`, 'data-peer': c.userId },
        h('span.avatar', { 'aria-hidden': 'true' }, displayName(c).slice(0, 1).toUpperCase()),
        h(
          'span.conv-main',
          null,
          h('span.conv-name', null, h('bdi', null, displayName(c)), ' ', c.keyChanged ? h('span.mini.changed', null, 'Key changed') : c.verified ? h('span.mini.verified', null, 'Verified') : null),
          last
            ? h('span.conv-last', null, last.dir === 'out' ? 'You: ' : '', h('bdi', { dir: 'auto' }, last.text.slice(0, 200)))
            : h('span.conv-last', null, 'No messages yet'),
        ),
        c.unread ? h('span.unread', { 'data-testid': 'unread' }, String(c.unread), h('span.sr-only', null, ' unread')) : null,
      ),
    ) };
  });
  rows.push(...m.groups.sorted().map((g) => ({ at: g.lastActivity, el: groupItem(g.id, g.unread) })));
  const items = rows.sort((a, b) => b.at - a.at).map((r) => r.el);
  patchList(listEl, items.length ? items : [h('li.empty', null, 'No chats yet. Type a username above.')]);
  if (focused) listEl.querySelector<HTMLElement>(`a.conv[data-peer="${focused}"]`)?.focus({ preventScroll: true });
}

/** A group in the conversation list. */
function groupItem(id: string, unread: number): HTMLLIElement {
  const g = ui.model!.groups;
  const msgs = g.messages.get(id) ?? [];
  const last = msgs[msgs.length - 1];
  const name = g.name(id);
  return h(
    'li',
    null,
    h(
      'a.conv',
      { href: `#/group/${id}`, 'aria-current': location.hash.startsWith(`#/group/${id}`) ? 'page' : undefined, 'data-testid': `group-${name}`, 'data-peer': id },
      h('span.avatar', { 'aria-hidden': 'true' }, '#'),
      h('span.conv-main', null, h('span.conv-name', null, name, ' ', h('span.mini', null, 'Group')), h('span.conv-last', null, last ? h('bdi', { dir: 'auto' }, last.text.slice(0, 200)) : 'No messages yet')),
      unread ? h('span.unread', { 'data-testid': 'unread' }, String(unread), h('span.sr-only', null, ' unread')) : null,
    ),
  );
}

export function currentPeer(): string | null {
  const m = /^#\/(chat|contact)\/([0-9a-f]{64})$/.exec(location.hash);
  return m ? m[2] : null;
}

export function route() {
  if (!ui.model) return;
  const hash = location.hash;
  let m: RegExpExecArray | null;
  ui.model.activePeer = null;
  leaveGroupScreen();
  // The files opened in the conversation that was on screen go with it.
  closeOpened();
  if ((m = /^#\/chat\/([0-9a-f]{64})$/.exec(hash)) && ui.model.contacts.has(m[1])) {
    app.dataset.view = 'pane';
    // On a desktop the compose box takes focus (showChat); elsewhere the chat's heading.
    if (!showChat(ui.model.contacts.get(m[1])!)) focusHeading(ui.paneEl);
    jumpToResult();
  } else if ((m = /^#\/contact\/([0-9a-f]{64})$/.exec(hash)) && ui.model.contacts.has(m[1])) {
    app.dataset.view = 'pane';
    void showContact(ui.model.contacts.get(m[1])!, true);
  } else if ((m = /^#\/group\/([0-9a-f]{32})(\/members)?$/.exec(hash))) {
    app.dataset.view = 'pane';
    if (m[2]) showGroupMembers(m[1]);
    else showGroup(m[1]);
  } else if (hash === '#/new-group') {
    app.dataset.view = 'pane';
    showNewGroup();
  } else if (hash === '#/room' || isRoomLink()) {
    app.dataset.view = 'pane';
    ui.chatState = null;
    // Not over another screen the user went to while a join was under way.
    const mount = (el: HTMLElement) => location.hash === '#/room' && (ui.paneEl.replaceChildren(el), focusHeading(ui.paneEl));
    void showRooms({ mount, heading: 'h2', name: ui.model.account.username }, '#/room');
  } else if (hash === '#/account') {
    app.dataset.view = 'pane';
    showAccount();
    focusHeading(ui.paneEl);
  } else if (hash === '#/devices') {
    app.dataset.view = 'pane';
    void showDevices(true);
  } else {
    app.dataset.view = 'list';
    ui.chatState = null;
    ui.paneEl.replaceChildren(
      h('div.empty-pane', null, h('h2', { tabIndex: -1 }, 'Your messages are encrypted end to end'), h('p', null, 'Only you and the people you write to can read them — not the relay, not us. Start a chat with a username on the left.')),
    );
    renderList();
    // On a phone only the list shows: its heading; on a desktop the pane's.
    focusHeading(matchMedia('(min-width: 720px)').matches ? ui.paneEl : listEl.parentElement!);
    return;
  }
  renderList();
}
