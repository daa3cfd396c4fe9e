// sealpost-wasm vs WebCrypto (SubtleCrypto), same run, same machine. Used by
// scripts/bench.mjs in Node.js and (through bench.html) in headless Chromium.
const subtle = globalThis.crypto.subtle;

async function timeAsync(fn, n) {
  const start = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - start) / n;
}

export async function runBench(sp, { fixturePkcs8, quick = false, log = console.log } = {}) {
  const rows = [];
  const row = (name, wasmMs, webcryptoMs) => {
    const r = { name, wasmMs: +wasmMs.toFixed(3), webcryptoMs: +webcryptoMs.toFixed(3), ratio: +(wasmMs / webcryptoMs).toPrecision(2) };
    rows.push(r);
    log(`${name}: wasm ${r.wasmMs} ms, WebCrypto ${r.webcryptoMs} ms, ratio ${r.ratio}x`);
  };
  const bench = sp.__benchPrimitive;
  if (!bench) throw new Error('this package has no __benchPrimitive: build it with `node wasm/scripts/build.mjs --features=bench`');
  for (const bits of [2048, 4096]) {
    const n = quick ? 1 : bits === 2048 ? 4 : 2;
    const pub = new Uint8Array([1, 0, 1]);
    const wc = await timeAsync(() => subtle.generateKey({ name: 'RSA-PSS', modulusLength: bits, publicExponent: pub, hash: 'SHA-256' }, true, ['sign']), n);
    row(`RSA-${bits} key generation`, bench('rsa-keygen', bits, new Uint8Array(), 0, n), wc);
  }
  for (const bits of [2048, 4096]) {
    const oaep = await subtle.generateKey({ name: 'RSA-OAEP', modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['encrypt', 'decrypt']);
    const pkcs8 = bits === 2048 && fixturePkcs8 ? fixturePkcs8 : new Uint8Array(await subtle.exportKey('pkcs8', oaep.privateKey));
    const n = quick ? 3 : 20;
    const label = new TextEncoder().encode('label');
    const ct = await subtle.encrypt({ name: 'RSA-OAEP', label }, oaep.publicKey, new Uint8Array(32));
    const wcUnwrap = await timeAsync(() => subtle.decrypt({ name: 'RSA-OAEP', label }, oaep.privateKey, ct), n);
    row(`RSA-${bits} OAEP unwrap`, bench('rsa-oaep-unwrap', bits, pkcs8, 0, n), wcUnwrap);
    const pss = await subtle.importKey('pkcs8', pkcs8, { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['sign']);
    const msg = new TextEncoder().encode('a message to sign');
    const wcSign = await timeAsync(() => subtle.sign({ name: 'RSA-PSS', saltLength: 32 }, pss, msg), n);
    row(`RSA-${bits} PSS sign`, bench('rsa-pss-sign', bits, pkcs8, 0, n), wcSign);
  }
  const aes = await subtle.importKey('raw', new Uint8Array(32).fill(9), 'AES-GCM', false, ['encrypt', 'decrypt']);
  for (const [size, label, n] of [[256, '256 B', quick ? 200 : 2000], [1024 * 1024, '1 MiB', quick ? 3 : 20]]) {
    const data = new Uint8Array(size).fill(0x5a);
    const iv = new Uint8Array(12).fill(1);
    const ct = await subtle.encrypt({ name: 'AES-GCM', iv }, aes, data);
    row(`AES-256-GCM encrypt ${label}`, bench('aes-gcm-encrypt', 0, new Uint8Array(), size, n), await timeAsync(() => subtle.encrypt({ name: 'AES-GCM', iv }, aes, data), n));
    row(`AES-256-GCM decrypt ${label}`, bench('aes-gcm-decrypt', 0, new Uint8Array(), size, n), await timeAsync(() => subtle.decrypt({ name: 'AES-GCM', iv }, aes, ct), n));
  }
  return rows;
}
