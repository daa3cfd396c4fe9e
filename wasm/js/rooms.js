// Rooms (docs/PROTOCOL.md 30): `createRoom` and `joinRoom`. The room's WebSocket lives
// here; every rule (the PAKE, admission, key rotation, which frames are accepted) is the
// engine's, behind `RoomState`. Nothing is stored: leaving forgets the room.

const b64 = {
  encode(bytes) {
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  },
  decode(text) {
    const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
    return Uint8Array.from(s, (c) => c.charCodeAt(0));
  },
};

/** The relay's in-band error codes, as the package's stable codes. */
const CODES = {
  no_room: 'ROOM_NOT_FOUND',
  room_locked: 'ROOM_LOCKED',
  room_busy: 'ROOM_BUSY',
  room_full: 'ROOM_FULL',
  too_many_rooms: 'ROOM_FULL',
  rate_limited: 'RATE_LIMITED',
  wrong_code: 'WRONG_CODE',
  // The host did not answer in time: it says nothing about the code.
  join_timeout: 'JOIN_TIMEOUT',
  room_closed: 'ROOM_CLOSED',
  room_idle: 'ROOM_CLOSED',
};

function roomError(code, message) {
  const e = new Error(message);
  e.name = 'SealpostError';
  e.code = code;
  return e;
}

function socketUrl(relayUrl, path) {
  const base = new URL(relayUrl, globalThis.location?.href);
  base.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  return new URL(path, base).href;
}

/** How long `iceServers()` waits for the relay before going on without TURN. */
const TURN_PATIENCE_MS = 10_000;

/**
 * How long a member must stay unreached, or this one unheard by a member (PROTOCOL.md
 * 30.4 "Rosters"), before the app is told: a newcomer hears from the members already
 * there one round trip after its hello, and frames sealed before they heard it, or
 * that list them, may come first.
 */
const UNREACHED_GRACE_MS = 3_000;

/**
 * How often the engine is given the time (PROTOCOL.md 30.4 "Receipts", "Gaps"): it seals
 * the receipt a member owes once a second passed since its last frame, reports a member
 * that has not acknowledged this page's frames for 3 s (`undelivered`; its own grace),
 * and frames missing between two that arrived once 1 s passed (`missing`).
 */
const TICK_MS = 250;

class Room {
  #state;
  #ws;
  #onEvent;
  #closed = false;
  /** The relay's last TURN answer `{ servers, until }`, and the callers waiting for one. */
  #turn = null;
  #turnWaiting = [];
  /** Members the app was told do not reach this page. */
  #told = new Set();
  /** Members the app was told this page does not reach. */
  #toldUnheard = new Set();
  /** The engine's clock (`RoomState.tick`), until the room is left or closed. */
  #ticker;
  /** The code (host only; guests know the one they typed). */
  code;
  /** The relay's number for the room. */
  nameplate;

  constructor(state, ws, onEvent, nameplate) {
    this.#state = state;
    this.#ws = ws;
    this.#onEvent = onEvent;
    this.nameplate = nameplate;
    this.code = state.code;
    this.#ticker = setInterval(() => {
      if (this.#closed) return;
      this.#state.tick(Date.now());
      this.flush();
    }, TICK_MS);
    this.#ticker.unref?.();
  }

  /** This member's id (1 is the host). */
  get me() {
    return this.#state.me;
  }

  /** Every member's id, this one included. */
  get members() {
    return [...this.#state.members];
  }

  /** Members some member sees but this one does not (PROTOCOL.md 30.4 "Rosters"), once
   * the app was told (`unreached` event). */
  get unreached() {
    if (this.#closed) return [];
    return [...this.#state.unreached].filter((m) => this.#told.has(m));
  }

  /** Members whose frames leave this one out: what it sends does not reach them
   * (PROTOCOL.md 30.4 "Rosters"), once the app was told (`unheard` event). */
  get unheard() {
    if (this.#closed) return [];
    return [...this.#state.unheard].filter((m) => this.#toldUnheard.has(m));
  }

  /** Members that have not acknowledged this page's frames for 3 s: they do not reach
   * them, or their receipts do not reach this page (PROTOCOL.md 30.4 "Receipts"). */
  get undelivered() {
    if (this.#closed) return [];
    return [...this.#state.undelivered];
  }

  /** The link that opens the app on the join screen: the code is in the fragment. */
  link(appUrl) {
    const u = new URL(appUrl);
    u.hash = `room=${this.code}`;
    return u.href;
  }

  /** Sends a text to everyone, or to member `to` only. */
  sendText(text, to = 0) {
    this.#send('text', to, text);
  }

  /** Tells the others this member's display name. */
  setName(name) {
    this.#send('hello', 0, name);
  }

  /** WebRTC signalling (offer, answer, candidates) for member `to`. */
  sendSignal(to, data) {
    this.#send('signal', to, data);
  }

  /**
   * STUN/TURN servers for room voice (docs/API.md "Rooms"): the relay gives short-lived
   * TURN credentials to admitted members, who have no account; the answer is kept for
   * half its lifetime. `[]` when the relay does not answer (voice still works on one
   * network).
   */
  iceServers() {
    if (this.#turn && Date.now() < this.#turn.until) return Promise.resolve(this.#turn.servers);
    if (this.#closed || this.#state.me === undefined) return Promise.resolve([]);
    return new Promise((resolve) => {
      const done = (servers) => {
        clearTimeout(timer);
        resolve(servers);
      };
      const timer = setTimeout(() => {
        this.#turnWaiting = this.#turnWaiting.filter((w) => w !== done);
        resolve([]);
      }, TURN_PATIENCE_MS);
      if (this.#turnWaiting.push(done) === 1) this.#ws.send(JSON.stringify({ type: 'turn' }));
    });
  }

  /** Leaves: the keys are forgotten and the socket closed. */
  leave() {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#ticker);
    try {
      this.#ws.send(JSON.stringify({ type: 'leave' }));
    } catch {
      /* already closed */
    }
    this.#ws.close();
    this.#state.leave();
    this.#state.free();
  }

  #send(kind, to, body) {
    if (this.#closed) throw roomError('NOT_IN_ROOM', 'this room was left or closed');
    this.#state.tick(Date.now());
    this.#state.send(kind, to, body);
    this.flush();
  }

  /** @internal Sends what the engine queued and tells the app what it saw. */
  flush() {
    for (const o of this.#state.drain()) {
      if (o.send) {
        const msg = { type: o.send, to: o.to };
        if (o.data) msg.data = b64.encode(o.data);
        this.#ws.send(JSON.stringify(msg));
      } else if (o.event === 'unreached') {
        setTimeout(() => this.#stillHolds(o, o.member, this.#told, () => this.#state.unreached), UNREACHED_GRACE_MS);
      } else if (o.event === 'unheard') {
        setTimeout(() => this.#stillHolds(o, o.by, this.#toldUnheard, () => this.#state.unheard), UNREACHED_GRACE_MS);
      } else {
        this.#onEvent?.(o);
      }
    }
    // A member the app was told this page does not reach, whose frames list it again.
    if (this.#toldUnheard.size === 0 || this.#closed) return;
    const unheard = this.#state.unheard;
    for (const by of this.#toldUnheard) {
      if (unheard.includes(by)) continue;
      this.#toldUnheard.delete(by);
      this.#onEvent?.({ event: 'heard', by });
    }
  }

  /** Tells the app of an `unreached` or `unheard` event the engine gave about `member`,
   * if `now()` still lists it. */
  #stillHolds(o, member, told, now) {
    if (this.#closed || !now().includes(member)) {
      told.delete(member);
      return;
    }
    told.add(member);
    this.#onEvent?.(o);
  }

  /** @internal One relay message (none after `leave()`: the room's state is freed). */
  receive(m) {
    if (this.#closed) return;
    if (m.type === 'turn') {
      const servers = Array.isArray(m.iceServers) ? m.iceServers : [];
      this.#turn = { servers, until: Date.now() + (Number(m.ttl) || 0) * 500 };
      for (const done of this.#turnWaiting.splice(0)) done(servers);
      return;
    }
    const from = m.from ?? m.member ?? 0;
    const data = typeof m.data === 'string' ? b64.decode(m.data) : new Uint8Array();
    this.#state.tick(Date.now());
    this.#state.handle(m.type, from, data, Uint16Array.from(m.members ?? []));
    this.flush();
  }

  /** @internal The socket closed (with the relay's code, if it said one). */
  ended(code) {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#ticker);
    this.#state.leave();
    this.#state.free();
    for (const done of this.#turnWaiting.splice(0)) done([]);
    this.#onEvent?.({ event: 'closed', code: code ? (CODES[code] ?? 'ROOM_CLOSED') : 'ROOM_CLOSED' });
  }
}

/**
 * Opens the room socket at `path` and runs it until `ready(room, message)` says the
 * room is usable (host: created; guest: admitted), which resolves the promise.
 */
function open(RoomState, relayUrl, path, start, options, ready) {
  const WS = options.WebSocket ?? globalThis.WebSocket;
  return new Promise((resolve, reject) => {
    let ws;
    try {
      ws = new WS(socketUrl(relayUrl, path));
    } catch (e) {
      reject(roomError('NETWORK', String(e)));
      return;
    }
    let room = null;
    let settled = false;
    let relayCode = null;
    const fail = (code, message) => {
      if (!settled) {
        settled = true;
        reject(roomError(code, message));
      }
    };
    ws.onmessage = (ev) => {
      let m;
      try {
        m = JSON.parse(ev.data);
      } catch {
        return;
      }
      try {
        if (m.type === 'error') {
          relayCode = m.error;
          fail(CODES[m.error] ?? 'RELAY', `the relay refused: ${m.error}`);
          return;
        }
        if (!room) {
          room = start(m, ws);
          if (room === null) return;
        } else {
          room.receive(m);
        }
        if (!settled && ready(room, m)) {
          settled = true;
          resolve(room);
        }
      } catch (e) {
        fail(e?.code ?? 'MALFORMED', String(e?.message ?? e));
        ws.close();
      }
    };
    ws.onclose = () => {
      fail(CODES[relayCode] ?? 'NETWORK', 'the room socket closed');
      room?.ended(relayCode);
    };
    ws.onerror = () => fail('NETWORK', 'the room socket failed');
  });
}

/** `createRoom` and `joinRoom` over the module's `RoomState`. */
export function makeRooms(RoomState) {
  /**
   * Creates a room on the relay; this page is its host. Resolves with the room once the
   * relay gave it a nameplate: show `room.code` (text, QR of `room.link(appUrl)`).
   */
  function createRoom(relayUrl, options = {}) {
    return open(
      RoomState,
      relayUrl,
      '/v2/rooms/ws',
      (m, ws) => {
        if (m.type !== 'room') throw roomError('RELAY', 'unexpected first message');
        const state = RoomState.create(Number(m.nameplate));
        return new Room(state, ws, options.onEvent, Number(m.nameplate));
      },
      options,
      () => true,
    );
  }

  /**
   * Joins the room of `code` (`4821-7kq9m2xa`). Resolves once the host admitted this
   * page; rejects with `WRONG_CODE`, `ROOM_NOT_FOUND`, `ROOM_LOCKED`, `ROOM_BUSY`, `ROOM_FULL`,
   * `RATE_LIMITED`, `ROOM_CLOSED`, `JOIN_TIMEOUT` (the host did not answer in time),
   * `MALFORMED` (not a code) or `NETWORK`.
   */
  function joinRoom(relayUrl, code, options = {}) {
    let nameplate;
    try {
      nameplate = RoomState.nameplateOf(code);
    } catch (e) {
      return Promise.reject(e);
    }
    let wrong = false;
    const onEvent = (e) => {
      if (e.event === 'wrong-code') wrong = true;
      options.onEvent?.(e);
    };
    return open(
      RoomState,
      relayUrl,
      `/v2/rooms/${nameplate}/ws`,
      (m, ws) => {
        if (m.type !== 'joining') throw roomError('RELAY', 'unexpected first message');
        const room = new Room(RoomState.join(code), ws, onEvent, nameplate);
        room.flush();
        return room;
      },
      options,
      (room) => {
        if (wrong) throw roomError('WRONG_CODE', 'the room has another code');
        return room.me !== undefined;
      },
    );
  }

  return { createRoom, joinRoom };
}
