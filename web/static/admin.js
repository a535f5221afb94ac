/* Admin: settings (auto moves, claims), people (add with PIN, rename, reset a PIN, make admin, remove,
 * and when each last used the desk). */
import { act, call, errorText, me, samePerson } from "./api.js";
import { $, showMessage } from "./dom.js";

const LABELS = {
  auto_moves_allowed: ["Allow automatic moves", "People may choose plans where the desk moves by itself after a warning (only while someone is at the desk)."],
  require_claim: ["Require a claim for remote motion", "Moving the desk from a phone needs the person at the desk to confirm with a desk button."],
  claim_idle_min: ["Release an idle claim after (min)", "A claim ends by itself when the desk has not been used for this long."],
  self_register: ["Let people register themselves", "Anyone on the office network may create an account on the sign-in page."],
};
const settingsBox = $("[data-settings]");
const settingsForm = $("[data-settings-form]");
let settings = {};

function field(key, value) {
  const [label, hint] = LABELS[key] || [key.replace(/_/g, " "), ""];
  const wrap = document.createElement("div");
  wrap.className = "field";
  const id = `set-${key}`;
  const input = document.createElement("input");
  input.id = id;
  input.name = key;
  input.dataset.testid = `admin-setting-${key}`;
  const lab = document.createElement("label");
  lab.htmlFor = id;
  if (typeof value === "boolean") {
    input.type = "checkbox";
    input.checked = value;
    lab.className = "check";
    lab.append(input, ` ${label}`);
    wrap.append(lab);
  } else {
    input.type = typeof value === "number" ? "number" : "text";
    if (typeof value === "number") input.inputMode = "decimal";
    input.value = String(value);
    lab.textContent = label;
    wrap.append(lab, input);
  }
  if (hint) {
    const p = document.createElement("p");
    p.className = "hint";
    p.textContent = hint;
    wrap.append(p);
  }
  return wrap;
}

function renderSettings(data) {
  settings = data || {};
  // Only what an admin may change here: the limits belong to facilities (shown read-only above).
  const keys = Object.keys(settings).filter((k) => !k.startsWith("limits") && ["boolean", "number"].includes(typeof settings[k]));
  settingsBox.replaceChildren(...keys.map((k) => field(k, settings[k])));
  settingsBox.removeAttribute("aria-busy");
}

settingsForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const changed = {};
  for (const [k, v] of Object.entries(settings)) {
    const input = settingsForm.elements[k];
    if (!input || !input.dataset) continue;
    const now = typeof v === "boolean" ? input.checked : typeof v === "number" ? Number(input.value) : input.value;
    if (now !== v) changed[k] = now;
  }
  if (!Object.keys(changed).length) { showMessage("nothing changed", "ok"); return; }
  act("PATCH", "/admin/settings", changed, "settings saved").then((r) => { if (r.ok && r.data) renderSettings(r.data); });
});

// -- people -----------------------------------------------------------------------------
const list = $("[data-users]");
// A PIN the desk just drew for someone: shown once, in their row, until Done or the list changes.
let revealed = null;
let renaming = null;                        // whose row shows the rename form

function button(text, testid, onClick, cls) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = `btn btn-small ${cls || ""}`;
  b.textContent = text;
  b.dataset.testid = testid;
  b.addEventListener("click", () => onClick(b));
  return b;
}

function tag(text) {
  const s = document.createElement("span");
  s.className = "tag";
  s.textContent = text;
  return s;
}

/** A second tap confirms (no blocking dialog); the button says what the second tap does. */
function armed(b, text, idle) {
  if (b.dataset.armed === "true") return true;
  b.dataset.armed = "true";
  b.textContent = text;
  setTimeout(() => { b.dataset.armed = "false"; b.textContent = idle; }, 4000);
  return false;
}

function ago(t) {
  const s = Math.max(0, Date.now() / 1000 - t);
  if (s < 90) return "just now";
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  const days = Math.round(s / 86400);
  return `${days} day${days === 1 ? "" : "s"} ago`;
}

/** When they last moved, stopped or set the desk (the desk's record of who asked it), or never. */
function lastUsed(u) {
  const p = document.createElement("p");
  p.className = "hint user-line";
  p.dataset.testid = `admin-last-used-${u.name}`;
  if (typeof u.last_used_at !== "number") {
    p.textContent = "Has not used the desk yet";
    return p;
  }
  const when = new Date(u.last_used_at * 1000);
  const time = document.createElement("time");
  time.dateTime = when.toISOString();
  time.textContent = `${ago(u.last_used_at)} (${when.toLocaleString([], { dateStyle: "medium", timeStyle: "short" })})`;
  p.append("Last used the desk ", time);
  return p;
}

function newPinBox(name, pin) {
  const box = document.createElement("div");
  box.className = "user-line new-pin";
  box.setAttribute("role", "status");
  const text = document.createElement("p");
  const code = document.createElement("output");
  code.className = "pin";
  code.dataset.testid = `admin-new-pin-${name}`;
  code.textContent = pin;
  text.append(`New PIN for ${name}: `, code);
  const hint = document.createElement("p");
  hint.className = "hint";
  hint.textContent = `Tell ${name} in person; it is not shown again. They are signed out on every phone and browser.`;
  box.append(text, hint, button("Done", `admin-new-pin-done-${name}`, () => { revealed = null; box.remove(); }));
  return box;
}

function renameForm(u, path) {
  const form = document.createElement("form");
  form.className = "user-line rename";
  form.noValidate = true;
  form.dataset.testid = `admin-rename-form-${u.name}`;
  const id = `rename-${Math.random().toString(36).slice(2)}`;
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = `New name for ${u.name}`;
  const input = document.createElement("input");
  Object.assign(input, { id, type: "text", value: u.name, maxLength: 64, autocomplete: "off", required: true });
  input.setAttribute("autocapitalize", "none");
  input.dataset.testid = `admin-rename-input-${u.name}`;
  const save = document.createElement("button");
  save.type = "submit";
  save.className = "btn btn-small btn-primary";
  save.textContent = "Save name";
  save.dataset.testid = `admin-rename-save-${u.name}`;
  const row = document.createElement("div");
  row.className = "inline";
  row.append(input, save, button("Cancel", `admin-rename-cancel-${u.name}`, () => { renaming = null; loadUsers(); }));
  form.append(label, row);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const name = input.value.trim();
    if (!name) { showMessage(`a name is needed: 1-40 characters (${u.name} keeps their name)`); return; }
    act("POST", `${path}/rename`, { name }, (d) => `${u.name} is now called ${d.name}`).then((r) => {
      if (!r.ok) { input.focus(); return; }
      renaming = null;
      if (samePerson(u.name, me)) window.location.reload();      // this page is signed in under that name
      else loadUsers();
    });
  });
  setTimeout(() => input.focus(), 0);
  return form;
}

function renderUsers(users) {
  list.replaceChildren(...users.map((u) => {
    const li = document.createElement("li");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = u.name;
    li.append(name);
    const admin = u.role === "admin" || u.admin === true;
    if (admin) li.append(tag("admin"));
    if (u.owner) li.append(tag("owner"));
    if (u.active) li.append(tag("at the desk"));
    if (!u.has_pin) li.append(tag("no PIN"));
    li.append(lastUsed(u));
    const path = `/users/${encodeURIComponent(u.name)}`;
    if (revealed && samePerson(revealed.name, u.name)) li.append(newPinBox(u.name, revealed.pin));
    if (renaming && samePerson(renaming, u.name)) {
      li.append(renameForm(u, path));
      return li;
    }
    const actions = document.createElement("div");
    actions.className = "user-line user-actions";
    actions.append(button("Rename", `admin-rename-${u.name}`, () => { renaming = u.name; revealed = null; loadUsers(); }));
    if (!samePerson(u.name, me)) {
      actions.append(button("Reset PIN", `admin-reset-pin-${u.name}`, (b) => {
        if (!armed(b, "Tap again: new PIN, signs them out", "Reset PIN")) return;
        act("POST", `${path}/reset-pin`, undefined, `${u.name} has a new PIN`).then((r) => {
          if (!r.ok) return;
          revealed = { name: r.data.name, pin: r.data.pin };
          loadUsers();
        });
      }));
      actions.append(button(admin ? "Remove admin" : "Make admin", `admin-toggle-${u.name}`, () => {
        act("PATCH", path, { admin: !admin }, admin ? `${u.name} is no longer an admin` : `${u.name} is now an admin`)
          .then(loadUsers);
      }));
      actions.append(button("Remove", `admin-remove-${u.name}`, (b) => {
        if (!armed(b, "Tap again to remove", "Remove")) return;
        act("DELETE", path, undefined, `${u.name} removed`).then(loadUsers);
      }, "btn-danger"));
    }
    li.append(actions);
    return li;
  }));
}

function loadUsers() {
  return call("GET", "/users")
    .then((r) => {
      if (!r.ok) { showMessage(errorText(r)); return; }
      renderUsers(Array.isArray(r.data) ? r.data : (r.data && r.data.users) || []);
    })
    .catch(() => showMessage("could not load the people; check the connection"));
}

const add = $("[data-add-user]");
add.addEventListener("submit", (e) => {
  e.preventDefault();
  const payload = { name: add.elements.name.value.trim(), pin: add.elements.pin.value, admin: add.elements.admin.checked };
  if (add.elements.stature_cm.value !== "") payload.stature_cm = Number(add.elements.stature_cm.value);
  if (!payload.name || !payload.pin) { showMessage("a name and a PIN are needed"); return; }
  act("POST", "/users", payload, `${payload.name} added`).then((r) => {
    if (r.ok) { add.reset(); loadUsers(); }
  });
});

add.querySelector("[data-needs-js]").disabled = false;     // disabled until this handler exists

call("GET", "/admin/settings")
  .then((r) => {
    if (r.ok) renderSettings(r.data);
    else settingsBox.replaceChildren(Object.assign(document.createElement("p"), { className: "hint", textContent: errorText(r) }));
  })
  .catch(() => showMessage("could not load the settings"));
loadUsers();
