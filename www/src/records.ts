// What the app keeps and shows: contacts, messages (and marker lines) as stored, sealed,
// in IndexedDB by the model.

import type { Notice, SafetyInfo } from './backend/types';

export type MsgState = 'queued' | 'sending' | 'relay' | 'delivered' | 'failed';

export interface Contact {
  key: string;
  userId: string;
  username: string;
  /**
   * The name the user gave this contact (local to the account: sealed with the other
   * records, carried by a device link and an export file; never sent to the contact).
   */
  name?: string;
  /** Pinned identity fingerprint. */
  fingerprint: string;
  verified: boolean;
  /**
   * Set when the directory or a message shows a different identity key. `fingerprint` and
   * `safety` describe the new key when the package said which it is (the directory's
   * IDENTITY_CHANGED details; a message signed by another key alone does not tell).
   */
  keyChanged?: KeyChange;
  unread: number;
  lastActivity: number;
  /** The conversation's disappearing time (PROTOCOL.md 28.3), newest by (at, id). */
  timer?: { secs: number; at: number; id: string };
  createdAt: number;
}

/** Longest contact name kept (characters). */
export const MAX_NAME = 64;
/** And in UTF-8 bytes: what the package shares with the account's other devices. */
const MAX_NAME_BYTES = 96;

/**
 * A contact name as stored: control characters, direction overrides (which could make a
 * name read as another) and surrounding spaces gone, at most MAX_NAME characters and
 * MAX_NAME_BYTES bytes; '' means none (the username shows).
 */
export function cleanName(raw: string): string {
  const chars = [...raw.replace(/[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/gu, ' ').replace(/\s+/g, ' ').trim()].slice(0, MAX_NAME);
  const utf8 = new TextEncoder();
  while (utf8.encode(chars.join('')).length > MAX_NAME_BYTES) chars.pop();
  return chars.join('').trim();
}

/** What screens, notices and notifications call a contact: the user's name for it, else the username. */
export function displayName(c: Pick<Contact, 'name' | 'username'>): string {
  return c.name || c.username;
}

/** A call in the history (calls.ts): how it ended, or (`callFailed`) why it failed. */
export type CallNotice = 'call' | 'callFailed';

export interface KeyChange {
  seenAt: number;
  /** SHA-256 of the new identity key (64 hex). */
  fingerprint?: string;
  /** The safety number with the new key. */
  safety?: SafetyInfo;
}

export interface Msg {
  id: string;
  peer: string; // userId
  dir: 'in' | 'out';
  text: string;
  at: number; // local ms (send click or receipt)
  sentAt?: number; // sender clock, secs
  /** The writing device's number for it (orders its messages of one second; 0 or absent: none). */
  seq?: number;
  /** The device that wrote it (the package's device id), for messages from other devices. */
  fromDevice?: string;
  state: MsgState;
  error?: string;
  /** Protocol v2: the package's id of a sent message (its delivery reports name it). */
  wireId?: string;
  /** Protocol v2: how many of the devices it was sealed to opened it. */
  delivery?: { delivered: number; total: number };
  /** Outgoing, sent from another device of this account (a sync copy). */
  otherDevice?: boolean;
  /** A marker line, not a message: `text` says what happened. */
  notice?: Notice['kind'] | 'refused' | 'timer' | 'expired' | 'unsupported' | 'group' | CallNotice;
  /** A group message: its sender (user id); `peer` is the group. */
  from?: string;
  /** The message this one replies to (the package's message id). */
  replyTo?: string;
  /** The newest edit applied (its sender's clock and message id). */
  edit?: { at: number; id: string };
  /** Deleted for everyone: the text is gone. */
  deleted?: boolean;
  /** Reactions by user id, newest per person; an empty emoji was taken back. */
  reactions?: Record<string, { at: number; id: string; emoji: string }>;
  /** A disappearing message: removed on this device at this time (s). */
  expiresAt?: number;
  /** Seconds it lives (sent with it). */
  expiresIn?: number;
  /** The recipient read it (their opt-in read receipt). */
  readByPeer?: boolean;
  /** This device sent a read receipt for it. */
  readSent?: boolean;
  /** A file (then `text` is its name). */
  file?: FileRef;
}

/** A file message: what its manifest says, and the manifest itself once there is one. */
export interface FileRef {
  name: string;
  type: string;
  size: number;
  /** The package's manifest (base64): the key to fetch and open the file. Secret. */
  manifest?: string;
  /**
   * Outgoing, until sent: the key the file is encrypted under (base64). Secret. Kept so
   * that an upload cut off by a reload starts again where it was (the same file under
   * the same key seals into the same chunks); the manifest holds it once sent.
   */
  key?: string;
  /**
   * Outgoing, until sent: the file's SHA-256 (base64), taken before its upload began. A
   * file picked again after a reload must have it (the package checks before anything
   * is sent): another file of the same size never goes out under this one's name.
   */
  sha256?: string;
  /** Images: the preview (base64) and its type. */
  thumb?: string;
  thumbType?: string;
  durationMs?: number;
}

/** The marker line for `n` (never message text). */
export function noticeText(n: Notice, name?: string): string {
  const who = name ?? n.username;
  switch (n.kind) {
    case 'undecryptable':
      return who ? `A message from ${who} could not be decrypted.` : 'A message could not be decrypted.';
    case 'missing':
      if ((n.count ?? 1) > 1) return who ? `${n.count} messages from ${who} may be missing.` : `${n.count} messages may be missing.`;
      return who ? `A message from ${who} may be missing.` : 'A message may be missing.';
    case 'notDelivered':
      return who ? `A message to ${who} reached none of their devices.` : 'A message reached none of the recipient’s devices.';
    case 'unreachable':
      // The directory answered that the account does not exist (deleted, or a relay
      // that says so): not a forged message, so not a security warning.
      return who ? `The relay's directory has no account ${who} now: messages to them cannot be delivered.` : 'The relay’s directory has no such account now: messages to it cannot be delivered.';
    default:
      return `Security warning${who ? ` about ${who}` : ''}: ${n.detail || 'a message was refused because it was not signed by the key you have for this contact.'}`;
  }
}
