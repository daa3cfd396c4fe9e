// One browser (profile) of the two-browser test in scripts/test.mjs: loads the package
// and leaves the steps to the runner (page.evaluate), which passes codes between
// browsers. External script: the relay serves pages with a CSP that forbids inline ones.
import * as sp from '../pkg/index.js';
import { attachDirect } from '../pkg/direct.js';
import { attachCalls } from '../pkg/calls.js';
import { attachRoomVoice } from '../pkg/roomvoice.js';

// Every RTCPeerConnection made on this page, so a test can kill them (the direct test);
// with `window.forceRelay` each uses TURN relay candidates only, as two browsers behind
// NATs that allow no direct path would (scripts/turn.mjs). Only this test page does it.
const Native = window.RTCPeerConnection;
window.peerConnections = [];
window.RTCPeerConnection = class extends Native {
  constructor(config, ...rest) {
    super(window.forceRelay ? { ...config, iceTransportPolicy: 'relay' } : config, ...rest);
    window.peerConnections.push(this);
  }
};
window.attachDirect = attachDirect;
window.attachCalls = attachCalls;
window.attachRoomVoice = attachRoomVoice;

await sp.init();
window.sp = sp;
window.clients = {};
window.events = [];
/** The next message of client `name` within `ms`. */
window.recv = (name, ms = 30000) =>
  Promise.race([
    window.clients[name].nextMessage(),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${name}: no message within ${ms} ms`)), ms)),
  ]);
/** Keeps a client and records its errors and notices. */
window.keep = (name, client) => {
  window.clients[name] = client;
  client.onError((e) => window.events.push({ name, error: e.code }));
  client.onNotice((n) => window.events.push({ name, notice: n.kind }));
  client.onStatus((s) => window.events.push({ name, status: s }));
  return { userId: client.userId, deviceId: client.deviceId };
};
window.ready = true;
