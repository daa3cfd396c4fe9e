#!/usr/bin/env node
// Every error code the package can raise (and those of its page-side helpers, `type
// ...ErrorCode` in wasm/js/*.d.ts) has friendly words in the PWA (src/errors.ts):
// the codes are read from the package's typed enum (wasm/src/error.rs, `Code`), checked
// against its TypeScript type (`SealpostErrorCode`, when wasm/pkg is built) and the core's
// codes it passes through (core/src/error.rs), and so are the ways a call ends
// (`CallEndCode` in wasm/src/client/call.rs); each must get its own text from
// `friendly()`, never the raw message.
// No browser: errors.ts is compiled with TypeScript.
//
//   node www/tests/errors.mjs      (also the first step of www/tests/e2e.mjs)

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { root, www } from './harness.mjs';

const codesIn = (file, re) => [...readFileSync(join(root, file), 'utf8').matchAll(re)].map((m) => m[1]);

/** The package's codes; throws when its sources disagree or a code has no friendly text. */
export async function checkErrorTexts() {
  const pkg = codesIn('wasm/src/error.rs', /Code::\w+ => "([A-Z_]+)"/g);
  if (pkg.length < 20) throw new Error(`read only ${pkg.length} codes from wasm/src/error.rs`);
  const core = codesIn('core/src/error.rs', /Error::\w+ => "([A-Z_]+)"/g);
  const missing = core.filter((c) => !pkg.includes(c));
  if (missing.length) throw new Error(`core codes the package's enum lacks: ${missing}`);
  const ends = /export type CallEndCode =([^;]+);/.exec(readFileSync(join(root, 'wasm/src/client/call.rs'), 'utf8'))?.[1] ?? '';
  const calls = [...ends.matchAll(/"([A-Z_]+)"/g)].map((m) => m[1]);
  if (calls.length < 12) throw new Error(`read only ${calls.length} call end codes from wasm/src/client/call.rs`);
  const dts = join(root, 'wasm/pkg/web/sealpost_wasm.d.ts');
  if (existsSync(dts)) {
    const union = /export type SealpostErrorCode =([^;]+);/.exec(readFileSync(dts, 'utf8'))?.[1] ?? '';
    const typed = [...union.matchAll(/"([A-Z_]+)"/g)].map((m) => m[1]).sort();
    if (JSON.stringify(typed) !== JSON.stringify([...pkg].sort())) throw new Error(`SealpostErrorCode (${typed}) differs from wasm/src/error.rs (${[...pkg].sort()})`);
  }
  // errors.ts and what it imports at run time, as ES modules in a scratch directory.
  const dir = mkdtempSync(join(tmpdir(), 'sealpost-errors-'));
  try {
    for (const [src, out] of [['src/errors.ts', 'errors.mjs'], ['src/backend/types.ts', 'types.mjs']]) {
      const js = ts.transpileModule(readFileSync(join(www, src), 'utf8'), { compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 } }).outputText;
      writeFileSync(join(dir, out), js.replace("'./backend/types'", "'./types.mjs'"));
    }
    const { friendly } = await import(pathToFileURL(join(dir, 'errors.mjs')).href);
    const raw = 'no bundle is registered for this id (unknown_user)';
    const fallback = friendly(Object.assign(new Error(raw), { code: 'NO_SUCH_CODE_EVER' }));
    const helpers = readdirSync(join(root, 'wasm/js')).filter((f) => f.endsWith('.d.ts'))
      .flatMap((f) => [...readFileSync(join(root, 'wasm/js', f), 'utf8').matchAll(/export type \w+ErrorCode = ([^;]+);/g)])
      .flatMap((m) => [...m[1].matchAll(/"([A-Z_]+)"/g)].map((c) => c[1]));
    // The page-side helpers' own codes too (`type ...ErrorCode` in wasm/js/*.d.ts: calls, room voice).
    const all = [...new Set([...pkg, ...helpers, ...calls])];
    const bad = all.filter((code) => {
      const text = friendly(Object.assign(new Error(raw), { code }));
      return !text || text.includes(raw) || text.includes(code) || text === fallback;
    });
    if (bad.length) throw new Error(`no friendly text in www/src/errors.ts for: ${bad.join(', ')}`);
    return all;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const codes = await checkErrorTexts();
  console.log(`ok    friendly text for each of the package's ${codes.length} error and call codes`);
}
