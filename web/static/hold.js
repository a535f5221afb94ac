/* Hold-to-run: the home page's ▲ and ▼, by finger, mouse or keyboard (Space or Enter held).
 *
 * Dead-man safety: a hold is a lease the desk grants for 0.5 s; while a hold button is down this
 * page renews it every 150 ms and sends /release the moment the button is let go, the finger
 * slides off, the pointer is cancelled or the button loses focus (app.js adds the window losing
 * focus and the page being hidden). If the page dies or the network drops, the renewals stop and
 * the desk stops by itself; a renewal that fails ends the hold for good.
 */
import { call, errorText, signedOut } from "./api.js";
import { $$, clearMessage, showMessage } from "./dom.js";
import { capture, holding, slidOff } from "./hands.js";
import { pollFastWhile, refresh } from "./live.js";

const HOLD_MS = 150;
const holds = [];

export const anyHoldActive = () => holds.some((h) => h.active);
pollFastWhile(anyHoldActive);

function releaseNow() {
  call("POST", "/release", undefined, { keepalive: true }).catch(() => {
    // The lease runs out by itself within 0.5 s.
  });
}

function makeHold(button) {
  const direction = button.dataset.hold;
  let active = false;
  let inflight = false;
  let timer = null;
  let pointerId = null;

  function renew() {
    if (!active || inflight) return;             // never queue renewals behind a slow network
    inflight = true;
    call("POST", "/hold", { direction })
      .then((r) => {
        if (r.status === 401) signedOut();
        if (!r.ok) {
          showMessage(errorText(r));
          end();
        }
      })
      .catch(() => {
        // The desk stops by itself when renewals stop; a hold must not come back to life
        // when the link does, so this one is over: let go and press again.
        if (active) {
          showMessage("connection lost – the desk stopped by itself; let go and press again");
          end();
        }
      })
      .finally(() => {
        inflight = false;
        // A renewal still on its way when the button was let go may arrive after the
        // release: release again so it cannot keep the desk going.
        if (!active) releaseNow();
      });
  }

  function start() {
    if (active) return;
    for (const other of holds) if (other !== hold) other.end();
    clearMessage();                 // "you released the desk", "Arrived at...": a new hold makes them old news
    active = true;
    holding(hold, true);
    button.classList.add("is-held");
    button.setAttribute("aria-pressed", "true");
    renew();
    timer = setInterval(renew, HOLD_MS);
    refresh();
  }

  function end() {
    if (!active) return;
    active = false;
    pointerId = null;
    clearInterval(timer);
    timer = null;
    button.classList.remove("is-held");
    button.setAttribute("aria-pressed", "false");
    releaseNow();
    holding(hold, false);
  }

  button.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    pointerId = e.pointerId;
    capture(button, e);
    start();
  });
  for (const type of ["pointerup", "pointercancel", "pointerleave", "lostpointercapture"]) {
    button.addEventListener(type, (e) => {
      if (pointerId === null || e.pointerId === pointerId) end();
    });
  }
  // With the pointer captured, sliding off the button sends no pointerleave: check the bounds.
  button.addEventListener("pointermove", (e) => {
    if (active && e.pointerId === pointerId && slidOff(button, e)) end();
  });
  button.addEventListener("keydown", (e) => {
    if (e.key === " " || e.key === "Enter") {
      e.preventDefault();
      if (!e.repeat) start();
    }
  });
  button.addEventListener("keyup", (e) => {
    if (e.key === " " || e.key === "Enter") {
      e.preventDefault();
      end();
    }
  });
  button.addEventListener("blur", end);
  button.addEventListener("contextmenu", (e) => e.preventDefault());   // long press on a phone
  button.addEventListener("selectstart", (e) => e.preventDefault());

  const hold = { end, get active() { return active; } };
  holds.push(hold);
  return hold;
}

$$("[data-hold]").forEach(makeHold);

/** Let go of every hold (Stop, a preset, signing out, the page going away). */
export function endAllHolds() {
  for (const h of holds) h.end();
}
