// A practice session's heart rate: the Start/Stop timer that fills its span, the figures the server
// computes from the strap's samples in that span, and a chart comparing arousal across sessions.
// Times are read and written on the profile's clock (one clock), as every journal time is.
import { ApiError, api } from "./api.js";
import { cssVar, drawChart, emptyChart, pointsOnly } from "./charts.js";
import { formatDateTime, formatDuration, formatTime, userLocale } from "./time.js";
import { $, el } from "./dom.js";
import { isFuture, readTime } from "./journal.js";

export const MAX_PRACTICE_S = 6 * 3600; // the server's bound (service/api/practice.py)

/** An instant as a datetime-local value with seconds ("YYYY-MM-DDTHH:MM:SS") on the wall clock of `tz`. */
export function localInputSeconds(iso, tz) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(iso));
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")}T${get("hour")}:${get("minute")}:${get("second")}`;
}

const clockText = (seconds) => {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(h ? 2 : 1, "0");
  return `${h ? `${h}:` : ""}${mm}:${String(s % 60).padStart(2, "0")}`;
};

/**
 * The timer of the practice form: Start fills the start (and the session's "When"), Stop fills the end.
 * Returns {fill(practice|null), read() -> {problems, span}} for the form's own fill and read.
 */
export function practiceTimer({ tz, say = () => {} }) {
  const start = $("#practice-start");
  const end = $("#practice-end");
  const startButton = $("#practice-timer-start");
  const stopButton = $("#practice-timer-stop");
  const clock = $("#practice-timer-clock");
  let ticking = null;

  const running = (on) => {
    startButton.hidden = on;
    stopButton.hidden = !on;
    clock.dataset.running = String(on);
    if (!on && ticking) {
      clearInterval(ticking);
      ticking = null;
    }
  };
  const tick = (from) => { clock.textContent = clockText((Date.now() - from) / 1000); };

  startButton.addEventListener("click", () => {
    const now = new Date();
    start.value = localInputSeconds(now.toISOString(), tz);
    end.value = "";
    $("#practice-at").value = start.value.slice(0, 16); // the session is when it started
    running(true);
    tick(now.getTime());
    ticking = setInterval(() => tick(now.getTime()), 1000);
    say(`Timer started at ${formatTime(now.toISOString(), tz)}. Press Stop when you finish answering.`);
    stopButton.focus();
  });
  stopButton.addEventListener("click", () => {
    const from = Date.parse(readTime(start.value, tz));
    const now = new Date();
    end.value = localInputSeconds(now.toISOString(), tz);
    running(false);
    tick(from);
    const seconds = (now.getTime() - from) / 1000;
    const length = seconds < 60 ? `${Math.round(seconds)} s` : formatDuration(seconds);
    say(`Timer stopped after ${length}. Save the session to see its heart rate.`);
    startButton.focus();
  });

  return {
    fill(p) {
      running(false);
      start.value = p?.started_at ? localInputSeconds(p.started_at, tz) : "";
      end.value = p?.ended_at ? localInputSeconds(p.ended_at, tz) : "";
      clock.textContent = p?.started_at && p?.ended_at
        ? clockText((Date.parse(p.ended_at) - Date.parse(p.started_at)) / 1000) : "0:00";
    },
    read() {
      const problems = {};
      if (ticking) problems.ended_at = "The timer is still running: press Stop first.";
      const startedAt = readTime(start.value, tz);
      const endedAt = readTime(end.value, tz);
      if (!startedAt !== !endedAt) {
        problems[startedAt ? "ended_at" : "started_at"] = "Give both a start and an end, or leave both empty.";
      } else if (startedAt) {
        const seconds = (Date.parse(endedAt) - Date.parse(startedAt)) / 1000;
        if (isFuture(startedAt) || isFuture(endedAt)) problems.ended_at = "That time is still to come; pick when you stopped.";
        else if (seconds <= 0) problems.ended_at = "The end must come after the start.";
        else if (seconds > MAX_PRACTICE_S) problems.ended_at = "A practice session lasts at most 6 hours.";
      }
      return { problems, span: { started_at: startedAt, ended_at: endedAt } };
    },
  };
}

const number = (value, digits = 0) =>
  new Intl.NumberFormat(userLocale(), { maximumFractionDigits: digits }).format(value);
const signed = (value) => `${value >= 0 ? "+" : "−"}${number(Math.abs(Math.round(value)))}`;

/** "mean 96 bpm, peak 118, +34 bpm over rest (27 % of reserve)" */
export function heartSentence(heart) {
  const pct = Math.round(heart.arousal_pct_hrr);
  const over = heart.arousal_bpm >= 0 ? "over" : "under";
  return `mean ${number(Math.round(heart.mean_bpm))} bpm, peak ${number(Math.round(heart.peak_bpm))}, `
    + `${signed(heart.arousal_bpm)} bpm ${over} rest (${number(pct)} % of reserve)`;
}

/** The lines a listed practice session shows about its span and heart rate; [] without a span. */
export function heartLines(p, tz) {
  if (!p.started_at || !p.ended_at) return [];
  const seconds = (Date.parse(p.ended_at) - Date.parse(p.started_at)) / 1000;
  const length = seconds < 60 ? `${Math.round(seconds)} s` : formatDuration(seconds);
  const span = `Timed ${length}, ${formatTime(p.started_at, tz)}–${formatTime(p.ended_at, tz)}`;
  return [
    el("p", { class: "record-meta muted practice-span" }, span),
    p.heart
      ? el("p", { class: "practice-heart", "data-arousal": p.heart.arousal_bpm }, el("span", { class: "heart-icon", "aria-hidden": "true" }, "♥ "),
        heartSentence(p.heart))
      : el("p", { class: "practice-heart muted" }, "No heart rate was recorded in that time (was the strap on?)."),
  ];
}

/** Arousal above rest of every timed session with heart figures, oldest first, as points in time. */
export function drawArousal(container, items, tz) {
  const timed = items.filter((p) => p.heart && p.started_at).sort((a, b) => Date.parse(a.started_at) - Date.parse(b.started_at));
  const caption = $("#practice-arousal-caption");
  if (!timed.length) {
    emptyChart(container, "Time a practice session with your strap on to compare how your heart ran across sessions.");
    container.setAttribute("aria-label", "No timed practice sessions with heart rate yet");
    if (caption) caption.textContent = "";
    return;
  }
  const xs = timed.map((p) => Date.parse(p.started_at) / 1000);
  const ys = timed.map((p) => p.heart.arousal_bpm);
  const pcts = timed.map((p) => p.heart.arousal_pct_hrr);
  const pad = (lo, hi) => {
    const margin = Math.max((hi - lo) * 0.08, 3600);
    return [lo - margin, hi + margin];
  };
  drawChart(container, {
    data: [xs, ys],
    series: [
      {},
      {
        label: "Over rest",
        scale: "bpm",
        ...pointsOnly(10, cssVar("--accent")),
        value: (u, v, si, i) => (v == null || i == null ? "–" : `${signed(v)} bpm (${number(Math.round(pcts[i]))} % of reserve)`),
      },
    ],
    scales: {
      x: { time: true, range: (u, lo, hi) => pad(lo, hi) },
      bpm: { range: (u, lo, hi) => [Math.min(0, Math.floor(lo - 5)), Math.max(10, Math.ceil(hi + 5))] },
    },
    axes: [{}, { scale: "bpm", label: "bpm over rest" }],
    tz,
    height: 200,
  });
  const last = timed.at(-1);
  const summary = `Arousal of ${timed.length} timed practice session${timed.length === 1 ? "" : "s"}: `
    + timed.map((p) => `${formatDateTime(p.started_at, tz)} ${signed(p.heart.arousal_bpm)} bpm`).join("; ");
  container.setAttribute("aria-label", summary);
  if (caption) {
    const lows = timed.length > 1 ? Math.min(...ys) : null;
    caption.textContent = timed.length > 1
      ? `Latest ${signed(last.heart.arousal_bpm)} bpm over rest; the calmest was ${signed(lows)} bpm. Lower means your heart ran closer to rest while you answered.`
      : `One timed session so far: ${signed(last.heart.arousal_bpm)} bpm over rest. Time the next one to compare.`;
  }
}

export const DEFAULT_STATES = ["Applied", "Heard back", "Interview booked", "Offer", "Rejected", "No reply", "Withdrawn"];

/** An application's status history (oldest first) and a select + save that moves it on. */
export function statusControls(a, tz, { say, onSaved }) {
  const id = `application-${a.id}-next-status`;
  const choices = [...new Set([...(a.status ? [a.status] : []), ...DEFAULT_STATES])];
  const select = el("select", { id, name: "status" },
    a.status ? null : el("option", { value: "" }, "Choose…"),
    choices.map((s) => el("option", { value: s, selected: s === a.status }, s)));
  const save = el("button", { type: "submit", class: "button small" }, "Save status");
  const form = el("form", { class: "status-change", "aria-label": `Change the status of the application to ${a.company}` },
    el("label", { for: id }, "Status"), select, save);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = select.value;
    if (!status || status === a.status) {
      say(status ? `The status is already "${status}".` : "Choose a status first.");
      return;
    }
    save.disabled = true;
    try {
      await api(`/applications/${a.id}`, { method: "PATCH", json: { status } });
      say(`Status of ${a.role} at ${a.company} saved: ${status}.`);
      await onSaved();
    } catch (error) {
      say(error instanceof ApiError && error.status === 404
        ? "This application is no longer there (perhaps deleted in another tab)."
        : "The status could not be saved. Please try again.");
      if (error instanceof ApiError && error.status === 404) await onSaved();
    } finally {
      save.disabled = false;
    }
  });
  const history = (a.history || []).length
    ? el("ol", { class: "status-history", "aria-label": `Status history of the application to ${a.company}` },
      a.history.map((h) => el("li", {}, el("span", { class: "status-name" }, h.status), " ",
        el("time", { datetime: h.at, class: "muted" }, formatDateTime(h.at, tz)))))
    : null;
  return [history, form];
}
