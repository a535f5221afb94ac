/* Talking to the desk: one fetch wrapper (JSON, the CSRF token, a timeout), the desk's own error
 * text, and act() for buttons, which shows the desk's answer in the message line.
 *
 * The live feed (live.js) wants to hear of a failed request (the link may be gone although its
 * stream looks open) and of every action (to show the new state at once); it says so through
 * onRequestFailed and onActed, so this module needs nothing from it.
 */
import { $, showMessage } from "./dom.js";

const REQUEST_TIMEOUT_MS = 3000;

export const API = document.body.dataset.api || "/api/v1";
/** Who is signed in on this page (null on the sign-in page). */
export const me = document.body.dataset.user || null;
export const samePerson = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();   // names ignore case

const failed = [];
const acted = [];
export const onRequestFailed = (fn) => { failed.push(fn); };
export const onActed = (fn) => { acted.push(fn); };

function csrf() {
  const meta = $('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

/** One API call. Resolves {ok, status, data}; rejects only on network failure or timeout. */
export async function call(method, path, payload, { keepalive = false } = {}) {
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
      for (const fn of failed) fn();
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

/** What the desk said was wrong (its {"error": ...}), or the HTTP status when it said nothing. */
export function errorText(result) {
  return (result.data && typeof result.data.error === "string")
    ? result.data.error
    : `the desk answered with HTTP ${result.status}`;
}

export function signedOut() {
  // The server shows the sign-in page for every page when nobody is signed in.
  if (me) window.location.reload();
}

/** Fire-and-report for buttons: shows the desk's refusal or the network failure. */
export function act(method, path, payload, okText) {
  return call(method, path, payload)
    .then((r) => {
      if (r.status === 401) signedOut();
      if (!r.ok) showMessage(errorText(r));
      else if (okText) showMessage(typeof okText === "function" ? okText(r.data) : okText, "ok");
      for (const fn of acted) fn();
      return r;
    })
    .catch(() => {
      showMessage("could not reach the desk; check the connection");
      return { ok: false, status: 0, data: null };
    });
}
