/* Profile: recommended heights from stature, fine-tuning, presets, units, the PIN. */
import { act, call, errorText, me } from "./api.js";
import { $, $$, fillList, showMessage } from "./dom.js";
import { state } from "./live.js";
import { height, num, pageUnits, toMm } from "./units.js";

const userPath = `/users/${encodeURIComponent(me || "")}`;
const form = $("[data-profile-form]");
const unitName = pageUnits === "in" ? "in" : "cm";
let rec = null;

const statureCm = () => {
  const v = Number(form.elements.stature.value);
  if (form.elements.stature.value === "" || !isFinite(v)) return null;
  return pageUnits === "in" ? Math.round(v * 2.54 * 10) / 10 : v;
};
const shoeMm = () => (form.elements.shoe.value === "" ? null : Number(form.elements.shoe.value));
const show = (mm) => (mm == null ? "" : num(mm, unitName));

function currentHeight() {
  const s = state();
  if (!s || typeof s.height_mm !== "number") {
    showMessage("no height reading from the desk yet");
    return null;
  }
  return Math.round(s.height_mm);
}

// -- recommendation ------------------------------------------------------------
let recTimer = null;
// Sit and stand follow a new stature until the person types them; `basis` is the stature
// (and shoes) the two fields now stand for, so saving never pairs a new stature with old heights.
const saved = () => `${statureCm()}|${shoeMm()}`;
let basis = saved();
const typed = { sit: false, stand: false };

function useRec(which) {
  for (const k of which) {
    form.elements[k].value = show(k === "sit" ? rec.sit_mm : rec.stand_mm);
    typed[k] = false;
  }
  basis = `${rec.stature_cm}|${form.elements.shoe.value === "" ? null : rec.shoe_mm}`;
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
      $("[data-rec-sit]").textContent = height(rec.sit_mm, unitName);
      $("[data-rec-stand]").textContent = height(rec.stand_mm, unitName);
      fillList($("[data-rec-notes]"), rec.notes);
      $("[data-use-rec]").hidden = false;
      if (fill) useRec(["sit", "stand"].filter((k) => !typed[k]));
    })
    .catch(() => showMessage("could not reach the desk"));
}
$("[data-recommend]").addEventListener("click", () => recommend(false, true));
for (const name of ["stature", "shoe"]) {
  form.elements[name].addEventListener("input", () => {
    clearTimeout(recTimer);
    recTimer = setTimeout(() => recommend(true, true), 400);
  });
}
for (const k of ["sit", "stand"]) form.elements[k].addEventListener("input", () => { typed[k] = true; });
$("[data-use-rec]").addEventListener("click", () => {
  if (!rec) return;
  useRec(["sit", "stand"]);
  showMessage("recommended heights filled in: save to keep them", "ok");
});

if (statureCm() !== null) recommend(true);      // show why the saved heights are what they are

// -- save ------------------------------------------------------------------------
function patch(payload, okText) {
  return act("PATCH", userPath, payload, (data) => {
    const notes = (data && Array.isArray(data.notes) && data.notes.length) ? ` – ${data.notes[0]}` : "";
    return okText + notes;
  });
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
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
  if (!Object.keys(payload).length) { showMessage("nothing to save yet"); return; }
  patch(payload, "profile saved").then((r) => {
    if (r.ok && r.data) {
      form.elements.sit.value = show(r.data.seated_mm);
      form.elements.stand.value = show(r.data.standing_mm);
      typed.sit = typed.stand = false;
      basis = saved();
    }
  });
});

for (const b of $$("[data-current]")) {
  b.addEventListener("click", () => {
    const mm = currentHeight();
    if (mm === null) return;
    const which = b.dataset.current;
    form.elements[which].value = show(mm);
    patch(which === "sit" ? { seated_mm: mm } : { standing_mm: mm },
      `${which === "sit" ? "sitting" : "standing"} height saved: ${height(mm, unitName)}`);
  });
}

// -- presets -----------------------------------------------------------------------
function savePreset(slot, mm) {
  if (mm === null) { showMessage(`enter a height for preset ${slot}`); return; }
  act("PUT", `${userPath}/presets/${slot}`, { height_mm: mm },
    (data) => `preset ${slot} saved at ${height(data && typeof data.height_mm === "number" ? data.height_mm : mm, unitName)}`)
    .then((r) => { if (r.ok) $(`#preset-${slot}`).value = show(r.data && typeof r.data.height_mm === "number" ? r.data.height_mm : mm); });
}
for (const b of $$("[data-preset-save]")) {
  b.addEventListener("click", () => savePreset(b.dataset.presetSave, toMm($(`#preset-${b.dataset.presetSave}`).value, unitName)));
}
for (const b of $$("[data-preset-current]")) {
  b.addEventListener("click", () => {
    const mm = currentHeight();
    if (mm !== null) savePreset(b.dataset.presetCurrent, mm);
  });
}

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
    act("PATCH", userPath, { units: b.dataset.setUnits }).then((r) => {
      if (r.ok) window.location.reload();          // every height on the page in the new unit
    });
  });
}
