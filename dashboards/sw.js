// Chin Up's service worker, served by dashboards/pwa.py at /dashboard/sw.js (scope /dashboard).
// The server fills in VERSION (a hash of the shell's files at start) and PRECACHE (pages, static files).
// Pages: network first, the cached copy when offline. Static files: cache first, since a deploy that
// changes any of them changes VERSION and so the cache. The API (/api/) is never touched: health data
// stays out of every cache, and uploads see the network as it is.
const VERSION = "__VERSION__";
const PRECACHE = __PRECACHE__;
const PREFIX = "chinup-shell-";
const CACHE = PREFIX + VERSION;

self.addEventListener("install", (event) => {
  // No skipWaiting here: a new version waits until the page's "Reload" prompt asks for it (pwa.js),
  // so an open tab never runs half old, half new files.
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll([...PRECACHE.pages, ...PRECACHE.assets])));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim(); // the first install controls the open tab at once
  })());
});

self.addEventListener("message", (event) => {
  if (event.data && event.data.type === "skip-waiting") self.skipWaiting();
  if (event.data && event.data.type === "version") event.source?.postMessage({ type: "version", version: VERSION });
});

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic") await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(request, { ignoreSearch: true });
    if (cached) return cached;
    throw error;
  }
}

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(request);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && response.type === "basic") await cache.put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return; // never cached, never answered from here
  if (url.pathname.startsWith("/dashboard/static/")) event.respondWith(cacheFirst(request));
  else if (request.mode === "navigate" && (url.pathname === "/dashboard" || url.pathname.startsWith("/dashboard/"))) {
    event.respondWith(networkFirst(request));
  }
});
