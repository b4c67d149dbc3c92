// What every signed-in page shares: the login check, the profile, log-out, and a safe page start.
import { api, clearToken, describeError, getToken, goToLogin } from "./api.js";
import { browserZone } from "./time.js";
import { $, showNotice } from "./dom.js";

async function logOut() {
  try {
    await api("/auth/logout", { method: "POST" });
  } catch {
    // The token may already be gone; logging out locally is what matters.
  }
  clearToken();
  location.assign("/dashboard/login");
}

/** Start a signed-in page: `render(profile)` runs once the profile is known; failures become a notice. */
export function signedInPage(render) {
  const start = async () => {
    if (!getToken()) {
      goToLogin();
      return;
    }
    $("#logout")?.addEventListener("click", logOut);
    let profile;
    try {
      profile = await api("/me");
    } catch (error) {
      if (error.status !== 401) showNotice(describeError(error));
      return;
    }
    profile.timezone = profile.timezone || browserZone();
    try {
      await render(profile);
    } catch (error) {
      if (error.status === 401) return;
      console.warn("page could not load all its data", error);
      showNotice(describeError(error));
    }
    markReady();
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}

/** Start a page for signed-out visitors (log in, sign up). */
export function publicPage(render) {
  const start = () => {
    render();
    markReady();
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}

/** Say that the page has drawn what it loaded (tests and screenshots wait for this). */
function markReady() {
  document.body.dataset.ready = "true";
}

export function itemId() {
  return Number($("#main").dataset.itemId);
}
