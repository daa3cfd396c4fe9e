// What the start-up bundle holds of calls' screens: the chat header's call button, and
// keeping the call screen (./call.ts, a chunk loaded at the first call) in step with the
// model. A lazily loaded chunk must stand alone, so the call screen gets the DOM builder
// and the actions from here.

import { friendly } from '../errors';
import { lazily } from '../lazy';
import type { Model } from '../model';
import { type Contact, displayName } from '../records';
import { toast } from '../ui';
import { fmtDuration, h } from '../util';
import type { Kit } from './call';

const screen = lazily('call', () => import('./call'));

/** The header's button that calls `c` (the microphone is asked only then). */
export function callButton(m: Model, c: Contact): HTMLButtonElement {
  return h(
    'button.call-button',
    {
      type: 'button',
      'data-testid': 'call',
      'aria-label': `Call ${displayName(c)}`,
      title: c.keyChanged ? 'Their key changed: review it before you call.' : 'Voice call, encrypted end to end',
      disabled: !!c.keyChanged,
      onclick: () => void m.calls.call(c),
    },
    h('span', { 'aria-hidden': 'true' }, '📞 '),
    'Call',
  );
}

/** Shows `m`'s call on screen whenever it changes, for as long as the account is open. */
export function watchCalls(m: Model) {
  const kit: Kit = {
    h,
    duration: fmtDuration,
    accept: () => void m.calls.accept(),
    decline: () => void m.calls.decline(),
    hangUp: () => void m.calls.hangUp(),
    mute: () => void m.calls.toggleMute(),
    close: () => m.calls.close(),
  };
  m.calls.on(() => {
    screen()
      .then((s) => s.showCall(m.calls.view, kit))
      .catch((e: unknown) => toast(friendly(e)));
  });
}
