// Search in the history: over the messages of one-to-one chats and groups this device
// opened at unlock (they are sealed in IndexedDB, so the only plaintext index is this
// page's memory; nothing is written).

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

/** A message found, and whether it is in a group (then `peer` is the group's id). */
interface Found {
  m: Msg;
  group: boolean;
}

/** Messages of chats and groups whose text contains the query (case-insensitive), newest first. */
export function matches(q: string): Found[] {
  const needle = q.toLocaleLowerCase();
  const out: Found[] = [];
  const scan = (lists: Iterable<Msg[]>, group: boolean) => {
    for (const list of lists) {
      for (const m of list) if (!m.notice && !m.deleted && m.text.toLocaleLowerCase().includes(needle)) out.push({ m, group });
    }
  };
  scan(ui.model?.messages.values() ?? [], false);
  scan(ui.model?.groups.messages.values() ?? [], true);
  return out.sort((a, b) => b.m.at - a.m.at).slice(0, MAX_RESULTS);
}

/** Who a result is from, as shown in the list. */
function resultName({ m, group }: Found): string {
  const model = ui.model;
  if (!model) return '';
  if (group) return m.dir === 'out' ? `${model.groups.name(m.peer)} · You` : `${model.groups.name(m.peer)} · ${model.groups.memberName(m.peer, m.from ?? '')}`;
  const c = model.contacts.get(m.peer);
  return c ? displayName(c) : '';
}

/** The result items of the sidebar list. */
export function resultItems(): HTMLElement[] {
  const found = matches(query);
  if (!found.length) return [h('li.empty', { 'data-testid': 'search-none' }, `No messages contain “${query}”.`)];
  return found.map((f) => {
    const { m } = f;
    const href = f.group ? `#/group/${m.peer}` : `#/chat/${m.peer}`;
    return h(
      'li',
      null,
      h(
        'a.conv',
        {
          href,
          'data-key': m.id,
          'data-testid': 'search-result',
          onclick: () => {
            jumpTo = m.id;
            // The conversation is already open: no route change will come, so show it again.
            if (location.hash === href) queueMicrotask(() => dispatchEvent(new HashChangeEvent('hashchange')));
          },
        },
        h('span.conv-main', null, h('span.conv-name', null, resultName(f), ' ', timeEl(m.at)), h('span.conv-last', null, m.dir === 'out' ? 'You: ' : '', h('bdi', { dir: 'auto' }, m.text.slice(0, 200)))),
      ),
    );
  });
}

/** After a chat or group opened (`els`: its message elements by id): scrolls to the chosen result and marks it. */
export function jumpToResult(els = ui.chatState?.els) {
  if (!jumpTo || !els) return;
  const el = els.get(jumpTo);
  jumpTo = null;
  if (!el) return;
  el.classList.add('hit');
  el.scrollIntoView({ block: 'center' });
  if (ui.chatState) ui.chatState.stick = false;
}
