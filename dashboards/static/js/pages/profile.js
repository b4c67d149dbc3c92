import { api, describeError } from "../api.js";
import { signedInPage } from "../shell.js";
import { browserZone, timeZones } from "../time.js";
import { $, el, showFormError } from "../dom.js";

const NUMBERS = ["birth_year", "resting_hr", "max_hr", "daily_target_minutes"];

function fill(profile) {
  $("#profile-email").textContent = `Signed in as ${profile.email}`;
  $("#timezone").value = profile.timezone || browserZone();
  for (const name of NUMBERS) $(`#${name}`).value = profile[name] ?? "";
}

function read() {
  const body = { timezone: $("#timezone").value.trim() || browserZone() };
  for (const name of NUMBERS) {
    const text = $(`#${name}`).value.trim();
    body[name] = text === "" ? null : Number(text);
  }
  if (body.daily_target_minutes === null) delete body.daily_target_minutes;
  return body;
}

signedInPage((profile) => {
  $("#timezones").replaceChildren(...timeZones().map((zone) => el("option", { value: zone })));
  fill(profile);
  const form = $("#profile-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showFormError(form, "");
    $("#profile-status").textContent = "";
    try {
      fill(await api("/me", { method: "PATCH", json: read() }));
      $("#profile-status").textContent = "Saved. Your zones and target now use these values.";
    } catch (error) {
      showFormError(form, describeError(error));
    }
  });
});
