// The composer's length limit: a counter near it and a notice above it. Text over the
// limit stays in the box as typed or pasted (a cut would send less than was written
// without saying so); it is not sent until it fits.

import { toast } from '../ui';
import { h } from '../util';

/** The longest message the composer sends, in characters (UTF-16 code units, as `maxLength` counted). */
export const MAX_MESSAGE_CHARS = 10_000;
/** The counter shows from this length on. */
const SHOW_FROM = MAX_MESSAGE_CHARS - 1_000;

/** Made once: `toLocaleString` builds a formatter per call, and the send path calls `fmt` four times (issue 13). */
const NUMBER = new Intl.NumberFormat('en-US');
const fmt = (n: number) => NUMBER.format(n);

/**
 * The counter for `text` (put it next to the composer): refreshes on input and on
 * `update()`. `fits()` says whether the text may be sent; when not, the counter says why
 * (the field is described by it; a refused send is also said in the toast).
 */
export function messageLimit(text: HTMLTextAreaElement) {
  const el = h('p.counter#compose-count', { 'data-testid': 'compose-count', hidden: true });
  text.setAttribute('aria-describedby', 'compose-count');
  const update = () => {
    const n = text.value.length;
    const over = n - MAX_MESSAGE_CHARS;
    el.hidden = n < SHOW_FROM;
    el.dataset.over = String(over > 0);
    text.setAttribute('aria-invalid', String(over > 0));
    el.textContent = over > 0
      ? `${fmt(n)} / ${fmt(MAX_MESSAGE_CHARS)} characters: ${fmt(over)} too many to send. Shorten it or split it into two messages; nothing was cut.`
      : `${fmt(n)} / ${fmt(MAX_MESSAGE_CHARS)} characters`;
  };
  text.addEventListener('input', update);
  update();
  return {
    el,
    update,
    fits(): boolean {
      update();
      const ok = text.value.length <= MAX_MESSAGE_CHARS;
      // Said on every refused send (the toast is a live region; the counter is not, so
      // it does not talk over each keystroke).
      if (!ok) toast(`Not sent: ${fmt(text.value.length - MAX_MESSAGE_CHARS)} characters too many.`);
      return ok;
    },
  };
}
