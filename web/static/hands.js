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
