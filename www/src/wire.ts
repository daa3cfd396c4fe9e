// Message content on the wire: the package's conversation content (docs/PROTOCOL.md 28).
// A chat message is plain text (content type 0); the package de-duplicates by its
// message id, stable across re-sends because the app's own message id is the send's
// idempotency key. Content type 2 is a file manifest (26.5), never app JSON.
// The sender's name comes from the package (every Client message carries it, checked
// against the sender's user id), so a first message from someone never looked up names
// its conversation.

import type { Incoming } from './backend/types';
import type { FileRef } from './records';
import { enc } from './util';

export const TEXT = 0;

/** The content of a chat message. */
export function encodeBody(text: string): Uint8Array {
  return enc.encode(text);
}

/** What an incoming message may carry, validated. */
export interface Body {
  text: string;
  /** A file message (kind "file"): what its manifest says. */
  file?: FileRef;
}
/** Longest message text kept (characters); longer ones are cut. */
const MAX_TEXT = 65_536;

/** The text of `inc`, or null when it is nothing this app shows (dropped and acknowledged). */
export function parseBody(inc: Incoming): Body | null {
  return typeof inc.text === 'string' && inc.text ? { text: inc.text.slice(0, MAX_TEXT) } : null;
}
