// One active tab per browser profile: the account's session state (ratchets) must have
// a single writer, so a second tab shows "Use here" instead of racing the first. Built
// on the Web Locks API; "Use here" steals the lock and the other tab pauses.

let held = false;

export async function tabLock(onLost: () => void): Promise<boolean> {
  if (held) return true;
  if (!navigator.locks) return true; // very old browser: no coordination possible
  const acquire = (steal: boolean) =>
    new Promise<boolean>((resolve) => {
      navigator.locks
        .request('sealpost-active-tab', steal ? { steal: true } : { ifAvailable: true }, (lock) => {
          if (!lock) {
            resolve(false);
            return undefined;
          }
          held = true;
          resolve(true);
          return new Promise<void>(() => undefined); // hold until the tab closes
        })
        .catch(() => {
          // Stolen by another tab.
          if (held) {
            held = false;
            onLost();
          }
        });
    });
  const want = sessionStorage.getItem('sealpost.useHere') === '1';
  sessionStorage.removeItem('sealpost.useHere');
  return acquire(want);
}
