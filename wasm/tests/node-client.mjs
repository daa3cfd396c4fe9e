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
const { recoverySuite } = await import('./recovery.suite.js');
recoverySuite(h, sp, { relayUrl });
const { contentSuite } = await import('./content.suite.js');
contentSuite(h, sp, { relayUrl });
const { roomsSuite } = await import('./rooms.suite.js');
roomsSuite(h, sp, { relayUrl });
// serveClient/RemoteClient through in-process ports: the worker side runs the web build.
const { remoteSuite, workerPair } = await import('./remote.suite.js');
const { readFileSync } = await import('node:fs');
const { serveClient } = await import(new URL('../pkg/worker.js', import.meta.url).pathname);
const web = await import(new URL('../pkg/index.js', import.meta.url).pathname);
const { worker, scope } = workerPair();
const storages = new Map();
serveClient({
  scope,
  relayUrl,
  wasm: readFileSync(new URL('../pkg/web/sealpost_wasm_bg.wasm', import.meta.url)),
  storage: (username) => {
    if (!storages.has(username)) storages.set(username, new web.MemoryStorage());
    return storages.get(username);
  },
});
remoteSuite(h, sp, { relayUrl, worker });
const result = await h.run(filter || undefined);
if (process.send) process.send({ result }, () => process.exit(0));
else {
  console.log(`${result.passed} passed, ${result.failed} failed`);
  process.exit(result.failed ? 1 : 0);
}
