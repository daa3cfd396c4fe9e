// The files benchmark's page (www/tests/files-bench.mjs drives it; external script: the relay's CSP
// forbids inline ones). The package's uploadFile / openAttachment against the same file
// moved chunk by chunk with WebCrypto (AES-GCM and SHA-256 of SubtleCrypto, the same
// chunks, aad and routes: PROTOCOL.md 26, docs/API.md), and each side's crypto alone.
const log = (line) => { document.getElementById('log').textContent += line + '\n'; console.log(line); };
const sp = await import('../pkg/index.js');
await sp.init();
const { RemoteClient } = await import('../pkg/remote.js');
const subtle = crypto.subtle;
const enc = new TextEncoder();
const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');

function aad(i, last) {
  const a = new Uint8Array(27);
  a.set(enc.encode('sealpost/v2/file-chunk'));
  new DataView(a.buffer).setUint32(22, i);
  a[26] = last ? 1 : 0;
  return a;
}

/** The file's chunks: [index, padded plaintext], one at a time (the package's layout). */
async function* plainChunks(file) {
  const layout = new sp.FileEncryptor(file.size);
  const { chunkSize } = layout;
  layout.free();
  const chunkCount = Math.max(1, Math.ceil(file.size / chunkSize));
  for (let i = 0; i < chunkCount; i++) {
    const padded = new Uint8Array(chunkSize);
    padded.set(new Uint8Array(await file.slice(i * chunkSize, (i + 1) * chunkSize).arrayBuffer()));
    yield [i, padded, i === chunkCount - 1];
  }
}

/** Encrypt (+ upload) with WebCrypto: the chunk addresses. */
async function webcryptoUpload(file, key, relay) {
  let token;
  if (relay) token = (await (await fetch('/v2/uploads', { method: 'POST' })).json()).token;
  const addresses = [];
  for await (const [i, padded, last] of plainChunks(file)) {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad(i, last) }, key, padded));
    const chunk = new Uint8Array(12 + ct.length);
    chunk.set(iv);
    chunk.set(ct, 12);
    const address = hex(await subtle.digest('SHA-256', chunk));
    addresses.push(address);
    if (relay) {
      const r = await fetch(`/v2/chunks/${address}`, { method: 'PUT', body: chunk, headers: { authorization: `Upload ${token}` } });
      if (!r.ok) throw new Error(`PUT ${r.status}`);
    }
  }
  return addresses;
}

/** Download + check + decrypt with WebCrypto, into Blob parts. */
async function webcryptoDownload(addresses, key, size) {
  const parts = [];
  let left = size;
  for (let i = 0; i < addresses.length; i++) {
    const chunk = new Uint8Array(await (await fetch(`/v2/chunks/${addresses[i]}`)).arrayBuffer());
    if (hex(await subtle.digest('SHA-256', chunk)) !== addresses[i]) throw new Error('address');
    const plain = await subtle.decrypt({ name: 'AES-GCM', iv: chunk.subarray(0, 12), additionalData: aad(i, i === addresses.length - 1) }, key, chunk.subarray(12));
    const n = Math.min(left, plain.byteLength);
    parts.push(new Blob([new Uint8Array(plain, 0, n)]));
    left -= n;
  }
  return new Blob(parts);
}

/** The package's crypto alone: FileEncryptor over the file. */
async function packageEncrypt(file) {
  const e = new sp.FileEncryptor(file.size);
  for (let at = 0; at < file.size; at += e.chunkSize) {
    e.write(new Uint8Array(await file.slice(at, at + e.chunkSize).arrayBuffer()));
    e.nextChunk();
  }
  while (e.nextChunk());
  e.finish('x', 'application/octet-stream');
}

const secs = async (fn) => {
  const t = performance.now();
  const out = await fn();
  return [(performance.now() - t) / 1000, out];
};

/** Throughput of every variant on each file given (MB/s, decimal). */
window.speed = async (relayUrl) => {
  const client = await sp.Client.register({ relayUrl, storage: new sp.MemoryStorage(), keySize: 2048, connect: false }, `bench-${Math.random().toString(36).slice(2, 8)}`, 'correct horse battery staple');
  const key = await subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const rows = [];
  for (const file of document.getElementById('files').files) {
    const mb = file.size / 1e6;
    const row = { mb };
    let [t, manifest] = await secs(() => client.uploadFile(file));
    row.packageUpload = mb / t;
    let got;
    [t, got] = await secs(() => client.openAttachment(manifest));
    if (got.size !== file.size) throw new Error('package download size');
    row.packageDownload = mb / t;
    let addresses;
    [t, addresses] = await secs(() => webcryptoUpload(file, key, true));
    row.webcryptoUpload = mb / t;
    [t, got] = await secs(() => webcryptoDownload(addresses, key, file.size));
    if (got.size !== file.size) throw new Error('webcrypto download size');
    row.webcryptoDownload = mb / t;
    [t] = await secs(() => packageEncrypt(file));
    row.packageEncrypt = mb / t;
    [t] = await secs(() => webcryptoUpload(file, key, false));
    row.webcryptoEncrypt = mb / t;
    log(JSON.stringify(row));
    rows.push(row);
  }
  await client.logout();
  return rows;
};

/**
 * Sends the first file through a worker as the PWA does (its SHA-256 first, kept for a
 * file picked again after a reload; then uploadFile under a file key of its own, which
 * checks the digest at the end), then opens it (openAttachment). `window.timings`: the
 * seconds each part took.
 */
window.throughWorker = async (relayUrl) => {
  const worker = new Worker(new URL('./test.worker.js', import.meta.url), { type: 'module' });
  const client = await RemoteClient.register(worker, { relayUrl, keySize: 2048, connect: false }, `mem-${Math.random().toString(36).slice(2, 8)}`, 'correct horse battery staple');
  window.phase = 'ready';
  while (window.phase !== 'go') await new Promise((r) => setTimeout(r, 50));
  const file = document.getElementById('files').files[0];
  const [digestSecs, sha256] = await secs(() => client.fileDigest(file));
  const [uploadSecs, manifest] = await secs(() => client.uploadFile(file, { fileKey: crypto.getRandomValues(new Uint8Array(32)), sha256 }));
  window.phase = 'uploaded';
  const [downloadSecs, got] = await secs(() => client.openAttachment(manifest));
  window.timings = { digestSecs, uploadSecs, downloadSecs };
  window.phase = 'downloaded';
  return got.size === file.size;
};
window.ready = true;
