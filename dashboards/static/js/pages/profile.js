import { api, describeError, download } from "../api.js";
import { importForm } from "../importer.js";
import { signedInPage } from "../shell.js";
import { browserZone, timeZones } from "../time.js";
import { $, el, facts, showFormError } from "../dom.js";
import { loadHeartProfile } from "../zones.js";

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

const SOURCES = {
  yours: "the value you entered",
  estimated: "estimated from your resting minutes (median of the last 14 days)",
  age: "estimated from your birth year (Tanaka: 208 − 0.7 × age)",
  observed: "the highest clean heart rate seen in your data (above the age estimate)",
  default: "a typical value, until your data or profile say more",
};

/** The resting and maximum heart rate the server computes with, where each comes from, and the zone edges. */
async function showHeart() {
  const heart = await loadHeartProfile();
  if (!heart) {
    facts($("#heart-facts"), [["Resting heart rate", "not available right now"]]);
    return;
  }
  const bpm = (value) => `${Math.round(value)} bpm`;
  facts($("#heart-facts"), [
    ["Resting heart rate", el("span", {}, bpm(heart.resting_hr), el("span", { class: "hint" }, ` · ${SOURCES[heart.resting_hr_source]}`))],
    ["Maximum heart rate", el("span", {}, bpm(heart.max_hr), el("span", { class: "hint" }, ` · ${SOURCES[heart.max_hr_source]}`))],
  ]);
  const z = heart.zones;
  $("#heart-zones").textContent = `Heartbeat-up (moderate) from ${bpm(z.moderate_bpm)}, vigorous from ${bpm(z.vigorous_bpm)}, `
    + `peak from ${bpm(z.peak_bpm)}: 40, 60 and 85 % of your heart-rate reserve.`;
  $("#resting_hr").placeholder = heart.resting_hr_source === "yours" ? "" : `estimate: ${Math.round(heart.resting_hr)}`;
  $("#max_hr").placeholder = heart.max_hr_source === "yours" ? "" : `estimate: ${Math.round(heart.max_hr)}`;
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

signedInPage(async (profile) => {
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
      await showHeart();
    } catch (error) {
      showFormError(form, describeError(error));
    }
  });
  await showHeart();
});
