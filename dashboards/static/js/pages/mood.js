import { apiAll, apiOptional } from "../api.js";
import { bars, cssVar, drawChart, emptyChart, pointsOnly, withAlpha } from "../charts.js";
import { signedInPage } from "../shell.js";
import { addDays, dateRange, dateToX, formatDateTime, formatDay, localDate } from "../time.js";
import { $, el, facts, replaceChildren, round } from "../dom.js";
import { isFuture, liveOutput, localInput, nowInput, readTime, recordList } from "../journal.js";

const state = { profile: null, rows: [], checkins: [], records: null, showAll: false };
const HISTORY_SHOWN = 14;

const controls = () => ({
  metric: $("input[name=metric]:checked").value,
  lag: Number($("input[name=lag]:checked").value),
  weeks: Number($("#weeks").value),
});

/** One row per calendar day: minutes from the day summaries, mean ratings from the check-ins. */
function buildRows(dates, days, checkins, tz) {
  const byDay = new Map((days || []).map((d) => [d.date, d]));
  const ratings = new Map();
  for (const c of checkins) {
    const date = localDate(tz, new Date(c.at));
    const r = ratings.get(date) || { confidence: [], mood: [] };
    r.confidence.push(c.confidence);
    if (c.mood != null) r.mood.push(c.mood);
    ratings.set(date, r);
  }
  const mean = (xs) => (xs && xs.length ? round(xs.reduce((a, b) => a + b, 0) / xs.length, 1) : null);
  return dates.map((date) => ({
    date,
    minutes: byDay.get(date)?.heartbeat_up_minutes ?? null,
    target: byDay.get(date)?.target_minutes ?? null,
    confidence: mean(ratings.get(date)?.confidence),
    mood: mean(ratings.get(date)?.mood),
  }));
}

/** A day worth showing: some exercise, or a rating (a day of zero minutes and no check-in is empty). */
const hasData = (r) => (r.minutes ?? 0) > 0 || r.confidence != null || r.mood != null;

function drawDaily(rows) {
  const container = $("#daily-chart");
  if (!rows.some(hasData)) {
    emptyChart(container, "Nothing logged in these weeks yet. A check-in on the Today page starts the picture.");
    return;
  }
  drawChart(container, {
    data: [rows.map((r) => dateToX(r.date)), rows.map((r) => r.minutes), rows.map((r) => r.confidence), rows.map((r) => r.mood)],
    series: [
      {},
      { label: "Minutes", scale: "min", stroke: cssVar("--accent"), fill: withAlpha("--accent", 0.45), width: 1, ...bars() },
      { label: "Confidence", scale: "rating", stroke: cssVar("--confidence"), width: 2, points: { show: true, size: 9, fill: cssVar("--confidence") } },
      { label: "Mood", scale: "rating", stroke: cssVar("--mood"), width: 2, dash: [6, 4], points: { show: true, size: 9, fill: cssVar("--mood") } },
    ],
    scales: { x: { time: true, range: (u, lo, hi) => [lo - 43200, hi + 43200] }, min: { range: (u, lo, hi) => [0, Math.max(hi || 0, 60)] }, rating: { range: [0, 10] } },
    axes: [{}, { scale: "min", label: "minutes" }, { scale: "rating", side: 1, label: "rating", grid: { show: false } }],
    daily: true, // x is noon UTC of each date (dateToX): the dates are the user's own
  });
}

function fillTable(rows) {
  const dash = (v) => (v == null ? "–" : String(v));
  replaceChildren($("#daily-table tbody"), rows.filter(hasData).reverse()
    .map((r) => el("tr", { "data-date": r.date },
      el("th", { scope: "row" }, formatDay(r.date)), el("td", {}, dash(r.minutes)),
      el("td", {}, dash(r.confidence)), el("td", {}, dash(r.mood)))));
}

function drawScatter(rows, { metric, lag }) {
  const byDate = new Map(rows.map((r) => [r.date, r]));
  const pairs = rows
    .map((r) => [r.minutes, byDate.get(addDays(r.date, lag))?.[metric]])
    .filter(([x, y]) => x != null && y != null)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const container = $("#scatter-chart");
  if (!pairs.length) {
    emptyChart(container, "Days with both exercise data and a rating will show here.");
    return;
  }
  drawChart(container, {
    data: [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
    series: [{ label: "Minutes" }, { label: metric === "mood" ? "Mood" : "Confidence", ...pointsOnly(10) }],
    scales: { x: { time: false, range: (u, lo, hi) => [0, Math.max(hi || 0, 60)] }, y: { range: [0, 10] } },
    axes: [{ label: lag ? "minutes (the day before)" : "minutes" }, { label: metric }],
  });
}

async function showInsight({ metric, lag }) {
  const insight = await apiOptional(`/insights/exercise-vs-confidence?lag_days=${lag}&metric=${metric}`);
  const statement = $("#insight-statement");
  if (!insight) {
    statement.textContent = "The statistics will appear here once there are enough days to say something honest.";
    replaceChildren($("#insight-facts"));
    return;
  }
  statement.textContent = insight.statement || (insight.rho == null
    ? `Not enough paired days yet (${insight.n_days ?? 0}); no claim is made below 14.`
    : `Spearman's rho is ${round(insight.rho, 2)}.`);
  const ci = insight.ci95 && insight.ci95[0] != null ? `${round(insight.ci95[0], 2)} to ${round(insight.ci95[1], 2)}` : null;
  facts($("#insight-facts"), [
    ["Paired days", insight.n_days],
    ["Spearman's rho", insight.rho == null ? null : round(insight.rho, 2)],
    ["95 % interval", ci],
    // Below 0.001 rounding would write 0, a certainty no test gives: "< 0.001" instead.
    ["p value", insight.p_value == null ? null : insight.p_value < 0.001 ? "< 0.001" : round(insight.p_value, 3)],
    [`Mean ${metric}, target met`, insight.mean_when_target_met == null ? null : round(insight.mean_when_target_met, 1)],
    [`Mean ${metric}, target missed`, insight.mean_when_target_missed == null ? null : round(insight.mean_when_target_missed, 1)],
  ]);
}

async function load() {
  const choice = controls();
  const tz = state.profile.timezone;
  const to = localDate(tz);
  const from = addDays(to, -7 * choice.weeks + 1);
  const since = new Date(Date.parse(`${addDays(from, -1)}T00:00:00Z`)).toISOString();
  const [days, checkins] = await Promise.all([
    apiOptional(`/days?from=${from}&to=${to}`, []),
    apiAll(`/checkins?from=${encodeURIComponent(since)}`),
  ]);
  state.checkins = checkins;
  showHistory();
  state.rows = buildRows(dateRange(from, to), days, checkins, tz);
  drawDaily(state.rows);
  fillTable(state.rows);
  drawScatter(state.rows, choice);
  await showInsight(choice);
}

function showHistory() {
  const newest = [...state.checkins].sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || b.id - a.id);
  const more = $("#checkin-more");
  more.hidden = state.showAll || newest.length <= HISTORY_SHOWN;
  more.textContent = `Show all ${newest.length} check-ins`;
  state.records.show(state.showAll ? newest : newest.slice(0, HISTORY_SHOWN));
}

/** The check-in form (any past day) and the history list with edit and delete. */
function checkinRecords(tz) {
  const syncConfidence = liveOutput($("#checkin-confidence"), $("#checkin-confidence-out"));
  const syncMood = liveOutput($("#checkin-mood"), $("#checkin-mood-out"));
  const rateMood = $("#checkin-rate-mood");
  const syncRate = () => {
    $("#checkin-mood").disabled = !rateMood.checked;
    $("#checkin-mood").closest(".field").classList.toggle("off", !rateMood.checked);
  };
  rateMood.addEventListener("change", syncRate);
  $("#checkin-more").addEventListener("click", () => {
    state.showAll = true;
    showHistory();
    $("#checkin-list li:nth-child(" + (HISTORY_SHOWN + 1) + ") button")?.focus();
  });
  return recordList({
    form: $("#checkin-form"),
    list: $("#checkin-list"),
    status: $("#checkin-status"),
    path: "/checkins",
    itemPath: (c) => `/checkins/${c.id}`,
    empty: "No check-ins in these weeks. Log one above, for today or a day you missed.",
    label: (c) => `the check-in of ${formatDateTime(c.at, tz)}`,
    fill(c) {
      $("#checkin-at").value = c ? localInput(c.at, tz) : nowInput(tz);
      $("#checkin-at").max = nowInput(tz);
      $("#checkin-confidence").value = String(c?.confidence ?? 5);
      rateMood.checked = !c || c.mood != null;
      $("#checkin-mood").value = String(c?.mood ?? 5);
      $("#checkin-note").value = c?.note || "";
      syncConfidence();
      syncMood();
      syncRate();
    },
    read() {
      const at = readTime($("#checkin-at").value, tz);
      const problems = {};
      if (!at) problems.at = "Please say which day and time this check-in is for.";
      else if (isFuture(at)) problems.at = "That time is still to come; a check-in is for now or a day gone by.";
      const note = $("#checkin-note").value.trim();
      return { problems, body: {
        at, confidence: Number($("#checkin-confidence").value), mood: rateMood.checked ? Number($("#checkin-mood").value) : null,
        note: note || null,
      } };
    },
    messages: {
      at: "Please pick a date and time that has already passed.",
      confidence: "Rate your confidence from 1 to 10.",
      mood: "Rate your mood from 1 to 10.",
      note: "The note is too long (up to 20,000 characters).",
    },
    render: (c) => [
      el("p", { class: "record-title" }, el("time", { datetime: c.at }, formatDateTime(c.at, tz))),
      el("p", { class: "record-meta" }, `confidence ${c.confidence}${c.mood != null ? ` · mood ${c.mood}` : ""}`),
      c.note ? el("p", { class: "record-notes" }, c.note) : null,
    ],
    onChange: load,
  });
}

signedInPage(async (profile) => {
  state.profile = profile;
  state.records = checkinRecords(profile.timezone);
  $("#weeks").addEventListener("change", load);
  for (const input of document.querySelectorAll("input[name=metric], input[name=lag]")) {
    input.addEventListener("change", async () => {
      drawScatter(state.rows, controls());
      await showInsight(controls());
    });
  }
  $("#mood-controls").addEventListener("submit", (e) => e.preventDefault());
  await load();
});
