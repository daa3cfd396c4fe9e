// File messages in the model (issue 11): sending a file (one upload through the package's
// sendFile in the worker, then its manifest as the message), its progress, retrying a
// failed upload while the tab still has the file, and a received manifest as a message.
// The manifest (base64 in the sealed record) is the key to the file: it never leaves the
// sealed history. Showing files is screens/files.ts.

import type { Account, FileMeta, FileProgress, Incoming } from './backend/types';
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
}

export class Attachments {
  /** Files being sent from this tab, by message id (a failed upload is retried from here). */
  private blobs = new Map<string, Blob>();
  /** Transfers under way, by message id (uploads here, downloads in screens/files.ts). */
  progress = new Map<string, FileProgress>();

  constructor(private host: AttachmentsHost) {}

  /** Sends a file: shown at once with its upload's progress; one upload, then the manifest. */
  async send(c: Contact, file: Blob, meta: FileMeta): Promise<Msg> {
    const ref: FileRef = { name: meta.name, type: meta.mediaType, size: file.size, durationMs: meta.durationMs };
    if (meta.thumbnail) Object.assign(ref, { thumb: b64(meta.thumbnail.bytes), thumbType: meta.thumbnail.mediaType });
    const m: Msg = { id: randomId(), peer: c.userId, dir: 'out', text: meta.name, at: Date.now(), state: 'sending', file: ref };
    this.blobs.set(m.id, file);
    this.host.add(m, c);
    await Promise.all([this.host.saveMsg(m), this.host.saveContact(c)]);
    await this.upload(m, c, meta);
    return m;
  }

  private async upload(m: Msg, c: Contact, meta: FileMeta) {
    const file = this.blobs.get(m.id)!;
    try {
      const r = await this.host.account.sendFile(c.username, file, {
        ...meta,
        onProgress: (p) => {
          this.progress.set(m.id, p);
          this.host.changed(m);
        },
      });
      m.file!.manifest = b64(r.manifest);
      m.state = 'relay';
      this.host.sentAs(m, r);
      this.blobs.delete(m.id);
    } catch (e) {
      m.state = 'failed';
      m.error = friendly(e);
    }
    this.progress.delete(m.id);
    this.host.changed(m);
    await this.host.saveMsg(m);
  }

  /** A file message caught mid-upload by a reload: its bytes were in the closed tab. */
  interrupted(m: Msg) {
    m.state = 'failed';
    m.error = 'The upload was interrupted: attach the file again.';
  }

  /** Uploads a failed file again while this tab still has it (a network loss resumes by itself). */
  async retry(m: Msg) {
    const c = this.host.contacts.get(m.peer);
    if (!c || !this.blobs.has(m.id) || !m.file) return;
    m.state = 'sending';
    delete m.error;
    this.host.changed(m);
    const f = m.file;
    const thumbnail = f.thumb ? { mediaType: f.thumbType!, bytes: unb64(f.thumb) } : undefined;
    await this.upload(m, c, { name: f.name, mediaType: f.type, size: f.size, thumbnail, durationMs: f.durationMs });
  }

  /** Fetches and checks a file message's file (throws INTEGRITY_*, FILE_EXPIRED, ...). */
  open(m: Msg, onProgress: (p: FileProgress) => void): Promise<Blob> {
    return this.host.account.openFile(unb64(m.file!.manifest!), onProgress);
  }

  /** A received manifest as the body of a message, or null when it is malformed (dropped). */
  async body(inc: Incoming): Promise<Body | null> {
    const info = await this.host.account.fileInfo(inc.content).catch(() => null);
    if (!info) return null;
    const file: FileRef = { name: info.name, type: info.mediaType, size: info.size, manifest: b64(inc.content), durationMs: info.durationMs };
    if (info.thumbnail) Object.assign(file, { thumb: b64(info.thumbnail.bytes), thumbType: info.thumbnail.mediaType });
    return { text: info.name, file };
  }
}
