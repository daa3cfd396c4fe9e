// Contacts: the sidebar's list of everyone this account talks to, by the name the user
// gave them (or their username), with where each safety number stands, and the form that
// names a contact (on its safety-number screen). Names are the user's own: kept sealed
// with the other records, never sent to the contact.

import type { Contact } from '../records';
import { MAX_NAME, displayName } from '../records';
import { friendly } from '../errors';
import { toast, ui } from '../ui';
import { h } from '../util';

/** What the sidebar lists: conversations (by activity) or contacts (by name). */
export let sideView: 'chats' | 'contacts' = 'chats';

/** The "Chats | Contacts" switch above the list; `changed` re-renders it. */
export function viewSwitch(changed: () => void): HTMLElement {
  const btn = (view: typeof sideView, label: string) =>
    h('button.view', {
      type: 'button',
      'aria-pressed': String(sideView === view),
      'data-testid': `view-${view}`,
      onclick: (ev: Event) => {
        sideView = view;
        for (const b of (ev.currentTarget as HTMLElement).parentElement!.children) b.setAttribute('aria-pressed', String(b === ev.currentTarget));
        changed();
      },
    }, label);
  return h('div.view-switch', { role: 'group', 'aria-label': 'Show' }, btn('chats', 'Chats'), btn('contacts', 'Contacts'));
}

/** Where a contact's safety number stands, in words and as a data attribute for tests. */
export function verifyState(c: Contact): { key: 'changed' | 'verified' | 'unverified'; text: string } {
  if (c.keyChanged) return { key: 'changed', text: 'Key changed' };
  return c.verified ? { key: 'verified', text: 'Verified' } : { key: 'unverified', text: 'Not verified' };
}

/** The contact list items: by name, each with its username and verification state. */
export function contactItems(): HTMLElement[] {
  const m = ui.model;
  if (!m) return [];
  const all = [...m.contacts.values()].sort((a, b) => displayName(a).localeCompare(displayName(b)) || a.username.localeCompare(b.username));
  if (!all.length) return [h('li.empty', null, 'No contacts yet. Type a username above.')];
  return all.map((c) => {
    const v = verifyState(c);
    return h(
      'li',
      null,
      h(
        'a.conv',
        { href: `#/contact/${c.userId}`, 'data-testid': `contact-${c.username}`, 'data-peer': c.userId, 'data-verify': v.key },
        h('span.avatar', { 'aria-hidden': 'true' }, displayName(c).slice(0, 1).toUpperCase()),
        h(
          'span.conv-main',
          null,
          h('span.conv-name', null, h('bdi', null, displayName(c))),
          h('span.conv-last', null, `@${c.username} · `, h('span', { class: `mini ${v.key}` }, v.text)),
        ),
      ),
    );
  });
}

/** The form that names `c` (on its safety-number screen). */
export function nameForm(c: Contact): HTMLElement {
  const input = h('input#contact-name', {
    value: c.name ?? '',
    maxLength: MAX_NAME,
    autocomplete: 'off',
    placeholder: c.username,
    'data-testid': 'contact-name',
  }) as HTMLInputElement;
  const save = async (ev: Event) => {
    ev.preventDefault();
    try {
      await ui.model!.rename(c, input.value);
    } catch (e) {
      return toast(`Could not save the name: ${friendly(e)}`);
    }
    input.value = c.name ?? '';
    toast(c.name ? `Saved: ${c.username} shows as “${c.name}”.` : `Name removed: ${c.username} shows by their username.`);
  };
  return h(
    'form.name-form',
    { onsubmit: save, 'data-testid': 'name-form' },
    h('label', { for: 'contact-name' }, 'Your name for this contact'),
    h('div.row', null, input, h('button', { type: 'submit', 'data-testid': 'contact-name-save' }, 'Save')),
    h('p.hint', null, `Only you see it: it stays on this device (and goes along when you link a new device from here or export your account); ${c.username} is not told. Leave it empty to show their username.`),
  );
}
