// Rooms (docs/PROTOCOL.md 30), loaded on first use (src/rooms.ts): "New room" (its code
// as text, QR code and link), "Join room" (typed, pasted as a link, or scanned), and the
// room itself: who is in it, text, leave. A lazily loaded chunk may import nothing at
// run time (scripts/postbuild.mjs), so what it needs of the app comes in `kit`.
//
// The room lives in the crypto worker (backend/roomhost.ts); this page keeps only what
// the screen shows, in memory: leaving (or the room ending and the screen closing) drops
// it, and nothing is written to IndexedDB, storage or the browser's history.
//
// Voice (PROTOCOL.md 30.6) runs here, as WebRTC must (not in workers): the package's
// `attachRoomVoice`, whose signals the worker's room seals and sends (`roomSignal`).
// The microphone is asked only when the user turns voice on.

import type { RoomEvent } from 'sealpost-wasm';
import type { RoomVoice, RoomVoiceEvent, attachRoomVoice } from 'sealpost-wasm/roomvoice';
import type { RoomInfo } from '../backend/roomhost';
import type { RoomKit, RoomPlace } from '../rooms';

/**
 * A line of the room's conversation: a text, a member's arrival or departure (shown with
 * the name it gives, which comes just after it joins), or another notice.
 */
type Line = { from: number; text: string; private: boolean } | { member: number; what: 'joined' | 'left' } | { notice: string };

interface Active {
  info: RoomInfo;
  /** Display names said by members (`hello`), cleaned. */
  names: Map<number, string>;
  members: number[];
  /**
   * Members another member sees but this page does not (PROTOCOL.md 30.4 "Rosters"):
   * member -> who sees it. The relay drops their frames to this member, or said they left.
   */
  unreached: Map<number, number>;
  /** Members already said (in a notice) not to reach this page. */
  noticed: Set<number>;
  /**
   * Members whose frames leave this page out: what it sends does not reach them
   * (PROTOCOL.md 30.4 "Rosters"), from the package's `unheard` until its `heard`.
   */
  unheard: Set<number>;
  /**
   * Members that have not acknowledged this page's frames for 3 s (PROTOCOL.md 30.4
   * "Receipts"), from the package's `undelivered` until its `delivered`.
   */
  undelivered: Set<number>;
  lines: Line[];
  /** Why the room ended (a friendly sentence), once it has. */
  ended: string | null;
  myName: string;
  voice: RoomVoice;
}

let kit: RoomKit;
let place: RoomPlace;
let active: Active | null = null;
/** The elements of the room screen on display (null when another screen shows). */
let view: { root: HTMLElement; members: HTMLElement; count: HTMLElement; list: HTMLElement; heard: HTMLElement; status: HTMLElement; composer: HTMLFormElement; voice: HTMLElement } | null = null;
let listening: Promise<() => void> | null = null;

function nameOf(id: number): string {
  if (!active) return '';
  if (id === active.info.me) return 'You';
  return active.names.get(id) || (id === 1 ? 'Host' : `Guest ${id}`);
}

/** The code in what was typed, pasted or scanned: a code, or a room link holding one. */
function codeIn(text: string): string {
  const m = /#room=([^&\s]+)/.exec(text);
  return (m ? decodeURIComponent(m[1]) : text).trim();
}

/** Shows rooms in `p`: the room this tab is in, else "New room" / "Join room" (prefilled with `code`). */
export function showRooms(k: RoomKit, p: RoomPlace, code?: string) {
  kit = k;
  place = p;
  listening ??= kit.listen(onEvent);
  if (active && !code) return renderRoom();
  renderHome(code);
}

/** The screen's title: in the main screen's pane, with the way back to the chats (phones). */
function heading(text: string, id: string) {
  const { h } = kit;
  if (place.heading === 'h1') return h('h1', { id, tabIndex: -1 }, text);
  return h('header.chat-head', null, h('a.back', { href: '#/', 'aria-label': 'Back to chats' }, '‹'), h('h2.chat-title', { id, tabIndex: -1 }, text));
}

function renderHome(code?: string) {
  const { h } = kit;
  kit.preloadQr();
  view = null;
  const err = h('p.error', { role: 'alert', 'data-testid': 'room-error' });
  const status = h('p.result', { role: 'status', 'data-testid': 'room-progress' });
  // 20 UTF-16 units are at most 60 bytes of UTF-8: a name fits its frame (64 bytes).
  const name = h('input#room-name', { maxLength: 20, autocomplete: 'nickname', value: place.name ?? '', 'data-testid': 'room-name', 'aria-describedby': 'room-name-hint' });
  const input = h('input#room-code-input', { autocomplete: 'off', autocapitalize: 'none', spellcheck: false, required: true, value: code ?? '', placeholder: '4821-7kq9m2xa', 'aria-describedby': 'room-code-hint', 'data-testid': 'room-code-input' });
  const busy = (on: boolean) => {
    for (const b of root.querySelectorAll('button')) b.disabled = on;
  };
  const enter = async (how: () => Promise<RoomInfo>, waiting: string) => {
    err.textContent = '';
    status.textContent = waiting;
    busy(true);
    active = null; // the worker leaves the room this tab was in first
    try {
      // WebRTC (the page's side of voice) loads before the room opens: a room whose
      // voice could not load is not entered.
      const attach = await kit.voice();
      const info = await how();
      active = { info, names: new Map(), members: [...info.members], unreached: new Map(), noticed: new Set(), unheard: new Set(), undelivered: new Set(), lines: [], ended: null, myName: kit.cleanName(name.value), voice: voiceFor(attach, info.me) };
      if (active.myName) await kit.call('roomName', active.myName).catch(() => undefined);
      renderRoom();
    } catch (e) {
      status.textContent = '';
      err.textContent = joinError(e);
      busy(false);
    }
  };
  const join = (c: string) => enter(() => kit.call<RoomInfo>('roomJoin', c), 'Joining… the host’s device checks the code and lets you in.');
  const video = h('video.scanner', { hidden: true, 'aria-label': 'Camera preview' });
  const scan = kit.cameraScanButton({
    video,
    label: 'Scan a QR code',
    testId: 'room-scan',
    onResult: async (found, stopped) => {
      if (stopped) return;
      if (!found) return void (err.textContent = 'No QR code was found.');
      input.value = codeIn(new TextDecoder().decode(found));
      await join(input.value);
    },
    onUnavailable: () => (err.textContent = 'The camera is not available here: type the code instead.'),
  });
  const root = h(
    'section.room',
    { 'data-testid': 'room-home', 'aria-labelledby': 'room-home-title' },
    heading('Rooms', 'room-home-title'),
    h('p.lede', null, 'Talk with up to 8 people who share a short code, with or without an account. The code never reaches the relay, and nothing of the room is kept once you leave.'),
    h('label', { for: 'room-name' }, 'Your name in the room (optional)'),
    name,
    h('p.hint#room-name-hint', null, 'The others see it; without one you are “Guest” and a number.'),
    h('div.row.wrap', null, h('button.primary', { type: 'button', 'data-testid': 'room-new', onclick: () => enter(() => kit.call<RoomInfo>('roomCreate'), 'Opening a room…') }, 'New room')),
    h(
      'form.room-join',
      { onsubmit: (ev: Event) => (ev.preventDefault(), void join(codeIn(input.value))) },
      h('h3', null, 'Join a room'),
      h('label', { for: 'room-code-input' }, 'Room code or link'),
      h('div.row', null, input, h('button', { type: 'submit', 'data-testid': 'room-join' }, 'Join')),
      h('p.hint#room-code-hint', null, 'A code looks like 4821-7kq9m2xa: the number, a dash and 8 letters or digits.'),
      h('div.row.wrap', null, scan),
      video,
    ),
    status,
    err,
    place.back ? h('button.link', { type: 'button', onclick: place.back }, 'Back') : null,
  );
  place.mount(root);
  if (code) input.focus();
}

/** What a failed join or creation means, in one line. */
function joinError(e: unknown): string {
  switch (kit.errorCode(e)) {
    case 'MALFORMED':
      return 'That is not a room code: it looks like 4821-7kq9m2xa. Check it and try again.';
    case 'WRONG_CODE':
      return 'Wrong code: the host’s room has another one. Check every character with whoever gave it to you.';
    default:
      return kit.friendly(e);
  }
}

function renderRoom() {
  const { h } = kit;
  const a = active!;
  const members = h('ul.members', { 'aria-label': 'Members', 'data-testid': 'room-members' });
  const count = h('h3', null);
  const list = h('ol.messages', { 'aria-label': 'Room messages', 'data-testid': 'room-messages', tabIndex: 0 });
  // Screen readers hear what others say here (the list itself is not a live region).
  const heard = h('div.sr-only', { role: 'status' });
  const status = h('p.result', { role: 'status', 'data-testid': 'room-status' });
  const text = h('textarea#room-compose', { rows: 1, maxLength: 4096, required: true, 'data-testid': 'room-compose' });
  const composer = h(
    'form.composer',
    {
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        const t = text.value;
        if (!t.trim() || !active) return;
        try {
          await kit.call('roomText', t);
          text.value = '';
          add({ from: active.info.me, text: t, private: false });
        } catch (e) {
          status.textContent = `Not sent: ${kit.friendly(e)}`;
        }
      },
    },
    h('label.sr-only', { for: 'room-compose' }, 'Message to the room'),
    text,
    h('button.primary', { type: 'submit', 'data-testid': 'room-send' }, 'Send'),
  );
  text.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey) {
      ev.preventDefault();
      composer.requestSubmit();
    }
  });
  const invite = a.info.code ? inviteBox(a.info.code, a.info.link!) : null;
  const voice = h(
    'div.room-voice',
    { role: 'group', 'aria-labelledby': 'room-voice-title', 'data-testid': 'room-voice' },
    h('h3#room-voice-title', null, 'Voice'),
    h('div.row.wrap'),
    h('p.hint', { role: 'status', 'data-testid': 'room-voice-status' }),
  );
  const root = h(
    'section.room',
    { 'data-testid': 'room-screen', 'aria-labelledby': 'room-title' },
    heading(`Room ${a.info.nameplate}`, 'room-title'),
    h('p.hint', null, 'Encrypted end to end with a key only the members have. No history: what is said here is gone when you leave.'),
    invite,
    voice,
    count,
    members,
    list,
    heard,
    composer,
    status,
    h('button.warn', { type: 'button', 'data-testid': 'room-leave', onclick: leave }, a.ended ? 'Close' : 'Leave room'),
  );
  view = { root, members, count, list, heard, status, composer, voice };
  renderVoice();
  renderMembers();
  renderLines();
  renderEnded();
  place.mount(root);
  // A guest is here to talk; the host first shows the code (the heading has focus).
  if (!a.ended && !a.info.code) text.focus();
}

/** The host's invitation: the code as text, the link, and a QR code of the link. */
function inviteBox(code: string, link: string): HTMLElement {
  const { h } = kit;
  const canvas = h('canvas.qr', { role: 'img', 'aria-label': 'QR code of the room’s link', 'data-testid': 'room-qr' });
  void kit.drawQr(canvas, new TextEncoder().encode(link)).catch(() => (canvas.hidden = true));
  const linkIn = h('input#room-link', { readOnly: true, value: link, 'data-testid': 'room-link' });
  return h(
    'div.room-invite',
    null,
    h('p', null, 'Give the others this code, or let them scan the QR code or open the link:'),
    h('p.room-code', { 'data-testid': 'room-code' }, code),
    h('div.qr-box', null, canvas),
    h('label', { for: 'room-link' }, 'Link to the room'),
    h('div.row', null, linkIn, h('button', {
      type: 'button',
      onclick: async () => {
        try {
          await navigator.clipboard.writeText(link);
          kit.toast('Link copied.');
        } catch {
          linkIn.select();
        }
      },
    }, 'Copy link')),
    h('p.hint', null, 'Whoever has the code or the link can join while you are here; the room ends when you leave.'),
  );
}

function renderMembers() {
  if (!view || !active) return;
  const { h } = kit;
  view.count.textContent = `In the room (${active.members.length} of 8)`;
  const a = active;
  const onVoice = new Map<number, string>(a.voice.peers().map((p) => [p.member, p.state]));
  if (a.voice.on) onVoice.set(a.info.me, 'connected');
  view.members.replaceChildren(...active.members.map((id) => h(
    'li.member',
    { 'data-testid': `room-member-${id}` },
    h('bdi', null, nameOf(id)),
    id === 1 ? h('span.mini.unverified', null, 'Host') : null,
    onVoice.has(id) ? h('span.mini.verified', { 'data-testid': 'room-on-voice' }, !a.voice.on || onVoice.get(id) === 'connected' ? 'On voice' : 'On voice, connecting…') : null,
    a.unheard.has(id) ? h('span.mini.unverified', { 'data-testid': `room-unheard-${id}` }, 'Not receiving you') : null,
    a.undelivered.has(id) && !a.unheard.has(id) ? h('span.mini.unverified', { 'data-testid': `room-undelivered-${id}` }, 'Not getting your messages') : null,
  )), ...[...a.unreached].map(([id, via]) => h(
    'li.member',
    { 'data-testid': `room-unreached-${id}` },
    h('bdi', null, nameOf(id)),
    h('span.mini.unverified', null, 'Not reaching you'),
    h('span.hint', null, ' (', h('bdi', null, nameOf(via)), ' sees them: the relay may be keeping them from you)'),
  )));
}

function lineEl(l: Line): HTMLElement {
  const { h } = kit;
  if ('notice' in l) return h('li.notice', null, l.notice);
  if ('what' in l) return h('li.notice', null, h('bdi', null, nameOf(l.member)), ` ${l.what}.`);
  const mine = l.from === active?.info.me;
  return h(
    mine ? 'li.msg.grp.out' : 'li.msg.grp.in',
    { 'data-testid': 'room-msg' },
    mine ? null : h('span.sender', null, h('bdi', null, nameOf(l.from)), l.private ? ' (to you only)' : ''),
    h('p.text', { dir: 'auto' }, l.text),
  );
}

/** Every line again (a member's name became known), scrolled to the newest. */
function renderLines() {
  if (!view || !active) return;
  view.list.replaceChildren(...active.lines.map(lineEl));
  view.list.scrollTop = view.list.scrollHeight;
}

function add(l: Line) {
  if (!active) return;
  active.lines.push(l);
  if (!view?.root.isConnected) return;
  view.list.append(lineEl(l));
  view.list.scrollTop = view.list.scrollHeight;
}

function renderEnded() {
  if (!view || !active?.ended) return;
  view.status.textContent = active.ended;
  for (const el of view.composer.elements) (el as HTMLButtonElement).disabled = true;
  const b = view.root.querySelector<HTMLButtonElement>('[data-testid=room-leave]');
  if (b) b.textContent = 'Close';
}

function onEvent(e: RoomEvent) {
  const a = active;
  if (!a || a.ended) return;
  a.voice.handle(e);
  switch (e.event) {
    case 'admitted':
      a.members = [...e.members];
      break;
    case 'joined':
      a.unreached.delete(e.member);
      if (!a.members.includes(e.member)) a.members.push(e.member);
      // Ids go up with each join: a lower one was here before this page (it is shown
      // only now, once its own hello opened).
      if (e.member > a.info.me) add({ member: e.member, what: 'joined' });
      break;
    case 'left':
      a.unreached.delete(e.member);
      a.unheard.delete(e.member);
      a.undelivered.delete(e.member);
      if (!a.members.includes(e.member)) break; // a join that did not complete
      add({ member: e.member, what: 'left' });
      a.members = a.members.filter((m) => m !== e.member);
      break;
    case 'join-refused':
      add({ notice: 'Someone tried to join with a wrong code and was refused.' });
      break;
    case 'hello': {
      const name = kit.cleanName(e.name);
      if (a.names.get(e.from) === name) return;
      a.names.set(e.from, name);
      renderLines();
      renderVoice();
      break;
    }
    case 'text':
      add({ from: e.from, text: e.text, private: e.private });
      if (view) view.heard.textContent = `${nameOf(e.from)}: ${e.text.slice(0, 200)}`;
      break;
    case 'refused':
      add({ notice: `A message in the room was refused (${e.reason}): it was not what a member sent.` });
      break;
    case 'unreached':
      a.unreached.set(e.member, e.via);
      if (!a.noticed.has(e.member)) {
        a.noticed.add(e.member);
        add({ notice: `${nameOf(e.via)} sees ${nameOf(e.member)} in the room, but nothing of them reaches you: the relay may be keeping them from you.` });
      }
      break;
    case 'unheard':
      a.unheard.add(e.by);
      add({ notice: `${nameOf(e.by)} is not receiving what you send: their messages show nothing of yours reaches them. The relay may be keeping your messages from them.` });
      break;
    case 'heard':
      a.unheard.delete(e.by);
      add({ notice: `What you send reaches ${nameOf(e.by)} again.` });
      break;
    case 'undelivered':
      a.undelivered.add(e.to);
      add({ notice: `Your messages are not reaching ${nameOf(e.to)}: they have not confirmed what you sent in the last seconds (or their confirmations are not reaching you). The relay may be dropping them.` });
      break;
    case 'missing': {
      // Frames of any kind count (texts, names, voice set-up, receipts): each one the
      // relay dropped between two that arrived (PROTOCOL.md 30.4 "Gaps").
      const what = e.count === 1 ? '1 message' : `${e.count} messages`;
      add({ notice: `${what} from ${nameOf(e.from)} did not arrive: later ones did, so the relay may have dropped ${e.count === 1 ? 'it' : 'them'}.` });
      break;
    }
    case 'delivered':
      a.undelivered.delete(e.to);
      add({ notice: `${nameOf(e.to)} confirms your messages again; some sent in between may not have reached them.` });
      break;
    case 'closed':
      a.ended = kit.friendly({ code: e.code });
      add({ notice: a.ended });
      renderEnded();
      renderVoice();
      break;
    default:
      return; // signal (the voice's), rekeyed, wrong-code (the join rejects)
  }
  renderMembers();
}

/** Leaves (or closes an ended room's screen): the worker forgets the keys, this page the lines. */
async function leave() {
  const was = active;
  active = null;
  view = null;
  was?.voice.stop();
  await kit.call('roomLeave').catch(() => undefined);
  renderHome();
  if (was && !was.ended) kit.toast('You left the room.');
}

/** The room's voice on this page: its signals go through the worker's room. */
function voiceFor(attach: typeof attachRoomVoice, me: number): RoomVoice {
  const voice: RoomVoice = attach({ me, sendSignal: (to, data) => kit.call('roomSignal', to, data) }, {
    // Guests have no account: the relay gives room members their own TURN credentials.
    iceServers: () => kit.call<RTCIceServer[]>('roomTurn'),
    onEvent: (e: RoomVoiceEvent) => {
      if (active?.voice !== voice) return;
      if (e.event === 'refused') add({ notice: `A voice connection request was refused (${e.reason}): it was not what a member’s app sends.` });
      renderVoice();
      renderMembers();
    },
  });
  return voice;
}

/** "Turn on voice", or "Mute"/"Unmute" and "Turn off voice", and whom this page hears. */
function renderVoice() {
  if (!view || !active) return;
  const { h } = kit;
  const a = active;
  const v = a.voice;
  const connected = v.peers().filter((p) => p.state === 'connected').map((p) => nameOf(p.member));
  const muted = v.muted ? ' (muted)' : '';
  let said = 'Voice is off. Turning it on asks for your microphone; you then hear and are heard by everyone on voice.';
  if (a.ended) said = 'Voice ended with the room.';
  else if (v.on && connected.length) said = `On voice${muted} with ${connected.join(', ')}.`;
  else if (v.on) said = `On voice${muted}: no one else is on voice yet.`;
  const button = (sel: 'button' | 'button.primary', label: string, testId: string, run: (ev: Event) => unknown) =>
    h(sel, { type: 'button', 'data-testid': testId, disabled: !!a.ended, onclick: run }, label);
  const start = async (btn: HTMLButtonElement) => {
    btn.disabled = true;
    try {
      await v.start();
    } catch (e) {
      if (active === a && view) view.status.textContent = kit.friendly(e);
    }
    renderVoice();
    renderMembers();
  };
  const buttons = v.on
    ? [
      button('button', v.muted ? 'Unmute' : 'Mute', 'room-voice-mute', () => (v.mute(!v.muted), renderVoice())),
      button('button', 'Turn off voice', 'room-voice-off', () => (v.stop(), renderVoice(), renderMembers())),
    ]
    : [button('button.primary', 'Turn on voice', 'room-voice-on', (ev) => start(ev.currentTarget as HTMLButtonElement))];
  const row = view.voice.querySelector('.row')!;
  // The button pressed is replaced: focus moves to the one that takes its place.
  const pressed = row.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset.testid : undefined;
  row.replaceChildren(...buttons);
  const next = { 'room-voice-on': 'room-voice-mute', 'room-voice-off': 'room-voice-on' }[pressed ?? ''] ?? pressed;
  if (next) row.querySelector<HTMLElement>(`[data-testid=${next}]`)?.focus();
  const status = view.voice.querySelector('[data-testid=room-voice-status]')!;
  if (status.textContent !== said) status.textContent = said;
}
