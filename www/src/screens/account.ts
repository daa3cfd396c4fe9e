// Account: username, key fingerprint, notifications, log out and wipe this device.

import { forgetDevice } from '../backend';
import { notifyOn, notifySupported, setNotify } from '../notify';
import type { Account } from '../backend/types';
import { forgetPasskey, hasPasskey, passkeySupported, setUpPasskey } from '../passkey';
import { endSession } from '../session';
import { toast, ui } from '../ui';
import { friendly } from '../errors';
import { h } from '../util';
import { settings } from '../convo';
import { exportBox, importBox } from './transfer';

export function showAccount() {
  const m = ui.model!;
  ui.chatState = null;
  const note = h('p#storage-note.banner.info', { role: 'status', hidden: !ui.storageNote, 'data-testid': 'storage-note' }, ui.storageNote);
  ui.paneEl.replaceChildren(
    h('header.chat-head', null, h('a.back', { href: '#/', 'aria-label': 'Back to chats' }, '‹'), h('h2.chat-title', { tabIndex: -1 }, 'Your account')),
    h(
      'div.contact',
      null,
      h('p', null, 'Username: ', h('strong', { 'data-testid': 'account-username' }, m.account.username)),
      h('p.mono', { 'data-testid': 'account-fingerprint' }, `Key fingerprint: ${m.account.fingerprint}`),
      h('p', null, 'Your keys and messages on this device are encrypted with your password. Your password never leaves this browser.'),
      h('p', null, h('a.button', { href: '#/devices', 'data-testid': 'devices-link' }, 'Devices'), ' Your account on other browsers and phones; link a new one.'),
      note,
      notifySupported()
        ? h('button', {
          type: 'button',
          'data-testid': 'notify-toggle',
          onclick: async () => {
            const on = await setNotify(!notifyOn());
            if (!on && Notification.permission === 'denied') toast('The browser blocks notifications for this site: allow them in its site settings.');
            showAccount();
          },
        }, notifyOn() ? 'Turn off notifications' : 'Notify me of new messages (who wrote, not what)')
        : '',
      h('p', null,
        h('button', {
          type: 'button',
          'data-testid': 'lock',
          onclick: async () => {
            // Forgets this browser's unlocked session: the password is asked again.
            await m.flushPending().catch(() => undefined);
            m.stop();
            ui.model = null;
            await endSession();
            await m.account.close();
            location.hash = '';
            location.reload();
          },
        }, 'Lock'),
        ' A reload of this tab opens Sealpost without the password until you lock it, close the tab, or 12 hours pass.',
      ),
      passkeyBox(m.account),
      h('p', null, toggle('Send read receipts (your contacts see when you read their messages)', 'read-receipts', () => settings.readReceipts, (v) => (settings.readReceipts = v))),
      h('p', null, toggle('Send typing indicators', 'typing-toggle', () => settings.typing, (v) => (settings.typing = v))),
      exportBox(),
      importBox(),
      h(
        'button.warn',
        {
          type: 'button',
          'data-testid': 'logout',
          onclick: async () => {
            if (!confirm('Log out and delete your messages from this browser? Your account stays: log in again with your password (past messages do not come back).')) return;
            try {
              // This browser also leaves the account's list (best effort: offline, it
              // stays listed until removed from another device).
              const me = (await m.account.devices().catch(() => [])).find((d) => d.current);
              if (me) await m.account.revokeDevice(me.id).catch(() => undefined);
              await m.wipe();
              ui.model = null;
              await forgetDevice();
            } catch (e) {
              toast(`Could not wipe this device: ${friendly(e)}. Try again, or clear the site's data in the browser settings.`);
              return;
            }
            location.hash = '';
            location.reload();
          },
        },
        'Log out and wipe this device',
      ),
    ),
  );
}

/** Unlock with a passkey: set up or removed here (passkey.ts); filled in once known. */
function passkeyBox(acct: Account): HTMLElement {
  const box = h('p', { 'data-testid': 'passkey' });
  if (!passkeySupported()) return box;
  const fill = async () => {
    const set = await hasPasskey(acct.username);
    box.replaceChildren(
      h('button', {
        type: 'button',
        'data-testid': set ? 'passkey-remove' : 'passkey-setup',
        onclick: async () => {
          try {
            if (set) await forgetPasskey();
            else await setUpPasskey(acct);
          } catch (e) {
            return toast(friendly(e));
          }
          toast(set ? 'Passkey removed: unlock with your password.' : 'Passkey set up: the unlock screen offers it.');
          await fill();
        },
      }, set ? 'Remove the passkey' : 'Unlock with a passkey'),
      set ? ' This browser unlocks with your passkey (your password still works).' : ' Instead of typing your password here, where the browser and your device support it.',
    );
  };
  void fill();
  return box;
}

/** An opt-in checkbox kept in this browser. */
function toggle(label: string, testid: string, get: () => boolean, set: (v: boolean) => void): HTMLElement {
  const box = h('input', { type: 'checkbox', 'data-testid': testid, onchange: () => set(box.checked) }) as HTMLInputElement;
  box.checked = get();
  return h('label', null, box, ' ', label);
}
