// Says on every page that the demo user's data are generated (GET /me answers is_demo), so no chart or
// finding of the demo is read as a real person's.
import { getToken } from "./api.js";

async function showDemoBanner() {
  const token = getToken();
  if (!token) return;
  try {
    const response = await fetch("/api/v1/me", { headers: { Accept: "application/json", Authorization: `Bearer ${token}` } });
    if (!response.ok) return;
    const me = await response.json();
    document.getElementById("demo-banner").hidden = !me.is_demo;
  } catch {
    // The banner is a courtesy: the page works the same without it.
  }
}

showDemoBanner();
