// The crypto worker (./worker.ts), started once from bytes checked against the build's
// hash, and the page's plain calls to it; its errors become the app's typed AppError.

import { RemoteClient } from 'sealpost-wasm/remote';
import type { RoomEvent } from 'sealpost-wasm';
import { AppError } from './types';
import type { Ids } from './worker';
import { b64 } from '../util';
import workerUrl from './worker.ts?worker&url';

// Filled in by scripts/postbuild.mjs: the SHA-384 of the built worker script.
const WORKER_SHA384 = '__SEALPOST_WORKER_SHA384__';

let worker: Promise<Worker> | null = null;
/**
 * The worker once started (it serves every account): calls on it post at once, so two
 * calls made one after the other reach it in that order (see ClientAccount.send).
 */
let started: Worker | null = null;
export const startedWorker = (): Worker => started!;

/** Starts the crypto worker from bytes checked against the build-time hash (SRI for workers). */
async function startWorker(): Promise<Worker> {
  let w: Worker;
  if (import.meta.env.DEV) {
    w = new Worker(workerUrl, { type: 'module', name: 'sealpost-crypto' });
  } else {
    const bytes = await (await fetch(workerUrl, { cache: 'no-cache' })).arrayBuffer();
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-384', bytes));
    if (b64(digest) !== WORKER_SHA384) throw new AppError('INTEGRITY', 'The app files are corrupted or were tampered with. Reload the page.');
    const url = URL.createObjectURL(new Blob([bytes], { type: 'text/javascript' }));
    w = new Worker(url, { type: 'module', name: 'sealpost-crypto' });
  }
  started = w;
  return w;
}

export const getWorker = () => (worker ??= startWorker());

/** RemoteClient errors carry the package's `code`, `status` and (IDENTITY_CHANGED) `details`; keep them. */
export function wrap(e: unknown): AppError {
  const err = e as { code?: string; message?: string; status?: number; details?: unknown; retryAfter?: number };
  const details = err?.code === 'IDENTITY_CHANGED' ? AppError.identityDetails(err.details) : undefined;
  const out = new AppError(err?.code ?? 'CRYPTO', err?.message ?? String(e), err?.status, details);
  if (typeof err?.retryAfter === 'number') out.retryAfter = err.retryAfter;
  return out;
}

/** Starts loading the worker and its wasm module (call early; idempotent). */
export function warmUp(): void {
  ids('warm.up').catch(() => undefined);
}

/** The normalized username and its user id (computed in the worker). */
export async function ids(username: string): Promise<Ids> {
  try {
    return await RemoteClient.call<Ids>(await getWorker(), 'ids', username);
  } catch (e) {
    throw wrap(e);
  }
}

/** One of the crypto worker's room requests (./roomhost.ts), logged in or not. */
export async function roomCall<T>(method: string, ...args: unknown[]): Promise<T> {
  try {
    return await RemoteClient.call<T>(await getWorker(), method, ...args);
  } catch (e) {
    throw wrap(e);
  }
}

/** Hands `f` the worker's room events until the returned function is called. */
export async function onRoomEvent(f: (e: RoomEvent) => void): Promise<() => void> {
  const w = await getWorker();
  const listen = (ev: MessageEvent) => {
    const e = (ev.data as { roomEvent?: RoomEvent } | null)?.roomEvent;
    if (e) f(e);
  };
  w.addEventListener('message', listen);
  return () => w.removeEventListener('message', listen);
}
