/* The break screen: a reminder's focused full-screen view (a modal <dialog>: the rest of the page is
 * inert and focus stays inside). The stretch's steps, an illustration (figures.js), a countdown, and
 * big Done / Snooze / Skip; the buttons that move the desk say so ("Lower to 66.0 cm now") and are
 * there only when the reminder ends in another posture. Escape or Close leaves the reminder waiting
 * on the page; since the page's Stop bar is under the dialog, the dialog has its own Stop.
 *
 * reminder.js decides when it opens and what the answers do; this module only shows it.
 */
import { call } from "./api.js";
import { fillList, setHidden, setText } from "./dom.js";
import { figure } from "./figures.js";

let dialog = null;
let parts = null;
let shown = null;              // the view on screen
let answer = () => {};
let timer = null;
let endsAt = null;
let timerKey = null;
let returnFocus = null;

const clock = (s) => `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;

function el(tag, attrs = {}, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") n.textContent = v;
    else if (k === "hidden") n.hidden = Boolean(v);
    else n.setAttribute(k, v);
  }
  n.append(...children);
  return n;
}

function button(testid, action, text, cls) {
  return el("button", { type: "button", class: `btn btn-big ${cls || ""}`.trim(), "data-testid": testid,
    "data-break-action": action, text });
}

function build() {
  parts = {
    title: el("h2", { id: "break-title", "data-testid": "break-title", tabindex: "-1" }),
    figure: el("div", { class: "break-figure", "data-testid": "break-figure" }),
    countdown: el("p", { class: "break-timer", role: "timer", "data-testid": "break-countdown" }),
    over: el("p", { class: "visually-hidden", "aria-live": "polite" }),
    message: el("p", { id: "break-message", class: "break-message" }),
    helps: el("p", { class: "hint" }),
    steps: el("ol", { class: "steps", "data-testid": "break-steps" }),
    cautions: el("ul", { class: "notes" }),
    note: el("p", { class: "hint", "data-testid": "break-note" }),
    error: el("p", { class: "break-error", role: "alert", "data-testid": "break-error" }),
    move: button("break-move", "move", "", "btn-primary"),
    later: button("break-later", "later", "Remind me when I'm back"),
    done: button("break-done", "confirm", "Done", "btn-primary"),
    snooze: button("break-snooze", "snooze", "Snooze"),
    skip: button("break-skip", "skip", "Skip"),
    close: el("button", { type: "button", class: "btn btn-quiet btn-big", "data-testid": "break-close", text: "Close" }),
    stop: el("button", { type: "button", class: "btn btn-stop btn-big", "data-testid": "break-stop",
      "aria-label": "Stop the desk now", text: "■ Stop" }),
  };
  const p = parts;
  dialog = el("dialog", { class: "break", "data-testid": "break-screen", "aria-labelledby": "break-title",
    "aria-describedby": "break-message" },
  el("div", { class: "break-inner" },
    el("p", { class: "break-kicker", text: "Break" }), p.title, p.figure, p.countdown, p.over, p.message,
    p.helps, p.steps, p.cautions, p.note, p.error,
    el("div", { class: "break-moves" }, p.move, p.later),
    el("div", { class: "break-answers" }, p.done, p.snooze, p.skip),
    el("div", { class: "break-foot" }, p.close, p.stop)));
  document.body.append(dialog);
  dialog.addEventListener("click", (e) => {
    const b = e.target instanceof Element ? e.target.closest("[data-break-action]") : null;
    if (b && shown) answer(b.dataset.breakAction, shown.id);
  });
  p.close.addEventListener("click", closeBreak);
  // The rest of the page is inert; Tab also stays here instead of leaving for the browser's own bar.
  dialog.addEventListener("keydown", (e) => {
    if (e.key !== "Tab") return;
    const stops = Array.from(dialog.querySelectorAll("button")).filter((b) => !b.hidden && !b.disabled);
    if (!stops.length) return;
    const first = stops[0];
    const last = stops[stops.length - 1];
    const at = document.activeElement;
    if (e.shiftKey && (at === first || !dialog.contains(at) || at === parts.title)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && at === last) {
      e.preventDefault();
      first.focus();
    }
  });
  dialog.addEventListener("close", () => {
    shown = null;
    if (returnFocus && returnFocus.isConnected) returnFocus.focus();
    returnFocus = null;
  });
  p.stop.addEventListener("click", () => {
    call("POST", "/stop", undefined, { keepalive: true })
      .then((r) => { if (!r.ok) sayInBreak("the desk did not take the stop; use the desk's own buttons"); })
      .catch(() => sayInBreak("could not reach the desk to stop it; use the desk's own buttons"));
  });
}

function tick() {
  const left = endsAt === null ? 0 : Math.max(0, Math.ceil((endsAt - Date.now()) / 1000));
  if (left > 0) {
    setText(parts.countdown, clock(left));
    return;
  }
  clearInterval(timer);
  timer = null;
  setText(parts.countdown, "Time's up – well done");
  setText(parts.over, "Time's up: tap Done to record the break.");
}

function startCountdown(view) {
  if (timerKey === view.key && (timer !== null || endsAt !== null)) { tick(); return; }
  clearInterval(timer);
  timerKey = view.key;
  setText(parts.over, "");
  if (!(view.seconds > 0)) {
    endsAt = null;
    timer = null;
    setHidden(parts.countdown, true);
    return;
  }
  setHidden(parts.countdown, false);
  endsAt = Date.now() + view.seconds * 1000;
  timer = setInterval(tick, 250);
  tick();
}

function fill(view) {
  const p = parts;
  if (!shown || shown.key !== view.key) setText(p.error, "");
  setText(p.title, view.title);
  if (!shown || shown.stretchId !== view.stretchId || shown.title !== view.title) {
    p.figure.replaceChildren(figure(view.stretchId, `Illustration: ${view.title}`));
  }
  setText(p.message, view.message);
  setText(p.helps, view.helps);
  setHidden(p.helps, !view.helps);
  fillList(p.steps, view.steps);
  setHidden(p.steps, !view.steps.length);
  fillList(p.cautions, view.cautions);
  setText(p.note, view.note);
  setHidden(p.note, !view.note);
  setText(p.move, view.moveLabel || "");
  setHidden(p.move, !view.moveLabel);
  setText(p.later, view.laterLabel || "");
  setHidden(p.later, !view.laterLabel);
  p.done.classList.toggle("btn-primary", !view.moveLabel);
}

/** Show the break screen for `view` (built by reminder.js); `onAnswer(action, id)` answers it. */
export function openBreak(view, onAnswer) {
  if (!dialog) build();
  answer = onAnswer;
  fill(view);
  shown = view;
  startCountdown(view);
  if (!dialog.open) {
    returnFocus = document.activeElement;
    dialog.showModal();
    parts.title.focus();            // from the top: the stretch, its figure and the countdown first
    dialog.scrollTop = 0;
  }
}

/** The reminder on screen changed (a new label, the desk moved): show it as it is now. */
export function updateBreak(view) {
  if (!dialog || !dialog.open || !shown || shown.id !== view.id) return;
  fill(view);
  shown = view;
}

/** Say in the break screen what went wrong (the page's own message line is under the dialog). */
export function sayInBreak(text) {
  if (dialog && dialog.open) setText(parts.error, text);
}

export function closeBreak() {
  if (dialog && dialog.open) dialog.close();
}

/** The reminder id the break screen shows, or null. */
export const breakShowing = () => (dialog && dialog.open && shown ? shown.id : null);
