// Files (PROTOCOL.md 26, docs/API.md "Attachments (chunks)"): `Client.sendFile`,
// `Client.sendFileToGroup` and `Client.openAttachment`. The wasm module encrypts and checks one chunk at a time
// (FileEncryptor, FileDecryptor); this file moves the chunks. A few chunks of a file at
// most are in memory on either side: a Blob is read slice by slice, a stream piece by
// piece, at most UPLOADS_IN_FLIGHT sealed chunks are uploading (each as a Blob, which
// also serves its retries) while the next one is encrypted; a download keeps at most
// DOWNLOADS_IN_FLIGHT chunks coming (as Blobs), opens them in order, and collects the
// file into Blob parts (browser storage, not the heap). Every chunk-sized ArrayBuffer this
// file makes is released as soon as its bytes are elsewhere (`release`): left to the
// garbage collector, 100 MB through a worker peaked at +250 MiB (docs/BENCHMARKS.md).

const FILE_CONTENT_TYPE = 2;
/** Sealed chunks uploading at once: the relay's hashing and fsync overlap the next encryption. */
const UPLOADS_IN_FLIGHT = 2;
/**
 * Chunks a download fetches at once (the next and those after it): one request at a
 * time left the link idle during each round trip and each decryption (docs/BENCHMARKS.md).
 */
const DOWNLOADS_IN_FLIGHT = 4;

/** A port nobody listens to: a buffer transferred into it is freed at once. */
const sink = typeof MessageChannel === 'function' ? new MessageChannel() : null;
sink?.port2.close();

/**
 * Frees the memory of `buffer` (one this file made) now instead of at the next garbage
 * collection, which V8 runs only after about 64 MB of such buffers: transferring it
 * detaches it, and the message carrying it goes nowhere.
 */
const release = (buffer) => sink?.port1.postMessage(null, [buffer]);

const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/**
 * `FileEncryptor.nextChunk`'s address (32 bytes) and chunk (a Blob: the upload's body
 * and its retries'), split; `out` is released.
 */
function split(out) {
  if (!out) return out;
  const chunk = { address: hex(out.subarray(0, 32)), bytes: new Blob([out.subarray(32)]) };
  release(out.buffer);
  return chunk;
}

function fail(code, message, extra) {
  return Object.assign(new Error(message), { name: 'SealpostError', code }, extra);
}

/** A relay error answer as a SealpostError (docs/API.md "Errors"). */
async function relayError(resp) {
  let body = {};
  try { body = await resp.json(); } catch { /* not JSON */ }
  const s = resp.status;
  // A body cut short (`bad_body`) is a network loss.
  const code = s === 410 ? 'FILE_EXPIRED' : s === 404 ? 'NOT_FOUND' : body.error === 'bad_body' ? 'NETWORK'
    : s === 401 ? 'UNAUTHORIZED' : s === 429 ? 'RATE_LIMITED' : 'RELAY';
  const retryAfter = Number(resp.headers.get('retry-after')) || undefined;
  return fail(code, `${body.message ?? `relay answered ${s}`} (${body.error ?? ''})`, { status: s, retryAfter });
}

const retryable = (e) => e.code === 'NETWORK' || e.code === 'RATE_LIMITED' || (e.code === 'RELAY' && e.status >= 500);

function sleep(ms, signal) {
  return new Promise((ok, no) => {
    const t = setTimeout(ok, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); no(cancelled()); }, { once: true });
  });
}

const cancelled = () => fail('CANCELLED', 'the transfer was cancelled');

const asIs = (r) => r;

/**
 * One request to the relay, its answer read by `read` (default: the Response as is, for
 * a status): a network failure is `NETWORK`, a cancel `CANCELLED`; waits 30 s plus one
 * second per 50 KB of body either way (a 4 MiB chunk on a slow uplink). Its timer and
 * its listener on `signal` end with it.
 */
async function request(client, path, init, signal, read = asIs) {
  if (signal?.aborted) throw cancelled();
  // A body read here is at most a chunk (4 MiB).
  const len = init.body?.size ?? (read === asIs ? 0 : 4 << 20);
  const abort = new AbortController();
  const onAbort = () => abort.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(onAbort, Math.ceil(30_000 + len / 50));
  try {
    return await read(await fetch(client.relayUrl + path, { ...init, signal: abort.signal }));
  } catch (e) {
    if (signal?.aborted) throw cancelled();
    if (e?.name === 'SealpostError') throw e;
    throw fail('NETWORK', String(e?.message ?? e));
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Runs `attempt` until it succeeds, waiting out network losses, 5xx and 429 with
 * backoff (0.25 s doubling to 8 s, or the relay's Retry-After) until cancelled; `onWait`
 * is told when it waits. Other errors are thrown.
 */
async function persist(attempt, signal, onWait) {
  for (let backoff = 250; ; backoff = Math.min(backoff * 2, 8000)) {
    try {
      return await attempt();
    } catch (e) {
      if (!retryable(e)) throw e;
      onWait?.(e);
      await sleep(e.retryAfter ? e.retryAfter * 1000 : backoff, signal);
    }
  }
}

/**
 * The pieces of a Blob (slices of `size`, each released once the caller asks for the
 * next) or a ReadableStream (as they come; the stream's own buffers are left alone).
 */
async function* pieces(source, size) {
  if (typeof source.getReader === 'function') {
    const reader = source.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield value instanceof Uint8Array ? value : new Uint8Array(value);
      }
    } finally {
      reader.releaseLock();
    }
  }
  for (let at = 0; at < source.size; at += size) {
    const piece = await source.slice(at, at + size).arrayBuffer();
    yield new Uint8Array(piece);
    release(piece);
  }
}

/** Upload tokens by client: one serves several files until its quota or lifetime ends. */
const tokens = new WeakMap();

/** The client's upload token, asked for (`POST /v2/uploads`) when it has none. */
async function uploadToken(client, signal) {
  const t = tokens.get(client);
  if (t && t.expiresAt > Date.now() / 1000 + 60) return t.token;
  const r = await request(client, '/v2/uploads', { method: 'POST' }, signal);
  if (!r.ok) throw await relayError(r);
  const { token, expires_at: expiresAt } = await r.json();
  tokens.set(client, { token, expiresAt });
  return token;
}

/** Installs the file methods on the package's `Client` (both entry points). */
export function installFiles({ Client, FileEncryptor, FileDecryptor, FileHasher, fileInfo }) {
  /**
   * SHA-256 of a Blob read slice by slice (the digest its manifest will carry): an app
   * keeps it with an upload it may have to resume, and passes it as `sha256` then.
   */
  const digest = async (source, signal, onProgress) => {
    const h = new FileHasher();
    try {
      let done = 0;
      for await (const piece of pieces(source, 1 << 20)) {
        if (signal?.aborted) throw cancelled();
        h.update(piece);
        done += piece.length;
        onProgress?.({ done, total: source.size });
      }
      return h.finish(); // consumes it
    } catch (e) {
      h.free();
      throw e;
    }
  };
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const mismatch = () => fail('FILE_MISMATCH', 'this is not the file the upload began with (its SHA-256 differs)');

  Client.prototype.fileDigest = async function fileDigest(source, options = {}) {
    if (typeof source?.slice !== 'function') throw fail('INVALID_ARGUMENT', 'fileDigest takes a Blob');
    return digest(source, options.signal, options.onProgress);
  };

  /** The relay's file limits (`GET /v2/limits`). */
  Client.prototype.fileLimits = async function fileLimits() {
    const r = await request(this, '/v2/limits', {});
    if (!r.ok) throw await relayError(r);
    const l = await r.json();
    return { maxFileBytes: l.max_file_bytes, chunkTtlSecs: l.chunk_ttl_secs };
  };

  Client.prototype.uploadFile = async function uploadFile(source, options = {}) {
    const { signal, onProgress } = options;
    const size = options.size ?? source.size;
    if (typeof size !== 'number') throw fail('INVALID_ARGUMENT', 'options.size is needed for a stream');
    // The file the upload began with, or nothing is sent: when resuming, a Blob is read
    // whole once more and checked before the first request; any file is checked again
    // once read (it may change meanwhile, and a stream is read once), before its
    // manifest is returned.
    const expected = options.sha256;
    if (expected !== undefined && !(expected instanceof Uint8Array && expected.length === 32)) throw fail('INVALID_ARGUMENT', 'options.sha256 is 32 bytes');
    if (expected && options.resume && typeof source.getReader !== 'function' && !same(await digest(source, signal), expected)) throw mismatch();
    const { maxFileBytes } = await persist(() => this.fileLimits(), signal);
    if (!(size >= 0 && size <= maxFileBytes)) throw fail('FILE_TOO_LARGE', `the relay takes files up to ${maxFileBytes} bytes`);
    // With `fileKey` the same file seals into the same chunks (PROTOCOL.md 26.6): with
    // `resume`, each is first looked for on the relay (HEAD) and uploaded only if absent.
    let enc = new FileEncryptor(size, options.fileKey);
    let done = 0;
    const progress = (waiting) => onProgress?.({ done, total: size, waiting });
    // A failed chunk stops the others under way.
    const stop = new AbortController();
    const halt = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    // One chunk (`bytes`: the file bytes it carries): PUT until the relay has it. After
    // a failed attempt (and when resuming) HEAD first: a PUT whose answer was lost may
    // have landed, and a resumed upload skips what is there.
    const upload = async (chunk, bytes) => {
      let retry = !!options.resume;
      let renewed = false;
      await persist(async () => {
        const token = await uploadToken(this, halt);
        const path = `/v2/chunks/${chunk.address}`;
        if (retry && (await request(this, path, { method: 'HEAD' }, halt)).ok) return;
        retry = true;
        const r = await request(this, path, { method: 'PUT', body: chunk.bytes, headers: { authorization: `Upload ${token}`, 'content-type': 'application/octet-stream' } }, halt);
        if ((r.status === 401 || r.status === 403) && !renewed) {
          // The token expired or its quota is spent: one new token, then as refused.
          renewed = true;
          tokens.delete(this);
          throw fail('NETWORK', 'upload token refused: asking for a new one');
        }
        if (!r.ok) throw await relayError(r);
      }, halt, () => progress(true));
      done += bytes;
      progress(false);
    };
    // Uploads under way (at most UPLOADS_IN_FLIGHT): the next chunk is sealed meanwhile.
    const inFlight = new Set();
    // The first chunk that failed, not the CANCELLED it caused in the others.
    let failure = null;
    const queue = async (chunk, bytes) => {
      while (inFlight.size >= UPLOADS_IN_FLIGHT) await Promise.race(inFlight);
      if (failure) throw failure;
      const p = upload(chunk, bytes).finally(() => inFlight.delete(p));
      p.catch((e) => {
        failure ??= e;
        stop.abort();
      });
      inFlight.add(p);
    };
    try {
      let sealed = 0;
      let written = 0;
      for await (const piece of pieces(source, enc.chunkSize)) {
        for (let at = 0; at < piece.length;) {
          const taken = enc.write(piece.subarray(at, at + enc.chunkSize));
          at += taken;
          written += taken;
          const chunk = split(enc.nextChunk());
          if (chunk) await queue(chunk, written - sealed);
          if (chunk) sealed = written;
        }
      }
      for (let chunk; (chunk = split(enc.nextChunk()));) {
        await queue(chunk, written - sealed);
        sealed = written;
      }
      await Promise.all(inFlight);
      const e = enc;
      enc = null; // finish consumes it
      const { thumbnail, durationMs } = options;
      const manifest = e.finish(options.name ?? source.name ?? 'file', options.mediaType || source.type || 'application/octet-stream',
        thumbnail?.mediaType, thumbnail?.bytes, durationMs);
      // A file that changed while it was read (or a stream that was another file).
      if (expected && fileInfo(manifest).sha256 !== hex(expected)) throw mismatch();
      return manifest;
    } catch (e) {
      stop.abort();
      await Promise.allSettled(inFlight);
      throw failure ?? e;
    } finally {
      enc?.free();
    }
  };

  Client.prototype.sendFile = async function sendFile(to, source, options = {}) {
    const recipients = Array.isArray(to) ? to : [to];
    if (!recipients.length) throw fail('INVALID_ARGUMENT', 'no recipient');
    // A reply or a disappearing file is a post (PROTOCOL.md 28.2) around the manifest.
    const { replyTo, expiresIn, idempotencyKey } = options;
    const post = replyTo === undefined && expiresIn === undefined ? undefined : { replyTo, expiresIn };
    // One key per recipient (a retry may go to fewer of them).
    const keyFor = (r) => (idempotencyKey === undefined ? {} : { idempotencyKey: recipients.length === 1 ? idempotencyKey : `${idempotencyKey} ${r}` });
    const manifest = await this.uploadFile(source, options);
    const sent = [];
    let error = null;
    for (const r of recipients) {
      try {
        sent.push({ to: r, ...(await this.send(r, manifest, FILE_CONTENT_TYPE, { ...post, ...keyFor(r) })) });
      } catch (e) {
        error ??= e;
        sent.push({ to: r, error: e.code ?? 'CRYPTO' });
      }
    }
    // The upload is done: the app may re-send `manifest` to those that failed.
    if (error) throw Object.assign(error, { sent, manifest });
    return { manifest, sent };
  };

  Client.prototype.sendFileToGroup = async function sendFileToGroup(group, source, options = {}) {
    if (typeof this.sendToGroup !== 'function') throw fail('INVALID_ARGUMENT', 'this build of the package has no groups');
    // Not a member (any more): refused before anything is uploaded.
    if (!this.groups().some((g) => g.id === group)) throw fail('NOT_GROUP_MEMBER', 'this device is not in that group');
    const manifest = await this.uploadFile(source, options);
    try {
      const keyed = options.idempotencyKey === undefined ? undefined : { idempotencyKey: options.idempotencyKey };
      return { manifest, messageId: await this.sendToGroup(group, manifest, FILE_CONTENT_TYPE, keyed) };
    } catch (e) {
      // The upload is done: the app may send `manifest` to the group again.
      throw Object.assign(e, { manifest });
    }
  };

  /** See `fileInfo` (here for `RemoteClient`, whose page loads no wasm). */
  Client.prototype.fileInfo = (manifest) => fileInfo(manifest);

  Client.prototype.openAttachment = async function openAttachment(message, options = {}) {
    const { signal, onProgress } = options;
    // A file post (a reply, a disappearing file: content type 3) carries it as `manifest`.
    const manifest = message instanceof Uint8Array ? message
      : message?.manifest ?? ((message?.contentType ?? FILE_CONTENT_TYPE) === FILE_CONTENT_TYPE ? message?.content : undefined);
    if (!(manifest instanceof Uint8Array)) throw fail('INVALID_ARGUMENT', 'not a file message (content type 2, or 3 with kind "file")');
    let dec = new FileDecryptor(manifest);
    const info = fileInfo(manifest);
    const parts = [];
    let done = 0;
    // A failure (or the end) stops the fetches still under way.
    const stop = new AbortController();
    const halt = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    // One chunk as a Blob: Chromium keeps the body in blob storage rather than the
    // page's heap (read straight into an ArrayBuffer, 100 MB peaked at +144 MiB), so the
    // chunks fetched ahead cost no heap until their turn.
    const fetchChunk = (address) => persist(() => request(this, `/v2/chunks/${address}`, {}, halt, async (r) => {
      if (!r.ok) throw await relayError(r);
      return r.blob();
    }), halt, () => onProgress?.({ done, total: info.size, waiting: true }));
    // Fetches under way, in file order from the decryptor's next chunk (at most
    // DOWNLOADS_IN_FLIGHT); each is awaited in its turn, so a failure is reported for
    // the first chunk that has one, as a one-at-a-time download would.
    const ahead = [];
    const fill = () => {
      for (let a; ahead.length < DOWNLOADS_IN_FLIGHT && (a = dec.nextAddress(ahead.length));) {
        const p = fetchChunk(a);
        p.catch(() => {}); // seen in its turn, or dropped with the download
        ahead.push(p);
      }
    };
    try {
      for (fill(); ahead.length; fill()) {
        let blob = await ahead.shift();
        // A chunk that is not the one named (the network or the relay): fetched once more.
        for (let tries = 0; ; tries++) {
          const bytes = await blob.arrayBuffer();
          try {
            const plain = dec.openChunk(new Uint8Array(bytes));
            done += plain.length;
            parts.push(new Blob([plain]));
            release(plain.buffer);
            break;
          } catch (e) {
            if (e.code !== 'INTEGRITY_CHUNK_ADDRESS' || tries > 0) throw e;
          } finally {
            release(bytes);
          }
          blob = await fetchChunk(dec.nextAddress());
        }
        onProgress?.({ done, total: info.size });
      }
      const d = dec;
      dec = null; // finish consumes it
      d.finish();
    } finally {
      stop.abort();
      dec?.free();
    }
    // Only now, every check passed: the file exists for the caller.
    return new Blob(parts, { type: info.mediaType });
  };
}
