// The outbox: what the user wrote goes out one message at a time, in order, retried
// with backoff while the relay cannot be reached (the app's message id is the package's
// idempotency key, so a retry never makes a second message), and each sent message
// learns how many of the recipient's devices have it.

import type { Account, Delivery, IdentityChangedDetails } from './backend/types';
import { errorCode, identityChange } from './backend/types';
import type { Contact, Msg } from './records';
import { sleep } from './util';
import { TEXT, encodeBody } from './wire';

/** What the outbox needs from the model. */
export interface OutboxHost {
  account: Account;
  /** By user id. */
  contacts: Map<string, Contact>;
  /** Whether the model still holds `m` (a message deleted while it waited is not sent). */
  holds(m: Msg): boolean;
  saveMsg(m: Msg): Promise<void>;
  /** `m` changed (its state or delivery): show it. */
  changed(m: Msg): void;
  /** Sending to `c` found its key changed (`d`: the new key, when the directory said). */
  keyChanged(c: Contact, d?: IdentityChangedDetails): Promise<void>;
}

export class Outbox {
  private running = false;
  private wake: (() => void) | null = null;
  /**
   * Sent messages whose first write has not completed yet, with their record's key: their
   * send waits for it in the worker (Account.send's `afterRecord`), not here.
   */
  private unstored = new Map<string, string>();
  /** Sent messages by the package's id (its delivery reports name it). */
  private byWire = new Map<string, Msg>();
  /** Delivery reports that came before `send` returned the id. */
  private earlyDelivery = new Map<string, Delivery>();
  private kickBound = () => this.kick();
  /**
   * Outgoing text messages that may be waiting to be sent (new, loaded, retried), looked
   * through for the next one instead of every message of every chat (O(history) per send).
   */
  private waiting = new Set<Msg>();

  constructor(private host: OutboxHost) {}

  /** Starts sending; false when it already runs. */
  start(): boolean {
    if (this.running) return false;
    this.running = true;
    void this.loop();
    addEventListener('online', this.kickBound);
    return true;
  }

  stop() {
    this.running = false;
    this.kick();
    removeEventListener('online', this.kickBound);
  }

  /** Something may be ready to send (a message stored, a key accepted, back online). */
  kick() {
    this.wake?.();
  }

  /** The messages loaded from storage (their delivery reports may still come; those caught mid-send go again). */
  loaded(messages: Iterable<Msg>) {
    for (const m of messages) {
      if (m.wireId) this.byWire.set(m.wireId, m);
      if (m.state === 'queued' || m.state === 'sending') this.waiting.add(m);
    }
  }

  /** `m` is queued again (Retry): sent in its turn. */
  requeue(m: Msg) {
    this.waiting.add(m);
    this.kick();
  }

  /** A new message, sent once `stored` (its first write, of the record `key`) commits. */
  queued(m: Msg, stored: Promise<void>, key: string) {
    this.waiting.add(m);
    this.unstored.set(m.id, key);
    // Kept when the write failed: the worker then refuses the send (the write's failure
    // is what it waits for), and the message is "not sent" instead of sent unrecorded.
    void stored.then(() => this.unstored.delete(m.id), () => undefined);
    this.kick();
  }

  /** The sent message with the package's id `wireId`, if this device sent it. */
  sent(wireId: string): Msg | undefined {
    return this.byWire.get(wireId);
  }

  /** Sends queued messages in order, one at a time, retrying with backoff. */
  private async loop() {
    let backoff = 500;
    while (this.running) {
      let next: Msg | undefined;
      for (const m of this.waiting) {
        if (m.dir !== 'out' || m.state !== 'queued' || m.file || !this.host.holds(m)) this.waiting.delete(m);
        else if (!this.host.contacts.get(m.peer)?.keyChanged && (!next || m.at < next.at)) next = m;
      }
      if (!next || !navigator.onLine) {
        await new Promise<void>((r) => (this.wake = r));
        this.wake = null;
        continue;
      }
      try {
        await this.sendOne(next);
        backoff = 500;
      } catch (e) {
        const code = errorCode(e);
        if (code === 'NETWORK' || code === 'RELAY_BUSY' || code === 'CLOSED' || !navigator.onLine) {
          next.state = 'queued';
          this.host.changed(next);
          // Retries reuse the sealed envelope (idempotency key), so they are cheap; still,
          // no attempts while the browser is offline (the 'online' event wakes us) and a
          // backoff otherwise.
          const waits: Promise<unknown>[] = [new Promise<void>((r) => (this.wake = r))];
          if (navigator.onLine) waits.push(sleep(backoff));
          await Promise.race(waits);
          this.wake = null;
          backoff = Math.min(backoff * 2, 60_000);
        } else {
          next.state = 'failed';
          next.error = e instanceof Error ? e.message : String(e);
          this.host.changed(next);
          // Unsaved (storage failing too), it is still queued in storage: sent after a reload.
          await this.host.saveMsg(next).catch(() => undefined);
        }
      }
    }
  }

  private async sendOne(m: Msg) {
    const c = this.host.contacts.get(m.peer);
    if (!c) throw new Error('unknown contact');
    m.state = 'sending';
    try {
      // The app's message id doubles as the idempotency key: a retry after a lost answer
      // or a reload posts the same envelope.
      // Not stored yet: the worker sends it once its record committed (in order: the
      // record was asked for first), and not at all if that write failed.
      const afterRecord = this.unstored.get(m.id);
      const sending = this.host.account.send(c.username, encodeBody(m.text), TEXT, m.id, { replyTo: m.replyTo, expiresIn: m.expiresIn, afterRecord });
      // Shown as sending once the worker has it (drawing it first only delays the send).
      this.host.changed(m);
      this.sentAs(m, await sending);
    } catch (e) {
      if (errorCode(e) === 'IDENTITY_CHANGED') {
        await this.host.keyChanged(c, identityChange(e));
        m.state = 'queued';
        this.host.changed(m);
        return;
      }
      throw e;
    }
    if (m.state === 'sending') m.state = 'relay'; // a delivery report may already have come
    await this.host.saveMsg(m);
    this.host.changed(m);
  }

  /** `m` went out as the package's message `r.messageId` (its delivery reports name it). */
  sentAs(m: Msg, r: { messageId: string; delivered?: number; total?: number }) {
    m.wireId = r.messageId;
    this.byWire.set(r.messageId, m);
    if (typeof r.total === 'number') this.applyDelivery(m, { messageId: r.messageId, delivered: r.delivered ?? 0, total: r.total });
    const early = this.earlyDelivery.get(r.messageId);
    this.earlyDelivery.delete(r.messageId);
    if (early) this.applyDelivery(m, early);
  }

  /** "Delivered to n of m devices". */
  delivered(d: Delivery) {
    const m = this.byWire.get(d.messageId);
    if (!m) {
      if (this.earlyDelivery.size > 1000) this.earlyDelivery.clear();
      this.earlyDelivery.set(d.messageId, d);
      return;
    }
    this.applyDelivery(m, d);
    void this.host.saveMsg(m).catch(() => undefined);
    this.host.changed(m);
  }
  private applyDelivery(m: Msg, d: Delivery) {
    const prev = m.delivery;
    // Reports may cross: never go back.
    if (prev && prev.total === d.total && prev.delivered > d.delivered) return;
    m.delivery = { delivered: d.delivered, total: d.total };
    // Delivered once any device has it (the text says to how many of them).
    if (d.delivered > 0) m.state = 'delivered';
    else if (m.state === 'sending') m.state = 'relay';
  }
}
