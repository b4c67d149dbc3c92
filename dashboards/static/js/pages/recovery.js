import { apiOptional } from "../api.js";
import { cssVar, drawChart, emptyChart, withAlpha } from "../charts.js";
import { signedInPage } from "../shell.js";
import { addDays, dateToX, formatDay, localDate } from "../time.js";
import { $, facts, round } from "../dom.js";

const STATUS_WORDS = {
  within: "Your body looks recovered: heart-rate variability is within your normal range.",
  below: "Your heart-rate variability is below your normal range. A lighter day and good sleep would help.",
  above: "Your heart-rate variability is above your normal range. Often a sign of rest; notice how you feel.",
};

let profile = null;

function showStatus(days) {
  const latest = [...days].reverse().find((d) => d.hrv && d.hrv.status);
  const box = $("#recovery-status");
  box.className = `statement status-${latest ? latest.hrv.status : "none"}`;
  if (!latest) {
    box.textContent = "No recovery reading yet. Wear the strap while resting (for example in the morning) to build your normal range.";
    facts($("#recovery-facts"), []);
    return;
  }
  const when = latest.date === localDate(profile.timezone) ? "Today" : formatDay(latest.date);
  box.textContent = `${when}: ${STATUS_WORDS[latest.hrv.status] || latest.hrv.status}`;
  facts($("#recovery-facts"), [
    ["Resting HR", latest.resting_hr == null ? null : `${Math.round(latest.resting_hr)} bpm`],
    ["RMSSD", latest.hrv.rmssd_ms == null ? null : `${round(latest.hrv.rmssd_ms, 0)} ms`],
    ["ln RMSSD", round(latest.hrv.ln_rmssd, 2)],
    ["Normal band", latest.hrv.band_low == null ? null : `${round(latest.hrv.band_low, 2)} – ${round(latest.hrv.band_high, 2)}`],
  ]);
}

function drawResting(days) {
  const points = days.filter((d) => d.resting_hr != null);
  if (!points.length) {
    emptyChart($("#rhr-chart"), "No resting heart rate yet.");
    return;
  }
  drawChart($("#rhr-chart"), {
    data: [days.map((d) => dateToX(d.date)), days.map((d) => d.resting_hr ?? null)],
    series: [{}, { label: "Resting HR", stroke: cssVar("--accent"), width: 2, spanGaps: true, points: { show: true } }],
    axes: [{}, { label: "bpm" }],
  });
}

function drawHrv(days) {
  if (!days.some((d) => d.hrv && d.hrv.ln_rmssd != null)) {
    emptyChart($("#hrv-chart"), "No heart-rate variability yet.");
    return;
  }
  const col = (f) => days.map((d) => (d.hrv ? d.hrv[f] ?? null : null));
  drawChart($("#hrv-chart"), {
    data: [days.map((d) => dateToX(d.date)), col("band_high"), col("band_low"), col("ln_rmssd")],
    series: [
      {},
      { label: "Normal (high)", stroke: withAlpha("--zone-moderate", 0.5), width: 1, spanGaps: true, points: { show: false } },
      { label: "Normal (low)", stroke: withAlpha("--zone-moderate", 0.5), width: 1, spanGaps: true, points: { show: false } },
      { label: "ln RMSSD", stroke: cssVar("--accent"), width: 2, spanGaps: true, points: { show: true } },
    ],
    bands: [{ series: [1, 2], fill: withAlpha("--zone-moderate", 0.18) }],
    axes: [{}, { label: "ln RMSSD" }],
  });
}

async function load() {
  const to = localDate(profile.timezone);
  const from = addDays(to, -7 * Number($("#weeks").value) + 1);
  const days = (await apiOptional(`/days?from=${from}&to=${to}`, [])) || [];
  days.sort((a, b) => (a.date < b.date ? -1 : 1));
  showStatus(days);
  drawResting(days);
  drawHrv(days);
}

signedInPage(async (p) => {
  profile = p;
  $("#weeks").addEventListener("change", load);
  $("#recovery-controls").addEventListener("submit", (e) => e.preventDefault());
  await load();
});
