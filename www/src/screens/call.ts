// The call screen, over the app while a call rings, connects or is on: who, the state,
// the running duration, mute and hang up; accept and decline while it rings; why it
// failed. Loaded at the first call (src/lazy.ts), so it imports nothing of the app at run
// time: screens/calling.ts hands it the DOM builder and the actions.

import type { CallView } from '../calls';
import type { fmtDuration, h } from '../util';

export interface Kit {
  h: typeof h;
  duration: typeof fmtDuration;
  accept(): void;
  decline(): void;
  hangUp(): void;
  mute(): void;
  close(): void;
}

/** The screen's parts, built when it opens and updated in place (the state line is a live region). */
interface Parts {
  layer: HTMLElement;
  title: HTMLElement;
  avatar: HTMLElement;
  state: HTMLElement;
  time: HTMLTimeElement;
  muted: HTMLElement;
  error: HTMLElement;
  actions: HTMLElement;
  /** Which buttons `actions` holds. */
  set: string;
  /** Where the focus was before the screen opened. */
  back: Element | null;
}

let parts: Parts | null = null;
let tick: ReturnType<typeof setInterval> | undefined;

function stateText(v: CallView): string {
  if (v.state === 'ringing') return v.outgoing ? 'Ringing…' : 'Incoming call';
  return { calling: 'Calling…', connecting: 'Connecting…', connected: 'Connected', ended: 'Call failed' }[v.state];
}

function open(kit: Kit): Parts {
  const { h } = kit;
  const title = h('h2.call-title', { id: 'call-title', tabIndex: -1 });
  const p: Parts = {
    layer: h('div.call-layer', { 'data-testid': 'call-screen' }),
    title,
    avatar: h('span.avatar.call-avatar', { 'aria-hidden': 'true' }),
    state: h('p.call-state', { role: 'status', 'data-testid': 'call-state' }),
    time: h('time.call-duration', { 'data-testid': 'call-duration' }),
    muted: h('p.call-muted', { 'data-testid': 'call-muted' }, 'Your microphone is off'),
    error: h('p.error', { role: 'alert', 'data-testid': 'call-error' }),
    actions: h('div.call-actions'),
    set: '',
    back: document.activeElement,
  };
  p.layer.append(h('section.call', { role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'call-title' }, p.avatar, title, p.state, p.time, p.muted, p.error, p.actions));
  document.body.append(p.layer);
  // Nothing behind the screen takes focus or clicks until the call ends.
  const app = document.getElementById('app');
  if (app) app.inert = true;
  // The heading, not a button: a ring must not be answered by a key meant for the composer.
  title.focus();
  return p;
}

function close() {
  if (!parts) return;
  const app = document.getElementById('app');
  if (app) app.inert = false;
  parts.layer.remove();
  if (parts.back instanceof HTMLElement && parts.back.isConnected) parts.back.focus({ preventScroll: true });
  parts = null;
}

/** The buttons for `v`: accept and decline while it rings here, close once failed, else mute and hang up. */
function buttons(v: CallView, kit: Kit): [string, HTMLElement[]] {
  const { h } = kit;
  const button = (cls: string, id: string, label: string, onclick: () => void, extra: Record<string, unknown> = {}) =>
    h('button', { type: 'button', class: cls, 'data-testid': id, onclick, ...extra }, label);
  if (v.state === 'ended') return ['ended', [button('primary', 'call-close', 'Close', kit.close)]];
  if (v.state === 'ringing' && !v.outgoing) {
    return ['ringing', [button('danger', 'call-decline', 'Decline', kit.decline), button('primary', 'call-accept', 'Accept', kit.accept)]];
  }
  return ['call', [button('call-mute', 'call-mute', 'Mute', kit.mute, { 'aria-pressed': 'false' }), button('danger', 'call-hangup', 'Hang up', kit.hangUp)]];
}

/** Shows `v` (null: no call, the screen closes). */
export function showCall(v: CallView | null, kit: Kit) {
  clearInterval(tick);
  if (!v) return close();
  const p = (parts ??= open(kit));
  p.layer.dataset.state = v.state;
  p.layer.dataset.direction = v.outgoing ? 'out' : 'in';
  p.title.textContent = v.name;
  p.avatar.textContent = v.name.slice(0, 1).toUpperCase();
  const words = stateText(v);
  if (p.state.textContent !== words) p.state.textContent = words;
  p.muted.hidden = !v.muted || v.state === 'ended';
  p.error.textContent = v.error ?? '';
  p.error.hidden = !v.error;
  const [set, list] = buttons(v, kit);
  if (p.set !== set) {
    const hadFocus = p.actions.contains(document.activeElement);
    p.set = set;
    p.actions.replaceChildren(...list);
    if (hadFocus || set === 'ended') (p.actions.querySelector<HTMLElement>('.primary') ?? p.title).focus();
  }
  p.actions.querySelector('[data-testid=call-mute]')?.setAttribute('aria-pressed', String(v.muted));
  // The duration runs from the connection on (the engine's, after the key check).
  p.time.hidden = v.connectedAt === undefined || v.state === 'ended';
  const at = v.connectedAt;
  if (at !== undefined && v.state !== 'ended') {
    const show = () => {
      const secs = Math.floor((Date.now() - at) / 1000);
      p.time.textContent = kit.duration(secs);
      p.time.dateTime = `PT${secs}S`;
    };
    show();
    tick = setInterval(show, 1000);
  }
}
