#!/usr/bin/env node
// Voice calls in the PWA end to end (issue 12): two accounts in two contexts of one
// Chromium with a fake microphone. Nothing asks for the microphone before a call; alice
// calls bob from the chat header, bob's screen rings with her name and he accepts; both
// show "Connected" with a running duration and audio bytes flow both ways (getStats of the
// page's peer connections, recorded by an init script: the app exposes nothing for
// tests); mute turns alice's microphone track off and on; the in-call screen fits a
// 390x844 phone; bob hangs up and both screens close, both chats say "Call ended" with
// the duration. A second call bob declines leaves declined lines; a call alice gives up
// is a missed call for bob (unread, and a notification while his page is hidden). A
// callee page whose SDP fingerprint was swapped after sealing (as a relay rewriting
// signalling would) makes the call fail on both sides with a clear error line, never
// connected. axe-core on the ringing, in-call and failed screens; screenshots in
// test-artifacts/.
//
//   node www/tests/calls.mjs          (also run as a part of www/tests/e2e.mjs)

import { join } from 'node:path';
import { FAKE_MEDIA } from '../../wasm/scripts/chromium.mjs';
import { eventually } from '../../wasm/tests/poll.mjs';
import { startChat } from './devices.mjs';
import { register } from './edges.mjs';
import { artifacts, axeViolations, launchBrowser, newContext, recordNotifications, runner, standalone, startRelay } from './harness.mjs';

const T = { timeout: 60_000 };

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

/**
 * Before any of the app's scripts: every RTCPeerConnection into `window.__pcs` (the
 * connected calls' in `window.__calls()`), every microphone request counted in
 * `window.__mics`, and while `window.__tamperSdp` is set a call's local SDP names another
 * certificate than the one the page sealed.
 */
function instrument() {
  // Not in workers, nor on the first blank page (no mediaDevices outside a secure context).
  if (typeof window === 'undefined' || !window.RTCPeerConnection || !navigator.mediaDevices) return;
  const Native = window.RTCPeerConnection;
  window.__pcs = [];
  window.__mics = 0;
  const isCall = (pc) => pc.getTransceivers().some((t) => t.receiver.track.kind === 'audio');
  window.__calls = () => window.__pcs.filter((pc) => pc.connectionState === 'connected' && isCall(pc));
  window.RTCPeerConnection = class extends Native {
    constructor(...args) {
      super(...args);
      window.__pcs.push(this);
    }
    get localDescription() {
      const d = super.localDescription;
      if (!window.__tamperSdp || !d || !isCall(this)) return d;
      const other = Array.from({ length: 32 }, () => 'AB').join(':');
      return { type: d.type, sdp: d.sdp.replace(/^a=fingerprint:sha-256 \S+/gm, `a=fingerprint:sha-256 ${other}`) };
    }
  };
  const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => {
    window.__mics++;
    return gum(c);
  };
}

/** Waits until `page`'s connected call sent and received more than `bytes` audio bytes (getStats); returns them. */
async function audioFlows(page, bytes) {
  return eventually(page, async (bytes) => {
    const out = { sent: 0, received: 0 };
    for (const pc of window.__calls()) {
      for (const s of (await pc.getStats()).values()) {
        if (s.type === 'outbound-rtp' && s.kind === 'audio') out.sent += s.bytesSent;
        if (s.type === 'inbound-rtp' && s.kind === 'audio') out.received += s.bytesReceived;
      }
    }
    return out.sent > bytes && out.received > bytes && out;
  }, bytes, T.timeout);
}

const screen = (page, state) => page.locator(`[data-testid=call-screen]${state ? `[data-state=${state}]` : ''}`);
const callLine = (page, text, kind = 'call') => page.locator(`[data-testid=notice][data-kind=${kind}]`, { hasText: text });

/** The calls part of the end-to-end test; `r` is the harness runner. */
export async function runCalls(r, { relayBin, problems }) {
  const relay = await startRelay(relayBin);
  const browser = await launchBrowser(FAKE_MEDIA);
  const shot = (page, name) => page.screenshot({ path: join(artifacts, `calls-${name}.png`) });
  try {
    const ctxA = await newContext(browser, relay.url, problems, 'calls-A', { permissions: ['microphone'] });
    const ctxB = await newContext(browser, relay.url, problems, 'calls-B', { permissions: ['microphone'] });
    for (const ctx of [ctxA, ctxB]) await ctx.addInitScript(instrument);
    const [a, b] = [await ctxA.newPage(), await ctxB.newPage()];

    const ok = await r.step('calls: two accounts open a chat; a call button, and nothing asked for the microphone', async () => {
      await Promise.all([register(a, 'alice'), register(b, 'bob')]);
      // Calls are between engaged contacts: each looks the other up.
      await startChat(a, 'bob');
      await startChat(b, 'alice');
      await a.locator('[data-testid=call][aria-label="Call bob"]').waitFor(T);
      const mics = await Promise.all([a, b].map((p) => p.evaluate(() => window.__mics)));
      expect(mics.every((n) => n === 0), `microphone asked before any call: ${mics}`);
    });
    if (!ok) return;

    await r.step('calls: alice calls bob; he sees her name and accepts; both connected, the duration runs, audio flows both ways', async () => {
      await a.click('[data-testid=call]');
      await screen(a, 'ringing').waitFor(T);
      expect((await a.locator('[data-testid=call-state]').textContent()) === 'Ringing…', 'the caller sees it ringing');
      await screen(b, 'ringing').waitFor(T);
      expect((await b.locator('.call-title').textContent()) === 'alice', 'the caller\'s name');
      expect((await b.locator('[data-testid=call-state]').textContent()) === 'Incoming call', 'an incoming call');
      // Asked when calling, not before accepting.
      expect(await a.evaluate(() => window.__mics) === 1 && await b.evaluate(() => window.__mics) === 0, 'the microphone is asked when calling or accepting only');
      await shot(b, '01-ringing');
      const ringing = await axeViolations(b, 'ringing call');
      await b.click('[data-testid=call-accept]');
      await b.waitForFunction(() => window.__mics === 1, null, T);
      for (const p of [a, b]) {
        await screen(p, 'connected').waitFor(T);
        expect((await p.locator('[data-testid=call-state]').textContent()) === 'Connected', 'connected');
      }
      // The duration runs: "0:00", then a later second.
      const first = await a.locator('[data-testid=call-duration]').textContent();
      expect(/^\d+:\d\d$/.test(first), `duration ${first}`);
      await a.waitForFunction((t) => document.querySelector('[data-testid=call-duration]').textContent !== t, first, T);
      const first2 = await audioFlows(a, 2000);
      await audioFlows(b, 2000);
      await audioFlows(a, Math.max(first2.sent, first2.received) + 2000);
      await shot(a, '02-in-call');
      const inCall = await axeViolations(a, 'in-call');
      expect(ringing.length + inCall.length === 0, [...ringing, ...inCall].join('\n'));
    });

    await r.step('calls: mute turns alice\'s microphone off and on again', async () => {
      const trackOn = () => a.evaluate(() => window.__calls()[0].getSenders().find((s) => s.track?.kind === 'audio').track.enabled);
      await a.click('[data-testid=call-mute]');
      await a.locator('[data-testid=call-mute][aria-pressed=true]').waitFor(T);
      await a.locator('[data-testid=call-muted]').waitFor({ state: 'visible', ...T });
      expect((await trackOn()) === false, 'the track is off while muted');
      await a.click('[data-testid=call-mute]');
      await a.locator('[data-testid=call-mute][aria-pressed=false]').waitFor(T);
      expect((await trackOn()) === true, 'the track is on again');
    });

    await r.step('calls: the in-call screen fits a 390x844 phone', async () => {
      await a.setViewportSize({ width: 390, height: 844 });
      const fit = await a.evaluate(() => {
        const r = (s) => document.querySelector(s).getBoundingClientRect();
        const inside = (b) => b.left >= 0 && b.top >= 0 && b.right <= innerWidth && b.bottom <= innerHeight;
        return { wide: document.documentElement.scrollWidth, hangUp: inside(r('[data-testid=call-hangup]')), mute: inside(r('[data-testid=call-mute]')), title: inside(r('.call-title')) };
      });
      await shot(a, '03-in-call-phone');
      await a.setViewportSize({ width: 1280, height: 720 });
      expect(fit.wide <= 390 && fit.hangUp && fit.mute && fit.title, `phone: ${JSON.stringify(fit)}`);
    });

    await r.step('calls: bob hangs up; both screens close and both chats say "Call ended" with the duration', async () => {
      await b.click('[data-testid=call-hangup]');
      for (const p of [a, b]) {
        await screen(p).waitFor({ state: 'detached', ...T });
        await callLine(p, /^Call ended · \d+:\d\d/).waitFor(T);
        // The call's connection is closed, the app usable again.
        await p.waitForFunction(() => window.__calls().length === 0, null, T);
        expect(!(await p.locator('#app').evaluate((e) => e.inert)), 'the app takes input again');
      }
      await shot(a, '04-call-ended');
    });

    await r.step('calls: a call bob declines leaves a declined line on both sides', async () => {
      await a.click('[data-testid=call]');
      await screen(b, 'ringing').waitFor(T);
      await b.click('[data-testid=call-decline]');
      await screen(b).waitFor({ state: 'detached', ...T });
      await screen(a).waitFor({ state: 'detached', ...T });
      await callLine(a, 'bob declined the call').waitFor(T);
      await callLine(b, 'You declined a call from alice').waitFor(T);
    });

    await r.step('calls: a call alice gives up is a missed call for bob: a line, unread, and a notification while his page is hidden', async () => {
      await b.evaluate(() => (location.hash = '#/'));
      await recordNotifications(b);
      await b.evaluate(() => {
        localStorage.setItem('sealpost.notify', '1');
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      });
      await a.click('[data-testid=call]');
      await screen(a, 'ringing').waitFor(T);
      await screen(b, 'ringing').waitFor(T);
      await b.waitForFunction(() => window.__shown.length > 0, null, T);
      const shown = await b.evaluate(() => window.__shown);
      expect(shown.length === 1 && shown[0].body === 'alice is calling', `notification: ${JSON.stringify(shown)}`);
      await a.click('[data-testid=call-hangup]');
      await screen(a).waitFor({ state: 'detached', ...T });
      await callLine(a, 'Call cancelled').waitFor(T);
      await screen(b).waitFor({ state: 'detached', ...T });
      await b.locator('[data-testid=conv-alice]', { hasText: 'Missed call from alice' }).waitFor(T);
      await b.locator('[data-testid=conv-alice] [data-testid=unread]').waitFor(T);
      await b.evaluate(() => {
        delete document.visibilityState;
        localStorage.removeItem('sealpost.notify');
      });
      await b.click('[data-testid=conv-alice]');
      await callLine(b, 'Missed call from alice').waitFor(T);
    });

    await r.step('calls: an answer whose SDP names another certificate than the sealed one fails the call on both sides with a clear error, never connected', async () => {
      // Bob's page swaps the fingerprint in its SDP after sealing, as a relay rewriting
      // signalling would (the package's own test does it with its tamperSdp option).
      await b.evaluate(() => (window.__tamperSdp = true));
      const before = await a.evaluate(() => window.__pcs.length);
      await a.click('[data-testid=call]');
      await screen(b, 'ringing').waitFor(T);
      await b.click('[data-testid=call-accept]');
      const words = 'The connection could not be verified: the call was stopped.';
      for (const p of [a, b]) {
        await screen(p, 'ended').waitFor(T);
        expect((await p.locator('[data-testid=call-error]').textContent()).startsWith(words), 'the error says why');
        await callLine(p, words, 'callFailed').waitFor(T);
      }
      // The caller never gave the swapped SDP to WebRTC: its connection was never made.
      expect(await a.evaluate((n) => window.__pcs.slice(n).every((pc) => pc.connectionState !== 'connected'), before), 'never connected');
      await shot(a, '05-call-failed');
      const failed = await axeViolations(a, 'failed call');
      expect(failed.length === 0, failed.join('\n'));
      await b.evaluate(() => (window.__tamperSdp = false));
      for (const p of [a, b]) {
        await p.click('[data-testid=call-close]');
        await screen(p).waitFor({ state: 'detached', ...T });
      }
    });
  } finally {
    await browser.close();
    await relay.stop();
  }
}

await standalone(import.meta.url, 'calls', runCalls);
