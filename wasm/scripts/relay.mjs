// What the package's browser suites share: a relay process serving the test pages, and
// the runner-side steps that count into a `{ passed, failed, failures }` result.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as netServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const wasmDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = resolve(wasmDir, '..');

/** A free TCP port on 127.0.0.1 (free when asked; the caller binds it soon after). */
export async function freePort() {
  return new Promise((ok) => {
    const s = netServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/** Builds the relay (debug) and returns its executable path, wherever CARGO_TARGET_DIR is. */
function relayBinary() {
  const out = execFileSync('cargo', ['build', '-q', '-p', 'sealpost-relay', '--bin', 'sealpost-relay', '--message-format=json'],
    { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  return out.split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((m) => m.executable && m.target?.name === 'sealpost-relay')?.executable;
}

/**
 * Starts a relay (debug build, or SEALPOST_RELAY_BIN) on a free loopback port with a
 * fresh database, serving the package, its tests and the vectors as static files;
 * `args`: more flags, `env`: more environment, `interopDir`: the interop files to serve.
 * Null when it cannot be built or does not start.
 */
export async function startRelay({ args: extraArgs = [], env = {}, interopDir } = {}) {
  let bin = process.env.SEALPOST_RELAY_BIN;
  if (!bin) {
    try {
      bin = relayBinary();
    } catch {
      return null;
    }
  }
  if (!bin || !existsSync(bin)) return null;
  const port = await freePort();
  const data = mkdtempSync(join(tmpdir(), 'sealpost-relay-'));
  // The relay serves the test page too (same origin, so no CORS needed): a static
  // directory with copies of the package, the tests and the vectors.
  const web = join(data, 'web');
  cpSync(join(wasmDir, 'pkg'), join(web, 'wasm', 'pkg'), { recursive: true });
  cpSync(join(wasmDir, 'tests'), join(web, 'wasm', 'tests'), { recursive: true });
  cpSync(join(root, 'tests', 'vectors'), join(web, 'tests', 'vectors'), { recursive: true });
  if (interopDir && existsSync(interopDir)) cpSync(interopDir, join(web, 'interop'), { recursive: true });
  writeFileSync(join(web, 'index.html'), 'sealpost-wasm tests');
  const url = `http://127.0.0.1:${port}`;
  const relay = { url, data, child: null };
  relay.start = async () => {
    const child = spawn(bin, ['--listen', `127.0.0.1:${port}`, '--data-dir', join(data, 'db'), '--static-dir', web,
      '--rate-ip-burst', '100000', '--rate-ip-per-sec', '10000', '--rate-mailbox-burst', '10000', '--rate-mailbox-per-sec', '10000', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    child.stdout.on('data', (d) => process.env.RELAY_LOG && process.stderr.write(d));
    child.stderr.on('data', (d) => process.env.RELAY_LOG && process.stderr.write(d));
    relay.child = child;
    for (let i = 0; i < 100; i++) {
      try {
        if ((await fetch(`${url}/healthz`)).ok) return true;
      } catch { /* not up yet */ }
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  };
  // Stops the relay (SIGTERM: graceful, closes WebSockets) and starts it again on the
  // same port and database, for the reconnection test.
  relay.restart = async () => {
    const exited = new Promise((r) => relay.child.once('exit', r));
    relay.child.kill('SIGTERM');
    await exited;
    await new Promise((r) => setTimeout(r, 1500));
    return relay.start();
  };
  // Freezes the relay process for `ms` (connections are accepted by the kernel but never
  // answered), for the request timeout test.
  relay.pause = (ms) => {
    relay.child.kill('SIGSTOP');
    setTimeout(() => relay.child.kill('SIGCONT'), ms);
    return true;
  };
  if (await relay.start()) return relay;
  relay.child.kill();
  return null;
}

/** A runner-side test step: counts into `r` and prints ok/FAIL with the time taken. */
export function stepper(r) {
  return async (name, fn) => {
    const start = Date.now();
    try {
      await fn();
      r.passed++;
      console.log(`ok   ${name} (${Date.now() - start} ms)`);
    } catch (e) {
      r.failed++;
      r.failures.push({ name, error: String(e) });
      console.log(`FAIL ${name}: ${e?.stack ?? e}`);
    }
  };
}

export function check(cond, what) {
  if (!cond) throw new Error(what);
}
