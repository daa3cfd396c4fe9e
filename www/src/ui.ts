// What every screen shares: the app's root, the toast, error wording, the protection
// badge, and the state the screens hand to one another (the open account's model, the
// open chat, the panes of the main screen).

import type { Model } from './model';
import type { Contact } from './records';
import { fmtTime, h } from './util';

export const app = document.getElementById('app')!;
const toastEl = document.getElementById('toast')!;

/** The open chat's elements (see screens/chat.ts). */
export interface ChatState {
  peer: string;
  list: HTMLElement;
  els: Map<string, HTMLElement>;
  header: HTMLElement;
  banner: HTMLElement;
  composer: HTMLFormElement;
  text: HTMLTextAreaElement;
  send: HTMLButtonElement;
  stick: boolean;
}

/** State the screens share (one account open per tab). */
export const ui = {
  /** The open account's contacts and messages; null until unlocked. */
  model: null as Model | null,
  /** Whether this browser may evict the stored data (shown in Account). */
  storageNote: '',
  /** The open chat, when the pane shows one. */
  chatState: null as ChatState | null,
  /** The main screen's right pane (set by renderShell). */
  paneEl: undefined as unknown as HTMLElement,
};

export function toast(text: string) {
  toastEl.textContent = text;
  toastEl.classList.add('show');
  clearTimeout((toast as unknown as { t?: number }).t);
  (toast as unknown as { t?: number }).t = window.setTimeout(() => toastEl.classList.remove('show'), 4000);
}

/** "New version available — Reload", once (this page runs older code than the server has). */
export function showUpdateNotice() {
  if (document.querySelector('[data-testid=update-notice]')) return;
  // Filled after it is in the page, so screen readers announce it.
  const notice = h('div.update-notice', { role: 'status', 'data-testid': 'update-notice' });
  document.body.append(notice);
  setTimeout(() => notice.append('New version available — ', h('button.link', { type: 'button', onclick: () => location.reload() }, 'Reload')), 100);
}

export function setScreen(name: string, ...children: Node[]) {
  app.dataset.screen = name;
  app.replaceChildren(...children);
}

/** The protection badge: always visible, plain words. */
export function badge(c: Contact | null): HTMLElement {
  if (!c) return h('span.badge.enc', { 'data-testid': 'badge' }, h('span.dot', { 'aria-hidden': 'true' }), 'Encrypted');
  if (c.keyChanged)
    return h('span.badge.changed', { 'data-testid': 'badge', title: 'Their key changed: check their safety number before you continue.' }, h('span.dot', { 'aria-hidden': 'true' }), 'Key changed');
  if (c.verified)
    return h('span.badge.verified', { 'data-testid': 'badge', title: 'Encrypted end to end, and you checked their safety number.' }, h('span.dot', { 'aria-hidden': 'true' }), 'Encrypted · Verified');
  return h('span.badge.unverified', { 'data-testid': 'badge', title: 'Encrypted end to end. Compare safety numbers to be sure who you talk to.' }, h('span.dot', { 'aria-hidden': 'true' }), 'Encrypted · Not verified');
}

/** Moves focus to the heading of the screen just shown (a route change), for screen readers and keyboards. */
export function focusHeading(root: ParentNode) {
  root.querySelector<HTMLElement>('h2[tabindex="-1"]')?.focus({ preventScroll: true });
}

export const timeEl = (ms: number) => h('time', { datetime: new Date(ms).toISOString() }, fmtTime(ms));
