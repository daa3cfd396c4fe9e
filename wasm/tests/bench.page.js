// The benchmark page's script (external: the relay serves pages with a CSP that forbids inline scripts).
const log = (line) => { document.getElementById('log').textContent += line + '\n'; console.log(line); };
try {
  const sp = await import('../pkg/index.js');
  await sp.init();
  const { runBench } = await import('./bench.js');
  const keys = await (await fetch('/tests/vectors/keys.json')).json();
  const hex = (h) => new Uint8Array(h.match(/../g).map((b) => parseInt(b, 16)));
  const quick = new URLSearchParams(location.search).has('quick');
  window.__result = await runBench(sp, { fixturePkcs8: hex(keys.users[0].encryption_pkcs8), quick, log });
} catch (e) {
  log('FAIL ' + (e?.stack ?? e));
  window.__result = { error: String(e) };
}
