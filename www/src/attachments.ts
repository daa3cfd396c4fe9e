// File messages in the model (issue 11): sending a file (one upload through the package's
// sendFile in the worker, then its manifest as the message: to a contact, as a reply
// and with the conversation's disappearing time when those apply, or to a group with
// sendFileToGroup), its progress, retrying a failed upload (with the file this tab still
// has, or the one the user picks again after a reload: under the key kept in the sealed
// record, so only the chunks the relay lacks go up), and a received manifest as a
// message. The manifest (base64 in the sealed record) is the key to the file: it never
// leaves the sealed history. Showing files is screens/files.ts.

import type { Account, FileMeta, FileProgress, Incoming, SendFileOptions } from './backend/types';
import { friendly } from './errors';
import type { Contact, FileRef, Msg } from './records';
import { b64, randomId, unb64 } from './util';
import type { Body } from './wire';

/** What the model lends this file. */
export interface AttachmentsHost {
  account: Account;
  contacts: Map<string, Contact>;
  /** Adds a new message to its conversation and shows it. */
  add(m: Msg, c: Contact): void;
  changed(m: Msg): void;
  saveMsg(m: Msg): Promise<void>;
  saveContact(c: Contact): Promise<void>;
  /** The outbox learns the package's id of a sent message (delivery reports name it). */
  sentAs(m: Msg, r: { messageId: string; delivered?: number; total?: number }): void;
  /** A message about to be sent takes the conversation's disappearing time (convo.ts). */
  stampExpiry(m: Msg, c: Contact): Promise<void>;
}

/** Where a file message shows and is stored: its conversation's own calls. */
export interface FileSink {
  changed(m: Msg): void;
  saveMsg(m: Msg): Promise<void>;
  /** The package's call that uploads the file and sends its manifest. */
  send(file: Blob, o: SendFileOptions): Promise<{ manifest: Uint8Array; messageId: string; delivered?: number; total?: number }>;
  /** Told the message's id once it is sent. */
  sent(m: Msg, r: { messageId: string; delivered?: number; total?: number }): void;
}

/** What the user sees on a file message whose bytes went with a closed or reloaded tab. */
export const INTERRUPTED = 'The upload was interrupted when the page closed: Retry, and choose the file again to go on from where it stopped.';

export class Attachments {
  /** Files being sent from this tab, by message id (a failed upload is retried from here). */
  private blobs = new Map<string, Blob>();
  /** Transfers under way, by message id (uploads here, downloads in screens/files.ts). */
  progress = new Map<string, FileProgress>();
  /** How each outgoing file message is sent again on Retry, by message id. */
  private sinks = new Map<string, FileSink>();

  constructor(private host: AttachmentsHost) {}

  /**
   * A new outgoing file message (not shown yet); this tab keeps `file` until it is sent.
   * Its SHA-256 is taken first, so a file picked again after a reload can be checked.
   */
  async newMsg(peer: string, file: Blob, meta: FileMeta): Promise<Msg> {
    const key = b64(crypto.getRandomValues(new Uint8Array(32)));
    const sha256 = b64(await this.host.account.fileDigest(file));
    const ref: FileRef = { name: meta.name, type: meta.mediaType, size: file.size, durationMs: meta.durationMs, key, sha256 };
    if (meta.thumbnail) Object.assign(ref, { thumb: b64(meta.thumbnail.bytes), thumbType: meta.thumbnail.mediaType });
    const m: Msg = { id: randomId(), peer, dir: 'out', text: meta.name, at: Date.now(), state: 'sending', file: ref };
    this.blobs.set(m.id, file);
    return m;
  }

  /**
   * Sends a file to a contact: shown at once with its upload's progress; one upload, then
   * the manifest (a reply to `replyTo` when given; disappearing when the chat's timer is on).
   */
  async send(c: Contact, file: Blob, meta: FileMeta, replyTo?: string): Promise<Msg> {
    const m = await this.newMsg(c.userId, file, meta);
    if (replyTo) m.replyTo = replyTo;
    await this.host.stampExpiry(m, c);
    this.host.add(m, c);
    await Promise.all([this.host.saveMsg(m), this.host.saveContact(c)]);
    await this.upload(m, this.contactSink(m));
    return m;
  }

  /** How a file message to a contact is sent (again). */
  private contactSink(m: Msg): FileSink {
    const host = this.host;
    return {
      changed: (x) => host.changed(x),
      saveMsg: (x) => host.saveMsg(x),
      send: (file, o) => {
        const c = host.contacts.get(m.peer);
        if (!c) throw new Error('not a contact');
        return host.account.sendFile(c.username, file, { ...o, replyTo: m.replyTo, expiresIn: m.expiresIn });
      },
      sent: (x, r) => host.sentAs(x, r),
    };
  }

  /**
   * Uploads `m`'s file and sends it through `sink`; a failure is shown on `m` (Retry).
   * `resume`: a retry, which uploads only the chunks the relay does not have yet.
   */
  async upload(m: Msg, sink: FileSink, resume = false) {
    this.sinks.set(m.id, sink);
    const file = this.blobs.get(m.id)!;
    const f = m.file!;
    try {
      const thumbnail = f.thumb ? { mediaType: f.thumbType!, bytes: unb64(f.thumb) } : undefined;
      const r = await sink.send(file, {
        name: f.name,
        mediaType: f.type,
        thumbnail,
        durationMs: f.durationMs,
        fileKey: f.key ? unb64(f.key) : undefined,
        sha256: f.sha256 ? unb64(f.sha256) : undefined,
        // The message's send, retried, goes once (the manifest is the same for the same file and key).
        idempotencyKey: m.id,
        resume,
        onProgress: (p) => {
          this.progress.set(m.id, p);
          sink.changed(m);
        },
      });
      f.manifest = b64(r.manifest);
      delete f.key; // in the manifest now
      delete f.sha256;
      m.state = 'relay';
      delete m.error;
      sink.sent(m, r);
      this.blobs.delete(m.id);
    } catch (e) {
      m.state = 'failed';
      m.error = friendly(e);
      // Not the file this message began with: Retry asks for it again.
      if ((e as { code?: string }).code === 'FILE_MISMATCH') this.blobs.delete(m.id);
    }
    this.progress.delete(m.id);
    // Gone meanwhile (it disappeared, or was deleted here): not stored again.
    const gone = this.sinks.get(m.id) !== sink;
    if (m.state === 'relay') this.sinks.delete(m.id);
    if (gone) return;
    sink.changed(m);
    await sink.saveMsg(m);
  }

  /** A file message caught mid-upload by a reload: its bytes were in the closed tab. */
  interrupted(m: Msg) {
    m.state = 'failed';
    m.error = INTERRUPTED;
  }

  /** Whether this tab still has the bytes of the file message `id` (a retry needs no picking). */
  has(id: string): boolean {
    return this.blobs.has(id);
  }

  /**
   * Uploads a failed file again, from where it stopped: with the bytes this tab kept, or
   * with `file`, the one the user picked again after a reload: its size must be the
   * message's, and its content (SHA-256) is checked by the package before anything is
   * sent (FILE_MISMATCH: not sent, and Retry asks for the file again). `sink`: where it
   * goes when this tab did not send it (after a reload); a file message to a contact by default.
   */
  async retry(m: Msg, file?: Blob, sink?: FileSink) {
    if (m.state !== 'failed' || m.dir !== 'out' || m.otherDevice || !m.file) return;
    if (file) {
      if (file.size !== m.file.size) throw new Error(`That file has ${file.size} bytes; ${m.file.name} had ${m.file.size}.`);
      // Begun before its digest was kept (an older version): nothing to check another file against.
      if (!m.file.sha256) throw new Error(`${m.file.name} cannot be checked any more: send it again as a new message.`);
      this.blobs.set(m.id, file);
    }
    if (!this.blobs.has(m.id)) return;
    m.state = 'sending';
    delete m.error;
    const to = this.sinks.get(m.id) ?? sink ?? this.contactSink(m);
    to.changed(m);
    await this.upload(m, to, true);
  }

  /** A message left this device (deleted, or it disappeared): forget its bytes. */
  forget(id: string) {
    this.blobs.delete(id);
    this.sinks.delete(id);
    this.progress.delete(id);
  }

  /** Fetches and checks a file message's file (throws INTEGRITY_*, FILE_EXPIRED, ...). */
  open(m: Msg, onProgress: (p: FileProgress) => void, signal?: AbortSignal): Promise<Blob> {
    return this.host.account.openFile(unb64(m.file!.manifest!), onProgress, signal);
  }

  /** A received manifest (content type 2, or inside a post) as the body of a message; null when malformed (dropped). */
  async body(inc: Incoming): Promise<Body | null> {
    const manifest = inc.manifest ?? inc.content;
    const info = await this.host.account.fileInfo(manifest).catch(() => null);
    if (!info) return null;
    const file: FileRef = { name: info.name, type: info.mediaType, size: info.size, manifest: b64(manifest), durationMs: info.durationMs };
    if (info.thumbnail) Object.assign(file, { thumb: b64(info.thumbnail.bytes), thumbType: info.thumbnail.mediaType });
    return { text: info.name, file };
  }
}
