/* Where an error shows: next to the control whose action failed, not at the foot of the screen far
 * from where the person is looking. The last control a person used (a tap, Enter or Space, a form
 * sent) is remembered for a few seconds; an error said in that time is placed just below it, or just
 * above it when the Stop bar would cover it. Other errors, and every "done" message, stay above the
 * Stop bar.
 */
const RECENT_MS = 8000;
const GAP_PX = 8;
const CONTROLS = "button, a[href], input, select, textarea, summary, label";
let last = null;

function note(target, at = Date.now()) {
  const el = target instanceof Element ? target.closest(CONTROLS) : null;
  if (!el || el.closest(".stopbar, [data-testid=message]")) {    // Stop's own errors belong by the Stop bar
    last = null;
    return;
  }
  last = { el, at };
}

document.addEventListener("pointerdown", (e) => note(e.target), true);
document.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") note(e.target); }, true);
document.addEventListener("submit", (e) => note(e.submitter || e.target), true);

/** Put `toast` (already holding its text) by the control that caused it, or back to its usual place. */
export function place(toast, kind) {
  toast.classList.remove("is-anchored");
  toast.style.top = "";
  delete toast.dataset.near;
  const el = last && Date.now() - last.at <= RECENT_MS && last.el.isConnected ? last.el : null;
  if (kind !== "error" || !el) return;
  const box = el.getBoundingClientRect();
  if (box.width === 0 && box.height === 0) return;            // hidden since: the usual place will do
  toast.classList.add("is-anchored");
  const bar = document.querySelector(".stopbar");
  const floor = bar ? bar.getBoundingClientRect().top : window.innerHeight;
  const height = toast.offsetHeight;
  let top = box.bottom + GAP_PX;
  if (top + height > floor - GAP_PX) top = Math.max(GAP_PX, box.top - GAP_PX - height);
  toast.style.top = `${Math.round(top + window.scrollY)}px`;
  toast.dataset.near = el.dataset.testid || el.id || el.tagName.toLowerCase();
}
