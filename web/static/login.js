/* Sign-in (and self-registration where the desk allows it). */
import { call, errorText } from "./api.js";
import { $, $$, byTestId, showMessage } from "./dom.js";

const box = $("[data-next]");
const form = $("[data-login-form]");
const register = $("[data-register-form]");
const lockout = byTestId("login-lockout");

/** Only a path on this site: never follow ?next=//elsewhere. */
function next() {
  const n = box ? box.dataset.next : "/";
  return /^\/(?![/\\])/.test(n || "") && n !== "/login" ? n : "/";
}

let lockTimer = null;
function lockFor(seconds) {
  const submit = form.querySelector('[type="submit"]');
  const until = Date.now() + seconds * 1000;
  clearInterval(lockTimer);
  submit.disabled = true;
  const tick = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) {
      clearInterval(lockTimer);
      submit.disabled = false;
      lockout.textContent = "";
      return;
    }
    lockout.textContent = `Too many attempts. Try again in ${left} s.`;
  };
  tick();
  lockTimer = setInterval(tick, 250);
}

async function signIn(name, pin) {
  const r = await call("POST", "/session", { name, pin });
  if (r.ok) {
    window.location.assign(next());
    return true;
  }
  if (r.status === 429) {
    const s = r.data && Number(r.data.retry_after_s);
    lockFor(isFinite(s) && s > 0 ? s : 30);
  } else {
    showMessage(r.status === 401 ? (r.data && r.data.error) || "wrong name or PIN" : errorText(r));
  }
  return false;
}

if (form) {
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const name = form.elements.name.value.trim();
    const pin = form.elements.pin.value;
    if (!name || !pin) {
      showMessage("enter your name and PIN");
      (name ? form.elements.pin : form.elements.name).focus();
      return;
    }
    signIn(name, pin)
      .then((ok) => { if (!ok) form.elements.pin.select(); })
      .catch(() => showMessage("could not reach the desk; check the connection"));
  });
  form.elements.name.focus();
}

if (register) {
  register.addEventListener("submit", (e) => {
    e.preventDefault();
    const name = register.elements.name.value.trim();
    const pin = register.elements.pin.value;
    const stature = register.elements.stature_cm.value;
    const payload = { name, pin };
    if (stature !== "") payload.stature_cm = Number(stature);
    call("POST", "/register", payload)
      .then((r) => {
        if (!r.ok) { showMessage(errorText(r)); return null; }
        if (r.data && r.data.csrf_token) { window.location.assign(next()); return null; }
        return signIn(name, pin);
      })
      .catch(() => showMessage("could not reach the desk; check the connection"));
  });
}

// The buttons come disabled: a form sent before this script ran would go nowhere useful.
for (const b of $$("[data-needs-js]")) b.disabled = false;
