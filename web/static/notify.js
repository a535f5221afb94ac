/* Break notifications, opt-in on a signed-in phone: the reminders page has the switch, which asks
 * the browser's permission only when tapped. When a reminder arrives while the page is in the
 * background, a notification shows it; tapping it brings the page forward with the break screen
 * open. Browsers allow this only on a secure (https) page; Chrome on Android only through a service
 * worker (notify-sw.js, which does nothing else). Where it is not allowed, the switch says so.
 */
import { $, byTestId, setHidden, setText } from "./dom.js";

const WANT_KEY = "deskpi.notify";
const SCOPE = new URL("./", import.meta.url).pathname;
const WORKER = new URL("./notify-sw.js", import.meta.url).pathname;

export const notifySupported = () => "Notification" in window && window.isSecureContext;

function wanted() {
  try { return localStorage.getItem(WANT_KEY) === "on"; } catch (_) { return false; }
}

function want(on) {
  try { localStorage.setItem(WANT_KEY, on ? "on" : "off"); } catch (_) { /* private mode: for this page only */ }
}

/** The person asked for notifications here and the browser allows them. */
export const notifying = () => notifySupported() && Notification.permission === "granted" && wanted();

let openReminder = () => {};
/** What tapping a notification does (reminder.js opens the break screen): fn(reminderId). */
export function onNotificationTap(fn) { openReminder = fn; }

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.addEventListener("message", (e) => {
    if (e.data && e.data.type === "open-break") openReminder(String(e.data.id || ""));
  });
}

async function worker() {
  if (!("serviceWorker" in navigator)) return null;
  return (await navigator.serviceWorker.getRegistration(SCOPE))
    || navigator.serviceWorker.register(WORKER, { scope: SCOPE });
}

/** Show a notification for reminder `id` (the page is hidden); true if the browser showed one. */
export async function notify(id, title, body) {
  if (!notifying()) return false;
  const options = { body, tag: String(id), data: { url: window.location.href } };
  try {
    const n = new Notification(title, options);
    n.addEventListener("click", () => {
      window.focus();
      n.close();
      openReminder(String(id));
    });
    return true;
  } catch (_) {
    try {
      const reg = await worker();              // "Illegal constructor": only a service worker may
      if (!reg) return false;
      await reg.showNotification(title, options);
      return true;
    } catch (_) {
      return false;
    }
  }
}

// -- the switch on the reminders page ----------------------------------------------------------
const status = byTestId("notify-status");
const enable = $("[data-notify-enable]");
const disable = $("[data-notify-disable]");

function renderSwitch() {
  if (!status) return;
  let text;
  if (!notifySupported()) {
    text = window.isSecureContext
      ? "This browser cannot show notifications from a page."
      : "This browser shows notifications only for a secure (https) address of the desk. "
        + "Reminders still show on this page and on the desk's light.";
  } else if (Notification.permission === "denied") {
    text = "Notifications are blocked for this page in the browser's settings; allow them there to use this.";
  } else if (notifying()) {
    text = "On: a reminder that comes while this page is in the background shows as a notification; "
      + "tap it to open the break screen.";
  } else {
    text = "Get a notification when a break is due while this page is in the background. "
      + "The browser asks you first.";
  }
  setText(status, text);
  setHidden(enable, !notifySupported() || Notification.permission === "denied" || notifying());
  setHidden(disable, !notifying());
}

if (enable) {
  enable.addEventListener("click", () => {
    const asked = Notification.permission === "granted" ? Promise.resolve("granted")
      : Notification.requestPermission();
    asked.then((permission) => {
      want(permission === "granted");
      if (permission === "granted") worker().catch(() => null);   // ready for phones that need it
      renderSwitch();
    }).catch(() => renderSwitch());
  });
}
if (disable) {
  disable.addEventListener("click", () => { want(false); renderSwitch(); });
}
renderSwitch();
