// Rooms (docs/PROTOCOL.md 30) in the app: what the start-up bundle needs to reach them —
// the routes and buttons that open them, the room link's code, and the kit the room
// screen (./screens/room.ts, loaded on first use) works with. The room itself runs in
// the crypto worker (./backend/roomhost.ts).

import { onRoomEvent, roomCall, webrtc } from './backend';
import { errorCode } from './backend/types';
import { friendly } from './errors';
import { lazily } from './lazy';
import { cameraScanButton, drawQr, preloadQr } from './qr';
import { cleanName } from './records';
import { toast } from './ui';
import { h } from './util';

/** What the room screen uses of the app (a lazily loaded chunk may import nothing). */
const kit = { h, friendly, errorCode, cleanName, drawQr, cameraScanButton, preloadQr, toast, call: roomCall, listen: onRoomEvent, voice: () => webrtc().then((m) => m.attachRoomVoice) };
export type RoomKit = typeof kit;

/** Where the room screen shows: the log-in card, or the main screen's pane. */
export interface RoomPlace {
  mount(el: HTMLElement): void;
  heading: 'h1' | 'h2';
  /** The name offered for the room (the account's username). */
  name?: string;
  /** Back to where the user came from (the log-in screen). */
  back?: () => void;
}

const screen = lazily('room', () => import('./screens/room'));

/** Whether the address is a room link (`/#room=<code>`). */
export const isRoomLink = () => location.hash.startsWith('#room=');

/**
 * The code of a room link, taken out of the address bar (`then`: the hash left in its
 * place) so it stays in no browser history entry; the fragment never reached the relay.
 */
function takeRoomLink(then = ''): string | undefined {
  const m = /^#room=(.*)$/.exec(location.hash);
  if (!m) return undefined;
  history.replaceState(null, '', location.pathname + location.search + then);
  return decodeURIComponent(m[1]);
}

/** Shows the rooms screen in `place`, with the join form prefilled from a room link. */
export async function showRooms(place: RoomPlace, then?: string) {
  const code = takeRoomLink(then);
  try {
    (await screen()).showRooms(kit, place, code);
  } catch (e) {
    toast(friendly(e));
  }
}
