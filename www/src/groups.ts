// Groups (issue 10; the package's groups, docs/PROTOCOL.md 27): what the app keeps of
// each group (unread count, last activity, its messages and system lines, sealed in
// IndexedDB like the rest), the members as the package holds them, and sending. Group
// messages are text and files (one upload, one group message: attachments.ts); replies,
// edits, reactions, read receipts and disappearing times are 1:1 only.

import type { Account, FileMeta, GroupChange, GroupInfo, Incoming, Notice } from './backend/types';
import type { Attachments, FileSink } from './attachments';
import type { Contact, Msg } from './records';
import { cleanName, displayName } from './records';
import { randomId } from './util';
import { arrange, placeOf } from './order';
import { parseBody } from './wire';

/** The app's record of a group (the membership itself is the package's). */
export interface GroupRec {
  key: string;
  id: string;
  unread: number;
  lastActivity: number;
  /**
   * Per sender (user id): its colour (one of `COLOURS`) and username, kept so that its
   * messages keep both, also once it has left.
   */
  senders?: Record<string, { colour: number; name?: string }>;
}

/** How many member colours there are (hues 30° apart, groupchat.ts). */
export const COLOURS = 12;

type Changed = (w: { contacts?: boolean; peer?: string; msg?: Msg }) => void;

interface Deps {
  account: Account;
  contacts: Map<string, Contact>;
  save(key: string, rec: unknown): Promise<void>;
  changed: Changed;
  files: Attachments;
}

/** A group text caught mid-send by a reload (the package may or may not have sent it). */
const CUT = 'The page closed while this was being sent: it may not have gone out.';

/** Why a group change was refused, for the codes that say more than "not allowed" (PROTOCOL.md 27.8). */
const REFUSED: Record<string, string> = {
  BAD_SIGNATURE: 'it was not signed with the key of the member it names, so someone else made it',
  GROUP_USERNAME_MISMATCH: 'it gave a member a username that is not theirs',
  GROUP_FORKED: 'it was made on another version of the group, so a change may be missing here and members may see the group differently',
  GROUP_OLD_FORMAT: 'it came from a device with an older Sealpost, which must update',
  GROUP_TOO_OLD: 'it is older than the changes this device remembers, so it may be a copy of one already applied or one missed here, and members may see the group differently',
  TOO_LARGE: 'it did not fit in what this device keeps (too many members, keys or changes waiting for an earlier one), so a change may be missing here',
};

/** "alice added carol": the system line of a verified change (never text from the wire). */
function changeText(n: Notice, name: (u: string) => string): string {
  const who = n.from ? name(n.from) : 'Someone';
  const them = (n.members ?? []).map(name).map((x) => (x === 'You' ? 'you' : x)).join(', ');
  switch (n.change) {
    case 'create':
      return `${who} created the group “${n.name ?? ''}”.`;
    case 'add':
      return `${who} added ${them}.`;
    case 'remove':
      return `${who} removed ${them}.`;
    case 'leave':
      return `${who} left.`;
    case 'rename':
      return `${who} renamed the group to “${n.name ?? ''}”.`;
    case 'promote':
      return `${who} made ${them} an admin.`;
    case 'demote':
      return `${who} made ${them} a member (no longer an admin).`;
    default:
      return `${who} renewed the group’s keys.`;
  }
}

export class Groups {
  recs = new Map<string, GroupRec>(); // by group id
  infos = new Map<string, GroupInfo>();
  messages = new Map<string, Msg[]>(); // by group id, ordered
  private byWire = new Map<string, Msg>();
  /** The group on screen (its messages do not count as unread). */
  active: string | null = null;

  constructor(private d: Deps) {}

  /** A stored record (`gr:` group, `gm:` message); false when the key is not a group's. */
  restore(key: string, rec: unknown): boolean {
    if (key.startsWith('gr:')) {
      const g = rec as GroupRec;
      this.recs.set(g.id, g);
    } else if (key.startsWith('gm:')) {
      this.push(rec as Msg);
    } else return false;
    return true;
  }

  loaded() {
    for (const [id, list] of this.messages) {
      // In arrival order, one member device's messages by (sentAt, seq) (PROTOCOL.md 27.6).
      this.messages.set(id, arrange(list));
      // Caught mid-send by a reload: shown as not sent, with Retry, never "Sending…" forever.
      for (const m of list) {
        if (m.state !== 'sending') continue;
        if (m.file) this.d.files.interrupted(m);
        else Object.assign(m, { state: 'failed', error: CUT });
      }
    }
  }

  /** Re-reads the membership from the package. */
  async refresh(): Promise<void> {
    const infos = await this.d.account.groups().catch(() => null);
    if (!infos) return;
    this.infos = new Map(infos.map((g) => [g.id, g]));
    for (const g of infos) if (!this.recs.has(g.id)) await this.rec(g.id);
    // The group on screen is drawn again with what the package says of its members.
    this.d.changed({ contacts: true, peer: this.active ?? undefined });
  }

  /** Groups for the list, newest activity first; those this device left stay until cleared. */
  sorted(): GroupRec[] {
    return [...this.recs.values()].sort((a, b) => b.lastActivity - a.lastActivity);
  }

  /** A group's name as shown: cleaned like a contact name (no control or direction characters). */
  name(id: string): string {
    return cleanName(this.infos.get(id)?.name ?? '') || 'Group';
  }

  /**
   * A member's name: the contact's, the package's (`before`: the members before a change,
   * for one it removed), the one kept with its messages, or the start of the user id.
   */
  memberName(group: string, userId: string, before?: GroupInfo['members']): string {
    if (userId === this.d.account.userId) return 'You';
    const c = this.d.contacts.get(userId);
    if (c) return displayName(c);
    const of = (members?: GroupInfo['members']) => members?.find((m) => m.userId === userId)?.username;
    return of(this.infos.get(group)?.members) ?? of(before) ?? this.recs.get(group)?.senders?.[userId]?.name ?? `user ${userId.slice(0, 8)}`;
  }

  /**
   * A sender's colour in `group`: one no other current member has (while there are
   * colours left), starting from the one its user id picks. Given on first use and kept
   * with the group, so it stays the same across messages, reloads and members coming
   * and going; a hash alone gave two of five test members nearly the same hue.
   */
  colour(group: string, userId: string): number {
    const g = this.recs.get(group);
    const start = parseInt(userId.slice(0, 8), 16) % COLOURS;
    if (!g) return start;
    const senders = (g.senders ??= {});
    const known = senders[userId];
    const name = this.infos.get(group)?.members.find((m) => m.userId === userId)?.username;
    if (known && (known.name || !name)) return known.colour;
    if (known) known.name = name;
    else {
      const members = this.infos.get(group)?.members.map((m) => m.userId) ?? Object.keys(senders);
      const taken = new Set(members.map((u) => senders[u]?.colour));
      let c = start;
      for (let i = 0; i < COLOURS && taken.has(c); i++) c = (c + 1) % COLOURS;
      senders[userId] = { colour: c, name };
    }
    void this.d.save(`gr:${g.key}`, g).catch(() => undefined);
    return senders[userId].colour;
  }

  isAdmin(group: string, userId = this.d.account.userId): boolean {
    return !!this.infos.get(group)?.members.find((m) => m.userId === userId)?.admin;
  }

  unread(): number {
    let n = 0;
    for (const g of this.recs.values()) n += g.unread;
    return n;
  }

  private async rec(id: string): Promise<GroupRec> {
    let g = this.recs.get(id);
    if (!g) {
      g = { key: randomId(), id, unread: 0, lastActivity: Date.now() };
      this.recs.set(id, g);
      await this.d.save(`gr:${g.key}`, g);
    }
    return g;
  }

  /** Adds `m` to its group's list: last, or (`place`, a message arriving) where its sending device put it (placeOf). */
  private push(m: Msg, place = false) {
    if (!this.messages.has(m.peer)) this.messages.set(m.peer, []);
    const list = this.messages.get(m.peer)!;
    list.splice(place ? placeOf(list, m) : list.length, 0, m);
    if (m.wireId) this.byWire.set(m.wireId, m);
  }

  private async add(g: GroupRec, m: Msg) {
    this.push(m, true);
    g.lastActivity = m.at;
    if (m.dir === 'in' && !m.notice && !(this.active === g.id && document.visibilityState === 'visible')) g.unread++;
    this.d.changed({ contacts: true, peer: g.id, msg: m });
    await Promise.all([this.d.save(`gm:${m.id}`, m), this.d.save(`gr:${g.key}`, g)]);
  }

  async create(name: string, usernames: string[]): Promise<string> {
    const id = await this.d.account.createGroup(name, usernames);
    await this.rec(id);
    await this.refresh();
    return id;
  }

  async change(group: string, change: GroupChange): Promise<void> {
    await this.d.account.changeGroup(group, change);
    await this.refresh();
  }

  async markRead(group: string) {
    const g = this.recs.get(group);
    if (!g || g.unread === 0) return;
    g.unread = 0;
    this.d.changed({ contacts: true });
    await this.d.save(`gr:${g.key}`, g);
  }

  /** Sends text; a failure is shown on the message (with Retry), never lost in silence. */
  async send(group: string, text: string, retry?: Msg): Promise<void> {
    const g = await this.rec(group);
    const m: Msg = retry ?? { id: randomId(), peer: group, dir: 'out', text, at: Date.now(), state: 'sending' };
    if (retry) {
      m.state = 'sending';
      delete m.error;
      this.d.changed({ peer: group, msg: m });
    } else await this.add(g, m);
    try {
      // Keyed by the app's id: a retry after a reload sends it once.
      m.wireId = await this.d.account.sendToGroup(group, m.text, m.id);
      this.byWire.set(m.wireId, m);
      m.state = 'relay';
    } catch (e) {
      m.state = 'failed';
      m.error = e instanceof Error ? e.message : String(e);
    }
    this.d.changed({ peer: group, msg: m });
    await this.d.save(`gm:${m.id}`, m);
  }

  /** Sends a file: one upload, then its manifest as one group message (progress and Retry on it). */
  async sendFile(group: string, file: Blob, meta: FileMeta): Promise<void> {
    const g = await this.rec(group);
    const m = await this.d.files.newMsg(group, file, meta);
    await this.add(g, m);
    await this.d.files.upload(m, this.fileSink(group));
  }

  /** How a file message to `group` is shown, stored and sent (again). */
  fileSink(group: string): FileSink {
    return {
      changed: (m) => this.d.changed({ peer: group, msg: m }),
      saveMsg: (m) => this.d.save(`gm:${m.id}`, m),
      send: (file, o) => this.d.account.sendFileToGroup(group, file, o),
      sent: (m, r) => {
        m.wireId = r.messageId;
        this.byWire.set(r.messageId, m);
      },
    };
  }

  /** A delivery report: true when it was a group message's ("delivered to 7 of 9"). */
  delivered(d: { messageId: string; delivered: number; total: number }): boolean {
    const m = this.byWire.get(d.messageId);
    if (!m) return false;
    m.delivery = { delivered: d.delivered, total: d.total };
    if (d.total > 0 && d.delivered >= d.total) m.state = 'delivered';
    this.d.changed({ peer: m.peer, msg: m });
    void this.d.save(`gm:${m.id}`, m).catch(() => undefined);
    return true;
  }

  /** A group message (text or a file; other content is a marker line in groups yet). */
  async incoming(inc: Incoming): Promise<void> {
    const group = inc.group!;
    const body = inc.kind === 'file' ? await this.d.files.body(inc) : parseBody(inc);
    // Typing and read receipts are signals, not messages; anything else that is not text
    // or a file (a reply, an edit, a reaction; a file whose manifest does not parse)
    // becomes a marker line, never dropped unseen.
    if (!body && (inc.kind === 'typing' || inc.kind === 'read')) return;
    if ((this.messages.get(group) ?? []).some((m) => m.id === inc.msgId)) return;
    const g = await this.rec(group);
    if (!this.infos.has(group)) await this.refresh();
    const who = inc.own ? 'You' : this.memberName(group, inc.sender);
    const text = body?.text ?? (inc.kind === 'file' ? `${who} sent a file that could not be read.` : `${who} sent something that this version of Sealpost cannot show in a group yet.`);
    const m: Msg = { id: inc.msgId, peer: group, dir: inc.own ? 'out' : 'in', text, at: Date.now(), sentAt: inc.sentAt, seq: inc.seq, fromDevice: inc.fromDevice, state: inc.own ? 'relay' : 'delivered', from: inc.sender };
    if (body?.file) m.file = body.file;
    if (!body) m.notice = 'unsupported';
    if (inc.own) m.otherDevice = true;
    await this.add(g, m);
  }

  /** A group change or refusal: a system line in the group. False for other notices. */
  async notice(n: Notice): Promise<boolean> {
    // A refusal that names no group is a security marker like any other (model.ts).
    if ((n.kind !== 'groupChanged' && n.kind !== 'groupRefused') || !n.group) return false;
    const before = this.infos.get(n.group)?.members;
    await this.refresh();
    // A refusal naming a group this device is not in: anyone can name any id, so it
    // makes no group record (a stranger could fill the list); a security marker instead.
    if (n.kind === 'groupRefused' && !this.infos.has(n.group) && !this.recs.has(n.group)) return false;
    const g = await this.rec(n.group);
    const name = (u: string) => this.memberName(n.group!, u, before);
    const text =
      n.kind === 'groupChanged'
        ? changeText(n, name)
        : n.from === this.d.account.userId && n.code === 'BAD_SIGNATURE'
          ? `A group change made in your name was refused (BAD_SIGNATURE): ${REFUSED.BAD_SIGNATURE}.`
          : n.from === this.d.account.userId
          ? `Your change to the group was refused (${n.code ?? 'unknown'}).`
          : `A group change or message${n.from ? ` from ${name(n.from)}` : ''} was refused (${n.code ?? 'unknown'}): ${(n.code && REFUSED[n.code]) ?? 'it was not made by a member allowed to make it, or it was old or replayed'}.`;
    const m: Msg = { id: randomId(), peer: n.group, dir: 'in', text, at: Date.now(), state: 'delivered', notice: n.kind === 'groupRefused' ? 'security' : 'group' };
    await this.add(g, m);
    return true;
  }
}
