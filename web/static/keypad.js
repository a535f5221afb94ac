/* The simulator's virtual keypad (home page, `deskpi sim` only): the simulated desk's own buttons,
 * pressed and held like the real ones, or latched with a mouse (a click presses, the next lets go);
 * and "Remind me now", which moves the simulated clock ahead to the next reminder.
 */
import { act, call, errorText } from "./api.js";
import { $$, byTestId, showMessage } from "./dom.js";
import { capture, holding, slidOff } from "./hands.js";
import { refresh, refreshReminder } from "./live.js";

const keys = [];
let latch = false;
// One queue for every key, so "pressed" and "released" reach the desk in the order they happened.
let queue = Promise.resolve();

function sendKey(key, pressed) {
  queue = queue
    .then(() => call("POST", `/sim/keys/${encodeURIComponent(key)}`, { pressed }, { keepalive: !pressed }))
    .then((r) => { if (!r.ok) showMessage(errorText(r)); })
    .catch(() => showMessage("could not reach the desk"));
}

$$("[data-sim-key]").forEach((button) => {
  const key = button.dataset.simKey;
  let down = false;

  function set(pressed) {
    if (down === pressed) return;
    down = pressed;
    button.classList.toggle("is-held", pressed);
    button.setAttribute("aria-pressed", String(pressed));
    sendKey(key, pressed);
    holding(button, pressed);
    refresh();
  }

  button.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    if (!latch) capture(button, e);      // held like ▲/▼: the page moving under a still finger never lets go
    set(latch ? !down : true);
  });
  for (const type of ["pointerup", "pointercancel", "pointerleave", "lostpointercapture"]) {
    button.addEventListener(type, () => { if (!latch) set(false); });
  }
  button.addEventListener("pointermove", (e) => { if (!latch && down && slidOff(button, e)) set(false); });
  button.addEventListener("keydown", (e) => {
    if (e.key === " " || e.key === "Enter") {
      e.preventDefault();
      if (!e.repeat) set(latch ? !down : true);
    }
  });
  button.addEventListener("keyup", (e) => {
    if ((e.key === " " || e.key === "Enter") && !latch) {
      e.preventDefault();
      set(false);
    }
  });
  button.addEventListener("blur", () => { if (!latch) set(false); });
  button.addEventListener("contextmenu", (e) => e.preventDefault());
  keys.push({ release: () => set(false) });
});

export const latched = () => latch;

export function releaseAllKeys() {
  for (const k of keys) k.release();
}

const latchButton = byTestId("sim-latch");
if (latchButton) {
  latchButton.addEventListener("click", () => {
    latch = !latch;
    latchButton.setAttribute("aria-pressed", String(latch));
    latchButton.textContent = latch ? "Latch: on" : "Latch: off";
    if (!latch) releaseAllKeys();
  });
}

const remindNow = byTestId("sim-remind-now");
if (remindNow) {
  remindNow.addEventListener("click", () => {
    act("POST", "/sim/next-reminder", {}).then((r) => { if (r.ok) refreshReminder(); });
  });
}
