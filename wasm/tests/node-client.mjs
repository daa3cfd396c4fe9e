// The relay client suite in Node.js (needs `node --experimental-websocket` on Node 20;
// WebSocket is global from Node 22). Run by scripts/test.mjs with the relay URL; asks
// the parent to restart the relay over IPC for the reconnection test.


const [relayUrl, filter] = process.argv.slice(2);
const pkg = new URL('../pkg/index.node.mjs', import.meta.url).pathname;
const sp = await import(pkg);
const { createHarness } = await import('./harness.js');
const { clientSuite } = await import('./client.suite.js');
if (process.send) {
  globalThis.__restartRelay = () =>
    new Promise((resolve) => {
      process.once('message', (m) => resolve(m?.restarted === true));
      process.send({ restart: true });
    });
}
const h = createHarness();
clientSuite(h, sp, { relayUrl });
const result = await h.run(filter || undefined);
if (process.send) process.send({ result }, () => process.exit(0));
else {
  console.log(`${result.passed} passed, ${result.failed} failed`);
  process.exit(result.failed ? 1 : 0);
}
