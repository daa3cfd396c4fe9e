import type { CallEndCode } from './index.js';
import type { DirectClient } from './direct.js';

/** A call's state as the app sees it (`attachCalls(...).onCall`). */
export interface CallUpdate {
  /** The call's id (32 hex digits). */
  call: string;
  /** The contact's user id (hex) and, when known, username. */
  user: string;
  username?: string;
  /** Whether this device placed the call. */
  outgoing: boolean;
  state: "ringing" | "connecting" | "connected" | "ended";
  /** Ringing: the deadline (unix seconds). */
  until?: number;
  /** Ended: why (`CALL_MISSED` on the callee's side makes a missed-call entry) and for
   * how many seconds it was connected. */
  reason?: CallEndCode;
  duration?: number;
  /** Ended: this page could not get the microphone (then `reason` is `CALL_FAILED`). */
  error?: CallErrorCode;
}

/** What this page adds to the engine's codes: `call()` rejects with it when the
 * microphone is refused, and an accepted call that could not get one ends with it as
 * `error`. */
export type CallErrorCode = "CALL_NO_MICROPHONE";

export interface CallOptions {
  /** STUN/TURN servers (none needed on one network); see `Client.iceServers`. A function
   * is asked for each connection (the relay's TURN credentials expire); if it fails, the
   * call goes on without servers. */
  iceServers?: RTCIceServer[] | (() => RTCIceServer[] | Promise<RTCIceServer[]>);
  /** The microphone (default `navigator.mediaDevices.getUserMedia({ audio: true })`). */
  getMedia?: () => Promise<MediaStream>;
  /** Tests only: rewrites this page's SDP after its fingerprint was taken. */
  tamperSdp?: (sdp: string, kind: "offer" | "answer") => string;
}

export interface Calls {
  /** Asks for the microphone, then rings every device of `contact` (looked up before).
   * Resolves to the call id; rejects with code `CALL_NO_MICROPHONE` if refused. */
  call(contact: string): Promise<string>;
  /** Takes an incoming call (the microphone is asked now). */
  accept(call: string): Promise<void>;
  /** Refuses an incoming call. */
  decline(call: string): Promise<void>;
  /** Ends a call (the current one by default). */
  hangUp(call?: string): Promise<void>;
  /** Mutes or unmutes the microphone (also of calls to come, until unmuted); returns the
   * new state. */
  mute(on?: boolean): boolean;
  readonly muted: boolean;
  onCall(listener: (update: CallUpdate) => void): void;
  /** Audio bytes sent and received so far (getStats). */
  stats(call?: string): Promise<{ bytesSent: number; bytesReceived: number }>;
  /** When the call connected (ms since the epoch). */
  connectedAt(call?: string): number | undefined;
}

/**
 * Hosts the client's voice calls on this page (RTCPeerConnection and the microphone are
 * not available in workers). Call once per client, next to `attachDirect`.
 */
export function attachCalls(client: DirectClient, options?: CallOptions): Calls;
