/* Plan: the person's sit-stand rhythm and standing goal, working time, quiet periods, holidays,
 * confirm or auto, pause today. Fields that do not apply are hidden: the numbers and the ramp
 * unless the plan is their own, the week rows unless the ramp is their own, the warning unless
 * the desk moves by itself. The plan's name comes from the desk (made from its numbers).
 */
import { act, call, errorText, me } from "./api.js";
import { $, setHidden, setText, showMessage } from "./dom.js";
import { forViewer, on, refreshReminder, someoneElseAtDesk } from "./live.js";
import {
  holidayItem, holidayValues, localTime, quietRow, quietValues, rampRow, rampValues,
} from "./plan_rows.js";

const form = $("[data-plan-form]");
const path = `/users/${encodeURIComponent(me || "")}/plan`;
const quietBox = $("[data-quiet]");
const holidayList = $("[data-holidays]");
const rampBox = $("[data-ramp-list]");
const RHYTHM = ["sit_min", "stand_min", "move_min", "stand_cap_min"];
const HINTS = {
  default: "Standing time builds up week by week: less is more at first.",
  cornell: "The Cornell rhythm: a posture change every 20 minutes, the same every week.",
  custom: "Change posture at least every 20–30 minutes; standing for long is no better than sitting.",
};
let plan = null;
let autoAllowed = false;

const radio = (name, value) => form.querySelector(`[name="${name}"][value="${value}"]`);

// -- what shows ----------------------------------------------------------------------------
function setVisibility() {
  const kind = form.elements.kind.value;
  setHidden($("[data-custom]"), kind !== "custom");
  setText($("[data-kind-hint]"), HINTS[kind] || "");
  setHidden($("[data-ramp-rows]"), form.elements.ramp.value !== "custom");
  setHidden($("[data-warning-field]"), form.elements.mode.value !== "auto");
}

const span = (a, b) => `${a}\u00a0–\u00a0${b}`;      // a period stays on one line
function summariseHours() {
  const start = localTime(form.elements.start.value);
  const end = localTime(form.elements.end.value);
  const quiet = quietValues(quietBox).filter(([a, b]) => a && b)
    .map(([a, b]) => span(localTime(a), localTime(b)));
  setText($("[data-hours-summary]"), start && end
    ? `Reminders ${span(start, end)}${quiet.length ? `, not ${quiet.join(", ")}` : ""}.` : "");
}

// -- filling the form from the desk's plan ----------------------------------------------------
function fillRamp(ramp) {
  rampBox.replaceChildren();
  if (typeof ramp === "string") {
    form.elements.ramp.value = ramp;
  } else {
    form.elements.ramp.value = "custom";
    for (const point of ramp) rampRow(rampBox, point);
  }
}

function fill(p, label) {
  plan = p;
  form.elements.kind.value = p.kind;
  for (const k of [...RHYTHM, "snooze_min", "warning_s"]) form.elements[k].value = p[k];
  fillRamp(p.ramp);
  for (const box of form.querySelectorAll('[name="days"]')) box.checked = p.days.includes(box.value);
  form.elements.start.value = p.start;
  form.elements.end.value = p.end;
  quietBox.replaceChildren();
  for (const q of p.quiet) quietRow(quietBox, q, summariseHours);
  holidayList.replaceChildren();
  for (const day of p.holidays) holidayItem(holidayList, day, () => {});
  form.elements.mode.value = p.mode;
  const auto = radio("mode", "auto");
  auto.disabled = !autoAllowed && p.mode !== "auto";
  auto.closest("label").hidden = auto.disabled;          // offered only where the desk allows it
  setText($("[data-auto-hint]"), autoAllowed
    ? "Automatic moves only happen while you are at the desk, after a warning; any desk button cancels."
    : "Automatic moves are switched off for this desk by its administrator.");
  if (label) setText($("[data-plan-label]"), label);
  setVisibility();
  summariseHours();
  form.removeAttribute("aria-busy");
}

// -- the person's changes ----------------------------------------------------------------------
form.addEventListener("change", (e) => {
  const name = e.target.name;
  if (name === "ramp" && e.target.value === "custom" && !rampBox.children.length) {
    // A ramp of one's own starts from the one chosen before (or the standard one).
    const from = plan && Array.isArray(plan.ramp) ? plan.ramp
      : JSON.parse((radio("ramp", "standard").dataset.points) || "[]");
    for (const point of from) rampRow(rampBox, point);
  }
  if (name === "kind" || name === "ramp" || name === "mode") setVisibility();
  if (name === "start" || name === "end") summariseHours();
});
form.elements.start.addEventListener("input", summariseHours);
form.elements.end.addEventListener("input", summariseHours);

$("[data-add-quiet]").addEventListener("click", () => {
  quietRow(quietBox, ["", ""], summariseHours).focus();
});
$("[data-ramp-add]").addEventListener("click", () => {
  const last = rampValues(rampBox).at(-1);
  rampRow(rampBox, last ? [last[0] + 4, last[1]] : [1, 60]).focus();
});
$("[data-holiday-add]").addEventListener("click", () => {
  const input = $("[data-holiday-date]");
  const day = input.value;
  if (!day) { showMessage("choose a date first, then Add"); input.focus(); return; }
  const days = new Set([...holidayValues(holidayList), day]);
  holidayList.replaceChildren();
  for (const d of [...days].sort()) holidayItem(holidayList, d, () => {});
  input.value = "";
});

function collect() {
  const kind = form.elements.kind.value;
  const out = {
    kind,
    days: Array.from(form.querySelectorAll('[name="days"]:checked'), (b) => b.value),
    start: form.elements.start.value,
    end: form.elements.end.value,
    quiet: quietValues(quietBox),
    mode: form.elements.mode.value || "confirm",
    snooze_min: Number(form.elements.snooze_min.value),
    warning_s: Number(form.elements.warning_s.value),
    holidays: holidayValues(holidayList),
  };
  if (kind === "custom") {
    for (const k of RHYTHM) out[k] = Number(form.elements[k].value);
    out.ramp = form.elements.ramp.value === "custom" ? rampValues(rampBox) : form.elements.ramp.value;
  }
  // default and cornell: the desk fills the rhythm and the ramp from the preset.
  return out;
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const body = collect();
  if (Array.isArray(body.ramp)) {
    if (!body.ramp.length) { showMessage("your own ramp needs at least one week: Add a week, or choose another ramp"); return; }
    if (body.ramp.some(([w, m]) => !Number.isInteger(w) || !Number.isInteger(m))) {
      showMessage("every week of your ramp needs a week number (1–520) and whole minutes (0–720)");
      return;
    }
  }
  act("PUT", path, body, "plan saved").then((r) => {
    if (r.ok && r.data && r.data.plan) fill(r.data.plan, r.data.label);
  });
});

// -- today: pause -------------------------------------------------------------------
const pause = $("[data-pause]");
function renderStatus(snap) {
  const s = snap && snap.status;
  if (!s) return;
  if (!forViewer(snap)) {
    const atDesk = someoneElseAtDesk();
    // Until the server's reminders follow you to the desk (a second at most) there is nothing to say.
    if (atDesk) $("[data-today]").textContent = `${atDesk} is at the desk, so today's reminders are theirs.`;
    return;
  }
  const paused = Boolean(s.paused_today);
  pause.setAttribute("aria-pressed", String(paused));
  pause.textContent = paused ? "Resume reminders today" : "Pause reminders for today";
  const parts = [];
  if (typeof s.standing_min === "number") {
    parts.push(`Standing so far: ${Math.round(s.standing_min)} min${typeof s.goal_min === "number" ? ` of ${s.goal_min}` : ""}.`);
  }
  if (typeof s.posture_changes === "number") parts.push(`Posture changes: ${s.posture_changes}.`);
  if (paused) parts.push("Reminders are paused until tomorrow.");
  else if (s.next && s.next.at) {
    const at = new Date(s.next.at);
    if (!isNaN(at)) parts.push(`Next reminder around ${at.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" })}.`);
  }
  $("[data-today]").textContent = parts.join(" ") || "No reminders today.";
}
on("reminder", renderStatus);
pause.addEventListener("click", () => {
  const paused = pause.getAttribute("aria-pressed") !== "true";
  act("POST", "/reminders/pause-today", { paused }, paused ? "reminders paused for today" : "reminders back on")
    .then(() => refreshReminder());
});

// -- load ------------------------------------------------------------------------------
Promise.all([call("GET", "/session").catch(() => null), call("GET", path)])
  .then(([session, r]) => {
    const desk = session && session.ok && session.data && session.data.desk;
    autoAllowed = Boolean(desk && desk.auto_moves_allowed);
    if (!r.ok) { showMessage(errorText(r)); return; }
    fill(r.data.plan, r.data.label);
  })
  .catch(() => showMessage("could not load your plan; check the connection"));
refreshReminder();
