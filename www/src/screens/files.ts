// Files in a chat (issue 11): the composer's attach and voice buttons, drop and paste on
// the chat, and file messages: an image's preview (the sender's thumbnail first, the full
// image on tap), a file's name, size and download button, a voice note played inline, a
// progress bar on every transfer. A file is shown or saved only once the package checked
// all of it; an altered one says so and never shows. Thumbnails and the recorder are in
// fileattach.ts, loaded on first use.

import type { FileLimits, FileProgress } from '../backend/types';
import { errorCode } from '../backend/types';
import { friendly } from '../errors';
import { lazily } from '../lazy';
import { type Contact, type Msg, displayName } from '../records';
import { toast, ui } from '../ui';
import { h, unb64 } from '../util';

const sending = lazily('fileattach', () => import('./fileattach'));

/** Images the app shows inline (never SVG: a picture, not a document). */
const IMAGE = /^image\/(jpeg|png|gif|webp|avif)$/;

/** The relay's limits, once asked (the attach button explains them). */
let limits: FileLimits | null = null;
/** Opened files by message id: an object URL, or why not. */
const opened = new Map<string, { url?: string; error?: string }>();

/** Sizes in binary units (the relay's default limit, 100 MiB, reads "100 MB"). */
function fmtSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const [v, unit] = n < 1 << 20 ? [n / 1024, 'KB'] : [n / (1 << 20), 'MB'];
  return `${v.toFixed(v < 10 ? 1 : 0)} ${unit}`;
}

const limitText = (l: FileLimits) => `Files up to ${fmtSize(l.maxFileBytes)}, kept on the relay for ${Math.round(l.chunkTtlSecs / 86400)} days (encrypted; the relay cannot read them).`;

/** Sends `file` to `c`: refused here when the relay would refuse it. */
async function attach(c: Contact, file: Blob, name = (file as File).name || 'file', durationMs?: number) {
  if (c.keyChanged) return toast(`${displayName(c)}'s key changed: review it before you send anything.`);
  if (limits && file.size > limits.maxFileBytes) {
    return toast(`${name} is ${fmtSize(file.size)}: the relay takes files up to ${fmtSize(limits.maxFileBytes)}.`);
  }
  const mediaType = file.type || 'application/octet-stream';
  const thumb = IMAGE.test(mediaType) ? await sending().then((s) => s.thumbnail(file)).catch(() => undefined) : undefined;
  await ui.model!.files.send(c, file, { name, mediaType, size: file.size, thumbnail: thumb, durationMs });
}

function attachAll(c: Contact, files: Blob[]) {
  for (const f of files) void attach(c, f).catch((e) => toast(`Could not send: ${friendly(e)}`));
}

/** Stops the voice note being recorded (and sends it), if one is. */
let stopRecording: (() => void) | null = null;

/** Starts recording a voice note, or stops and sends it. */
async function voice(c: Contact, button: HTMLButtonElement) {
  if (stopRecording) {
    stopRecording();
    stopRecording = null;
    return;
  }
  try {
    const { record } = await sending();
    stopRecording = await record((note) => {
      button.setAttribute('aria-pressed', 'false');
      void attach(c, note.blob, note.name, note.durationMs).catch((e) => toast(`Could not send: ${friendly(e)}`));
    });
    button.setAttribute('aria-pressed', 'true');
  } catch {
    toast('The microphone is not available.');
  }
}

/** The composer's file controls, and drop and paste on `pane`, for the chat with `c`. */
export function fileControls(c: Contact, pane: HTMLElement): HTMLElement[] {
  const input = h('input', {
    type: 'file',
    multiple: true,
    hidden: true,
    'data-testid': 'file-input',
    onchange: () => {
      attachAll(c, [...(input.files ?? [])]);
      input.value = '';
    },
  });
  const attachButton = h('button.icon', { type: 'button', 'aria-label': 'Attach files', 'data-testid': 'attach', onclick: () => input.click() }, '📎');
  const mic = h('button.icon', { type: 'button', 'aria-label': 'Record a voice note', 'aria-pressed': 'false', 'data-testid': 'voice' }, '🎤');
  mic.onclick = () => void voice(c, mic);
  chatWith = c;
  if (!panes.has(pane)) listen(pane);
  const note = (l: FileLimits) => (attachButton.title = limitText(l));
  if (limits) note(limits);
  else void ui.model!.account.fileLimits().then((l) => note((limits = l))).catch(() => undefined);
  return [input, attachButton, mic];
}

/** The chat the pane shows (drops and pastes go there). */
let chatWith: Contact | null = null;
const panes = new WeakSet<HTMLElement>();

/** Drop and paste files on the chat pane (once per pane; it shows one chat at a time). */
function listen(pane: HTMLElement) {
  panes.add(pane);
  const take = (ev: Event, d: DataTransfer | null) => {
    // Only while that chat is on screen (a group chat or a contact's page shows no composer).
    const open = !!chatWith && ui.chatState?.peer === chatWith.userId && ui.chatState.composer.isConnected;
    const list = open && !chatWith!.keyChanged ? [...(d?.files ?? [])] : [];
    if (!list.length) return;
    ev.preventDefault();
    attachAll(chatWith!, list);
  };
  pane.addEventListener('dragover', (ev) => {
    if (!ev.dataTransfer?.types.includes('Files')) return;
    ev.preventDefault();
    pane.classList.add('dropping');
  });
  pane.addEventListener('dragleave', () => pane.classList.remove('dropping'));
  pane.addEventListener('drop', (ev) => {
    pane.classList.remove('dropping');
    take(ev, ev.dataTransfer);
  });
  pane.addEventListener('paste', (ev) => take(ev, ev.clipboardData));
}

/** Why a file could not be opened, in plain words. */
function openError(e: unknown): string {
  if (errorCode(e) === 'NOT_FOUND') return 'This file is not on the relay.';
  return friendly(e);
}

/** Draws `msg`'s file box again where the open chat shows it (its element may be new). */
function redraw(msg: Msg) {
  const box = ui.chatState?.els.get(msg.id)?.querySelector<HTMLElement>('[data-testid=file]');
  if (box) renderFile(box, msg);
}

/** Fetches and checks `msg`'s file, then does `then` with its object URL. */
async function open(msg: Msg, then?: (url: string) => void) {
  const known = opened.get(msg.id);
  if (known?.url) return then?.(known.url);
  const files = ui.model!.files;
  if (files.progress.has(msg.id)) return; // under way
  opened.delete(msg.id);
  const progress = (p: FileProgress) => {
    files.progress.set(msg.id, p);
    redraw(msg);
  };
  progress({ done: 0, total: msg.file!.size });
  try {
    const blob = await files.open(msg, progress);
    const type = msg.file!.type;
    // Shown as an image or sound only under a type the app renders; anything else is
    // bytes to save (a blob URL of an HTML file opened in a tab would run on this origin).
    const safe = IMAGE.test(type) || type.startsWith('audio/') ? type : 'application/octet-stream';
    opened.set(msg.id, { url: URL.createObjectURL(new Blob([blob], { type: safe })) });
  } catch (e) {
    opened.set(msg.id, { error: openError(e) });
  }
  files.progress.delete(msg.id);
  redraw(msg);
  const url = opened.get(msg.id)?.url;
  if (url) then?.(url);
}

function save(url: string, name: string) {
  h('a', { href: url, download: name }).click();
}

/** The file box of a file message, filled. */
export function fileBox(msg: Msg): HTMLElement {
  const box = h('div.file', { 'data-testid': 'file' });
  renderFile(box, msg);
  return box;
}

/** Fills `box` with the file message `msg` as it stands (called again on every change). */
function renderFile(box: HTMLElement, msg: Msg) {
  const f = msg.file!;
  const state = opened.get(msg.id);
  const p = ui.model?.files.progress.get(msg.id);
  const parts: (Node | string)[] = [];
  const image = IMAGE.test(f.type);
  const audio = f.type.startsWith('audio/');
  const ready = !!f.manifest && msg.state !== 'sending';
  if (image && state?.url) {
    const url = state.url;
    parts.push(h('img.full', { src: url, alt: f.name, 'data-testid': 'image' }), h('button.link', { type: 'button', 'data-testid': 'save', onclick: () => save(url, f.name) }, `Save ${f.name}`));
  } else if (image && f.thumb) {
    const thumb = h('img.thumb', { src: URL.createObjectURL(new Blob([unb64(f.thumb) as BlobPart], { type: f.thumbType })), alt: `${f.name} (preview)`, 'data-testid': 'thumb' });
    thumb.onload = thumb.onerror = () => URL.revokeObjectURL(thumb.src);
    parts.push(ready ? h('button.thumb-open', { type: 'button', 'aria-label': `Show ${f.name}`, onclick: () => void open(msg) }, thumb) : thumb);
  }
  if (audio && state?.url) {
    parts.push(h('audio', { controls: true, src: state.url, 'aria-label': f.name, 'data-testid': 'audio' }));
  } else if (audio && ready && !p) {
    const secs = Math.round((f.durationMs ?? 0) / 1000);
    parts.push(h('button', { type: 'button', 'data-testid': 'play', onclick: () => void open(msg, () => void ui.chatState?.els.get(msg.id)?.querySelector('audio')?.play()) }, `▶ Voice note ${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}`));
  }
  if ((!image || !f.thumb) && !audio) {
    parts.push(h('span.file-name', { dir: 'auto' }, f.name), ' ', h('span.file-size', null, fmtSize(f.size)), ' ');
    if (ready && !p) parts.push(h('button', { type: 'button', 'data-testid': 'download', onclick: () => void open(msg, (url) => save(url, f.name)) }, state?.url ? `Save ${f.name} again` : `Download ${f.name}`));
  }
  if (p) {
    const verb = msg.state === 'sending' ? 'Sending' : 'Fetching';
    const label = p.waiting ? 'Waiting for the network…' : `${verb} ${fmtSize(p.done)} of ${fmtSize(p.total)}`;
    parts.push(h('progress', { max: p.total || 1, value: p.done, 'aria-label': `${verb} ${f.name}`, 'data-testid': 'file-progress' }), h('span.file-progress', null, label));
  }
  if (state?.error) parts.push(h('p.file-error', { role: 'alert', 'data-testid': 'file-error' }, state.error));
  box.dataset.name = f.name;
  box.dataset.state = state?.url ? 'open' : state?.error ? 'error' : p ? 'busy' : 'idle';
  box.replaceChildren(...parts);
}
