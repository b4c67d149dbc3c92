import { api, describeError, setToken } from "../api.js";
import { publicPage } from "../shell.js";
import { $, showFormError } from "../dom.js";

/** Only ever continue to a dashboard page on this site after logging in. */
function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "";
  return /^\/dashboard(\/|$|\?)/.test(next) && !next.startsWith("/dashboard/login") ? next : "/dashboard";
}

publicPage(() => {
  const form = $("#login-form");
  $("#email").focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showFormError(form, "");
    const email = $("#email").value.trim();
    const password = $("#password").value;
    if (!email || !password) {
      showFormError(form, "Please enter your email and password.");
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const answer = await api("/auth/token", { method: "POST", form: { username: email, password }, auth: false });
      setToken(answer.access_token);
      location.assign(nextPage());
    } catch (error) {
      showFormError(form, error.status === 401 ? "That email and password do not match." : describeError(error));
      button.disabled = false;
    }
  });
});
