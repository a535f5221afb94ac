/* The desk's live state, on every page but the sign-in page.
 *
 * Live state arrives by Server-Sent Events (/api/v1/events); while that link is down the page
 * polls /api/v1/state every second (every 200 ms while a hold button is down) and says so in a
 * banner; a second banner says when the desk's storage is full (the state's `storage.full`).
 * Every change is shown from what the server says, so several phones and a laptop stay
 * consistent. Scripts subscribe with on("state", (state, previous) => ...) and
 * on("reminder", (snapshot) => ...); state() and reminder() are the last ones the server sent.
 */
import { API, call, me, onActed, onRequestFailed, samePerson, signedOut } from "./api.js";
import { $, byTestId, setHidden, setText } from "./dom.js";

const POLL_MS = 200;               // state poll while a hold is down and live updates are lost
const FALLBACK_POLL_MS = 1000;     // state poll while live updates are lost
const LOST_AFTER_MS = 1500;        // a normal SSE reconnect takes ~1 s; longer is an outage
const WATCHDOG_MS = 10000;         // a live stream this quiet gets a check

const body = document.body;
const liveWanted = body.dataset.page !== "login";
const bannerEl = byTestId("connection-lost");
const bannerText = $("[data-live-text]");
const storageEl = byTestId("storage-full");

// -- what the server last said, and who wants to hear it -------------------------------
let current = null;
let reminderSnap = null;
let reminderAsOf = -Infinity;      // when what reminderSnap says was known (performance.now())
let stateAsOf = -Infinity;         // ... and what `current` says
let wantsReminder = false;
let holding = () => false;
let keepWhileHidden = () => false;
const listeners = {};

export const state = () => current;
export const reminder = () => reminderSnap;
export function on(type, fn) { (listeners[type] = listeners[type] || []).push(fn); }
function emit(type, data, extra) { for (const fn of listeners[type] || []) fn(data, extra); }

/** This page shows the reminder: fetch it at the start and now and then while polling. */
export function followReminders() { wantsReminder = true; }
/** Poll fast (POLL_MS) while `fn()` says a hold button is down. */
export function pollFastWhile(fn) { holding = fn; }
/** Keep the live feed open while the page is hidden as long as `fn()` says so (break notifications). */
export function stayLiveWhileHidden(fn) { keepWhileHidden = fn; }

/** The desk's state from the server (the live feed, or the answer to a request asked at `asOf`): an
 * answer asked before the state the page has arrived may be older than it, and is dropped, as for
 * reminders (takeReminder); the feed would not send that state again until something changed. */
function takeState(s, asOf = performance.now()) {
  if (!s || typeof s !== "object" || asOf < stateAsOf) return;
  stateAsOf = asOf;
  const previous = current;
  current = s;
  // A full disk: nothing is saved until someone frees space; the flag clears with the next write that works.
  setHidden(storageEl, !(s.storage && s.storage.full));
  emit("state", s, previous);
  // Reminders are for whoever is at the desk: show them again when that changes.
  if (reminderSnap && (!previous || previous.active_user !== s.active_user)) emit("reminder", reminderSnap);
}

const sameOrNobody = (a, b) => (a ? Boolean(b) && samePerson(a, b) : !b);
const notMe = (name) => Boolean(name && me && !samePerson(name, me));

/** The name of the person at the desk if that is someone other than the one signed in here, else null. */
export function someoneElseAtDesk() {
  const atDesk = current && current.active_user;
  return notMe(atDesk) ? atDesk : null;
}

/** Whether reminder snapshot `snap` is the signed-in person's to see: the person at the desk is them (or
 * nobody is), and the snapshot is about that person. The server's reminders follow a new person at the
 * desk within a second, so for that second it still sends the previous person's goal and reminder. */
export function forViewer(snap) {
  if (!snap) return false;
  const atDesk = current ? current.active_user || null : snap.user || null;
  return !notMe(atDesk) && sameOrNobody(snap.user, atDesk);
}

/** A reminder snapshot from the server (the live feed, a poll, or an action's answer), as of `asOf`: a
 * reply to a request asked before the snapshot the page has arrived may be older than it (the server
 * answered it first, or it came the slow way) and is dropped; the live feed sends every change anyway. */
export function takeReminder(snap, asOf = performance.now()) {
  if (!snap || typeof snap !== "object" || asOf < reminderAsOf) return;
  reminderAsOf = asOf;
  reminderSnap = snap;
  emit("reminder", snap);
}

export function refreshReminder() {
  const asked = performance.now();
  return call("GET", "/reminder")
    .then((r) => { if (r.ok && r.data) takeReminder(r.data, asked); })
    .catch(() => {});
}

// -- the link ----------------------------------------------------------------------------
let es = null;
let sseUp = false;
let pollTimer = null;
let polling = false;
let inflight = null;               // the state poll on its way: settles once its answer is taken
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
    setHidden(bannerEl, true);
    body.classList.remove("is-offline");
    return;
  }
  if (bannerEl.hidden && lostTimer === null) {
    lostTimer = setTimeout(() => { lostTimer = null; if (!sseUp && !document.hidden) showLost(); }, LOST_AFTER_MS);
  } else if (!bannerEl.hidden) {
    showLost();
  }
}

function showLost() {
  setText(bannerText, lastPollOk
    ? "Live updates lost – retrying. Height refreshed every second."
    : "Connection lost – retrying.");
  setHidden(bannerEl, false);
  body.classList.toggle("is-offline", !lastPollOk);
}

function parse(e, fn) {
  let data;
  try { data = JSON.parse(e.data); } catch (_) { return; }
  fn(data);
}

export function connect() {
  clearTimeout(retryTimer);
  if (es || document.hidden || !liveWanted) return;
  if (!("EventSource" in window)) { down(); return; }
  es = new EventSource(API + "/events");
  lastEventAt = performance.now();
  es.addEventListener("open", () => { sseUp = true; lastPollOk = true; lastEventAt = performance.now(); stopPolling(); banner(); });
  es.addEventListener("state", (e) => { sseUp = true; lastEventAt = performance.now(); parse(e, takeState); });
  es.addEventListener("reminder", (e) => { lastEventAt = performance.now(); parse(e, takeReminder); });
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
onRequestFailed(suspect);

// A stream can die silently (the server's keep-alives are comments, invisible here):
// after a quiet spell, ask once; a failed request marks the link down.
setInterval(() => {
  if (sseUp && !document.hidden && performance.now() - lastEventAt > WATCHDOG_MS) {
    lastEventAt = performance.now();
    askState();
  }
}, WATCHDOG_MS / 2);

export function disconnect() {
  if (document.hidden && keepWhileHidden()) return;        // a reminder may come: it is to be notified
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

function tick() {
  pollTimer = null;
  if (!inflight) {
    inflight = pollOnce().then((goOn) => {
      inflight = null;
      if (!goOn) return;
      if (!sseUp) banner();
      if (polling && !document.hidden) {
        pollTimer = setTimeout(tick, holding() ? POLL_MS : FALLBACK_POLL_MS);
      }
    });
  }
  return inflight;
}

/** One poll of the state (and every fifth the reminder); false once the sign-in is gone. */
async function pollOnce() {
  const asked = performance.now();
  try {
    const r = await call("GET", "/state");
    if (r.status === 401) { signedOut(); return false; }
    if (!r.ok || !r.data) throw new Error(`HTTP ${r.status}`);
    takeState(r.data, asked);
    lastPollOk = true;
    if (!es && !sseUp) connect();            // the link is back: try live updates again
    if (ticks++ % 5 === 0 && wantsReminder) refreshReminder();
  } catch (_) {
    lastPollOk = false;
  }
  return true;
}

/** One request for the state outside the polling, its answer taken as of when it was asked. */
function askState() {
  const asked = performance.now();
  return call("GET", "/state").then((r) => { if (r.ok) takeState(r.data, asked); }).catch(() => {});
}

/** Ask for the state now (after an action), unless live updates will bring it anyway; the promise
 * settles once the answer (or the one already on its way) has been taken. */
export function refresh() {
  if (sseUp) return Promise.resolve();
  if (inflight) return inflight;
  clearTimeout(pollTimer);
  return polling ? tick() : askState();
}

onActed(refresh);

/** Open the live feed (not on the sign-in page) and fetch the reminder if this page shows it. */
export function start() {
  if (!liveWanted) return;
  connect();
  if (wantsReminder) refreshReminder();
}
