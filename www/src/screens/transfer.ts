// Export and import of the account as a file (the answer to a browser deleting this
// site's data): Account → "Export to a file" writes the history and contacts sealed
// under a password (exportfile.ts, PROTOCOL.md 29); "Restore from a file" on the log-in
// screen logs in with the password (keys and pins come from the relay's password backup,
// as on any new device) and brings the file's history in. A file that does not open
// changes nothing.

import { backend } from '../backend';
import { AppError, errorCode } from '../backend/types';
import type { Progress } from '../backend/types';
import { friendly } from '../errors';
import { lazily } from '../lazy';
import { passwordStrength } from '../strength';
import { setScreen, ui } from '../ui';
import { h } from '../util';
import { enter, showElsewhere, takeOver } from './shell';

/** The sealing code (WebCrypto only), fetched on first use. */
const fileLib = lazily('exportfile', () => import('../exportfile'));

/** What a file does, said before anything is written or read. */
const RISK =
  'Anyone who has this file and its password can read every message in it, and with your account password can also use your account. Keep the file where only you can reach it, and use a strong password.';

/** Export errors carry a code the app words (errors.ts); anything else as it is. */
function asApp(e: unknown): unknown {
  const code = errorCode(e);
  return code?.startsWith('EXPORT_') ? new AppError(code, (e as Error).message) : e;
}

/** Reads a chosen file. */
async function bytesOf(input: HTMLInputElement): Promise<Uint8Array | null> {
  const f = input.files?.[0];
  return f ? new Uint8Array(await f.arrayBuffer()) : null;
}

/** The Account screen's export box. */
export function exportBox(): HTMLElement {
  const m = ui.model!;
  const pass = h('input#export-password', { type: 'password', autocomplete: 'current-password', required: true, minLength: 8, 'data-testid': 'export-password' }) as HTMLInputElement;
  const again = h('input#export-password2', { type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'export-password2' }) as HTMLInputElement;
  const status = h('p.result', { role: 'status', 'data-testid': 'export-result' });
  const go = h('button.primary', { type: 'submit', 'data-testid': 'export-submit' }, 'Export to a file');
  const form = h(
    'form.transfer',
    {
      'data-testid': 'export-form',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        status.className = 'result';
        if (pass.value !== again.value) return void (status.textContent = 'The two passwords differ.');
        const st = passwordStrength(pass.value, [m.account.username]);
        if (!st.ok) return void (status.textContent = `This password is too easy to guess (${st.label.toLowerCase()}). ${st.feedback}`);
        go.disabled = true;
        status.textContent = 'Sealing your messages…';
        try {
          await m.flushPending();
          const { sealExport } = await fileLib();
          const file = await sealExport(m.account.username, m.account.userId, pass.value, (await m.exportHistory()) as Uint8Array<ArrayBuffer>);
          pass.value = again.value = '';
          const a = h('a', { href: URL.createObjectURL(new Blob([file as BlobPart], { type: 'application/octet-stream' })), download: `sealpost-${m.account.username}-${new Date().toISOString().slice(0, 10)}.sealpost` }) as HTMLAnchorElement;
          document.body.append(a);
          a.click();
          a.remove();
          setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
          status.textContent = `Exported (${Math.ceil(file.length / 1024)} KB). Keep the file safe: it holds your messages.`;
          status.className = 'result good';
        } catch (e) {
          status.textContent = `Could not export: ${friendly(asApp(e))}`;
          status.className = 'result bad';
        } finally {
          go.disabled = false;
        }
      },
    },
    h('h3', null, 'Export to a file'),
    h('p', null, 'Your messages live in this browser, which may delete them when space runs low. A file keeps a copy: “Restore from a file” on the log-in screen of any browser brings your account back with these messages.'),
    h('p.banner.warn', { 'data-testid': 'export-risk' }, RISK),
    h('label', { for: 'export-password' }, 'Password for the file (your account password keeps restoring to one password)'),
    pass,
    h('label', { for: 'export-password2' }, 'The same password again'),
    again,
    go,
    status,
  );
  return form;
}

/** The Account screen's box that brings a file's messages into the open account (nothing replaced). */
export function importBox(): HTMLElement {
  const m = ui.model!;
  const file = h('input#import-file', { type: 'file', accept: '.sealpost,application/octet-stream', required: true, 'data-testid': 'import-file' }) as HTMLInputElement;
  const pass = h('input#import-password', { type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'import-password' }) as HTMLInputElement;
  const status = h('p.result', { role: 'status', 'data-testid': 'import-result' });
  return h(
    'form.transfer',
    {
      'data-testid': 'import-form',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        status.className = 'result';
        status.textContent = 'Opening the file…';
        try {
          const bytes = await bytesOf(file);
          if (!bytes) return;
          const { openExport } = await fileLib();
          const got = await openExport(bytes, pass.value);
          if (got.userId !== m.account.userId) throw AppError.forUser('EXPORT_OTHER_ACCOUNT', `This file is ${got.username}'s, not ${m.account.username}'s. Nothing was changed.`);
          pass.value = '';
          const n = await m.importHistory(got.history);
          status.textContent = `${n} message${n === 1 ? '' : 's'} added from the file (the ones already here were kept as they are).`;
          status.className = 'result good';
        } catch (e) {
          status.textContent = friendly(asApp(e));
          status.className = 'result bad';
        }
      },
    },
    h('h3', null, 'Add messages from an export file'),
    h('label', { for: 'import-file' }, 'Export file'),
    file,
    h('label', { for: 'import-password' }, 'The file’s password'),
    pass,
    h('button', { type: 'submit', 'data-testid': 'import-submit' }, 'Add the messages'),
    status,
  );
}

/**
 * The log-in screen's "Restore from a file": the file is opened first (a wrong password or
 * a damaged file stops here, with nothing written), then the account is opened with the
 * password as a new device of it, then the file's history comes in.
 */
export function showRestore(deviceName: string, back: () => void) {
  const file = h('input#restore-file', { type: 'file', accept: '.sealpost,application/octet-stream', required: true, 'data-testid': 'restore-file' }) as HTMLInputElement;
  const pass = h('input#restore-password', { type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'restore-password' }) as HTMLInputElement;
  const acctPass = h('input#restore-account-password', { type: 'password', autocomplete: 'current-password', 'data-testid': 'restore-account-password' }) as HTMLInputElement;
  const acctBox = h('div', { hidden: true }, h('label', { for: 'restore-account-password' }, 'Your account password (the file opened with another one)'), acctPass);
  const err = h('p.error', { role: 'alert', 'data-testid': 'restore-error' });
  const progress = h('p.progress-label', { role: 'status', 'data-testid': 'restore-progress' });
  const go = h('button.primary', { type: 'submit', 'data-testid': 'restore-submit' }, 'Restore');
  const form = h(
    'form.card.auth',
    {
      'aria-labelledby': 'restore-title',
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        err.textContent = '';
        go.disabled = true;
        try {
          const bytes = await bytesOf(file);
          if (!bytes) return;
          progress.textContent = 'Opening the file…';
          const { openExport } = await fileLib();
          const got = await openExport(bytes, pass.value);
          progress.textContent = `Opening ${got.username}'s account…`;
          const onProgress = (p: Progress) => (progress.textContent = p.label);
          const acct = await backend.login(got.username, acctPass.value || pass.value, onProgress, takeOver(), deviceName).catch((e) => {
            if (errorCode(e) === 'WRONG_PASSWORD') {
              acctBox.hidden = false;
              throw AppError.forUser('WRONG_PASSWORD', `The file opened, but that is not ${got.username}'s account password now. Type the account password too. Nothing was changed.`);
            }
            throw e;
          });
          pass.value = acctPass.value = '';
          await enter(acct, { history: got.history, fresh: true, from: 'file' });
        } catch (e) {
          if (errorCode(e) === 'LOCKED') return showElsewhere();
          err.textContent = friendly(asApp(e));
          progress.textContent = '';
        } finally {
          go.disabled = false;
        }
      },
    },
    h('h1#restore-title', null, 'Restore from a file'),
    h('p.lede', null, 'Choose a file you exported from Sealpost (Account → Export to a file). This browser becomes a new device of the account, with the contacts and messages from the file. The browser the file came from stays listed under Account → Devices: remove it there if its data is gone.'),
    h('p.hint', null, RISK),
    h('label', { for: 'restore-file' }, 'Export file'),
    file,
    h('label', { for: 'restore-password' }, 'The file’s password'),
    pass,
    acctBox,
    go,
    progress,
    err,
    h('button.link', { type: 'button', onclick: back }, 'Back'),
  );
  setScreen('auth', h('main.center', null, form));
  file.focus();
}
