// Weeks and months: the days against the daily target, the week against the WHO band (both as the server
// counts them: GET /days?from=&to= and GET /days/{date}.week), the streak and a month calendar.
// The page only lays out what the API says; the one sum here is counting the month's days with the target met.
import { api, describeError } from "../api.js";
import { signedInPage } from "../shell.js";
import { addDays, dateRange, formatDay, localDate, userLocale } from "../time.js";
import { $, el, facts, replaceChildren, showNotice } from "../dom.js";

const state = { tz: "UTC", today: null, weekEnd: null, month: null, target: 60, asked: { week: 0, month: 0 } };

/** A number for this request of `what`; an answer is drawn only if no later request was made meanwhile. */
function ask(what) {
  state.asked[what] += 1;
  const mine = state.asked[what];
  return () => mine === state.asked[what];
}

const monthStart = (date) => `${date.slice(0, 7)}-01`;
function monthEnd(month) {
  const [y, m] = month.split("-").map(Number);
  return new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10);
}
function shiftMonth(month, by) {
  const [y, m] = month.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1 + by, 1)).toISOString().slice(0, 7);
}
const weekday = (date) => (new Date(`${date}T12:00:00Z`).getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
const fmt = (options, date) => new Intl.DateTimeFormat(userLocale(), { timeZone: "UTC", ...options })
  .format(new Date(`${date}T12:00:00Z`));
const minutesText = (n) => `${n} min`;

function bar(value, target) {
  const share = Math.min(1, value / Math.max(1, target));
  const fill = el("span", { class: "day-bar-fill" });
  fill.style.setProperty("--share", share.toFixed(3));
  return el("span", { class: `day-bar${value >= target ? " met" : ""}`, "aria-hidden": "true" }, fill);
}

function renderWeekDays(days) {
  replaceChildren($("#week-days"), days.map((d) => el("tr", { class: d.target_met ? "met" : "" },
    el("th", { scope: "row" }, formatDay(d.date), d.date === state.today ? el("span", { class: "hint" }, " (today)") : null),
    el("td", {}, el("div", { class: "day-minutes" },
      bar(d.heartbeat_up_minutes, d.target_minutes),
      el("span", {}, `${d.heartbeat_up_minutes} of ${d.target_minutes}`),
      d.target_met ? el("span", { class: "badge" }, "✓ target met") : null,
      d.analysis_pending ? el("span", { class: "hint" }, " counting…") : null)),
    el("td", {}, String(d.zone_minutes.active_zone_points)))));
}

function renderWho(week) {
  const [low, high] = week.who_band;
  const top = Math.max(high * 1.2, week.equivalent_minutes);
  const pct = (v) => `${((100 * v) / top).toFixed(1)}%`;
  const range = $("#who-range");
  range.style.setProperty("--from", pct(low));
  range.style.setProperty("--to", pct(high));
  $("#who-fill").style.setProperty("--to", pct(week.equivalent_minutes));
  $("#who-scale-top").textContent = `${Math.round(top)} min`;
  const words = {
    below: `${week.who_band[0] - week.equivalent_minutes} to go to reach the band`,
    within: "within the band: well done",
    above: "above the band: more than the guidelines ask",
  };
  $("#who-band-label").textContent = `${week.equivalent_minutes} WHO minutes (vigorous counted double) against the band of ${low}–${high}: ${words[week.status]}.`;
  $("#who-band").dataset.status = week.status;
  $("#who-band").hidden = false;
}

async function showWeek() {
  const end = state.weekEnd;
  const start = addDays(end, -6);
  $("#week-label").textContent = end === state.today ? `the last 7 days, ${formatDay(start)} – today` : `${formatDay(start)} – ${formatDay(end)}`;
  $("#week-later").disabled = end >= state.today;
  const current = ask("week");
  const [days, summary] = await Promise.all([api(`/days?from=${start}&to=${end}`), api(`/days/${end}`)]);
  if (!current()) return;
  const week = summary.week;
  const met = days.filter((d) => d.target_met).length;
  facts($("#week-facts"), [
    ["Heartbeat-up minutes", el("span", {}, minutesText(week.heartbeat_up_minutes), el("span", { class: "hint" }, " · each minute once"))],
    ["WHO minutes", el("span", {}, minutesText(week.equivalent_minutes), el("span", { class: "hint" }, " · vigorous ×2"))],
    ["Days with the target met", `${met} of 7`],
  ]);
  renderWho(week);
  renderWeekDays(days);
}

function longestRun(days) {
  let best = 0;
  let run = 0;
  for (const d of days) {
    run = d.target_met ? run + 1 : 0;
    best = Math.max(best, run);
  }
  return best;
}

function dayCell(d) {
  const level = d.target_met ? "met" : d.heartbeat_up_minutes > 0 ? "some" : "none";
  const minutes = d.heartbeat_up_minutes;
  // The name is the visible text (day number, minutes) with the words around it, read in that order: an
  // aria-label that left out what the button shows would not match what a speech-input user says.
  const hidden = (text) => el("span", { class: "visually-hidden" }, text);
  const button = el("button", { type: "button", class: `cal-day cal-${level}`, "data-date": d.date,
    "aria-pressed": d.date === state.weekEnd ? "true" : "false" },
    el("span", { class: "cal-num" }, String(Number(d.date.slice(8)))),
    hidden(` ${fmt({ month: "long" }, d.date)}, ${fmt({ weekday: "long" }, d.date)}: `),
    minutes ? el("span", { class: "cal-min" }, String(minutes)) : el("span", { class: "cal-min", "aria-hidden": "true" }, "–"),
    hidden(`${minutes ? "" : "0"} heartbeat-up minutes${d.target_met ? ", target met" : ""}. Show the week ending on this day.`));
  button.addEventListener("click", async () => {
    state.weekEnd = d.date;
    await run(refreshAll);
    $(`#calendar [data-date="${d.date}"]`)?.focus(); // the calendar was drawn again
  });
  return el("td", { class: d.date === state.today ? "today" : "" }, button);
}

async function showMonth() {
  const first = `${state.month}-01`;
  const last = monthEnd(state.month) < state.today ? monthEnd(state.month) : state.today;
  $("#month-label").textContent = fmt({ month: "long", year: "numeric" }, first);
  $("#month-later").disabled = state.month >= state.today.slice(0, 7);
  const current = ask("month");
  const [days, today] = await Promise.all([api(`/days?from=${first}&to=${last}`), api(`/days/${state.today}`)]);
  if (!current()) return;
  const streak = today.streak_days ?? 0;
  facts($("#month-facts"), [
    ["Streak now", `${streak} ${streak === 1 ? "day" : "days"}`],
    ["Target met this month", `${days.filter((d) => d.target_met).length} of ${days.length} days`],
    ["Longest run this month", `${longestRun(days)} ${longestRun(days) === 1 ? "day" : "days"}`],
  ]);
  const cells = [...Array(weekday(first)).fill(null).map(() => el("td", {})), ...days.map(dayCell),
    ...dateRange(addDays(last, 1), monthEnd(state.month)).map((date) => el("td", {},
      el("span", { class: "cal-day cal-future", "aria-hidden": "true" }, el("span", { class: "cal-num" }, String(Number(date.slice(8)))))))];
  const rows = [];
  for (let i = 0; i < cells.length; i += 7) rows.push(el("tr", {}, cells.slice(i, i + 7)));
  replaceChildren($("#calendar-days"), rows);
}

async function refreshAll() {
  await Promise.all([showWeek(), showMonth()]);
}

/** Run a redraw started by a button; a failure becomes the page's notice. */
async function run(redraw) {
  try {
    showNotice("");
    await redraw();
  } catch (error) {
    if (error.status !== 401) showNotice(describeError(error));
  }
}

function weekdayHeaders() {
  const monday = "2024-01-01"; // a Monday
  replaceChildren($("#calendar-weekdays"), [0, 1, 2, 3, 4, 5, 6].map((i) => {
    const date = addDays(monday, i);
    return el("th", { scope: "col" }, el("abbr", { title: fmt({ weekday: "long" }, date) }, fmt({ weekday: "narrow" }, date)));
  }));
}

signedInPage(async (profile) => {
  state.tz = profile.timezone;
  state.today = localDate(state.tz);
  state.weekEnd = state.today;
  state.month = state.today.slice(0, 7);
  state.target = profile.daily_target_minutes;
  weekdayHeaders();
  const step = (by) => {
    const next = addDays(state.weekEnd, by);
    state.weekEnd = next > state.today ? state.today : next;
    state.month = monthStart(state.weekEnd).slice(0, 7);
    run(refreshAll);
  };
  $("#week-earlier").addEventListener("click", () => step(-7));
  $("#week-later").addEventListener("click", () => step(7));
  $("#month-earlier").addEventListener("click", () => { state.month = shiftMonth(state.month, -1); run(showMonth); });
  $("#month-later").addEventListener("click", () => { state.month = shiftMonth(state.month, 1); run(showMonth); });
  await refreshAll();
});
