/* The home page's presets: go to one with a tap; replace one only on purpose.
 *
 * One tap on "Save here" used to overwrite a preset. Now saving takes an edit mode ("Change
 * presets"), each Save button shows what it will replace ("110.5 → 104.0 cm"), edit mode ends
 * with the save, and an Undo next to the presets puts the old height back for a few seconds.
 * The preset the desk stands at (within HERE_MM, at rest) is marked aria-current and styled.
 */
import { act, call, errorText, me, samePerson } from "./api.js";
import { $, $$, byTestId, setHidden, setText, showMessage } from "./dom.js";
import { endAllHolds } from "./hold.js";
import { on, refresh, state } from "./live.js";
import { finite, height, num } from "./units.js";

const HERE_MM = 15;           // as index.html: a preset within 1.5 cm is where the desk is (it stops near, not on)
const UNDO_MS = 8000;

const editButton = $("[data-presets-edit]");
const editHint = $("[data-presets-edit-hint]");
const undoBar = $("[data-preset-undo-bar]");
const undoText = $("[data-preset-undo-text]");
const undoButton = $("[data-preset-undo]");
const saveButtons = $$("[data-save]");
let editing = false;
let undo = null;              // {slot, before, after, timer}

const presetHeight = (slot) => {
  const s = state();
  const p = s && Array.isArray(s.presets) ? s.presets.find((x) => Number(x.slot) === Number(slot)) : null;
  return p && finite(p.height_mm) ? p.height_mm : null;
};
const shown = (mm) => (finite(mm) ? height(mm) : "empty");
/** "110.5 → 104.0 cm" (the unit once, so it fits a phone's half width), or "empty → 104.0 cm". */
const change = (before, after) => `${finite(before) ? num(before) : "empty"} → ${height(after)}`;
const deskHeight = () => {
  const s = state();
  return s && finite(s.height_mm) ? Math.round(s.height_mm) : null;
};

/** The slot the desk is at: the nearest preset within HERE_MM, only while it is not moving. */
function hereSlot(s) {
  if (!s || !finite(s.height_mm) || s.state === "moving" || !Array.isArray(s.presets)) return null;
  let best = null;
  for (const p of s.presets) {
    if (!finite(p.height_mm)) continue;
    const off = Math.abs(p.height_mm - s.height_mm);
    if (off <= HERE_MM && (best === null || off < best.off)) best = { slot: Number(p.slot), off };
  }
  return best && best.slot;
}

function render(s) {
  const here = hereSlot(s);
  for (const button of $$("[data-preset]")) {
    const slot = Number(button.dataset.preset);
    const p = Array.isArray(s.presets) ? s.presets.find((x) => Number(x.slot) === slot) : null;
    if (p) setText(byTestId(`preset-${slot}-height`), shown(p.height_mm));
    if (here === slot) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
    setHidden(byTestId(`preset-${slot}-here`), here !== slot);
  }
  const now = deskHeight();
  const moving = s.state === "moving";
  for (const button of saveButtons) {
    const slot = button.dataset.save;
    setText(byTestId(`preset-save-${slot}-change`),
      now === null ? "no height reading" : change(presetHeight(slot), now));
    button.disabled = moving || now === null;       // save a height the person can see, not one in passing
  }
}
on("state", render);

function setEditing(on_) {
  editing = on_;
  editButton.setAttribute("aria-pressed", String(on_));
  setText(editButton, on_ ? "Done" : "Change presets");
  setHidden(editHint, !on_);
  for (const button of saveButtons) setHidden(button, !on_);
  if (state()) render(state());
}
editButton.addEventListener("click", () => setEditing(!editing));

// -- going to a preset ---------------------------------------------------------------------------
for (const button of $$("[data-preset]")) {
  const slot = button.dataset.preset;
  button.addEventListener("click", () => {
    endAllHolds();
    act("POST", `/presets/${encodeURIComponent(slot)}/recall`, {},
      (d) => `going to preset ${slot} (${height(d && d.target_mm)})`);
  });
  button.addEventListener("contextmenu", (e) => e.preventDefault());
}

// -- saving, and taking it back --------------------------------------------------------------------
function offerUndo(slot, before, after) {
  clearTimeout(undo && undo.timer);
  undo = { slot, before, after, timer: setTimeout(closeUndo, UNDO_MS) };
  setText(undoText, `Saved preset ${slot}: ${change(before, after)}`);
  undoButton.disabled = false;
  setHidden(undoBar, false);
}
function closeUndo() {
  if (undo) clearTimeout(undo.timer);
  undo = null;
  setHidden(undoBar, true);
}

for (const button of saveButtons) {
  const slot = button.dataset.save;
  button.addEventListener("click", () => {
    const before = presetHeight(slot);
    const now = deskHeight();
    if (now === null) { showMessage("no height reading from the desk yet"); return; }
    act("PUT", `/presets/${encodeURIComponent(slot)}`, { height_mm: now }).then((r) => {
      if (!r.ok) return;
      setEditing(false);
      offerUndo(slot, before, r.data && finite(r.data.height_mm) ? r.data.height_mm : now);
      refresh();
    });
  });
}

/** Put the old height back; an empty preset is emptied again (the person's own, at the desk). */
function restore({ slot, before }) {
  if (finite(before)) return call("PUT", `/presets/${encodeURIComponent(slot)}`, { height_mm: before });
  const s = state();
  const who = s && s.active_user;
  if (!who || !me || !samePerson(who, me)) {
    return Promise.resolve({ ok: false, status: 0, data: { error: `preset ${slot} was empty and only its owner can empty it again` } });
  }
  return call("DELETE", `/users/${encodeURIComponent(who)}/presets/${encodeURIComponent(slot)}`);
}

undoButton.addEventListener("click", () => {
  if (!undo) return;
  const taken = undo;
  undoButton.disabled = true;
  restore(taken)
    .then((r) => {
      if (!r.ok) { showMessage(errorText(r)); undoButton.disabled = false; return; }
      closeUndo();
      showMessage(`preset ${taken.slot} is back at ${shown(taken.before)}`, "ok");
      refresh();
    })
    .catch(() => { showMessage("could not reach the desk to undo; try again"); undoButton.disabled = false; });
});
