#!/usr/bin/env node
// Where a message's time goes, from the per-device logs of tap.mjs (bench.mjs --trace
// writes them, pages and workers tapped): for each message of a one-at-a-time run, every
// step from the sender's Send to the message on the recipient's screen; mean, median and
// p90 of each step. The steps follow one another, so their means add up to the total.
//
//   node www/tests/trace.mjs test-artifacts/bench-trace-<devices> [run] [sent.json shown.json] [--messages=A-B]
//
// (--messages=A-B: only messages A to B of the run, e.g. 0-99 and 400-499 to see which
// steps grow with the length of the chat.)
// (run: `seq`, the relay run, or `dir`, the direct-channel run; bench.mjs --trace writes
// sent-<run>.json and shown-<run>.json next to the logs and prints both tables itself.)
//
// Steps (all on one machine, one clock; "worker" is the crypto worker, "page" the tab):
//   sender page: store, hand over  Send pressed → the page posts the send to its worker
//                                (before 2026-12-07 it first sealed the message's record
//                                in the worker and wrote it to IndexedDB itself; now it
//                                posts the record to the worker and the send right after)
//     of which: seal call        (before) the page's `sealLocal` round trip to the worker
//     of which: record write     the IndexedDB transaction of the record (page or worker)
//   page→worker                  send posted → the worker has it
//   sender worker: waits for the record   → the record committed (0 when it had)
//   sender worker: seal          → the worker starts the IndexedDB write of the batch that
//                                sealed it (waiting for its turn in the engine included)
//   sender worker: IDB commit    that write, begun → committed
//   sender worker: to transport  committed → the envelope leaves (deposit frame, POST or
//                                direct-channel frame)
//   relay / channel              → the recipient's worker has the bytes (push, or the
//                                direct channel through both pages)
//     of which (channel)         sender worker→its page (the frame event waits for the
//                                page's main thread), page→page (the data channel),
//                                page→recipient worker (`directInput`)
//   recipient worker: open       → it starts the IndexedDB write of the opened message
//   recipient worker: IDB commit that write, begun → committed
//   recipient worker: to page    committed → the worker posts the message to the page
//   worker→page                  → the page has it
//   recipient page: show         → on the recipient's screen
// Off the path (not in the total): the deposit's round trip to the relay's answer, and
// the recipient page's own write of the message (before it is acknowledged).

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Parsed tap lines of one device: `{ t, what, rest }`, in time order. */
function lines(file) {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => /^\S+ \S+ (\d+(?:\.\d+)?)\|(\S+) ?(.*)$/.exec(l))
    .filter(Boolean)
    .map((m) => ({ t: Number(m[1]), what: m[2], rest: m[3] }))
    .sort((a, b) => a.t - b.t);
}

const pct = (xs, p) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : NaN;
};
const mean = (xs) => {
  const s = xs.filter(Number.isFinite);
  return s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN;
};

/**
 * IndexedDB writes (`idb`/`p-idb` lines): begun, committed, the records written (each
 * logged as `name:bytes`). An app record is named by its message, e.g.
 * `m:seq:3/out/queued`: on the page as the tap logged it, in the worker from the last
 * `storeRecords` call the page posted for that key before the write began.
 */
function writes(ls, what) {
  const asked = new Map();
  for (const l of ls) {
    if (l.what !== 'p-call' || !l.rest.includes(' storeRecords ')) continue;
    for (const e of l.rest.split(' storeRecords ')[1].split(',')) {
      const [key, desc] = e.split('=');
      if (!asked.has(key)) asked.set(key, []);
      asked.get(key).push({ t: l.t, name: `${key.slice(0, 2)}${desc}` });
    }
  }
  const named = (n, start) => asked.get(n)?.filter((c) => c.t <= start).at(-1)?.name ?? n;
  return ls.filter((l) => l.what === what).map((l) => {
    const [start, names = ''] = l.rest.split(' ');
    return { start: Number(start), done: l.t, names: names.split(',').map((n) => named(n.replace(/:\d+$/, ''), Number(start))) };
  });
}

/** The first entry of `xs` (sorted by `key`) at or after `t` that passes `ok`. */
function firstAfter(xs, t, ok = () => true, key = (x) => x.t) {
  if (!Number.isFinite(t)) return undefined;
  return xs.find((x) => key(x) >= t && ok(x));
}

export const STEPS = [
  'sender page: store, hand over',
  '  of which: seal call',
  '  of which: record write',
  'page→worker',
  'sender worker: waits for the record',
  'sender worker: seal',
  'sender worker: IDB commit',
  'sender worker: to transport',
  'relay / channel',
  '  of which (channel): sender worker→its page',
  '  of which (channel): page→page (SCTP)',
  '  of which (channel): page→recipient worker',
  'recipient worker: open',
  'recipient worker: IDB commit',
  'recipient worker: to page',
  'worker→page',
  'recipient page: show',
  'total (Send → shown)',
  'off the path: deposit answered',
  'off the path: recipient page stores it',
];

/**
 * Steps per message of `run` (`seq` or `dir`): sender device `from`, recipient `to`
 * (names of the tap files), `sent`/`shown`: page times by message key (`seq:i`).
 */
export function trace(dir, { from = 'A', to = 'B', run = 'seq', sent = {}, shown = {}, only = () => true } = {}) {
  const a = lines(join(dir, `devices-tap-${from}.log`));
  const b = lines(join(dir, `devices-tap-${to}.log`));
  const ours = (k) => k?.startsWith(`${run}:`);
  const keyOf = (s) => /#(\w+:\d+)\b/.exec(s)?.[1];
  const aIdb = writes(a, 'idb');
  const aPageIdb = writes(a, 'p-idb');
  const bIdb = writes(b, 'idb');
  const bPageIdb = writes(b, 'p-idb');
  const outputs = a.filter((l) => l.what === 'deposit-start' || (l.what === 'direct-out' && l.rest.startsWith('frame')));
  const inputs = b.filter((l) => l.what === 'ws-blob' || (l.what === 'direct-in' && l.rest.startsWith('frame')));
  const depositAnswers = a.filter((l) => l.what === 'deposit-answer');
  const steps = Object.fromEntries(STEPS.map((s) => [s, []]));
  const add = (name, from, to) => {
    if (Number.isFinite(from) && Number.isFinite(to)) steps[name].push(to - from);
  };
  const done = new Set();
  for (const d of b.filter((l) => l.what === 'deliver')) {
    const k = keyOf(d.rest);
    if (!ours(k) || done.has(k) || !only(Number(k.split(':')[1]))) continue;
    done.add(k);
    const t0 = sent[k];
    // Sender page.
    // (Before the worker wrote the app's records: a sealLocal round trip, then the page's write.)
    const sealCall = a.find((l) => l.what === 'p-call' && l.rest.includes(`sealLocal ${k}/out/queued`));
    const sealAnswer = sealCall && firstAfter(a, sealCall.t, (l) => l.what === 'p-answer' && l.rest.startsWith(`${sealCall.rest.split(' ')[0]} `));
    const record = `m:${k}/out/queued`;
    const recordWrite = aPageIdb.find((w) => w.names.includes(record)) ?? aIdb.find((w) => w.names.includes(record));
    const pageSend = a.find((l) => l.what === 'p-call' && (l.rest.endsWith(`send ${k}`) || l.rest.endsWith(`sendStored ${k}`)));
    // Sender worker: the send (once the record committed, when it waits for it), then
    // the write of the batch that sealed it (the package may begin that write within
    // the call's own event: matched by commit time).
    const call = a.find((l) => l.what === 'send-call' && keyOf(l.rest) === k);
    const go = call && Math.max(call.t, recordWrite?.done ?? 0);
    // (The idempotency records: `sends`, since 2026-12-07 in buckets `sends.N`.)
    const sealWrite = call && firstAfter(aIdb, call.t, (w) => w.names.some((n) => n === 'sends' || n.startsWith('sends.')), (w) => w.done);
    // Recipient worker: the last input before the delivery, the write it led to.
    const input = inputs.filter((l) => l.t <= d.t).at(-1);
    const openWrite = input && firstAfter(bIdb, input.t, (w) => w.names.includes('inbox'), (w) => w.done);
    // The envelope leaving the sender: by its bytes over the relay, else the first frame
    // after the sealing batch was stored.
    const env = input?.what === 'ws-blob' ? /env (\w+)/.exec(input.rest)?.[1] : undefined;
    const out = env ? outputs.find((l) => l.what === 'deposit-start' && l.rest.split(' ')[0] === env) : sealWrite && firstAfter(outputs, sealWrite.done);
    const req = out && /req (\d+)/.exec(out.rest)?.[1];
    const answer = req !== undefined && firstAfter(depositAnswers, out.t, (l) => l.rest.split(' ')[0] === req);
    // Over the direct channel the frame passes both pages: the sender's page gets it
    // from its worker, the recipient's page posts it to its worker.
    const viaPage = input?.what === 'direct-in' && firstAfter(a, out?.t, (l) => l.what === 'p-direct' && l.rest === 'frame');
    const pageIn = viaPage && firstAfter(b, viaPage.t, (l) => l.what === 'p-call' && l.rest.endsWith('directInput frame'));
    // Recipient page.
    const pageGot = b.find((l) => l.what === 'p-deliver' && l.rest === k);
    const stored = `m:${k}/in/delivered`;
    const pageStore = bPageIdb.find((w) => w.names.includes(stored)) ?? bIdb.find((w) => w.names.includes(stored));

    add('sender page: store, hand over', t0, pageSend?.t);
    add('  of which: seal call', sealCall?.t, sealAnswer?.t);
    add('  of which: record write', recordWrite?.start, recordWrite?.done);
    add('page→worker', pageSend?.t, call?.t);
    add('sender worker: waits for the record', call?.t, go);
    add('sender worker: seal', go, sealWrite?.start);
    add('sender worker: IDB commit', sealWrite?.start, sealWrite?.done);
    add('sender worker: to transport', sealWrite?.done, out?.t);
    add('relay / channel', out?.t, input?.t);
    add('  of which (channel): sender worker→its page', out?.t, viaPage?.t);
    add('  of which (channel): page→page (SCTP)', viaPage?.t, pageIn?.t);
    add('  of which (channel): page→recipient worker', pageIn?.t, input?.t);
    add('recipient worker: open', input?.t, openWrite?.start);
    add('recipient worker: IDB commit', openWrite?.start, openWrite?.done);
    add('recipient worker: to page', openWrite?.done, d.t);
    add('worker→page', d.t, pageGot?.t);
    add('recipient page: show', pageGot?.t, shown[k]);
    add('total (Send → shown)', t0, shown[k]);
    add('off the path: deposit answered', out?.t, answer?.t);
    add('off the path: recipient page stores it', pageGot?.t, pageStore?.done);
  }
  return Object.fromEntries(Object.entries(steps).map(([name, xs]) => [name, { n: xs.length, mean: mean(xs), p50: pct(xs, 50), p90: pct(xs, 90) }]));
}

export function printTrace(title, t) {
  console.log(`${title}\n| step | mean ms | p50 ms | p90 ms | n |\n|---|---|---|---|---|`);
  for (const [name, s] of Object.entries(t)) if (s.n) console.log(`| ${name} | ${s.mean.toFixed(1)} | ${s.p50.toFixed(1)} | ${s.p90.toFixed(1)} | ${s.n} |`);
}

if (process.argv[1]?.endsWith('trace.mjs')) {
  const range = process.argv.find((a) => a.startsWith('--messages='))?.slice(11).split('-').map(Number);
  const [dir, run = 'seq', sentFile, shownFile] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  const only = range ? (i) => i >= range[0] && i <= range[1] : undefined;
  if (!dir || !existsSync(dir)) {
    console.error('usage: node www/tests/trace.mjs DIR [seq|dir] [sent.json shown.json] [--messages=A-B]');
    process.exit(2);
  }
  const read = (f, name) => {
    const file = f ?? join(dir, `${name}-${run}.json`);
    return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  };
  printTrace(`${dir} (${run}${range ? `, messages ${range.join('-')}` : ''})`, trace(dir, { run, sent: read(sentFile, 'sent'), shown: read(shownFile, 'shown'), only }));
}
