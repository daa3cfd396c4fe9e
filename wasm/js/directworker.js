// The worker's half of the direct channels' host (`serveClient` uses it): data channels the
// page's `attachDirect` transferred here (`RemoteClient.adoptDirectChannel`), so a frame
// goes worker → SCTP → worker without waiting for either page's main thread. The page
// keeps the RTCPeerConnection (signalling, and the SHA-256 of the certificate the remote
// side presented, which it reports with the `opened` input); this file only moves frames,
// and reports a channel that closed or failed to the client, which falls back to the
// relay.
//
// The trust rule: a channel is used (frames fed to the client, frames sent on it) only
// after the page reported `opened` for that very channel (`input.channel`), i.e. after
// the client had the certificate of its connection to check. A channel adopted later for
// the same device (a new offer) is not covered by the earlier check: until its own
// `opened`, what it brings waits here, and a frame the client sends meanwhile ends it
// (the client falls back to the relay, as when the page's channel is not open).

/**
 * The channels of one logged-in client (`serveClient` makes one per login).
 *
 * @param {object} client the Client
 * @param {(msg: any) => void} post posts to the page (`{ event, data, session }`)
 * @param {number} session the login's number
 */
export function workerChannels(client, post, session) {
  // By `${user}/${device}`: { id, dc, opened, early: frames that came before `opened` }.
  const channels = new Map();
  const key = (user, device) => `${user}/${device}`;
  const tell = (id, state) => post({ event: 'directChannel', data: { id, state }, session });
  const input = (i) => {
    try {
      client.directInput(i);
    } catch {
      // A logged-out client: nothing left to tell.
    }
  };

  /** Ends the channel under `k` if it is still `entry`; `report`: tell the client and the page. */
  const end = (k, entry, report) => {
    if (channels.get(k) !== entry) return;
    channels.delete(k);
    entry.dc.onopen = entry.dc.onmessage = entry.dc.onclose = entry.dc.onerror = null;
    entry.dc.close();
    if (!report) return;
    const [user, device] = k.split('/');
    input({ type: 'closed', user, device });
    tell(entry.id, 'closed');
  };

  return {
    /** A channel the page transferred for `user`/`device` (it replaces an earlier one). */
    adopt({ id, user, device }, dc) {
      if (typeof user !== 'string' || typeof device !== 'string' || typeof dc?.send !== 'function') return void dc?.close?.();
      const k = key(user, device);
      const old = channels.get(k);
      if (old) end(k, old, false);
      const entry = { id, dc, opened: false, early: [] };
      channels.set(k, entry);
      dc.binaryType = 'arraybuffer';
      const gone = () => end(k, entry, true);
      dc.onopen = () => tell(id, 'open');
      dc.onmessage = (e) => {
        const frame = new Uint8Array(e.data);
        if (entry.opened) input({ type: 'frame', user, device, frame });
        else entry.early.push(frame);
      };
      dc.onclose = gone;
      dc.onerror = gone;
      if (dc.readyState === 'open') tell(id, 'open');
      else if (dc.readyState !== 'connecting') gone();
    },

    /** The page ended the channel itself (it told the client, or the client knows). */
    forget({ id, user, device }) {
      const k = key(user, device);
      const entry = channels.get(k);
      if (entry?.id === id) end(k, entry, false);
    },

    /**
     * A `directInput` from the page, passed on to the client; `opened` for a channel held
     * here lets its frames through, those that waited first and in order.
     */
    input(i) {
      const result = client.directInput(i);
      if (i?.type !== 'opened') return result;
      const entry = channels.get(key(i.user, i.device));
      if (!entry || entry.id !== i.channel || entry.opened) return result;
      entry.opened = true;
      for (const frame of entry.early.splice(0)) input({ type: 'frame', user: i.user, device: i.device, frame });
      return result;
    },

    /**
     * A `direct` event of the client: true when it was handled here (a frame sent on a
     * channel held here), false when it goes to the page as before.
     */
    output(e) {
      if (!e?.device) return false;
      const k = key(e.user, e.device);
      const entry = channels.get(k);
      if (!entry) return false;
      if (e.type === 'state' && e.state === 'relay') {
        // The client already knows (a refusal, a close signal, a peer that stopped
        // acknowledging); the page ends the connection.
        end(k, entry, false);
        tell(entry.id, 'closed');
        return false;
      }
      if (e.type !== 'frame') return false;
      if (entry.opened && entry.dc.readyState === 'open') {
        try {
          entry.dc.send(e.frame);
          return true;
        } catch {
          // The channel failed under the send: as closed.
        }
      }
      end(k, entry, true);
      return true;
    },

    /** Ends every channel (the client logged out, or another login replaced it). */
    close() {
      for (const [k, entry] of [...channels]) end(k, entry, false);
    },
  };
}
