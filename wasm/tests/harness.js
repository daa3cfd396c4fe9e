// A minimal test harness shared by the Node and browser runners.
export function createHarness(log = console.log) {
  const tests = [];
  const test = (name, fn) => tests.push({ name, fn });
  async function run(filter) {
    let passed = 0;
    let failed = 0;
    const failures = [];
    for (const t of tests) {
      if (filter && !t.name.includes(filter)) continue;
      const start = Date.now();
      try {
        await t.fn();
        passed++;
        log(`ok   ${t.name} (${Date.now() - start} ms)`);
      } catch (e) {
        failed++;
        failures.push({ name: t.name, error: String(e?.stack ?? e) });
        log(`FAIL ${t.name}: ${e?.code ? `[${e.code}] ` : ''}${e?.stack ?? e}`);
      }
    }
    return { passed, failed, failures };
  }
  return { test, run };
}

export function assert(cond, message = 'assertion failed') {
  if (!cond) throw new Error(message);
}

export function eq(actual, expected, message = '') {
  const a = JSON.stringify(actual);
  const b = JSON.stringify(expected);
  if (a !== b) throw new Error(`${message} expected ${b}, got ${a}`);
}

export async function throwsCode(fn, code) {
  try {
    await fn();
  } catch (e) {
    if (e?.name !== 'SealpostError') throw new Error(`expected a SealpostError, got ${e?.name}: ${e}`);
    if (e.code !== code) throw new Error(`expected code ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  throw new Error(`expected an error with code ${code}`);
}

export const hexToBytes = (h) => new Uint8Array(h.match(/../g)?.map((b) => parseInt(b, 16)) ?? []);
export const bytesToHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
