// Voice calls in headless Chromium on loopback with fake media devices (run by
// scripts/test.mjs; Chromium started with --use-fake-device-for-media-stream and
// --use-fake-ui-for-media-stream): two pages, each its own account hosting its client's
// calls (attachCalls). A call connects and audio bytes flow both ways (getStats); a
// hang-up on either side ends it on both; a declined call; a call the caller gives up is
// a missed call; a callee without a microphone fails the call and says so, a caller
// without one rings nobody; a mute carries over to the next call; an accept whose SDP
// fingerprint was swapped after sealing fails the call on both sides with
// CALL_FINGERPRINT_MISMATCH and never connects.

import { pair } from './direct.mjs';
import { eventually } from './poll.mjs';

const until = (page, fn, arg, timeout = 60_000) => page.waitForFunction(fn, arg, { timeout, polling: 50 });
/** The states call `id` went through on a page. */
const states = (page, id) => page.evaluate((id) => window.updates.filter((u) => u.call === id).map((u) => u.reason ?? u.state), id);
const ended = (page, id) => until(page, (id) => window.updates.some((u) => u.call === id && u.state === 'ended'), id);

/** Alice's page calls bob's; bob's accepts; resolves once both are connected. */
async function connect(a, b, to) {
  const id = await a.evaluate((to) => window.calls.call(to), to);
  await until(b, (id) => window.updates.some((u) => u.call === id && u.state === 'ringing'), id);
  await b.evaluate((id) => window.calls.accept(id), id);
  for (const p of [a, b]) await until(p, (id) => window.updates.some((u) => u.call === id && u.state === 'connected'), id);
  return id;
}

/** Waits until both sides' audio counters passed `bytes` in both directions. */
async function audioFlows(pages, bytes) {
  for (const p of pages) {
    await eventually(p, async (bytes) => {
      const s = await window.calls.stats();
      return s.bytesSent > bytes && s.bytesReceived > bytes;
    }, bytes);
  }
}

export async function callsSuite({ open, relayUrl, step, check, tag }) {
  const A = `caa-${tag}`;
  const B = `cab-${tag}`;
  const { pages: [a, b] } = await pair(open, relayUrl, [A, B], [{ calls: true }, { calls: true }]);

  await step('calls: a call connects, audio flows both ways, the callee hangs up and it ends on both sides', async () => {
    const id = await connect(a, b, B);
    await audioFlows([a, b], 2000);
    const first = await a.evaluate(() => window.calls.stats());
    await audioFlows([a, b], first.bytesSent + 2000);
    await b.evaluate(() => window.calls.hangUp());
    await ended(a, id);
    await ended(b, id);
    check(JSON.stringify(await states(a, id)) === '["ringing","connecting","connected","CALL_HUNG_UP"]', JSON.stringify(await states(a, id)));
    check(JSON.stringify(await states(b, id)) === '["ringing","connecting","connected","CALL_HUNG_UP"]', JSON.stringify(await states(b, id)));
    const closed = await Promise.all([a, b].map((p) => p.evaluate(() => window.peerConnections.at(-1).connectionState)));
    check(closed.every((s) => s === 'closed'), `connections ${closed}`);
  });

  await step('calls: the caller hangs up and it ends on both sides; muting keeps the call', async () => {
    const id = await connect(a, b, B);
    check(await a.evaluate(() => window.calls.mute(true)) === true, 'muted');
    await audioFlows([b], 1000);
    await a.evaluate(() => window.calls.hangUp());
    await ended(b, id);
    await ended(a, id);
    check((await states(b, id)).at(-1) === 'CALL_HUNG_UP', JSON.stringify(await states(b, id)));
    await a.evaluate(() => window.calls.mute(false));
  });

  await step('calls: a declined call ends on both sides without a connection', async () => {
    const made = await b.evaluate(() => window.peerConnections.length);
    const id = await a.evaluate((to) => window.calls.call(to), B);
    await until(b, (id) => window.updates.some((u) => u.call === id && u.state === 'ringing'), id);
    await b.evaluate((id) => window.calls.decline(id), id);
    await ended(a, id);
    check(JSON.stringify(await states(a, id)) === '["ringing","CALL_DECLINED"]', JSON.stringify(await states(a, id)));
    check(JSON.stringify(await states(b, id)) === '["ringing","CALL_DECLINED"]', JSON.stringify(await states(b, id)));
    check(await b.evaluate(() => window.peerConnections.length) === made, 'no connection made');
  });

  await step('calls: a call the caller gives up is a missed call for the callee', async () => {
    const id = await a.evaluate((to) => window.calls.call(to), B);
    await until(b, (id) => window.updates.some((u) => u.call === id && u.state === 'ringing'), id);
    await a.evaluate((id) => window.calls.hangUp(id), id);
    await ended(b, id);
    check((await states(b, id)).at(-1) === 'CALL_MISSED', JSON.stringify(await states(b, id)));
    check((await states(a, id)).at(-1) === 'CALL_HUNG_UP', JSON.stringify(await states(a, id)));
  });

  await step('calls: a callee without a microphone fails the call on both sides and says why; servers are asked per connection', async () => {
    const asked = await Promise.all([a, b].map((p) => p.evaluate(() => window.iceAsked)));
    // Two connected calls so far: each side made one connection per call.
    check(asked.every((n) => n === 2), `iceServers asked ${asked}`);
    await b.evaluate(() => (window.noMicrophone = true));
    const id = await a.evaluate((to) => window.calls.call(to), B);
    await until(b, (id) => window.updates.some((u) => u.call === id && u.state === 'ringing'), id);
    await b.evaluate((id) => window.calls.accept(id), id);
    await ended(a, id);
    await ended(b, id);
    const last = (p) => p.evaluate((id) => window.updates.filter((u) => u.call === id).at(-1), id);
    const [ea, eb] = [await last(a), await last(b)];
    check(eb.reason === 'CALL_FAILED' && eb.error === 'CALL_NO_MICROPHONE', JSON.stringify(eb));
    // The callee's failure reaches the caller as its hang-up (PROTOCOL.md 18.10).
    check(ea.reason === 'CALL_HUNG_UP' && ea.error === undefined, JSON.stringify(ea));
    await b.evaluate(() => (window.noMicrophone = false));
    // Refused on the caller's side: call() rejects and nothing rings.
    const rung = await b.evaluate(() => window.updates.length);
    await a.evaluate(() => (window.noMicrophone = true));
    const code = await a.evaluate((to) => window.calls.call(to).then(() => 'rang', (e) => e.code), B);
    await a.evaluate(() => (window.noMicrophone = false));
    check(code === 'CALL_NO_MICROPHONE', `caller without a microphone: ${code}`);
    await new Promise((r) => setTimeout(r, 1000));
    check(await b.evaluate(() => window.updates.length) === rung, 'nothing rang');
  });

  await step('calls: muted before a call, the next call starts muted', async () => {
    await a.evaluate(() => window.calls.mute(true));
    const id = await connect(a, b, B);
    const enabled = await a.evaluate(() => window.peerConnections.at(-1).getSenders().map((s) => s.track?.enabled));
    check(JSON.stringify(enabled) === '[false]', `caller's track enabled: ${enabled}`);
    await a.evaluate(() => window.calls.mute(false));
    check(await a.evaluate(() => window.peerConnections.at(-1).getSenders()[0].track.enabled), 'unmuted');
    await a.evaluate(() => window.calls.hangUp());
    await ended(b, id);
  });

  await step('calls: an accept whose SDP fingerprint was swapped fails the call on both sides, never connected', async () => {
    const C = `cac-${tag}`;
    const D = `cad-${tag}`;
    // D's page rewrites its SDP as a relay that rewrites signalling would.
    const { pages: [c, d] } = await pair(open, relayUrl, [C, D], [{ calls: true }, { calls: true, tamper: true }]);
    const id = await c.evaluate((to) => window.calls.call(to), D);
    await until(d, (id) => window.updates.some((u) => u.call === id && u.state === 'ringing'), id);
    await d.evaluate((id) => window.calls.accept(id), id);
    await ended(c, id);
    await ended(d, id);
    const sc = await states(c, id);
    const sd = await states(d, id);
    check(sc.at(-1) === 'CALL_FINGERPRINT_MISMATCH' && !sc.includes('connected'), JSON.stringify(sc));
    check(sd.at(-1) === 'CALL_FINGERPRINT_MISMATCH' && !sd.includes('connected'), JSON.stringify(sd));
    // The caller never gave the tampered offer to WebRTC.
    check(await c.evaluate(() => window.peerConnections.length === 0), 'no peer connection on the refusing side');
  });
}
