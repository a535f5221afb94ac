/* DOM helpers for every page script: find elements, change text and visibility only when they
 * differ (no needless layout, no repeated screen-reader announcements), lists filled as text
 * (never as HTML), and the message line every page has.
 */
import { place } from "./anchor.js";

const MESSAGE_MS = 6000;

export const $ = (sel, root) => (root || document).querySelector(sel);
export const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
export const byTestId = (id) => $(`[data-testid="${id}"]`);

export function setText(node, text) {
  if (node && node.textContent !== text) node.textContent = text;
}

export function setHidden(node, hidden) {
  if (node && node.hidden !== hidden) node.hidden = hidden;
}

/** A <ul>/<ol> of texts (as text, never HTML). */
export function fillList(list, items) {
  if (!list) return;
  list.replaceChildren(...(items || []).map((text) => {
    const li = document.createElement("li");
    li.textContent = String(text);
    return li;
  }));
}

const messageEl = byTestId("message");
let messageTimer = null;
let messageId = 0;

/** Say something in the page's message line (aria-live): the desk's refusal, or "saved". Returns the
 * message's id for clearMessage, so a message can go when its moment has passed. */
export function showMessage(text, kind = "error") {
  if (!messageEl) return 0;
  messageEl.textContent = text;
  messageEl.dataset.kind = kind;
  place(messageEl, kind);                      // an error sits by the control that caused it
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => { messageEl.textContent = ""; }, MESSAGE_MS);
  return ++messageId;
}

/** Put `text` in place of the message with `id`, if it is still shown (its time is not restarted). */
export function updateMessage(id, text) {
  if (messageEl && id === messageId && messageEl.textContent) messageEl.textContent = text;
}

/** Take the message away: the one with `id` if it is still shown, or (no id) whatever is shown. */
export function clearMessage(id) {
  if (!messageEl || (id !== undefined && id !== messageId)) return;
  clearTimeout(messageTimer);
  messageEl.textContent = "";
}
