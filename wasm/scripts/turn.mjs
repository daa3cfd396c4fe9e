#!/usr/bin/env node
// Calls and room voice through a real TURN server (docs/TURN.md): coturn's `turnserver`
// on loopback with the relay's shared secret (`use-auth-secret`), a relay that hands out
// short-lived credentials for it, and headless Chromium whose test pages allow relay
// candidates only (`window.forceRelay`, tests/devices.page.js), as two browsers behind
// NATs that leave no direct path. Checks, with getStats(), that the selected candidate
// pair is a TURN relay candidate on both sides and audio bytes flow both ways, for a
// 1:1 call (credentials from GET /v2/mailboxes/{id}/{device}/turn) and for room voice
// (credentials from the room socket); and that coturn refuses a forged credential and
// an expired one signed with the right secret (401, no relay candidate).
//
//   node wasm/scripts/turn.mjs
//
// Needs: wasm/pkg, `npm ci` in wasm/, Chromium, cargo (the relay), and `turnserver`
// (Debian's coturn; `cargo xtask test` installs it). Without `turnserver` this fails:
// only `cargo xtask test` may skip it, and says so, when coturn cannot be installed.
// Prints `N passed, N failed` last; exits non-zero on any failure.

import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAKE_MEDIA, launchChromium } from './chromium.mjs';
import { check, freePort, startRelay, stepper } from './relay.mjs';
import { pair } from '../tests/direct.mjs';
import { eventually } from '../tests/poll.mjs';

const wasmDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const r = { passed: 0, failed: 0, failures: [] };
const finish = () => {
  for (const f of r.failures) console.log(`failed: ${f.name}`);
  console.log(`${r.passed} passed, ${r.failed} failed`);
  process.exit(r.failed ? 1 : 0);
};
const turnserver = ['/usr/bin/turnserver', '/usr/local/bin/turnserver'].find((p) => existsSync(p));
if (!turnserver || !existsSync(join(wasmDir, 'pkg', 'package.json'))) {
  console.log(`FAIL TURN: ${turnserver ? 'wasm/pkg is missing (node wasm/scripts/build.mjs)' : 'turnserver not found (apt-get install coturn)'}`);
  r.failed++;
  finish();
}

/**
 * coturn as docs/TURN.md "In the tests" configures it: loopback only, the relay's secret,
 * plain UDP/TCP (no TLS), loopback peers allowed (both browsers are on this machine).
 */
async function startCoturn(secret) {
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-turn-'));
  const port = await freePort();
  // Relay ports: 200 of the dynamic range, from one derived from the listening port.
  const min = 49152 + ((port * 7) % 16000);
  const config = join(dir, 'turnserver.conf');
  writeFileSync(config, [
    'listening-ip=127.0.0.1',
    'relay-ip=127.0.0.1',
    `listening-port=${port}`,
    `min-port=${min}`,
    `max-port=${min + 199}`,
    'realm=sealpost.test',
    'use-auth-secret',
    `static-auth-secret=${secret}`,
    'allow-loopback-peers',
    'no-multicast-peers',
    'no-tls',
    'no-dtls',
    'no-cli',
    'user-quota=12',
    'total-quota=1200',
    'max-bps=256000',
    `userdb=${join(dir, 'turndb')}`,
    `pidfile=${join(dir, 'turnserver.pid')}`,
    'log-file=stdout',
    'simple-log',
    '',
  ].join('\n'), { mode: 0o600 });
  const child = spawn(turnserver, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  for (const s of [child.stdout, child.stderr]) s.on('data', (d) => {
    log += d;
    if (process.env.TURN_LOG) process.stderr.write(d);
  });
  const exited = new Promise((ok) => child.once('exit', ok));
  const listening = () => new Promise((ok) => {
    const s = connect(port, '127.0.0.1', () => (s.destroy(), ok(true)));
    s.on('error', () => ok(false));
  });
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    if (await listening()) return { url: `turn:127.0.0.1:${port}?transport=udp`, log: () => log, stop: async () => { child.kill(); await exited; rmSync(dir, { recursive: true, force: true }); } };
    await new Promise((ok) => setTimeout(ok, 100));
  }
  child.kill();
  throw new Error(`turnserver did not start: ${log.slice(-2000)}`);
}

/** The selected candidate pair of `pc` (getStats): both candidates' types, the local one's server. */
const SELECTED = (pc) => pc.getStats().then((stats) => {
  for (const t of stats.values()) {
    const p = t.type === 'transport' && t.selectedCandidatePairId && stats.get(t.selectedCandidatePairId);
    if (p) {
      const local = stats.get(p.localCandidateId);
      return { local: local?.candidateType, remote: stats.get(p.remoteCandidateId)?.candidateType, url: local?.url ?? '', relayProtocol: local?.relayProtocol };
    }
  }
  return null;
});

/** Checks that every open connection of `page` goes through the TURN server at `url`. */
async function throughTurn(page, url) {
  const pairs = await page.evaluate(async (fn) => {
    const selected = eval(fn);
    const open = window.peerConnections.filter((pc) => pc.connectionState === 'connected');
    return Promise.all(open.map(selected));
  }, SELECTED.toString());
  check(pairs.length > 0, 'no connected peer connection');
  for (const p of pairs) {
    check(p?.local === 'relay' && p.remote === 'relay', `selected pair ${JSON.stringify(p)}`);
    check(p.url === url && p.relayProtocol === 'udp', `relay candidate from ${JSON.stringify(p)}, not ${url}`);
  }
}

const until = (page, fn, arg, timeout = 60_000) => page.waitForFunction(fn, arg, { timeout, polling: 50 });
const secret = randomBytes(32).toString('hex');
const coturn = await startCoturn(secret);
const relay = await startRelay({ args: ['--turn-url', coturn.url, '--turn-ttl-secs', '600'], env: { SEALPOST_TURN_SECRET: secret } });
const { chromium } = await import('playwright-core');
const context = relay && await launchChromium(chromium, FAKE_MEDIA);
const step = stepper(r);
try {
  check(relay, 'the relay did not start (SEALPOST_RELAY_BIN, or cargo build -p sealpost-relay)');
  await context.grantPermissions(['microphone'], { origin: relay.url });
  const open = async () => {
    const page = await context.newPage();
    page.on('pageerror', (e) => console.log(`page error: ${e}`));
    await page.goto(`${relay.url}/wasm/tests/devices.html`);
    await page.waitForFunction(() => window.ready === true, null, { timeout: 60000 });
    await page.evaluate(() => (window.forceRelay = true));
    return page;
  };
  const tag = Math.random().toString(36).slice(2, 8);
  const [A, B] = [`tua-${tag}`, `tub-${tag}`];
  const { pages: [a, b] } = await pair(open, relay.url, [A, B], [{ calls: true, turn: true }, { calls: true, turn: true }]);

  await step('TURN: coturn allocates for the relay\'s credential and refuses a forged and an expired one (401)', async () => {
    const issued = await a.evaluate(() => clients.me.iceServers());
    const turn = issued.find((s) => s.username);
    check(turn && JSON.stringify(turn.urls) === JSON.stringify([coturn.url]), `servers ${JSON.stringify(issued)}`);
    const expiry = Number(turn.username.split(':')[0]);
    const now = Math.floor(Date.now() / 1000);
    check(expiry > now && expiry <= now + 600, `username ${turn.username}`);
    // Signed with the right secret, but its time is past.
    const stale = `${now - 60}:${randomBytes(12).toString('hex')}`;
    const cases = {
      issued: turn,
      forged: { ...turn, credential: randomBytes(20).toString('base64') },
      expired: { urls: turn.urls, username: stale, credential: createHmac('sha1', secret).update(stale).digest('base64') },
    };
    const got = await a.evaluate(async (cases) => {
      const gather = async (server) => {
        const pc = new RTCPeerConnection({ iceServers: [server], iceTransportPolicy: 'relay' });
        const out = { types: [], errors: [] };
        pc.onicecandidate = (e) => e.candidate && out.types.push(e.candidate.type);
        pc.onicecandidateerror = (e) => out.errors.push(e.errorCode);
        const done = new Promise((ok) => (pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && ok()));
        pc.createDataChannel('probe');
        await pc.setLocalDescription();
        await done;
        pc.close();
        return out;
      };
      const out = {};
      for (const [name, server] of Object.entries(cases)) out[name] = await gather(server);
      return out;
    }, cases);
    check(got.issued.types.includes('relay') && got.issued.errors.length === 0, `issued: ${JSON.stringify(got.issued)}`);
    for (const name of ['forged', 'expired']) {
      check(got[name].types.length === 0 && got[name].errors.includes(401), `${name}: ${JSON.stringify(got[name])}`);
    }
    // coturn refused the expired one itself, before any password check.
    check(coturn.log().includes(`Cannot find credentials of user <${stale}>`), 'coturn did not log the expired username');
  });

  await step('TURN: a call with relay candidates only connects through coturn and audio flows both ways', async () => {
    const id = await a.evaluate((to) => window.calls.call(to), B);
    await until(b, (id) => window.updates.some((u) => u.call === id && u.state === 'ringing'), id);
    await b.evaluate((id) => window.calls.accept(id), id);
    for (const p of [a, b]) await until(p, (id) => window.updates.some((u) => u.call === id && u.state === 'connected'), id);
    for (const p of [a, b]) {
      await eventually(p, async () => {
        const s = await window.calls.stats();
        return s.bytesSent > 4000 && s.bytesReceived > 4000;
      });
      await throughTurn(p, coturn.url);
    }
    await a.evaluate(() => window.calls.hangUp());
    for (const p of [a, b]) await until(p, (id) => window.updates.some((u) => u.call === id && u.state === 'ended'), id);
  });

  await step('TURN: room voice with relay candidates only gets its credentials on the room socket and flows through coturn', async () => {
    const member = (page, code) => page.evaluate(async ({ relayUrl, code }) => {
      let voice = null;
      const onEvent = (e) => voice?.handle(e);
      window.room = code ? await sp.joinRoom(relayUrl, code, { onEvent }) : await sp.createRoom(relayUrl, { onEvent });
      voice = window.voice = attachRoomVoice(window.room, { iceServers: () => window.room.iceServers() });
      return window.room.code;
    }, { relayUrl: relay.url, code });
    const code = await member(a);
    await member(b, code);
    await until(a, () => window.room.members.length === 2);
    for (const p of [a, b]) await p.evaluate(() => window.voice.start());
    for (const p of [a, b]) {
      await eventually(p, async () => {
        const s = await window.voice.stats();
        return s.length === 1 && s[0].bytesSent > 4000 && s[0].bytesReceived > 4000;
      });
      await throughTurn(p, coturn.url);
    }
    for (const p of [b, a]) await p.evaluate(() => window.room.leave());
  });
} catch (e) {
  r.failed++;
  r.failures.push({ name: 'TURN', error: String(e) });
  console.log(`FAIL TURN: ${e?.stack ?? e}`);
} finally {
  await context?.close();
  relay?.child.kill();
  if (relay) rmSync(relay.data, { recursive: true, force: true });
  await coturn.stop();
}
finish();
