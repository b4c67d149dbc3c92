import { apiOptional } from "../api.js";
import { signedInPage } from "../shell.js";
import { formatDateTime, formatDuration } from "../time.js";
import { $, el, replaceChildren } from "../dom.js";

let profile = null;

function describe(s) {
  const parts = [formatDuration(s.duration_s), `${s.heartbeat_up_minutes ?? 0} heartbeat-up min`];
  if (s.in_progress === true) parts.unshift("in progress");
  if (s.avg_bpm) parts.push(`avg ${Math.round(s.avg_bpm)} bpm`);
  if (s.in_progress === true) parts.push("recovery pending");
  else if (s.hrr60_bpm != null) parts.push(`recovered ${Math.round(s.hrr60_bpm)} bpm in a minute`);
  return parts.join(" · ");
}

async function load() {
  // The list takes instants (ISO with offset); a day of margin covers any time zone's midnight.
  const from = new Date(Date.now() - (Number($("#days").value) + 1) * 86400000).toISOString();
  const to = new Date(Date.now() + 60000).toISOString();
  const sessions = await apiOptional(`/sessions?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, null);
  const list = $("#session-list");
  if (sessions === null) {
    replaceChildren(list, el("li", { class: "muted" }, "Sessions will be listed here once the server finds them."));
    return;
  }
  if (!sessions.length) {
    replaceChildren(list, el("li", { class: "muted" }, "No sessions in this period. A brisk walk counts too."));
    return;
  }
  const newest = [...sessions].sort((a, b) => Date.parse(b.start) - Date.parse(a.start));
  replaceChildren(list, newest.map((s) => el("li", { class: "session-item" },
    el("a", { href: `/dashboard/sessions/${s.id}` }, formatDateTime(s.start, profile.timezone)),
    el("span", { class: "muted" }, describe(s)))));
}

signedInPage(async (p) => {
  profile = p;
  $("#days").addEventListener("change", load);
  $("#sessions-controls").addEventListener("submit", (e) => e.preventDefault());
  await load();
});
