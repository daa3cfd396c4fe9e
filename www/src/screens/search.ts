// Search in the history: over the messages this device opened at unlock (they are sealed
// in IndexedDB, so the only plaintext index is this page's memory; nothing is written).

import type { Msg } from '../records';
import { displayName } from '../records';
import { timeEl, ui } from '../ui';
import { h } from '../util';

/** Most results shown. */
const MAX_RESULTS = 100;

/** The query typed in the sidebar ('' when not searching). */
export let query = '';
/** A message to scroll to once its chat opens (a result was chosen). */
let jumpTo: string | null = null;

/** The sidebar's search field; `changed` re-renders the list. */
export function searchBox(changed: () => void): HTMLElement {
  const input = h('input', {
    type: 'search',
    placeholder: 'Search messages',
    'aria-label': 'Search messages',
    autocomplete: 'off',
    'data-testid': 'search',
    oninput: () => {
      query = input.value.trim();
      changed();
    },
  }) as HTMLInputElement;
  return h('div.search', null, input);
}

/** Messages whose text contains the query (case-insensitive), newest first. */
export function matches(q: string): Msg[] {
  const needle = q.toLocaleLowerCase();
  const out: Msg[] = [];
  for (const list of ui.model?.messages.values() ?? []) {
    for (const m of list) if (!m.notice && !m.deleted && m.text.toLocaleLowerCase().includes(needle)) out.push(m);
  }
  return out.sort((a, b) => b.at - a.at).slice(0, MAX_RESULTS);
}

/** The result items of the sidebar list. */
export function resultItems(): HTMLElement[] {
  const found = matches(query);
  if (!found.length) return [h('li.empty', { 'data-testid': 'search-none' }, `No messages contain “${query}”.`)];
  return found.map((m) => {
    const c = ui.model?.contacts.get(m.peer);
    const name = c ? displayName(c) : '';
    return h(
      'li',
      null,
      h(
        'a.conv',
        {
          href: `#/chat/${m.peer}`,
          'data-testid': 'search-result',
          onclick: () => {
            jumpTo = m.id;
            // The chat is already open: no route change will come.
            if (location.hash === `#/chat/${m.peer}`) queueMicrotask(jumpToResult);
          },
        },
        h('span.conv-main', null, h('span.conv-name', null, name, ' ', timeEl(m.at)), h('span.conv-last', null, m.dir === 'out' ? 'You: ' : '', h('bdi', { dir: 'auto' }, m.text.slice(0, 200)))),
      ),
    );
  });
}

/** After a chat opened: scrolls to the chosen result and marks it. */
export function jumpToResult() {
  if (!jumpTo || !ui.chatState) return;
  const el = ui.chatState.els.get(jumpTo);
  jumpTo = null;
  if (!el) return;
  el.classList.add('hit');
  el.scrollIntoView({ block: 'center' });
  ui.chatState.stick = false;
}
