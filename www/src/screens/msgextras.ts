// What conversation content adds to a message in the list (PROTOCOL.md 28): the quoted
// message of a reply, "edited", "deleted", reactions, "Read", and the actions menu
// (reply, react, edit, delete for me or for everyone), plus the chat header's
// disappearing-time picker and typing line.

import type { Contact, Msg } from '../records';
import { displayName } from '../records';
import { TIMER_CHOICES } from '../convo';
import { friendly } from '../errors';
import { toast, ui } from '../ui';
import { h } from '../util';

/** The reactions offered (any emoji received is shown). */
const REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'];
/** Edits and deletions for everyone within this long (PROTOCOL.md 28.3). */
const AMEND_WINDOW_MS = 24 * 3600 * 1000;

/** What the composer is doing: a reply to, or an edit of, a message. */
export const composing: { replyTo?: Msg; editing?: Msg; changed?: () => void } = {};

/** The quote above a reply's text. */
export function quoteEl(msg: Msg): HTMLElement | null {
  if (!msg.replyTo) return null;
  const target = ui.model?.byMsgId(msg.replyTo);
  const text = !target ? 'Original message not found' : target.deleted ? 'This message was deleted' : excerpt(target);
  return h('blockquote.quote', { 'data-testid': 'quote' }, text);
}

const cut = (t: string) => (t.length > 80 ? `${t.slice(0, 80)}…` : t);
/** What a quote shows of a message: its text, or a file's name. */
const excerpt = (m: Msg) => (m.file ? `📎 ${cut(m.file.name)}` : cut(m.text));

/** Reactions under a message, one chip per emoji with its count. */
export function reactionsEl(msg: Msg): HTMLElement | null {
  const counts = new Map<string, number>();
  for (const r of Object.values(msg.reactions ?? {})) if (r.emoji) counts.set(r.emoji, (counts.get(r.emoji) ?? 0) + 1);
  if (!counts.size) return null;
  return h(
    'span.reactions',
    { 'data-testid': 'reactions' },
    ...[...counts].map(([e, n]) => h('span.reaction', { title: `${n} reaction${n === 1 ? '' : 's'}` }, n > 1 ? `${e} ${n}` : e)),
  );
}

/** The message whose menu is open: kept across re-renders (a receipt rebuilds the element). */
let openMenu: string | null = null;

/** The "⋯" button and its menu. */
export function actionsEl(msg: Msg, c: Contact): HTMLElement {
  const menu = h('div.menu', { role: 'menu', hidden: openMenu !== msg.id, 'data-testid': 'msg-menu' });
  const close = () => {
    menu.hidden = true;
    openMenu = null;
  };
  const act = (label: string, testid: string, fn: () => Promise<unknown> | void) =>
    h('button', {
      type: 'button',
      role: 'menuitem',
      'data-testid': testid,
      onclick: async () => {
        close();
        try {
          await fn();
        } catch (e) {
          toast(`Could not ${label.toLowerCase()}: ${friendly(e)}`);
        }
      },
    }, label);
  const m = ui.model!;
  const mine = msg.dir === 'out';
  const recent = Date.now() - (msg.sentAt ? msg.sentAt * 1000 : msg.at) <= AMEND_WINDOW_MS;
  const sent = !mine || !!msg.wireId || !!msg.otherDevice;
  menu.append(
    h('div.react-row', null, ...REACTIONS.map((e) => h('button', { type: 'button', role: 'menuitem', 'aria-label': `React ${e}`, 'data-testid': `react-${e}`, onclick: () => (close(), void m.convo.react(c, msg, e).catch((err) => toast(`Could not react: ${friendly(err)}`))) }, e))),
    act('Reply', 'reply', () => {
      composing.replyTo = msg;
      composing.editing = undefined;
      composing.changed?.();
    }),
  );
  if (mine && sent && recent && !msg.deleted) {
    menu.append(
      // A file message is not text: nothing to edit (PROTOCOL.md 28.3).
      msg.file ? '' : act('Edit', 'edit', () => {
        composing.editing = msg;
        composing.replyTo = undefined;
        composing.changed?.();
      }),
      act('Delete for everyone', 'delete-everyone', () => (confirm('Delete this message for everyone?') ? m.convo.deleteForEveryone(c, msg) : undefined)),
    );
  }
  menu.append(act('Delete for me', 'delete-me', () => (confirm('Delete this message from this device?') ? m.removeMsg(msg) : undefined)));
  const button = h('button.link.more', {
    type: 'button',
    'aria-label': 'Message actions',
    'aria-haspopup': 'menu',
    'data-testid': 'msg-actions',
    onclick: () => {
      menu.hidden = !menu.hidden;
      openMenu = menu.hidden ? null : msg.id;
    },
  }, '⋯');
  return h('span.actions', null, button, menu);
}

/** The bar above the composer while replying or editing, with a cancel button. */
export function composingBar(): HTMLElement | null {
  const target = composing.editing ?? composing.replyTo;
  if (!target) return null;
  const label = composing.editing ? 'Editing' : 'Replying to';
  return h(
    'div.composing',
    { 'data-testid': 'composing' },
    h('span', null, `${label}: `, h('em', null, excerpt(target))),
    h('button.link', {
      type: 'button',
      'aria-label': `Cancel ${label.toLowerCase()}`,
      onclick: () => {
        composing.replyTo = composing.editing = undefined;
        composing.changed?.();
      },
    }, '×'),
  );
}

/** The disappearing-time picker of a chat header. */
export function timerEl(c: Contact): HTMLElement {
  const select = h(
    'select',
    {
      'aria-label': 'Disappearing messages',
      'data-testid': 'timer',
      onchange: async () => {
        const secs = Number(select.value);
        try {
          await ui.model!.convo.setTimer(c, secs);
        } catch (e) {
          toast(`Could not change disappearing messages: ${friendly(e)}`);
          select.value = String(c.timer?.secs ?? 0);
        }
      },
    },
    ...TIMER_CHOICES.map(([s, label]) => h('option', { value: String(s) }, s ? `⏱ ${label}` : 'Disappearing: off')),
  ) as HTMLSelectElement;
  select.value = String(c.timer?.secs ?? 0);
  return select;
}

/** "typing…" under the chat title while the contact types (opt-in on their side). */
export function typingEl(c: Contact): HTMLElement {
  const until = ui.model?.typingUntil.get(c.userId) ?? 0;
  return h('span.typing', { 'data-testid': 'typing', 'aria-live': 'polite', hidden: until <= Date.now() }, `${displayName(c)} is typing…`);
}

