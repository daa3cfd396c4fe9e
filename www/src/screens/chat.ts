// A conversation: messages (and marker lines) with their delivery state, the composer,
// and the key-changed banner.

import type { Contact, Msg } from '../records';
import { displayName } from '../records';
import { badge, timeEl, toast, ui } from '../ui';
import { friendly } from '../errors';
import { h } from '../util';
import { refreshContact } from './contact';
import { messageLimit } from './limit';
import { checkPersistence, currentPeer } from './shell';
import { actionsEl, composing, composingBar, quoteEl, reactionsEl, timerEl, typingEl } from './msgextras';
import { wireOf } from '../convo';
import { fileBox, fileControls, forgetOpened, retryFile } from './files';
import { callButton } from './calling';
import { appendMsg, messageList, removeMsg } from './msglist';
import { sendDirectly, submitDirectly } from './composer';

let scrollPending = false;
/** Scrolls the message list to the end once per frame (no forced layout per message). */
function scrollToEnd() {
  if (scrollPending) return;
  scrollPending = true;
  requestAnimationFrame(() => {
    scrollPending = false;
    if (ui.chatState) ui.chatState.list.scrollTop = ui.chatState.list.scrollHeight;
  });
}

const STATE_TEXT: Record<string, string> = { queued: 'Waiting to send', sending: 'Sending…', relay: 'On relay', delivered: 'Delivered', failed: 'Not sent' };

/** What a sent message's state line says: with devices, how many of them have it. */
function outState(msg: Msg): string {
  if (msg.readByPeer) return 'Read';
  const d = msg.delivery;
  if (d && d.total > 1 && d.delivered >= d.total) return `Delivered to all ${d.total} devices`;
  if (d && d.total > 1 && d.delivered > 0) return `Delivered to ${d.delivered} of ${d.total} devices`;
  if (msg.otherDevice && msg.state === 'relay') return 'Sent from another device';
  return STATE_TEXT[msg.state];
}

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
      { 'data-id': msg.id, 'data-testid': 'notice', 'data-kind': msg.notice, class: msg.notice === 'security' || msg.notice === 'callFailed' ? 'warn' : undefined },
      msg.notice === 'security' || msg.notice === 'callFailed' ? h('span.notice-icon', { 'aria-hidden': 'true' }, '⚠ ') : null,
      h('span', null, msg.text),
      ' ',
      timeEl(msg.at),
    );
  }
  const state = h('span.state', { 'data-testid': 'msg-state' });
  const c = ui.model?.contacts.get(msg.peer);
  const el = h(
    'li.msg',
    { 'data-id': msg.id, 'data-testid': 'msg' },
    h('span.sr-only', null, msg.dir === 'out' ? 'You: ' : `${peerName}: `),
    quoteEl(msg),
    msg.deleted ? h('p.text.deleted', { 'data-testid': 'deleted' }, 'This message was deleted') : msg.file ? fileBox(msg) : h('p.text', { dir: 'auto' }, msg.text),
    h(
      'span.meta',
      null,
      ...timesOf(msg),
      msg.edit && !msg.deleted ? h('span.edited', { 'data-testid': 'edited' }, ' · edited') : null,
      msg.expiresAt ? h('span', { title: 'Disappears' }, ' · ⏱') : null,
      ' ',
      state,
    ),
    reactionsEl(msg),
    c && !msg.deleted ? actionsEl(msg, c) : null,
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
      el.append(h('button.link.retry', { type: 'button', onclick: () => (msg.file ? retryFile(msg) : ui.model?.retry(msg)) }, 'Retry'));
      st.title = msg.error ?? '';
    }
    if (msg.state !== 'failed') el.querySelector('.retry')?.remove();
  }
}

function chatHeader(c: Contact): (Node | string)[] {
  return [
    h('a.back', { href: '#/', 'aria-label': 'Back to chats' }, '‹'),
    h('h2.chat-title', { tabIndex: -1 }, displayName(c), c.name ? h('span.handle', null, ` @${c.username}`) : null),
    typingEl(c),
    badge(c),
    ...(ui.model?.direct.has(c.userId) ? [h('span.badge.direct', { 'data-testid': 'direct', title: 'Messages go straight to their browser, still end-to-end encrypted' }, 'direct')] : []),
    timerEl(c),
    callButton(ui.model!, c),
    h('a.button', { href: `#/contact/${c.userId}`, 'data-testid': 'safety-link' }, c.verified ? 'Safety number' : 'Verify'),
  ];
}

function keyBanner(c: Contact): (Node | string)[] {
  if (!c.keyChanged) return [];
  return [
    h('strong', null, `${displayName(c)}'s key changed.`),
    ' This happens when they reinstall or log in again — or when someone tries to listen in. Nothing more will be sent until you look. ',
    h('a.button.warn', { href: `#/contact/${c.userId}`, 'data-testid': 'review-key' }, 'Review'),
  ];
}

/** Shows a chat; true when the compose box took focus (desktop). */
export function showChat(c: Contact): boolean {
  const m = ui.model!;
  m.activePeer = c.userId;
  const list = messageList(`Messages with ${displayName(c)}`);
  const els = new Map<string, HTMLElement>();
  for (const msg of m.messages.get(c.userId) ?? []) {
    const el = msgEl(msg, displayName(c));
    els.set(msg.id, el);
    appendMsg(list, el);
  }
  const text = h('textarea#compose', { rows: 1, placeholder: 'Message', 'aria-label': `Message to ${displayName(c)}`, 'data-testid': 'compose' });
  text.value = m.drafts.get(c.userId) ?? '';
  const limit = messageLimit(text);
  const send = h('button.primary', { type: 'submit', 'data-testid': 'send' }, 'Send');
  const bar = h('div.composing-slot');
  composing.replyTo = composing.editing = undefined;
  composing.changed = () => {
    bar.replaceChildren(...[composingBar()].filter((x): x is HTMLElement => !!x));
    if (composing.editing) text.value = composing.editing.text;
    limit.update();
    text.focus();
  };
  const submit = () => {
    // Trailing spaces and newlines go; leading indentation (code, poems) stays.
    const v = text.value.trimEnd();
    if (!v.trim() || c.keyChanged || !limit.fits()) return;
    text.value = '';
    limit.update();
    m.setDraft(c.userId, '');
    m.convo.typing(c, false);
    const { editing, replyTo } = composing;
    composing.replyTo = composing.editing = undefined;
    bar.replaceChildren();
    if (editing) void m.convo.edit(c, editing, v).catch((e) => toast(`Could not edit: ${friendly(e)}`));
    // Not stored: the outbox does not send it and says so on the message.
    else void m.send(c, v, replyTo ? wireOf(replyTo) : undefined).catch(() => undefined);
    void checkPersistence(true);
  };
  const composer = h('form.composer', { onsubmit: submitDirectly(submit) }, bar, limit.el, ...fileControls({ contact: c }, ui.paneEl), text, send);
  sendDirectly(text, send, submit);
  text.addEventListener('input', () => {
    m.setDraft(c.userId, text.value);
    m.convo.typing(c, text.value.length > 0);
  });
  const header = h('header.chat-head', null, ...chatHeader(c));
  const banner = h('div.banner.warn', { role: 'alert', 'data-testid': 'key-banner', hidden: !c.keyChanged }, ...keyBanner(c));
  ui.paneEl.replaceChildren(header, banner, list, composer);
  ui.chatState = { peer: c.userId, list, els, header, banner, composer, text, send, stick: true };
  // Follow new messages only while the reader is at the end of the list.
  list.addEventListener('scroll', () => {
    if (ui.chatState && !scrollPending) ui.chatState.stick = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }, { passive: true });
  applyKeyState(c);
  list.scrollTop = list.scrollHeight;
  void m.markRead(c);
  // A direct channel while both have the chat open (after the lookup: only engaged
  // contacts get one, and a message request is engaged by opening it).
  void m.checkContact(c).then(() => c.keyChanged || m.account.connectDirect(c.username));
  if (matchMedia('(min-width: 720px)').matches) {
    text.focus();
    return true;
  }
  return false;
}

function applyKeyState(c: Contact) {
  if (!ui.chatState) return;
  ui.chatState.text.disabled = ui.chatState.send.disabled = !!c.keyChanged;
  // Rebuilt only when what they show changed, so focus on their links stays put.
  const sig = `${c.keyChanged ? 'k' : ''}${c.verified ? 'v' : ''}n${c.name ?? ''}${ui.model?.direct.has(c.userId) ? 'd' : ''}t${c.timer?.secs ?? 0}`;
  if (ui.chatState.header.dataset.sig === sig) return;
  ui.chatState.header.dataset.sig = sig;
  ui.chatState.banner.hidden = !c.keyChanged;
  ui.chatState.banner.replaceChildren(...keyBanner(c));
  ui.chatState.header.replaceChildren(...chatHeader(c));
}

export function renderChatUpdate(msg?: Msg, oldId?: string) {
  const m = ui.model;
  if (!m) return;
  const peer = currentPeer();
  if (!peer) return;
  const c = m.contacts.get(peer);
  if (!c) return;
  if (!ui.chatState || ui.chatState.peer !== peer) {
    if (location.hash.startsWith('#/contact/')) refreshContact(c);
    return;
  }
  applyKeyState(c);
  if (!msg) return;
  let el = ui.chatState.els.get(msg.id);
  if (!el && oldId && ui.chatState.els.has(oldId)) {
    // An outgoing message is re-keyed from its local id to its wire id once sealed.
    el = ui.chatState.els.get(oldId)!;
    ui.chatState.els.delete(oldId);
  }
  if (el) {
    // Rebuilt: an edit, deletion, reaction or read receipt changes more than the state.
    const fresh = msgEl(msg, displayName(c));
    el.replaceWith(fresh);
    ui.chatState.els.set(msg.id, fresh);
  } else {
    el = msgEl(msg, displayName(c));
    ui.chatState.els.set(msg.id, el);
    // Usually the newest; one its writer sent before others already shown goes before them.
    const list = m.messages.get(peer) ?? [];
    const next = list[list.length - 1] === msg ? undefined : list.slice(list.indexOf(msg) + 1).map((x) => ui.chatState!.els.get(x.id)).find((x) => x);
    if (next) next.before(el);
    else appendMsg(ui.chatState.list, el);
    if (ui.chatState.stick || msg.dir === 'out') scrollToEnd();
  }
  if (msg.dir === 'in' && document.visibilityState === 'visible') void m.markRead(c);
}

/** A message left this device (deleted for me, or disappeared). */
export function removeFromChat(id: string) {
  forgetOpened(id);
  const el = ui.chatState?.els.get(id);
  if (el) removeMsg(el);
  ui.chatState?.els.delete(id);
}

/** The typing line of the open chat changed. */
export function renderTyping(until: number) {
  const el = ui.chatState?.header.querySelector('[data-testid=typing]') as HTMLElement | null;
  if (!el) return;
  el.hidden = until <= Date.now();
  if (!el.hidden) setTimeout(() => (el.hidden = (ui.model?.typingUntil.get(ui.chatState?.peer ?? '') ?? 0) <= Date.now()), until - Date.now() + 50);
}

document.addEventListener('visibilitychange', () => {
  const p = currentPeer();
  const c = p && ui.model?.contacts.get(p);
  if (c && document.visibilityState === 'visible' && location.hash.startsWith('#/chat/')) void ui.model!.markRead(c);
});
