#!/usr/bin/env node
// Rooms in the PWA (issue 12), end to end: four pages in one Chromium with a fake camera
// and microphone. A signed-in host opens a room from the main screen (its code as text,
// QR code and link); a guest with no account types a wrong code (refused, with the
// words for it) and then the right one; a second guest opens the link (the code fills
// the join form and never goes to the relay); a third scans the host's QR code with the
// camera. Text flows among them with names; they leave, the host before the last guest,
// who is told the room ended. Then nothing of the room is in the relay's database (rows
// of every table as before, the code nowhere) or in the pages (IndexedDB, storage, the
// address bar). Voice: three of them turn it on and audio flows between each pair
// (getStats of the page's peer connections, which this test counts itself: the app
// exposes no test hook), one mutes, one turns it off and
// the others' connections to it close; the room screen with voice on has no axe
// violations. A relay that stops forwarding the host's frames to one guest (a proxy in
// front of the relay for that guest's page) makes the host's page say its messages are
// not reaching that guest, and say so again when they do (PROTOCOL.md 30.4 "Receipts");
// the guest's page says messages from the host did not arrive once a later one did
// (30.4 "Gaps").
//
//   node www/tests/rooms.mjs           (also run as part of www/tests/e2e.mjs)

import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { eventually } from '../../wasm/tests/poll.mjs';
import { canvasQrPayload, writeQrY4m } from './fakecam.mjs';
import { artifacts, axeViolations, launchBrowserWithCamera, newContext, standalone, startRelay } from './harness.mjs';
import { register } from './devices.mjs';

const T = { timeout: 60_000 };

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

/**
 * Runs in each page before the app: keeps every RTCPeerConnection the page makes and
 * gives `window.sealpostRoomVoice.stats()` (audio bytes of each one not closed), so the
 * test reads getStats without the app shipping a hook for it.
 */
function voiceProbe() {
  const pcs = [];
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      pcs.push(this);
    }
  };
  window.sealpostRoomVoice = {
    stats: () =>
      Promise.all(
        pcs
          .filter((pc) => pc.signalingState !== 'closed')
          .map(async (pc) => {
            const out = { bytesSent: 0, bytesReceived: 0 };
            for (const s of (await pc.getStats()).values()) {
              if (s.type === 'outbound-rtp' && s.kind === 'audio') out.bytesSent += s.bytesSent;
              if (s.type === 'inbound-rtp' && s.kind === 'audio') out.bytesReceived += s.bytesReceived;
            }
            return out;
          }),
      ),
  };
}

const shot = (page, name) => page.screenshot({ path: join(artifacts, `${name}.png`) });

/** Rows of every table of the relay's SQLite database (the sqlite3 CLI, read-only). */
function tableRows(relay) {
  const db = join(relay.dataDir, 'relay.db');
  const sql = (q) => execFileSync('sqlite3', ['-readonly', db, q], { encoding: 'utf8' }).trim();
  const tables = sql("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").split('\n').filter(Boolean);
  return Object.fromEntries(tables.map((t) => [t, Number(sql(`SELECT count(*) FROM "${t}"`))]));
}

/** Everything a page keeps: every IndexedDB record (bytes as Latin-1 text) and both storages. */
function pageData(page) {
  return page.evaluate(async () => {
    const text = (v) => {
      if (v instanceof ArrayBuffer) v = new Uint8Array(v);
      if (ArrayBuffer.isView(v)) return String.fromCharCode(...new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      if (v && typeof v === 'object') return Object.entries(v).map(([k, x]) => `${k}=${text(x)}`).join(';');
      return String(v);
    };
    const req = (r) => new Promise((ok, fail) => ((r.onsuccess = () => ok(r.result)), (r.onerror = () => fail(r.error))));
    const dbs = {};
    for (const { name } of await indexedDB.databases()) {
      const db = await req(indexedDB.open(name));
      for (const store of db.objectStoreNames) {
        const s = db.transaction(store).objectStore(store);
        const [keys, values] = await Promise.all([req(s.getAllKeys()), req(s.getAll())]);
        dbs[`${name}/${store}`] = keys.map((k, i) => `${text(k)}:${text(values[i])}`);
      }
      db.close();
    }
    return { dbs, storage: JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }), href: location.href };
  });
}

/**
 * A TCP proxy in front of the relay for one page: HTTP passes through as it is; on a room
 * socket (`GET /v2/rooms/...` with an upgrade) the relay's WebSocket frames to the page
 * are read one by one, and while `dropFrom` is a member id the room frames from that
 * member are dropped: the relay as an attacker that stops forwarding them.
 */
function dropProxy(relayUrl) {
  const target = new URL(relayUrl);
  const proxy = { dropFrom: null, dropped: 0, url: '' };
  const sockets = new Set();
  const server = createServer((client) => {
    sockets.add(client);
    let head = Buffer.alloc(0);
    const onFirst = (chunk) => {
      head = Buffer.concat([head, chunk]);
      if (!head.includes('\r\n\r\n')) return;
      client.off('data', onFirst);
      const text = head.toString('latin1');
      const room = /^GET \/v2\/rooms\/\S* HTTP/.test(text) && /^upgrade:\s*websocket/im.test(text);
      const up = connect(Number(target.port), target.hostname, () => up.write(head));
      sockets.add(up);
      client.on('data', (c) => up.write(c));
      client.on('close', () => up.destroy());
      up.on('close', () => client.destroy());
      client.on('error', () => up.destroy());
      up.on('error', () => client.destroy());
      if (!room) {
        up.on('data', (c) => client.write(c));
        return;
      }
      let buf = Buffer.alloc(0);
      let upgraded = false;
      up.on('data', (c) => {
        buf = Buffer.concat([buf, c]);
        if (!upgraded) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          client.write(buf.subarray(0, end + 4));
          buf = buf.subarray(end + 4);
          upgraded = true;
        }
        // Server frames are unmasked: FIN/opcode, length (7, 16 or 64 bits), payload.
        while (buf.length >= 2) {
          let len = buf[1] & 0x7f;
          let at = 2;
          if (len === 126) {
            if (buf.length < 4) return;
            len = buf.readUInt16BE(2);
            at = 4;
          } else if (len === 127) {
            if (buf.length < 10) return;
            len = Number(buf.readBigUInt64BE(2));
            at = 10;
          }
          if (buf.length < at + len) return;
          const frame = buf.subarray(0, at + len);
          buf = buf.subarray(at + len);
          if ((frame[0] & 0x0f) === 1 && proxy.dropFrom !== null) {
            let m = null;
            try {
              m = JSON.parse(frame.subarray(at).toString('utf8'));
            } catch {
              /* not JSON: forwarded */
            }
            if (m?.type === 'frame' && m.from === proxy.dropFrom) {
              proxy.dropped += 1;
              continue;
            }
          }
          client.write(frame);
        }
      });
    };
    client.on('data', onFirst);
    client.on('close', () => sockets.delete(client));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      proxy.url = `http://127.0.0.1:${server.address().port}`;
      proxy.stop = () => {
        for (const s of sockets) s.destroy();
        return new Promise((ok) => server.close(() => ok()));
      };
      resolve(proxy);
    });
  });
}

const messages = (page) => page.locator('[data-testid=room-messages]');

async function say(page, text) {
  await page.fill('[data-testid=room-compose]', text);
  await page.click('[data-testid=room-send]');
  await messages(page).filter({ hasText: text }).waitFor(T);
}

/** Opens the rooms screen from the log-in card (no account). */
async function roomsWithoutAccount(page, name) {
  await page.goto('/');
  await page.click('[data-testid=rooms-no-account]');
  await page.fill('[data-testid=room-name]', name);
}

export async function runRooms(r, { relayBin, problems }) {
  const relay = await startRelay(relayBin);
  // The camera films a placeholder until the host's QR code is known (the camera reads
  // the file again each time it starts).
  mkdirSync(artifacts, { recursive: true });
  const y4m = join(artifacts, 'room-camera.y4m');
  writeQrY4m(y4m, new TextEncoder().encode('no room yet'));
  const browser = await launchBrowserWithCamera(y4m);
  // Dan's page reaches the relay through a proxy that can drop what the relay sends it.
  const proxy = await dropProxy(relay.url);
  const p = {};
  for (const k of ['A', 'B', 'C', 'D']) {
    p[k] = await (await newContext(browser, k === 'D' ? proxy.url : relay.url, problems, `room-${k}`)).newPage();
    await p[k].addInitScript(voiceProbe);
  }
  // Every URL (requests and sockets) page C opens: the code in the link must not be one.
  const seenByRelay = [];
  p.C.on('request', (q) => seenByRelay.push(q.url()));
  p.C.on('websocket', (ws) => seenByRelay.push(ws.url()));
  const axe = [];
  let code = '';
  let link = '';
  let rowsBefore = null;
  const before = {};
  try {
    await r.step('rooms: a signed-in user opens a room: its code as text, as a QR code and as a link', async () => {
      await register(p.A, 'roomhost');
      for (const k of ['B', 'C', 'D']) {
        await p[k].goto('/');
        await p[k].locator('[data-testid=rooms-no-account]').waitFor(T);
        before[k] = await pageData(p[k]);
      }
      rowsBefore = tableRows(relay);
      await p.A.click('[data-testid=rooms]');
      await p.A.fill('[data-testid=room-name]', 'Ada');
      await p.A.click('[data-testid=room-new]');
      code = (await p.A.locator('[data-testid=room-code]').textContent(T)).trim();
      expect(/^[1-9][0-9]{0,5}-[0-9a-hjkmnp-tv-z]{8}$/.test(code), `a room code: ${code}`);
      link = await p.A.inputValue('[data-testid=room-link]');
      expect(link === `${relay.url}/#room=${code}`, `the link holds the code in its fragment: ${link}`);
      const qr = new TextDecoder().decode(await canvasQrPayload(p.A, '[data-testid=room-qr]'));
      expect(qr === link, `the QR code is the link: ${qr}`);
      await p.A.locator('[data-testid=room-members]', { hasText: 'You' }).waitFor(T);
      axe.push(...(await axeViolations(p.A, 'room (host)')));
      await shot(p.A, 'rooms-1-host');
    });

    await r.step('rooms: a wrong code is refused with a clear line; the right one, typed, gets a guest with no account in', async () => {
      await roomsWithoutAccount(p.B, 'Bea');
      axe.push(...(await axeViolations(p.B, 'rooms (no account)')));
      const [plate, secret] = code.split('-');
      await p.B.fill('[data-testid=room-code-input]', `${plate}-${secret === '00000000' ? '11111111' : '00000000'}`);
      await p.B.click('[data-testid=room-join]');
      await p.B.locator('[data-testid=room-error]', { hasText: 'Wrong code' }).waitFor(T);
      await shot(p.B, 'rooms-2-wrong-code');
      axe.push(...(await axeViolations(p.B, 'rooms (wrong code)')));
      await messages(p.A).filter({ hasText: 'wrong code' }).waitFor(T);
      await p.B.fill('[data-testid=room-code-input]', ` ${code.toUpperCase()} `);
      await p.B.click('[data-testid=room-join]');
      await p.B.locator('[data-testid=room-screen]').waitFor(T);
      await p.A.locator('[data-testid=room-members]', { hasText: 'Bea' }).waitFor(T);
      await p.B.locator('[data-testid=room-members]', { hasText: 'Ada' }).waitFor(T);
    });

    await r.step('rooms: the link opens the join form with the code, which reaches no server', async () => {
      await p.C.goto('about:blank');
      await p.C.goto(link); // as a new tab opens it
      await p.C.locator('[data-testid=room-code-input]').waitFor(T);
      expect((await p.C.inputValue('[data-testid=room-code-input]')) === code, 'the join form holds the link’s code');
      expect(!p.C.url().includes(code), `the code left the address bar: ${p.C.url()}`);
      await p.C.fill('[data-testid=room-name]', 'Cy');
      await p.C.click('[data-testid=room-join]');
      await p.C.locator('[data-testid=room-screen]').waitFor(T);
      const secret = code.split('-')[1];
      expect(!seenByRelay.some((u) => u.toLowerCase().includes(secret)), `a URL held the code: ${seenByRelay.filter((u) => u.includes(secret))}`);
    });

    await r.step('rooms: a guest scans the host’s QR code with the camera and is in', async () => {
      writeQrY4m(y4m, new TextEncoder().encode(link));
      await roomsWithoutAccount(p.D, 'Dan');
      await p.D.click('[data-testid=room-scan]');
      await p.D.locator('[data-testid=room-screen]').waitFor(T);
      await p.A.locator('[data-testid=room-members]', { hasText: 'Dan' }).waitFor(T);
      await p.A.getByText('In the room (4 of 8)').waitFor(T);
    });

    await r.step('rooms: text flows among all members, each shown with its sender’s name', async () => {
      await say(p.A, 'hello from Ada');
      await say(p.B, 'hi, Bea here');
      await say(p.C, 'Cy says hi');
      for (const [k, others] of [['A', ['hi, Bea here', 'Cy says hi']], ['B', ['hello from Ada', 'Cy says hi']], ['C', ['hello from Ada', 'hi, Bea here']], ['D', ['hello from Ada', 'hi, Bea here', 'Cy says hi']]]) {
        for (const t of others) await messages(p[k]).filter({ hasText: t }).waitFor(T);
      }
      await p.D.locator('[data-testid=room-msg]', { hasText: 'hello from Ada' }).locator('.sender', { hasText: 'Ada' }).waitFor(T);
      await p.A.locator('[data-testid=room-msg]', { hasText: 'Cy says hi' }).locator('.sender', { hasText: 'Cy' }).waitFor(T);
      axe.push(...(await axeViolations(p.B, 'room (guest, no account)')));
      await shot(p.B, 'rooms-3-guest');
      await shot(p.A, 'rooms-4-host-talk');
    });

    await r.step('rooms: three members turn voice on and audio flows between each pair; one turns it off', async () => {
      const names = { A: 'Ada', B: 'Bea', C: 'Cy' };
      for (const k of ['A', 'B', 'C']) await p[k].click('[data-testid=room-voice-on]');
      for (const k of ['A', 'B', 'C']) {
        const others = Object.entries(names).filter(([o]) => o !== k).map(([, n]) => n).join(', ');
        await p[k].locator('[data-testid=room-voice-status]', { hasText: `On voice with ${others}.` }).waitFor(T);
        await eventually(p[k], async () => {
          const s = await window.sealpostRoomVoice.stats();
          return s.length === 2 && s.every((x) => x.bytesSent > 2000 && x.bytesReceived > 2000);
        }, null, T.timeout);
      }
      // Dan's voice is off: he sees who is on it, and nothing asked for his microphone.
      await p.D.locator('[data-testid=room-on-voice]').nth(2).waitFor(T);
      expect(await p.D.locator('[data-testid=room-voice-on]').isVisible(), 'Dan still has "Turn on voice"');
      await p.A.click('[data-testid=room-voice-mute]');
      await p.A.locator('[data-testid=room-voice-status]', { hasText: '(muted)' }).waitFor(T);
      expect(await p.A.locator('[data-testid=room-voice-mute]').textContent() === 'Unmute', 'the mute button says Unmute');
      axe.push(...(await axeViolations(p.A, 'room (voice on, muted)')));
      await shot(p.A, 'rooms-4b-voice');
      await p.C.click('[data-testid=room-voice-off]');
      await p.C.locator('[data-testid=room-voice-on]').waitFor(T);
      for (const [k, other] of [['A', 'Bea'], ['B', 'Ada']]) {
        await p[k].locator('[data-testid=room-voice-status]', { hasText: `with ${other}.` }).waitFor(T);
        expect(await p[k].evaluate(async () => (await window.sealpostRoomVoice.stats()).length) === 1, `${k} still connected to Cy`);
      }
      expect(await p.C.evaluate(async () => (await window.sealpostRoomVoice.stats()).length) === 0, 'Cy kept a connection');
    });

    await r.step('rooms: a relay that stops forwarding the host’s messages to one guest: the host is told, then told again when they get through; the guest is told what it missed', async () => {
      proxy.dropFrom = 1;
      await say(p.A, 'lost on the way to Dan');
      await messages(p.A).filter({ hasText: 'Your messages are not reaching Dan' }).waitFor(T);
      await p.A.locator('[data-testid^=room-undelivered-]').waitFor(T);
      expect(proxy.dropped > 0, 'the proxy dropped nothing');
      await shot(p.A, 'rooms-4a-undelivered');
      proxy.dropFrom = null;
      await say(p.A, 'back again, Dan');
      await messages(p.D).filter({ hasText: 'back again, Dan' }).waitFor(T);
      await messages(p.A).filter({ hasText: 'Dan confirms your messages again' }).waitFor(T);
      await p.A.locator('[data-testid^=room-undelivered-]').waitFor({ state: 'detached', ...T });
      expect(!(await messages(p.D).textContent()).includes('lost on the way to Dan'), 'the dropped text reached Dan');
      // Dan got a later message of Ada's: his page says what did not arrive.
      await messages(p.D).filter({ hasText: 'from Ada did not arrive' }).waitFor(T);
      // Nobody else was told anything of the kind: Bea and Cy got everything.
      for (const k of ['B', 'C', 'D']) {
        expect(!(await messages(p[k]).textContent()).includes('are not reaching'), `page ${k} was told its messages do not get through`);
      }
      for (const k of ['A', 'B', 'C']) {
        expect(!(await messages(p[k]).textContent()).includes('did not arrive'), `page ${k} was told a message did not arrive`);
      }
    });

    await r.step('rooms: members leave, the host before the last guest, who is told the room ended', async () => {
      await p.D.click('[data-testid=room-leave]');
      await p.D.locator('[data-testid=room-home]').waitFor(T);
      await messages(p.A).filter({ hasText: 'Dan left.' }).waitFor(T);
      await p.C.click('[data-testid=room-leave]');
      await p.A.getByText('In the room (2 of 8)').waitFor(T);
      await p.A.click('[data-testid=room-leave]');
      await p.A.locator('[data-testid=room-home]').waitFor(T);
      await p.B.locator('[data-testid=room-status]', { hasText: 'The room ended: its host left.' }).waitFor(T);
      expect(await p.B.locator('[data-testid=room-compose]').isDisabled(), 'no composing in an ended room');
      await shot(p.B, 'rooms-5-ended');
      axe.push(...(await axeViolations(p.B, 'room (ended)')));
      await p.B.click('[data-testid=room-leave]');
      await p.B.locator('[data-testid=room-home]').waitFor(T);
    });

    await r.step('rooms: after everyone left, nothing of the room is in the relay’s database or in the pages', async () => {
      // The relay forgets the last member when its socket's task ends, just after the close.
      let metrics = '';
      const gone = () => /^sealpost_rooms_open 0$/m.test(metrics) && /^sealpost_room_members 0$/m.test(metrics);
      for (let i = 0; i < 50 && !gone(); i++) {
        if (i) await new Promise((ok) => setTimeout(ok, 200));
        metrics = await (await fetch(`${relay.url}/metrics`)).text();
      }
      expect(gone(), `rooms left open: ${metrics.split('\n').filter((l) => /^sealpost_room/.test(l)).join('; ')}`);
      const rows = tableRows(relay);
      expect(JSON.stringify(rows) === JSON.stringify(rowsBefore), `database rows changed: ${JSON.stringify(rowsBefore)} -> ${JSON.stringify(rows)}`);
      const dump = execFileSync('sqlite3', ['-readonly', join(relay.dataDir, 'relay.db'), '.dump'], { encoding: 'utf8', maxBuffer: 1 << 28 });
      expect(!dump.includes(code) && !dump.includes(code.split('-')[1]), 'the room code is in the database');
      const said = [code.split('-')[1], 'hello from Ada', 'hi, Bea here', 'Cy says hi'];
      for (const k of ['A', 'B', 'C', 'D']) {
        const now = await pageData(p[k]);
        const all = JSON.stringify(now);
        const kept = said.filter((s) => all.includes(s));
        expect(kept.length === 0, `page ${k} keeps ${kept.join(', ')}`);
        // The guests (no account) wrote nothing at all.
        if (before[k]) expect(JSON.stringify(now.dbs) === JSON.stringify(before[k].dbs), `page ${k}'s IndexedDB changed: ${Object.keys(now.dbs)}`);
      }
    });

    await r.step('rooms: no accessibility violations on the room screens', async () => {
      expect(axe.length === 0, axe.join('\n'));
    });
  } finally {
    await browser.close().catch(() => undefined);
    await proxy.stop();
    await relay.stop();
  }
}

await standalone(import.meta.url, 'rooms', runRooms);
