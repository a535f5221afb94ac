/* The live reminder wherever a page shows it (the home page's card, the reminders page, the nav
 * dot) and its confirm / snooze / skip buttons. Reminders are for whoever is at the desk: someone
 * else's is not shown as yours.
 */
import { act, me, samePerson } from "./api.js";
import { $, $$, fillList, setHidden, setText } from "./dom.js";
import { followReminders, on, refreshReminder, reminder, state, takeReminder } from "./live.js";
import { finite } from "./units.js";

const boxes = $$("[data-reminder]");
const dot = $("[data-reminder-dot]");
if (boxes.length || dot) followReminders();

const TITLES = {
  stand: "Time to stand up",
  sit: "Time to sit down",
  move: "Time to move",
  stretch: "Time for a stretch",
};
const CONFIRM = { stand: "Stand up now", sit: "Sit down now", move: "Done", stretch: "Done" };

function reminderTitle(r) {
  if (r.stretch && r.stretch.title) return r.stretch.title;
  return TITLES[r.kind] || "Time to change posture";
}

function render(snap) {
  const current = state();
  const atDesk = current && current.active_user;
  const r = (atDesk && me && !samePerson(atDesk, me)) ? null : (snap.reminder || null);
  setHidden(dot, !r);
  for (const box of boxes) {
    setHidden(box, !r);
    if (!r) continue;
    box.dataset.kind = String(r.kind || "");
    box.dataset.id = String(r.id || "");
    setText($('[data-r="title"]', box), reminderTitle(r));
    let message = String(r.message || "");
    if (!message && finite(r.minutes)) message = `For about ${r.minutes} min.`;
    if (r.mode === "auto" && (r.kind === "stand" || r.kind === "sit")) {
      message += " The desk moves by itself after a short warning; press any desk button to cancel.";
    }
    setText($('[data-r="message"]', box), message.trim());
    const confirm = $('[data-r-action="confirm"]', box);
    setText(confirm, CONFIRM[r.kind] || "Done");
    const s = r.stretch;
    setText($('[data-r="helps"]', box), s ? String(s.helps || "") : "");
    fillList($('[data-r="steps"]', box), s ? s.steps : []);
    fillList($('[data-r="cautions"]', box), s ? s.cautions : []);
  }
}
on("reminder", render);

for (const box of boxes) {
  for (const button of $$("[data-r-action]", box)) {
    button.addEventListener("click", () => {
      const action = button.dataset.rAction;
      const id = box.dataset.id || undefined;
      const done = { confirm: "done – well moved", snooze: "snoozed", skip: "skipped" }[action];
      act("POST", `/reminder/${action}`, { id }, done).then((r) => {
        if (r.ok && r.data && "reminder" in r.data) {
          takeReminder({ ...(reminder() || {}), reminder: r.data.reminder });
        } else {
          refreshReminder();
        }
      });
    });
  }
}
