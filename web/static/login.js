/* Sign-in (and self-registration where the desk allows it). */
"use strict";

(function () {
  const d = window.deskpi;
  const box = document.querySelector("[data-next]");
  const form = document.querySelector("[data-login-form]");
  const register = document.querySelector("[data-register-form]");
  const lockout = document.querySelector('[data-testid="login-lockout"]');

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
    const r = await d.call("POST", "/session", { name, pin });
    if (r.ok) {
      window.location.assign(next());
      return true;
    }
    if (r.status === 429) {
      const s = r.data && Number(r.data.retry_after_s);
      lockFor(isFinite(s) && s > 0 ? s : 30);
    } else {
      d.showMessage(r.status === 401 ? (r.data && r.data.error) || "wrong name or PIN" : d.errorText(r));
    }
    return false;
  }

  if (form) {
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const name = form.elements.name.value.trim();
      const pin = form.elements.pin.value;
      if (!name || !pin) {
        d.showMessage("enter your name and PIN");
        (name ? form.elements.pin : form.elements.name).focus();
        return;
      }
      signIn(name, pin)
        .then((ok) => { if (!ok) form.elements.pin.select(); })
        .catch(() => d.showMessage("could not reach the desk; check the connection"));
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
      d.call("POST", "/register", payload)
        .then((r) => {
          if (!r.ok) { d.showMessage(d.errorText(r)); return null; }
          if (r.data && r.data.csrf_token) { window.location.assign(next()); return null; }
          return signIn(name, pin);
        })
        .catch(() => d.showMessage("could not reach the desk; check the connection"));
    });
  }

  // The buttons come disabled: a form sent before this script ran would go nowhere useful.
  for (const b of document.querySelectorAll("[data-needs-js]")) b.disabled = false;
})();
