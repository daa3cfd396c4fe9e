// Conversation content (docs/PROTOCOL.md 28) applied to the stored history: edits,
// deletions for everyone, reactions, read receipts, typing and the disappearing timer.
// What may be applied is the package's decision (checkAmendment/readApplies, run in the
// worker); this file only stores and shows it. An amendment whose message has not
// arrived yet is held (sealed in IndexedDB, at most 256 per conversation: held.ts) and
// applied when it does.

import type { Account, Amend, Incoming } from './backend/types';
import { AppError } from './backend/types';
import type { Contact, Msg } from './records';
import { displayName } from './records';
import { HeldAmendments, MAX_HELD } from './held';
import { type Stamp, newer } from './order';
/** How long "typing…" shows after the last indicator (ms). */
export const TYPING_SHOW_MS = 6_000;

/** What the model lends this file. */
export interface ConvoHost {
  account: Account;
  contacts: Map<string, Contact>;
  /** A stored message by the package's message id (incoming id, or an outgoing wire id). */
  byMsgId(msgId: string): Msg | undefined;
  saveMsg(m: Msg): Promise<void>;
  saveContact(c: Contact): Promise<void>;
  save(key: string, rec: unknown): Promise<void>;
  remove(key: string): Promise<void>;
  /** Adds a marker line (never text from the wire). */
  note(c: Contact, text: string, kind: 'refused' | 'timer' | 'expired' | 'unsupported'): Promise<void>;
  changed(m: Msg): void;
  typing(c: Contact, until: number): void;
  removeMsg(m: Msg): Promise<void>;
}

/** The package's message id of a stored message (what replies, edits and reactions name). */
export const wireOf = (m: Msg): string => m.wireId ?? m.id;

/** Opt-in settings of this browser (PROTOCOL.md 28: read receipts and typing are opt-in). */
export const settings = {
  get readReceipts() {
    return localStorage.getItem('sealpost.readReceipts') === 'on';
  },
  set readReceipts(on: boolean) {
    localStorage.setItem('sealpost.readReceipts', on ? 'on' : 'off');
  },
  get typing() {
    return localStorage.getItem('sealpost.typing') === 'on';
  },
  set typing(on: boolean) {
    localStorage.setItem('sealpost.typing', on ? 'on' : 'off');
  },
};

/** The fields of an incoming message that conversation content needs (kept for held ones). */
type Held = Pick<Incoming, 'msgId' | 'sender' | 'conversation' | 'sentAt' | 'contentType' | 'content' | 'kind' | 'newText' | 'target' | 'emoji' | 'own'> & {
  /** When this device held it (ms): the oldest goes first. */
  heldAt?: number;
};

const REFUSAL_TEXT: Record<string, string> = {
  AMEND_NOT_AUTHOR: 'An edit or deletion of a message by someone other than its author was refused.',
  AMEND_OTHER_CONVERSATION: 'A change to a message of another conversation was refused.',
  AMEND_TOO_LATE: 'An edit or deletion more than 24 hours after the message was refused.',
  AMEND_NOT_TEXT: 'An edit of something that is not text was refused.',
};

export class Convo {
  /** Amendments waiting for their message. */
  private held = new HeldAmendments<Held>();
  /** Read back at load, held again (oldest first) at start. */
  private restored: Held[] = [];
  /** Conversations told this session that an amendment waited too long and was dropped. */
  private toldDropped = new Set<string>();

  private sweep: ReturnType<typeof setInterval> | null = null;
  private typingSent = new Map<string, number>();

  constructor(private host: ConvoHost) {}

  /** Removes disappearing messages when their time comes (checked every few seconds). */
  start(all: () => Iterable<Msg>) {
    for (const h of this.restored.sort((a, b) => (a.heldAt ?? 0) - (b.heldAt ?? 0)).splice(0)) {
      for (const d of this.held.add(h)) void this.host.remove(`h:${d.msgId}`).catch(() => undefined);
    }
    const run = () => {
      const now = Date.now() / 1000;
      for (const m of [...all()]) if (m.expiresAt !== undefined && m.expiresAt <= now) void this.host.removeMsg(m).catch(() => undefined);
    };
    run();
    this.sweep ??= setInterval(run, 2_000);
  }
  stop() {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = null;
  }

  /** A message about to be sent takes the conversation's disappearing time. */
  async stampExpiry(m: Msg, c: Contact) {
    const secs = c.timer?.secs ?? 0;
    if (!secs) return;
    const now = Math.floor(m.at / 1000);
    m.expiresIn = secs;
    m.expiresAt = await this.host.account.expiresAt(now, now, secs);
  }

  /**
   * Fills a text message's reply and expiry from `inc`; false when it disappeared before
   * it arrived (a marker says so instead; the text is never shown).
   */
  async received(m: Msg, inc: Incoming, c: Contact): Promise<boolean> {
    if (inc.replyTo) m.replyTo = inc.replyTo;
    if (inc.expiresIn) {
      m.expiresIn = inc.expiresIn;
      m.expiresAt = await this.host.account.expiresAt(inc.sentAt, inc.receivedAt ?? inc.sentAt, inc.expiresIn);
      if (m.expiresAt <= Date.now() / 1000) {
        await this.host.note(c, 'A disappearing message expired before it could be shown.', 'expired');
        return false;
      }
    }
    return true;
  }

  // ---- what the user does ----------------------------------------------------------

  async edit(c: Contact, m: Msg, text: string) {
    const stamp = await this.sent(c, { kind: 'edit', target: wireOf(m), text }, m.edit);
    m.text = text;
    m.edit = stamp;
    await this.saved(m);
  }
  async deleteForEveryone(c: Contact, m: Msg) {
    await this.host.account.amend(c.username, { kind: 'delete', target: wireOf(m) });
    m.deleted = true;
    m.text = '';
    delete m.reactions;
    await this.saved(m);
  }
  async react(c: Contact, m: Msg, emoji: string) {
    const me = this.host.account.userId;
    const stamp = await this.sent(c, { kind: 'reaction', target: wireOf(m), emoji }, m.reactions?.[me]);
    (m.reactions ??= {})[me] = { ...stamp, emoji };
    await this.saved(m);
  }
  async setTimer(c: Contact, secs: number) {
    const stamp = await this.sent(c, { kind: 'timer', expiresIn: secs }, c.timer);
    c.timer = { secs, ...stamp };
    await this.host.saveContact(c);
    await this.host.note(c, secs ? `You set disappearing messages to ${timerLabel(secs)}.` : 'You turned off disappearing messages.', 'timer');
  }
  /** The user types (or stopped): at most one indicator every 4 s, only when opted in. */
  typing(c: Contact, active: boolean) {
    if (!settings.typing) return;
    const last = this.typingSent.get(c.userId) ?? 0;
    if (active && Date.now() - last < 4_000) return;
    if (!active && !last) return;
    this.typingSent.set(c.userId, active ? Date.now() : 0);
    void this.host.account.amend(c.username, { kind: 'typing', active }).catch(() => undefined);
  }
  /** Read receipts for what the user now sees, when opted in. */
  async sendReads(c: Contact, msgs: Msg[]) {
    if (!settings.readReceipts) return;
    const unsent = msgs.filter((m) => m.dir === 'in' && !m.notice && !m.readSent && !m.deleted);
    if (!unsent.length) return;
    for (const m of unsent) m.readSent = true;
    await this.host.account.amend(c.username, { kind: 'read', targets: unsent.slice(-512).map(wireOf) }).catch(() => {
      for (const m of unsent) m.readSent = false;
    });
    await Promise.all(unsent.map((m) => this.host.saveMsg(m)));
  }
  /**
   * Sends an edit, reaction or timer and returns its `(sent_at, msg_id)` stamp, as every
   * other device will compare it. Within the same second as the one it replaces, the
   * larger message id holds (PROTOCOL.md 28.3), which may be the earlier one, and one
   * stamped by a clock ahead of ours holds until ours passes it: then this throws, and this
   * device keeps what the others keep.
   */
  private async sent(c: Contact, what: Amend, current?: Stamp): Promise<Stamp> {
    // The package says how it stamped it; a guess from this page's clock could pick the
    // wrong side of a second boundary and disagree with every other device.
    const before = Math.floor(Date.now() / 1000);
    const { id, sentAt } = await this.host.account.amend(c.username, what);
    const stamp = { at: sentAt ?? before, id };
    if (current && !newer(stamp, current)) {
      throw AppError.forUser('SAME_SECOND', 'A change made at the same moment (or by a clock ahead of this one) stays on every device. Try again in a moment.');
    }
    return stamp;
  }

  private async saved(m: Msg) {
    await this.host.saveMsg(m);
    this.host.changed(m);
  }

  /** A held amendment read back at load. */
  restoreHeld(h: Held) {
    if (typeof h?.target !== 'string' || typeof h.conversation !== 'string') return;
    this.restored.push({ ...h, content: new Uint8Array(Object.values(h.content ?? {}) as number[]) });
  }

  /** The stored message as the package's rules see it. */
  target(m: Msg): { author: string; conversation: string; sentAt: number; isText: boolean; deleted: boolean } {
    return {
      author: m.dir === 'in' ? m.peer : this.host.account.userId,
      conversation: m.peer,
      sentAt: m.sentAt ?? Math.floor(m.at / 1000),
      isText: !m.notice && !m.file,
      deleted: !!m.deleted,
    };
  }

  /**
   * Handles conversation content other than text; true when `inc` was such content (it
   * is then done with and may be acknowledged).
   */
  async handle(inc: Incoming, c: Contact | undefined): Promise<boolean> {
    switch (inc.kind) {
      case 'edit':
      case 'delete':
      case 'reaction':
        await this.amend(inc);
        return true;
      case 'read':
        await this.read(inc);
        return true;
      case 'typing':
        if (c && !inc.own && inc.active && (await this.host.account.typingFresh(inc.sentAt, inc.receivedAt ?? inc.sentAt))) {
          this.host.typing(c, Date.now() + TYPING_SHOW_MS);
        } else if (c && !inc.own) this.host.typing(c, 0);
        return true;
      case 'timer':
        if (c) await this.timer(inc, c);
        return true;
      case 'unknown':
      case 'bytes':
        if (c) await this.host.note(c, 'A message this version of Sealpost cannot show arrived.', 'unsupported');
        return true;
      default:
        return false;
    }
  }

  /** A new message was stored: apply what was held for it. */
  async arrived(m: Msg, msgId: string) {
    for (const h of this.held.take(msgId)) {
      await this.host.remove(`h:${h.msgId}`).catch(() => undefined);
      await this.amend(h, m);
    }
  }

  private async amend(inc: Held, found?: Msg) {
    const m = found ?? this.host.byMsgId(inc.target!);
    const c = this.host.contacts.get(inc.conversation);
    const verdict = await this.host.account.checkAmendment(inc, m ? this.target(m) : undefined);
    if (verdict === 'hold') {
      const held: Held = { ...pickHeld(inc), heldAt: Date.now() };
      const dropped = this.held.add(held);
      await this.host.save(`h:${inc.msgId}`, held);
      for (const d of dropped) await this.host.remove(`h:${d.msgId}`).catch(() => undefined);
      // Said once per conversation and session: a flood makes one line, not thousands.
      if (dropped.length && c && !this.toldDropped.has(c.userId)) {
        this.toldDropped.add(c.userId);
        await this.host.note(c, `More than ${MAX_HELD} edits, deletions or reactions waited for messages that have not arrived; the oldest were dropped.`, 'refused');
      }
      return;
    }
    if (verdict !== 'apply' || !m) {
      if (c && REFUSAL_TEXT[verdict]) await this.host.note(c, REFUSAL_TEXT[verdict], 'refused');
      return;
    }
    const stamp = { at: inc.sentAt, id: inc.msgId };
    if (inc.kind === 'delete') {
      m.deleted = true;
      m.text = '';
      delete m.reactions;
      delete m.replyTo;
    } else if (inc.kind === 'edit') {
      if (!newer(stamp, m.edit)) return;
      m.text = inc.newText ?? m.text;
      m.edit = stamp;
    } else {
      const reactions = (m.reactions ??= {});
      const who = inc.sender;
      if (!newer(stamp, reactions[who])) return;
      reactions[who] = { ...stamp, emoji: inc.emoji ?? '' };
    }
    await this.host.saveMsg(m);
    this.host.changed(m);
  }

  private async read(inc: Incoming) {
    for (const id of inc.targets ?? []) {
      const m = this.host.byMsgId(id);
      if (!m || m.readByPeer || !(await this.host.account.readApplies(inc, this.target(m)))) continue;
      if (m.dir === 'out') m.readByPeer = true;
      await this.host.saveMsg(m);
      this.host.changed(m);
    }
  }

  private async timer(inc: Incoming, c: Contact) {
    const stamp = { at: inc.sentAt, id: inc.msgId };
    if (!newer(stamp, c.timer)) return;
    c.timer = { ...stamp, secs: inc.expiresIn ?? 0 };
    await this.host.saveContact(c);
    const who = inc.own ? 'You' : displayName(c);
    await this.host.note(c, c.timer.secs ? `${who} set disappearing messages to ${timerLabel(c.timer.secs)}.` : `${who} turned off disappearing messages.`, 'timer');
  }
}

/** The fields of an amendment kept while it waits (not the whole incoming message). */
function pickHeld(inc: Held): Held {
  const { msgId, sender, conversation, sentAt, contentType, content, kind, newText, target, emoji, own } = inc;
  return { msgId, sender, conversation, sentAt, contentType, content, kind, newText, target, emoji, own };
}

/** The disappearing times offered. */
export const TIMER_CHOICES: [number, string][] = [
  [0, 'Off'],
  [30, '30 seconds'],
  [300, '5 minutes'],
  [3600, '1 hour'],
  [86_400, '1 day'],
  [604_800, '1 week'],
];

export function timerLabel(secs: number): string {
  return TIMER_CHOICES.find(([s]) => s === secs)?.[1] ?? `${secs} seconds`;
}
