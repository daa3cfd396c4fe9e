// Voice calls in the app (issue 12): the call on screen, the line each call leaves in the
// chat's history, and the notification for a ring. The rules (who may call, the ring's
// timeout, which device answers, the check of the connection against the contact's keys)
// are the engine's, the microphone and WebRTC the package's page host
// (sealpost-wasm/calls, attached by the backend); this only decides what to show and keep.
// The screen is screens/calling.ts (start-up) and screens/call.ts (loaded at the first call).

import type { Account, CallUpdate } from './backend/types';
import { FRIENDLY, friendly } from './errors';
import { notifyCall } from './notify';
import { type CallNotice, type Contact, displayName } from './records';
import { fmtDuration } from './util';

/** The call the screen shows. */
export interface CallView {
  /** The package's call id; '' while the microphone is asked (nothing rings yet). */
  id: string;
  /** The contact's user id, and what the app calls them. */
  peer: string;
  name: string;
  outgoing: boolean;
  /** `calling`: this side asked for the microphone; `ended`: it failed (see `error`). */
  state: 'calling' | 'ringing' | 'connecting' | 'connected' | 'ended';
  /** When it connected (ms), for the running duration. */
  connectedAt?: number;
  muted: boolean;
  /** Why it failed, in words: the screen stays until closed. */
  error?: string;
}

/** What calls need of the model. */
export interface CallHost {
  account: Account;
  contacts: Map<string, Contact>;
  /** Adds a line to `c`'s history, stored like the other markers, never sent. */
  note(c: Contact, text: string, kind: CallNotice): Promise<void>;
  /** A call happened with `c`: its chat moves up; `unread`: a missed call, counted unless on screen. */
  activity(c: Contact, unread: boolean): void;
}

type Code = NonNullable<CallUpdate['reason']>;
/** Endings that are failures: the screen stays and says why. */
const FAILED = new Set<Code>(['CALL_FINGERPRINT_MISMATCH', 'CALL_FAILED', 'CALL_NOT_ALLOWED', 'CALL_NO_DEVICES', 'CALL_IN_PROGRESS']);
/** Failures the history keeps: of a call that rang (the others never started anything). */
const FAILED_LINE = new Set<Code>(['CALL_FINGERPRINT_MISMATCH', 'CALL_FAILED']);

export class Calls {
  view: CallView | null = null;
  private listeners = new Set<() => void>();
  /** How far each call got (cleared when it ends). */
  private reached = new Map<string, 'connecting' | 'connected'>();
  /** Hung up while the microphone was asked: the call is ended as soon as it has an id. */
  private cancelled = false;
  /** This side's call gave way to the contact's own call to us (glare): that one is shown next. */
  private merging = false;
  private unnotify = () => {};

  constructor(private host: CallHost) {}

  /** Calls `f` whenever `view` changed. */
  on(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }
  private changed() {
    for (const f of this.listeners) f();
  }
  private show(v: CallView | null) {
    this.view = v;
    this.changed();
  }

  /** Calls `c` (the microphone is asked now, never before); one call at a time. */
  async call(c: Contact): Promise<void> {
    if (this.view && this.view.state !== 'ended') return;
    this.cancelled = false;
    this.show({ id: '', peer: c.userId, name: displayName(c), outgoing: true, state: 'calling', muted: false });
    try {
      const calls = await this.host.account.calls();
      calls.mute(false);
      const id = await calls.call(c.username);
      if (this.cancelled) return void (await calls.hangUp(id));
      if (this.view?.peer === c.userId && !this.view.id) this.view.id = id;
    } catch (e) {
      if (this.view?.peer === c.userId && !this.view.id) this.fail(friendly(e));
    }
  }

  /** Takes the ringing call (the microphone is asked now). */
  async accept(): Promise<void> {
    const v = this.view;
    if (!v || v.state !== 'ringing' || v.outgoing) return;
    v.state = 'connecting';
    this.changed();
    try {
      const calls = await this.host.account.calls();
      calls.mute(false);
      await calls.accept(v.id);
    } catch (e) {
      if (this.view === v) this.fail(friendly(e));
    }
  }

  /** Refuses the ringing call. */
  decline(): Promise<void> {
    return this.end((calls, id) => calls.decline(id));
  }

  /** Ends the call on screen (a caller's before an answer cancels it); the screen closes at once. */
  hangUp(): Promise<void> {
    return this.end((calls, id) => calls.hangUp(id));
  }

  private async end(how: (calls: Awaited<ReturnType<Account['calls']>>, id: string) => Promise<void>) {
    const v = this.view;
    if (!v) return;
    this.show(null);
    this.unnotify();
    if (v.state === 'ended') return;
    if (!v.id) {
      this.cancelled = true;
      return;
    }
    // The engine's answer ("ended") adds the history line; the other side closes on it.
    await how(await this.host.account.calls(), v.id).catch(() => undefined);
  }

  /** Mutes or unmutes this side's microphone. */
  async toggleMute(): Promise<void> {
    const v = this.view;
    if (!v) return;
    v.muted = (await this.host.account.calls()).mute(!v.muted);
    this.changed();
  }

  /** Puts away a failed call's screen. */
  close() {
    if (this.view?.state === 'ended') this.show(null);
  }

  /** The account is going away (lock, another tab): the call ends with it. */
  stop() {
    if (this.view && this.view.state !== 'ended') void this.hangUp();
    this.show(null);
  }

  private fail(error: string) {
    this.unnotify();
    if (this.view) this.show({ ...this.view, state: 'ended', error });
  }

  /** The package's report of a call (Handlers.onCall). */
  update(u: CallUpdate) {
    const v = this.view;
    const mine = !!v && (v.id === u.call || (!v.id && v.outgoing && u.outgoing && v.peer === u.user) || (this.merging && v.peer === u.user && !u.outgoing));
    if (u.state === 'ended') {
      const reached = this.reached.get(u.call);
      this.reached.delete(u.call);
      if (u.reason !== 'CALL_MERGED') void this.record(u, reached).catch((e) => console.warn('sealpost: call history', e));
      if (!mine) return;
      if (u.reason === 'CALL_MERGED') {
        this.merging = true;
        return;
      }
      const failed = u.error ?? (u.reason && FAILED.has(u.reason) ? u.reason : undefined);
      if (failed) this.fail(FRIENDLY[failed]);
      else {
        this.unnotify();
        this.show(null);
      }
      return;
    }
    if (u.state !== 'ringing') this.reached.set(u.call, u.state);
    if (!mine) {
      // Another call while one is on: the engine answers it busy (a missed call).
      if (v && v.state !== 'ended') return;
      const c = this.host.contacts.get(u.user);
      const name = c ? displayName(c) : (u.username ?? 'Someone');
      this.view = { id: u.call, peer: u.user, name, outgoing: u.outgoing, state: u.state, muted: false };
      if (u.state === 'ringing' && !u.outgoing) this.unnotify = notifyCall(u.user, name);
    }
    const w = this.view!;
    this.merging = false;
    Object.assign(w, { id: u.call, outgoing: u.outgoing, state: u.state });
    if (u.state === 'connected') w.connectedAt ??= Date.now();
    if (u.state !== 'ringing') this.unnotify();
    this.changed();
  }

  /** The history line for a call that ended (`reached`: how far it got). */
  private async record(u: CallUpdate, reached?: 'connecting' | 'connected') {
    const c = this.host.contacts.get(u.user);
    const r = u.reason;
    if (!c || !r) return; // no chat to put it in
    const who = displayName(c);
    const failed = u.error ?? (FAILED_LINE.has(r) ? r : undefined);
    if (!failed && FAILED.has(r)) return; // never started: the screen said why
    let missed = false;
    let text: string;
    if (failed) text = FRIENDLY[failed];
    else if (reached === 'connected') text = `Call ended · ${fmtDuration(u.duration ?? 0)}`;
    else if (r === 'CALL_DECLINED') text = u.outgoing ? `${who} declined the call` : `You declined a call from ${who}`;
    else if (r === 'CALL_NO_ANSWER') text = `${who} did not answer`;
    else if (r === 'CALL_BUSY') text = `${who} was on another call`;
    else if (r === 'CALL_ELSEWHERE') text = `Call from ${who} taken on another of your devices`;
    else if (reached) text = 'The call ended before it connected';
    else if (u.outgoing) text = 'Call cancelled';
    else {
      text = `Missed call from ${who}`;
      missed = true;
    }
    await this.host.note(c, text, failed ? 'callFailed' : 'call');
    this.host.activity(c, missed);
  }
}
