// The interview page's heart-rate chart: the hours around it against the user's usual, with workouts shaded.
import { apiOptional } from "./api.js";
import { cssVar, drawChart, emptyChart, holes, verticalMarker, verticalSpans, withAlpha } from "./charts.js";
import { formatTime } from "./time.js";
import { $, el, replaceChildren } from "./dom.js";

const WINDOW_S = 300;
const MIN_HOLE_S = 10 * 60; // shorter holes still break the line, but are not worth a sentence

/** Stress answers come as rows ([{start, hr_bpm, baseline_hr_bpm, activity}]) or columns; take whichever is there. */
function stressSeries(stress) {
  const rows = stress.windows || stress.points || stress.series || stress.samples;
  const half = (stress.window_s || WINDOW_S) / 2;
  if (Array.isArray(rows) && rows.length) {
    // A window's values are its 5-minute means: drawn at the window's middle.
    const t = (r) => (r.t ? Date.parse(r.t) / 1000 : r.t_ms ? r.t_ms / 1000 : r.start ? Date.parse(r.start) / 1000 + half : null);
    return {
      x: rows.map(t),
      hr: rows.map((r) => r.hr_bpm ?? r.bpm ?? null),
      base: rows.map((r) => r.baseline_hr_bpm ?? null),
      activity: rows.map((r) => r.activity ?? null),
      half,
    };
  }
  if (Array.isArray(stress.t) && Array.isArray(stress.hr_bpm)) {
    const x = stress.t.map((v) => (typeof v === "string" ? Date.parse(v) / 1000 : v));
    return { x, hr: stress.hr_bpm, base: stress.baseline_hr_bpm || stress.hr_bpm.map(() => null), activity: x.map(() => null), half: 0 };
  }
  return null;
}

/** Workouts and the hour after each, as x spans: from the answer's list, else from the windows' marks. */
function exerciseSpans(stress, s) {
  if (Array.isArray(stress.exercise)) {
    return stress.exercise.map((e) => ({
      start: Date.parse(e.start) / 1000,
      end: Date.parse(e.end) / 1000,
      until: Date.parse(e.excluded_until || e.end) / 1000,
    }));
  }
  const spans = [];
  s.activity.forEach((a, i) => {
    if (!a) return;
    const [from, to] = [s.x[i] - s.half, s.x[i] + s.half];
    const last = spans.at(-1);
    if (last && Math.abs(last.until - from) < 1) {
      if (a === "exercise") last.end = to;
      last.until = to;
    } else spans.push({ start: from, end: a === "exercise" ? to : from, until: to });
  });
  return spans;
}

/** Runs of windows without a rest-time value that no workout explains, at least MIN_HOLE_S long. */
function dataHoles(s, spans) {
  const explained = (x) => spans.some((e) => x >= e.start && x < e.until);
  const out = [];
  let start = null;
  s.x.forEach((x, i) => {
    const missing = s.hr[i] == null && !explained(x);
    if (missing && start == null) start = x - s.half;
    if (!missing && start != null) {
      out.push([start, x - s.half]);
      start = null;
    }
  });
  if (start != null) out.push([start, s.x.at(-1) + s.half]);
  return out.filter(([a, b]) => b - a >= MIN_HOLE_S);
}

function describeHoles(holes, tz) {
  const box = $("#stress-gaps");
  box.dataset.holes = String(holes.length);
  if (!holes.length) {
    box.textContent = "";
    box.hidden = true;
    return;
  }
  const at = (x) => formatTime(new Date(x * 1000).toISOString(), tz);
  const parts = holes.map(([a, b]) => `${at(a)}–${at(b)}`);
  box.hidden = false;
  box.textContent = `The line breaks where there is no rest-time data: ${parts.join(", ")}. Nothing is guessed for those times.`;
}

/** What the shading means (the lines are named by the chart's own legend). */
function showLegend(spans, episodes) {
  const items = [];
  if (episodes.length) items.push(["Stress episode", "stress"]);
  if (spans.length) items.push(["Workout", "workout"], ["Hour after a workout (not judged)", "after-workout"]);
  const legend = $("#stress-legend");
  legend.hidden = !items.length;
  replaceChildren(legend, items.map(([label, kind]) =>
    el("li", { "data-kind": kind }, el("span", { class: `swatch ${kind}`, "aria-hidden": "true" }), label)));
}

export async function loadStress(id, atIso, tz) {
  const stress = await apiOptional(`/interviews/${id}/stress`);
  const container = $("#stress-chart");
  if (!stress) {
    $("#stress-statement").textContent = "Wear the strap around your next interview to see how your body handled it.";
    emptyChart(container, "No heart-rate data around this interview.");
    return;
  }
  const recovery = stress.recovery_s ?? stress.time_to_baseline_s;
  $("#stress-statement").textContent = stress.statement
    || (recovery != null ? `Your heart rate was back to your usual level ${Math.round(recovery / 60)} minutes after the interview.`
      : "Here is your heart rate around the interview against your usual level at that time of day.");
  const s = stressSeries(stress);
  if (!s || stress.has_data === false || !s.x.length || s.x.some((v) => v == null) || s.hr.every((v) => v == null)) {
    emptyChart(container, "No heart-rate data around this interview.");
    return;
  }
  const spans = exerciseSpans(stress, s);
  const episodes = (stress.episodes || []).map((e) => ({ from: Date.parse(e.start) / 1000, to: Date.parse(e.end) / 1000 }));
  const shaded = [
    ...spans.flatMap((e) => [
      { from: e.start, to: e.end, colour: withAlpha("--zone-moderate", 0.22) },
      { from: e.end, to: e.until, colour: withAlpha("--zone-moderate", 0.09) },
    ]),
    ...episodes.map((e) => ({ ...e, colour: withAlpha("--zone-peak", 0.16) })),
  ];
  showLegend(spans, episodes);
  describeHoles(dataHoles(s, spans), tz);
  const bpm = (u, v) => (v == null ? "–" : `${Math.round(v)} bpm`);
  // "Your usual" only beside a rest-time reading: across a hole or a workout it would be a line through
  // hours without data, the very thing the caption says is not drawn (and there it compares nothing).
  const usual = s.base.map((v, i) => (s.hr[i] == null ? null : v));
  drawChart(container, {
    data: [s.x, usual, s.hr], // the usual first, so the heart rate is drawn over it where they meet
    series: [{}, { label: "Your usual", stroke: cssVar("--muted"), width: 1.5, dash: [6, 4], points: { show: false }, value: bpm },
      { label: "Heart rate", stroke: cssVar("--zone-vigorous"), width: 2, value: bpm }],
    axes: [{}, { label: "bpm" }],
    plugins: [verticalSpans(shaded), verticalMarker(Date.parse(atIso) / 1000, "interview")],
    tz,
  });
  container.dataset.usualGaps = String(holes(usual).length);
  container.dataset.workouts = String(spans.length);
  container.dataset.episodes = String(episodes.length);
}
