import { apiOptional } from "../api.js";
import { signedInPage } from "../shell.js";
import { addDays, formatDateTime, formatDuration, localDate, userLocale } from "../time.js";
import { $, el, replaceChildren } from "../dom.js";

let profile = null;
// ?day=YYYY-MM-DD (the import report links its days here): that calendar day in the user's zone only.
const day = /^\d{4}-\d{2}-\d{2}$/.test(new URLSearchParams(location.search).get("day") || "")
  ? new URLSearchParams(location.search).get("day") : null;

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
  const from = day ? `${addDays(day, -1)}T00:00:00Z` : new Date(Date.now() - (Number($("#days").value) + 1) * 86400000).toISOString();
  const to = day ? `${addDays(day, 2)}T00:00:00Z` : new Date(Date.now() + 60000).toISOString();
  let sessions = await apiOptional(`/sessions?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, null);
  if (day && sessions) sessions = sessions.filter((s) => localDate(profile.timezone, new Date(s.start)) === day);
  const list = $("#session-list");
  if (sessions === null) {
    replaceChildren(list, el("li", { class: "muted" }, "Sessions will be listed here once the server finds them."));
    return;
  }
  if (!sessions.length) {
    replaceChildren(list, el("li", { class: "muted" }, day ? "No sessions on this day." : "No sessions in this period. A brisk walk counts too."));
    return;
  }
  const newest = [...sessions].sort((a, b) => Date.parse(b.start) - Date.parse(a.start));
  replaceChildren(list, newest.map((s) => el("li", { class: "session-item" },
    el("a", { href: `/dashboard/sessions/${s.id}` }, formatDateTime(s.start, profile.timezone)),
    el("span", { class: "muted" }, describe(s)))));
}

signedInPage(async (p) => {
  profile = p;
  if (day) {
    $("#day-filter-text").textContent = `Sessions on ${new Intl.DateTimeFormat(userLocale(), { timeZone: "UTC", dateStyle: "full" })
      .format(new Date(`${day}T12:00:00Z`))}.`;
    $("#day-filter").hidden = false;
    $("#sessions-controls").hidden = true;
  }
  $("#days").addEventListener("change", load);
  $("#sessions-controls").addEventListener("submit", (e) => e.preventDefault());
  await load();
});
