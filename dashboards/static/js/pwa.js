// Installs the service worker (/dashboard/sw.js, see dashboards/pwa.py) and offers a new version when one
// is waiting: "A new version is ready — Reload". The waiting worker takes over only when asked, then the
// page reloads once, so a tab never mixes files of two versions and never keeps an old shell for ever.
const SCOPE = "/dashboard";
let reloadAsked = false;

function offerReload(worker) {
  if (document.getElementById("update-prompt")) return;
  const box = document.createElement("div");
  box.id = "update-prompt";
  box.className = "update-prompt";
  box.setAttribute("role", "status");
  const text = document.createElement("span");
  text.textContent = "A new version is ready — ";
  const button = document.createElement("button");
  button.type = "button";
  button.className = "button small primary";
  button.textContent = "Reload";
  button.addEventListener("click", () => {
    button.disabled = true;
    reloadAsked = true;
    worker.postMessage({ type: "skip-waiting" });
  });
  box.append(text, button);
  document.body.append(box);
}

async function register() {
  const registration = await navigator.serviceWorker.register("/dashboard/sw.js", { scope: SCOPE });
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    // The first install claims the tab (nothing to reload); a version the user asked for reloads once.
    if (!reloadAsked) return;
    reloadAsked = false;
    location.reload();
  });
  if (registration.waiting && navigator.serviceWorker.controller) offerReload(registration.waiting);
  registration.addEventListener("updatefound", () => {
    const incoming = registration.installing;
    incoming?.addEventListener("statechange", () => {
      if (incoming.state === "installed" && navigator.serviceWorker.controller) offerReload(incoming);
    });
  });
  document.documentElement.dataset.serviceWorker = "registered";
}

if ("serviceWorker" in navigator && window.isSecureContext) {
  register().catch((error) => console.warn("service worker not registered", error));
}
