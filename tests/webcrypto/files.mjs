// Opens the file vectors (tests/vectors/v2/files.json) with WebCrypto alone, written from
// docs/PROTOCOL.md section 26: layout from the size, strict manifest parsing, every chunk
// checked against its address and opened at its position, padding and the plaintext
// SHA-256 checked; every fail_ case must fail with its code at its chunk; the files
// sealed with derived nonces (26.6) are sealed again from the document's derivation.
// Ends with "N passed, N failed" and exits non-zero on any failure.
//
//   node tests/webcrypto/files.mjs

import { ProtocolError, Reader, assert, cat, check, dec, eq, fail, hmac, sha256, subtle, summary, unhex, utf8, vectors } from "./common.mjs";

// ---------------------------------------------------------------- 26.2 layout

const CHUNK_SIZES = [1, 4, 16, 64, 256, 1024, 4096].map((k) => k * 1024);
const CHUNKS_PER_SIZE = 16;
const MAX_FILE_LEN = 2 ** 30;

function layout(size) {
  if (size > MAX_FILE_LEN) fail("MALFORMED");
  for (const chunkSize of CHUNK_SIZES) {
    const count = Math.max(1, Math.ceil(size / chunkSize));
    if (count <= CHUNKS_PER_SIZE || chunkSize === CHUNK_SIZES[CHUNK_SIZES.length - 1]) {
      return { chunkSize, count, lastLen: size - (count - 1) * chunkSize };
    }
  }
}

// ---------------------------------------------------------------- 26.4, 26.5 manifest

const text = (raw) => {
  try {
    return dec.decode(raw);
  } catch {
    fail("MALFORMED");
  }
};
const checkName = (name, raw) =>
  raw.length >= 1 && name !== "." && name !== ".." && !/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069/\\]/.test(name);
const checkMediaType = (t) => t.length >= 1 && /^[\x20-\x7e]+$/.test(t) && t.includes("/");

function parseManifest(bytes) {
  if (bytes.length > 25169) fail("MALFORMED");
  const r = new Reader(bytes);
  const tag = r.bytes(2);
  if (tag[0] !== 0x46 || tag[1] !== 0x01) fail("MALFORMED");
  const key = r.bytes(32);
  const size = r.u64();
  if (size > BigInt(MAX_FILE_LEN)) fail("MALFORMED");
  const l = layout(Number(size));
  const sha = r.bytes(32);
  const addresses = [];
  for (let i = 0; i < l.count; i++) addresses.push(r.bytes(32));
  const nameRaw = r.var8(255);
  const name = text(nameRaw);
  if (!checkName(name, nameRaw)) fail("MALFORMED");
  const mediaType = text(r.var8(127));
  if (!checkMediaType(mediaType)) fail("MALFORMED");
  const flags = r.u8();
  if (flags & ~3) fail("MALFORMED");
  const m = { key, size: Number(size), layout: l, sha, addresses, name, mediaType };
  if (flags & 1) {
    const type = text(r.var8(127));
    const bytes = r.var16(16384);
    if (!checkMediaType(type) || !type.startsWith("image/") || bytes.length === 0) fail("MALFORMED");
    m.thumbnail = { type, bytes };
  }
  if (flags & 2) {
    m.durationMs = r.u32();
    if (m.durationMs > 86_400_000) fail("MALFORMED");
  }
  r.finish();
  return m;
}

// ---------------------------------------------------------------- 26.3, 26.7 decryption

const failAt = (code, index) => {
  const e = new ProtocolError(code);
  e.index = index;
  throw e;
};

/** Chunk associated data: "sealpost/v2/file-chunk" || u32(index) || u8(last). */
function chunkAad(index, last) {
  const n = new Uint8Array(5);
  new DataView(n.buffer).setUint32(0, index);
  n[4] = last ? 1 : 0;
  return cat(utf8("sealpost/v2/file-chunk"), n);
}

/** Opens `chunks` in order. SubtleCrypto has no incremental SHA-256, so the plaintext is
 * kept whole for the final digest (fine for the vectors; see 26.7). */
async function decryptFile(m, chunks) {
  const key = await subtle.importKey("raw", m.key, "AES-GCM", false, ["decrypt"]);
  const parts = [];
  let index = 0;
  for (const chunk of chunks) {
    if (index >= m.layout.count) failAt("INTEGRITY_EXTENDED", index);
    if (!eq(await sha256(chunk), m.addresses[index])) failAt("INTEGRITY_CHUNK_ADDRESS", index);
    if (chunk.length !== m.layout.chunkSize + 28) failAt("INTEGRITY_CHUNK", index);
    const last = index === m.layout.count - 1;
    let padded;
    try {
      padded = new Uint8Array(
        await subtle.decrypt(
          { name: "AES-GCM", iv: chunk.subarray(0, 12), additionalData: chunkAad(index, last), tagLength: 128 },
          key,
          chunk.subarray(12),
        ),
      );
    } catch {
      failAt("INTEGRITY_CHUNK", index);
    }
    const len = last ? m.layout.lastLen : m.layout.chunkSize;
    if (padded.subarray(len).some((b) => b !== 0)) failAt("INTEGRITY_CHUNK", index);
    parts.push(padded.subarray(0, len));
    index++;
  }
  if (index < m.layout.count) fail("INTEGRITY_TRUNCATED");
  const plain = cat(...parts);
  if (!eq(await sha256(plain), m.sha)) fail("INTEGRITY_HASH");
  return plain;
}

// ---------------------------------------------------------------- files.json

const json = vectors("v2/files.json");
const pattern = (n) => Uint8Array.from({ length: n }, (_, i) => i % 251);
const files = json.files.map((f) => ({ ...f, chunks: f.chunks.map(unhex) }));

await check("files.json: chunk sizes and content type are the document's (4, 26.2)", async () => {
  assert(eq(Uint8Array.from(json.chunk_sizes.map((s) => s / 1024)), Uint8Array.from(CHUNK_SIZES.map((s) => s / 1024))), "sizes");
  assert(json.content_type === 2, "content type 2");
  const l20 = layout(20_000_000);
  assert(l20.chunkSize === 4194304 && l20.count === 5, "20 MB is 5 chunks of 4 MiB");
  assert(layout(100_000_000).count === 24, "100 MB is 24 chunks");
  assert(layout(16385).chunkSize === 4096 && layout(16385).count === 5, "16 KiB + 1 is 5 chunks of 4 KiB");
});

await check("files.json: every file opens byte for byte (26.5, 26.7)", async () => {
  for (const f of files) {
    const m = parseManifest(unhex(f.manifest));
    assert(m.size === f.size && m.name === f.name, `${f.name}: size and name`);
    assert(f.chunks.every((c) => c.length === m.layout.chunkSize + 28), `${f.name}: chunk length`);
    assert(eq(await decryptFile(m, f.chunks), pattern(f.size)), `${f.name}: plaintext`);
  }
  const photo = parseManifest(unhex(files[1].manifest));
  assert(photo.thumbnail?.type === "image/webp" && dec.decode(photo.thumbnail.bytes) === "RIFF thumbnail", "thumbnail");
  assert(parseManifest(unhex(files[2].manifest)).durationMs === 4200, "voice note duration");
});

for (const c of json.fail) {
  await check(`files.json: ${c.name} fails with ${c.error}${c.index === undefined ? "" : ` at chunk ${c.index}`}`, async () => {
    const m = parseManifest(unhex(c.manifest ?? files[c.file].manifest));
    const served = c.chunks.map((e) => {
      if (typeof e === "number") return files[c.file].chunks[e];
      if (e.hex) return unhex(e.hex);
      const chunk = files[e.file ?? c.file].chunks[e.chunk].slice();
      if (e.flip_byte !== undefined) chunk[e.flip_byte] ^= 1;
      return chunk;
    });
    try {
      await decryptFile(m, served);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      assert(e.code === c.error, `expected ${c.error}, got ${e.code}`);
      assert(e.index === c.index, `expected index ${c.index}, got ${e.index}`);
      return;
    }
    throw new Error("opened");
  });
}

await check("files.json: fail_manifests do not parse (MALFORMED)", async () => {
  for (const c of json.fail_manifests) {
    let code;
    try {
      parseManifest(unhex(c.manifest));
    } catch (e) {
      code = e.code;
    }
    assert(code === "MALFORMED", `${c.name}: ${code}`);
  }
});

// ---------------------------------------------------------------- 26.6 derived nonces

/** nonce(i) = HMAC(HMAC(file_key, "sealpost/v2/file-nonce-key"), "sealpost/v2/file-nonce" || u32(i) || u8(last) || SHA-256(file[0, end of chunk i]))[0..12]. */
async function derivedNonce(fileKey, data, l, index) {
  const nonceKey = await hmac(fileKey, utf8("sealpost/v2/file-nonce-key"));
  const last = index === l.count - 1;
  const n = new Uint8Array(5);
  new DataView(n.buffer).setUint32(0, index);
  n[4] = last ? 1 : 0;
  const end = last ? data.length : (index + 1) * l.chunkSize;
  return (await hmac(nonceKey, cat(utf8("sealpost/v2/file-nonce"), n, await sha256(data.subarray(0, end))))).subarray(0, 12);
}

await check("files.json: resumable files are sealed with the derived nonces of 26.6, and another byte changes only the chunks from it on", async () => {
  const r = json.resumable;
  const fileKey = unhex(r.file_key);
  const key = await subtle.importKey("raw", fileKey, "AES-GCM", false, ["encrypt"]);
  const sealed = [];
  for (const f of r.files) {
    const data = pattern(r.size);
    if (f.flip_byte !== null) data[f.flip_byte] ^= 1;
    const m = parseManifest(unhex(f.manifest));
    assert(eq(m.key, fileKey) && m.size === r.size, "the manifest names the file key and size");
    const chunks = f.chunks.map(unhex);
    assert(eq(await decryptFile(m, chunks), data), "opens byte for byte");
    for (let i = 0; i < m.layout.count; i++) {
      const nonce = await derivedNonce(fileKey, data, m.layout, i);
      const padded = new Uint8Array(m.layout.chunkSize);
      padded.set(data.subarray(i * m.layout.chunkSize, Math.min(data.length, (i + 1) * m.layout.chunkSize)));
      const aad = chunkAad(i, i === m.layout.count - 1);
      const box = new Uint8Array(await subtle.encrypt({ name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, key, padded));
      assert(eq(cat(nonce, box), chunks[i]), `chunk ${i} is sealed under the derived nonce`);
    }
    sealed.push(chunks);
  }
  const [a, b] = sealed;
  const at = Math.floor(r.files[1].flip_byte / layout(r.size).chunkSize);
  for (let i = 0; i < a.length; i++) assert(eq(a[i], b[i]) === i < at, `chunk ${i}: ${i < at ? "the same" : "another nonce and box"}`);
});

summary();
