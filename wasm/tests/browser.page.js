// The test page's script (external: the relay serves pages with a CSP that forbids inline scripts).
const log = (line) => { document.getElementById('log').textContent += line + '\n'; console.log(line); };
try {
  const params = new URLSearchParams(location.search);
  const { createHarness } = await import('./harness.js');
  const sp = await import('../pkg/index.js');
  await sp.init();
  const { VECTORS } = await import('./crypto.suite.js');
  const vectors = {};
  for (const name of VECTORS) {
    vectors[name.replace('/', '_')] = await (await fetch(`/tests/vectors/${name}.json`)).json();
  }
  const interop = {};
  const r = await fetch('/interop/from-native.json');
  if (r.ok) interop.fromNative = await r.json();
  const h = createHarness(log);
  const { cryptoSuite } = await import('./crypto.suite.js');
  cryptoSuite(h, sp, vectors, interop);
  if (params.get('relay')) {
    const { clientSuite, workerSuite } = await import('./client.suite.js');
    clientSuite(h, sp, { relayUrl: params.get('relay') });
    const { recoverySuite } = await import('./recovery.suite.js');
    recoverySuite(h, sp, { relayUrl: params.get('relay') });
    // Not in a package built with `--no-default-features`.
    if (typeof sp.Client.prototype.createGroup === 'function') {
      const { groupsSuite } = await import('./groups.suite.js');
      groupsSuite(h, sp, { relayUrl: params.get('relay') });
    }
    workerSuite(h, sp, { relayUrl: params.get('relay') });
    const { filesSuite } = await import('./files.suite.js');
    filesSuite(h, sp, { relayUrl: params.get('relay'), restartRelay: window.__restartRelay });
  }
  window.__result = await h.run(params.get('filter') ?? undefined);
} catch (e) {
  log('FAIL harness: ' + (e?.stack ?? e));
  window.__result = { passed: 0, failed: 1, failures: [{ name: 'harness', error: String(e) }] };
}
