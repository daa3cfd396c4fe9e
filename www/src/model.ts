// The app's state: contacts, conversations, messages and drafts, kept in IndexedDB as
// records sealed under the account's password-derived local key (the records:
// records.ts; storing them: store.ts; the contact list: contactbook.ts; what messages
// carry: wire.ts; sending: outbox.ts).

import type { Account, Incoming, LinkState, Notice } from './backend/types';
import { errorCode } from './backend/types';
import { RecordStore, msgKey } from './store';
import type { Contact, Msg } from './records';
import { cleanName, displayName, noticeText } from './records';
import { Outbox } from './outbox';
import { dec, enc, randomId } from './util';
import { type Body, parseBody } from './wire';
import { Convo } from './convo';
import { ArrivalClock, arrange, placeOf } from './order';
import { Attachments } from './attachments';
import { Groups } from './groups';
import { Calls } from './calls';
import { ContactBook } from './contactbook';
import { HistorySearch } from './historysearch';
import { lazily } from './lazy';

/** The search index (MiniSearch), a chunk of its own loaded when the account opens. */
const searchEngine = lazily('searchindex', () => import('./searchindex'));

/** What a device link carries: the app's history, as exportHistory writes it. */
interface History {
  v: 1;
  contacts: Contact[];
  messages: Msg[];
}

type Listener = (what: { contacts?: boolean; peer?: string; msg?: Msg; oldId?: string; link?: boolean; notice?: string; removed?: string; typing?: number }) => void;

export class Model {
  contacts = new Map<string, Contact>(); // by userId
  messages = new Map<string, Msg[]>(); // by peer userId, ordered
  /** `at` of every message this device adds: never two alike (order.ts). */
  private arrivals = new ArrivalClock();
  private byId = new Map<string, Msg>();
  drafts = new Map<string, string>();
  link: LinkState = 'connecting';
  private listeners = new Set<Listener>();
  /** The history records in IndexedDB (store.ts). */
  private store: RecordStore;
  /** Sends what the user wrote, in order; tracks how many devices have it. */
  private outbox: Outbox;
  /** Directory lookups, key changes, names, marks (contactbook.ts). */
  private book: ContactBook;
  /** Edits, deletions, reactions, read receipts, typing, timers (convo.ts). */
  convo: Convo;
  /** "typing…" shows until (ms), per peer. */
  typingUntil = new Map<string, number>();
  /** File messages: sending, progress, opening (attachments.ts). */
  files: Attachments;
  /** Groups (groups.ts). */
  groups: Groups;
  /** Voice calls: the one on screen, and their lines in the history (calls.ts). */
  calls: Calls;
  /** Search in the history, its index sealed at rest (historysearch.ts). */
  search: HistorySearch;

  constructor(public account: Account) {
    this.store = new RecordStore({ account, contacts: this.contacts, drafts: this.drafts, wrote: (k, r) => this.search.wrote(k, r) });
    this.search = new HistorySearch(account, this.store, searchEngine);
    this.book = new ContactBook({ account, contacts: this.contacts, saveContact: (c) => this.saveContact(c), changed: (w) => this.emit(w), kick: () => this.outbox.kick() });
    this.outbox = new Outbox({
      account,
      contacts: this.contacts,
      holds: (m) => this.byId.get(m.id) === m,
      saveMsg: (m) => this.saveMsg(m),
      changed: (m) => this.emit({ peer: m.peer, msg: m }),
      keyChanged: (c, d) => this.book.markKeyChanged(c, d),
    });
    this.convo = new Convo({
      account,
      contacts: this.contacts,
      byMsgId: (id) => this.byMsgId(id),
      saveMsg: (m) => this.saveMsg(m),
      saveContact: (c) => this.saveContact(c),
      save: (k, r) => this.save(k, r),
      remove: (k) => this.remove(k),
      note: (c, text, kind) => this.note(c, text, kind),
      changed: (m) => this.emit({ peer: m.peer, msg: m }),
      typing: (c, until) => {
        this.typingUntil.set(c.userId, until);
        this.emit({ peer: c.userId, typing: until });
      },
      removeMsg: (m) => this.removeMsg(m),
    });
    this.files = new Attachments({
      account,
      contacts: this.contacts,
      add: (m, c) => {
        this.push(m);
        c.lastActivity = m.at;
        this.emit({ contacts: true, peer: c.userId, msg: m });
      },
      changed: (m) => this.emit({ peer: m.peer, msg: m }),
      saveMsg: (m) => this.saveMsg(m),
      saveContact: (c) => this.saveContact(c),
      sentAs: (m, r) => this.outbox.sentAs(m, r),
      stampExpiry: (m, c) => this.convo.stampExpiry(m, c),
    });
    this.groups = new Groups({ account, contacts: this.contacts, save: (k, r) => this.save(k, r), changed: (w) => this.emit(w), files: this.files });
    this.calls = new Calls({
      account,
      contacts: this.contacts,
      note: (c, text, kind) => this.note(c, text, kind),
      activity: (c, unread) => {
        c.lastActivity = Date.now();
        if (unread && !(this.activePeer === c.userId && document.visibilityState === 'visible')) c.unread++;
        this.emit({ contacts: true });
        void this.saveContact(c).catch(() => undefined);
      },
    });
  }

  on(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  private emit(w: Parameters<Listener>[0]) {
    for (const l of this.listeners) l(w);
  }

  // ---- persistence -------------------------------------------------------------

  async load(): Promise<void> {
    const { records, sealed } = await this.store.read();
    for (const [k, rec] of records) {
      if (k.startsWith('c:')) {
        const c = rec as Contact;
        this.contacts.set(c.userId, c);
      } else if (k.startsWith('m:')) {
        const m = rec as Msg;
        this.arrivals.seen(m.at);
        this.byId.set(m.id, m);
        if (!this.messages.has(m.peer)) this.messages.set(m.peer, []);
        this.messages.get(m.peer)!.push(m);
      } else if (k.startsWith('h:')) {
        this.convo.restoreHeld(rec as Parameters<Convo['restoreHeld']>[0]);
      } else if (k.startsWith('d:')) {
        const d = rec as { peer: string; text: string };
        this.drafts.set(d.peer, d.text);
      } else this.groups.restore(k, rec);
    }
    for (const [peer, list] of this.messages) this.messages.set(peer, arrange(list));
    this.search.loaded(records, sealed);
    this.groups.loaded();
    this.outbox.loaded(this.byId.values());
    // A message caught mid-send by a reload goes back to the queue (same app id, so the
    // recipient drops it if the first attempt did arrive).
    for (const m of this.byId.values()) {
      if (m.state !== 'sending') continue;
      if (m.file) this.files.interrupted(m);
      else m.state = 'queued';
    }
  }

  private save(key: string, rec: unknown): Promise<void> {
    return this.store.save(key, rec);
  }
  private remove(key: string): Promise<void> {
    return this.store.remove(key);
  }
  /** Saves a contact; calls in the same burst of messages are written once. */
  saveContact(c: Contact): Promise<void> {
    return this.store.saveContact(c);
  }
  saveMsg(m: Msg) {
    return this.store.saveMsg(m);
  }
  setDraft(peer: string, text: string) {
    this.store.setDraft(peer, text);
  }
  /** Writes everything still waiting at once (store.ts, the search index); called before the tab lets go of the account. */
  async flushPending(): Promise<void> {
    await Promise.allSettled([this.search.flush(), this.store.flushPending()]);
  }

  /** Log out: forget everything local. */
  async wipe(): Promise<void> {
    this.stop();
    await this.store.wipe();
    await this.account.wipe();
  }

  // ---- contacts ----------------------------------------------------------------

  sortedContacts(): Contact[] {
    return this.book.sortedContacts();
  }
  /** Contacts added on the account's other devices become conversations here too (contactbook.ts). */
  syncContacts(): Promise<void> {
    return this.book.syncContacts();
  }
  /** Looks a username up (pinning it on first use) and adds the contact. */
  addContact(username: string): Promise<Contact> {
    return this.book.addContact(username);
  }
  checkContact(c: Contact, maxAgeMs?: number): Promise<void> {
    return this.book.checkContact(c, maxAgeMs);
  }
  acceptNewKey(c: Contact): Promise<void> {
    return this.book.acceptNewKey(c);
  }
  rename(c: Contact, raw: string): Promise<void> {
    return this.book.rename(c, raw);
  }
  setVerified(c: Contact, v: boolean): Promise<void> {
    return this.book.setVerified(c, v);
  }


  async markRead(c: Contact) {
    void this.convo.sendReads(c, this.messages.get(c.userId) ?? []).catch(() => undefined);
    if (c.unread === 0) return;
    c.unread = 0;
    await this.saveContact(c);
    this.emit({ contacts: true });
  }

  totalUnread(): number {
    let n = this.groups.unread();
    for (const c of this.contacts.values()) n += c.unread;
    return n;
  }

  // ---- sending -----------------------------------------------------------------

  async send(c: Contact, text: string, replyTo?: string): Promise<Msg> {
    const m: Msg = { id: randomId(), peer: c.userId, dir: 'out', text, at: this.arrivals.next(), state: 'queued' };
    if (replyTo) m.replyTo = replyTo;
    await this.convo.stampExpiry(m, c);
    this.push(m);
    c.lastActivity = m.at;
    // Stored before the outbox hands it to the package: a tab closed right after Send
    // must not leave a message that went out but is not in this device's history.
    const stored = this.saveMsg(m);
    this.outbox.queued(m, stored, msgKey(m.id));
    const saved = Promise.all([stored, this.saveContact(c)]);
    // Drawn after the outbox (woken above) handed it to the worker: a message on its way
    // first, then the page's work.
    queueMicrotask(() => this.emit({ contacts: true, peer: c.userId, msg: m }));
    await saved;
    return m;
  }

  async retry(m: Msg) {
    if (m.state !== 'failed') return;
    if (m.file) return this.files.retry(m);
    m.state = 'queued';
    delete m.error;
    await this.saveMsg(m);
    this.emit({ peer: m.peer, msg: m });
    this.outbox.requeue(m);
  }

  /** A stored message by the package's message id (incoming id, or an outgoing wire id). */
  byMsgId(id: string): Msg | undefined {
    return this.byId.get(id) ?? this.outbox.sent(id);
  }

  /** A marker line (never text from the wire). */
  private async note(c: Contact, text: string, kind: NonNullable<Msg['notice']>) {
    const m: Msg = { id: randomId(), peer: c.userId, dir: 'in', text, at: this.arrivals.next(), state: 'delivered', notice: kind };
    this.push(m);
    this.emit({ peer: c.userId, msg: m });
    await this.saveMsg(m);
  }

  /** Removes a message from this device (deleted for me, or disappeared). */
  async removeMsg(m: Msg) {
    this.byId.delete(m.id);
    this.files.forget(m.id);
    const list = this.messages.get(m.peer);
    const i = list?.indexOf(m) ?? -1;
    if (list && i >= 0) list.splice(i, 1);
    this.emit({ peer: m.peer, removed: m.id, contacts: true });
    await this.remove(msgKey(m.id));
  }

  /** Adds `m` to its conversation where its writer put it (order.ts), whatever path brought it. */
  private push(m: Msg) {
    this.byId.set(m.id, m);
    if (!this.messages.has(m.peer)) this.messages.set(m.peer, []);
    const list = this.messages.get(m.peer)!;
    list.splice(placeOf(list, m), 0, m);
  }

  /** Protocol v2: a marker line in the thread it concerns (or a passing note when none). */
  private async onNotice(n: Notice): Promise<void> {
    if (await this.groups.notice(n)) return;
    // Another device named, marked or forgot a contact: show what the package knows now.
    if (n.kind === 'contactChanged') return this.syncContacts();
    const sent = n.kind === 'notDelivered' && n.messageId ? this.outbox.sent(n.messageId) : undefined;
    if (sent && sent.state !== 'delivered') {
      sent.state = 'failed';
      sent.error = n.detail ?? 'Reached none of the recipient’s devices.';
      this.emit({ peer: sent.peer, msg: sent });
      await this.saveMsg(sent);
    }
    if (sent && !n.peer) n.peer = sent.peer;
    const c = n.peer ? this.contacts.get(n.peer) : [...this.contacts.values()].find((x) => n.username && x.username === n.username);
    if (!c) {
      this.emit({ notice: n.detail || noticeText(n) });
      return;
    }
    const m: Msg = { id: randomId(), peer: c.userId, dir: 'in', text: noticeText(n, displayName(c)), at: this.arrivals.next(), state: 'delivered', notice: n.kind };
    this.push(m);
    this.emit({ peer: c.userId, msg: m });
    await this.saveMsg(m);
  }

  // ---- history for a new device (device link) ---------------------------------------

  /**
   * The history as one blob for a device link: the records as this device opened them
   * (openLocal at load); the package carries it end to end encrypted in the link grant,
   * and the new device seals each record under its own local key (sealLocal).
   */
  async exportHistory(): Promise<Uint8Array> {
    const h: History = {
      v: 1,
      contacts: [...this.contacts.values()],
      // What is still to be sent stays here: this device sends it, and the new one gets a copy.
      messages: [...this.byId.values()].filter((m) => !(m.dir === 'out' && (m.state === 'queued' || m.state === 'sending' || m.state === 'failed'))),
    };
    return enc.encode(JSON.stringify(h));
  }

  /** Stores the history a link brought (call after load(), before start()); returns how many messages. */
  async importHistory(blob: Uint8Array): Promise<number> {
    const h = JSON.parse(dec.decode(blob)) as History;
    if (h?.v !== 1 || !Array.isArray(h.contacts) || !Array.isArray(h.messages)) throw new Error('malformed history');
    for (const c of h.contacts) {
      if (typeof c?.userId !== 'string' || typeof c.username !== 'string') continue;
      const known = this.contacts.get(c.userId);
      if (known) {
        // Known here already: only a name this device lacks comes over (nothing is overwritten).
        const name = typeof c.name === 'string' ? cleanName(c.name) : '';
        if (name && !known.name) await this.rename(known, name);
        continue;
      }
      const copy: Contact = { ...c, key: randomId() };
      if (typeof copy.name === 'string' && cleanName(copy.name)) copy.name = cleanName(copy.name);
      else delete copy.name;
      this.contacts.set(copy.userId, copy);
      await this.save(`c:${copy.key}`, copy);
    }
    let n = 0;
    for (const m of h.messages) {
      if (typeof m?.id !== 'string' || typeof m.peer !== 'string' || typeof m.text !== 'string' || this.byId.has(m.id) || !this.contacts.has(m.peer)) continue;
      // The wire id stays: replies, edits and reactions name a sent message by it (its
      // delivery reports still go to the device that sent it).
      if (m.dir === 'out') m.otherDevice = true;
      this.arrivals.seen(m.at);
      this.push(m);
      this.outbox.loaded([m]);
      await this.saveMsg(m);
      n++;
    }
    for (const [peer, list] of this.messages) this.messages.set(peer, arrange(list));
    this.emit({ contacts: true });
    return n;
  }

  // ---- receiving ---------------------------------------------------------------

  /**
   * Resolves once the message is handled; the backend then acknowledges it to the relay.
   * Anything malformed is dropped (and so acknowledged): only a failure to store, or to
   * reach the directory for a new contact, leaves it on the relay for the next connection.
   */
  private async onIncoming(inc: Incoming): Promise<void> {
    if (inc.group) return this.groups.incoming(inc);
    if (await this.convo.handle(inc, this.contacts.get(inc.conversation))) return;
    const body = inc.kind === 'file' ? await this.files.body(inc) : parseBody(inc);
    if (!body) return; // not ours to show; acked
    if (inc.own) return this.onOwnCopy(inc, body);
    let c = this.contacts.get(inc.sender);
    if (!c) {
      // A first message from someone new: the package names the sender (checked against
      // the sender's user id); without a name there is no one to show or answer.
      const from = inc.senderUsername ?? '';
      if (!from) return;
      try {
        c = await this.addContact(from);
      } catch (e) {
        // No such account (any more), or not a valid one: nothing to show, ever.
        if (['NOT_FOUND', 'INVALID_USERNAME', 'SELF'].includes(errorCode(e) ?? '')) return;
        // The directory is unreachable: the message stays unacknowledged on the relay
        // and comes again on the next connection.
        throw e;
      }
    }
    const id = inc.msgId;
    if (this.byId.has(id)) return; // a re-send the package could not recognise
    const m: Msg = {
      id,
      peer: c.userId,
      dir: 'in',
      text: body.text ?? '',
      at: this.arrivals.next(),
      sentAt: inc.sentAt,
      seq: inc.seq,
      fromDevice: inc.fromDevice,
      state: 'delivered',
      file: body.file,
    };
    if (!(await this.convo.received(m, inc, c))) return;
    this.push(m);
    c.lastActivity = m.at;
    if (!(this.activePeer === c.userId && document.visibilityState === 'visible')) c.unread++;
    // Show it at once; it is acknowledged only after it is stored. The contact's
    // counters (unread, last activity) are written with the next burst's save and on
    // leaving the tab (flushPending), not waited for: they lose no message.
    this.emit({ contacts: true, peer: c.userId, msg: m });
    void this.saveContact(c).catch(() => undefined);
    await this.saveMsg(m);
    await this.convo.arrived(m, inc.msgId);
  }

  /** A message this account sent from another device: outgoing, in the thread of `conversation`. */
  private async onOwnCopy(inc: Incoming, body: Body): Promise<void> {
    if (inc.conversation === this.account.userId) return;
    let c = this.contacts.get(inc.conversation);
    if (!c) {
      // The package shares contacts between devices: the name is known there, if anywhere.
      const p = await this.account.contact(inc.conversation);
      // Not known here yet (the package's account sync brings contacts): left
      // unacknowledged, the package gives it again after the next login.
      if (!p?.username) throw new Error('a copy of a message to a contact this device does not know yet');
      c = await this.addContact(p.username);
    }
    const id = inc.msgId;
    if (this.byId.has(id)) return;
    const m: Msg = { id, peer: c.userId, dir: 'out', text: body.text ?? '', at: this.arrivals.next(), sentAt: inc.sentAt, seq: inc.seq, fromDevice: inc.fromDevice, state: 'relay', otherDevice: true, file: body.file };
    if (!(await this.convo.received(m, inc, c))) return;
    this.push(m);
    c.lastActivity = m.at;
    this.emit({ contacts: true, peer: c.userId, msg: m });
    void this.saveContact(c).catch(() => undefined);
    await this.saveMsg(m);
    await this.convo.arrived(m, inc.msgId);
  }

  /** The conversation on screen (its messages do not count as unread). */
  activePeer: string | null = null;
  /** Peers with an open direct channel (the chat shows "direct"). */
  direct = new Set<string>();

  // ---- lifecycle ---------------------------------------------------------------

  start() {
    if (!this.outbox.start()) return;
    this.convo.start(() => this.byId.values());
    this.account.start({
      onMessage: (m) => this.onIncoming(m),
      onDelivery: (d) => this.groups.delivered(d) || this.outbox.delivered(d),
      onNotice: (n) => this.onNotice(n),
      onDirect: (peer, on) => {
        if (on) this.direct.add(peer);
        else this.direct.delete(peer);
        this.emit({ peer });
      },
      onCall: (u) => this.calls.update(u),
      onLinkState: (s) => {
        this.link = s;
        this.emit({ link: true });
        if (s === 'online') {
          this.outbox.kick();
          void this.syncContacts();
          void this.groups.refresh();
        }
      },
    });
  }

  stop() {
    this.search.stop();
    this.calls.stop();
    this.convo.stop();
    this.outbox.stop();
    this.account.stop();
  }
}
