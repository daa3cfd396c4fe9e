// A group member the test drives by hand, to forge group changes as a member without the
// right to make them would: an account of its own (registered with the relay like any),
// one device, and nothing of the PWA or of the package's client level. It uses the
// package's crypto level only (Identity, DeviceKeys, DeviceList, SessionStore: public
// API, nothing test-only in the package) and WebCrypto, and builds and signs group
// operations byte for byte as docs/PROTOCOL.md 27.3 says, so what the members' PWAs get
// is what a modified client would send them: well-formed, signed by a real identity key,
// in real pairwise sessions through the relay.

// The byte helpers of the WebCrypto-only checks, which build the same encodings.
import { cat, enc, hex, subtle, u64, unhex } from '../../tests/webcrypto/common.mjs';

const u16 = (n) => Uint8Array.of(n >> 8, n & 0xff);
const u32 = (n) => Uint8Array.of(n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
const b64url = (b) => Buffer.from(b).toString('base64url');
const sha256 = async (b) => new Uint8Array(await subtle.digest('SHA-256', b));

/** A change's kind and fields (27.3): `{kind: 'remove', users}`, `{kind: 'promote', user}`, `{kind: 'leave'}` (user ids in hex). */
function change(c) {
  switch (c.kind) {
    case 'remove':
      return cat(Uint8Array.of(3), u16(c.users.length), ...[...c.users].sort().map(unhex));
    case 'leave':
      return Uint8Array.of(4);
    case 'promote':
      return cat(Uint8Array.of(6), unhex(c.user));
    default:
      throw new Error(`no such change: ${c.kind}`);
  }
}

/**
 * Registers `username` on the relay at `base` (an identity key and one device, RSA-2048
 * made by WebCrypto) and returns the member: `joined` reads its mailbox until a group's
 * operations reached it (they tell it the group's epoch and head), `propose` signs an
 * operation and seals it to every device of the accounts named, `identityOf` reads an
 * account's identity key from the directory.
 */
export async function forger(sp, base, username) {
  const rsa = (name, usages) => subtle.generateKey({ name, modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1), hash: 'SHA-256' }, true, usages);
  const [signing, encryption] = await Promise.all([rsa('RSA-PSS', ['sign', 'verify']), rsa('RSA-OAEP', ['encrypt', 'decrypt'])]);
  // The same key in the package (relay requests, sessions) and in WebCrypto (operations).
  const identity = sp.Identity.fromPkcs8(username, new Uint8Array(await subtle.exportKey('pkcs8', signing.privateKey)));
  const device = hex(globalThis.crypto.getRandomValues(new Uint8Array(16)));
  const keys = sp.DeviceKeys.fromPkcs8(identity, device, new Uint8Array(await subtle.exportKey('pkcs8', encryption.privateKey)));
  const store = new sp.SessionStore();
  const me = identity.userId;
  const mailbox = `/v2/mailboxes/${me}/${device}`;

  /** A request signed by the identity key (docs/API.md "Owner authentication"). */
  async function signed(method, path, body = new Uint8Array(0), headers = {}) {
    const ts = Math.floor(Date.now() / 1000);
    const nonce = b64url(globalThis.crypto.getRandomValues(new Uint8Array(18)));
    const sig = identity.signRequest(method, path, body, ts, nonce);
    const res = await fetch(`${base}${path}`, { method, body: method === 'GET' ? undefined : body, headers: { ...headers, authorization: `Sealpost-Sig ts=${ts},nonce=${nonce},sig=${b64url(sig)}` } });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res;
  }

  const list = sp.DeviceList.create(identity, [{ id: device, name: 'forger', addedAt: Math.floor(Date.now() / 1000) }]);
  const put = await fetch(`${base}/v2/users/${me}/devices`, { method: 'PUT', body: list.toBytes() });
  if (put.status !== 201) throw new Error(`register ${username}: ${put.status}`);
  await signed('PUT', `/v2/users/${me}/devices/${device}/bundle`, keys.bundle(identity).toBytes());

  /** Per group (32 hex): the epoch and head of the state its last operation made (27.2). */
  const groups = new Map();

  /** Takes in what waits in the mailbox: pairwise envelopes opened, group operations followed. */
  async function sync() {
    const { blobs } = await (await signed('GET', `${mailbox}/blobs`)).json();
    for (const b of blobs) {
      const bytes = Uint8Array.from(Buffer.from(b.data, 'base64url'));
      if (bytes[0] !== 0x02) continue; // a group message: this member reads none
      let opened;
      try {
        opened = store.open(keys, bytes);
        if (opened.kind === 'pending') opened = store.accept(opened, true);
      } catch {
        continue;
      }
      const p = opened.payload;
      if (p[0] !== 6) continue; // 17.1 GroupOp: u8(has_state) [var32(state)] var32(op)
      const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
      let at = 2;
      if (p[1] === 1) at += 4 + view.getUint32(at);
      const op = p.subarray(at + 4, at + 4 + view.getUint32(at));
      const group = hex(op.subarray(2, 18));
      const epoch = new DataView(op.buffer, op.byteOffset).getBigUint64(18) + 1n;
      if (epoch > (groups.get(group)?.epoch ?? 0n)) groups.set(group, { epoch, head: await sha256(op) });
    }
    if (blobs.length) await signed('POST', `${mailbox}/ack`, enc.encode(JSON.stringify({ ids: blobs.map((b) => b.id) })), { 'content-type': 'application/json' });
  }

  /** The account's identity key as the directory serves it (SPKI DER). */
  async function identityOf(user) {
    const res = await fetch(`${base}/v2/users/${sp.userIdFromUsername(user)}/devices`);
    return sp.DeviceList.fromBytes(new Uint8Array(await res.arrayBuffer())).identityKey;
  }

  /** Seals `payload` to every device of each account in `to` and deposits it. */
  async function send(to, payload) {
    for (const user of to) {
      const dir = await (await fetch(`${base}/v2/users/${sp.userIdFromUsername(user)}/bundles`)).json();
      const devices = sp.DeviceList.fromBytes(Buffer.from(dir.list, 'base64url'));
      for (const d of dir.bundles) {
        const bundle = sp.DeviceBundle.fromBytes(Buffer.from(d.bundle, 'base64url'));
        devices.checkBundle(bundle);
        const e = store.seal(identity, keys, bundle, payload);
        const res = await fetch(`${base}/v2/mailboxes/${e.recipient}/${e.recipientDevice}`, { method: 'POST', body: e.envelope });
        if (res.status !== 201) throw new Error(`deposit to ${user}: ${res.status}`);
      }
    }
  }

  return {
    userId: me,
    /** Reads the mailbox until an operation of `group` came in. */
    async joined(group, timeout = 60_000) {
      for (const end = Date.now() + timeout; !groups.has(group); await new Promise((r) => setTimeout(r, 200))) {
        if (Date.now() > end) throw new Error(`${username} got no operation of the group`);
        await sync();
      }
    },
    /**
     * Signs change `c` (see `change`) as an operation on the group's current state (27.3:
     * its epoch and head as `prior`) and sends it to every device of `to` (usernames) in
     * a `GroupOp` payload (17.1). `actor` (a username) and its identity key `spki`
     * default to this member's; naming another actor still signs with this member's key.
     */
    async propose(group, c, to, { actor = username, spki = identity.identityKey } = {}) {
      await sync();
      const { epoch, head } = groups.get(group);
      const body = cat(Uint8Array.of(0x4f, 0x02), unhex(group), u64(epoch), head, unhex(sp.userIdFromUsername(actor)), change(c), u16(spki.length), spki);
      const sig = new Uint8Array(await subtle.sign({ name: 'RSA-PSS', saltLength: 32 }, signing.privateKey, cat(enc.encode('sealpost/v2/group-op\0'), body)));
      const op = cat(body, u16(sig.length), sig);
      await send(to, cat(Uint8Array.of(6, 0), u32(op.length), op));
    },
    identityOf,
  };
}
