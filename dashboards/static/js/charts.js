// uPlot wrappers: colours from the stylesheet (so dark mode follows), sized to their container.
import uPlot from "../vendor/uplot/uPlot.esm.js";
import { el } from "./dom.js";
import { browserZone, localDate, userLocale } from "./time.js";

const charts = new WeakMap();

export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/** A colour of the stylesheet with an alpha, for fills (works for #rrggbb variables). */
export function withAlpha(name, alpha) {
  const value = cssVar(name);
  const match = /^#([0-9a-f]{6})$/i.exec(value);
  if (!match) return value;
  const n = parseInt(match[1], 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

function axis(overrides = {}) {
  return {
    stroke: cssVar("--muted"),
    grid: { stroke: cssVar("--grid"), width: 1 },
    ticks: { stroke: cssVar("--grid"), width: 1 },
    ...overrides,
  };
}

const DAY_S = 86400;
// Daily charts step by whole days (a tick at 06:00 of a date would say nothing).
const DAY_INCRS = [1, 2, 3, 7, 14, 28, 56, 91, 182, 364].map((n) => n * DAY_S);
const AXIS_FONT = "12px system-ui, -apple-system, sans-serif";
const TICK_GAP_PX = 28;

/** How wide a label is on the axis, in CSS px (the axis is drawn in uPlot's default 12 px font). */
function textWidth(text) {
  const ctx = (textWidth.canvas ||= document.createElement("canvas")).getContext("2d");
  ctx.font = AXIS_FONT;
  return Math.max(...String(text).split("\n").map((line) => ctx.measureText(line).width));
}

/**
 * The time axis and the legend's time in one clock: zone `tz` (the profile's), written for the browser's
 * locale with Intl, as every text time of the page is (uPlot's own formats are US: M/D and 12-hour am/pm).
 * Daily charts (`daily`: x is noon UTC of a date, dateToX) show dates only. Ticks stand at least the width of
 * their widest label plus a gap apart, so they never overlap, on a phone either. The labels drawn last are
 * kept in `data-x-ticks` with where each stands ([{label, left, right}] in CSS px from the chart's left
 * edge; the canvas has no text to read) for tests and curious readers.
 */
function timeAxis(container, tz, daily) {
  const locale = userLocale();
  const format = (options) => new Intl.DateTimeFormat(locale, { timeZone: tz, ...options });
  const day = format({ day: "numeric", month: "short" });
  const month = format({ month: "short", year: "numeric" });
  const minute = format({ hour: "2-digit", minute: "2-digit" });
  const second = format({ hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const legend = daily ? format({ weekday: "short", day: "numeric", month: "short" })
    : format({ weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  const sample = new Date(Date.UTC(2000, 11, 28, 23, 58, 58)); // wide digits, a long month name
  const space = (u, axisIdx, min, max) => {
    const span = max - min;
    const labels = [day, ...(span > 180 * DAY_S ? [month] : []), ...(daily ? [] : [span < 300 ? second : minute])];
    return Math.ceil(Math.max(...labels.map((f) => textWidth(f.format(sample))), 40) + TICK_GAP_PX);
  };
  // A daily axis ticks at noon UTC, where dateToX puts each date: every `incr` days from the first date in
  // view; past 28-day steps, on the 1st of every 1, 2, 3, 4, 6 or 12 months (as many as the space needs), so a
  // month's name stands on its own 1st (28-day steps named Aug twice and put Nov on the 20th).
  const monthly = (u, axisIdx, min, max, incr) => {
    if (incr < 28 * DAY_S) {
      const out = [];
      for (let x = Math.ceil((min - DAY_S / 2) / DAY_S) * DAY_S + DAY_S / 2; x <= max; x += incr) out.push(x);
      return out;
    }
    // As few months a step as keep labels `space` px apart (the shortest month, 28 days, at this scale).
    const pxPerDay = u.bbox.width / devicePixelRatio / ((max - min) / DAY_S);
    const needed = space(u, axisIdx, min, max); // uPlot passes the space of its own step, not this
    const fits = (n) => (pxPerDay > 0 ? n * 28 * pxPerDay >= needed : n * 28 * DAY_S >= incr);
    const step = [1, 2, 3, 4, 6, 12].find(fits) ?? 12;
    const first = new Date(min * 1000);
    const inView = [];
    for (let m = first.getUTCFullYear() * 12 + first.getUTCMonth(); ; m += 1) {
      const x = Date.UTC(Math.floor(m / 12), m % 12, 1, 12) / 1000;
      if (x > max) break;
      if (x >= min) inView.push([m % 12, x]);
    }
    const out = inView.filter(([month]) => month % step === 0).map(([, x]) => x);
    return out.length || !inView.length ? out : [inView[0][1]]; // one named month at least, where one is in view
  };
  const values = (u, splits, axisIdx, foundSpace, incr) => {
    const labels = splits.map((x, i) => {
      const when = new Date(x * 1000);
      if (daily && incr >= 28 * DAY_S) return month.format(when);
      if (daily || incr >= DAY_S) return day.format(when);
      const time = (incr < 60 ? second : minute).format(when);
      // The date under the first tick of each day, when the chart spans more than one day.
      const date = localDate(tz, when);
      const multiDay = localDate(tz, new Date(splits[0] * 1000)) !== localDate(tz, new Date(splits.at(-1) * 1000));
      const newDay = i === 0 || date !== localDate(tz, new Date(splits[i - 1] * 1000));
      return multiDay && newDay ? `${time}\n${day.format(when)}` : time;
    });
    return labels;
  };
  const record = (u) => {
    const { _splits: splits = [], _values: labels = [] } = u.axes[0];
    const offset = u.bbox.left / devicePixelRatio;
    container.dataset.xTicks = JSON.stringify(labels.map((label, i) => {
      const at = offset + u.valToPos(splits[i], "x");
      const half = textWidth(label ?? "") / 2;
      const date = new Date(splits[i] * 1000).toISOString().slice(0, 10); // a daily x: its date
      return { label, left: Math.round(at - half), right: Math.round(at + half), ...(daily ? { date } : {}) };
    }).filter((t) => t.label != null));
  };
  return {
    axis: { space, values, ...(daily ? { incrs: DAY_INCRS, splits: monthly } : {}) },
    plugin: { hooks: { draw: [record] } },
    value: (u, x) => (x == null ? "–" : legend.format(new Date(x * 1000))),
  };
}

/**
 * Draw a chart into `container`, replacing any chart drawn there before.
 *
 * Lines break where data are missing (DESIGN: "charts break at missing data"): a null in a series is a
 * hole, never bridged, so `spanGaps` is switched off on every series whatever a page asks; a value alone
 * between holes is drawn as a dot, or it would not show at all. A time axis (the default x) is written in
 * zone `tz`, the user's (profile) zone as the page's text, formatted for the browser's locale (timeAxis);
 * `daily` charts, whose x is noon UTC of each date (dateToX), show those dates as they are.
 */
export function drawChart(container, { series, data, axes, scales, bands, plugins, tz, daily = false, height = 240 }) {
  charts.get(container)?.destroy();
  container.replaceChildren();
  const width = Math.max(container.clientWidth, 260);
  // A daily x is noon UTC, which is midnight at UTC-12 ("Etc/GMT+12" in POSIX's inverted sign): there the
  // day ticks fall on the days' middles, under their bars and points, and read as those very dates.
  const zone = daily ? "Etc/GMT+12" : tz || browserZone();
  const isTime = scales?.x?.time !== false;
  const clock = isTime ? timeAxis(container, zone, daily) : null;
  const [xAxis = {}, ...yAxes] = axes || [{}, {}];
  const opts = {
    width,
    height,
    series: series.map((s, i) => (i === 0 ? { ...(clock ? { label: daily ? "Day" : "Time", value: clock.value } : {}), ...s }
      : withLonePoints({ ...s, spanGaps: false }))),
    axes: [axis({ ...(clock?.axis || {}), ...xAxis }), ...yAxes.map((a) => axis(a))],
    scales: scales || { x: { time: true } },
    bands,
    plugins: clock ? [...(plugins || []), clock.plugin] : plugins,
    cursor: { points: { size: 8 } },
    legend: { live: true },
  };
  if (isTime) opts.tzDate = (ts) => uPlot.tzDate(new Date(ts * 1000), zone);
  const chart = new uPlot(opts, data, container);
  charts.set(container, chart);
  if (!container.dataset.observed) {
    container.dataset.observed = "1";
    new ResizeObserver(() => {
      const current = charts.get(container);
      if (current) current.setSize({ width: Math.max(container.clientWidth, 260), height });
    }).observe(container);
  }
  container.dataset.points = String(data[0] ? data[0].length : 0);
  container.dataset.gaps = String(Math.max(0, ...data.slice(1).map((ys) => holes(ys).length)));
  if (isTime) container.dataset.tz = zone;
  else delete container.dataset.xTicks;
  return chart;
}

/** Runs of nulls between values of a series: [[firstNullIndex, lastNullIndex], ...] (ends not counted). */
export function holes(values) {
  const out = [];
  let start = -1;
  let seen = false;
  values.forEach((v, i) => {
    if (v == null) {
      if (seen && start < 0) start = i;
    } else {
      if (start >= 0) out.push([start, i - 1]);
      start = -1;
      seen = true;
    }
  });
  return out;
}

/**
 * A series whose values alone between nulls get a dot (a line needs two neighbours to be seen).
 * Not for bars or scatters (own paths), nor where every point shows anyway; a series with
 * `points: {show: false}` gets no dots unless it asks for them with `points: {show: false, lone: true}`.
 */
function withLonePoints(s) {
  const points = s.points || {};
  if (s.paths || points.show === true || (points.show === false && !points.lone)) return s;
  const filter = (u, seriesIdx, show) => {
    if (show) return null; // uPlot shows every point already
    const ys = u.data[seriesIdx];
    const lone = [];
    for (let i = 0; i < ys.length; i++) {
      if (ys[i] != null && ys[i - 1] == null && ys[i + 1] == null) lone.push(i);
    }
    return lone.length ? lone : null;
  };
  return { ...s, points: { ...points, filter } };
}

/**
 * Rows of [x, ...ys] with a null row put into every hole longer than `maxGapS`, so lines break there.
 * For series sampled irregularly (heart-rate samples): the server sends what it has, holes are implicit.
 */
export function breakAtHoles(xs, columns, maxGapS) {
  const outX = [];
  const outYs = columns.map(() => []);
  for (let i = 0; i < xs.length; i++) {
    if (i > 0 && xs[i] - xs[i - 1] > maxGapS) {
      outX.push((xs[i] + xs[i - 1]) / 2);
      outYs.forEach((col) => col.push(null));
    }
    outX.push(xs[i]);
    columns.forEach((col, k) => outYs[k].push(col[i]));
  }
  return [outX, ...outYs];
}

/** Shaded spans of x behind the series: [{from, to, colour}] (workouts, stress episodes). */
export function verticalSpans(spans) {
  return {
    hooks: {
      drawClear: [
        (u) => {
          const { ctx, bbox } = u;
          ctx.save();
          for (const span of spans) {
            const left = Math.max(u.valToPos(span.from, "x", true), bbox.left);
            const right = Math.min(u.valToPos(span.to, "x", true), bbox.left + bbox.width);
            if (right <= left) continue;
            ctx.fillStyle = span.colour;
            ctx.fillRect(left, bbox.top, right - left, bbox.height);
          }
          ctx.restore();
        },
      ],
    },
  };
}

export function emptyChart(container, message) {
  charts.get(container)?.destroy();
  charts.delete(container);
  container.dataset.points = "0";
  container.replaceChildren(el("p", { class: "chart-empty" }, message));
}

/** Horizontal bands in y units behind the series: [{from, to, colour}] (used for heart-rate zones). */
export function horizontalBands(bands) {
  return {
    hooks: {
      drawClear: [
        (u) => {
          const { ctx, bbox } = u;
          ctx.save();
          for (const band of bands) {
            const top = u.valToPos(Math.min(band.to, u.scales.y.max), "y", true);
            const bottom = u.valToPos(Math.max(band.from, u.scales.y.min), "y", true);
            if (bottom <= top) continue;
            ctx.fillStyle = band.colour;
            ctx.fillRect(bbox.left, top, bbox.width, bottom - top);
          }
          ctx.restore();
        },
      ],
    },
  };
}

/** Points only, no line: for scatters and sparse ratings. */
export const pointsOnly = (size = 9, colour = cssVar("--accent")) => ({
  stroke: colour, paths: () => null, points: { show: true, size, fill: colour, stroke: colour },
});

/** Bars, for daily totals (a line between days would suggest minutes that were never measured). */
export const bars = () => ({ paths: uPlot.paths.bars({ size: [0.7, 28] }), points: { show: false } });

/** A labelled vertical line at x (for example the time of an interview). */
export function verticalMarker(x, label) {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx, bbox } = u;
          const left = u.valToPos(x, "x", true);
          if (left < bbox.left || left > bbox.left + bbox.width) return;
          ctx.save();
          ctx.strokeStyle = cssVar("--accent");
          ctx.fillStyle = cssVar("--accent");
          ctx.lineWidth = 2 * devicePixelRatio;
          ctx.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.beginPath();
          ctx.moveTo(left, bbox.top);
          ctx.lineTo(left, bbox.top + bbox.height);
          ctx.stroke();
          ctx.font = `${12 * devicePixelRatio}px system-ui, sans-serif`;
          ctx.fillText(label, left + 4 * devicePixelRatio, bbox.top + 12 * devicePixelRatio);
          ctx.restore();
        },
      ],
    },
  };
}

export const zoneColours = () => ({
  rest: cssVar("--zone-rest"),
  moderate: cssVar("--zone-moderate"),
  vigorous: cssVar("--zone-vigorous"),
  peak: cssVar("--zone-peak"),
});

/** Zone limits in bpm from Karvonen heart-rate reserve: 40, 60, 85 % (DESIGN.md). */
export function zoneLimits(restingBpm, maxBpm) {
  const at = (share) => restingBpm + share * (maxBpm - restingBpm);
  return { moderate: at(0.4), vigorous: at(0.6), peak: at(0.85) };
}

export function zoneBands(restingBpm, maxBpm, alpha = 0.16) {
  const limits = zoneLimits(restingBpm, maxBpm);
  return [
    { from: 0, to: limits.moderate, colour: withAlpha("--zone-rest", alpha) },
    { from: limits.moderate, to: limits.vigorous, colour: withAlpha("--zone-moderate", alpha) },
    { from: limits.vigorous, to: limits.peak, colour: withAlpha("--zone-vigorous", alpha) },
    { from: limits.peak, to: 400, colour: withAlpha("--zone-peak", alpha) },
  ];
}
