import { api, apiOptional } from "../api.js";
import { cssVar, drawChart, emptyChart, horizontalBands, pointsOnly, zoneBands } from "../charts.js";
import { itemId, signedInPage } from "../shell.js";
import { formatDateTime, formatDuration } from "../time.js";
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

function summarise(s, tz) {
  $("#session-summary").textContent =
    `${formatDateTime(s.start, tz)}: ${formatDuration(s.duration_s)}, ${s.heartbeat_up_minutes ?? 0} minutes with your heartbeat up.`;
  const z = s.zone_minutes || {};
  facts($("#session-facts"), [
    ["Average", s.avg_bpm == null ? null : `${Math.round(s.avg_bpm)} bpm`],
    ["Highest", s.max_bpm == null ? null : `${Math.round(s.max_bpm)} bpm`],
    ["Moderate", z.moderate == null ? null : `${z.moderate} min`],
    ["Vigorous", z.vigorous == null ? null : `${z.vigorous} min`],
    ["Peak", z.peak == null ? null : `${z.peak} min`],
    ["Training load (TRIMP)", s.trimp == null ? null : round(s.trimp, 0)],
    ["Source", s.source],
  ]);
}

function drawHeartRate(samples, limits) {
  if (!samples.length) {
    emptyChart($("#hr-chart"), "No heart-rate samples stored for this session.");
    return;
  }
  drawChart($("#hr-chart"), {
    data: [samples.map((p) => Date.parse(p.t) / 1000), samples.map((p) => p.bpm)],
    series: [{}, { label: "Heart rate", stroke: cssVar("--text"), width: 1.5, value: (u, v) => (v == null ? "–" : `${v} bpm`) }],
    scales: { x: { time: true }, y: { range: (u, lo, hi) => [Math.min(lo, limits.resting) - 5, Math.max(hi, limits.maximum * 0.9) + 5] } },
    plugins: [horizontalBands(zoneBands(limits.resting, limits.maximum, 0.22))],
  });
}

function recoveryWords(s) {
  const parts = [];
  if (s.hrr60_bpm != null) parts.push(`Your heart rate fell ${Math.round(s.hrr60_bpm)} bpm in the first minute after the effort`);
  if (s.hrr120_bpm != null) parts.push(`${Math.round(s.hrr120_bpm)} bpm after two minutes`);
  const tau = s.recovery_tau_s ?? s.recovery?.fit?.tau_s;
  if (tau != null) parts.push(`with a time constant of ${Math.round(tau)} s`);
  if (!parts.length) return "There was not enough data after this session to measure recovery. Keep the strap on for a few minutes after you stop next time.";
  return `${parts.join(", ")}. A drop of 12 bpm or more in the first minute is generally a good sign.`;
}

function drawRecovery(s, samples) {
  $("#recovery-statement").textContent = recoveryWords(s);
  const end = s.recovery?.end_of_effort ? Date.parse(s.recovery.end_of_effort) : null;
  const after = end == null ? [] : samples.filter((p) => Date.parse(p.t) >= end && Date.parse(p.t) <= end + 300000);
  if (after.length < 10) {
    emptyChart($("#recovery-chart"), "No recovery curve for this session.");
    return;
  }
  const fit = s.recovery.fit;
  // The fit is hr(t) = asymptote + (hr0 - asymptote) * exp(-(t - t0) / tau), t0 the fit's start (else the end of effort).
  const t0 = fit && fit.t0 ? (Date.parse(fit.t0) - end) / 1000 : 0;
  const xs = after.map((p) => (Date.parse(p.t) - end) / 1000);
  const hr = after.map((p) => p.bpm);
  const fitEnd = fit && fit.duration_s ? t0 + fit.duration_s : 0;
  for (let t = Math.ceil(xs.at(-1) + 5); t <= fitEnd; t += 5) {
    xs.push(t); // the fitted window may reach past the session's own samples
    hr.push(null);
  }
  const curve = xs.map((t) => (fit && t >= t0
    ? round(fit.hr_asymptote + (fit.hr0 - fit.hr_asymptote) * Math.exp(-(t - t0) / fit.tau_s), 1) : null));
  drawChart($("#recovery-chart"), {
    data: [xs, hr, curve],
    series: [
      { label: "Seconds after effort", value: (u, v) => (v == null ? "–" : `${Math.round(v)} s`) },
      { label: "Heart rate", ...pointsOnly(5, cssVar("--muted")) },
      { label: "Fitted curve", stroke: cssVar("--accent"), width: 2.5 },
    ],
    scales: { x: { time: false } },
    axes: [{ label: "seconds after the end of effort" }, { label: "bpm" }],
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
  const samples = await api(`/sessions/${id}/samples?recovery=true`);
  drawHeartRate(samples, heartLimits(profile));
  drawRecovery(session, samples);
});
