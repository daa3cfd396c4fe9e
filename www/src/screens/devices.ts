// Account → Devices: the account's devices (name, added, last seen), removing one, and
// the old device's side of a link (reading the new device's code, confirming it).

import { errorCode } from '../backend/types';
import type { DeviceInfo, LinkApproval } from '../backend/types';
import { cameraScanButton, decodeImageFile, preloadQr } from '../qr';
import { friendly } from '../errors';
import { focusHeading, timeEl, ui } from '../ui';
import { dec, h } from '../util';

/** The link code in `text` (typed with any spacing or case, or read from a QR code), or null. */
function linkCode(text: string): string | null {
  const t = text.toUpperCase().replace(/[\s-]/g, '');
  const m = /[A-Z2-7]{20}/.exec(t);
  return m && (t.length === 20 || /[^A-Z2-7]/.test(t)) ? m[0] : null;
}

/** The devices of the account, revoke, and linking a new one (the old device's side). */
export async function showDevices(focus = false) {
  preloadQr(); // for reading a new device's code
  const m = ui.model!;
  ui.chatState = null;
  const listEl = h('ul.devices', { 'aria-label': 'Devices of your account', 'data-testid': 'devices' });
  const status = h('p.result', { role: 'status', 'data-testid': 'devices-status' });
  const fill = async () => {
    let devices: DeviceInfo[];
    try {
      devices = await m.account.devices();
    } catch (e) {
      status.textContent = `The list of devices needs a connection to the relay: ${friendly(e)}`;
      status.className = 'result bad';
      return;
    }
    devices.sort((a, b) => Number(b.current) - Number(a.current) || a.addedAt - b.addedAt);
    listEl.replaceChildren(
      ...devices.map((d) =>
        h(
          'li.device',
          { 'data-testid': 'device', 'data-device': d.id, 'data-current': String(d.current) },
          h('span.device-main', null,
            h('strong.device-name', null, h('bdi', null, d.name || 'Unnamed device')),
            d.current ? h('span.mini.verified', { 'data-testid': 'this-device' }, 'This device') : null,
            h('span.device-meta', null, 'Added ', timeEl(d.addedAt), ...(d.current ? [] : d.lastSeen ? [' · Last seen ', timeEl(d.lastSeen)] : [' · Not seen yet'])),
          ),
          d.current
            ? null
            : h('button.warn', {
                type: 'button',
                'data-testid': 'revoke-device',
                'aria-label': `Remove ${d.name || 'this device'}`,
                onclick: async (ev: Event) => {
                  if (!confirm(`Remove “${d.name}” from your account? It stops receiving messages at once, and it can come back only by logging in again with the password or by a new link.`)) return;
                  const b = ev.currentTarget as HTMLButtonElement;
                  b.disabled = true;
                  try {
                    await m.account.revokeDevice(d.id);
                    status.textContent = `“${d.name}” was removed.`;
                    status.className = 'result good';
                  } catch (e) {
                    status.textContent = `Could not remove it: ${friendly(e)}`;
                    status.className = 'result bad';
                  }
                  await fill();
                },
              }, 'Remove'),
        ),
      ),
    );
  };

  // Linking: the new device shows a code; here it is typed, scanned or read from a picture.
  const codeIn = h('input#link-code', { autocomplete: 'off', autocapitalize: 'characters', spellcheck: false, 'data-testid': 'link-code-input', 'aria-describedby': 'link-code-hint' });
  const linkResult = h('p.result', { role: 'status', 'data-testid': 'link-result' });
  const approveBox = h('div.approve', { hidden: true });
  let approval: LinkApproval | null = null;
  const video = h('video.scanner', { hidden: true, 'aria-label': 'Camera preview' });
  const useCode = async (code: string | null) => {
    linkResult.textContent = '';
    linkResult.className = 'result';
    if (!code) {
      linkResult.textContent = 'That is not a link code: it has 20 letters and digits. Check it on the new device.';
      linkResult.className = 'result bad';
      return;
    }
    linkResult.textContent = 'Looking for the new device…';
    try {
      await approval?.cancel();
      approval = await m.account.approveLink(code);
    } catch (e) {
      approval = null;
      linkResult.textContent = ['NOT_FOUND', 'EXPIRED', 'LINK_EXPIRED'].includes(errorCode(e) ?? '') ? 'No device is waiting with this code (it may have expired). Start again on the new device.' : `Could not read the new device: ${friendly(e)}`;
      linkResult.className = 'result bad';
      return;
    }
    linkResult.textContent = '';
    const a = approval;
    const history = h('input#link-history', { type: 'checkbox', checked: true, 'data-testid': 'link-history' });
    const confirmBtn = h('button.primary', {
      type: 'button',
      'data-testid': 'link-confirm',
      onclick: async () => {
        confirmBtn.disabled = true;
        try {
          linkResult.textContent = history.checked ? 'Sealing your messages for the new device…' : 'Linking…';
          await a.confirm(history.checked ? await m.exportHistory() : undefined);
          linkResult.textContent = `“${a.deviceName}” is linked.`;
          linkResult.className = 'result good';
          approveBox.hidden = true;
          approval = null;
          codeIn.value = '';
          await fill();
        } catch (e) {
          linkResult.textContent = `The link failed: ${friendly(e)}`;
          linkResult.className = 'result bad';
          confirmBtn.disabled = false;
        }
      },
    }, 'Link this device');
    approveBox.replaceChildren(
      h('h4', null, 'Add “', h('bdi', { 'data-testid': 'link-device-name' }, a.deviceName), '” to your account?'),
      h('p', null, 'Confirm only if the new device shows this name and you started the link there yourself. It gets your account and your contacts, and can read every message from now on.'),
      h('div.check', null, history, h('label', { for: 'link-history' }, 'Also transfer message history')),
      h('div.row.wrap', null, confirmBtn, h('button', {
        type: 'button',
        'data-testid': 'link-cancel',
        onclick: async () => {
          await a.cancel();
          approval = null;
          approveBox.hidden = true;
          linkResult.textContent = 'Cancelled.';
        },
      }, 'Cancel')),
    );
    approveBox.hidden = false;
    confirmBtn.focus();
  };
  const file = h('input#link-qr-file', {
    type: 'file',
    accept: 'image/*',
    class: 'sr-only',
    'data-testid': 'link-qr-file',
    onchange: async () => {
      const f = file.files?.[0];
      file.value = '';
      if (!f) return;
      const bytes = await decodeImageFile(f).catch(() => null);
      if (!bytes) {
        linkResult.textContent = 'No QR code found in that picture. Try again with the whole code in view, or type the code.';
        linkResult.className = 'result bad';
        return;
      }
      await useCode(linkCode(dec.decode(bytes)));
    },
  });
  const scanBtn = cameraScanButton({
    video,
    label: 'Scan its code',
    testId: 'link-scan',
    onResult: async (found) => {
      if (found) await useCode(linkCode(dec.decode(found)));
    },
    onUnavailable: () => {
      linkResult.textContent = 'The camera is not available. Upload a picture of the code, or type it.';
      linkResult.className = 'result bad';
    },
  });
  const linkForm = h(
    'form.link-form',
    {
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        void useCode(linkCode(codeIn.value));
      },
    },
    h('label', { for: 'link-code' }, 'Code shown on the new device'),
    h('div.row', null, codeIn, h('button.primary', { type: 'submit', 'data-testid': 'link-code-submit' }, 'Continue')),
    h('p.hint#link-code-hint', null, 'On the new device, choose “Link from another device” on the log-in screen. Its code has 20 letters and digits; spaces do not matter.'),
  );
  ui.paneEl.replaceChildren(
    h('header.chat-head', null, h('a.back', { href: '#/account', 'aria-label': 'Back to your account' }, '‹'), h('h2.chat-title', { tabIndex: -1 }, 'Devices')),
    h(
      'div.contact',
      null,
      h('p', null, 'Every device of your account has its own keys. Messages are encrypted to each of them, and what you send from one shows on the others. Up to 8 devices.'),
      listEl,
      status,
      h('section', { 'aria-labelledby': 'link-title' },
        h('h3#link-title', null, 'Link a new device'),
        linkForm,
        h('div.row.wrap', null, scanBtn, h('label.button', { for: 'link-qr-file' }, 'Upload a picture of its code'), file),
        h('div.qr-box', null, video),
        linkResult,
        approveBox,
      ),
    ),
  );
  if (focus) focusHeading(ui.paneEl);
  await fill();
}
