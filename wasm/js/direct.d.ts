import type { DirectEvent, DirectInput } from './index.js';

/** What `attachDirect` needs of a client: a `Client` or a `RemoteClient`. */
export interface DirectClient {
  onDirect(listener: (event: DirectEvent) => void): void;
  directInput(input: DirectInput): void | Promise<void>;
}

export interface DirectOptions {
  /** STUN/TURN servers (none needed on one network). */
  iceServers?: RTCIceServer[];
  /** Tests only: rewrites this page's SDP after its fingerprint was taken. */
  tamperSdp?: (sdp: string, kind: "offer" | "answer") => string;
}

/**
 * Hosts the client's direct channels on this page (RTCPeerConnection is not available in
 * workers everywhere). Call once per client, then `client.connectDirect(contact)`.
 */
export function attachDirect(client: DirectClient, options?: DirectOptions): { close(): void };
