/* The service worker behind break notifications on phones whose browser shows page notifications
 * only through one (Chrome on Android). It controls no page and caches nothing: it shows what the
 * page asks (notify.js) and, when the notification is tapped, brings the desk's page forward and
 * tells it which reminder to open on the break screen.
 */
self.addEventListener("install", () => self.skipWaiting());

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const id = event.notification.tag;
  const url = (event.notification.data && event.notification.data.url) || "/reminders";
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
    const page = windows.find((w) => "focus" in w);
    if (!page) return self.clients.openWindow(url);
    page.postMessage({ type: "open-break", id });
    return page.focus();
  }));
});
