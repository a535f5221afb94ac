/* Feedback while the desk goes to a height (a preset, a reminder's "Lower to 66 cm now"): a progress
 * bar above the stop bar with the distance and time left, then "Arrived at 106.7 cm" (or where it
 * stopped short) in the message line, which replaces the toast that announced the move. Also the
 * words for who or what is moving the desk ("from your phone", "from the desk's buttons").
 *
 * Everything comes from the desk's state: the height, the target, the learned speed (speed_mm_s)
 * and who asked (moved_by), so every phone shows the same move the same way.
 */
import { me, samePerson } from "./api.js";
import { $, byTestId, clearMessage, setHidden, setText, showMessage, updateMessage } from "./dom.js";
import { on } from "./live.js";
import { finite, height } from "./units.js";

const ARRIVED_MM = 10;          // closer than this to the target is "arrived", not "stopped short"
const box = byTestId("move-progress");
const bar = byTestId("move-progress-bar");
const fill = $("[data-move-fill]");
const left = byTestId("move-remaining");

let move = null;                // { target, from } while a move to a height is under way
let endedMessage = 0;
let endedAt = null;             // the target of the move that just ended, while its message shows

const busy = (s) => s.state === "moving" || s.state === "settling";

/** "from your phone", "from the desk's buttons", "for a reminder"... ("" when nothing moves the desk). */
export function moverText(s) {
  const m = s && s.moved_by;
  if (!m || typeof m !== "object") {
    // A desk that does not say who: the old source names, in words.
    const old = { button: "from the desk's buttons", schedule: "for a reminder", remote: "from a phone or app" };
    return s && s.owner ? `— ${old[s.owner] || "from elsewhere"}` : "";
  }
  const who = m.user ? String(m.user) : null;
  const mine = who && me && samePerson(who, me);
  const words = {
    buttons: "from the desk's buttons",
    reminder: "for a reminder",
    phone: mine ? "from your phone" : who ? `from ${who}'s phone` : "from a phone",
    app: mine ? "from an app signed in as you" : who ? `from an app signed in as ${who}` : "from an app",
    cli: "from the desk's command line",
  }[m.kind] || "from a phone or app";
  return `— ${words}`;
}

function showProgress(s) {
  const togo = Math.abs(move.target - s.height_mm);
  const total = Math.abs(move.target - move.from);
  const pct = total > 0 ? Math.round(100 * Math.min(1, Math.max(0, 1 - togo / total))) : 100;
  const speed = finite(s.speed_mm_s) && s.speed_mm_s > 0 ? s.speed_mm_s : null;
  const secs = speed === null ? null : Math.ceil(togo / speed);
  const rest = togo < 1 ? "almost there" : `${height(togo)} to go${secs === null ? "" : `, about ${secs} s`}`;
  const where = `Going to ${height(move.target)}`;
  bar.setAttribute("aria-label", where);
  bar.setAttribute("aria-valuenow", String(pct));
  bar.setAttribute("aria-valuetext", `${pct} %: ${rest}`);
  if (fill) fill.style.transform = `scaleX(${pct / 100})`;     // CSSOM, allowed by the CSP
  setText(left, `${where}: ${rest}`);
  setHidden(box, false);
  document.body.classList.add("is-going");
}

function hideProgress() {
  setHidden(box, true);
  document.body.classList.remove("is-going");
}

function endedText(h, target) {
  const off = Math.abs(h - target);
  return off <= ARRIVED_MM ? `Arrived at ${height(h)}`
    : `Stopped at ${height(h)}, ${height(off)} ${h < target ? "below" : "above"} ${height(target)}`;
}

function ended(s) {
  hideProgress();
  const target = move.target;
  move = null;
  endedAt = null;
  if (s.state !== "idle" || !finite(s.height_mm)) return;     // a fault says so in its own box
  endedAt = target;
  endedMessage = showMessage(endedText(s.height_mm, target), "ok");   // replaces "going to preset 2..."
}

if (box && bar) {
  on("state", (s) => {
    const target = finite(s.target_mm) ? s.target_mm : null;
    if (busy(s) && target !== null && finite(s.height_mm)) {
      if (!move || Math.abs(move.target - target) > 0.5) {
        clearMessage(endedMessage);                              // the last move's "Arrived" is old news
        endedAt = null;
        move = { target, from: s.height_mm };
      }
      showProgress(s);
    } else if (move && !busy(s)) {
      ended(s);
    } else if (endedAt !== null && s.state === "idle" && finite(s.height_mm)) {
      // The last readings of the settled desk: the message says the height the page shows.
      updateMessage(endedMessage, endedText(s.height_mm, endedAt));
    }
  });
}
