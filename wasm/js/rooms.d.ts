// Types of rooms (`createRoom`, `joinRoom` from sealpost-wasm): docs/PROTOCOL.md 30.

/** What a room tells the app (`options.onEvent`). Member ids are small numbers; 1 is the host. */
export type RoomEvent =
  | { event: "admitted"; me: number; members: number[] }
  | { event: "joined" | "left"; member: number }
  | { event: "join-refused"; member: number }
  | { event: "wrong-code" }
  | { event: "hello"; from: number; name: string }
  | { event: "text"; from: number; private: boolean; text: string }
  | { event: "signal"; from: number; data: string }
  | { event: "rekeyed"; epoch: number }
  /** `via` sees `member` but nothing of it reaches this page: the relay drops its frames
   * here, or said it left (PROTOCOL.md 30.4 "Rosters"). Said once it lasted 3 s (a
   * newcomer hears from the others one round trip after joining). */
  | { event: "unreached"; member: number; via: number }
  /** `by` is shown here, but its frames leave this page out: what this page sends does
   * not reach it (the relay drops this page's frames to it, or to everyone). Said once it
   * lasted 3 s (PROTOCOL.md 30.4 "Rosters"). */
  | { event: "unheard"; by: number }
  /** `by`'s frames list this page again, after an `unheard`. */
  | { event: "heard"; by: number }
  /** `to` has not acknowledged a frame this page sent it (or everyone) 3 s ago: this
   * page's frames do not reach it, or its frames and receipts do not reach this page
   * (which of the two cannot be told). PROTOCOL.md 30.4 "Receipts". */
  | { event: "undelivered"; to: number }
  /** After `undelivered`: `to` acknowledges every frame that was overdue (frames in
   * between may still have been lost). */
  | { event: "delivered"; to: number }
  /** `count` messages `from` sent this page (or everyone) did not arrive: later ones did,
   * and the missing ones did not come within 1 s (or `from` left). Said once per gap; one
   * that comes later is `refused` (`REPLAYED`). PROTOCOL.md 30.4 "Gaps". */
  | { event: "missing"; from: number; count: number }
  /** Something from `from` was refused; `REPLAYED` also covers a message that came after it
   * was said `missing`, and `OLD_VERSION` one from an older app. */
  | { event: "refused"; from: number; reason: "UNKNOWN_SENDER" | "MISADDRESSED" | "STALE_EPOCH" | "REPLAYED" | "FORGED" | "MALFORMED" | "OLD_VERSION" | "UNEXPECTED" }
  | { event: "closed"; code: "ROOM_CLOSED" | "WRONG_CODE" | "ROOM_NOT_FOUND" | "ROOM_LOCKED" | "ROOM_BUSY" | "ROOM_FULL" | "RATE_LIMITED" | "JOIN_TIMEOUT" };

export interface RoomOptions {
  onEvent?: (event: RoomEvent) => void;
  /** A WebSocket constructor where there is no global one (Node 20). */
  WebSocket?: unknown;
}

export interface Room {
  /** The code (the host's; `undefined` for a guest). */
  readonly code: string | undefined;
  readonly nameplate: number;
  readonly me: number | undefined;
  readonly members: number[];
  /** Members some member sees but this one does not (see the `unreached` event). */
  readonly unreached: number[];
  /** Members this page does not reach (see the `unheard` event). */
  readonly unheard: number[];
  /** Members that have not acknowledged this page's frames (see the `undelivered` event). */
  readonly undelivered: number[];
  /** `appUrl` with `#room=<code>`: the code stays out of every server log. */
  link(appUrl: string): string;
  /** To everyone, or to member `to` only. Throws `NOT_IN_ROOM`, `NO_SUCH_MEMBER`, `TOO_LARGE`. */
  sendText(text: string, to?: number): void;
  setName(name: string): void;
  sendSignal(to: number, data: string): void;
  /** STUN/TURN servers for room voice: short-lived TURN credentials the relay gives an
   * admitted member (none while the host is alone); `[]` if the relay does not answer. */
  iceServers(): Promise<RTCIceServer[]>;
  leave(): void;
}

export function createRoom(relayUrl: string, options?: RoomOptions): Promise<Room>;
export function joinRoom(relayUrl: string, code: string, options?: RoomOptions): Promise<Room>;
