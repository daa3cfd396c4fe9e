// How Enter and the Send button reach a chat's send: directly, not through the form's
// submission. Chromium does work of its own before it fires a form's submit event
// (`requestSubmit()`, or a click on a submit button): 1.1-1.5 ms median between the call
// and the submit event's first listener, timed in the page over 200 sends of the
// one-at-a-time benchmark (issue 13), at the start of every message's way to the
// recipient; the same with `novalidate` (so it is not the constraint validation; the
// composer has none anyway: its length limit is checked by the send, limit.ts). With
// the submit event fired without that work the benchmark's p50 went from 13-14 to 10-11 ms. The form stays a form (its onsubmit sends
// too, for any other way it is submitted), so nothing changes for assistive technology.

/** The form's submit handler: `send` instead of the browser's form submission. */
export function submitDirectly(send: () => void) {
  return (ev: Event) => {
    ev.preventDefault();
    send();
  };
}

/**
 * Enter in `text` (Shift+Enter: a new line; not while an input method composes) and a
 * click on `button` call `send` at once; the click's default action (submitting the
 * form) is cancelled, so the browser does not prepare a submission first.
 */
export function sendDirectly(text: HTMLTextAreaElement, button: HTMLButtonElement, send: () => void) {
  text.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      send();
    }
  });
  button.addEventListener('click', (ev) => {
    ev.preventDefault();
    send();
  });
}
