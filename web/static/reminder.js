/* The live reminder wherever a page shows it (the home page's card, the reminders page, the nav
 * dot, the break screen, a notification) and the answers to it. Reminders are for whoever is at the
 * desk: someone else's is not shown as yours.
 *
 * No surprise motion: "Done" records the reminder and moves nothing. When the reminder ends in
 * another posture, a separate button says what it does ("Lower to 66.0 cm now"); a break that ends
 * in another posture also offers "Remind me when I'm back" (in auto mode the page says instead that
 * the desk moves by itself, after a warning, once the break is over).
 *
 * A break (a walk, a stretch) opens the break screen (break.js) once per delivery; when it comes
 * while the page is hidden it is a notification instead (notify.js, opt-in), and the break screen
 * opens when the page is seen again or the notification is tapped. It never opens under a finger that
 * holds ▲/▼ or a desk key (hands.js): it waits until the person lets go, which stops the desk as always.
 */
import { act, errorText, me } from "./api.js";
import { breakShowing, closeBreak, openBreak, sayInBreak, updateBreak } from "./break.js";
import { $, $$, setHidden, setText } from "./dom.js";
import { handsBusy, whenHandsFree } from "./hands.js";
import {
  followReminders, forViewer, on, refreshReminder, reminder, state, stayLiveWhileHidden, takeReminder,
} from "./live.js";
import { notify, notifying, onNotificationTap } from "./notify.js";
import { finite, height } from "./units.js";

const boxes = $$("[data-reminder]");
const dot = $("[data-reminder-dot]");
if (me) {
  followReminders();
  stayLiveWhileHidden(notifying);
}

const AT_TARGET_MM = 15;            // this close to the reminder's height, there is nothing to move
const SEEN_KEY = "deskpi.reminders-seen";
const TITLES = {
  stand: "Time to stand up",
  sit: "Time to sit down",
  move: "Time to move",
  stretch: "Time for a stretch",
};

const isBreak = (r) => r.kind === "move" || r.kind === "stretch";

/** The live reminder if it is for the person signed in here. */
function mine(snap) {
  return forViewer(snap) ? snap.reminder || null : null;
}

/** Everything the card and the break screen show for reminder `r`, the desk being as in `s`. */
export function reminderView(r, s) {
  const h = s && finite(s.height_mm) ? s.height_mm : null;
  const to = finite(r.target_mm) ? r.target_mm : null;
  const there = Boolean(r.target) && to !== null && h !== null && Math.abs(h - to) <= AT_TARGET_MM;
  const lower = to !== null && h !== null ? to < h : r.target === "sit";
  const auto = r.mode === "auto";
  const stretch = r.stretch && typeof r.stretch === "object" ? r.stretch : null;
  const thenMove = Boolean(r.target) && !there;
  const moveLabel = thenMove && to !== null ? `${lower ? "Lower" : "Raise"} to ${height(to)} now` : null;
  const laterLabel = thenMove && isBreak(r) && !auto ? "Remind me when I'm back" : null;
  let note = "";
  if (thenMove && to === null) {
    note = `There is no ${r.target} preset to go to: use the desk's own buttons, or save one on the home page.`;
  } else if (thenMove && auto && isBreak(r)) {
    note = `When the break is over, the desk ${lower ? "lowers" : "raises"} itself to ${height(to)} after a `
      + "warning; press any desk button to cancel. Done records the break and moves nothing.";
  } else if (thenMove && auto) {
    note = "The desk moves by itself after a short warning; press any desk button to cancel.";
  } else if (thenMove) {
    note = "Done records it and moves nothing.";
  }
  let message = String(r.message || "");
  if (!message && finite(r.minutes)) message = `For about ${r.minutes} min.`;
  const seconds = stretch && finite(stretch.duration_s) ? stretch.duration_s
    : (isBreak(r) && finite(r.minutes) ? Math.round(r.minutes * 60) : 0);
  return {
    id: String(r.id || ""), key: `${r.id}@${r.issued_at || ""}`, kind: String(r.kind || ""), isBreak: isBreak(r),
    title: stretch && stretch.title ? String(stretch.title) : (TITLES[r.kind] || "Time to change posture"),
    message: message.trim(), helps: stretch ? String(stretch.helps || "") : "",
    steps: stretch && Array.isArray(stretch.steps) ? stretch.steps.map(String) : [],
    cautions: stretch && Array.isArray(stretch.cautions) ? stretch.cautions.map(String) : [],
    stretchId: stretch ? String(stretch.id || "") : "", seconds, moveLabel, laterLabel, note,
  };
}

// -- answering -------------------------------------------------------------------------------------
const ANSWERS = {
  confirm: { path: "confirm", body: { move: false }, ok: "done – well moved" },
  move: { path: "confirm", body: { move: true }, ok: (d) => `going to ${height(d && d.target_mm)}` },
  later: { path: "confirm", body: { move: false, when_back: true },
    ok: "enjoy the break – you will be asked again when it is over" },
  snooze: { path: "snooze", body: {}, ok: "snoozed" },
  skip: { path: "skip", body: {}, ok: "skipped" },
};

function answerReminder(action, id) {
  const a = ANSWERS[action];
  if (!a) return;
  act("POST", `/reminder/${a.path}`, { id: id || undefined, ...a.body }, a.ok).then((r) => {
    if (!r.ok && r.status) sayInBreak(errorText(r));       // the page's message line is under the dialog
    if (r.ok && r.data && "reminder" in r.data) {
      takeReminder({ ...(reminder() || {}), reminder: r.data.reminder });
    } else {
      refreshReminder();
    }
  });
}

// -- showing ------------------------------------------------------------------------------------------
function fillSteps(list, items) {
  if (!list) return;
  const now = Array.from(list.children).map((li) => li.textContent).join("\n");
  if (now === items.join("\n")) return;            // no churn for screen readers at every height change
  list.replaceChildren(...items.map((text) => {
    const li = document.createElement("li");
    li.textContent = text;
    return li;
  }));
}

function renderCard(box, v) {
  box.dataset.kind = v.kind;
  box.dataset.id = v.id;
  setText($('[data-r="title"]', box), v.title);
  setText($('[data-r="message"]', box), v.message);
  const note = $('[data-r="note"]', box);
  setText(note, v.note);
  setHidden(note, !v.note);
  const move = $('[data-r-action="move"]', box);
  setText(move, v.moveLabel || "");
  setHidden(move, !v.moveLabel);
  const later = $('[data-r-action="later"]', box);
  setText(later, v.laterLabel || "");
  setHidden(later, !v.laterLabel);
  const confirm = $('[data-r-action="confirm"]', box);
  setText(confirm, "Done");
  if (confirm) confirm.classList.toggle("btn-primary", !v.moveLabel);
  setHidden($('[data-r-action="open"]', box), !v.isBreak);
  setText($('[data-r="helps"]', box), v.helps);
  fillSteps($('[data-r="steps"]', box), v.steps);
  fillSteps($('[data-r="cautions"]', box), v.cautions);
}

let seen;
try { seen = JSON.parse(sessionStorage.getItem(SEEN_KEY) || "[]"); } catch (_) { seen = []; }
const notified = new Set();

function markSeen(key) {
  seen = [...seen.filter((k) => k !== key), key].slice(-20);
  try { sessionStorage.setItem(SEEN_KEY, JSON.stringify(seen)); } catch (_) { /* this page only */ }
}

function showBreak(v) {
  markSeen(v.key);
  if (v.isBreak) openBreak(v, answerReminder);
  else if (boxes[0]) boxes[0].scrollIntoView({ block: "center" });
}

function render(snap) {
  const r = mine(snap);
  setHidden(dot, !r);
  const v = r ? reminderView(r, state()) : null;
  for (const box of boxes) {
    setHidden(box, !v);
    if (v) renderCard(box, v);
  }
  const showing = breakShowing();
  if (showing !== null && (!v || v.id !== showing)) closeBreak();       // answered, lapsed or elsewhere
  if (!v) return;
  if (showing === v.id) updateBreak(v);
  if (seen.includes(v.key)) return;
  if (document.hidden) {
    // Not seen yet: a notification now (if wanted), the break screen when the page is seen again.
    if (!notified.has(v.key)) {
      notified.add(v.key);
      notify(v.id, v.title, [v.message, v.moveLabel ? `${v.moveLabel}?` : ""].filter(Boolean).join(" "));
    }
    return;
  }
  if (!v.isBreak) {
    markSeen(v.key);
  } else if (handsBusy()) {
    // A finger holds ▲/▼ (or a desk key): the screen would land under it mid-move. Once it lets go.
    whenHandsFree(renderAgain);
  } else {
    showBreak(v);
  }
}

function renderAgain() {
  if (reminder()) render(reminder());
}

on("reminder", render);
on("state", renderAgain);        // the labels follow the desk's height
document.addEventListener("visibilitychange", () => { if (!document.hidden) renderAgain(); });
onNotificationTap((id) => {
  const r = mine(reminder());
  if (r && String(r.id) === id) showBreak(reminderView(r, state()));
});

for (const box of boxes) {
  for (const button of $$("[data-r-action]", box)) {
    button.addEventListener("click", () => {
      const action = button.dataset.rAction;
      if (action === "open") {
        const r = mine(reminder());
        if (r) showBreak(reminderView(r, state()));
        return;
      }
      answerReminder(action, box.dataset.id);
    });
  }
}
