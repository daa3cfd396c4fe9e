#!/usr/bin/env node
// Builds the npm package of sealpost-wasm into wasm/pkg/ (or --out-dir).
//
//   node wasm/scripts/build.mjs [--dev] [--no-opt] [--no-simd] [--opt-level=s|z|2|3]
//                               [--crypto-opt-level=N] [--wasm-opt='-O3 -ocimfs=0 ...'] [--out-dir=DIR]
//                               [--features=bench] [--no-default-features]
//
// Defaults (measured in docs/BENCHMARKS.md): opt-level "z" with "s" for the crypto crates, fat LTO, one codegen unit,
// panic=abort, +simd128 (Chrome 91, Firefox 89, Safari 16.4, Node 16.4), wasm-opt -O3
// without one-caller inlining.
//
// Steps: cargo build (wasm32-unknown-unknown, release profile tuned through
// CARGO_PROFILE_RELEASE_* variables), wasm-bindgen --target web and --target nodejs
// (the CLI must be the exact version the crate pins), wasm-opt from node_modules/binaryen,
// then package.json, entry points, TypeScript declarations and README. Downloads nothing.
// Prerequisites: `npm ci` in wasm/, `cargo install wasm-bindgen-cli --version <pinned>`.

import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const wasmDir = resolve(here, '..');
const root = resolve(wasmDir, '..');
const args = Object.fromEntries(process.argv.slice(2).map((a) => {
  const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
  if (!m) throw new Error(`unknown argument ${a}`);
  return [m[1], m[2] ?? true];
}));
const outDir = resolve(args['out-dir'] ?? join(wasmDir, 'pkg'));
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, 'target', 'wasm');
const dev = Boolean(args.dev);
const simd = !args['no-simd'] && !dev;
// 400 KiB, raised to 474 when groups became part of the default package (473.3 KiB
// measured, from 399.9 without them), then to 503 when rooms did (SPAKE2 and
// curve25519-dalek, issue 12: 502.5 KiB measured, from 473.2 without them), then to 510
// for voice calls (issue 12: 509.4 KiB measured with them on 5dc4dd4; 478.7 against
// 473.3 before rooms); issue 14's diet lowers it again: 471 after the engine's sorted
// maps (-39 KiB), 430 after the core's own RSA key DER; 432 with the deposit socket
// (issue 13, +4.3 KiB: 431.6 measured); 433 for files that resume after a reload (issue
// 11: derived chunk nonces, +0.8 KiB: 432.5 measured); 435 with contact names synced
// between an account's devices (issue 14, +2.0 KiB: 434.5 measured); 401 after the core's
// own prime search for RSA keys (-34.1 KiB: 400.4 measured); 404 for group races no signer
// can game (issue 10, PROTOCOL.md 27.4: admin seniority in the state, the race's rule, a
// device kept out of a group until its race is settled; +2.7 KiB: 403.1 measured); 405
// for room members shown only once they prove the room key, with their announcements
// (issue 12, PROTOCOL.md 30.4; +0.9 KiB: 403.1 -> 404.0 measured on 8455473, 404.5 on
// 1ded82f); 406 for stores with groups from before that (issue 10: group states of format 1
// read and upgraded, a restore that fails names the part; +1.0 KiB: 403.6 -> 404.6 on
// 1ded82f); 400 after one small stable sort for the core's and engine's five sorts (-5.5
// KiB: 403.1 -> 397.6 on 8455473, 398.7 on cdf581f, 399.999 measured on ead9343); 402 for
// files checked before a resumed upload and exactly-once group sends (issue 11:
// FileHasher, keyed sendToGroup, FILE_MISMATCH; +1.1 KiB: 403.1 -> 404.2 measured on
// 8455473, 404.5 -> 405.5 on cdf581f, 400.0 -> 401.1 on 171245a); 403 for send results
// that carry sentAt (2dde198: 401.8 -> 402.1); 404 for group chains given again until
// their member device confirms them (issue 10, PROTOCOL.md 27.5 "Confirming a chain":
// the kept chains, their stored part, the re-send schedule, the receiver's hold of
// messages waiting for a chain; +1.6 KiB: 401.8 -> 403.4 measured on d20793c; 403.6 on 010cb46, with 2dde198);
// 398 with RSA primes tested by FIPS 186-5 Miller-Rabin with Table B.1's rounds
// instead of Baillie-PSW (-6.0 KiB: 401.8 -> 395.8 measured on d5f0b0c, 397.6 on a5d396b);
// 400 for room rosters (issue 12: every room frame says whom its sender sees, so a member
// the relay hides is reported; +1.5 KiB: 401.8 -> 403.3 on d5f0b0c, 402.1 -> 403.6 on
// 010cb46; 397.6 -> 399.4 with the RSA change on 83efdf9).
// 404 for member usernames checked by hash, the prior state's head in every group
// operation and late operations reported (issue 10, PROTOCOL.md 27.2-27.4: formats 'G',3 /
// 'O',2 with the readers of the old ones, GROUP_FORKED, the operations taken per group;
// +4.3 KiB: 401.8 on d20793c -> 406.1, both measured in one session, same target dir;
// 399.4 + 4.3 = 403.7 expected on a5352dd); 405 for messages numbered by their sending
// device, so the relay cannot reorder one device's messages of a second (issue 13,
// PROTOCOL.md 17.2 `seq`; +1.0 KiB: 401.8 -> 402.8 measured on d5f0b0c; 403.6 -> 404.6 on
// a5d396b with the keyed retry that waits for its deposits, 404.2 with it on 1f3f317).
// 385 with wasm-opt -O3 without one-caller inlining (-19.0 KiB: 397.6 -> 378.6 on
// a5d396b; 384.95 measured on aaa7d3d); 387 with the idempotency records in buckets
// (b87caa2). 387.3 for the rooms' `unheard` (+0.3 KiB: 386.7 -> 387.0 on 5bbc349).
// 388.3 for nothing of a group dropped in silence (issue 10: GROUP_TOO_OLD, chain
// re-sends that wait for room, chains given before a5d396b given again, the stored first
// failure of a message waiting for its chain, group messages' seq; +1.2 KiB: 386.7 on
// 316a69c -> 387.9, both measured in one session, same target dir; 0.4 KiB of it already
// saved by keeping the waits in a plain Vec). 390.2 with the seen-set in records, blobs
// fed together and storages without setMany refused (issue 13: +1.9 KiB, 386.7 -> 388.6).
// 388 with the third diet round (issue 14: -2.5 KiB, Vec for bounded queues, swaps in the
// small sort): all of the above together measured 387.9 on d4e41fe.
// +1392 bytes for issue 10's audit (audit10: payloads kept until the relay takes them,
// copies of forgotten operations and of shown messages known by 16-byte digests, the
// engine's own SHA-256 for them, held payloads dropped with a notice, relay-expired
// waits given up): 397,256 bytes gzip on e90397a (wt-lead's build) -> 398,648 on the
// audit10 branch, same build.mjs defaults. Probably most of it is the engine's own
// `Sha256::digest` instance; a digest helper exported by the core may win it back.
// +1764 bytes for the rooms' per-frame receipts (issue 12, PROTOCOL.md 30.4 "Receipts":
// roster counters, the receipt kind, Room::tick, undelivered/delivered): 397 256 ->
// 399 020 bytes gzip, e90397a and that change each built from scratch, same flags.
// +109 bytes for lookups that never loop and an account the directory does not know
// told to the user (the `unreachable` notice, a directory 200 that does not parse given
// to the engine as a bad answer): 397 256 bytes gzip on e90397a (the lead's build) ->
// 397 365 on the dirloop branch before its rebase, same flags.
// +559 bytes for issue 10's rekey after a revoked device (devrekey: a list that lost a
// device makes an admin rekey, a refused group mailbox re-reads the member's list, a lost
// rekey is not signed again): 398,648 bytes gzip on 858dd32 -> 399,207 on the devrekey
// branch, same target dir and build.mjs defaults (782 before moving the list comparison
// out of the groups code and dropping two list clones).
// +93 bytes: all of the above together with the lead's pruning of group messages waiting
// for a revoked device (eaf6021) measured 401,229 bytes gzip on bfb8a29 (the sum of the
// figures above: 401,136).
// +652 bytes for room frames numbered per stream (issue 12, PROTOCOL.md 30.4 "Gaps":
// format 4's seq, the receiver's streams and open gaps, REPLAYED by stream, the `missing`
// event, the host's boxed secrets): 401,229 bytes gzip on 51088ae (main) -> 401,881 on
// the roomgap branch, both built in one target dir (sources touched), same flags.
// -14,021 -216 bytes, issue 14's fourth diet round (wasmdiet, on 51088ae, same target dir
// and source): wasm-opt lays the functions out sorted by name (401,229 -> 387,208) and
// drops the producers/target_features sections (-> 386,992 measured).
// -33 bytes: both of the above together measured 387,611 bytes gzip on the rebased
// wasmdiet branch (the sum of the two: 387,644).
// +450 bytes for issue 10's DeviceLeft notice (grouprev: a device whose own list lost a
// device tells the members of its groups; a member's notice makes a device read that
// member's list, once a minute at most, through Directory::ask): 387,611 bytes gzip on
// 9920422 (main) -> 388,061 on the grouprev branch rebased on it, both built in one
// worktree with one target dir, same flags (on 51088ae's flags: +486, 715
// before the branch's size commit).
const BUDGET_GZIP = 388 * 1024 + 1392 + 1764 + 109 + 559 + 93 + 652 - 14021 - 216 - 33 + 450;

function run(cmd, argv, env = {}) {
  const t = Date.now();
  console.error(`$ ${cmd} ${argv.join(' ')}`);
  execFileSync(cmd, argv, { stdio: 'inherit', cwd: root, env: { ...process.env, ...env } });
  return (Date.now() - t) / 1000;
}

// 1. The wasm-bindgen CLI must match the crate's pinned wasm-bindgen exactly.
const lock = readFileSync(join(root, 'Cargo.lock'), 'utf8');
const pinned = /name = "wasm-bindgen"\nversion = "([^"]+)"/.exec(lock)?.[1];
const cli = execFileSync('wasm-bindgen', ['--version'], { encoding: 'utf8' }).trim().split(/\s+/)[1];
if (!pinned || cli !== pinned) {
  console.error(`wasm-bindgen CLI ${cli} does not match the crate's wasm-bindgen ${pinned}: ` +
    `cargo install wasm-bindgen-cli --version ${pinned} --locked`);
  process.exit(1);
}

// 2. cargo build.
const timings = {};
const env = { CARGO_TARGET_DIR: targetDir };
if (!dev) {
  // "z" for glue, engine and client, "s" for the crypto crates (`--crypto-opt-level`):
  // protocol v2 (the engine and the v2 core next to the v1 crypto level) does not fit
  // the budget at opt-level 3 (about 510 KiB gzip), and "s" everywhere is 400.6 KiB. "s"
  // costs symmetric crypto speed (docs/BENCHMARKS.md), not RSA; "z" on the crypto crates
  // would cost far more, so they stay at "s". `--opt-level=3` for a speed build.
  env.CARGO_PROFILE_RELEASE_OPT_LEVEL = String(args['opt-level'] ?? 'z');
  env.CARGO_PROFILE_RELEASE_LTO = 'fat';
  env.CARGO_PROFILE_RELEASE_CODEGEN_UNITS = '1';
  env.CARGO_PROFILE_RELEASE_PANIC = 'abort';
  env.CARGO_PROFILE_RELEASE_STRIP = 'debuginfo';
}
const rustflags = [process.env.RUSTFLAGS ?? ''];
if (simd) rustflags.push('-C', 'target-feature=+simd128');
env.RUSTFLAGS = rustflags.join(' ').trim();
// Optionally a different opt-level for the crypto crates than for the rest (glue,
// serde, gloo-net): `--crypto-opt-level=3` with `--opt-level=s`.
const perCrate = [];
const cryptoOptLevel = args['crypto-opt-level'] ?? (args['opt-level'] === undefined ? 's' : undefined);
if (!dev && cryptoOptLevel) {
  for (const c of ['rsa', 'crypto-bigint', 'crypto-primes', 'sha2', 'hmac', 'hkdf', 'pbkdf2', 'aes', 'aes-gcm', 'ghash', 'polyval', 'sealpost-core']) {
    const level = /^[0-3]$/.test(cryptoOptLevel) ? cryptoOptLevel : JSON.stringify(cryptoOptLevel);
    perCrate.push('--config', `profile.release.package.${c}.opt-level=${level}`);
  }
}
// Groups are a default feature; `--no-default-features` builds without them (to measure).
const cargoFeatures = [...(args.features ? ['--features', args.features] : []), ...(args['no-default-features'] ? ['--no-default-features'] : [])];
timings.cargo = run('cargo', ['build', ...(dev ? [] : ['--release']), ...perCrate, '--target', 'wasm32-unknown-unknown', '-p', 'sealpost-wasm', ...cargoFeatures], env);
// `--features=bench`: with the primitive timings of wasm/scripts/bench.mjs, a build for
// measuring, not the package (the size budget does not apply to it).
const bench = String(args.features ?? '').split(',').includes('bench');
const built = join(targetDir, 'wasm32-unknown-unknown', dev ? 'debug' : 'release', 'sealpost_wasm.wasm');

// 3. wasm-bindgen for browsers/bundlers (ESM) and Node.js.
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const t0 = Date.now();
for (const [target, sub] of [['web', 'web'], ['nodejs', 'node']]) {
  run('wasm-bindgen', ['--target', target, '--out-dir', join(outDir, sub), ...(dev ? ['--debug', '--keep-debug'] : []), built]);
}
timings.bindgen = (Date.now() - t0) / 1000;

// 4. wasm-opt (binaryen from the npm registry; Debian's binaryen 108 emits broken wasm).
const wasmOpt = join(wasmDir, 'node_modules', '.bin', 'wasm-opt');
// -O3, but a function with one caller is not inlined into it (`-ocimfs=0`, binaryen's
// default inlines all of them): that merging made the module 19 KiB gzip larger for 0-5 %
// of speed (docs/BENCHMARKS.md); the hot loops of the crypto call small functions, which
// -O3's other inlining rules still inline. Then the functions are laid out sorted by
// name (`--reorder-functions-by-name`, after -O3): the instances of one generic function
// and the functions of one module come next to each other, within gzip's 32 KiB window,
// where the compiler's order scatters them over the megabyte (-13.7 KiB gzip, raw the
// same: 401,229 -> 387,208 bytes; the code itself is unchanged). The `producers` and
// `target_features` sections (tool metadata no engine reads) are left out: -216 bytes.
// `--wasm-opt='FLAGS'` replaces all these flags.
const optFlags = String(args['wasm-opt'] ?? '-O3 --one-caller-inline-max-function-size=0 --reorder-functions-by-name --strip-producers --strip-target-features').split(/\s+/).filter(Boolean);
if (!dev && !args['no-opt']) {
  if (!existsSync(wasmOpt)) {
    console.error('node_modules/.bin/wasm-opt missing: run `npm ci` in wasm/');
    process.exit(1);
  }
  const t = Date.now();
  // Both modules at once (wasm-opt from npm is single-threaded JS/wasm).
  await Promise.all(['web', 'node'].map((sub) => {
    const f = join(outDir, sub, 'sealpost_wasm_bg.wasm');
    const features = ['--enable-bulk-memory', '--enable-nontrapping-float-to-int', '--enable-sign-ext',
      '--enable-mutable-globals', '--enable-reference-types', '--enable-multivalue'];
    if (simd) features.push('--enable-simd');
    const argv = [...optFlags, ...features, f, '-o', f];
    console.error(`$ ${wasmOpt} ${argv.join(' ')}`);
    return new Promise((ok, fail) => {
      spawn(wasmOpt, argv, { stdio: 'inherit' }).on('exit', (code) => (code === 0 ? ok() : fail(new Error(`wasm-opt exited with ${code}`))));
    });
  }));
  timings.wasmOpt = (Date.now() - t) / 1000;
}

// 5. Entry points, helpers, declarations, package.json, README.
cpSync(join(wasmDir, 'js'), outDir, { recursive: true });
const crate = readFileSync(join(wasmDir, 'Cargo.toml'), 'utf8');
const ws = readFileSync(join(root, 'Cargo.toml'), 'utf8');
const version = /\[workspace\.package\][^[]*?version = "([^"]+)"/.exec(ws)?.[1] ?? '0.0.0';
const description = /description = "([^"]+)"/.exec(crate)?.[1] ?? '';
const pkg = {
  name: 'sealpost-wasm',
  version,
  description,
  license: 'Apache-2.0 OR MIT',
  type: 'module',
  main: './node/sealpost_wasm.js',
  module: './index.js',
  types: './index.d.ts',
  sideEffects: false,
  exports: {
    '.': {
      types: './index.d.ts',
      node: { import: './index.node.mjs', require: './node/sealpost_wasm.js' },
      default: './index.js',
    },
    './worker': { types: './worker.d.ts', default: './worker.js' },
    './remote': { types: './remote.d.ts', default: './remote.js' },
    './direct': { types: './direct.d.ts', default: './direct.js' },
    './calls': { types: './calls.d.ts', default: './calls.js' },
    './roomvoice': { types: './roomvoice.d.ts', default: './roomvoice.js' },
    './web': { types: './web/sealpost_wasm.d.ts', default: './web/sealpost_wasm.js' },
    './sealpost_wasm_bg.wasm': './web/sealpost_wasm_bg.wasm',
    './package.json': './package.json',
  },
  files: ['*.js', '*.mjs', '*.d.ts', 'web/', 'node/', 'README.md'],
};
writeFileSync(join(outDir, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
// wasm-bindgen writes a CommonJS Node.js build; mark that directory as CommonJS.
writeFileSync(join(outDir, 'node', 'package.json'), JSON.stringify({ type: 'commonjs' }) + '\n');
for (const sub of ['web', 'node']) rmSync(join(outDir, sub, '.gitignore'), { force: true });
cpSync(join(wasmDir, 'README.md'), join(outDir, 'README.md'));

// 6. Report sizes and enforce the budget.
const wasmFile = join(outDir, 'web', 'sealpost_wasm_bg.wasm');
const raw = statSync(wasmFile).size;
const gz = gzipSync(readFileSync(wasmFile), { level: 9 }).length;
const report = { raw, gzip: gz, timings, optLevel: env.CARGO_PROFILE_RELEASE_OPT_LEVEL, cryptoOptLevel: args['crypto-opt-level'] ?? null, wasmOpt: dev || args['no-opt'] ? null : optFlags.join(' '), simd };
writeFileSync(join(outDir, 'build-report.json'), JSON.stringify(report, null, 2) + '\n');
console.log(`sealpost-wasm ${version}: ${wasmFile}\n  .wasm ${(raw / 1024).toFixed(1)} KiB, gzip ${(gz / 1024).toFixed(1)} KiB (budget ${BUDGET_GZIP / 1024} KiB)`);
if (!dev && !bench && gz > BUDGET_GZIP) {
  console.error('over the gzip size budget');
  process.exit(1);
}
