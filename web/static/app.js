/* deskpi: the shared page script (every page) and the home page's controls.
 *
 * Live state arrives by Server-Sent Events (/api/v1/events); while that link is
 * down the page polls /api/v1/state every second and says so in a banner.
 * Every change is shown from what the server says, so several phones and a
 * laptop stay consistent.
 *
 * Dead-man safety: a hold is a lease the desk grants for 0.5 s; while a hold
 * button is down this page renews it every 150 ms and sends /release the
 * moment the button is let go, the finger slides off, the pointer is
 * cancelled, the window loses focus or the page is hidden. If this page dies
 * or the network drops, the renewals stop and the desk stops by itself.
 *
 * CSP: no inline scripts or style attributes; every text is set with
 * textContent, never as HTML. Other pages' scripts use window.deskpi.
 */
"use strict";

(function () {
  const body = document.body;
  const API = body.dataset.api || "/api/v1";
  const HOLD_MS = 150;
  const POLL_MS = 200;               // state poll while a hold is down and live updates are lost
  const FALLBACK_POLL_MS = 1000;     // state poll while live updates are lost
  const LOST_AFTER_MS = 1500;        // a normal SSE reconnect takes ~1 s; longer is an outage
  const WATCHDOG_MS = 10000;         // a live stream this quiet gets a check
  const REQUEST_TIMEOUT_MS = 3000;
  const MESSAGE_MS = 6000;

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const byTestId = (id) => $(`[data-testid="${id}"]`);
  const me = body.dataset.user || null;
  const samePerson = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();   // names ignore case
  const liveWanted = body.dataset.page !== "login";
  let units = body.dataset.units || "mm";

  // -- units: the API speaks millimetres, people their own unit --------------------
  const finite = (v) => typeof v === "number" && isFinite(v);
  function num(mm, u) {
    u = u || units;
    if (!finite(mm)) return "–";
    if (u === "in") return (mm / 25.4).toFixed(1);
    if (u === "cm") return (mm / 10).toFixed(1);
    return mm.toFixed(0);
  }
  const height = (mm, u) => (finite(mm) ? `${num(mm, u)} ${u || units}` : "–");
  function toMm(value, u) {
    u = u || units;
    const v = Number(value);
    if (value === "" || !isFinite(v)) return null;
    return Math.round(u === "in" ? v * 25.4 : u === "cm" ? v * 10 : v);
  }

  // -- talking to the desk -----------------------------------------------------------
  function csrf() {
    const meta = $('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  /** One API call. Resolves {ok, status, data}; rejects only on network failure or timeout. */
  async function call(method, path, payload, { keepalive = false } = {}) {
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
    if (method !== "GET") {
      opts.headers["Content-Type"] = "application/json";
      opts.headers["X-CSRF-Token"] = csrf();
      if (payload !== undefined) opts.body = JSON.stringify(payload);
    }
    try {
      let resp;
      try {
        resp = await fetch(API + path, opts);
      } catch (err) {
        live.suspect();                          // the link may be gone although the stream looks open
        throw err;
      }
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

  const messageEl = byTestId("message");
  let messageTimer = null;
  function showMessage(text, kind = "error") {
    if (!messageEl) return;
    messageEl.textContent = text;
    messageEl.dataset.kind = kind;
    clearTimeout(messageTimer);
    messageTimer = setTimeout(() => { messageEl.textContent = ""; }, MESSAGE_MS);
  }

  function signedOut() {
    // The server shows the sign-in page for every page when nobody is signed in.
    if (me) window.location.reload();
  }

  /** Fire-and-report for buttons: shows the desk's refusal or the network failure. */
  function act(method, path, payload, okText) {
    return call(method, path, payload)
      .then((r) => {
        if (r.status === 401) signedOut();
        if (!r.ok) showMessage(errorText(r));
        else if (okText) showMessage(typeof okText === "function" ? okText(r.data) : okText, "ok");
        live.refresh();
        return r;
      })
      .catch(() => {
        showMessage("could not reach the desk; check the connection");
        return { ok: false, status: 0, data: null };
      });
  }

  // -- a tiny event hub for the page modules ---------------------------------------
  const listeners = {};
  function on(type, fn) { (listeners[type] = listeners[type] || []).push(fn); }
  function emit(type, data) { for (const fn of listeners[type] || []) fn(data); }

  function setText(node, text) {
    if (node && node.textContent !== text) node.textContent = text;
  }
  function setHidden(node, hidden) {
    if (node && node.hidden !== hidden) node.hidden = hidden;
  }

  // -- live state ---------------------------------------------------------------------
  const el = {
    banner: byTestId("connection-lost"),
    bannerText: $("[data-live-text]"),
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
    announce: byTestId("height-announce"),
    miniHeight: $("[data-mini-height]"),
    miniState: $("[data-mini-state]"),
    presetsOwner: $("[data-presets-owner]"),
  };
  let current = null;                  // the last state the server sent

  function renderState(s) {
    if (!s || typeof s !== "object") return;
    const previous = current;
    current = s;
    const state = String(s.state || "unknown");
    setText(el.height, num(s.height_mm));
    setText(el.state, state);
    body.dataset.state = state;
    setText(el.miniHeight, height(s.height_mm));
    setText(el.miniState, state);
    setHidden(el.target, !finite(s.target_mm));
    setText(el.targetMm, height(s.target_mm));
    setHidden(el.owner, !s.owner);
    setText(el.owner, s.owner ? `by ${s.owner}` : "");
    setHidden(el.locked, !s.locked);
    setHidden(el.faultBox, !s.fault);
    setText(el.fault, s.fault ? String(s.fault) : "");
    if (el.announce && previous && previous.state !== state && state === "idle") {
      setText(el.announce, `Desk stopped at ${height(s.height_mm)}`);
    }
    if (Array.isArray(s.presets)) {
      for (const p of s.presets) {
        const label = byTestId(`preset-${Number(p.slot)}-height`);
        setText(label, finite(p.height_mm) ? height(p.height_mm) : "empty");
      }
    }
    if (el.presetsOwner && "active_user" in s) {
      setText(el.presetsOwner, s.active_user ? `· ${s.active_user}` : "· the desk's own");
    }
    if ("claim" in s) renderClaim(s.claim);
    if (reminderSnap && (!previous || previous.active_user !== s.active_user)) renderReminder(reminderSnap);
    emit("state", s);
  }

  const live = (function () {
    let es = null;
    let sseUp = false;
    let pollTimer = null;
    let polling = false;
    let inflight = false;
    let lastPollOk = true;
    let lostTimer = null;
    let ticks = 0;
    let retryTimer = null;
    let lastEventAt = 0;

    function banner() {
      const lost = !sseUp && !document.hidden;
      if (!lost) {
        clearTimeout(lostTimer);
        lostTimer = null;
        setHidden(el.banner, true);
        body.classList.remove("is-offline");
        return;
      }
      if (el.banner.hidden && lostTimer === null) {
        lostTimer = setTimeout(() => { lostTimer = null; if (!sseUp && !document.hidden) showLost(); }, LOST_AFTER_MS);
      } else if (!el.banner.hidden) {
        showLost();
      }
    }
    function showLost() {
      setText(el.bannerText, lastPollOk
        ? "Live updates lost – retrying. Height refreshed every second."
        : "Connection lost – retrying.");
      setHidden(el.banner, false);
      body.classList.toggle("is-offline", !lastPollOk);
    }

    function parse(e, fn) {
      let data;
      try { data = JSON.parse(e.data); } catch (_) { return; }
      fn(data);
    }

    function connect() {
      clearTimeout(retryTimer);
      if (es || document.hidden || !liveWanted) return;
      if (!("EventSource" in window)) { down(); return; }
      es = new EventSource(API + "/events");
      lastEventAt = performance.now();
      es.addEventListener("open", () => { sseUp = true; lastPollOk = true; lastEventAt = performance.now(); stopPolling(); banner(); });
      es.addEventListener("state", (e) => { sseUp = true; lastEventAt = performance.now(); parse(e, renderState); });
      es.addEventListener("reminder", (e) => { lastEventAt = performance.now(); parse(e, renderReminder); });
      es.addEventListener("ping", () => { lastEventAt = performance.now(); });
      es.addEventListener("session", (e) => parse(e, (d) => { if (d && d.signed_in === false) signedOut(); }));
      es.addEventListener("error", () => {
        // EventSource retries by itself (the server sends retry: 1000) unless the
        // server refused the stream outright: then retry here.
        if (es && es.readyState === EventSource.CLOSED) {
          es.close();
          es = null;
          retryTimer = setTimeout(connect, 2000);
          // Refused outright: maybe the sign-in is gone (expired while the phone slept).
          // /state answers anyone, so ask the session itself.
          call("GET", "/session")
            .then((r) => { if (r.status === 401 || (r.ok && r.data && r.data.user === null)) signedOut(); })
            .catch(() => {});
        }
        down();
      });
    }

    function down() {
      sseUp = false;
      startPolling();
      banner();
    }

    /** A request failed: the stream may be dead without knowing it (Wi-Fi gone, TCP not yet timed out). */
    function suspect() {
      if (document.hidden || !liveWanted) return;
      lastPollOk = false;
      if (es) { es.close(); es = null; }
      down();
    }

    // A stream can die silently (the server's keep-alives are comments, invisible here):
    // after a quiet spell, ask once; a failed request marks the link down.
    setInterval(() => {
      if (sseUp && !document.hidden && performance.now() - lastEventAt > WATCHDOG_MS) {
        lastEventAt = performance.now();
        call("GET", "/state").then((r) => { if (r.ok) renderState(r.data); }).catch(() => {});
      }
    }, WATCHDOG_MS / 2);

    function disconnect() {
      clearTimeout(retryTimer);
      if (es) { es.close(); es = null; }
      sseUp = false;
      stopPolling();
      banner();
    }

    function startPolling() {
      if (polling) return;
      polling = true;
      tick();
    }
    function stopPolling() {
      polling = false;
      clearTimeout(pollTimer);
      pollTimer = null;
    }

    async function tick() {
      pollTimer = null;
      if (inflight) return;
      inflight = true;
      try {
        const r = await call("GET", "/state");
        if (r.status === 401) { signedOut(); return; }
        if (!r.ok || !r.data) throw new Error(`HTTP ${r.status}`);
        renderState(r.data);
        lastPollOk = true;
        if (!es && !sseUp) connect();            // the link is back: try live updates again
        if (ticks++ % 5 === 0 && wantsReminder) refreshReminder();
      } catch (_) {
        lastPollOk = false;
      } finally {
        inflight = false;
      }
      if (!sseUp) banner();
      if (polling && !document.hidden) {
        pollTimer = setTimeout(tick, anyHoldActive() ? POLL_MS : FALLBACK_POLL_MS);
      }
    }

    return {
      connect,
      disconnect,
      suspect,
      /** Ask for the state now (after an action), unless live updates will bring it anyway. */
      refresh() {
        if (sseUp || inflight) return;
        clearTimeout(pollTimer);
        if (polling) tick();
        else call("GET", "/state").then((r) => { if (r.ok) renderState(r.data); }).catch(() => {});
      },
      get up() { return sseUp; },
    };
  })();

  // -- the claim -------------------------------------------------------------------------
  const claimEl = {
    panel: $("[data-claim-panel]"),
    status: byTestId("claim-status"),
    help: $("[data-claim-help]"),
    claim: $("[data-claim]"),
    release: $("[data-claim-release]"),
  };
  let claim = null;
  let claimAt = 0;
  let claimTimer = null;

  function claimRemaining() {
    if (!claim || !finite(claim.expires_in_s)) return null;
    return Math.max(0, Math.ceil(claim.expires_in_s - (performance.now() - claimAt) / 1000));
  }

  function claimText() {
    if (!claim || claim.state === "none") return "Not claimed";
    if (claim.state === "pending") {
      if (!claim.mine) return `${claim.user || "Someone"} is claiming this desk`;
      const left = claimRemaining();
      return left === null ? "Press any preset button on the desk"
        : `Press any preset button on the desk within ${left} s`;
    }
    return claim.mine ? "Claimed by you" : `In use by ${claim.user || "someone"}`;
  }

  function needsClaim() {
    return Boolean(claim && claim.required && !(claim.state === "claimed" && claim.mine));
  }

  function renderClaim(c) {
    if (!c || typeof c !== "object") return;
    claim = c;
    claimAt = performance.now();
    const locked = needsClaim();
    setHidden(claimEl.panel, false);
    if (claimEl.panel) claimEl.panel.dataset.state = String(c.state);
    setText(claimEl.status, claimText());
    setText(claimEl.help, locked
      ? (c.state === "pending" && c.mine
        ? "Waiting for you to press a preset button on the desk itself."
        : "To move the desk from here, claim it: you then confirm on the desk itself.")
      : "");
    setHidden(claimEl.claim, Boolean(c.mine && c.state !== "none"));
    setHidden(claimEl.release, !(c.mine && c.state !== "none"));
    setText(claimEl.release, c.state === "pending" ? "Cancel" : "Release the desk");
    for (const b of $$("[data-hold], [data-preset]")) {
      if (locked) b.setAttribute("aria-disabled", "true");
      else b.removeAttribute("aria-disabled");
    }
    const pad = $("[data-motion]");
    if (pad) pad.classList.toggle("is-locked", locked);
    clearInterval(claimTimer);
    claimTimer = null;
    if (c.state === "pending" && c.mine && finite(c.expires_in_s)) {
      claimTimer = setInterval(() => {
        setText(claimEl.status, claimText());
        if (claimRemaining() === 0) { clearInterval(claimTimer); claimTimer = null; live.refresh(); }
      }, 250);
    }
  }

  if (claimEl.claim) {
    claimEl.claim.addEventListener("click", () => {
      act("POST", "/claim", {}).then((r) => {
        if (r.ok && r.data) renderClaim({ mine: true, user: me, required: claim ? claim.required : true, ...r.data });
      });
    });
  }
  if (claimEl.release) {
    claimEl.release.addEventListener("click", () => {
      act("DELETE", "/claim", undefined, "you released the desk").then((r) => {
        if (r.ok) renderClaim({ ...(claim || {}), state: "none", user: null, mine: false, expires_in_s: null });
      });
    });
  }

  // -- the live reminder (home banner, reminders page, nav dot) ----------------------------
  const reminderBoxes = $$("[data-reminder]");
  const reminderDot = $("[data-reminder-dot]");
  const wantsReminder = Boolean(reminderBoxes.length || reminderDot);
  let reminderSnap = null;

  const TITLES = {
    stand: "Time to stand up",
    sit: "Time to sit down",
    move: "Time to move",
    stretch: "Time for a stretch",
  };
  const CONFIRM = { stand: "Stand up now", sit: "Sit down now", move: "Done", stretch: "Done" };

  function reminderTitle(r) {
    if (r.stretch && r.stretch.title) return r.stretch.title;
    return TITLES[r.kind] || "Time to change posture";
  }

  /** A <ul>/<ol> of texts (as text, never HTML). */
  function fillList(list, items) {
    if (!list) return;
    list.replaceChildren(...(items || []).map((text) => {
      const li = document.createElement("li");
      li.textContent = String(text);
      return li;
    }));
  }

  function renderReminder(snap) {
    if (!snap || typeof snap !== "object") return;
    reminderSnap = snap;
    // Reminders are for whoever is at the desk: someone else's is not shown as yours.
    const atDesk = current && current.active_user;
    const r = (atDesk && me && !samePerson(atDesk, me)) ? null : (snap.reminder || null);
    setHidden(reminderDot, !r);
    for (const box of reminderBoxes) {
      setHidden(box, !r);
      if (!r) continue;
      box.dataset.kind = String(r.kind || "");
      box.dataset.id = String(r.id || "");
      setText($('[data-r="title"]', box), reminderTitle(r));
      let message = String(r.message || "");
      if (!message && finite(r.minutes)) message = `For about ${r.minutes} min.`;
      if (r.mode === "auto" && (r.kind === "stand" || r.kind === "sit")) {
        message += " The desk moves by itself after a short warning; press any desk button to cancel.";
      }
      setText($('[data-r="message"]', box), message.trim());
      const confirm = $('[data-r-action="confirm"]', box);
      setText(confirm, CONFIRM[r.kind] || "Done");
      const s = r.stretch;
      setText($('[data-r="helps"]', box), s ? String(s.helps || "") : "");
      fillList($('[data-r="steps"]', box), s ? s.steps : []);
      fillList($('[data-r="cautions"]', box), s ? s.cautions : []);
    }
    emit("reminder", snap);
  }

  function refreshReminder() {
    return call("GET", "/reminder")
      .then((r) => { if (r.ok && r.data) renderReminder(r.data); })
      .catch(() => {});
  }

  for (const box of reminderBoxes) {
    for (const button of $$("[data-r-action]", box)) {
      button.addEventListener("click", () => {
        const action = button.dataset.rAction;
        const id = box.dataset.id || undefined;
        const done = { confirm: "done – well moved", snooze: "snoozed", skip: "skipped" }[action];
        act("POST", `/reminder/${action}`, { id }, done).then((r) => {
          if (r.ok && r.data && "reminder" in r.data) {
            renderReminder({ ...(reminderSnap || {}), reminder: r.data.reminder });
          } else {
            refreshReminder();
          }
        });
      });
    }
  }

  // -- hold to run ------------------------------------------------------------------------
  const holds = [];
  const anyHoldActive = () => holds.some((h) => h.active);

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
          if (r.status === 401) signedOut();
          if (!r.ok) {
            showMessage(errorText(r));
            end();
          }
        })
        .catch(() => {
          // The desk stops by itself when renewals stop; a hold must not come back to life
          // when the link does, so this one is over: let go and press again.
          if (active) {
            showMessage("connection lost – the desk stopped by itself; let go and press again");
            end();
          }
        })
        .finally(() => {
          inflight = false;
          // A renewal still on its way when the button was let go may arrive after the
          // release: release again so it cannot keep the desk going.
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
      live.refresh();
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
    for (const type of ["pointerup", "pointercancel", "pointerleave", "lostpointercapture"]) {
      button.addEventListener(type, (e) => {
        if (pointerId === null || e.pointerId === pointerId) end();
      });
    }
    // With the pointer captured, sliding off the button sends no pointerleave: check the bounds.
    button.addEventListener("pointermove", (e) => {
      if (!active || e.pointerId !== pointerId) return;
      const b = button.getBoundingClientRect();
      const slack = 24;
      if (e.clientX < b.left - slack || e.clientX > b.right + slack ||
          e.clientY < b.top - slack || e.clientY > b.bottom + slack) end();
    });
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
    button.addEventListener("selectstart", (e) => e.preventDefault());

    const api = { end, get active() { return active; } };
    holds.push(api);
    return api;
  }

  $$("[data-hold]").forEach(makeHold);

  function endAllHolds() {
    for (const h of holds) h.end();
  }

  // -- stop, fault, presets -----------------------------------------------------------------
  function stopNow() {
    endAllHolds();
    call("POST", "/stop", undefined, { keepalive: true })
      .then((r) => {
        if (r.status === 401) showMessage("sign in to stop the desk from here – or use the desk's own buttons");
        else if (!r.ok) showMessage(errorText(r));
        live.refresh();
      })
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

  if (el.clear) el.clear.addEventListener("click", () => act("POST", "/clear-fault", {}, "fault cleared"));

  $$("[data-preset]").forEach((button) => {
    const slot = button.dataset.preset;
    button.addEventListener("click", () => {
      endAllHolds();
      act("POST", `/presets/${encodeURIComponent(slot)}/recall`, {},
        (d) => `going to preset ${slot} (${height(d && d.target_mm)})`);
    });
    button.addEventListener("contextmenu", (e) => e.preventDefault());
  });

  $$("[data-save]").forEach((button) => {
    const slot = button.dataset.save;
    button.addEventListener("click", () => {
      act("PUT", `/presets/${encodeURIComponent(slot)}`, {},
        (d) => `preset ${slot} saved at ${height(d && d.height_mm)}`);
    });
  });

  const signOut = $("[data-sign-out]");
  if (signOut) {
    signOut.addEventListener("click", () => {
      endAllHolds();
      call("DELETE", "/session")
        .catch(() => null)
        .then(() => { window.location.assign(`${API.replace(/\/api\/v1$/, "")}/`); });
    });
  }

  // -- the simulator's virtual keypad -------------------------------------------------------
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

  $$("[data-sim-key]").forEach((button) => {
    const key = button.dataset.simKey;
    let down = false;

    function set(pressed) {
      if (down === pressed) return;
      down = pressed;
      button.classList.toggle("is-held", pressed);
      button.setAttribute("aria-pressed", String(pressed));
      sendKey(key, pressed);
      live.refresh();
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

  const latchButton = byTestId("sim-latch");
  if (latchButton) {
    latchButton.addEventListener("click", () => {
      latch = !latch;
      latchButton.setAttribute("aria-pressed", String(latch));
      latchButton.textContent = latch ? "Latch: on" : "Latch: off";
      if (!latch) releaseAllKeys();
    });
  }

  // -- the page going away: let go of everything ---------------------------------------------
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
    if (document.hidden) {
      letGo();
      live.disconnect();            // no radio time for a page nobody looks at
    } else {
      live.connect();
      live.refresh();
    }
  });

  // -- for the other pages' scripts --------------------------------------------------------------
  window.deskpi = {
    API, me, samePerson, call, act, errorText, showMessage, on, num, height, toMm,
    get units() { return units; },
    set units(u) { units = u; },
    get state() { return current; },
    get reminder() { return reminderSnap; },
    refreshReminder,
    fillList,
    setText,
    setHidden,
  };

  if (liveWanted) {
    live.connect();
    if (wantsReminder) refreshReminder();
  }
})();
