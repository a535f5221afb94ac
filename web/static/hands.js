/* Whether a finger (or a held key) is on a control that moves the desk right now: ▲/▼ (hold.js) or
 * a key of the simulator's keypad (keypad.js). Something that would cover the page (the break
 * screen) waits until the hands are free, so it never lands under a finger mid-hold: the person
 * keeps seeing the button they hold, and letting go stops the desk as it always does.
 */
const down = new Set();
let waiting = [];

/** `who` (any object) is holding a moving control (true) or has let go (false). */
export function holding(who, on) {
  if (on) {
    down.add(who);
    return;
  }
  down.delete(who);
  if (down.size) return;
  const run = waiting;
  waiting = [];
  for (const fn of run) fn();
}

export const handsBusy = () => down.size > 0;

/** Run `fn` now, or once every held control is let go (asked again while waiting: once). */
export function whenHandsFree(fn) {
  if (!down.size) fn();
  else if (!waiting.includes(fn)) waiting.push(fn);
}

/** Capture a finger on a held control, so the page moving under a still finger (a message appearing
 * above it) never lets go; the pointer's own events then say when it is lifted. */
export function capture(button, e) {
  try { button.setPointerCapture(e.pointerId); } catch (_) { /* not capturable: fine */ }
}

/** Whether a captured finger has slid off `button` (a little slack for a thumb): that lets go. */
export function slidOff(button, e) {
  const b = button.getBoundingClientRect();
  const slack = 24;
  return e.clientX < b.left - slack || e.clientX > b.right + slack ||
    e.clientY < b.top - slack || e.clientY > b.bottom + slack;
}
