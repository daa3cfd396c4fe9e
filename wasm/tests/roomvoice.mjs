// Room voice (PROTOCOL.md 30.6) in headless Chromium on loopback with fake microphones
// (run by scripts/test.mjs): three pages, each a room member with `attachRoomVoice`.
// All three turn voice on and audio bytes flow between each pair (getStats); malformed
// signals, an SDP whose fingerprint is not the sealed one and an offer against the
// lower-id rule are ignored with an event and break nothing; a member turning voice off
// closes its connections on the others; a member leaving the room closes its own; a
// member who joins later hears who is on voice.

import { eventually } from './poll.mjs';

const until = (page, fn, arg, timeout = 60_000) => page.waitForFunction(fn, arg, { timeout, polling: 50 });

/** Makes (no `code`) or joins a room on `page` with voice attached; its id and code. */
function member(page, relayUrl, code) {
  return page.evaluate(async ({ relayUrl, code }) => {
    window.voiceEvents = [];
    let voice = null;
    const onEvent = (e) => voice?.handle(e);
    window.room = code ? await sp.joinRoom(relayUrl, code, { onEvent }) : await sp.createRoom(relayUrl, { onEvent });
    voice = window.voice = attachRoomVoice(window.room, { onEvent: (e) => window.voiceEvents.push(e) });
    return { me: window.room.me, code: window.room.code };
  }, { relayUrl, code });
}

/** Waits until `page` is connected to exactly `others` and audio passed `bytes` both ways with each. */
async function flows(page, others, bytes) {
  await until(page, (others) => JSON.stringify(window.voice.peers().filter((p) => p.state === 'connected').map((p) => p.member)) === JSON.stringify(others), others);
  await eventually(page, async ({ others, bytes }) => {
    const s = (await window.voice.stats()).filter((x) => others.includes(x.member));
    return s.length === others.length && s.every((x) => x.bytesSent > bytes && x.bytesReceived > bytes);
  }, { others, bytes });
}

export async function roomVoiceSuite({ open, relayUrl, step, check }) {
  const pages = [await open(), await open(), await open()];
  const [a, b, c] = pages;
  const host = await member(a, relayUrl);
  const ids = [host.me, (await member(b, relayUrl, host.code)).me, (await member(c, relayUrl, host.code)).me];
  check(JSON.stringify(ids) === '[1,2,3]', `member ids ${ids}`);
  const refused = (page) => page.evaluate(() => window.voiceEvents.filter((e) => e.event === 'refused').map((e) => `${e.from}:${e.reason}`));

  await step('room voice: three members turn voice on; audio flows between each pair', async () => {
    // One after another, and the last two at once (both say "on" before hearing the other).
    await a.evaluate(() => window.voice.start());
    await Promise.all([b, c].map((p) => p.evaluate(() => window.voice.start())));
    for (const [i, p] of pages.entries()) await flows(p, ids.filter((id) => id !== ids[i]), 2000);
    for (const p of pages) check((await refused(p)).length === 0, `refused ${await refused(p)}`);
    // One connection per pair: each page made two.
    const made = await Promise.all(pages.map((p) => p.evaluate(() => window.peerConnections.length)));
    check(made.every((n) => n === 2), `connections made ${made}`);
  });

  await step('room voice: malformed signals, a swapped fingerprint and an offer from the higher id are ignored with an event', async () => {
    await c.evaluate(async () => {
      const other = await RTCPeerConnection.generateCertificate({ name: 'ECDSA', namedCurve: 'P-256' });
      const fp = other.getFingerprints()[0].value.toUpperCase();
      const sdp = (f) => `v=0\r\na=fingerprint:sha-256 ${f}\r\n`;
      window.room.sendSignal(1, 'not json');
      window.room.sendSignal(1, '{"t":"offer","sdp":"v=0"}');
      window.room.sendSignal(1, '["on"]');
      // As a member who rewrote the SDP: its fingerprint is not the one in the signal.
      window.room.sendSignal(1, JSON.stringify({ t: 'answer', fp, sdp: sdp('AA:'.repeat(31) + 'AA') }));
      // Member 3 may not offer to member 2 (the lower id offers).
      window.room.sendSignal(2, JSON.stringify({ t: 'offer', fp, sdp: sdp(fp) }));
    });
    await until(a, () => window.voiceEvents.filter((e) => e.event === 'refused').length === 4);
    await until(b, () => window.voiceEvents.filter((e) => e.event === 'refused').length === 1);
    check(JSON.stringify(await refused(a)) === '["3:MALFORMED","3:MALFORMED","3:MALFORMED","3:FINGERPRINT_MISMATCH"]', JSON.stringify(await refused(a)));
    check(JSON.stringify(await refused(b)) === '["3:UNEXPECTED"]', JSON.stringify(await refused(b)));
    // Nothing was closed: the connections carry on.
    const before = await a.evaluate(async () => (await window.voice.stats()).find((s) => s.member === 3).bytesReceived);
    await flows(a, [2, 3], before);
    await flows(b, [1, 3], 2000);
  });

  await step('room voice: a member turning voice off closes its connections on the others', async () => {
    await c.evaluate(() => window.voice.stop());
    for (const p of [a, b]) {
      await until(p, () => window.voiceEvents.some((e) => e.event === 'voice' && e.member === 3 && !e.on));
      await until(p, () => window.voice.peers().every((x) => x.member !== 3));
    }
    const states = await c.evaluate(() => window.peerConnections.map((pc) => pc.connectionState));
    check(states.every((s) => s === 'closed'), `c's connections ${states}`);
    const cs = await a.evaluate(() => window.peerConnections.filter((pc) => pc.connectionState === 'closed').length);
    check(cs === 1, `a closed ${cs}`);
    const before = await a.evaluate(async () => (await window.voice.stats()).find((s) => s.member === 2).bytesReceived);
    await flows(a, [2], before);
  });

  await step('room voice: a member leaving the room closes its connection on the others; a newcomer learns who is on voice', async () => {
    await b.evaluate(() => window.room.leave());
    await until(a, () => window.voice.peers().length === 0);
    check(await a.evaluate(() => window.peerConnections.every((pc) => pc.connectionState === 'closed')), 'a kept a connection');
    // Member 4 joins with its voice off: member 1's voice is on, member 3's is not.
    const d = await open();
    await member(d, relayUrl, host.code);
    await until(d, () => window.voiceEvents.some((e) => e.event === 'voice' && e.member === 1 && e.on));
    check(JSON.stringify(await d.evaluate(() => window.voice.peers())) === '[{"member":1,"state":"none"}]', JSON.stringify(await d.evaluate(() => window.voice.peers())));
    check(await d.evaluate(() => window.peerConnections.length) === 0, 'a connection without voice on');
    await d.evaluate(() => window.room.leave());
    await a.evaluate(() => window.voice.stop());
    await c.evaluate(() => window.room.leave());
    await a.evaluate(() => window.room.leave());
  });
}
