// Voice in a room (`sealpost-wasm/roomvoice`, docs/PROTOCOL.md 30.6): a WebRTC mesh, one
// RTCPeerConnection per pair of members that turned voice on. The signalling is the
// room's own signal frames, so it is sealed under the room key and a relay cannot swap
// the DTLS fingerprint; this file checks that the SDP's fingerprint is the one its
// sender sealed and, once connected, that the certificate presented is that one too (as
// calls do). Joining voice is opt-in: the microphone is asked only by `start()`.
//
// Signal data (UTF-8 JSON, one object, at most 16 384 bytes as every signal frame):
//   {"t":"on"}                     to everyone (and to each newcomer): my voice is on
//   {"t":"here"}                   to one member, answering its "on": mine is on too
//   {"t":"offer","fp":F,"sdp":S}   from the lower id to the higher, every candidate inline
//   {"t":"answer","fp":F,"sdp":S}  back
//   {"t":"bye"}                    to everyone: my voice is off, close our connection
// Anything else is refused with an event, never thrown.

import { audioBytes, freshCertificate, iceServersOf, localSdp, remoteFingerprint } from './direct.js';

const FP = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;
const MAX_SDP = 16_000;

/**
 * The fingerprints of an SDP's `a=fingerprint:` lines as "<hash> <HEX:...>"; every
 * one must be the sealed `fp` under sha-256.
 */
export function sdpMatches(sdp, fp) {
  const lines = sdp.split(/\r?\n/).filter((l) => l.startsWith('a=fingerprint:'));
  return lines.length > 0 && lines.every((l) => {
    const [hash, value, more] = l.slice('a=fingerprint:'.length).trim().split(/\s+/);
    return hash.toLowerCase() === 'sha-256' && value?.toUpperCase() === fp && more === undefined;
  });
}

/** The signal `data` as `{ t, fp?, sdp? }`, or null when it is not one of 30.6's. */
export function parseSignal(data) {
  let m;
  try {
    m = JSON.parse(data);
  } catch {
    return null;
  }
  if (!m || typeof m !== 'object' || Array.isArray(m)) return null;
  if (m.t === 'on' || m.t === 'here' || m.t === 'bye') return { t: m.t };
  if ((m.t === 'offer' || m.t === 'answer') && typeof m.fp === 'string' && FP.test(m.fp)
    && typeof m.sdp === 'string' && m.sdp.length <= MAX_SDP) {
    return { t: m.t, fp: m.fp, sdp: m.sdp };
  }
  return null;
}

/**
 * Voice for `room` on this page. Give it every event of the room (`handle`); `start()`
 * asks for the microphone and connects to every member whose voice is on.
 *
 * @param {{ me: number | undefined, sendSignal(to: number, data: string): unknown }} room
 *   a Room, or anything that sends its signal frames (the PWA's room is in a worker)
 * @param {object} [options]
 * @param {RTCIceServer[] | (() => RTCIceServer[] | Promise<RTCIceServer[]>)} [options.iceServers]
 * @param {() => Promise<MediaStream>} [options.getUserMedia] the microphone
 * @param {(event: object) => void} [options.onEvent]
 */
export function attachRoomVoice(room, options = {}) {
  /** member -> { pc, fp (its sealed one), audio, state } */
  const peers = new Map();
  /** Members that said their voice is on. */
  const on = new Set();
  let stream = null;
  let starting = null;
  let queue = Promise.resolve();
  const emit = (e) => options.onEvent?.(e);
  const send = (to, msg) => {
    try {
      Promise.resolve(room.sendSignal(to, JSON.stringify(msg))).catch(() => {});
    } catch {
      /* the room ended: its own event says so */
    }
  };
  const refuse = (from, reason) => emit({ event: 'refused', from, reason });

  function close(member) {
    const p = peers.get(member);
    if (!p) return;
    peers.delete(member);
    p.pc.close();
    if (p.audio) p.audio.srcObject = null;
    emit({ event: 'peer', member, state: 'closed' });
  }

  function voiceOff(member) {
    close(member);
    if (on.delete(member)) emit({ event: 'voice', member, on: false });
  }

  function voiceOn(member) {
    if (on.has(member)) return;
    on.add(member);
    emit({ event: 'voice', member, on: true });
  }

  /** Counts the connection once the certificate presented is the sealed one. */
  async function opened(member, p) {
    for (let i = 0; i < 20 && p.pc.connectionState === 'connected'; i++) {
      const seen = await remoteFingerprint((p.pc.getReceivers()[0] ?? p.pc.getSenders()[0])?.transport);
      if (seen && seen === p.fp) {
        p.state = 'connected';
        return emit({ event: 'peer', member, state: 'connected' });
      }
      if (seen) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (peers.get(member) !== p) return;
    refuse(member, 'FINGERPRINT_MISMATCH');
    close(member);
  }

  async function connection(member) {
    close(member);
    const { certificate, fp } = await freshCertificate();
    const servers = await iceServersOf(options.iceServers);
    if (!stream) throw new Error('voice was turned off');
    const pc = new RTCPeerConnection({ iceServers: servers, certificates: [certificate] });
    const p = { pc, mine: fp, fp: null, audio: null, state: 'connecting' };
    peers.set(member, p);
    for (const t of stream.getAudioTracks()) pc.addTrack(t, stream);
    pc.ontrack = (e) => {
      p.audio ??= new Audio();
      p.audio.srcObject = e.streams[0] ?? new MediaStream([e.track]);
      p.audio.play().catch(() => {});
    };
    pc.onconnectionstatechange = () => {
      if (peers.get(member) !== p) return;
      if (pc.connectionState === 'connected' && p.state === 'connecting') {
        p.state = 'checking';
        opened(member, p).catch(() => close(member));
      } else if (pc.connectionState === 'failed' || pc.connectionState === 'closed') {
        close(member);
      }
    };
    emit({ event: 'peer', member, state: 'connecting' });
    return p;
  }

  async function offer(member) {
    const p = await connection(member);
    const sdp = await localSdp(p.pc, undefined, 'offer');
    if (peers.get(member) === p) send(member, { t: 'offer', fp: p.mine, sdp });
  }

  async function signal(from, data) {
    const m = parseSignal(data);
    if (!m) return refuse(from, 'MALFORMED');
    if (m.t === 'bye') return voiceOff(from);
    if (!stream) {
      // Voice is off here: "on" and "bye" are noted, the rest is a race with our "bye".
      if (m.t === 'on') return voiceOn(from);
      return m.t === 'here' ? undefined : refuse(from, 'UNEXPECTED');
    }
    if (m.t === 'on' || m.t === 'here') {
      voiceOn(from);
      if (m.t === 'on') send(from, { t: 'here' });
      // The lower id offers (30.6); a connection already under way is kept.
      if (room.me < from && !peers.has(from)) await offer(from);
      return;
    }
    if (!sdpMatches(m.sdp, m.fp)) return refuse(from, 'FINGERPRINT_MISMATCH');
    if (m.t === 'offer') {
      if (from > room.me) return refuse(from, 'UNEXPECTED');
      voiceOn(from);
      const p = await connection(from);
      p.fp = m.fp;
      await p.pc.setRemoteDescription({ type: 'offer', sdp: m.sdp });
      const sdp = await localSdp(p.pc, undefined, 'answer');
      if (peers.get(from) === p) send(from, { t: 'answer', fp: p.mine, sdp });
    } else {
      const p = peers.get(from);
      if (!p || p.fp || p.pc.signalingState !== 'have-local-offer') return refuse(from, 'UNEXPECTED');
      p.fp = m.fp;
      await p.pc.setRemoteDescription({ type: 'answer', sdp: m.sdp });
    }
  }

  const api = {
    /** Whether this page's voice is on. */
    get on() {
      return stream !== null;
    },
    muted: false,
    /** Give it every event of the room: signals, members leaving, the room closing. */
    handle(e) {
      if (e.event === 'signal') {
        // One signal at a time, in the room's order: a "bye" is never overtaken by the
        // offer it answers.
        queue = queue.then(() => signal(e.from, e.data)).catch(() => {
          // WebRTC refused the description (or voice was turned off meanwhile): that
          // member's connection is over.
          if (stream) refuse(e.from, 'MALFORMED');
          close(e.from);
        });
      } else if (e.event === 'joined') {
        // A newcomer has not heard our "on": it learns who is on voice.
        queue = queue.then(() => stream && send(e.member, { t: 'on' }));
      } else if (e.event === 'left') {
        queue = queue.then(() => voiceOff(e.member));
      } else if (e.event === 'closed') {
        queue = queue.then(() => api.stop());
      }
    },
    /** Turns voice on: asks for the microphone (rejects with `ROOM_NO_MICROPHONE` if it
     * is refused), then tells the room; members whose voice is on connect. */
    start() {
      starting ??= (async () => {
        if (stream) return;
        try {
          stream = await (options.getUserMedia ?? (() => navigator.mediaDevices.getUserMedia({ audio: true })))();
        } catch (err) {
          throw Object.assign(new Error(`no microphone: ${err?.message ?? err}`), { name: 'SealpostError', code: 'ROOM_NO_MICROPHONE' });
        }
        for (const t of stream.getAudioTracks()) t.enabled = !api.muted;
        send(0, { t: 'on' });
      })().finally(() => (starting = null));
      return starting;
    },
    /** Mutes or unmutes the microphone (kept across `stop()`/`start()`); the new state. */
    mute(yes = true) {
      api.muted = yes;
      for (const t of stream?.getAudioTracks() ?? []) t.enabled = !yes;
      return yes;
    },
    /** Turns voice off: tells the room, closes every connection, releases the microphone. */
    stop() {
      if (!stream) return;
      send(0, { t: 'bye' });
      for (const member of [...peers.keys()]) close(member);
      for (const t of stream.getTracks()) t.stop();
      stream = null;
    },
    /** The other members whose voice is on, and the state of the connection to each. */
    peers() {
      return [...on].sort((a, b) => a - b).map((member) => ({ member, state: peers.get(member)?.state === 'connected' ? 'connected' : peers.has(member) ? 'connecting' : 'none' }));
    },
    /** Audio bytes sent to and received from each connected member (getStats). */
    async stats() {
      return Promise.all([...peers].map(async ([member, p]) => ({ member, ...(await audioBytes(p.pc)) })));
    },
  };
  return api;
}
