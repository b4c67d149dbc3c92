import { api, apiOptional, describeError, download } from "../api.js";
import { breakAtHoles, cssVar, drawChart, emptyChart, horizontalBands, pointsOnly, withAlpha, zoneBands } from "../charts.js";
import { itemId, signedInPage } from "../shell.js";
import { formatDateTime, formatDuration, formatTime } from "../time.js";
import { $, facts, round, showNotice } from "../dom.js";
import { heartLimits } from "../zones.js";

/** The session: GET /sessions/{id} where the server has it, else found in the recent list. */
async function findSession(id) {
  const direct = await apiOptional(`/sessions/${id}`);
  if (direct && !Array.isArray(direct)) return direct;
  const from = new Date(Date.now() - 366 * 86400000).toISOString();
  const to = new Date(Date.now() + 60000).toISOString();
  const list = await apiOptional(`/sessions?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, []);
  return list.find((s) => s.id === id) || null;
}

// DESIGN: samples cover the time to their neighbours up to about 30 s apart ("smart recording"); a longer
// hole is a hole, and the line breaks there rather than drawing heart beats nobody measured.
const MAX_SAMPLE_SPACING_S = 30;

/** Older servers send neither field: a session is then finished, and any missing value has no reason given. */
const inProgress = (s) => s.in_progress === true;
const hasRecovery = (s) => s.hrr60_bpm != null || s.hrr120_bpm != null;

function summarise(s, tz) {
  const minutes = `${s.heartbeat_up_minutes ?? 0} minutes with your heartbeat up`;
  $("#session-summary").textContent = inProgress(s)
    ? `${formatDateTime(s.start, tz)}: ${formatDuration(s.duration_s)} so far (last heard at ${formatTime(s.end, tz)}), ${minutes}.`
    : `${formatDateTime(s.start, tz)}: ${formatDuration(s.duration_s)}, ${minutes}.`;
  const badge = $("#session-state");
  badge.hidden = !inProgress(s);
  badge.textContent = inProgress(s) ? "in progress" : "";
  const z = s.zone_minutes || {};
  facts($("#session-facts"), [
    ["Average", s.avg_bpm == null ? null : `${Math.round(s.avg_bpm)} bpm`],
    ["Highest", s.max_bpm == null ? null : `${Math.round(s.max_bpm)} bpm`],
    ["Moderate", z.moderate == null ? null : `${z.moderate} min`],
    ["Vigorous", z.vigorous == null ? null : `${z.vigorous} min`],
    ["Peak", z.peak == null ? null : `${z.peak} min`],
    ["Training load (TRIMP)", s.trimp == null ? null : round(s.trimp, 0)],
    ["First-minute drop", inProgress(s) ? "pending" : s.hrr60_bpm != null ? `${Math.round(s.hrr60_bpm)} bpm` : "not measured"],
    ["Source", s.source],
  ]);
}

function drawHeartRate(samples, limits, tz) {
  if (!samples.length) {
    emptyChart($("#hr-chart"), "No heart-rate samples stored for this session.");
    return;
  }
  const data = breakAtHoles(samples.map((p) => Date.parse(p.t) / 1000), [samples.map((p) => p.bpm)], MAX_SAMPLE_SPACING_S);
  drawChart($("#hr-chart"), {
    data,
    series: [{}, { label: "Heart rate", stroke: cssVar("--text"), width: 1.5, value: (u, v) => (v == null ? "–" : `${v} bpm`) }],
    scales: { x: { time: true }, y: { range: (u, lo, hi) => [Math.min(lo, limits.resting) - 5, Math.max(hi, limits.maximum * 0.9) + 5] } },
    plugins: [horizontalBands(zoneBands(limits.resting, limits.maximum, 0.22))],
    tz,
  });
  $("#hr-chart").dataset.points = String(samples.length);
}

/** The recovery in words: pending, the measured drops (with the fit only when it is there), or why there is none. */
function recoveryWords(s) {
  if (inProgress(s)) {
    return {
      state: "pending",
      text: "Recovery: pending. This session is still in progress; recovery is measured from the end of your effort once a few minutes of data after you stop have arrived.",
    };
  }
  const raw = typeof s.recovery_note === "string" ? s.recovery_note.trim().replace(/\.$/, "") : "";
  const note = raw ? `${raw.charAt(0).toUpperCase()}${raw.slice(1)}.` : null; // the server's reason, as a sentence
  if (!hasRecovery(s)) {
    const why = note || "There was not enough data after this session to measure it.";
    return { state: "none", text: `No recovery value for this session. ${why} Keep the strap on for a few minutes after you stop next time.` };
  }
  const parts = [];
  if (s.hrr60_bpm != null) parts.push(`Your heart rate fell ${Math.round(s.hrr60_bpm)} bpm in the first minute after the effort`);
  if (s.hrr120_bpm != null) parts.push(`${Math.round(s.hrr120_bpm)} bpm after two minutes`);
  const fit = s.recovery?.fit;
  const tau = s.recovery_tau_s ?? fit?.tau_s;
  if (tau != null) {
    const quality = fit?.r2 != null ? ` (the curve fits with R² ${fit.r2.toFixed(2)})` : "";
    parts.push(`with a time constant of ${Math.round(tau)} s${quality}`);
  }
  // The server's reason whenever it gives one (a cool-down walk reads low even with a good fit); without one, a
  // missing time constant still gets a sentence.
  const why = note || (tau == null ? "The curve did not fit the data well enough to give a time constant." : null);
  // A low first-minute drop the server explains (a cool-down walk) is not held against the 12-bpm mark: the
  // explainer below says how to compare it.
  const mark = note && s.hrr60_bpm != null && s.hrr60_bpm <= 12
    ? ""
    : " A drop of 12 bpm or more in the first minute is generally a good sign.";
  return { state: "measured", text: `${parts.join(", ")}.${why ? ` ${why}` : ""}${mark}` };
}

function drawRecovery(s, samples) {
  const words = recoveryWords(s);
  const statement = $("#recovery-statement");
  statement.textContent = words.text;
  statement.dataset.state = words.state;
  if (words.state === "pending") {
    emptyChart($("#recovery-chart"), "The recovery curve will show once you stop and the minutes after it arrive.");
    return;
  }
  const end = s.recovery?.end_of_effort ? Date.parse(s.recovery.end_of_effort) : null;
  const after = end == null ? [] : samples.filter((p) => Date.parse(p.t) >= end && Date.parse(p.t) <= end + 300000);
  if (after.length < 10) {
    emptyChart($("#recovery-chart"), "No recovery curve for this session.");
    return;
  }
  const fit = s.recovery.fit;
  // The fit is hr(t) = asymptote + (hr0 - asymptote) * exp(-(t - t0) / tau), t0 the fit's start (else the end of effort).
  const t0 = fit && fit.t0 ? (Date.parse(fit.t0) - end) / 1000 : 0;
  const [xs, hr] = breakAtHoles(after.map((p) => (Date.parse(p.t) - end) / 1000), [after.map((p) => p.bpm)], MAX_SAMPLE_SPACING_S);
  const fitEnd = fit && fit.duration_s ? t0 + fit.duration_s : 0;
  for (let t = Math.ceil(xs.at(-1) + 5); t <= fitEnd; t += 5) {
    xs.push(t); // the fitted window may reach past the session's own samples
    hr.push(null);
  }
  const curve = xs.map((t) => (fit && t >= t0
    ? round(fit.hr_asymptote + (fit.hr0 - fit.hr_asymptote) * Math.exp(-(t - t0) / fit.tau_s), 1) : null));
  const series = [
    { label: "Seconds after effort", value: (u, v) => (v == null ? "–" : `${Math.round(v)} s`) },
    { label: "Heart rate", ...pointsOnly(4, withAlpha("--muted", 0.55)) },
  ];
  // The curve in a colour of its own and drawn last: over the measured points, not lost among them.
  if (fit) series.push({ label: "Fitted curve", stroke: cssVar("--zone-vigorous"), width: 2.5, points: { show: false } });
  drawChart($("#recovery-chart"), {
    data: fit ? [xs, hr, curve] : [xs, hr],
    series,
    scales: { x: { time: false } },
    axes: [{ label: "seconds after the end of effort" }, { label: "bpm" }],
  });
  $("#recovery-chart").dataset.fit = fit ? "yes" : "no";
}

/** The session as TCX, for other training tools (GET /sessions/{id}/export.tcx needs the token). */
function offerTcx(id) {
  const button = $("#export-tcx");
  button.hidden = false;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const saved = await download(`/sessions/${id}/export.tcx`, `session-${id}.tcx`);
      $("#export-tcx-status").textContent = `Saved ${saved.name}.`;
    } catch (error) {
      $("#export-tcx-status").textContent = describeError(error);
    } finally {
      button.disabled = false;
    }
  });
}

signedInPage(async (profile) => {
  const id = itemId();
  const session = await findSession(id);
  if (!session) {
    showNotice("This session could not be found.");
    $("#session-summary").textContent = "";
    emptyChart($("#hr-chart"), "No data.");
    emptyChart($("#recovery-chart"), "No data.");
    $("#recovery-statement").textContent = "";
    return;
  }
  summarise(session, profile.timezone);
  offerTcx(id);
  const samples = await api(`/sessions/${id}/samples?recovery=true`);
  drawHeartRate(samples, heartLimits(profile), profile.timezone);
  drawRecovery(session, samples);
});
