// Orders without I/O, shared by the conversation code and its unit test
// (www/tests/units.mjs): which of two edits, reactions or timers holds, and where an
// arriving message goes in its conversation.

/** A sender's clock (s) and the package's message id. */
export interface Stamp {
  at: number;
  id: string;
}

/**
 * Whether `a` comes after `b` in `(sent_at, msg_id)` order (PROTOCOL.md 28.3; the
 * engine's `rules::newer`): every device keeps the same edit, reaction and timer. Kept
 * here rather than asked of the package: it is one tuple comparison, and the worker would
 * cost a round trip for each (the package does not export it).
 */
export function newer(a: Stamp, b?: Stamp): boolean {
  return !b || a.at > b.at || (a.at === b.at && a.id > b.id);
}

/** What placing a message needs to know of it. */
export interface Placed {
  /** A marker line, not a message. */
  notice?: string;
  /** The sender's clock (s); absent on messages this device wrote. */
  sentAt?: number;
  /** The writing device's number for it (PROTOCOL.md 17.2); absent or 0 from an older version. */
  seq?: number;
  /** The device that wrote it; absent on messages this device wrote. */
  fromDevice?: string;
}

/** Whose clock `m.sentAt` is (its writing device); null for this device's own messages and markers. */
function writer(m: Placed): string | null {
  return m.notice || m.sentAt === undefined || !m.fromDevice ? null : m.fromDevice;
}

/** Whether `x` was sent after `m` by their (same) writing device: `(sentAt, seq)` order. */
function sentAfter(x: Placed, m: Placed): boolean {
  return x.sentAt! > m.sentAt! || (x.sentAt === m.sentAt && (x.seq ?? 0) > (m.seq ?? 0));
}

/**
 * Where `m` goes in `list` (the index to insert at): before the messages of the same
 * writing device that it was sent before (by `(sentAt, seq)`, PROTOCOL.md 18.2),
 * whatever path brought them first. A direct channel opened mid-burst can hand over a
 * device's later messages while earlier ones are still on the relay, and the relay can
 * take one device's deposits out of order (a failed deposit retried after newer ones);
 * each is then shown where its writer put it. Other devices' messages keep their places
 * (their clocks are not compared: a contact's phone and laptop may disagree by seconds),
 * and so do one device's messages of the same second from a version without `seq` (the
 * order they came in).
 */
export function placeOf(list: readonly Placed[], m: Placed): number {
  const who = writer(m);
  let at = list.length;
  if (!who) return at;
  for (let i = list.length - 1; i >= 0; i--) {
    const x = list[i];
    if (writer(x) !== who) continue;
    if (sentAfter(x, m)) at = i;
    else break;
  }
  return at;
}

/** `list` in arrival order (by `at`), each placed as it was when it arrived (placeOf). */
export function arrange<T extends Placed & { at: number }>(list: T[]): T[] {
  const out: T[] = [];
  for (const m of [...list].sort((a, b) => a.at - b.at)) out.splice(placeOf(out, m), 0, m);
  return out;
}

/**
 * This device's arrival clock for `at`: the wall clock in ms, but always after every
 * stamp it gave and every stored one it was shown. `arrange` orders a reloaded
 * conversation by `at`, and messages that `placeOf` does not order (different devices,
 * or one device's of the same second without `seq`) keep that order; two messages
 * handled in the same millisecond would tie,
 * and a tie came back in the order records leave storage (by their random keys): the
 * devices e2e saw A1's #049 before #048 on A2 after a reload that way.
 */
export class ArrivalClock {
  private last = 0;
  constructor(private now: () => number = Date.now) {}
  /**
   * A stamp already given (a stored or imported message): later ones come after it. One
   * ahead of the clock now (another device's clock, or this one set back since) is not
   * followed: stamps would run ahead of the time shown for every message after it.
   */
  seen(at: number) {
    if (at > this.last && at <= this.now()) this.last = at;
  }
  /** The next arrival stamp. */
  next(): number {
    this.last = Math.max(this.now(), this.last + 1);
    return this.last;
  }
}
