// The page's WebRTC host for direct channels (`sealpost-wasm/direct`). The client (in the
// page, or in a worker behind RemoteClient) decides everything: when to offer, which
// signals to trust, which certificate to accept, what goes on the channel. This file only
// does what a worker cannot (Chromium has no RTCPeerConnection in workers): one
// RTCPeerConnection per peer device, one negotiated data channel, a fresh DTLS
// certificate whose fingerprint the client seals into its signal, and after connecting
// the SHA-256 of the certificate the remote side presented, which the client compares
// with the one the peer sealed. With a client in a worker (RemoteClient), the data
// channel itself goes to the worker when the browser can transfer it (./directworker.js
// there), so frames skip the page's main thread; else it stays here.

const hex = (bytes) => [...bytes].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');

// The WebRTC pieces direct channels, calls (`calls.js`) and room voice (`roomvoice.js`) share.

/** Resolves once ICE gathering is complete: one offer/answer carries every candidate. */
export function gathered(pc) {
  return new Promise((resolve) => {
    const check = () => pc.iceGatheringState === 'complete' && resolve();
    pc.addEventListener('icegatheringstatechange', check);
    check();
  });
}

/** A fresh ECDSA P-256 certificate and its SHA-256 fingerprint ("AB:CD:..."). */
export async function freshCertificate() {
  const certificate = await RTCPeerConnection.generateCertificate({ name: 'ECDSA', namedCurve: 'P-256' });
  const fp = certificate.getFingerprints().find((f) => f.algorithm === 'sha-256').value.toUpperCase();
  return { certificate, fp };
}

/** SHA-256 ("AB:CD:...") of the certificate the remote side of `transport` (an
 * RTCDtlsTransport) presented, or '' if none. */
export async function remoteFingerprint(transport) {
  const der = transport?.getRemoteCertificates?.()[0];
  return der ? hex(new Uint8Array(await crypto.subtle.digest('SHA-256', der))) : '';
}

/** The STUN/TURN servers of an `iceServers` option: a list, or a function asked for each
 * connection (the relay's TURN credentials expire; a page stays open longer). A function
 * that fails gives none: enough on one network; across NATs the connection then fails. */
export async function iceServersOf(option) {
  if (typeof option !== 'function') return option ?? [];
  try {
    return await option();
  } catch {
    return [];
  }
}

/** Audio bytes sent and received so far on `pc` (getStats; zeros without one). */
export async function audioBytes(pc) {
  const out = { bytesSent: 0, bytesReceived: 0 };
  if (!pc) return out;
  for (const s of (await pc.getStats()).values()) {
    if (s.type === 'outbound-rtp' && s.kind === 'audio') out.bytesSent += s.bytesSent;
    if (s.type === 'inbound-rtp' && s.kind === 'audio') out.bytesReceived += s.bytesReceived;
  }
  return out;
}

/** Makes this page's offer or answer after its description is set, every candidate
 * inline; `tamper` (tests only) rewrites it as a rewriting relay would. */
export async function localSdp(pc, tamper, kind) {
  await pc.setLocalDescription();
  await gathered(pc);
  const sdp = pc.localDescription.sdp;
  return tamper ? tamper(sdp, kind) : sdp;
}

/**
 * Hosts the direct channels of `client` (a Client or a RemoteClient) on this page.
 *
 * @param {object} client
 * @param {object} [options]
 * @param {RTCIceServer[]} [options.iceServers] STUN/TURN servers (none needed on a LAN)
 * @param {(sdp: string, kind: string) => string} [options.tamperSdp] tests only: rewrites
 *   this page's SDP after its fingerprint was taken, as a rewriting relay would
 * @returns {{ close(): void }}
 */
export function attachDirect(client, options = {}) {
  const peers = new Map();
  const key = (user, device) => `${user}/${device}`;
  // A Client queues the input and returns; a RemoteClient answers with a promise. Either
  // way the inputs reach the client in call order.
  const tell = (input) => Promise.resolve(client.directInput(input));

  const drop = (user, device, tellClient) => {
    const p = peers.get(key(user, device));
    if (!p) return;
    peers.delete(key(user, device));
    if (p.channel != null) client.forgetDirectChannel(p.channel, user, device);
    p.pc.close();
    if (tellClient) tell({ type: 'closed', user, device }).catch(() => {});
  };

  async function peer(user, device) {
    drop(user, device, false);
    const { certificate, fp } = await freshCertificate();
    const pc = new RTCPeerConnection({ iceServers: options.iceServers ?? [], certificates: [certificate] });
    const dc = pc.createDataChannel('sealpost', { negotiated: true, id: 0 });
    const p = { pc, dc, fp, channel: null };
    peers.set(key(user, device), p);
    const gone = () => peers.get(key(user, device)) === p && drop(user, device, true);
    // Once open, the client checks the certificate the connection presented (and from
    // then on treats the channel as open).
    const opened = () => {
      p.ready = (async () => {
        const seen = await remoteFingerprint(pc.sctp?.transport);
        await tell({ type: 'opened', user, device, fingerprint: seen, ...(p.channel != null && { channel: p.channel }) });
      })();
      p.ready.catch(gone);
    };
    // A client in a worker takes the data channel there (now: a browser transfers it only
    // in the task that made it), so frames skip this page's main thread; the worker
    // reports the channel open, and closed after telling the client itself. A browser
    // that cannot transfer it, or a client on this page, keeps it here.
    p.channel = client.adoptDirectChannel?.(dc, user, device, (state) => {
      if (peers.get(key(user, device)) !== p) return;
      if (state === 'open') opened();
      else drop(user, device, false);
    }) ?? null;
    if (p.channel != null) {
      p.dc = null;
      pc.onconnectionstatechange = () => pc.connectionState === 'failed' && gone();
      return p;
    }
    dc.binaryType = 'arraybuffer';
    // Frames wait until the client checked the remote certificate; in order, as they came.
    dc.onopen = opened;
    dc.onmessage = (e) => {
      const frame = new Uint8Array(e.data);
      p.ready.then(() => tell({ type: 'frame', user, device, frame })).catch(() => {});
    };
    dc.onclose = gone;
    pc.onconnectionstatechange = () => pc.connectionState === 'failed' && gone();
    return p;
  }

  async function local(user, device, p, kind) {
    const sdp = await localSdp(p.pc, options.tamperSdp, kind);
    await tell({ type: kind, user, device, fingerprint: p.fp, sdp });
  }

  const handle = async (e) => {
    const { user, device } = e;
    if (e.type === 'start') {
      await local(user, device, await peer(user, device), 'offer');
    } else if (e.type === 'signal' && e.kind === 'offer') {
      const p = await peer(user, device);
      await p.pc.setRemoteDescription({ type: 'offer', sdp: e.sdp });
      await local(user, device, p, 'answer');
    } else if (e.type === 'signal' && e.kind === 'answer') {
      await peers.get(key(user, device))?.pc.setRemoteDescription({ type: 'answer', sdp: e.sdp });
    } else if (e.type === 'frame') {
      const p = peers.get(key(user, device));
      if (p?.dc?.readyState === 'open') p.dc.send(e.frame);
      else if (p) drop(user, device, true);
      else tell({ type: 'closed', user, device }).catch(() => {});
    } else if ((e.type === 'signal' && e.kind === 'close') || (e.type === 'state' && e.state === 'relay' && device)) {
      // The client already knows; only the connection is left to end.
      drop(user, device, false);
    }
  };
  client.onDirect((e) => {
    handle(e).catch(() => {
      // WebRTC refused (no WebRTC here, a bad SDP, a closed connection): the client
      // forgets the attempt (so a later request offers again) and the relay carries on.
      if (!e.device || e.type === 'state') return;
      drop(e.user, e.device, false);
      tell({ type: 'closed', user: e.user, device: e.device }).catch(() => {});
    });
  });
  return {
    /** Ends every channel (e.g. at logout); the peers fall back to the relay. */
    close() {
      for (const p of [...peers.keys()]) {
        const [user, device] = p.split('/');
        drop(user, device, false);
        tell({ type: 'close', user, device }).catch(() => {});
      }
    },
  };
}
