// Notifications for new messages and calls while the app is in the background (another
// tab, a minimised window). They say who wrote or calls, never what: notifications show
// on lock screens and shared screens. Off until the user turns them on (Account screen).

const KEY = 'sealpost.notify';

export const notifySupported = (): boolean => 'Notification' in window;

/** Whether the user turned notifications on and the browser allows them. */
export function notifyOn(): boolean {
  return notifySupported() && Notification.permission === 'granted' && localStorage.getItem(KEY) === '1';
}

/** Turns notifications on (asking the browser) or off; resolves to whether they are on. */
export async function setNotify(on: boolean): Promise<boolean> {
  if (!on || !notifySupported()) {
    localStorage.removeItem(KEY);
    return false;
  }
  const permission = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
  if (permission !== 'granted') return false;
  localStorage.setItem(KEY, '1');
  return true;
}

/** A notification that opens `peer`'s chat when tapped. */
function show(body: string, tag: string, peer: string): Notification {
  const n = new Notification('Sealpost', { body, tag });
  n.onclick = () => {
    window.focus();
    location.hash = `#/chat/${peer}`;
    n.close();
  };
  return n;
}

/** One notification for a burst of new messages, when the page is not in view. */
export function notifyNew(from: { peer: string; name: string }[]): void {
  const last = from[from.length - 1];
  if (!last || !notifyOn() || document.visibilityState === 'visible') return;
  const names = [...new Set(from.map((f) => f.name))];
  show(from.length === 1 ? `New message from ${last.name}` : `${from.length} new messages from ${names.join(', ')}`, 'sealpost-new-messages', last.peer);
}

/** A ring while the page is not in view (who calls); returns what takes it away when the ring ends. */
export function notifyCall(peer: string, name: string): () => void {
  if (!notifyOn() || document.visibilityState === 'visible') return () => undefined;
  const n = show(`${name} is calling`, 'sealpost-call', peer);
  return () => n.close();
}
