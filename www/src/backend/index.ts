// The page side of the messaging layer: the package's RemoteClient (sealpost-wasm/remote)
// talking to the Client in the crypto worker (./worker.ts, started by ./workerhost.ts).
// Secrets never reach this thread. Here: registering, logging in, unlocking, resuming and
// linking an account (each gives a ClientAccount, ./account.ts), and forgetting it.

import { RemoteClient, type RemotePendingLink } from 'sealpost-wasm/remote';
import type { Backend, DeviceInfo, Progress } from './types';
import { AppError } from './types';
import { ClientAccount } from './account';
import { forgetMeta, metaKv, type Meta } from './meta';
import { getWorker, ids, wrap } from './workerhost';
import { deleteDb, historyDbName } from '../idb';
import { setNotify } from '../notify';
import { forgetPasskey } from '../passkey';
import { endSession } from '../session';

export { webrtc } from './account';
export { onRoomEvent, roomCall, warmUp } from './workerhost';

/** The longest prefix of `s` that fits `max` bytes of UTF-8 (a device name is at most 64). */
function utf8Prefix(s: string, max: number): string {
  const e = new TextEncoder();
  let out = '';
  for (const ch of s) {
    if (e.encode(out + ch).length > max) break;
    out += ch;
  }
  return out;
}

// ---- backend -----------------------------------------------------------------------

/** The package's lock name for the account (see the package README, "One tab at a time"). */
const lockName = (userId: string) => `sealpost:${userId}`;

const nameOption = (deviceName?: string) => (deviceName ? { deviceName: utf8Prefix(deviceName, 64) } : {});

async function open(username: string, password: string, onProgress: (p: Progress) => void, takeOver = false, deviceName?: string): Promise<RemoteClient> {
  onProgress({ label: 'Checking your password', done: 0, total: 2 });
  try {
    return await RemoteClient.login(await getWorker(), { autoAck: false, connect: false, takeOver, ...nameOption(deviceName) }, username, password);
  } catch (e) {
    const err = wrap(e);
    if (err.code === 'LOCKED') throw new AppError('LOCKED', 'Sealpost is open in another tab.');
    if (err.code === 'RATE_LIMITED') {
      const minutes = Math.max(1, Math.ceil((err.retryAfter ?? 900) / 60));
      throw AppError.forUser('RELAY_BUSY', `Too many wrong passwords: try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`);
    }
    throw err;
  }
}

export const backend: Backend = {
  async storedUsername() {
    return (await (await metaKv()).get<Meta>('current'))?.username ?? null;
  },

  async register(username, password, onProgress, keySize, deviceName) {
    const name = (await ids(username)).username;
    onProgress({ label: 'Checking the name', done: 0, total: 2 });
    let client: RemoteClient;
    try {
      client = await RemoteClient.register(await getWorker(), {
        keySize: keySize as 2048 | 3072 | 4096 | undefined,
        autoAck: false, // acknowledged once the message is in the history
        connect: false,
        ...nameOption(deviceName),
        onProgress: (d, t) => onProgress({ label: d < t ? `Generating your keys (${d + 1} of ${t})` : 'Keys ready; protecting them with your password', done: d, total: t }),
      }, name, password);
    } catch (e) {
      const err = wrap(e);
      if (err.code === 'ALREADY_REGISTERED') throw AppError.forUser('ALREADY_REGISTERED', `“${name}” is taken. Log in, or pick another name.`);
      if (err.code === 'NETWORK') throw new AppError('NETWORK', 'The relay cannot be reached. Check your connection.');
      throw err;
    }
    await (await metaKv()).put('current', { username: client.username, userId: client.userId } satisfies Meta);
    return new ClientAccount(client);
  },

  async login(username, password, onProgress, takeOver, deviceName) {
    const name = (await ids(username)).username;
    const client = await open(name, password, onProgress, takeOver, deviceName).catch((e: AppError) => {
      if (e.code === 'NOT_FOUND') throw AppError.forUser('NOT_FOUND', `No account “${name}” here.`);
      throw e;
    });
    await (await metaKv()).put('current', { username: client.username, userId: client.userId } satisfies Meta);
    return new ClientAccount(client);
  },

  async unlock(password, onProgress, takeOver) {
    const meta = await (await metaKv()).get<Meta>('current');
    if (!meta) throw AppError.forUser('NOT_FOUND', 'No account on this device.');
    return new ClientAccount(await open(meta.username, password, onProgress, takeOver));
  },

  async resume(wrapKey, sealed, takeOver) {
    const meta = await (await metaKv()).get<Meta>('current');
    if (!meta) throw AppError.forUser('NOT_FOUND', 'No account on this device.');
    try {
      return new ClientAccount(await RemoteClient.resume(await getWorker(), { autoAck: false, connect: false, takeOver }, meta.username, wrapKey, sealed));
    } catch (e) {
      throw wrap(e);
    }
  },

  async listedDevices(username) {
    const { userId } = await ids(username);
    const res = await fetch(`/v2/users/${userId}/devices`, { cache: 'no-store' }).catch(() => null);
    if (!res?.ok) throw new AppError('NETWORK', 'The relay cannot be reached.');
    // docs/PROTOCOL.md 9.1: tag 2, user 32, version 8, var16(spki), count 1, then per device
    // id 16, added_at 8, var8(name). Only read here to show names.
    const b = new Uint8Array(await res.arrayBuffer());
    const v = new DataView(b.buffer);
    let o = 42;
    o += 2 + v.getUint16(o);
    const out: DeviceInfo[] = [];
    for (let n = b[o++]; n > 0 && o + 25 <= b.length; n--) {
      const id = Array.from(b.subarray(o, o + 16), (x) => x.toString(16).padStart(2, '0')).join('');
      const addedAt = Number(v.getBigUint64(o + 16)) * 1000;
      const len = b[o + 24];
      out.push({ id, addedAt, name: new TextDecoder().decode(b.subarray(o + 25, o + 25 + len)), current: false });
      o += 25 + len;
    }
    return out;
  },

  async revokeWithPassword(username, password, deviceId) {
    await RemoteClient.revokeDeviceWithPassword(await getWorker(), {}, (await ids(username)).username, password, deviceId).catch((e) => Promise.reject(wrap(e)));
  },

  async startLink(deviceName, password) {
    let link: RemotePendingLink;
    try {
      link = await RemoteClient.startLink(await getWorker(), { autoAck: false, connect: false, password }, utf8Prefix(deviceName, 64));
    } catch (e) {
      throw wrap(e);
    }
    return {
      code: link.code,
      qrPayload: link.qrPayload,
      async wait() {
        let client: RemoteClient;
        try {
          client = await link.wait();
        } catch (e) {
          throw wrap(e);
        }
        await (await metaKv()).put('current', { username: client.username, userId: client.userId } satisfies Meta);
        const history = await client.takeLinkedHistory().catch(() => undefined);
        return { account: new ClientAccount(client), history: history?.length ? history : undefined };
      },
      cancel: () => Promise.resolve(link.cancel()).catch(() => undefined),
    };
  },

  async openElsewhere() {
    const meta = await (await metaKv()).get<Meta>('current');
    if (!meta || !navigator.locks) return false;
    const { held = [] } = await navigator.locks.query();
    return held.some((l) => l.name === lockName(meta.userId));
  },
};

/** Forgets the account on this device without the password (the "use another account" path). */
export async function forgetDevice(): Promise<void> {
  await setNotify(false);
  await endSession();
  await forgetPasskey();
  const meta = await (await metaKv()).get<Meta>('current');
  await forgetMeta();
  if (meta) {
    await deleteDb(historyDbName(meta.userId));
    await RemoteClient.removeAccount(await getWorker(), meta.username).catch((e) => Promise.reject(wrap(e)));
  }
}
