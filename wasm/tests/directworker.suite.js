// The worker's host of transferred data channels (js/directworker.js) with a fake client
// and fake channels, in Node.js (no wasm, no relay, no WebRTC): what it passes on, when,
// and what it reports. The same rules run for real in the Chromium direct suite
// (tests/direct.mjs, hosts "worker" and the forged channel).
import { workerChannels } from '../js/directworker.js';
import { eq } from './harness.js';

const U = 'aa'.repeat(32);
const D = 'bb'.repeat(16);

/** A data channel as the worker sees one: `remote(bytes)` delivers, `kill()` closes. */
function fakeChannel(readyState = 'connecting') {
  const dc = {
    readyState,
    sent: [],
    closed: false,
    send(b) {
      if (this.readyState !== 'open') throw new Error('not open');
      this.sent.push([...b]);
    },
    close() {
      this.closed = true;
      this.readyState = 'closed';
    },
    open() {
      this.readyState = 'open';
      this.onopen?.();
    },
    remote(bytes) {
      this.onmessage?.({ data: new Uint8Array(bytes).buffer });
    },
    kill() {
      this.readyState = 'closed';
      this.onclose?.();
    },
  };
  return dc;
}

function setup() {
  const inputs = [];
  const posts = [];
  const client = { directInput: (i) => void inputs.push(i.type === 'frame' ? `frame ${[...i.frame]}` : i.type) };
  const host = workerChannels(client, (m) => posts.push(`${m.data.id} ${m.data.state}`), 1);
  return { inputs, posts, host };
}

const opened = (channel) => ({ type: 'opened', user: U, device: D, fingerprint: 'AB', channel });
const frame = (bytes) => ({ type: 'frame', user: U, device: D, frame: new Uint8Array(bytes) });

export function directWorkerSuite({ test }) {
  test('direct in the worker: frames wait for the check of their own channel, then pass in order', async () => {
    const { inputs, posts, host } = setup();
    const dc = fakeChannel();
    host.adopt({ id: 7, user: U, device: D }, dc);
    dc.remote([1]);
    dc.open();
    dc.remote([2]);
    eq(inputs, [], 'nothing before the check');
    eq(posts, ['7 open'], 'the page is told the channel opened');
    host.input(opened(7));
    dc.remote([3]);
    eq(inputs, ['opened', 'frame 1', 'frame 2', 'frame 3']);
    eq(host.output(frame([9])), true, 'a frame of the client goes out here');
    eq(dc.sent, [[9]]);
  });

  test('direct in the worker: a channel not checked carries nothing; a client frame for it falls back', async () => {
    const { inputs, posts, host } = setup();
    const first = fakeChannel();
    host.adopt({ id: 1, user: U, device: D }, first);
    first.open();
    host.input(opened(1));
    // A second channel for the same device (a new offer): the first check does not cover it.
    const second = fakeChannel();
    host.adopt({ id: 2, user: U, device: D }, second);
    eq(first.closed, true, 'the replaced channel is closed');
    second.open();
    second.remote([2, 0, 0, 0, 0, 0, 0, 0, 1]);
    host.input(opened(1)); // the earlier channel's check, again
    eq(host.output(frame([5])), true);
    eq(second.sent, [], 'nothing sent on the unchecked channel');
    eq(second.closed, true, 'the unchecked channel is ended');
    eq(inputs, ['opened', 'opened', 'closed'], 'its frame never reached the client; the client falls back');
    eq(posts, ['1 open', '2 open', '2 closed']);
  });

  test('direct in the worker: a channel that closes or fails is reported once; one the page ended is not', async () => {
    const { inputs, posts, host } = setup();
    const dc = fakeChannel();
    host.adopt({ id: 3, user: U, device: D }, dc);
    dc.open();
    host.input(opened(3));
    dc.kill();
    dc.kill();
    eq(inputs, ['opened', 'closed']);
    eq(posts, ['3 open', '3 closed']);
    eq(host.output(frame([1])), false, 'a later frame goes to the page, which has no channel either');
    const failing = fakeChannel();
    host.adopt({ id: 4, user: U, device: D }, failing);
    failing.onerror();
    eq(inputs.at(-1), 'closed', 'an error is a close');
    const forgotten = fakeChannel();
    host.adopt({ id: 5, user: U, device: D }, forgotten);
    host.forget({ id: 5, user: U, device: D });
    forgotten.kill();
    eq(forgotten.closed, true);
    eq(inputs.filter((i) => i === 'closed').length, 2, 'the page told the client itself');
    const refused = fakeChannel();
    host.adopt({ id: 6, user: U, device: D }, refused);
    eq(host.output({ type: 'state', user: U, device: D, state: 'relay' }), false, 'the state still goes to the page');
    eq(refused.closed, true, 'a channel the client gave up is closed');
    eq(posts.at(-1), '6 closed', 'and the page told');
    eq(inputs.filter((i) => i === 'closed').length, 2, 'without telling the client what it knows');
  });
}
