import { api, describeError, setToken } from "../api.js";
import { publicPage } from "../shell.js";
import { browserZone, timeZones } from "../time.js";
import { $, el, showFormError } from "../dom.js";

publicPage(() => {
  const form = $("#signup-form");
  $("#timezone").value = browserZone();
  $("#timezones").replaceChildren(...timeZones().map((zone) => el("option", { value: zone })));
  $("#email").focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showFormError(form, "");
    const email = $("#email").value.trim();
    const password = $("#password").value;
    const timezone = $("#timezone").value.trim() || browserZone();
    if (!email || password.length < 10) {
      showFormError(form, "Please enter your email and a password of at least 10 characters.");
      return;
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      await api("/users", { method: "POST", json: { email, password, timezone }, auth: false });
      const answer = await api("/auth/token", { method: "POST", form: { username: email, password }, auth: false });
      setToken(answer.access_token);
      location.assign("/dashboard");
    } catch (error) {
      showFormError(form, describeError(error));
      button.disabled = false;
    }
  });
});
