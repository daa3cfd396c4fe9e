import type { DirectEvent, DirectInput } from './index.js';

/** What `attachDirect` needs of a client: a `Client` or a `RemoteClient`. */
export interface DirectClient {
  onDirect(listener: (event: DirectEvent) => void): void;
  directInput(input: DirectInput): void | Promise<void>;
  /** A RemoteClient's: the data channels go to its worker when the browser can transfer them. */
  adoptDirectChannel?(channel: RTCDataChannel, user: string, device: string, onState: (state: "open" | "closed") => void): number | null;
  forgetDirectChannel?(id: number, user: string, device: string): void;
}

export interface DirectOptions {
  /** STUN/TURN servers (none needed on one network). */
  iceServers?: RTCIceServer[];
  /** Tests only: rewrites this page's SDP after its fingerprint was taken. */
  tamperSdp?: (sdp: string, kind: "offer" | "answer") => string;
}

/**
 * Hosts the client's direct channels on this page (RTCPeerConnection is not available in
 * workers everywhere). With a RemoteClient, each data channel is handed to its worker
 * when the browser can transfer it (frames then skip this page's main thread); the page
 * keeps the connection and the certificate check. Call once per client, then
 * `client.connectDirect(contact)`.
 */
export function attachDirect(client: DirectClient, options?: DirectOptions): { close(): void };
