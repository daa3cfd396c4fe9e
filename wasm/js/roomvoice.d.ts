// Types of room voice (`attachRoomVoice` from sealpost-wasm/roomvoice): docs/PROTOCOL.md 30.6.
import type { RoomEvent } from './rooms.js';

/** What room voice tells the app (`options.onEvent`). */
export type RoomVoiceEvent =
  /** Member `member` said its voice is on, or turned it off (or left). */
  | { event: "voice"; member: number; on: boolean }
  /** The connection to `member`: "connected" only once its certificate is the sealed one. */
  | { event: "peer"; member: number; state: "connecting" | "connected" | "closed" }
  /** A signal of `from` that was ignored: not 30.6's JSON (`MALFORMED`), against the
   * lower-id rule or out of turn (`UNEXPECTED`), or an SDP or certificate whose
   * fingerprint is not the one sealed in the signal (`FINGERPRINT_MISMATCH`). */
  | { event: "refused"; from: number; reason: "MALFORMED" | "UNEXPECTED" | "FINGERPRINT_MISMATCH" };

/** `start()` rejects with it when the microphone is refused. */
export type RoomVoiceErrorCode = "ROOM_NO_MICROPHONE";

export interface RoomVoiceOptions {
  /** STUN/TURN servers (none needed on one network); a function is asked per connection. */
  iceServers?: RTCIceServer[] | (() => RTCIceServer[] | Promise<RTCIceServer[]>);
  /** The microphone (default `navigator.mediaDevices.getUserMedia({ audio: true })`). */
  getUserMedia?: () => Promise<MediaStream>;
  onEvent?: (event: RoomVoiceEvent) => void;
}

/** What room voice needs of a room: a `Room`, or a stand-in for one in a worker. */
export interface RoomSignaller {
  readonly me: number | undefined;
  sendSignal(to: number, data: string): unknown;
}

export interface RoomVoice {
  /** Whether this page's voice is on. */
  readonly on: boolean;
  readonly muted: boolean;
  /** Give it every event of the room (signals, departures, the room closing). */
  handle(event: RoomEvent): void;
  /** Asks for the microphone and turns voice on; rejects with code `ROOM_NO_MICROPHONE`. */
  start(): Promise<void>;
  /** Mutes or unmutes (kept across stop/start); returns the new state. */
  mute(on?: boolean): boolean;
  /** Turns voice off: tells the others, closes every connection, frees the microphone. */
  stop(): void;
  /** The other members whose voice is on, and the connection to each. */
  peers(): { member: number; state: "none" | "connecting" | "connected" }[];
  /** Audio bytes sent to and received from each member connected or connecting. */
  stats(): Promise<{ member: number; bytesSent: number; bytesReceived: number }[]>;
}

/** The signal data of 30.6 as `{ t, fp?, sdp? }`, or null. */
export function parseSignal(data: string): { t: "on" | "here" | "bye" | "offer" | "answer"; fp?: string; sdp?: string } | null;
/** Whether every `a=fingerprint:` line of `sdp` is sha-256 of `fp` (and there is one). */
export function sdpMatches(sdp: string, fp: string): boolean;
/** Voice for `room` on this page (RTCPeerConnection is not in workers). */
export function attachRoomVoice(room: RoomSignaller, options?: RoomVoiceOptions): RoomVoice;
