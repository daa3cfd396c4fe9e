// Search in the history, from the sidebar: the messages of one-to-one chats and groups
// whose words start with the query's words, newest first (the index, sealed at rest:
// historysearch.ts).

import type { Found } from '../historysearch';
import { displayName } from '../records';
import { timeEl, ui } from '../ui';
import { h } from '../util';

/** The query typed in the sidebar ('' when not searching). */
export let query = '';
/** A message to scroll to once its chat opens (a result was chosen). */
let jumpTo: string | null = null;

/** Re-renders the list (searchBox's `changed`). */
let rerender = () => {};

/** The sidebar's search field; `changed` re-renders the list. */
export function searchBox(changed: () => void): HTMLElement {
  rerender = changed;
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
  const search = ui.model?.search;
  const found = search ? search.find(query) : [];
  if (!found) {
    // The index is opening (right after unlock): the list again once it can answer.
    void search!.ready().then((ok) => ok && query && rerender());
    return [h('li.empty', { 'data-testid': 'search-wait' }, 'Searching…')];
  }
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
