// The contact list: found through the directory (pinned on first use), a changed key
// noticed and accepted, names and verification marks shared with the account's other
// devices (the package keeps them), and contacts added on those devices adopted here.

import type { Account, IdentityChangedDetails } from './backend/types';
import { errorCode, identityChange } from './backend/types';
import type { Contact } from './records';
import { cleanName } from './records';
import { randomId } from './util';

/** What the contact list needs from the model. */
export interface ContactBookHost {
  account: Account;
  /** By user id. */
  contacts: Map<string, Contact>;
  saveContact(c: Contact): Promise<void>;
  /** The list (and, with `peer`, that conversation) changed. */
  changed(w: { contacts: true; peer?: string }): void;
  /** Wakes the outbox (a contact's new key was accepted). */
  kick(): void;
}

export class ContactBook {
  /** Last directory check per peer (ms). */
  private checkedAt = new Map<string, number>();

  constructor(private host: ContactBookHost) {}

  sortedContacts(): Contact[] {
    return [...this.host.contacts.values()].sort((a, b) => b.lastActivity - a.lastActivity);
  }

  /**
   * With devices: contacts added on the account's other devices (the package shares
   * them) become conversations here too.
   */
  async syncContacts(): Promise<void> {
    let added = false;
    for (const p of await this.host.account.contacts().catch(() => [])) {
      const known = this.host.contacts.get(p.userId);
      if (known && known.verified !== p.verified && !known.keyChanged && known.fingerprint === p.fingerprint) {
        known.verified = p.verified; // a mark set or cleared on another device
        await this.host.saveContact(known);
        added = true;
      }
      if (known && (await this.adoptName(known, p.name))) added = true;
      if (known || p.userId === this.host.account.userId) continue;
      const c: Contact = { key: randomId(), userId: p.userId, username: p.username, fingerprint: p.fingerprint, verified: p.verified, unread: 0, lastActivity: 0, createdAt: Date.now() };
      if (p.name && cleanName(p.name)) c.name = cleanName(p.name);
      this.host.contacts.set(c.userId, c);
      await this.host.saveContact(c);
      added = true;
    }
    if (added) this.host.changed({ contacts: true });
  }

  /** Looks a username up (pinning it on first use) and adds the contact. */
  async addContact(username: string): Promise<Contact> {
    let p;
    try {
      p = await this.host.account.lookup(username);
    } catch (e) {
      const known = [...this.host.contacts.values()].find((c) => c.username === username.trim().toLowerCase());
      if (errorCode(e) === 'IDENTITY_CHANGED' && known) {
        await this.markKeyChanged(known, identityChange(e));
        return known;
      }
      throw e;
    }
    if (p.userId === this.host.account.userId) throw Object.assign(new Error('That is you.'), { code: 'SELF' });
    let c = this.host.contacts.get(p.userId);
    if (!c) {
      c = {
        key: randomId(),
        userId: p.userId,
        username: p.username,
        fingerprint: p.fingerprint,
        verified: p.verified,
        unread: 0,
        lastActivity: Date.now(),
        createdAt: Date.now(),
      };
      this.host.contacts.set(c.userId, c);
      await this.host.saveContact(c);
      this.host.changed({ contacts: true });
    }
    this.checkedAt.set(c.userId, Date.now());
    return c;
  }

  /** Records that `c`'s key changed and, when known, which key it is now (`d`, from the directory). */
  async markKeyChanged(c: Contact, d?: IdentityChangedDetails) {
    const known = d && (!d.userId || d.userId === c.userId) ? d : undefined;
    if (c.keyChanged && (!known || known.fingerprint === c.keyChanged.fingerprint)) return;
    c.keyChanged = { seenAt: c.keyChanged?.seenAt ?? Date.now() };
    if (known) Object.assign(c.keyChanged, { fingerprint: known.fingerprint, safety: known.safety });
    await this.host.saveContact(c);
    this.host.changed({ contacts: true, peer: c.userId });
  }

  /**
   * Re-reads a contact's keys from the directory (at most every `maxAgeMs`): notices a
   * changed key, or learns which key it is when only a message showed the change.
   */
  async checkContact(c: Contact, maxAgeMs = 60_000): Promise<void> {
    const last = this.checkedAt.get(c.userId) ?? 0;
    if (Date.now() - last < maxAgeMs || c.keyChanged?.fingerprint) return;
    this.checkedAt.set(c.userId, Date.now());
    try {
      await this.host.account.lookup(c.username);
    } catch (e) {
      if (errorCode(e) === 'IDENTITY_CHANGED') await this.markKeyChanged(c, identityChange(e));
      /* offline: check again later */
    }
  }

  /**
   * The user accepted a changed key: pin the new one, start fresh sessions, unverify.
   * When the directory now shows yet another key than the one on screen, that one is
   * pinned but stays marked as changed (with its own safety number) and this throws, so
   * the user compares again before anything is sent.
   */
  async acceptNewKey(c: Contact): Promise<void> {
    const shown = c.keyChanged?.fingerprint;
    await this.host.account.forgetContact(c.username);
    const p = await this.host.account.lookup(c.username);
    if (shown && p.fingerprint !== shown) {
      c.fingerprint = p.fingerprint;
      c.verified = false;
      c.keyChanged = { seenAt: Date.now(), fingerprint: p.fingerprint, safety: p.safety };
      await this.host.saveContact(c);
      this.host.changed({ contacts: true, peer: c.userId });
      throw Object.assign(new Error(`${c.username}'s key changed again. Compare the new safety number before you accept it.`), { code: 'IDENTITY_CHANGED' });
    }
    c.fingerprint = p.fingerprint;
    c.verified = false;
    delete c.keyChanged;
    await this.host.saveContact(c);
    this.host.changed({ contacts: true, peer: c.userId });
    this.host.kick();
  }

  /**
   * Names a contact (cleaned; '' goes back to the username): the package shares the name
   * with the account's other devices (never with the contact).
   */
  async rename(c: Contact, raw: string) {
    const name = cleanName(raw);
    await this.host.account.setContactName(c.username, name);
    if (name) c.name = name;
    else delete c.name;
    await this.host.saveContact(c);
    this.host.changed({ contacts: true, peer: c.userId });
  }

  /**
   * The name the account's devices share for `c` (`shared`: undefined if none ever was,
   * '' once removed) becomes this device's; a name kept here from before names were
   * shared is shared now instead. True when `c` changed.
   */
  private async adoptName(c: Contact, shared: string | undefined): Promise<boolean> {
    if (shared === undefined) {
      if (c.name) await this.host.account.setContactName(c.username, c.name).catch(() => {});
      return false;
    }
    const name = cleanName(shared);
    if ((c.name ?? '') === name) return false;
    if (name) c.name = name;
    else delete c.name;
    await this.host.saveContact(c);
    return true;
  }

  async setVerified(c: Contact, v: boolean) {
    await this.host.account.setVerified(c.username, v);
    c.verified = v;
    await this.host.saveContact(c);
    this.host.changed({ contacts: true, peer: c.userId });
  }
}
