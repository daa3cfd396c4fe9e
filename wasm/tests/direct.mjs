// The direct channel in headless Chromium on loopback (run by scripts/test.mjs): two
// pages, each a browser of its own account, each hosting its client's WebRTC
// (attachDirect). 500 messages flow while the channel is killed mid-way; none is lost or
// delivered twice. A signal whose SDP fingerprint was swapped after sealing is refused
// with DIRECT_FINGERPRINT_MISMATCH and never connects. Both run with each host of the
// data channel: the page (a Client on the page, or a RemoteClient whose browser refuses
// to transfer the channel) and the worker (a RemoteClient that took it there).

const PASSWORD = 'correct horse battery staple';

/**
 * Where the client and the data channel live: `page` (a Client on the page), `worker` (a
 * RemoteClient whose worker takes the channel), `refused` (a RemoteClient, but the
 * browser refuses to transfer a data channel: the page keeps it).
 */
export const HOSTS = ['page', 'worker', 'refused'];

/**
 * Two pages with a registered account each, engaged contacts of each other. Options per
 * page: `tamper` rewrites its SDP's fingerprint; `calls` also hosts calls (`window.calls`,
 * every update in `window.updates`, `window.iceAsked` connections made, no microphone
 * while `window.noMicrophone`); `turn` gives calls the relay's STUN/TURN servers. `host`:
 * one of HOSTS. `window.pageFrames` counts the frames that went through the page.
 */
export async function pair(open, relayUrl, names, options = [{}, {}], host = 'page') {
  const pages = [await open(), await open()];
  const ids = [];
  for (const [i, page] of pages.entries()) {
    ids.push(await page.evaluate(async ({ relayUrl, name, pw, options, host }) => {
      let c;
      if (host === 'page') {
        c = await sp.Client.register({ relayUrl, storage: new sp.MemoryStorage(), keySize: 2048 }, name, pw);
      } else {
        if (host === 'refused') {
          // As a browser without transferable data channels: postMessage throws.
          const post = Worker.prototype.postMessage;
          Worker.prototype.postMessage = function (msg, transfer) {
            if ([].concat(transfer ?? []).some((t) => t instanceof RTCDataChannel)) throw new DOMException('not transferable', 'DataCloneError');
            return post.call(this, msg, transfer);
          };
        }
        const { RemoteClient } = await import('/wasm/pkg/remote.js');
        const w = new Worker('/wasm/tests/test.worker.js', { type: 'module' });
        c = await RemoteClient.register(w, { relayUrl, keySize: 2048 }, name, pw);
      }
      keep('me', c);
      window.got = [];
      c.onMessage((m) => window.got.push(m.text));
      window.direct = [];
      window.pageFrames = 0;
      c.onDirect((e) => {
        if (e.type === 'state') window.direct.push(`${e.state}${e.error ? `:${e.error}` : ''}`);
        if (e.type === 'frame') window.pageFrames++;
      });
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
      return { userId: c.userId, deviceId: c.deviceId };
    }, { relayUrl, name: names[i], pw: PASSWORD, options: options[i], host }));
  }
  for (const [i, page] of pages.entries()) {
    await page.evaluate(async (other) => clients.me.lookup(other), names[1 - i]);
  }
  return { pages, ids };
}

const until = (page, fn, arg, timeout = 60_000) => page.waitForFunction(fn, arg, { timeout, polling: 50 });

export async function directSuite({ open, relayUrl, step, check, tag }) {
  for (const host of HOSTS) await hostSuite({ open, relayUrl, step, check, tag: `${tag}${host[0]}`, host });
  await rogueChannel({ open, relayUrl, step, check, tag });
}

/** The frames went through the page only where the page holds the data channel. */
async function checkPath(pages, host, check) {
  const frames = await Promise.all(pages.map((p) => p.evaluate(() => window.pageFrames)));
  if (host === 'worker') check(frames.every((n) => n === 0), `frames through the pages: ${frames}`);
  else check(frames.every((n) => n > 0), `frames through the pages: ${frames}`);
}

async function hostSuite({ open, relayUrl, step, check, tag, host }) {
  await step(`direct (${host}): 500 messages over a direct channel killed mid-way; the rest by the relay, none lost or twice`, async () => {
    const A = `dia-${tag}`;
    const B = `dib-${tag}`;
    const { pages: [a, b] } = await pair(open, relayUrl, [A, B], [{}, {}], host);
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
    await checkPath([a, b], host, check);
  });

  await step(`direct (${host}): a signal whose SDP fingerprint was swapped is refused with DIRECT_FINGERPRINT_MISMATCH, never connected`, async () => {
    const C = `dic-${tag}`;
    const D = `did-${tag}`;
    const { pages: [c, d] } = await pair(open, relayUrl, [C, D], [{ tamper: true }, {}], host);
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

/**
 * The attack the worker's host must resist: a data channel handed to it for a device whose
 * channel is open, but whose own connection's certificate was never checked (here a
 * connection between two RTCPeerConnections of alice's page, no peer at all). It must
 * carry nothing either way: alice's sealed frames do not go out on it, and its forged
 * acknowledgements (which would make alice take her messages for delivered and never
 * deposit them) are not taken; alice falls back to the relay and bob gets everything.
 */
async function rogueChannel({ open, relayUrl, step, check, tag }) {
  await step('direct (worker): a channel handed over without its certificate check carries nothing; forged acks change nothing', async () => {
    const A = `dra-${tag}`;
    const B = `drb-${tag}`;
    const { pages: [a, b], ids: [, bob] } = await pair(open, relayUrl, [A, B], [{}, {}], 'worker');
    await a.evaluate((to) => clients.me.connectDirect(to), B);
    await until(a, () => window.direct.includes('direct'));
    await until(b, () => window.direct.includes('direct'));
    await a.evaluate(async ({ userId: user, deviceId: device }) => {
      const pc1 = new RTCPeerConnection();
      const pc2 = new RTCPeerConnection();
      const mine = pc1.createDataChannel('sealpost', { negotiated: true, id: 0 });
      window.rogue = { states: [], received: 0 };
      window.rogue.id = clients.me.adoptDirectChannel(mine, user, device, (s) => window.rogue.states.push(s));
      const theirs = pc2.createDataChannel('sealpost', { negotiated: true, id: 0 });
      theirs.onmessage = () => window.rogue.received++;
      window.rogue.dc = theirs;
      pc1.onicecandidate = (e) => e.candidate && pc2.addIceCandidate(e.candidate);
      pc2.onicecandidate = (e) => e.candidate && pc1.addIceCandidate(e.candidate);
      await pc1.setLocalDescription();
      await pc2.setRemoteDescription(pc1.localDescription);
      await pc2.setLocalDescription();
      await pc1.setRemoteDescription(pc2.localDescription);
      await new Promise((r) => (theirs.readyState === 'open' ? r() : (theirs.onopen = r)));
      // "Stored" for every deposit number alice could use, again and again while she sends.
      const acks = [];
      for (let seq = 0; seq < 4096; seq++) {
        const f = new Uint8Array(9);
        f[0] = 2;
        new DataView(f.buffer).setBigUint64(1, BigInt(seq));
        acks.push(f);
      }
      window.rogue.timer = setInterval(() => {
        if (theirs.readyState === 'open') for (const f of acks) theirs.send(f);
      }, 20);
    }, bob);
    check(await a.evaluate(() => window.rogue.id !== null), 'the worker took the channel');
    const sent = await a.evaluate(async (to) => {
      const ids = [];
      for (let i = 0; i < 30; i++) ids.push((await clients.me.send(to, `r${i}`)).messageId);
      return ids;
    }, B);
    await until(b, () => window.got.length >= 30, null, 120_000);
    await until(a, (ids) => ids.every((id) => window.delivered.get(id) === 1), sent, 120_000);
    const got = await b.evaluate(() => window.got);
    check(got.length === 30 && new Set(got).size === 30, `${got.length} delivered`);
    await until(a, () => window.rogue.dc.readyState === 'closed');
    const rogue = await a.evaluate(() => (clearInterval(window.rogue.timer), { ...window.rogue, dc: undefined, theirs: window.rogue.dc.readyState }));
    check(rogue.received === 0, `${rogue.received} frames went out on the unchecked channel`);
    check(rogue.states.at(-1) === 'closed' && rogue.theirs === 'closed', `the unchecked channel was not ended: ${JSON.stringify(rogue)}`);
    const states = await a.evaluate(() => window.direct);
    check(states.at(-1) === 'relay', `alice's states ${states}`);
  });
}
