import { api, describeError, download } from "../api.js";
import { importForm } from "../importer.js";
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

async function exportAll() {
  const button = $("#export");
  const status = $("#export-status");
  button.disabled = true;
  status.textContent = "Packing your data…";
  try {
    const saved = await download("/export", "chinup-export.zip");
    status.textContent = `Saved ${saved.name} (${Math.max(1, Math.round(saved.bytes / 1024)).toLocaleString()} KB).`;
  } catch (error) {
    status.textContent = describeError(error);
  } finally {
    button.disabled = false;
  }
}

signedInPage((profile) => {
  $("#export").addEventListener("click", exportAll);
  importForm($("#restore-form"), $("#restore-report"), {
    profile, dialog: $("#restore-confirm"), restore: true,
    onDone: async (report) => {
      if (report.restored) fill(Object.assign(profile, await api("/me")));
    },
  });
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
