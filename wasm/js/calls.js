// The page's side of voice calls (`sealpost-wasm/calls`). The client (in the page, or in
// a worker behind RemoteClient) decides everything: who may call, which device's accept
// wins, glare, busy, timeouts, which SDP and which DTLS certificate to trust. This file
// does what only a page can: the microphone (asked when calling or accepting, never
// before), one RTCPeerConnection per call with a fresh certificate whose fingerprint the
// client seals, playing the remote audio, and after connecting the SHA-256 of the
// certificate the remote side presented, which the client compares with the sealed one.

import { audioBytes, freshCertificate, iceServersOf, localSdp, remoteFingerprint } from './direct.js';

const randomId = () => [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');

/**
 * Hosts the voice calls of `client` (a Client or a RemoteClient) on this page.
 *
 * @param {object} client
 * @param {object} [options]
 * @param {RTCIceServer[] | (() => RTCIceServer[] | Promise<RTCIceServer[]>)} [options.iceServers]
 *   STUN/TURN servers (none needed on a LAN; `client.iceServers()` gives the relay's). A
 *   function is asked for each connection: the relay's TURN credentials expire (an hour by
 *   default) and a page stays open longer; if it fails the call goes on without servers.
 * @param {() => Promise<MediaStream>} [options.getMedia] the microphone (default
 *   `getUserMedia({ audio: true })`)
 * @param {(sdp: string, kind: string) => string} [options.tamperSdp] tests only
 */
export function attachCalls(client, options = {}) {
  const calls = new Map();
  const listeners = [];
  let spare = null; // the microphone of a call merged into the other side's (glare)
  const tell = (input) => Promise.resolve(client.directInput(input));
  const emit = (e) => {
    for (const f of listeners) f(e);
  };
  const entry = (id) => {
    if (!calls.has(id)) calls.set(id, { id });
    return calls.get(id);
  };
  const microphone = async (c) => {
    if (!c.stream) {
      try {
        c.stream = spare ?? await (options.getMedia ?? (() => navigator.mediaDevices.getUserMedia({ audio: true })))();
      } catch (err) {
        // Remembered for the call's end (`error`): the engine only hears that it failed.
        c.noMicrophone = true;
        throw err;
      }
      spare = null;
      for (const t of c.stream.getAudioTracks()) t.enabled = !api.muted;
    }
    return c.stream;
  };
  const release = (c, keep) => {
    clearTimeout(c.timer);
    c.pc?.close();
    if (c.audio) c.audio.srcObject = null;
    if (keep) spare = c.stream;
    else for (const t of c.stream?.getTracks() ?? []) t.stop();
    calls.delete(c.id);
  };

  /** Reports the certificate the other side presented; a connection that shows none (seen
   * once in the package's tests, right at "connected") is asked again for a second, then
   * fails: a call whose certificate cannot be checked never counts as connected. */
  async function opened(c, pc) {
    for (let i = 0; i < 20 && pc.connectionState === 'connected'; i++) {
      const seen = await remoteFingerprint((pc.getReceivers()[0] ?? pc.getSenders()[0])?.transport);
      if (seen) return tell({ type: 'callOpened', call: c.id, fingerprint: seen });
      await new Promise((r) => setTimeout(r, 50));
    }
    return tell({ type: 'callFailed', call: c.id });
  }

  async function connection(c) {
    const { certificate, fp } = await freshCertificate();
    const pc = new RTCPeerConnection({ iceServers: await iceServersOf(options.iceServers), certificates: [certificate] });
    c.pc = pc;
    c.fp = fp;
    for (const t of (await microphone(c)).getAudioTracks()) pc.addTrack(t, c.stream);
    pc.ontrack = (e) => {
      c.audio ??= new Audio();
      c.audio.srcObject = e.streams[0] ?? new MediaStream([e.track]);
      c.audio.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (pc.connectionState === 'connected' && !c.opened) {
        c.opened = true;
        opened(c, pc).catch(() => {});
      } else if (pc.connectionState === 'failed') {
        tell({ type: 'callFailed', call: c.id }).catch(() => {});
      }
    };
    return pc;
  }

  const handle = async (e) => {
    if (e.type === 'call') {
      const c = entry(e.call);
      c.state = e.state;
      c.outgoing = e.outgoing;
      if (e.state === 'ringing') {
        // The engine checks the time; this only wakes it at the deadline.
        clearTimeout(c.timer);
        c.timer = setTimeout(() => tell({ type: 'callTimer', call: e.call }).catch(() => {}),
          Math.max(0, e.until * 1000 - Date.now()) + 250);
      } else if (e.state === 'ended') {
        release(c, e.reason === 'CALL_MERGED');
      } else if (e.state === 'connected') {
        c.connectedAt = Date.now();
      }
      emit({ call: e.call, user: e.user, username: e.username, outgoing: e.outgoing, state: e.state,
        ...(e.until !== undefined && { until: e.until }),
        ...(e.reason !== undefined && { reason: e.reason, duration: e.duration }),
        ...(e.state === 'ended' && c.noMicrophone && { error: 'CALL_NO_MICROPHONE' }) });
    } else if (e.type === 'callMedia') {
      const c = entry(e.call);
      try {
        if (e.step === 'offer') {
          const pc = await connection(c);
          await tell({ type: 'callLocal', call: c.id, fingerprint: c.fp, sdp: await localSdp(pc, options.tamperSdp, 'offer') });
        } else if (e.step === 'answer') {
          const pc = await connection(c);
          await pc.setRemoteDescription({ type: 'offer', sdp: e.sdp });
          await tell({ type: 'callLocal', call: c.id, fingerprint: c.fp, sdp: await localSdp(pc, options.tamperSdp, 'answer') });
        } else if (e.step === 'remote') {
          await c.pc.setRemoteDescription({ type: 'answer', sdp: e.sdp });
        }
      } catch {
        // No microphone, WebRTC refused: the client ends the call on both sides.
        await tell({ type: 'callFailed', call: c.id });
      }
    }
  };
  client.onDirect((e) => {
    handle(e).catch(() => {});
  });

  const current = () => [...calls.values()].find((c) => c.state && c.state !== 'ended');
  const api = {
    /** Calls a contact (looked up before): asks for the microphone first, then rings
     * every device of the contact. Resolves to the call id; rejects with code
     * `CALL_NO_MICROPHONE` if the microphone is refused (nothing rings then). */
    async call(contact) {
      const id = randomId();
      const c = entry(id);
      try {
        await microphone(c);
      } catch (err) {
        calls.delete(id);
        throw Object.assign(new Error(`no microphone: ${err?.message ?? err}`), { code: 'CALL_NO_MICROPHONE' });
      }
      await tell({ type: 'call', call: id, contact });
      return id;
    },
    /** Takes an incoming call (the microphone is asked now). */
    accept(call) { return tell({ type: 'callAccept', call }); },
    /** Refuses an incoming call. */
    decline(call) { return tell({ type: 'callDecline', call }); },
    /** Ends a call (the current one by default); a caller's before an answer cancels it. */
    hangUp(call = current()?.id) { return call ? tell({ type: 'callHangUp', call }) : Promise.resolve(); },
    /** Mutes (or unmutes) this side's microphone in every call, and in calls to come
     * until unmuted; returns the new state. */
    mute(on = true) {
      this.muted = on;
      for (const c of calls.values()) for (const t of c.stream?.getAudioTracks() ?? []) t.enabled = !on;
      return on;
    },
    muted: false,
    /** Calls `listener(event)` when a call changes state (see `CallUpdate`). */
    onCall(listener) { listeners.push(listener); },
    /** Audio bytes sent and received so far in a call (from getStats). */
    stats(call = current()?.id) {
      return audioBytes(calls.get(call)?.pc);
    },
    /** When the current call connected (ms since the epoch), for a running duration. */
    connectedAt(call = current()?.id) { return calls.get(call)?.connectedAt; },
  };
  return api;
}
