/* Today's standing and standing goal wherever a page shows them: the home page's line and the
 * reminders page's "Standing". Both numbers are the server's (the habit status of the person at the
 * desk, which takes them from the statistics), the same ones Statistics, `deskpi stats` and the API
 * show for the day; nothing here computes or guesses them. Someone else's are not shown as yours.
 */
import { $$, setText } from "./dom.js";
import { forViewer, on, refreshReminder, reminder } from "./live.js";

const lines = $$("[data-goal-today]");        // "Standing today: 15 min of 60 min goal"
const cells = $$("[data-goal-standing]");     // "15 min of 60 min goal"

/** "15 min of 60 min goal", or "15 min, no standing goal today" (a day off, a holiday). */
export function standingText(status) {
  const stood = `${Math.round(Number(status.standing_min) || 0)} min`;
  return typeof status.goal_min === "number" ? `${stood} of ${status.goal_min} min goal`
    : `${stood}, no standing goal today`;
}

function render(snap) {
  const status = forViewer(snap) ? snap.status || null : null;
  const goal = status && typeof status.goal_min === "number" ? String(status.goal_min) : "";
  const stood = status && typeof status.standing_min === "number" ? String(status.standing_min) : "";
  for (const node of lines) {          // an empty line keeps its height: nothing below it jumps
    setText(node, status ? `Standing today: ${standingText(status)}` : "");
    node.dataset.goalMin = goal;
    node.dataset.standingMin = stood;
  }
  for (const node of cells) {
    setText(node, status ? standingText(status) : "–");
    node.dataset.goalMin = goal;
    node.dataset.standingMin = stood;
  }
}

if (lines.length || cells.length) {
  on("reminder", render);
  // Someone else came to the desk (or you did): the status the page has is the previous person's.
  on("state", (s, previous) => { if (previous && previous.active_user !== s.active_user) refreshReminder(); });
  if (reminder()) render(reminder());
}
