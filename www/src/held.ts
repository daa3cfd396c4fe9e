// Amendments waiting for their message (PROTOCOL.md 28.3): an edit, deletion or reaction
// the relay handed over before the text it names is held until that text arrives, at
// most MAX_HELD per conversation; beyond that the oldest goes (and the caller says so).
// No I/O here: convo.ts stores what is held; www/tests/units.mjs tests this file.

/** Held amendments per conversation at most (the engine's `MAX_HELD`). */
export const MAX_HELD = 256;

/** What holding needs of an amendment. */
export interface Holdable {
  msgId: string;
  target?: string;
  conversation: string;
}

export class HeldAmendments<H extends Holdable> {
  /** By target message id. */
  private byTarget = new Map<string, H[]>();
  /** By conversation, oldest first. */
  private byConvo = new Map<string, H[]>();

  constructor(private max = MAX_HELD) {}

  /** Holds `h`; returns what was dropped to make room (the conversation's oldest). */
  add(h: H): H[] {
    if (typeof h.target !== 'string') return [];
    const queue = this.byConvo.get(h.conversation) ?? [];
    if (queue.some((x) => x.msgId === h.msgId)) return []; // a replay of one already held
    const dropped: H[] = [];
    while (queue.length >= this.max) {
      const old = queue.shift()!;
      dropped.push(old);
      const list = this.byTarget.get(old.target!)!.filter((x) => x !== old);
      if (list.length) this.byTarget.set(old.target!, list);
      else this.byTarget.delete(old.target!);
    }
    queue.push(h);
    this.byConvo.set(h.conversation, queue);
    this.byTarget.set(h.target, [...(this.byTarget.get(h.target) ?? []), h]);
    return dropped;
  }

  /** Takes (removes) what waits for `target`, in the order it came. */
  take(target: string): H[] {
    const list = this.byTarget.get(target) ?? [];
    this.byTarget.delete(target);
    for (const h of list) {
      const queue = (this.byConvo.get(h.conversation) ?? []).filter((x) => x !== h);
      if (queue.length) this.byConvo.set(h.conversation, queue);
      else this.byConvo.delete(h.conversation);
    }
    return list;
  }

  /** How many wait in `conversation`. */
  count(conversation: string): number {
    return this.byConvo.get(conversation)?.length ?? 0;
  }
}
