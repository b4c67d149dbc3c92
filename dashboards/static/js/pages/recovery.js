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

// Why a day has no resting HR (service/analysis/profile.py and baseline.py): the low quantile of its minutes
// needs an hour of wear; otherwise a quarter of an hour of steady, quiet beats (three quiet 5-minute windows
// with RR intervals, the windows its resting HRV is read from) gives it.
const RESTING_MINUTES_NEEDED = 60;
const RESTING_WHY = `It needs about ${RESTING_MINUTES_NEEDED} minutes of wear in a day, or a quiet 15-minute reading with a `
  + "chest strap that sends beat-to-beat (RR) intervals: lying or sitting still, for example just after waking.";

/** The newest day (up to the given one) with a value for `pick`, or undefined. */
const latestWith = (days, pick) => [...days].reverse().find((d) => pick(d) != null);

/** Why no resting HR could be read from the days shown, in words. */
function restingWhy(days) {
  const worn = days.map((d) => d.data_quality?.valid_minutes ?? 0);
  const most = Math.max(0, ...worn);
  const withData = worn.filter((m) => m > 0).length;
  const seen = withData
    ? ` In these weeks ${withData} day${withData === 1 ? " has" : "s have"} heart-rate data, at most ${most} minutes in a day, and none had a quiet reading.`
    : " There is no heart-rate data in these weeks.";
  return `No resting heart rate yet. ${RESTING_WHY}${seen}`;
}

/** The latest resting HR and resting HRV reading up to `about`, as facts, and a sentence dating them. */
function readingFacts(days, about) {
  const upTo = days.filter((d) => d.date <= about);
  const rest = latestWith(upTo, (d) => d.resting_hr);
  const reading = latestWith(upTo, (d) => d.hrv?.ln_rmssd);
  const pairs = [["Resting HR", rest ? `${Math.round(rest.resting_hr)} bpm` : "not measured yet"]];
  if (reading) {
    pairs.push(["RMSSD", `${round(reading.hrv.rmssd_ms, 0)} ms`], ["ln RMSSD", round(reading.hrv.ln_rmssd, 2).toFixed(2)]);
  } else {
    pairs.push(["Resting reading", "none yet"]);
  }
  // A value from another day than the status is dated, once when both come from the same day.
  const older = [[rest, "Resting HR"], [reading, "RMSSD"]].filter(([d]) => d && d.date !== about);
  const sameDay = older.length === 2 && older[0][0].date === older[1][0].date;
  const note = sameDay
    ? `Resting HR and RMSSD from ${formatDay(rest.date)}, the latest day with a reading.`
    : older.map(([d, what]) => `${what} from ${formatDay(d.date)}, the latest day with one.`).join(" ");
  return { pairs, note };
}

function showStatus(days) {
  const today = localDate(profile.timezone);
  const todays = days.find((d) => d.date === today && d.hrv && d.hrv.status);
  const latest = todays || latestWith(days, (d) => d.hrv?.status);
  const box = $("#recovery-status");
  box.className = `statement status-${todays ? todays.hrv.status : "none"}`;
  box.dataset.status = todays ? todays.hrv.status : "none";
  const about = latest ? latest.date : today;
  const readings = readingFacts(days, about);
  const common = readings.pairs;
  const dated = $("#recovery-facts-note");
  dated.textContent = readings.note;
  dated.hidden = !readings.note;
  if (!latest) {
    const count = days.filter((d) => d.hrv && d.hrv.ln_rmssd != null).length;
    box.textContent = "No recovery status yet. Wear the strap while resting (for example in the morning) to build your normal range: "
      + `it needs ${BAND_DAYS_NEEDED} days with a resting reading, and these weeks have ${count}.`;
    facts($("#recovery-facts"), common);
    return;
  }
  const words = STATUS_WORDS[latest.hrv.status] || latest.hrv.status;
  box.textContent = todays
    ? `Today: ${words}${detailText(latest.hrv)}`
    : `No status for today yet; wear the strap while resting to get one. The latest, on ${formatDay(latest.date)}: ${words}${detailText(latest.hrv)}`;
  facts($("#recovery-facts"), [
    ...common,
    ["7-day average", latest.hrv.acute_ln_rmssd == null ? null : round(latest.hrv.acute_ln_rmssd, 2).toFixed(2)],
    ["Normal band", latest.hrv.band_low == null ? null : bandText(latest.hrv)],
  ]);
}

// Daily charts: x is noon UTC of each date (dateToX), so the axis is written in UTC to show the dates as they are.
const dailyScales = { x: { time: true, range: (u, lo, hi) => [lo - 43200, hi + 43200] } };

function drawResting(days) {
  const container = $("#rhr-chart");
  const points = days.filter((d) => d.resting_hr != null);
  container.dataset.days = String(points.length);
  if (!points.length) {
    emptyChart(container, restingWhy(days));
    return;
  }
  drawChart(container, {
    data: [days.map((d) => dateToX(d.date)), days.map((d) => d.resting_hr ?? null)],
    series: [{}, {
      label: "Resting HR", stroke: cssVar("--accent"), width: 2, points: { show: true },
      value: (u, v) => (v == null ? "–" : `${Math.round(v)} bpm`), // as the status card writes it
    }],
    axes: [{}, { label: "bpm" }],
    // Around the readings, not from 0: a change of a few beats is what matters here.
    scales: { ...dailyScales, y: { range: (u, lo, hi) => [Math.floor((lo ?? 50) - 6), Math.ceil((hi ?? 70) + 6)] } },
    daily: true,
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
    daily: true,
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
