// A conversation's message list, in chunks of CHUNK messages. One flat list of every
// message cost each new message O(history) in the browser: layout of the whole flex
// column, then pre-paint and paint walked every row (Chromium's trace, thread CPU time
// per message at 1,000 rows: 5.8 ms layout, 5.3 ms pre-paint, 3.1 ms paint, against
// 1.0, 0.5 and 1.4 ms at 100), on both the sender's and the recipient's page. Each chunk
// is a list of its own with `content-visibility: auto` (style.css), so the browser skips
// the chunks out of view, and the last one, where new messages go, is always laid out:
// a new message costs about the same at any chat length. Every message stays in the
// document (find in page, scrollIntoView, tests, screen readers).

import { h } from '../util';

/** Messages per chunk. */
export const CHUNK = 50;

/** The scrolling list (`label`: what a screen reader calls it). */
export function messageList(label: string, testid = 'messages'): HTMLElement {
  return h('div.messages', { role: 'group', 'aria-label': label, 'data-testid': testid, tabIndex: 0 });
}

/** Adds `el` after every message in `list` (a new chunk when the last one is full). */
export function appendMsg(list: HTMLElement, el: HTMLElement): void {
  let chunk = list.lastElementChild;
  if (!chunk || chunk.childElementCount >= CHUNK) list.append((chunk = h('ol.chunk')));
  chunk.append(el);
}

/** Removes a message's element, and its chunk when that is left empty. */
export function removeMsg(el: HTMLElement): void {
  const chunk = el.parentElement;
  el.remove();
  if (chunk?.classList.contains('chunk') && chunk.childElementCount === 0) chunk.remove();
}
