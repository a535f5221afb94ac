/* Profile: one way to save. Your height (feet and inches for inch users) gives recommended
 * sitting and standing heights, filled into the fields you have not typed yourself; "Use the
 * desk's height" fills a field too. Nothing is kept until the one Save, which stores the height,
 * the two desk heights and every preset you changed. Units and the PIN are their own things.
 */
import { act, call, errorText, me } from "./api.js";
import { $, $$, fillList, setText, showMessage } from "./dom.js";
import { on, state } from "./live.js";
import { height, num, pageUnits, toMm } from "./units.js";

const userPath = `/users/${encodeURIComponent(me || "")}`;
const form = $("[data-profile-form]");
const unitName = pageUnits === "in" ? "in" : "cm";
const ftInput = $("#stature-ft");
const inInput = $("#stature-in");
const unsaved = $("[data-unsaved]");
let rec = null;

// Feet and inches, for inch users, feed the one stature field (total inches) the rest reads.
if (ftInput && inInput) {
  const total = () => {
    const ft = ftInput.value === "" ? NaN : Number(ftInput.value);
    const inch = inInput.value === "" ? 0 : Number(inInput.value);
    form.elements.stature.value = isFinite(ft) && isFinite(inch) ? String(ft * 12 + inch) : "";
    form.elements.stature.dispatchEvent(new Event("input"));
  };
  ftInput.addEventListener("input", total);
  inInput.addEventListener("input", total);
}

const statureCm = () => {
  const v = Number(form.elements.stature.value);
  if (form.elements.stature.value === "" || !isFinite(v)) return null;
  return pageUnits === "in" ? Math.round(v * 2.54 * 10) / 10 : v;
};
const shoeMm = () => (form.elements.shoe.value === "" ? null : Number(form.elements.shoe.value));
const show = (mm) => (mm == null ? "" : num(mm, unitName));

function deskHeight() {
  const s = state();
  if (!s || typeof s.height_mm !== "number") {
    showMessage("no height reading from the desk yet");
    return null;
  }
  return Math.round(s.height_mm);
}
on("state", (s) => { for (const el of $$("[data-desk-height]")) setText(el, height(s.height_mm, unitName)); });

// -- what is not saved yet -------------------------------------------------------------------------
const changedPresets = new Set();
function markUnsaved(yes) {
  setText(unsaved, yes ? "Changes not saved yet" : "");
}

// -- recommendation ------------------------------------------------------------
let recTimer = null;
// Sit and stand follow a new stature until the person types them; `basis` is the stature
// (and shoes) the two fields now stand for, so saving never pairs a new stature with old heights.
const saved = () => `${statureCm()}|${shoeMm()}`;
let basis = saved();
const typed = { sit: false, stand: false };

function differsFromRec() {
  return rec && ["sit", "stand"].some((k) => form.elements[k].value !== show(k === "sit" ? rec.sit_mm : rec.stand_mm));
}

function useRec(which) {
  for (const k of which) {
    form.elements[k].value = show(k === "sit" ? rec.sit_mm : rec.stand_mm);
    typed[k] = false;
  }
  basis = `${rec.stature_cm}|${form.elements.shoe.value === "" ? null : rec.shoe_mm}`;
  $("[data-use-rec]").hidden = !differsFromRec();
}

function recommend(quiet, fill) {
  const cm = statureCm();
  if (cm === null) {
    if (!quiet) showMessage("enter your height first");
    return;
  }
  const q = new URLSearchParams({ stature_cm: String(cm) });
  if (shoeMm() !== null) q.set("shoe_mm", String(shoeMm()));
  call("GET", `/ergonomics?${q}`)
    .then((r) => {
      if (!r.ok) { if (!quiet) showMessage(errorText(r)); return; }
      rec = r.data;
      $("[data-rec]").hidden = false;
      setText($("[data-rec-sit]"), height(rec.sit_mm, unitName));
      setText($("[data-rec-stand]"), height(rec.stand_mm, unitName));
      fillList($("[data-rec-notes]"), rec.notes);
      if (fill) useRec(["sit", "stand"].filter((k) => !typed[k]));
      $("[data-use-rec]").hidden = !differsFromRec();
    })
    .catch(() => showMessage("could not reach the desk"));
}
$("[data-recommend]").addEventListener("click", () => recommend(false, true));
for (const name of ["stature", "shoe"]) {
  form.elements[name].addEventListener(name === "shoe" ? "change" : "input", () => {
    markUnsaved(true);
    clearTimeout(recTimer);
    recTimer = setTimeout(() => recommend(true, true), 400);
  });
}
for (const k of ["sit", "stand"]) {
  form.elements[k].addEventListener("input", () => {
    typed[k] = true;
    markUnsaved(true);
    $("[data-use-rec]").hidden = !differsFromRec();
  });
}
$("[data-use-rec]").addEventListener("click", () => {
  if (!rec) return;
  useRec(["sit", "stand"]);
  markUnsaved(true);
});

if (statureCm() !== null) recommend(true);      // show why the saved heights are what they are

// -- fill-in helpers: the desk's height into a field (saved with the rest) ------------------------------
for (const b of $$("[data-current]")) {
  b.addEventListener("click", () => {
    const mm = deskHeight();
    if (mm === null) return;
    const which = b.dataset.current;
    form.elements[which].value = show(mm);
    typed[which] = true;
    markUnsaved(true);
    $("[data-use-rec]").hidden = !differsFromRec();
  });
}
for (const b of $$("[data-preset-current]")) {
  b.addEventListener("click", () => {
    const mm = deskHeight();
    if (mm === null) return;
    $(`#preset-${b.dataset.presetCurrent}`).value = show(mm);
    changedPresets.add(b.dataset.presetCurrent);
    markUnsaved(true);
  });
}
for (const input of $$("[data-preset-input]")) {
  input.addEventListener("input", () => { changedPresets.add(input.dataset.presetInput); markUnsaved(true); });
}
// The per-preset Save buttons of old (hidden; kept for their names) are the one Save now.
for (const b of $$("[data-preset-save]")) b.addEventListener("click", () => form.requestSubmit());

// -- the one Save ---------------------------------------------------------------------------------
function profilePayload() {
  const payload = {};
  const cm = statureCm();
  if (cm !== null) payload.stature_cm = cm;
  if (shoeMm() !== null) payload.shoe_mm = shoeMm();
  // Heights the person typed, or ones that belong to this stature; otherwise the desk
  // recomputes them from the stature (a new stature was typed and saved at once).
  const current = saved() === basis;
  const sit = toMm(form.elements.sit.value, unitName);
  const stand = toMm(form.elements.stand.value, unitName);
  if (sit !== null && (typed.sit || current)) payload.seated_mm = sit;
  if (stand !== null && (typed.stand || current)) payload.standing_mm = stand;
  return payload;
}

function savePresets() {
  const slots = [...changedPresets].sort();
  for (const slot of slots) {
    if (toMm($(`#preset-${slot}`).value, unitName) === null) {
      return Promise.resolve({ ok: false, data: { error: `preset ${slot}: enter a height in ${unitName}, or leave it as it was` } });
    }
  }
  return slots.reduce((done, slot) => done.then((r) => {
    if (!r.ok) return r;
    return call("PUT", `${userPath}/presets/${slot}`, { height_mm: toMm($(`#preset-${slot}`).value, unitName) })
      .then((res) => { if (res.ok) changedPresets.delete(slot); return res; });
  }), Promise.resolve({ ok: true }));
}

function showSaved(user) {
  form.elements.sit.value = show(user.seated_mm);
  form.elements.stand.value = show(user.standing_mm);
  for (const p of user.presets || []) {
    const input = $(`#preset-${p.slot}`);
    if (input && !changedPresets.has(String(p.slot))) input.value = show(p.height_mm);
  }
  typed.sit = typed.stand = false;
  basis = saved();
  $("[data-use-rec]").hidden = !differsFromRec();
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  const payload = profilePayload();
  const nothing = !Object.keys(payload).length && !changedPresets.size;
  if (nothing) { showMessage("nothing to save yet"); return; }
  let notes = "";
  const profile = Object.keys(payload).length
    ? call("PATCH", userPath, payload).then((r) => {
      if (r.ok && r.data && Array.isArray(r.data.notes) && r.data.notes.length) notes = ` – ${r.data.notes[0]}`;
      return r;
    })
    : Promise.resolve({ ok: true });
  profile
    .then((r) => (r.ok ? savePresets() : r))
    .then((r) => {
      if (!r.ok) { showMessage(errorText(r)); return null; }
      return call("GET", userPath);
    })
    .then((r) => {
      if (!r) return;
      if (r.ok && r.data) showSaved(r.data);
      markUnsaved(false);
      showMessage(`profile saved${notes}`, "ok");
    })
    .catch(() => showMessage("could not reach the desk; nothing more was saved – try Save again"));
});

// -- PIN ----------------------------------------------------------------------------------
// A new PIN ends every other session and all the person's API tokens (the desk says how many).
const pinForm = $("[data-pin-form]");
pinForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const current = pinForm.elements.current_pin.value;
  const pin = pinForm.elements.pin.value;
  if (!current || !pin) { showMessage("enter your present PIN and the new one"); return; }
  act("PATCH", userPath, { pin, current_pin: current }, (data) => {
    const note = data && Array.isArray(data.notes) ? data.notes.find((n) => n.startsWith("PIN changed")) : null;
    return note || "PIN changed";
  }).then((r) => {
    if (r.ok) { pinForm.elements.current_pin.value = ""; pinForm.elements.pin.value = ""; }
  });
});

// -- units --------------------------------------------------------------------------
for (const b of $$("[data-set-units]")) {
  b.addEventListener("click", () => {
    if (b.getAttribute("aria-pressed") === "true") return;
    if (unsaved.textContent && !window.confirm("Switching units reloads the page: changes not saved yet are lost. Switch anyway?")) return;
    act("PATCH", userPath, { units: b.dataset.setUnits }).then((r) => {
      if (r.ok) window.location.reload();          // every height on the page in the new unit
    });
  });
}
