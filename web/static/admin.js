/* Admin: settings (auto moves, claims), people (add with PIN, remove, make admin). */
import { act, call, errorText, me } from "./api.js";
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
    const path = `/users/${encodeURIComponent(u.name)}`;
    if (u.name !== me) {
      li.append(button(admin ? "Remove admin" : "Make admin", `admin-toggle-${u.name}`, () => {
        act("PATCH", path, { admin: !admin }, admin ? `${u.name} is no longer an admin` : `${u.name} is now an admin`)
          .then(loadUsers);
      }));
      li.append(button("Remove", `admin-remove-${u.name}`, (b) => {
        if (b.dataset.armed !== "true") {           // a second tap confirms: no blocking dialog
          b.dataset.armed = "true";
          b.textContent = "Tap again to remove";
          setTimeout(() => { b.dataset.armed = "false"; b.textContent = "Remove"; }, 4000);
          return;
        }
        act("DELETE", path, undefined, `${u.name} removed`).then(loadUsers);
      }, "btn-danger"));
    }
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
