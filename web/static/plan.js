/* Plan: the person's sit-stand rhythm, working time, confirm or auto, pause today. */
import { act, call, errorText, me } from "./api.js";
import { $, showMessage } from "./dom.js";
import { on, refreshReminder } from "./live.js";

const form = $("[data-plan-form]");
const path = `/users/${encodeURIComponent(me || "")}/plan`;
const quietBox = $("[data-quiet]");
const RHYTHM = ["sit_min", "stand_min", "move_min", "stand_cap_min"];
const HINTS = {
  default: "Sit 30 min, stand 15, move 2; standing time builds up week by week (less is more at first).",
  cornell: "Sit 20 min, stand 8, move 2: the Cornell rhythm, every half hour.",
  custom: "Your own rhythm. Change posture at least every 20–30 minutes; standing for long is no better than sitting.",
};
let plan = null;
let autoAllowed = false;

function quietRow(a, b) {
  const row = document.createElement("div");
  row.className = "inline";
  row.dataset.quietRow = "";
  const n = quietBox.children.length + 1;
  for (const [value, label] of [[a, "from"], [b, "until"]]) {
    const input = document.createElement("input");
    input.type = "time";
    input.value = value || "";
    input.setAttribute("aria-label", `Quiet period ${n} ${label}`);
    row.append(input);
  }
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "btn btn-small btn-quiet";
  remove.textContent = "Remove";
  remove.setAttribute("aria-label", `Remove quiet period ${n}`);
  remove.addEventListener("click", () => row.remove());
  row.append(remove);
  quietBox.append(row);
}

function setKindUi() {
  const kind = form.elements.kind.value;
  for (const el of form.querySelectorAll("[data-rhythm]")) el.disabled = kind !== "custom";
  $("[data-kind-hint]").textContent = HINTS[kind] || "";
}

function fill(p) {
  plan = p;
  form.elements.kind.value = p.kind;
  for (const k of [...RHYTHM, "snooze_min", "warning_s"]) form.elements[k].value = p[k];
  const ramp = form.elements.ramp;
  if (typeof p.ramp === "string") {
    ramp.value = p.ramp;
  } else {
    let opt = ramp.querySelector('option[value="keep"]');
    if (!opt) {
      opt = document.createElement("option");
      opt.value = "keep";
      opt.textContent = "Your own ramp (kept)";
      ramp.append(opt);
    }
    ramp.value = "keep";
  }
  for (const box of form.querySelectorAll('[name="days"]')) box.checked = p.days.includes(box.value);
  form.elements.start.value = p.start;
  form.elements.end.value = p.end;
  quietBox.replaceChildren();
  for (const [a, b] of p.quiet) quietRow(a, b);
  form.elements.mode.value = p.mode;
  const auto = form.querySelector('[name="mode"][value="auto"]');
  auto.disabled = !autoAllowed && p.mode !== "auto";
  auto.closest("label").hidden = auto.disabled;          // offered only where the desk allows it
  $("[data-auto-hint]").textContent = autoAllowed
    ? "Automatic moves only happen while you are at the desk, after a warning; any desk button cancels."
    : "Automatic moves are switched off for this desk by its administrator.";
  setKindUi();
  form.removeAttribute("aria-busy");
}

function collect() {
  const kind = form.elements.kind.value;
  const out = {
    kind,
    days: Array.from(form.querySelectorAll('[name="days"]:checked'), (b) => b.value),
    start: form.elements.start.value,
    end: form.elements.end.value,
    quiet: Array.from(quietBox.querySelectorAll("[data-quiet-row]"), (row) => {
      const [a, b] = row.querySelectorAll("input");
      return [a.value, b.value];
    }).filter(([a, b]) => a || b),
    mode: form.elements.mode.value || "confirm",
    snooze_min: Number(form.elements.snooze_min.value),
    warning_s: Number(form.elements.warning_s.value),
    holidays: plan ? plan.holidays : [],
  };
  if (kind === "custom") {
    for (const k of RHYTHM) out[k] = Number(form.elements[k].value);
    out.ramp = form.elements.ramp.value === "keep" ? plan.ramp : form.elements.ramp.value;
  }
  // default and cornell: the server fills the rhythm from the preset.
  return out;
}

form.addEventListener("change", (e) => { if (e.target.name === "kind") setKindUi(); });
$("[data-add-quiet]").addEventListener("click", () => {
  quietRow("", "");
  quietBox.lastElementChild.querySelector("input").focus();
});
form.addEventListener("submit", (e) => {
  e.preventDefault();
  act("PUT", path, collect(), "plan saved").then((r) => { if (r.ok && r.data && r.data.plan) fill(r.data.plan); });
});

// -- today: pause -------------------------------------------------------------------
const pause = $("[data-pause]");
function renderStatus(snap) {
  const s = snap && snap.status;
  if (!s) return;
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
    if (!isNaN(at)) parts.push(`Next reminder around ${at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}.`);
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
    fill(r.data.plan);
  })
  .catch(() => showMessage("could not load your plan; check the connection"));
refreshReminder();
