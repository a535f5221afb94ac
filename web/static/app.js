/* deskpi live page: polls the desk's state, hold-to-run buttons, presets, stop.
 *
 * Dead-man safety: a hold is a lease the desk grants for 0.5 s; while a hold
 * button is down this page renews it every 150 ms and sends /release the
 * moment the button is let go, the pointer is cancelled, the window loses
 * focus or the page is hidden. If this page dies or the network drops, the
 * renewals stop and the desk stops by itself.
 *
 * No inline scripts (the page's CSP forbids them); every text is set with
 * textContent, never as HTML.
 */
"use strict";

(function () {
  const API = document.body.dataset.api || "/api/v1";
  const POLL_MS = 200;
  const HOLD_MS = 150;
  const MAX_BACKOFF_MS = 5000;
  const REQUEST_TIMEOUT_MS = 3000;
  const MESSAGE_MS = 6000;

  const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
  const el = {
    banner: byTestId("connection-lost"),
    height: byTestId("height"),
    state: byTestId("state"),
    target: byTestId("target"),
    targetMm: byTestId("target-mm"),
    owner: byTestId("owner"),
    locked: byTestId("locked"),
    faultBox: byTestId("fault-box"),
    fault: byTestId("fault"),
    clear: byTestId("btn-clear-fault"),
    stop: byTestId("btn-stop"),
    message: byTestId("message"),
    latch: byTestId("sim-latch"),
  };

  // -- talking to the desk ----------------------------------------------------
  /** One API call. Resolves {ok, status, data}; rejects only on network failure or timeout. */
  async function call(method, path, body, { keepalive = false } = {}) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), REQUEST_TIMEOUT_MS);
    const opts = {
      method,
      headers: { Accept: "application/json" },
      cache: "no-store",
      credentials: "same-origin",
      signal: ctl.signal,
      keepalive,
    };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    try {
      const resp = await fetch(API + path, opts);
      let data = null;
      try {
        data = await resp.json();
      } catch (_) {
        data = null;
      }
      return { ok: resp.ok, status: resp.status, data };
    } finally {
      clearTimeout(timer);
    }
  }

  function errorText(result) {
    return (result.data && typeof result.data.error === "string")
      ? result.data.error
      : `the desk answered with HTTP ${result.status}`;
  }

  let messageTimer = null;
  function showMessage(text, kind = "error") {
    el.message.textContent = text;
    el.message.dataset.kind = kind;
    clearTimeout(messageTimer);
    messageTimer = setTimeout(() => { el.message.textContent = ""; }, MESSAGE_MS);
  }

  /** Fire-and-report for buttons: shows the desk's refusal or the network failure. */
  function act(method, path, body, okText) {
    return call(method, path, body)
      .then((r) => {
        if (!r.ok) showMessage(errorText(r));
        else if (okText) showMessage(typeof okText === "function" ? okText(r.data) : okText, "ok");
        poll.now();
        return r;
      })
      .catch(() => showMessage("could not reach the desk; check the connection"));
  }

  // -- live state ---------------------------------------------------------------
  const fmt = (mm) => (typeof mm === "number" && isFinite(mm) ? mm.toFixed(0) : "–");

  function setText(node, text) {
    if (node && node.textContent !== text) node.textContent = text;
  }

  function setHidden(node, hidden) {
    if (node && node.hidden !== hidden) node.hidden = hidden;
  }

  function render(s) {
    setText(el.height, fmt(s.height_mm));
    setText(el.state, String(s.state || "unknown"));
    document.body.dataset.state = String(s.state || "");
    setHidden(el.target, s.target_mm === null || s.target_mm === undefined);
    setText(el.targetMm, fmt(s.target_mm));
    setHidden(el.owner, !s.owner);
    setText(el.owner, s.owner ? `by ${s.owner}` : "");
    setHidden(el.locked, !s.locked);
    setHidden(el.faultBox, !s.fault);
    setText(el.fault, s.fault ? String(s.fault) : "");
    if (Array.isArray(s.presets)) {
      for (const p of s.presets) {
        const label = byTestId(`preset-${Number(p.slot)}-height`);
        setText(label, typeof p.height_mm === "number" ? `${fmt(p.height_mm)} mm` : "empty");
      }
    }
  }

  function setLost(lost) {
    setHidden(el.banner, !lost);
    document.body.classList.toggle("is-offline", lost);
  }

  const poll = (function () {
    let timer = null;
    let failures = 0;
    let running = false;

    async function tick() {
      timer = null;
      if (running) return;
      running = true;
      let delay = POLL_MS;
      try {
        const r = await call("GET", "/state");
        if (!r.ok || !r.data) throw new Error(`HTTP ${r.status}`);
        render(r.data);
        failures = 0;
        setLost(false);
      } catch (_) {
        failures += 1;
        if (failures >= 2) setLost(true);            // one lost poll is a blip, two are an outage
        delay = Math.min(MAX_BACKOFF_MS, POLL_MS * 2 ** failures);
      } finally {
        running = false;
      }
      if (document.hidden) delay = Math.max(delay, 2000);
      timer = setTimeout(tick, delay);
    }

    return {
      start: tick,
      now() {
        if (running) return;
        clearTimeout(timer);
        tick();
      },
    };
  })();

  // -- hold to run ----------------------------------------------------------------
  const holds = [];

  function releaseNow() {
    call("POST", "/release", undefined, { keepalive: true }).catch(() => {
      // The lease runs out by itself within 0.5 s.
    });
  }

  function makeHold(button) {
    const direction = button.dataset.hold;
    let active = false;
    let inflight = false;
    let timer = null;
    let pointerId = null;

    function renew() {
      if (!active || inflight) return;             // never queue renewals behind a slow network
      inflight = true;
      call("POST", "/hold", { direction })
        .then((r) => {
          if (!r.ok) {
            showMessage(errorText(r));
            end();
          }
        })
        .catch(() => { /* silence stops the desk: nothing to do */ })
        .finally(() => {
          inflight = false;
          // A renewal that was still on its way when the button was let go may have
          // arrived after the release: release again so it cannot keep the desk going.
          if (!active) releaseNow();
        });
    }

    function start() {
      if (active) return;
      for (const other of holds) if (other !== api) other.end();
      active = true;
      button.classList.add("is-held");
      button.setAttribute("aria-pressed", "true");
      renew();
      timer = setInterval(renew, HOLD_MS);
      poll.now();
    }

    function end() {
      if (!active) return;
      active = false;
      pointerId = null;
      clearInterval(timer);
      timer = null;
      button.classList.remove("is-held");
      button.setAttribute("aria-pressed", "false");
      releaseNow();
    }

    button.addEventListener("pointerdown", (e) => {
      if (e.pointerType === "mouse" && e.button !== 0) return;
      e.preventDefault();
      pointerId = e.pointerId;
      try { button.setPointerCapture(e.pointerId); } catch (_) { /* not capturable: fine */ }
      start();
    });
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
      button.addEventListener(type, (e) => {
        if (pointerId === null || e.pointerId === pointerId) end();
      });
    }
    button.addEventListener("keydown", (e) => {
      if (e.key === " " || e.key === "Enter") {
        e.preventDefault();
        if (!e.repeat) start();
      }
    });
    button.addEventListener("keyup", (e) => {
      if (e.key === " " || e.key === "Enter") {
        e.preventDefault();
        end();
      }
    });
    button.addEventListener("blur", end);
    button.addEventListener("contextmenu", (e) => e.preventDefault());   // long press on a phone

    const api = { end, get active() { return active; } };
    holds.push(api);
    return api;
  }

  document.querySelectorAll("[data-hold]").forEach(makeHold);

  function endAllHolds() {
    for (const h of holds) h.end();
  }

  // -- stop, fault, presets ----------------------------------------------------------
  function stopNow() {
    endAllHolds();
    call("POST", "/stop", undefined, { keepalive: true })
      .then((r) => { if (!r.ok) showMessage(errorText(r)); poll.now(); })
      .catch(() => showMessage("could not reach the desk to stop it; use the desk's own buttons"));
  }

  // Stop reacts on the press itself, not on the click that follows it.
  let stopPressedAt = 0;
  el.stop.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    stopPressedAt = Date.now();
    stopNow();
  });
  el.stop.addEventListener("click", () => {
    if (Date.now() - stopPressedAt > 1000) stopNow();     // keyboard, or a click without a pointerdown
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") stopNow();
  });

  el.clear.addEventListener("click", () => act("POST", "/clear-fault", undefined, "fault cleared"));

  document.querySelectorAll("[data-preset]").forEach((button) => {
    const slot = button.dataset.preset;
    button.addEventListener("click", () => {
      endAllHolds();
      act("POST", `/presets/${encodeURIComponent(slot)}/recall`, undefined,
        (d) => `going to preset ${slot} (${fmt(d && d.target_mm)} mm)`);
    });
  });

  document.querySelectorAll("[data-save]").forEach((button) => {
    const slot = button.dataset.save;
    button.addEventListener("click", () => {
      act("PUT", `/presets/${encodeURIComponent(slot)}`, {},
        (d) => `preset ${slot} saved at ${fmt(d && d.height_mm)} mm`);
    });
  });

  // -- the simulator's virtual keypad -------------------------------------------------
  const simKeys = [];
  let latch = false;
  // One queue for every key, so "pressed" and "released" reach the desk in the order they happened.
  let simQueue = Promise.resolve();

  function sendKey(key, pressed) {
    simQueue = simQueue
      .then(() => call("POST", `/sim/keys/${encodeURIComponent(key)}`, { pressed }, { keepalive: !pressed }))
      .then((r) => { if (!r.ok) showMessage(errorText(r)); })
      .catch(() => showMessage("could not reach the desk"));
  }

  document.querySelectorAll("[data-sim-key]").forEach((button) => {
    const key = button.dataset.simKey;
    let down = false;

    function set(pressed) {
      if (down === pressed) return;
      down = pressed;
      button.classList.toggle("is-held", pressed);
      button.setAttribute("aria-pressed", String(pressed));
      sendKey(key, pressed);
      poll.now();
    }

    button.addEventListener("pointerdown", (e) => {
      if (e.pointerType === "mouse" && e.button !== 0) return;
      e.preventDefault();
      set(latch ? !down : true);
    });
    for (const type of ["pointerup", "pointercancel", "pointerleave"]) {
      button.addEventListener(type, () => { if (!latch) set(false); });
    }
    button.addEventListener("keydown", (e) => {
      if (e.key === " " || e.key === "Enter") {
        e.preventDefault();
        if (!e.repeat) set(latch ? !down : true);
      }
    });
    button.addEventListener("keyup", (e) => {
      if ((e.key === " " || e.key === "Enter") && !latch) {
        e.preventDefault();
        set(false);
      }
    });
    button.addEventListener("blur", () => { if (!latch) set(false); });
    button.addEventListener("contextmenu", (e) => e.preventDefault());
    simKeys.push({ release: () => set(false) });
  });

  function releaseAllKeys() {
    for (const k of simKeys) k.release();
  }

  if (el.latch) {
    el.latch.addEventListener("click", () => {
      latch = !latch;
      el.latch.setAttribute("aria-pressed", String(latch));
      el.latch.textContent = latch ? "Latch: on" : "Latch: off";
      if (!latch) releaseAllKeys();
    });
  }

  // -- the page going away: let go of everything -----------------------------------------
  function letGo() {
    endAllHolds();
    releaseAllKeys();
  }
  window.addEventListener("blur", () => {
    endAllHolds();
    if (!latch) releaseAllKeys();
  });
  window.addEventListener("pagehide", letGo);
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) letGo();
    else poll.now();
  });

  poll.start();
})();
