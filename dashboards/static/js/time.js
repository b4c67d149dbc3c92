// Dates as the user lives them: calendar days in their own IANA time zone.

export const browserZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/** The browser's language: every date and time is written the way its user reads them (one locale for
 * text and charts), while the zone is always the profile's (one clock). */
export const userLocale = () => navigator.languages?.[0] || navigator.language || undefined;

/** YYYY-MM-DD of `when` in time zone `tz`. */
export function localDate(tz, when = new Date()) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
  }).formatToParts(when);
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")}`;
}

/** The calendar date `days` after an YYYY-MM-DD date (negative goes back). */
export function addDays(date, days) {
  const d = new Date(`${date}T12:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Every YYYY-MM-DD from `from` to `to`, both included. */
export function dateRange(from, to) {
  const out = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}

/** Seconds since the epoch at noon UTC of a date: a stable x for daily charts. */
export const dateToX = (date) => Date.parse(`${date}T12:00:00Z`) / 1000;

export function formatTime(iso, tz) {
  return new Intl.DateTimeFormat(userLocale(), { timeZone: tz, hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
}

export function formatDateTime(iso, tz) {
  const when = new Date(iso);
  const otherYear = localDate(tz, when).slice(0, 4) !== localDate(tz).slice(0, 4);
  return new Intl.DateTimeFormat(userLocale(), {
    timeZone: tz, weekday: "short", day: "numeric", month: "short", year: otherYear ? "numeric" : undefined,
    hour: "2-digit", minute: "2-digit",
  }).format(when);
}

export function formatDay(date) {
  return new Intl.DateTimeFormat(userLocale(), { timeZone: "UTC", weekday: "short", day: "numeric", month: "short" })
    .format(new Date(`${date}T12:00:00Z`));
}

export function formatDuration(seconds) {
  if (seconds == null) return "–";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function timeZones() {
  try {
    return Intl.supportedValuesOf("timeZone");
  } catch {
    return [browserZone(), "UTC"];
  }
}

/** How far `tz` is ahead of UTC at the instant `when`, in ms. */
function zoneOffsetMs(tz, when) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(when);
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  const wall = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return wall - Math.floor(when.getTime() / 1000) * 1000;
}

/** A wall-clock "YYYY-MM-DDTHH:MM" (a datetime-local input) in zone `tz` as ISO 8601 with its offset. */
export function zonedIso(local, tz) {
  const [date, time = "00:00"] = local.split("T");
  const [y, mo, d] = date.split("-").map(Number);
  const [h, mi, s = 0] = time.split(":").map(Number);
  const wall = Date.UTC(y, mo - 1, d, h, mi, s);
  let offset = zoneOffsetMs(tz, new Date(wall));
  offset = zoneOffsetMs(tz, new Date(wall - offset)); // again at the instant itself: DST changes between
  const minutes = Math.round(offset / 60000);
  const sign = minutes < 0 ? "-" : "+";
  const pad = (n) => String(Math.floor(Math.abs(n))).padStart(2, "0");
  return `${date}T${pad(h)}:${pad(mi)}:${pad(s)}${sign}${pad(minutes / 60)}:${pad(minutes % 60)}`;
}
