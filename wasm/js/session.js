// `client.exportSession(wrapKey)` and `Client.resume(...)` (see src/client/session.rs):
// the account's password-derived keys sealed with AES-GCM under a non-extractable
// WebCrypto key, bound to the account (its user id is the associated data). WebCrypto
// here rather than in the wasm module: the same work, none of the module's size budget.

const AAD = new TextEncoder().encode('sealpost/wasm/session/v1\0');
const IV = 12;

const sealpostError = (code, message) => Object.assign(new Error(message), { name: 'SealpostError', code });

function checkKey(key) {
  if (key?.algorithm?.name !== 'AES-GCM') throw sealpostError('INVALID_ARGUMENT', 'wrapKey must be an AES-GCM CryptoKey');
  if (key.extractable !== false) throw sealpostError('INVALID_ARGUMENT', 'wrapKey must not be extractable (generateKey(..., false, ...))');
}

function aad(userIdHex) {
  const out = new Uint8Array(AAD.length + 32);
  out.set(AAD);
  for (let i = 0; i < 32; i++) out[AAD.length + i] = parseInt(userIdHex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Adds `exportSession` and `resume` to the glue's `Client`. */
export function installSession(Client, userIdFromUsername) {
  /** Seals this account's password-derived keys under `wrapKey` for `Client.resume`. */
  Client.prototype.exportSession = async function exportSession(wrapKey) {
    checkKey(wrapKey);
    const keys = this.sessionKeys();
    try {
      const iv = crypto.getRandomValues(new Uint8Array(IV));
      const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad(this.userId) }, wrapKey, keys));
      const out = new Uint8Array(IV + ct.length);
      out.set(iv);
      out.set(ct, IV);
      return out;
    } finally {
      keys.fill(0);
    }
  };

  /**
   * Opens the stored account with what `exportSession` returned and the same wrapping
   * key, without the password: `login` with the keys (one path for opening, the account
   * lock and hand-over).
   */
  Client.resume = async function resume(options, username, wrapKey, sealed) {
    checkKey(wrapKey);
    const bytes = sealed instanceof Uint8Array ? sealed : new Uint8Array(sealed ?? []);
    let keys;
    try {
      keys = new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes.subarray(0, IV), additionalData: aad(userIdFromUsername(username)) }, wrapKey, bytes.subarray(IV)));
    } catch {
      throw sealpostError('DECRYPT_FAILED', 'the session could not be opened with this key');
    }
    try {
      return await Client.login({ ...options, sessionKeys: keys }, username, '');
    } finally {
      keys.fill(0);
    }
  };
}
