// Updating the sidebar's lists in place. They were rebuilt with replaceChildren on every
// message, receipt and contact change; a click whose mousedown and mouseup straddled a
// rebuild had its element detached in between, so the browser fired no click at all and
// the chat did not open (under load, in a busy conversation). Here each row that is still
// shown keeps its element; only what changed in it is replaced.

/** A row's identity: its link's `data-key`, else its `href` (one row per conversation). */
function keyOf(li: Element): string | null {
  const a = li.childElementCount === 1 ? li.firstElementChild : null;
  if (!(a instanceof HTMLAnchorElement)) return null;
  return a.dataset.key ?? a.getAttribute('href');
}

/** Makes `was` (shown) look like `now` (just built), keeping `was`'s link element. */
function sync(was: Element, now: Element) {
  const a = was.firstElementChild!;
  const b = now.firstElementChild!;
  for (const { name } of Array.from(a.attributes)) if (!b.hasAttribute(name)) a.removeAttribute(name);
  for (const { name, value } of Array.from(b.attributes)) if (a.getAttribute(name) !== value) a.setAttribute(name, value);
  a.replaceChildren(...Array.from(b.childNodes));
}

/**
 * Shows `items` in `list`, in order: a row whose key was already shown keeps its element
 * (updated if it differs), rows no longer in `items` go, and rows are moved only when out
 * of place.
 */
export function patchList(list: HTMLElement, items: HTMLElement[]) {
  const shown = new Map<string, Element>();
  for (const li of Array.from(list.children)) {
    const k = keyOf(li);
    if (k !== null && !shown.has(k)) shown.set(k, li);
  }
  const next = items.map((li) => {
    const k = keyOf(li);
    const was = k === null ? undefined : shown.get(k);
    // Both are an item holding one link (keyOf checked it for each).
    if (!was) return li;
    shown.delete(k!);
    if (!was.isEqualNode(li)) sync(was, li);
    return was;
  });
  const keep = new Set<Element>(next);
  for (const li of Array.from(list.children)) if (!keep.has(li)) li.remove();
  next.forEach((li, i) => {
    if (list.children[i] !== li) list.insertBefore(li, list.children[i] ?? null);
  });
}
