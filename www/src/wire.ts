// Message content on the wire (contentType APP_JSON, UTF-8 JSON):
//   {"v":1,"id":"<app id>","text":"hi"}          a chat message
// (delivery reports are the package's: "delivered to n of m devices").
// The sender's name comes from the package (every Client message carries it, checked
// against the sender's user id), so a first message from someone never looked up names
// its conversation; plain text (content type 0) from other Client apps shows too.
// `id` is chosen once per message by the sender (and is the package's idempotency key),
// so a message that arrives twice is recognised by the recipient.

import type { Incoming } from './backend/types';
import { dec, enc } from './util';

export const APP_JSON = 2;

/** The content of a chat message with app id `id`. */
export function encodeBody(id: string, text: string): Uint8Array {
  return enc.encode(JSON.stringify({ v: 1, id, text }));
}

/** What an incoming message may carry, validated. */
export interface Body {
  id?: string;
  text: string;
}
/** Longest message text kept (characters); longer ones are cut. */
const MAX_TEXT = 65_536;

/** The app content of `inc`, or null when it is malformed (dropped and acknowledged). */
export function parseBody(inc: Incoming): Body | null {
  if (inc.contentType !== APP_JSON) {
    return typeof inc.text === 'string' && inc.text ? { text: inc.text.slice(0, MAX_TEXT) } : null;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(inc.content));
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const o = raw as Record<string, unknown>;
  if (typeof o.text !== 'string') return null;
  const body: Body = { text: o.text.slice(0, MAX_TEXT) };
  if (typeof o.id === 'string') body.id = o.id;
  return body;
}
