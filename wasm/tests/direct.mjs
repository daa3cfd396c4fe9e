// The direct channel in headless Chromium on loopback (run by scripts/test.mjs): two
// pages, each a browser of its own account, each hosting its client's WebRTC
// (attachDirect). 500 messages flow while the channel is killed mid-way; none is lost or
// delivered twice. A signal whose SDP fingerprint was swapped after sealing is refused
// with DIRECT_FINGERPRINT_MISMATCH and never connects.

const PASSWORD = 'correct horse battery staple';

/**
 * Two pages with a registered account each, engaged contacts of each other. Options per
 * page: `tamper` rewrites its SDP's fingerprint; `calls` also hosts calls (`window.calls`,
 * every update in `window.updates`, `window.iceAsked` connections made, no microphone
 * while `window.noMicrophone`); `turn` gives calls the relay's STUN/TURN servers.
 */
export async function pair(open, relayUrl, names, options = [{}, {}]) {
  const pages = [await open(), await open()];
  const ids = [];
  for (const [i, page] of pages.entries()) {
    ids.push(await page.evaluate(async ({ relayUrl, name, pw, options }) => {
      const c = await sp.Client.register({ relayUrl, storage: new sp.MemoryStorage(), keySize: 2048 }, name, pw);
      keep('me', c);
      window.got = [];
      c.onMessage((m) => window.got.push(m.text));
      window.direct = [];
      c.onDirect((e) => e.type === 'state' && window.direct.push(`${e.state}${e.error ? `:${e.error}` : ''}`));
      window.delivered = new Map();
      c.onDelivery((d) => window.delivered.set(d.messageId, d.delivered));
      let tamperSdp;
      if (options.tamper) {
        // As a rewriting relay would: another certificate's fingerprint in the SDP.
        const other = await RTCPeerConnection.generateCertificate({ name: 'ECDSA', namedCurve: 'P-256' });
        const fp = other.getFingerprints()[0].value.toUpperCase();
        tamperSdp = (sdp) => sdp.replace(/^a=fingerprint:sha-256 \S+/gm, `a=fingerprint:sha-256 ${fp}`);
      }
      attachDirect(c, { tamperSdp: options.calls ? undefined : tamperSdp });
      if (options.calls) {
        window.updates = [];
        // The servers as a function (asked per connection, counted), and a microphone a
        // test can take away (window.noMicrophone).
        window.iceAsked = 0;
        window.calls = attachCalls(c, {
          tamperSdp,
          iceServers: async () => (window.iceAsked++, options.turn ? await c.iceServers() : []),
          getMedia: () => window.noMicrophone ? Promise.reject(new DOMException('refused', 'NotAllowedError')) : navigator.mediaDevices.getUserMedia({ audio: true }),
        });
        window.calls.onCall((u) => window.updates.push(u));
      }
      return { userId: c.userId };
    }, { relayUrl, name: names[i], pw: PASSWORD, options: options[i] }));
  }
  for (const [i, page] of pages.entries()) {
    await page.evaluate(async (other) => clients.me.lookup(other), names[1 - i]);
  }
  return { pages, ids };
}

const until = (page, fn, arg, timeout = 60_000) => page.waitForFunction(fn, arg, { timeout, polling: 50 });

export async function directSuite({ open, relayUrl, step, check, tag }) {
  await step('direct: 500 messages over a direct channel killed mid-way; the rest by the relay, none lost or twice', async () => {
    const A = `dia-${tag}`;
    const B = `dib-${tag}`;
    const { pages: [a, b] } = await pair(open, relayUrl, [A, B]);
    await a.evaluate((to) => clients.me.connectDirect(to), B);
    await until(a, () => window.direct.includes('direct'));
    await until(b, () => window.direct.includes('direct'));
    // Bob's page kills its connections (no close signal: as a crash or a lost network)
    // once the 250th message arrived; alice keeps sending.
    await b.evaluate(() => {
      window.clients.me.onMessage(() => {
        if (window.got.length === 250) for (const pc of window.peerConnections) pc.close();
      });
    });
    const sent = await a.evaluate(async (to) => {
      const ids = [];
      for (let i = 0; i < 500; i++) {
        ids.push((await clients.me.send(to, `m${i}`)).messageId);
        // Give the channel a moment now and then, so the kill lands mid-stream.
        if (i % 50 === 49) await new Promise((r) => setTimeout(r, 20));
      }
      return ids;
    }, B);
    check(sent.length === 500, 'all sent');
    await until(b, () => window.got.length >= 500, null, 120_000);
    await until(a, (ids) => ids.every((id) => window.delivered.get(id) === 1), sent, 120_000);
    // Anything late would have come by now (a replay is dropped, never shown).
    await new Promise((r) => setTimeout(r, 1500));
    const got = await b.evaluate(() => window.got);
    check(got.length === 500, `${got.length} delivered`);
    check(new Set(got).size === 500, 'no duplicates');
    for (let i = 0; i < 500; i++) check(got.includes(`m${i}`), `m${i} missing`);
    const states = await Promise.all([a, b].map((p) => p.evaluate(() => window.direct)));
    for (const s of states) check(s[0] === 'direct' && s.includes('relay'), `states ${s}`);
    const closed = await b.evaluate(() => window.peerConnections.every((pc) => pc.connectionState === 'closed'));
    check(closed, 'the channel was killed');
  });

  await step('direct: a signal whose SDP fingerprint was swapped is refused with DIRECT_FINGERPRINT_MISMATCH, never connected', async () => {
    const C = `dic-${tag}`;
    const D = `did-${tag}`;
    const { pages: [c, d] } = await pair(open, relayUrl, [C, D], [{ tamper: true }, {}]);
    await c.evaluate((to) => clients.me.connectDirect(to), D);
    await until(d, () => window.events.some((e) => e.error === 'DIRECT_FINGERPRINT_MISMATCH'));
    const dStates = await d.evaluate(() => window.direct);
    check(JSON.stringify(dStates) === '["relay:DIRECT_FINGERPRINT_MISMATCH"]', `states ${dStates}`);
    // The refused offer was never handed to WebRTC: no connection on the refusing side;
    // the other side's offer stays unanswered.
    await new Promise((r) => setTimeout(r, 1500));
    check(await d.evaluate(() => window.peerConnections.length === 0), 'no peer connection made');
    const cStates = await c.evaluate(() => [window.direct, window.peerConnections.map((pc) => pc.connectionState)]);
    check(!cStates[0].includes('direct') && !cStates[1].includes('connected'), JSON.stringify(cStates));
    // Messages still flow, through the relay.
    await c.evaluate(async (to) => clients.me.send(to, 'by the relay'), D);
    await until(d, () => window.got.includes('by the relay'));
  });
}
