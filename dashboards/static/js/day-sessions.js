// The day's sessions as a list of links, written the same way on Today and on Record (one place, so the two
// pages can never describe a session differently). Times in the profile's time zone, never the browser's.
import { formatDuration, formatTime } from "./time.js";
import { el, replaceChildren } from "./dom.js";

/** Fill `list` (a <ul>) with `sessions` from GET /days/{date}: start, duration, heartbeat-up minutes, avg bpm. */
export function renderSessions(list, sessions, tz) {
  if (!sessions.length) {
    replaceChildren(list, el("li", { class: "muted" }, "No sessions yet today."));
    return;
  }
  replaceChildren(list, sessions.map((s) => el("li", { "data-session": s.id },
    el("a", { href: `/dashboard/sessions/${s.id}` }, `${formatTime(s.start, tz)} · ${formatDuration(s.duration_s)}`),
    ` · ${s.heartbeat_up_minutes ?? 0} heartbeat-up min`,
    s.avg_bpm ? ` · avg ${Math.round(s.avg_bpm)} bpm` : "")));
}
