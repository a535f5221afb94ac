/* deskpi: the script on every page (the page's own script comes after it).
 *
 * It starts the live feed (live.js) and shows what it brings: the height and state readouts, the
 * child lock, the fault, the presets, the claim (claim.js) and the reminder (reminder.js). It owns
 * Stop (the bar on every page, and Escape), and the home page's controls: hold-to-run (hold.js),
 * clearing a fault and the simulator's keypad (keypad.js); its presets are presets.js. When the window loses focus or
 * the page is hidden or left, every hold and key is let go.
 *
 * CSP: no inline scripts or style attributes; every text is set with textContent, never as HTML.
 */
import { API, act, call, errorText } from "./api.js";
import { $, byTestId, setHidden, setText, showMessage } from "./dom.js";
import { endAllHolds } from "./hold.js";
import { latched, releaseAllKeys } from "./keypad.js";
import { connect, disconnect, on, refresh, start } from "./live.js";
import { finite, height, num } from "./units.js";
import { moverText } from "./moving.js";
import "./claim.js";
import "./reminder.js";
import "./goal.js";

const body = document.body;

// -- the readouts -----------------------------------------------------------------------
const el = {
  height: byTestId("height"),
  state: byTestId("state"),
  target: byTestId("target"),
  targetMm: byTestId("target-mm"),
  owner: byTestId("owner"),
  locked: byTestId("locked"),
  faultBox: byTestId("fault-box"),
  fault: byTestId("fault"),
  clear: byTestId("btn-clear-fault"),
  stop: byTestId("btn-stop"),
  announce: byTestId("height-announce"),
  miniHeight: $("[data-mini-height]"),
  miniState: $("[data-mini-state]"),
  presetsOwner: $("[data-presets-owner]"),
};

on("state", (s, previous) => {
  const state = String(s.state || "unknown");
  setText(el.height, num(s.height_mm));
  setText(el.state, state);
  body.dataset.state = state;
  setText(el.miniHeight, height(s.height_mm));
  setText(el.miniState, state);
  setHidden(el.target, !finite(s.target_mm));
  setText(el.targetMm, height(s.target_mm));
  const mover = moverText(s);
  setHidden(el.owner, !mover);
  setText(el.owner, mover);
  setHidden(el.locked, !s.locked);
  setHidden(el.faultBox, !s.fault);
  setText(el.fault, s.fault ? String(s.fault) : "");
  if (el.announce && previous && previous.state !== state && state === "idle") {
    setText(el.announce, `Desk stopped at ${height(s.height_mm)}`);
  }
  if (el.presetsOwner && "active_user" in s) {
    setText(el.presetsOwner, s.active_user ? `· ${s.active_user}` : "· the desk's own");
  }
});

// -- stop, fault -----------------------------------------------------------------
function stopNow() {
  endAllHolds();
  call("POST", "/stop", undefined, { keepalive: true })
    .then((r) => {
      if (r.status === 401) showMessage("sign in to stop the desk from here – or use the desk's own buttons");
      else if (!r.ok) showMessage(errorText(r));
      else if (body.dataset.page === "login") showMessage("stopped – the desk's own buttons always stop it too", "ok");
      refresh();
    })
    .catch(() => showMessage("could not reach the desk to stop it; use the desk's own buttons"));
}

// Stop reacts on the press itself, not on the click that follows it.
let stopPressedAt = 0;
el.stop.addEventListener("pointerdown", (e) => {
  if (e.pointerType === "mouse" && e.button !== 0) return;
  stopPressedAt = Date.now();
  stopNow();
});
el.stop.addEventListener("click", () => {
  if (Date.now() - stopPressedAt > 1000) stopNow();     // keyboard, or a click without a pointerdown
});
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") stopNow();
});

if (el.clear) el.clear.addEventListener("click", () => act("POST", "/clear-fault", {}, "fault cleared"));

const signOut = $("[data-sign-out]");
if (signOut) {
  signOut.addEventListener("click", () => {
    endAllHolds();
    call("DELETE", "/session")
      .catch(() => null)
      .then(() => { window.location.assign(`${API.replace(/\/api\/v1$/, "")}/`); });
  });
}

// -- the page going away: let go of everything ---------------------------------------------
function letGo() {
  endAllHolds();
  releaseAllKeys();
}
window.addEventListener("blur", () => {
  endAllHolds();
  if (!latched()) releaseAllKeys();
});
window.addEventListener("pagehide", letGo);
document.addEventListener("visibilitychange", () => {
  if (document.hidden) {
    letGo();
    disconnect();            // no radio time for a page nobody looks at
  } else {
    connect();
    refresh();
  }
});

start();

// Every module of the page has run by now (module scripts run before this event): its controls answer.
// Browser tests wait for this mark before they press anything.
document.addEventListener("DOMContentLoaded", () => { body.dataset.ready = "true"; });
