// Rooms (PROTOCOL.md 30) through the package against a real relay: three members join
// with the code and talk, a wrong code and a code that is no code are refused with
// stable codes, leaving is told to the others, and the host leaving closes the room; a
// join the host never answers (a relay stand-in) is JOIN_TIMEOUT, not a wrong code; a
// relay that stops delivering the host's frames to a guest is reported to the host
// (`undelivered`, 30.4 "Receipts"), and `delivered` when it forwards them again; the
// guest is told of the frame it missed once a later one came (`missing`, 30.4 "Gaps").
import { assert, eq, throwsCode } from './harness.js';

/** Resolves with the first event `pick` accepts, from events recorded into `log`. */
function waitFor(log, pick) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no event: ${JSON.stringify(log.seen)}`)), 10000);
    const check = () => {
      const e = log.seen.find(pick);
      if (e) {
        clearTimeout(t);
        resolve(e);
        return true;
      }
      return false;
    };
    if (!check()) log.waiters.push(check);
  });
}

/** A WebSocket whose messages from the relay of type `frame` from member `dropFrom` are
 * dropped while `drop` is set: a relay that drops one member's frames to this page. */
function droppingSocket(dropFrom) {
  const WS = globalThis.WebSocket;
  return class Dropping extends WS {
    static drop = false;
    set onmessage(fn) {
      super.onmessage = (ev) => {
        let m = null;
        try {
          m = JSON.parse(ev.data);
        } catch {
          /* not ours to judge */
        }
        if (Dropping.drop && m?.type === 'frame' && m.from === dropFrom) return;
        fn(ev);
      };
    }
    get onmessage() {
      return super.onmessage;
    }
  };
}

function recorder() {
  const log = { seen: [], waiters: [] };
  log.onEvent = (e) => {
    log.seen.push(e);
    log.waiters = log.waiters.filter((w) => !w());
  };
  return log;
}

export function roomsSuite({ test }, sp, { relayUrl }) {
  const logs = [recorder(), recorder(), recorder()];
  let host;
  let b;
  let c;

  test('rooms: a host creates a room, two guests join with its code and all three talk', async () => {
    host = await sp.createRoom(relayUrl, { onEvent: logs[0].onEvent });
    assert(/^[1-9][0-9]{0,5}-[0-9a-hjkmnp-tv-z]{8}$/.test(host.code), host.code);
    eq(host.me, 1);
    assert(host.link('https://app.example/').endsWith(`#room=${host.code}`));
    b = await sp.joinRoom(relayUrl, host.code.toUpperCase(), { onEvent: logs[1].onEvent });
    c = await sp.joinRoom(relayUrl, host.code, { onEvent: logs[2].onEvent });
    eq([b.me, c.me], [2, 3]);
    // Members are shown once their own frames open (the relay's word is not enough):
    // each announces itself, so c shows b and b shows c soon after c is in.
    await waitFor(logs[2], (e) => e.event === 'joined' && e.member === 2);
    eq(c.members, [1, 2, 3]);
    await waitFor(logs[1], (e) => e.event === 'joined' && e.member === 3);
    b.setName('Bea');
    host.sendText('welcome');
    b.sendText('hi from b');
    c.sendText('just for b', 2);
    await waitFor(logs[1], (e) => e.event === 'text' && e.text === 'welcome');
    await waitFor(logs[1], (e) => e.event === 'text' && e.text === 'just for b' && e.private);
    await waitFor(logs[2], (e) => e.event === 'hello' && e.name === 'Bea');
    await waitFor(logs[2], (e) => e.event === 'text' && e.text === 'hi from b' && e.from === 2);
    await waitFor(logs[0], (e) => e.event === 'text' && e.text === 'hi from b');
    assert(!logs[0].seen.some((e) => e.event === 'text' && e.text === 'just for b'), 'a private text reached the host');
    for (const l of logs) assert(!l.seen.some((e) => e.event === 'refused'), JSON.stringify(l.seen));
    // Everyone's frames list the three (PROTOCOL.md 30.4 "Rosters"), and each sees them all.
    for (const r of [host, b, c]) eq(r.unreached, []);
    // And each lists whoever sent it a frame: nobody here is unheard, before the 3 s
    // grace or after it (a newcomer's transient is never told).
    for (const r of [host, b, c]) eq(r.unheard, []);
    await new Promise((r) => setTimeout(r, 3_300));
    // Nor does anyone miss receipts (each reader acknowledged what it got), or a frame.
    for (const l of logs) assert(!l.seen.some((e) => ['unheard', 'unreached', 'undelivered', 'missing'].includes(e.event)), JSON.stringify(l.seen));
  });

  test('rooms: a wrong code is refused (WRONG_CODE), a non-code is MALFORMED, an unknown nameplate ROOM_NOT_FOUND', async () => {
    const [plate] = host.code.split('-');
    const wrong = `${plate}-${host.code.endsWith('0') ? '11111111' : '00000000'}`;
    await throwsCode(() => sp.joinRoom(relayUrl, wrong), 'WRONG_CODE');
    await waitFor(logs[0], (e) => e.event === 'join-refused');
    await throwsCode(() => sp.joinRoom(relayUrl, 'not a code'), 'MALFORMED');
    const other = plate === '999999' ? '999998' : '999999';
    await throwsCode(() => sp.joinRoom(relayUrl, `${other}-00000000`), 'ROOM_NOT_FOUND');
    eq(host.members, [1, 2, 3]);
  });

  test('rooms: a member who leaves is told to the others; the host leaving closes the room', async () => {
    c.leave();
    await waitFor(logs[1], (e) => e.event === 'left' && e.member === 3);
    await waitFor(logs[1], (e) => e.event === 'rekeyed' && e.epoch === 3);
    b.sendText('after c');
    await waitFor(logs[0], (e) => e.event === 'text' && e.text === 'after c');
    await throwsCode(() => c.sendText('gone'), 'NOT_IN_ROOM');
    host.leave();
    const closed = await waitFor(logs[1], (e) => e.event === 'closed');
    eq(closed.code, 'ROOM_CLOSED');
    await throwsCode(() => sp.joinRoom(relayUrl, host.code), 'ROOM_NOT_FOUND');
  });

  test('rooms: a join the host does not answer in time is JOIN_TIMEOUT, not WRONG_CODE', async () => {
    // The relay as docs/API.md says it ends such a join: `joining`, the joiner's SPAKE2
    // message, then `join_timeout` in band and the close.
    const sent = [];
    class Relay {
      constructor(url) {
        this.url = url;
        setTimeout(() => this.onmessage({ data: '{"type":"joining","member":2}' }));
      }
      send(text) {
        sent.push(JSON.parse(text));
        setTimeout(() => {
          this.onmessage({ data: '{"type":"error","error":"join_timeout"}' });
          this.onclose();
        });
      }
      close() {}
    }
    const e = await throwsCode(() => sp.joinRoom(relayUrl, '4821-7kq9m2xa', { WebSocket: Relay }), 'JOIN_TIMEOUT');
    assert(/join_timeout/.test(e.message), e.message);
    eq(sent.map((m) => m.type), ['pake']);
  });

  test('rooms: a relay that stops forwarding the host\'s frames to a guest is reported to the host, then its recovery; the guest is told what it missed', async () => {
    const [hl, gl] = [recorder(), recorder()];
    const h = await sp.createRoom(relayUrl, { onEvent: hl.onEvent });
    const Dropping = droppingSocket(1);
    const g = await sp.joinRoom(relayUrl, h.code, { onEvent: gl.onEvent, WebSocket: Dropping });
    h.sendText('one');
    await waitFor(gl, (e) => e.event === 'text' && e.text === 'one');
    eq(h.undelivered, []);
    Dropping.drop = true;
    h.sendText('two');
    const started = Date.now();
    const told = await waitFor(hl, (e) => e.event === 'undelivered');
    assert(Date.now() - started >= 2_900, `told after ${Date.now() - started} ms, before the 3 s grace`);
    eq(told.to, 2);
    eq(h.undelivered, [2]);
    Dropping.drop = false;
    h.sendText('three');
    await waitFor(gl, (e) => e.event === 'text' && e.text === 'three');
    await waitFor(hl, (e) => e.event === 'delivered' && e.to === 2);
    eq(h.undelivered, []);
    assert(!gl.seen.some((e) => e.event === 'text' && e.text === 'two'), 'the dropped text arrived');
    // "three" came after "two" did not: the guest is told, 1 s later, of what the host
    // sent it meanwhile ("two", and the receipt the host may have owed for its hello).
    const missing = await waitFor(gl, (e) => e.event === 'missing');
    eq(missing.from, 1);
    assert(missing.count === 1 || missing.count === 2, JSON.stringify(missing));
    eq(gl.seen.filter((e) => e.event === 'missing').length, 1);
    assert(!hl.seen.some((e) => e.event === 'missing'), JSON.stringify(hl.seen));
    for (const l of [hl, gl]) assert(!l.seen.some((e) => e.event === 'refused'), JSON.stringify(l.seen));
    g.leave();
    h.leave();
  });
}
