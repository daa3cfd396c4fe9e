// What each error code means to a user, in plain words. Every code the package can
// raise (`SealpostErrorCode`, from wasm/src/error.rs) has an entry, and so has every way
// a call can end (`CallEndCode`, wasm/src/client/call.rs) or fail on the page
// (`CallErrorCode`, sealpost-wasm/calls): the type checker refuses a missing one, and
// www/tests/errors.mjs checks the list against the package's sources. Screens that know
// more (which name was not found) say it themselves.

import type { CallEndCode, SealpostErrorCode } from 'sealpost-wasm';
import { AppError, errorCode } from './backend/types';
import type { CallErrorCode } from 'sealpost-wasm/calls';
import type { RoomVoiceErrorCode } from 'sealpost-wasm/roomvoice';
import type { ExportErrorCode } from './exportfile';

/** Codes the app itself raises (backend/, model.ts, lazy.ts, exportfile.ts) and those of
 * the package's page-side helpers (calls, room voice). */
type AppCode = 'INTEGRITY' | 'RELAY_BUSY' | 'SELF' | 'APP_FILES' | 'PASSKEY' | ExportErrorCode | CallErrorCode | RoomVoiceErrorCode;

const TRY_AGAIN = 'Try again; if it keeps happening, reload the page.';

export const FRIENDLY: Record<SealpostErrorCode | CallEndCode | AppCode, string> = {
  INVALID_USERNAME: 'Usernames are 3 to 32 characters: letters, digits, dot, dash and underscore.',
  MALFORMED: `Something arrived damaged and was not used. ${TRY_AGAIN}`,
  INVALID_KEY: 'A key did not have the expected form, so it was not used. Ask your contact to log in again.',
  BAD_SIGNATURE: 'A signature did not check out: what came was not used, in case someone tampered with it.',
  DECRYPT_FAILED: 'Something could not be decrypted. Your data here may be damaged; your other devices still have their copy.',
  REPLAY: 'This was already received once; the copy was ignored.',
  EXPIRED: 'A key has expired. Ask your contact to open Sealpost so their keys are renewed.',
  STALE: 'The relay already has newer information. Reload the page and try again.',
  TOO_LARGE: 'That is too large to send or store.',
  WRONG_PASSWORD: 'Wrong username or password.',
  WEAK_PARAMETERS: 'Use a password of at least 8 characters.',
  CRYPTO: `The browser's cryptography failed. ${TRY_AGAIN}`,
  INVALID_ARGUMENT: `The app asked for something it should not have. ${TRY_AGAIN}`,
  STORAGE: 'This browser could not read or write its storage. Check that the site may store data (not in a private window with storage blocked) and that the disk is not full.',
  NETWORK: 'The relay cannot be reached. Check your connection and try again.',
  RELAY: 'The relay could not do that just now. Try again in a minute.',
  NOT_FOUND: 'Not found: check the name and try again.',
  ALREADY_REGISTERED: 'That username is taken. Log in, or pick another name.',
  UNAUTHORIZED: 'The relay no longer accepts this browser’s credentials. Log in again with your password.',
  IDENTITY_CHANGED: 'Their key changed: compare safety numbers before you continue.',
  CLOSED: 'You were logged out in this tab. Reload the page to unlock again.',
  LOCKED: 'Sealpost is open in another tab or window. Use it there, or choose “Use here”.',
  RATE_LIMITED: 'Too many attempts in a short time. Wait a few minutes and try again.',
  DEVICE_LIMIT: 'This account already has 8 devices. On one of them, open Account → Devices and remove one you no longer use, then try again.',
  LINK_EXPIRED: 'The link code expired before the other device confirmed it. Start again.',
  LINK_REFUSED: 'The link was cancelled on the other device.',
  DEVICE_REVOKED: 'This device was removed from the account. Log in again to add it back.',
  DIRECT_FINGERPRINT_MISMATCH: 'A direct connection was refused because it did not match your contact’s keys. Messages still go through the relay, encrypted as always.',
  DIRECT_NOT_ALLOWED: 'Direct connections are only for your contacts; messages go through the relay.',
  DIRECT_NO_DEVICES: 'None of their devices is known yet; messages go through the relay.',
  NOT_GROUP_MEMBER: 'You are not in that group, or they are not your contact yet.',
  NOT_GROUP_ADMIN: 'Only the group’s admins can do that.',
  INVALID_GROUP_OPERATION: 'The group cannot be changed that way.',
  INTEGRITY: 'The app files are corrupted or were tampered with. Reload the page.',
  RELAY_BUSY: 'Too many wrong passwords: wait a few minutes and try again.',
  SELF: 'That is your own username.',
  APP_FILES: 'Part of the app could not be loaded (a new version may be out). Reload the page.',
  PASSKEY: 'The passkey did not unlock Sealpost. Use your password.',
  EXPORT_NOT_SEALPOST: 'That is not a Sealpost export file. Nothing was changed.',
  EXPORT_DAMAGED: 'That export file is damaged or cut short, so it was not used. Nothing was changed; try another copy of the file.',
  EXPORT_WRONG_PASSWORD: 'Wrong password for this export file (or its first bytes were changed). Nothing was changed.',
  EXPORT_TOO_LARGE: 'That file is larger than any Sealpost export. Nothing was changed.',
  FILE_TOO_LARGE: 'That file is larger than the relay takes.',
  FILE_INCOMPLETE: 'The file could not be read to its end, so it was not sent. Attach it again.',
  FILE_INVALID_INFO: 'That file’s name cannot be sent (too long, or with characters that could disguise it). Rename it and attach it again.',
  FILE_EXPIRED: 'This file expired on the relay: ask for it again.',
  CANCELLED: 'Cancelled.',
  FILE_MISMATCH: 'That is not the file this message was sending (its content differs): nothing was sent. Retry and choose the same file.',
  INTEGRITY_CHUNK_ADDRESS: 'This file was altered on its way and was not opened.',
  INTEGRITY_CHUNK: 'This file was altered on its way and was not opened.',
  INTEGRITY_EXTENDED: 'This file was altered on its way and was not opened.',
  INTEGRITY_TRUNCATED: 'This file was altered on its way and was not opened.',
  INTEGRITY_HASH: 'This file was altered on its way and was not opened.',
  WRONG_CODE: 'That room code is not right. Check it with whoever gave it to you.',
  NOT_IN_ROOM: 'You are no longer in this room.',
  NO_SUCH_MEMBER: 'That person has left the room.',
  ROOM_NOT_FOUND: 'No room has this code any more: it ends when its host leaves.',
  ROOM_LOCKED: 'Too many wrong codes for this room came from your network, so it no longer lets you in. Ask the host for a new room.',
  ROOM_BUSY: 'This room had many wrong codes tried lately, so joining is slowed down. Try again in a minute.',
  ROOM_FULL: 'This room is full (8 people). Try again when someone leaves.',
  ROOM_CLOSED: 'The room ended: its host left.',
  ROOM_NO_MICROPHONE: 'Voice needs your microphone, and the browser did not give it. Allow the microphone for this site (or plug one in), then turn voice on again.',
  CALL_NO_MICROPHONE: 'Calls need your microphone, and the browser did not give it. Allow the microphone for this site (or plug one in), then try again.',
  JOIN_TIMEOUT: 'The room’s host did not let you in in time (their device may be asleep or offline). Ask them to open Sealpost, then try again.',
  CALL_HUNG_UP: 'The call ended.',
  CALL_DECLINED: 'The call was declined.',
  CALL_BUSY: 'They are on another call. Try again later.',
  CALL_NO_ANSWER: 'No answer.',
  CALL_MISSED: 'Missed call.',
  CALL_ELSEWHERE: 'The call was taken on another of your devices.',
  CALL_MERGED: 'You called each other at the same moment: the two calls became one.',
  CALL_FINGERPRINT_MISMATCH: 'The connection could not be verified: the call was stopped. It did not match your contact’s keys, as if someone tried to listen in.',
  CALL_FAILED: 'The call could not connect. Check your connection and try again.',
  CALL_NOT_ALLOWED: 'You can call only your contacts.',
  CALL_NO_DEVICES: 'None of their devices can be reached yet. Try again in a moment.',
  CALL_IN_PROGRESS: 'You are already in a call. Hang up first.',
};

/**
 * The words to show for `e`: an app error written for the user as it is, otherwise the
 * code's entry above; never a raw message from the relay or the package.
 */
export function friendly(e: unknown): string {
  if (e instanceof AppError && e.forUser) return e.message;
  const code = errorCode(e);
  if (code && Object.hasOwn(FRIENDLY, code)) return FRIENDLY[code as keyof typeof FRIENDLY];
  return `Something went wrong${code ? ` (${code})` : ''}. ${TRY_AGAIN}`;
}
