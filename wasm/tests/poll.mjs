// Waiting, on the runner's side, for something a page has to compute asynchronously
// (getStats() and the like).

/**
 * Polls the async `fn` in `page` until it resolves to a truthy value, and returns that
 * value; fails after `timeout` ms. Not `page.waitForFunction`: it takes the promise an async function
 * returns as a truthy value and stops at once, without waiting for what it resolves to.
 */
export async function eventually(page, fn, arg, timeout = 60_000) {
  for (const end = Date.now() + timeout; ;) {
    const got = await page.evaluate(fn, arg);
    if (got) return got;
    if (Date.now() > end) throw new Error(`not within ${timeout} ms: ${fn}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}
