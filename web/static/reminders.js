/* Reminders page: the live prompt (filled by reminder.js), a stretch timer and today's summary. */
import { $, showMessage } from "./dom.js";
import { forViewer, on, reminder, someoneElseAtDesk } from "./live.js";

const timerBox = $("[data-timer-box]");
const timerText = $("[data-timer]");
const startButton = $("[data-timer-start]");
let duration = 0;
let endsAt = null;
let tick = null;
let forId = null;

const clock = (s) => `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;

function stopTimer() {
  clearInterval(tick);
  tick = null;
  endsAt = null;
  startButton.textContent = "Start timer";
}

function showTimer() {
  const left = endsAt === null ? duration : Math.max(0, Math.ceil((endsAt - Date.now()) / 1000));
  timerText.textContent = clock(left);
  if (endsAt !== null && left === 0) {
    stopTimer();
    timerText.textContent = "Done!";
    showMessage("well done – tap Done to record it", "ok");
  }
}

startButton.addEventListener("click", () => {
  if (endsAt !== null) { stopTimer(); showTimer(); return; }
  endsAt = Date.now() + duration * 1000;
  startButton.textContent = "Stop timer";
  tick = setInterval(showTimer, 250);
  showTimer();
});

function render(snap) {
  const atDesk = someoneElseAtDesk();
  const yours = forViewer(snap);
  const r = yours ? snap.reminder : null;
  $("[data-no-reminder]").hidden = Boolean(r);
  if (atDesk) {
    $("[data-next-reminder]").textContent = `${atDesk} is at the desk, so the reminders are theirs. Claim the desk on the home page to get yours.`;
  }
  if (!r || r.id !== forId) stopTimer();
  forId = r ? r.id : null;
  if (r) {
    duration = r.stretch && r.stretch.duration_s ? Number(r.stretch.duration_s)
      : (typeof r.minutes === "number" && (r.kind === "move" || r.kind === "stretch") ? r.minutes * 60 : 0);
    timerBox.hidden = !(duration > 0);
    if (endsAt === null) showTimer();
  }
  const s = snap && snap.status;
  if (!s || !yours) return;
  const set = (k, v) => { $(`[data-s="${k}"]`).textContent = v; };
  // "Standing" (today's goal) is goal.js's, as on the home page.
  set("changes", String(s.posture_changes ?? "–"));
  set("reminders", String(s.reminders ?? "–"));
  set("mode", s.paused_today ? "paused today" : (s.mode === "auto" ? "moves by itself after a warning" : "asks you first"));
  const next = $("[data-next-reminder]");
  if (s.paused_today) next.textContent = "Reminders are paused for today.";
  else if (s.next && s.next.at) {
    const at = new Date(s.next.at);
    if (!isNaN(at)) next.textContent = `The next one is due around ${at.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}.`;
  }
}

on("reminder", render);
if (reminder()) render(reminder());
