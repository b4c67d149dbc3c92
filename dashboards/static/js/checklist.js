// The first-run checklist on Today: each step ticks itself off from what the API holds, the profile step
// can be done in place, and the list goes once every step is done or the user hides it.
import { api, describeError } from "./api.js";
import { $, showFormError } from "./dom.js";
import { heartProfile, loadHeartProfile } from "./zones.js";

const STEPS = ["profile", "data", "checkin", "interview"];
const key = (profile, what) => `chinup.first-run.${what}.${profile.id}`;

/** Whether each step is done, from the profile, the devices, the check-ins and the interviews. */
async function stepsDone(profile) {
  const [devices, checkins, interviews] = await Promise.all([api("/devices"), api("/checkins?limit=1"), api("/interviews?limit=1")]);
  // "Estimate it" chosen here, or already estimated by the server from the user's data: nothing to ask.
  const estimating = localStorage.getItem(key(profile, "estimate-resting")) === "yes"
    || heartProfile()?.resting_hr_source === "estimated";
  return {
    profile: Boolean(profile.birth_year) && (profile.resting_hr != null || estimating),
    data: devices.length > 0,
    checkin: checkins.length > 0,
    interview: interviews.length > 0,
  };
}

function render(done) {
  const count = STEPS.filter((step) => done[step]).length;
  for (const step of STEPS) {
    const item = $(`#first-run-steps [data-step="${step}"]`);
    item.classList.toggle("done", done[step]);
    item.querySelector(".plan-mark").textContent = done[step] ? "✓" : "";
    item.querySelector(".step-state").textContent = done[step] ? "done" : "not done yet";
  }
  $("#first-run-progress").textContent = count === 0
    ? "Four small steps to get started."
    : `${count} of ${STEPS.length} done. ${count === STEPS.length ? "All set: well done." : "Nice going."}`;
  $("#first-run-profile").hidden = done.profile;
}

function explainMinute(profile) {
  $('#hbu-explainer [data-part="target"]').textContent = String(profile.daily_target_minutes ?? 60);
  const heart = heartProfile();
  if (!heart) return;
  const threshold = Math.round(heart.zones.moderate_bpm);
  const extra = ` For you that is about ${threshold} bpm or more (from a resting heart rate of ${Math.round(heart.resting_hr)} and a maximum of ${Math.round(heart.max_hr)}).`;
  const box = $("#hbu-explainer");
  box.querySelector('[data-part="threshold"]')?.remove();
  const span = document.createElement("span");
  span.dataset.part = "threshold";
  span.textContent = extra;
  box.append(span);
}

function wireProfileStep(profile, refresh) {
  const form = $("#first-run-profile");
  $("#fr-birth-year").value = profile.birth_year ?? "";
  $("#fr-resting-hr").value = profile.resting_hr ?? "";
  const estimate = $("#fr-estimate");
  estimate.addEventListener("change", () => {
    $("#fr-resting-hr").disabled = estimate.checked;
    if (estimate.checked) $("#fr-resting-hr").value = "";
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showFormError(form, "");
    const year = $("#fr-birth-year").value.trim();
    const resting = $("#fr-resting-hr").value.trim();
    if (!year) return showFormError(form, "Please enter your birth year: it sets your maximum heart rate.");
    if (!resting && !estimate.checked) {
      return showFormError(form, "Enter your resting heart rate, or tick “estimate it”.");
    }
    try {
      const json = { birth_year: Number(year), resting_hr: estimate.checked ? null : Number(resting) };
      Object.assign(profile, await api("/me", { method: "PATCH", json }));
      if (estimate.checked) localStorage.setItem(key(profile, "estimate-resting"), "yes");
      await loadHeartProfile();
      explainMinute(profile);
      await refresh();
    } catch (error) {
      showFormError(form, describeError(error));
    }
  });
}

/** Show the checklist to a user who has not finished or hidden it; returns a function that re-checks it. */
export async function firstRunChecklist(profile) {
  const box = $("#first-run");
  if (localStorage.getItem(key(profile, "hidden")) === "yes") return async () => {};
  let firstLook = true;
  const refresh = async () => {
    const done = await stepsDone(profile);
    render(done);
    const all = STEPS.every((step) => done[step]);
    if (all) localStorage.setItem(key(profile, "hidden"), "yes"); // from the next visit on, no need to ask again
    // Finished before this visit: not shown. Finished just now: stays, ticked, until closed or the next visit.
    box.hidden = all && firstLook;
    $("#first-run-dismiss").textContent = all ? "Close" : "Hide this list";
    firstLook = false;
  };
  $("#first-run-dismiss").addEventListener("click", () => {
    localStorage.setItem(key(profile, "hidden"), "yes");
    box.hidden = true;
    $("#main").focus();
  });
  explainMinute(profile);
  wireProfileStep(profile, refresh);
  await refresh();
  return refresh;
}
