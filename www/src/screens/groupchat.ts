// Group screens: a new group (name, members picked from the contacts), a group's
// conversation (sender names with a colour each, system lines, "Delivered to N of M
// members"), and its members (verification state, the safety number of each; admins add,
// remove, promote, demote and rename; anyone leaves). About 3 KiB gzip: in the start-up
// bundle (a lazily loaded chunk must not import the app's modules).

import type { Msg } from '../records';
import { COLOURS } from '../groups';
import { focusHeading, timeEl, toast, ui } from '../ui';
import { friendly } from '../errors';
import { h } from '../util';
import { messageLimit } from './limit';
import { fileBox, fileControls, retryFile } from './files';
import { jumpToResult } from './search';
import { appendMsg, messageList } from './msglist';
import { sendDirectly, submitDirectly } from './composer';

let unsubscribe: (() => void) | null = null;

/** Stops following the group that was on screen (another screen is shown). */
export function leaveGroupScreen() {
  unsubscribe?.();
  unsubscribe = null;
  if (ui.model) ui.model.groups.active = null;
}

/** A member's colour in `group` (decorative: the name is written out too), through the CSSOM (the CSP allows no style attributes). */
function paint(el: HTMLElement, group: string, userId: string) {
  el.style.setProperty('--member', `hsl(${(ui.model!.groups.colour(group, userId) * 360) / COLOURS} 65% 45%)`);
}

function stateText(m: Msg): string {
  if (m.state === 'failed') return 'Not sent';
  if (m.state === 'sending') return 'Sending…';
  if (m.otherDevice) return 'Sent from another device';
  const d = m.delivery;
  if (!d) return 'On relay';
  if (d.total === 0) return 'Sent';
  return d.delivered >= d.total ? `Delivered to all ${d.total} members` : `Delivered to ${d.delivered} of ${d.total} members`;
}

function msgEl(group: string, m: Msg): HTMLElement {
  const g = ui.model!.groups;
  if (m.notice) {
    return h('li.notice', { 'data-id': m.id, 'data-testid': 'notice', 'data-kind': m.notice, class: m.notice === 'security' ? 'warn' : undefined }, m.notice === 'security' ? h('span.notice-icon', { 'aria-hidden': 'true' }, '⚠ ') : null, h('span', null, m.text), ' ', timeEl(m.at));
  }
  const name = m.dir === 'out' ? 'You' : g.memberName(group, m.from ?? '');
  const again = () => (m.file ? retryFile(m) : void g.send(group, m.text, m));
  const retry = m.state === 'failed' && m.dir === 'out' && !m.otherDevice ? h('button.link.retry', { type: 'button', onclick: again }, 'Retry') : null;
  const el = h(
    'li.msg',
    { 'data-id': m.id, 'data-testid': 'msg', class: `${m.dir} ${m.state} grp` },
    h('span.sender', { 'data-testid': 'sender' }, name, h('span.sr-only', null, ':')),
    m.file ? fileBox(m) : h('p.text', { dir: 'auto' }, m.text),
    h('span.meta', null, timeEl(m.sentAt && m.dir === 'in' ? m.sentAt * 1000 : m.at), ' ', m.dir === 'out' ? h('span.state', { 'data-testid': 'msg-state', title: m.error ?? '' }, stateText(m)) : null),
    retry,
  );
  if (m.dir === 'in') paint(el, group, m.from ?? '');
  return el;
}

function header(group: string, ...extra: (Node | string)[]): HTMLElement {
  const g = ui.model!.groups;
  const members = g.infos.get(group)?.members.length ?? 0;
  return h(
    'header.chat-head',
    null,
    h('a.back', { href: '#/', 'aria-label': 'Back to chats' }, '‹'),
    h('h2.chat-title', { tabIndex: -1, 'data-testid': 'group-title' }, g.name(group)),
    h('span.mini', null, g.infos.has(group) ? `${members} members` : 'You are not in this group'),
    ...extra,
  );
}

/** A group's conversation; true when the compose box took focus (desktop). */
export function showGroup(group: string): boolean {
  leaveGroupScreen();
  const m = ui.model!;
  const g = m.groups;
  g.active = group;
  const list = messageList(`Messages in ${g.name(group)}`);
  const els = new Map<string, HTMLElement>();
  const put = (msg: Msg) => {
    const el = msgEl(group, msg);
    const old = els.get(msg.id);
    if (old) old.replaceWith(el);
    else appendMsg(list, el);
    els.set(msg.id, el);
  };
  for (const msg of g.messages.get(group) ?? []) put(msg);
  const text = h('textarea#compose', { rows: 1, placeholder: 'Message', 'aria-label': `Message to ${g.name(group)}`, 'data-testid': 'compose' });
  const limit = messageLimit(text);
  const send = h('button.primary', { type: 'submit', 'data-testid': 'send' }, 'Send');
  const member = g.infos.has(group);
  const files = fileControls({ group }, ui.paneEl);
  const inputs = [text, send, ...files.slice(1)] as (HTMLTextAreaElement | HTMLButtonElement)[];
  const enable = (on: boolean) => inputs.forEach((x) => (x.disabled = !on));
  enable(member);
  const submit = () => {
    const v = text.value.trimEnd();
    if (!v.trim() || !limit.fits() || !g.infos.has(group)) return;
    text.value = '';
    limit.update();
    void g.send(group, v);
  };
  const composer = h(
    'form.composer',
    { onsubmit: submitDirectly(submit) },
    limit.el,
    ...files,
    text,
    send,
  );
  sendDirectly(text, send, submit);
  const top = () => header(group, h('a.button', { href: `#/group/${group}/members`, 'data-testid': 'group-members-link' }, 'Members'));
  let head = top();
  const redrawHead = () => {
    const next = top();
    head.replaceWith(next);
    head = next;
    enable(g.infos.has(group));
  };
  ui.paneEl.replaceChildren(head, list, composer);
  ui.chatState = null;
  unsubscribe = m.on((w) => {
    if (w.peer !== group || location.hash !== `#/group/${group}`) return;
    if (!w.msg) {
      // The members were read again (groups.ts refresh), e.g. after a reload drew this
      // before the package answered: names, colours and the header drawn again.
      for (const msg of g.messages.get(group) ?? []) if (msg.dir === 'in' && !msg.notice) put(msg);
      return redrawHead();
    }
    put(w.msg);
    if (w.msg.notice) redrawHead();
    list.scrollTop = list.scrollHeight;
    if (document.visibilityState === 'visible') void g.markRead(group);
  });
  list.scrollTop = list.scrollHeight;
  jumpToResult(els);
  void g.markRead(group);
  if (matchMedia('(min-width: 720px)').matches && member) {
    text.focus();
    return true;
  }
  focusHeading(ui.paneEl);
  return false;
}

/** Runs a change, reporting a refusal in words (the package's stable codes). */
async function act(what: () => Promise<unknown>, done?: string) {
  try {
    await what();
    if (done) toast(done);
  } catch (e) {
    toast(`Could not change the group: ${friendly(e)}`);
  }
}

/** The members: verification state, and what this user may change. */
export function showGroupMembers(group: string) {
  leaveGroupScreen();
  const m = ui.model!;
  const g = m.groups;
  let drawn = false;
  const render = () => {
    const info = g.infos.get(group);
    drawn = !!info;
    const admin = g.isAdmin(group);
    const me = m.account.userId;
    const rows = (info?.members ?? []).map((mem) => {
      const c = m.contacts.get(mem.userId);
      const name = g.memberName(group, mem.userId);
      const state = mem.userId === me ? 'You' : c?.keyChanged ? 'Key changed' : c && c.fingerprint !== mem.fingerprint ? 'Key differs from the admin’s' : c?.verified ? 'Verified' : 'Not verified';
      const uname = c?.username ?? mem.username;
      // A member who is not a contact yet becomes one to be verified, as anyone is.
      const safety = { 'data-testid': 'member-safety', 'aria-label': `Safety number with ${name}` };
      return h(
        'li.member',
        { 'data-testid': `member-${uname ?? mem.userId}` },
        h('span.member-name', null, name, mem.admin ? h('span.mini', null, ' Admin') : null),
        ' ',
        h('span.mini', { 'data-testid': 'member-state' }, state),
        mem.userId === me
          ? null
          : c
            ? h('a.button', { href: `#/contact/${c.userId}`, ...safety }, 'Safety number')
            : uname
              ? h('button', { type: 'button', ...safety, onclick: () => act(async () => (location.hash = `#/contact/${(await m.addContact(uname)).userId}`)) }, 'Safety number')
              : null,
        admin && uname && mem.userId !== me
          ? h(
              'span.member-actions',
              null,
              mem.admin
                ? h('button', { type: 'button', 'data-testid': 'demote', onclick: () => act(() => g.change(group, { kind: 'demote', username: uname }), `${name} is no longer an admin.`) }, 'Remove admin')
                : h('button', { type: 'button', 'data-testid': 'promote', onclick: () => act(() => g.change(group, { kind: 'promote', username: uname }), `${name} is an admin.`) }, 'Make admin'),
              h('button.warn', { type: 'button', 'data-testid': 'remove-member', onclick: () => act(() => g.change(group, { kind: 'remove', usernames: [uname] }), `${name} was removed.`) }, 'Remove'),
            )
          : null,
      );
    });
    const pane: (Node | string)[] = [header(group, h('a.button', { href: `#/group/${group}` }, 'Back to the group'))];
    if (!info) {
      pane.push(h('p.hint', null, 'You are not in this group any more.'));
      ui.paneEl.replaceChildren(...pane);
      return;
    }
    pane.push(h('h3', null, 'Members'), h('ul.members', { 'data-testid': 'members' }, ...rows));
    if (admin) {
      const inGroup = new Set(info.members.map((x) => x.userId));
      const candidates = m.sortedContacts().filter((c) => !inGroup.has(c.userId));
      const pick = h('select#add-member', { 'data-testid': 'add-member' }, ...candidates.map((c) => h('option', { value: c.username }, c.username)));
      pane.push(
        h(
          'form.row',
          { onsubmit: (ev: Event) => (ev.preventDefault(), pick.value && act(() => g.change(group, { kind: 'add', usernames: [pick.value] }), `${pick.value} was added.`)) },
          h('label', { for: 'add-member' }, 'Add a contact'),
          pick,
          h('button', { type: 'submit', 'data-testid': 'add-member-submit', disabled: candidates.length === 0 }, 'Add'),
        ),
      );
      const rename = h('input#group-name', { value: info.name, maxlength: 128, required: true, 'data-testid': 'group-rename' });
      pane.push(
        h(
          'form.row',
          { onsubmit: (ev: Event) => (ev.preventDefault(), act(() => g.change(group, { kind: 'rename', name: rename.value.trim() }), 'Renamed.')) },
          h('label', { for: 'group-name' }, 'Name'),
          rename,
          h('button', { type: 'submit', 'data-testid': 'group-rename-submit' }, 'Rename'),
        ),
      );
    }
    pane.push(
      h('button.warn', {
        type: 'button',
        'data-testid': 'leave-group',
        onclick: () => {
          if (confirm(`Leave “${info.name}”? You will not get its messages any more.`)) void act(() => g.change(group, { kind: 'leave' }), 'You left the group.');
        },
      }, 'Leave group'),
    );
    ui.paneEl.replaceChildren(...pane);
  };
  render();
  focusHeading(ui.paneEl);
  unsubscribe = m.on((w) => {
    if (location.hash !== `#/group/${group}/members`) return;
    // A change, or the members known at last (a reload drew this before the package answered).
    if ((w.peer === group && w.msg?.notice) || (!drawn && g.infos.has(group))) render();
  });
}

/** A new group: a name and members picked from the contacts. */
export function showNewGroup() {
  leaveGroupScreen();
  const m = ui.model!;
  const contacts = m.sortedContacts().filter((c) => !c.keyChanged);
  const name = h('input#new-group-name', { required: true, maxlength: 128, autocomplete: 'off', 'data-testid': 'new-group-name' });
  const boxes = contacts.map((c) => h('input', { type: 'checkbox', value: c.username, id: `pick-${c.userId}`, 'data-testid': `pick-${c.username}` }));
  const err = h('p.error', { role: 'alert', 'data-testid': 'new-group-error' });
  const create = h('button.primary', { type: 'submit', 'data-testid': 'new-group-submit' }, 'Create group');
  const form = h(
    'form.card',
    {
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const members = boxes.filter((b) => b.checked).map((b) => b.value);
        if (!members.length) return void (err.textContent = 'Pick at least one contact.');
        create.disabled = true;
        err.textContent = '';
        try {
          const id = await m.groups.create(name.value.trim(), members);
          location.hash = `#/group/${id}`;
        } catch (e) {
          err.textContent = friendly(e);
        } finally {
          create.disabled = false;
        }
      },
    },
    h('label', { for: 'new-group-name' }, 'Group name'),
    name,
    h('fieldset', null, h('legend', null, 'Members'), ...(contacts.length ? contacts.map((c, i) => h('div.row', null, boxes[i], h('label', { for: `pick-${c.userId}` }, c.username))) : [h('p.hint', null, 'Start a chat with someone first: groups are made of your contacts.')])),
    err,
    create,
  );
  ui.paneEl.replaceChildren(h('header.chat-head', null, h('a.back', { href: '#/', 'aria-label': 'Back to chats' }, '‹'), h('h2.chat-title', { tabIndex: -1 }, 'New group')), form);
  focusHeading(ui.paneEl);
}
