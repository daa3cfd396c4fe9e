// Files in a chat (issue 11): the composer's attach and voice buttons, drop and paste on
// the chat, and file messages: an image's preview (the sender's thumbnail first, the full
// image on tap), a file's name, size and download button, a voice note played inline, a
// progress bar on every transfer. A file is shown or saved only once the package checked
// all of it; an altered one says so and never shows. The same in a group's conversation.
// An opened file's object URL lives while its conversation is on screen: it is revoked
// when another screen shows (closeOpened) or the message goes (forgetOpened).
// Thumbnails and the recorder are in fileattach.ts, loaded on first use.

import type { FileLimits, FileProgress } from '../backend/types';
import { errorCode } from '../backend/types';
import { friendly } from '../errors';
import { lazily } from '../lazy';
import { type Contact, type Msg, displayName } from '../records';
import { toast, ui } from '../ui';
import { h, unb64 } from '../util';
import { wireOf } from '../convo';
import { composing } from './msgextras';

const sending = lazily('fileattach', () => import('./fileattach'));

/** Images the app shows inline (never SVG: a picture, not a document). */
const IMAGE = /^image\/(jpeg|png|gif|webp|avif)$/;

/** The relay's limits, once asked (the attach button explains them). */
let limits: FileLimits | null = null;
/** Opened files by message id: an object URL, or why not. */
const opened = new Map<string, { url?: string; error?: string }>();
/** Downloads under way, by message id: stopped when their conversation closes. */
const fetching = new Map<string, AbortController>();

/** Revokes `id`'s object URL (the message left this device) and stops its download. */
export function forgetOpened(id: string) {
  fetching.get(id)?.abort();
  fetching.delete(id);
  const url = opened.get(id)?.url;
  if (url) URL.revokeObjectURL(url);
  opened.delete(id);
}

/**
 * The conversation on screen closes: every opened file's object URL is revoked (its
 * image is not shown any more; coming back shows the preview, a tap fetches it again).
 */
export function closeOpened() {
  for (const id of [...opened.keys(), ...fetching.keys()]) forgetOpened(id);
}

/** Where files go: a contact's chat or a group's. */
type Target = { contact: Contact } | { group: string };

/** Sizes in binary units (the relay's default limit, 100 MiB, reads "100 MB"). */
function fmtSize(n: number): string {
  if (n < 1024) return `${n} B`;
  const [v, unit] = n < 1 << 20 ? [n / 1024, 'KB'] : [n / (1 << 20), 'MB'];
  return `${v.toFixed(v < 10 ? 1 : 0)} ${unit}`;
}

/** How long the relay keeps a chunk, in words (a relay may keep them for hours, not days). */
function fmtKept(secs: number): string {
  if (secs < 60) return 'less than a minute';
  const [n, unit] = secs >= 86400 ? [Math.round(secs / 86400), 'day'] : secs >= 3600 ? [Math.round(secs / 3600), 'hour'] : [Math.round(secs / 60), 'minute'];
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

const limitText = (l: FileLimits) => `Files up to ${fmtSize(l.maxFileBytes)}, kept on the relay for ${fmtKept(l.chunkTtlSecs)} (encrypted; the relay cannot read them).`;

/** Sends `file` to the chat `t`: refused here when the relay would refuse it. */
async function attach(t: Target, file: Blob, name = (file as File).name || 'file', durationMs?: number) {
  const m = ui.model!;
  if ('contact' in t && t.contact.keyChanged) return toast(`${displayName(t.contact)}'s key changed: review it before you send anything.`);
  if ('group' in t && !m.groups.infos.has(t.group)) return toast('You are not in this group any more.');
  if (limits && file.size > limits.maxFileBytes) {
    return toast(`${name} is ${fmtSize(file.size)}: the relay takes files up to ${fmtSize(limits.maxFileBytes)}.`);
  }
  const mediaType = file.type || 'application/octet-stream';
  const thumb = IMAGE.test(mediaType) ? await sending().then((s) => s.thumbnail(file)).catch(() => undefined) : undefined;
  const meta = { name, mediaType, size: file.size, thumbnail: thumb, durationMs };
  if ('group' in t) return void (await m.groups.sendFile(t.group, file, meta));
  // Sent while replying: the file is the reply (PROTOCOL.md 28.2).
  const replyTo = composing.replyTo && m.messages.get(t.contact.userId)?.includes(composing.replyTo) ? wireOf(composing.replyTo) : undefined;
  if (replyTo) {
    composing.replyTo = undefined;
    composing.changed?.();
  }
  await m.files.send(t.contact, file, meta, replyTo);
}

function attachAll(t: Target, files: Blob[]) {
  for (const f of files) void attach(t, f).catch((e) => toast(`Could not send: ${friendly(e)}`));
}

/** Stops the voice note being recorded (and sends it), if one is. */
let stopRecording: (() => void) | null = null;

/** Starts recording a voice note, or stops and sends it. */
async function voice(t: Target, button: HTMLButtonElement) {
  if (stopRecording) {
    stopRecording();
    stopRecording = null;
    return;
  }
  try {
    const { record } = await sending();
    stopRecording = await record((note) => {
      button.setAttribute('aria-pressed', 'false');
      void attach(t, note.blob, note.name, note.durationMs).catch((e) => toast(`Could not send: ${friendly(e)}`));
    });
    button.setAttribute('aria-pressed', 'true');
  } catch {
    toast('The microphone is not available.');
  }
}

/** The composer's file controls, and drop and paste on `pane`, for the chat `t` (a contact's or a group's). */
export function fileControls(t: Target, pane: HTMLElement): HTMLElement[] {
  const input = h('input', {
    type: 'file',
    multiple: true,
    hidden: true,
    'data-testid': 'file-input',
    onchange: () => {
      attachAll(t, [...(input.files ?? [])]);
      input.value = '';
    },
  });
  const attachButton = h('button.icon', { type: 'button', 'aria-label': 'Attach files', 'data-testid': 'attach', onclick: () => input.click() }, '📎');
  const mic = h('button.icon', { type: 'button', 'aria-label': 'Record a voice note', 'aria-pressed': 'false', 'data-testid': 'voice' }, '🎤');
  mic.onclick = () => void voice(t, mic);
  chatWith = t;
  if (!panes.has(pane)) listen(pane);
  const note = (l: FileLimits) => (attachButton.title = limitText(l));
  if (limits) note(limits);
  else void ui.model!.account.fileLimits().then((l) => note((limits = l))).catch(() => undefined);
  return [input, attachButton, mic];
}

/** The chat the pane shows (drops and pastes go there). */
let chatWith: Target | null = null;
const panes = new WeakSet<HTMLElement>();

/** Whether `t`'s chat, composer and all, is the one on screen. */
function onScreen(t: Target): boolean {
  if ('group' in t) return ui.model?.groups.active === t.group && location.hash === `#/group/${t.group}` && !!ui.model.groups.infos.has(t.group);
  return ui.chatState?.peer === t.contact.userId && ui.chatState.composer.isConnected && !t.contact.keyChanged;
}

/** Drop and paste files on the chat pane (once per pane; it shows one chat at a time). */
function listen(pane: HTMLElement) {
  panes.add(pane);
  const take = (ev: Event, d: DataTransfer | null) => {
    // Only while that chat is on screen (a contact's page shows no composer).
    const list = chatWith && onScreen(chatWith) ? [...(d?.files ?? [])] : [];
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

/** Where a group's file message is sent again (a contact's by default). */
const sinkOf = (msg: Msg) => (ui.model!.groups.recs.has(msg.peer) ? ui.model!.groups.fileSink(msg.peer) : undefined);

/** Sends a failed file message again, with `file` when the user picked it again. */
function resend(msg: Msg, file?: Blob) {
  void ui.model!.files.retry(msg, file, sinkOf(msg)).catch((e) => toast(`Could not send: ${friendly(e)}`));
}

/**
 * Retry on a failed file message: sent again at once while this tab has its bytes;
 * after a reload the user picks the file again (the box's file input).
 */
export function retryFile(msg: Msg) {
  if (ui.model!.files.has(msg.id)) return resend(msg);
  ui.paneEl.querySelector<HTMLInputElement>(`li[data-id="${CSS.escape(msg.id)}"] [data-testid=file-again]`)?.click();
}

/** Why a file could not be opened, in plain words. */
function openError(e: unknown): string {
  if (errorCode(e) === 'NOT_FOUND') return 'This file is not on the relay.';
  return friendly(e);
}

/** `msg`'s element where the open chat (a contact's or a group's) shows it. */
const elOf = (msg: Msg) => ui.paneEl.querySelector<HTMLElement>(`li[data-id="${CSS.escape(msg.id)}"]`);

/** Draws `msg`'s file box again where the open chat shows it (its element may be new). */
function redraw(msg: Msg) {
  const box = elOf(msg)?.querySelector<HTMLElement>('[data-testid=file]');
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
  const stop = new AbortController();
  fetching.set(msg.id, stop);
  try {
    const blob = await files.open(msg, progress, stop.signal);
    const type = msg.file!.type;
    // Shown as an image or sound only under a type the app renders; anything else is
    // bytes to save (a blob URL of an HTML file opened in a tab would run on this origin).
    const safe = IMAGE.test(type) || type.startsWith('audio/') ? type : 'application/octet-stream';
    // Not when its conversation closed (or the message went) meanwhile: no URL to leak.
    if (!stop.signal.aborted) opened.set(msg.id, { url: URL.createObjectURL(new Blob([blob], { type: safe })) });
  } catch (e) {
    if (!stop.signal.aborted) opened.set(msg.id, { error: openError(e) });
  }
  if (fetching.get(msg.id) === stop) fetching.delete(msg.id);
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
    parts.push(h('button', { type: 'button', 'data-testid': 'play', onclick: () => void open(msg, () => void elOf(msg)?.querySelector('audio')?.play()) }, `▶ Voice note ${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}`));
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
  if (msg.state === 'failed' && msg.dir === 'out' && !msg.otherDevice && !ui.model?.files.has(msg.id)) {
    // The bytes went with the tab that closed: Retry picks the file again (here).
    const again = h('input', { type: 'file', hidden: true, 'data-testid': 'file-again', 'aria-label': `Choose ${f.name} again` });
    again.onchange = () => again.files?.[0] && resend(msg, again.files[0]);
    parts.push(again, h('p.file-error', { role: 'alert', 'data-testid': 'file-interrupted' }, msg.error ?? 'Not sent.'));
  }
  box.dataset.name = f.name;
  box.dataset.state = state?.url ? 'open' : state?.error ? 'error' : p ? 'busy' : 'idle';
  box.replaceChildren(...parts);
}
