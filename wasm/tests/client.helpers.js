// Helpers of the relay client suites: waiting for messages, status and conditions, and
// recording notices. No timed assertions: the bounds only keep a broken client from
// hanging the suite.

export const recv = (client, ms = 30000) =>
  Promise.race([
    client.nextMessage(),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`no message within ${ms} ms`)), ms)),
  ]);

export const online = (client, ms = 15000) =>
  new Promise((resolve, reject) => {
    if (client.status === 'online') return resolve();
    const t = setTimeout(() => reject(new Error('not online')), ms);
    client.onStatus((s) => s === 'online' && (clearTimeout(t), resolve()));
  });

export const notices = (client) => {
  const seen = [];
  client.onNotice((n) => seen.push(n));
  return seen;
};

export const until = async (cond, ms = 30000, what = 'condition') => {
  for (let t = 0; t < ms; t += 100) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
};

/** `promise`, or a rejection naming `what` when it has not settled within `ms`. */
export const within = (promise, ms, what) =>
  Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms (hangs)`)), ms)),
  ]);
