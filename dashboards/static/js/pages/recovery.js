import { apiOptional } from "../api.js";
import { cssVar, drawChart, emptyChart, withAlpha } from "../charts.js";
import { signedInPage } from "../shell.js";
import { addDays, dateRange, dateToX, formatDay, localDate } from "../time.js";
import { $, facts, round } from "../dom.js";

// The status compares the 7-day mean of daily ln RMSSD with the band of the last 60 days (HRV4Training);
// the service gives it once there are 3 values in the week and 14 in the 60 days (analysis/baseline.py).
const BAND_DAYS_NEEDED = 14;

const STATUS_WORDS = {
  within: "Your body looks recovered: heart-rate variability is within your normal range.",
  below: "Your heart-rate variability is below your normal range. A lighter day and good sleep would help.",
  above: "Your heart-rate variability is above your normal range. Often a sign of rest; notice how you feel.",
};
const STATUS_SHORT = { within: "within", below: "below", above: "above" };

let profile = null;

const bandText = (hrv) => `${round(hrv.band_low, 2).toFixed(2)}–${round(hrv.band_high, 2).toFixed(2)}`;

/** The week's average against the band, in words: what the status is judged on. */
function detailText(hrv) {
  if (hrv.acute_ln_rmssd == null || hrv.band_low == null) return "";
  return ` Your 7-day average ln RMSSD is ${round(hrv.acute_ln_rmssd, 2).toFixed(2)}, ${STATUS_SHORT[hrv.status] || hrv.status} your normal band of ${bandText(hrv)}.`;
}

function showStatus(days) {
  const today = localDate(profile.timezone);
  const todays = days.find((d) => d.date === today && d.hrv && d.hrv.status);
  const latest = todays || [...days].reverse().find((d) => d.hrv && d.hrv.status);
  const box = $("#recovery-status");
  box.className = `statement status-${todays ? todays.hrv.status : "none"}`;
  box.dataset.status = todays ? todays.hrv.status : "none";
  if (!latest) {
    const readings = days.filter((d) => d.hrv && d.hrv.ln_rmssd != null).length;
    box.textContent = "No recovery status yet. Wear the strap while resting (for example in the morning) to build your normal range: "
      + `it needs ${BAND_DAYS_NEEDED} days with a resting reading, and these weeks have ${readings}.`;
    facts($("#recovery-facts"), []);
    return;
  }
  const words = STATUS_WORDS[latest.hrv.status] || latest.hrv.status;
  box.textContent = todays
    ? `Today: ${words}${detailText(latest.hrv)}`
    : `No status for today yet; wear the strap while resting to get one. The latest, on ${formatDay(latest.date)}: ${words}${detailText(latest.hrv)}`;
  facts($("#recovery-facts"), [
    ["Resting HR", latest.resting_hr == null ? null : `${Math.round(latest.resting_hr)} bpm`],
    ["RMSSD", latest.hrv.rmssd_ms == null ? null : `${round(latest.hrv.rmssd_ms, 0)} ms`],
    ["ln RMSSD", latest.hrv.ln_rmssd == null ? null : round(latest.hrv.ln_rmssd, 2).toFixed(2)],
    ["7-day average", latest.hrv.acute_ln_rmssd == null ? null : round(latest.hrv.acute_ln_rmssd, 2).toFixed(2)],
    ["Normal band", latest.hrv.band_low == null ? null : bandText(latest.hrv)],
  ]);
}

// Daily charts: x is noon UTC of each date (dateToX), so the axis is written in UTC to show the dates as they are.
const dailyScales = { x: { time: true, range: (u, lo, hi) => [lo - 43200, hi + 43200] } };

function drawResting(days) {
  const points = days.filter((d) => d.resting_hr != null);
  if (!points.length) {
    emptyChart($("#rhr-chart"), "No resting heart rate yet.");
    return;
  }
  drawChart($("#rhr-chart"), {
    data: [days.map((d) => dateToX(d.date)), days.map((d) => d.resting_hr ?? null)],
    series: [{}, { label: "Resting HR", stroke: cssVar("--accent"), width: 2, points: { show: true } }],
    axes: [{}, { label: "bpm" }],
    scales: dailyScales,
    tz: "UTC",
  });
}

function drawHrv(days) {
  const container = $("#hrv-chart");
  if (!days.some((d) => d.hrv && d.hrv.ln_rmssd != null)) {
    emptyChart(container, "No heart-rate variability yet.");
    return;
  }
  const col = (f) => days.map((d) => (d.hrv ? d.hrv[f] ?? null : null));
  const value = (u, v) => (v == null ? "–" : v.toFixed(2));
  const edge = { stroke: withAlpha("--zone-moderate", 0.6), width: 1, points: { show: false }, value };
  drawChart(container, {
    data: [days.map((d) => dateToX(d.date)), col("band_high"), col("band_low"), col("acute_ln_rmssd"), col("ln_rmssd")],
    series: [
      {},
      { label: "Band top", ...edge },
      { label: "Band bottom", ...edge },
      { label: "7-day average", stroke: cssVar("--accent-strong"), width: 2.5, points: { show: false, lone: true }, value },
      { label: "ln RMSSD", stroke: withAlpha("--accent", 0.55), width: 1, points: { show: true, size: 7, fill: cssVar("--accent") }, value },
    ],
    bands: [{ series: [1, 2], fill: withAlpha("--zone-moderate", 0.2) }],
    axes: [{}, { label: "ln RMSSD" }],
    scales: dailyScales,
    tz: "UTC",
  });
  container.dataset.bandDays = String(days.filter((d) => d.hrv && d.hrv.band_low != null).length);
}

async function load() {
  const to = localDate(profile.timezone);
  const from = addDays(to, -7 * Number($("#weeks").value) + 1);
  const answer = (await apiOptional(`/days?from=${from}&to=${to}`, [])) || [];
  // Every date gets a row, so a day without data is a hole in the lines, never bridged.
  const byDate = new Map(answer.map((d) => [d.date, d]));
  const days = dateRange(from, to).map((date) => byDate.get(date) || { date, resting_hr: null, hrv: null });
  // The charts start at the first day with a reading: weeks before the strap was first worn say nothing.
  const first = days.findIndex((d) => d.resting_hr != null || (d.hrv && d.hrv.ln_rmssd != null));
  const shown = first < 0 ? days : days.slice(first);
  showStatus(days);
  drawResting(shown);
  drawHrv(shown);
}

signedInPage(async (p) => {
  profile = p;
  $("#weeks").addEventListener("change", load);
  $("#recovery-controls").addEventListener("submit", (e) => e.preventDefault());
  await load();
});
