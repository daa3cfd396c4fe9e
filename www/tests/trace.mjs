#!/usr/bin/env node
// Where a message's time goes, from the per-device logs of tap.mjs (bench.mjs --trace
// writes them): for each message of the one-at-a-time run, the time from the sender's
// Send to its worker taking the send, to the worker starting the deposit for the
// recipient, to the recipient's worker receiving the blob, to it handing the opened
// message to the page, to the message on screen; medians and p90 of each step.
//
//   node www/tests/trace.mjs test-artifacts/bench-trace-<devices>  [sent.json arrivals.json]
//
// Steps (all on one machine, one clock):
//   page→worker    Send pressed (the page stores it first) → the worker has the send call
//   seal+store     the worker has it → it starts the deposit for the recipient
//   relay          deposit started → the recipient's worker got the blob (HTTP, the
//                  relay's commit, the WebSocket push)
//   open+store     blob → the worker handed the opened message to the page
//   page shows     handed over → on the recipient's screen

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Parsed tap lines of one device: `{ t, what, rest }`. */
function lines(file) {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => /^\S+ \S+ (\d+(?:\.\d+)?)\|(\S+) ?(.*)$/.exec(l))
    .filter(Boolean)
    .map((m) => ({ t: Number(m[1]), what: m[2], rest: m[3] }));
}

const pct = (xs, p) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};

/**
 * Steps per message of the `seq` run: sender device `from`, recipient `to` (names of
 * the tap files), `sent`/`shown`: page times by message key (`seq:i`).
 */
export function trace(dir, { from = 'A', to = 'B', sent = {}, shown = {} } = {}) {
  const a = lines(join(dir, `devices-tap-${from}.log`));
  const b = lines(join(dir, `devices-tap-${to}.log`));
  const key = (s) => /#(seq:\d+)\b/.exec(s)?.[1];
  // Sender: the send call, then the deposits of the batch that answered it.
  const call = {};
  const callId = {};
  for (const l of a) {
    if (l.what === 'send-call') {
      const k = key(l.rest);
      if (k && !(k in call)) (call[k] = l.t), (callId[l.rest.split(' ')[0]] = k);
    }
  }
  // Deposits by envelope fingerprint (the recipient's pushed blob carries the same bytes).
  const deposited = {};
  for (const l of a) if (l.what === 'deposit-start') deposited[l.rest] ??= l.t;
  const blobAt = {};
  const delivered = {};
  let lastBlob = null;
  for (const l of b) {
    if (l.what === 'ws-blob') {
      const env = /env (\w+)/.exec(l.rest)?.[1];
      lastBlob = { t: l.t, env };
    } else if (l.what === 'deliver') {
      const k = key(l.rest);
      if (k && !(k in delivered) && lastBlob) {
        delivered[k] = l.t;
        blobAt[k] = lastBlob;
      }
    }
  }
  const steps = { 'page→worker': [], 'seal+store': [], relay: [], 'open+store': [], 'page shows': [], total: [] };
  for (const k of Object.keys(delivered)) {
    const blob = blobAt[k];
    const dep = deposited[blob.env];
    if (sent[k] !== undefined) steps['page→worker'].push(call[k] - sent[k]);
    if (dep !== undefined) {
      steps['seal+store'].push(dep - call[k]);
      steps.relay.push(blob.t - dep);
    }
    steps['open+store'].push(delivered[k] - blob.t);
    if (shown[k] !== undefined) steps['page shows'].push(shown[k] - delivered[k]);
    if (sent[k] !== undefined && shown[k] !== undefined) steps.total.push(shown[k] - sent[k]);
  }
  return Object.fromEntries(Object.entries(steps).map(([name, xs]) => [name, { n: xs.length, p50: pct(xs, 50), p90: pct(xs, 90) }]));
}

export function printTrace(title, t) {
  console.log(`${title}\n| step | p50 ms | p90 ms | n |\n|---|---|---|---|`);
  for (const [name, s] of Object.entries(t)) console.log(`| ${name} | ${s.p50?.toFixed(1)} | ${s.p90?.toFixed(1)} | ${s.n} |`);
}

if (process.argv[1]?.endsWith('trace.mjs')) {
  const [dir, sentFile, shownFile] = process.argv.slice(2);
  if (!dir || !existsSync(dir)) {
    console.error('usage: node www/tests/trace.mjs DIR [sent.json shown.json]');
    process.exit(2);
  }
  const read = (f) => (f ? JSON.parse(readFileSync(f, 'utf8')) : {});
  printTrace(dir, trace(dir, { sent: read(sentFile), shown: read(shownFile) }));
}
