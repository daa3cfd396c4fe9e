// Files (PROTOCOL.md 26, docs/API.md "Attachments (chunks)"): `Client.sendFile` and
// `Client.openAttachment`. The wasm module encrypts and checks one chunk at a time
// (FileEncryptor, FileDecryptor); this file moves the chunks. At most one chunk of a
// file is in memory on either side: a Blob is read slice by slice, a stream piece by
// piece, and a download is collected into Blob parts (browser storage, not the heap).

const FILE_CONTENT_TYPE = 2;

const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** `FileEncryptor.nextChunk`'s address (32 bytes) and chunk, split. */
const split = (out) => out && { address: hex(out.subarray(0, 32)), bytes: out.subarray(32) };

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

/**
 * One request to the relay: a network failure is `NETWORK`, a cancel `CANCELLED`; waits
 * 30 s plus one second per 50 KB of body (a 4 MiB chunk on a slow uplink).
 */
async function request(client, path, init, signal) {
  if (signal?.aborted) throw cancelled();
  const len = init.body?.length ?? 0;
  const timeout = AbortSignal.timeout(Math.ceil(30_000 + len / 50));
  try {
    return await fetch(client.relayUrl + path, { ...init, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  } catch (e) {
    if (signal?.aborted) throw cancelled();
    throw fail('NETWORK', String(e?.message ?? e));
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

/** The pieces of a Blob (slices of `size`) or a ReadableStream (as they come). */
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
    yield new Uint8Array(await source.slice(at, at + size).arrayBuffer());
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
export function installFiles({ Client, FileEncryptor, FileDecryptor, fileInfo }) {
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
    const { maxFileBytes } = await persist(() => this.fileLimits(), signal);
    if (!(size >= 0 && size <= maxFileBytes)) throw fail('FILE_TOO_LARGE', `the relay takes files up to ${maxFileBytes} bytes`);
    let enc = new FileEncryptor(size);
    let done = 0;
    const progress = (waiting) => onProgress?.({ done, total: size, waiting });
    // One chunk: PUT until the relay has it. After a failed attempt HEAD first: a PUT
    // whose answer was lost may have landed (and a resumed upload skips what is there).
    const upload = async (chunk, written) => {
      let retry = false;
      let renewed = false;
      await persist(async () => {
        const token = await uploadToken(this, signal);
        const path = `/v2/chunks/${chunk.address}`;
        if (retry && (await request(this, path, { method: 'HEAD' }, signal)).ok) return;
        retry = true;
        const r = await request(this, path, { method: 'PUT', body: chunk.bytes, headers: { authorization: `Upload ${token}`, 'content-type': 'application/octet-stream' } }, signal);
        if ((r.status === 401 || r.status === 403) && !renewed) {
          // The token expired or its quota is spent: one new token, then as refused.
          renewed = true;
          tokens.delete(this);
          throw fail('NETWORK', 'upload token refused: asking for a new one');
        }
        if (!r.ok) throw await relayError(r);
      }, signal, () => progress(true));
      done = written;
      progress(false);
    };
    try {
      let written = 0;
      for await (const piece of pieces(source, enc.chunkSize)) {
        for (let at = 0; at < piece.length;) {
          const taken = enc.write(piece.subarray(at, at + enc.chunkSize));
          at += taken;
          written += taken;
          const chunk = split(enc.nextChunk());
          if (chunk) await upload(chunk, written);
        }
      }
      for (let chunk; (chunk = split(enc.nextChunk()));) await upload(chunk, written);
      const e = enc;
      enc = null; // finish consumes it
      const { thumbnail, durationMs } = options;
      return e.finish(options.name ?? source.name ?? 'file', options.mediaType || source.type || 'application/octet-stream',
        thumbnail?.mediaType, thumbnail?.bytes, durationMs);
    } finally {
      enc?.free();
    }
  };

  Client.prototype.sendFile = async function sendFile(to, source, options = {}) {
    const recipients = Array.isArray(to) ? to : [to];
    if (!recipients.length) throw fail('INVALID_ARGUMENT', 'no recipient');
    const manifest = await this.uploadFile(source, options);
    const sent = [];
    let error = null;
    for (const r of recipients) {
      try {
        sent.push({ to: r, ...(await this.send(r, manifest, FILE_CONTENT_TYPE)) });
      } catch (e) {
        error ??= e;
        sent.push({ to: r, error: e.code ?? 'CRYPTO' });
      }
    }
    // The upload is done: the app may re-send `manifest` to those that failed.
    if (error) throw Object.assign(error, { sent, manifest });
    return { manifest, sent };
  };

  /** See `fileInfo` (here for `RemoteClient`, whose page loads no wasm). */
  Client.prototype.fileInfo = (manifest) => fileInfo(manifest);

  Client.prototype.openAttachment = async function openAttachment(message, options = {}) {
    const { signal, onProgress } = options;
    const manifest = message instanceof Uint8Array ? message : message?.content;
    if (!(manifest instanceof Uint8Array) || (message.contentType ?? FILE_CONTENT_TYPE) !== FILE_CONTENT_TYPE) {
      throw fail('INVALID_ARGUMENT', 'not a file message (content type 2)');
    }
    let dec = new FileDecryptor(manifest);
    const info = fileInfo(manifest);
    const parts = [];
    let done = 0;
    try {
      for (let address; (address = dec.nextAddress());) {
        // A chunk that is not the one named (the network or the relay): fetched once more.
        for (let tries = 0; ; tries++) {
          const bytes = await persist(async () => {
            const r = await request(this, `/v2/chunks/${address}`, {}, signal);
            if (!r.ok) throw await relayError(r);
            return new Uint8Array(await r.arrayBuffer());
          }, signal, () => onProgress?.({ done, total: info.size, waiting: true }));
          try {
            const plain = dec.openChunk(bytes);
            done += plain.length;
            parts.push(new Blob([plain]));
            break;
          } catch (e) {
            if (e.code !== 'INTEGRITY_CHUNK_ADDRESS' || tries > 0) throw e;
          }
        }
        onProgress?.({ done, total: info.size });
      }
      const d = dec;
      dec = null; // finish consumes it
      d.finish();
    } finally {
      dec?.free();
    }
    // Only now, every check passed: the file exists for the caller.
    return new Blob(parts, { type: info.mediaType });
  };
}
