// The guard page's service worker (served as /guard/sw.js, scope /guard/).
//
// It keeps the page itself available on a bad Wi-Fi link: the app shell (page, scripts,
// styles) is cached and served when the network fails, so a guard reopening the page in a
// dead spot sees their last alerts and the "offline" banner instead of a browser error.
// The API and the WebSocket are never cached: alerts always come from the server.

const CACHE = "cw-guard-v1";
const SHELL = [
  "/guard",
  "/static/guard/guard.css",
  "/static/guard/guard.js",
  "/static/guard/socket.js",
  "/static/guard/siren.js",
  "/static/guard/labels.js",
  "/static/guard/cards.js",
  "/static/shared/base.css",
  "/static/shared/api.js",
  "/static/shared/dom.js",
  "/static/shared/i18n.js",
  "/static/shared/login.js",
  "/static/shared/favicon.svg",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.startsWith("/api/")) return; // live data only
  const shell = url.pathname === "/guard" || url.pathname === "/guard/"
    || url.pathname.startsWith("/static/");
  if (!shell) return;
  // Network first (the newest page after an update), the cache when the network fails.
  event.respondWith(fetch(event.request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(event.request, copy));
    }
    return response;
  }).catch(() => caches.match(event.request).then((hit) => hit || caches.match("/guard"))));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(self.clients.matchAll({ type: "window" }).then((clients) => {
    for (const client of clients) {
      if (new URL(client.url).pathname.startsWith("/guard")) return client.focus();
    }
    return self.clients.openWindow("/guard");
  }));
});
