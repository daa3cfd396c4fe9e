/// <reference lib="webworker" />
// The crypto worker's side of rooms (docs/PROTOCOL.md 30): the package's createRoom /
// joinRoom run here, so the room's keys, like the account's, stay in the worker's wasm
// memory; the page (src/rooms.ts) drives them through `RemoteClient.call` and hears the
// room's events as `{ roomEvent }` messages. One room at a time per tab, kept in memory
// only: leaving frees its keys and nothing of it is written anywhere.

import { createRoom, joinRoom } from 'sealpost-wasm';
import type { Room, RoomEvent } from 'sealpost-wasm';

/** What the page learns when it is in: the code and link only for the host. */
export interface RoomInfo {
  nameplate: number;
  me: number;
  members: number[];
  code?: string;
  link?: string;
}

let room: Room | null = null;
/** Numbers each room, so a late event of a room left does not reach the next one. */
let generation = 0;

const post = (gen: number) => (e: RoomEvent) => {
  if (gen !== generation) return;
  if (e.event === 'closed') room = null;
  self.postMessage({ roomEvent: e });
};

function info(r: Room, host: boolean): RoomInfo {
  const out: RoomInfo = { nameplate: r.nameplate, me: r.me ?? 0, members: r.members };
  // The worker runs from a blob: URL whose origin is the page's.
  if (host) Object.assign(out, { code: r.code, link: r.link(`${location.origin}/`) });
  return out;
}

const notInRoom = () => Object.assign(new Error('not in a room'), { name: 'SealpostError', code: 'NOT_IN_ROOM' });

function current(): Room {
  if (!room) throw notInRoom();
  return room;
}

function leave() {
  generation++;
  room?.leave();
  room = null;
}

/** Opens a room with `make` (this tab leaves the one it was in); `host`: it made the room. */
async function enter(make: (onEvent: (e: RoomEvent) => void) => Promise<Room>, host: boolean): Promise<RoomInfo> {
  leave();
  const gen = generation;
  const r = await make(post(gen));
  if (gen !== generation) {
    r.leave(); // left (or another room started) while this one was opening
    throw notInRoom();
  }
  room = r;
  return info(r, host);
}

/** `serveClient({ methods })` entries (the logged-in client, if any, is not used). */
export const roomMethods = {
  roomCreate(): Promise<RoomInfo> {
    return enter((onEvent) => createRoom(location.origin, { onEvent }), true);
  },
  roomJoin(_client: unknown, code: string): Promise<RoomInfo> {
    return enter((onEvent) => joinRoom(location.origin, code, { onEvent }), false);
  },
  roomText(_client: unknown, text: string): void {
    current().sendText(text);
  },
  roomName(_client: unknown, name: string): void {
    current().setName(name);
  },
  /** Voice signalling (PROTOCOL.md 30.6): the page runs the WebRTC, the room seals it. */
  roomSignal(_client: unknown, to: number, data: string): void {
    current().sendSignal(to, data);
  },
  /** STUN/TURN servers for the page's room voice (the relay's short-lived credentials). */
  roomTurn(): Promise<RTCIceServer[]> {
    return current().iceServers();
  },
  roomLeave(): void {
    leave();
  },
};
