import { api, apiAll, apiOptional, describeError } from "../api.js";
import { firstRunChecklist } from "../checklist.js";
import { renderSessions } from "../day-sessions.js";
import { connectLive } from "../live.js";
import { renderRing } from "../ring.js";
import { signedInPage } from "../shell.js";
import { formatTime, localDate } from "../time.js";
import { $, el, replaceChildren, showNotice } from "../dom.js";
import { heartLimits, ZONE_NAMES, zoneOf } from "../zones.js";

const STALE_MS = 15000;
const state = {
  profile: null, today: null, target: 60, minutes: 0, lastBeatAt: 0, strapHeard: false, recheckFirstRun: null,
  // Which strap the big number is: the one shown keeps it while it streams (two straps would otherwise
  // make it flicker between them); heard maps device id -> when its newest reading arrived.
  shownId: null, heard: new Map(), names: new Map(), namesAsked: false,
};

const isLive = (deviceId) => Date.now() - (state.heard.get(deviceId) ?? 0) <= STALE_MS;

/** "from Polar H10 · 2 straps live": which strap the number comes from, and how many stream now. */
function renderSource() {
  const line = $("#live-source");
  if (state.shownId == null) return;
  const live = [...state.heard.keys()].filter(isLive).length;
  const name = state.names.get(state.shownId);
  if (!name && !state.namesAsked) learnNames();
  line.textContent = `from ${name || "your strap"}${live > 1 ? ` · ${live} straps live` : ""}`;
  line.dataset.device = String(state.shownId);
  line.dataset.live = String(live);
  line.hidden = false;
}

/** Names of the user's devices, asked again when a reading comes from one the page has not met. */
async function learnNames() {
  state.namesAsked = true;
  try {
    for (const d of await api("/devices")) state.names.set(d.id, d.name);
  } catch (error) {
    console.warn("device names not loaded", error);
  }
  state.namesAsked = false;
  renderSource();
}

function renderDay(day) {
  state.minutes = day?.heartbeat_up_minutes ?? 0;
  state.target = day?.target_minutes ?? state.profile.daily_target_minutes ?? 60;
  // While a strap streams, the day is always being counted and live minutes move the ring; "counting" is
  // for an upload or import catching up, when the number shown may still be far behind.
  const counting = Boolean(day?.analysis_pending) && Date.now() - state.lastBeatAt > STALE_MS;
  renderRing(state.minutes, state.target, counting);
  if (counting) refreshDayWithin(2000);
  const streak = day?.streak_days ?? 0;
  $("#streak-days").textContent = String(streak);
  $("#streak-unit").textContent = streak === 1 ? "day" : "days";
  $("#streak").classList.toggle("muted", streak === 0);
  renderSessions($("#today-sessions"), day?.sessions ?? [], state.profile.timezone);
}

function renderCheckins(checkins) {
  const tz = state.profile.timezone;
  const todays = checkins.filter((c) => localDate(tz, new Date(c.at)) === state.today);
  replaceChildren($("#today-checkins"), todays.map((c) => el("li", {},
    `${formatTime(c.at, tz)} · confidence ${c.confidence}`, c.mood ? ` · mood ${c.mood}` : "",
    c.note ? el("span", { class: "muted" }, ` · ${c.note}`) : "")));
}

async function loadCheckins() {
  const since = new Date(Date.now() - 48 * 3600 * 1000).toISOString();
  renderCheckins(await apiAll(`/checkins?from=${encodeURIComponent(since)}`));
}

/** The day summary; live minutes that arrived first are not taken back by an older summary. */
async function refreshDay() {
  let day;
  try {
    day = await apiOptional(`/days/${state.today}`);
  } catch (error) {
    if (error.status !== 401) console.warn("day summary not loaded", error);
    return;
  }
  if (day) renderDay({ ...day, heartbeat_up_minutes: Math.max(day.heartbeat_up_minutes ?? 0, state.minutes) });
}

const refresh = { timer: null, at: Infinity };
/** Fetch the day summary again within `delayMs` (one timer: an earlier request wins over a later one).
 * 2 s while the server says the day is still being counted; while a strap streams, minutes arrive on the
 * live stream and the summary (sessions, streak) is fetched at most twice a minute. */
function refreshDayWithin(delayMs) {
  const at = Date.now() + delayMs;
  if (refresh.timer && refresh.at <= at) return;
  clearTimeout(refresh.timer);
  refresh.at = at;
  refresh.timer = setTimeout(async () => {
    refresh.timer = null;
    refresh.at = Infinity;
    await refreshDay();
  }, delayMs);
}

function showHeartRate(event) {
  state.heard.set(event.device_id, Date.now());
  if (state.shownId == null || state.shownId === event.device_id || !isLive(state.shownId)) {
    state.shownId = event.device_id ?? null;
  }
  if (state.shownId !== event.device_id) {
    renderSource(); // another strap streams too: counted, not shown
    return;
  }
  renderSource();
  const limits = heartLimits(state.profile);
  const zone = event.zone || zoneOf(event.bpm, limits);
  state.lastBeatAt = Date.now();
  if (!state.strapHeard) $("#strap-state").textContent = "streaming";
  const box = $("#live-hr");
  box.className = `live-hr zone-${zone}`;
  $("#live-bpm").textContent = String(event.bpm);
  $("#live-zone").textContent = event.contact === false ? "check the strap's contact" : ZONE_NAMES[zone] || zone;
}

function showStrap(event) {
  if (event.name) state.names.set(event.device_id, event.name);
  if (state.shownId != null && event.device_id !== state.shownId && isLive(state.shownId)) return;
  state.strapHeard = true;
  const names = { connected: "connected", streaming: "streaming", disconnected: "disconnected", connecting: "connecting…" };
  $("#strap-state").textContent = names[event.state] || event.state || "unknown";
  $("#strap-battery").textContent = event.battery == null ? "–" : `${event.battery} %`;
}

function watchStaleness() {
  setInterval(() => {
    const stale = state.lastBeatAt && Date.now() - state.lastBeatAt > STALE_MS;
    $("#live-hr").classList.toggle("stale", Boolean(stale));
    renderSource();
    if (localDate(state.profile.timezone) !== state.today) location.reload(); // a new day begins
  }, 2000);
}

async function showDevice() {
  const devices = await api("/devices");
  for (const d of devices) state.names.set(d.id, d.name);
  renderSource();
  if (state.lastBeatAt) return;
  const recent = devices.filter((d) => d.last_sample_ms).sort((a, b) => b.last_sample_ms - a.last_sample_ms)[0];
  if (recent) $("#strap-state").textContent = `${recent.name}, last heard ${formatTime(new Date(recent.last_sample_ms).toISOString(), state.profile.timezone)}`;
  else if (devices.length) $("#strap-state").textContent = `${devices[0].name}, no data yet`;
}

function startLive() {
  connectLive({
    heart_rate: showHeartRate,
    strap: showStrap,
    minutes: (e) => {
      if (e.date && e.date !== state.today) return;
      state.minutes = e.heartbeat_up_minutes;
      state.target = e.target_minutes || state.target;
      renderRing(state.minutes, state.target);
      refreshDayWithin(30000);
    },
    nudge: notifyNudge,
    target_met: async (e) => {
      if (e.date && e.date !== state.today) return;
      renderRing(Math.max(state.minutes, state.target), state.target);
      await refreshDay(); // the streak and today's sessions change with it
    },
  }, (link) => {
    $("#live-link").textContent = link === "open" ? "live" : "retrying";
  });
}

// Nudges toward the hour: said once a day by the service; the browser's permission is asked only when
// the user turns them on (never on page load).
function showNudge(nudge) {
  if (nudge.date && nudge.date !== state.today) return;
  const box = $("#nudge");
  box.textContent = nudge.message;
  box.dataset.kind = nudge.kind;
  box.hidden = false;
}

function notifyNudge(nudge) {
  showNudge(nudge);
  if (state.profile.nudges_enabled && "Notification" in window && Notification.permission === "granted") {
    new Notification("Chin Up", { body: nudge.message, tag: `nudge-${nudge.date}-${nudge.kind}` });
  }
}

async function wireNudges() {
  $("#greeting").after(el("p", { class: "notice nudge", id: "nudge", role: "status", "aria-live": "polite", hidden: true }));
  const toggle = el("input", { type: "checkbox", id: "nudges-on" });
  toggle.checked = Boolean(state.profile.nudges_enabled);
  $("#streak").after(el("p", { class: "field checkbox nudge-toggle" }, toggle,
    el("label", { for: "nudges-on" }, `Nudge me toward my target by ${state.profile.nudge_time || "18:00"}`)));
  toggle.addEventListener("change", async () => {
    if (toggle.checked && "Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {}); // the page works the same without it
    }
    try {
      state.profile = { ...state.profile, ...(await api("/me", { method: "PATCH", json: { nudges_enabled: toggle.checked } })) };
    } catch (error) {
      toggle.checked = !toggle.checked;
      showNotice(describeError(error));
    }
  });
  const said = await api("/nudges/today");
  if (said.length) showNudge(said[said.length - 1]);
}

function wireCheckinForm() {
  const form = $("#checkin-form");
  for (const name of ["confidence", "mood"]) {
    const input = $(`#${name}`);
    const sync = () => { $(`#${name}-out`).textContent = input.value; };
    input.addEventListener("input", sync);
    sync();
  }
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = $("#checkin-status");
    const note = $("#note").value.trim();
    const body = { confidence: Number($("#confidence").value), mood: Number($("#mood").value) };
    if (note) body.note = note;
    try {
      await api("/checkins", { method: "POST", json: body });
      status.textContent = "Check-in saved. Thank you for taking a moment.";
      $("#note").value = "";
      await loadCheckins();
      await state.recheckFirstRun?.();
    } catch (error) {
      status.textContent = describeError(error);
    }
  });
}

signedInPage(async (profile) => {
  state.profile = profile;
  state.today = localDate(profile.timezone);
  renderDay(null);
  wireCheckinForm();
  startLive();
  watchStaleness();
  const checklist = firstRunChecklist(profile).then((recheck) => { state.recheckFirstRun = recheck; });
  await Promise.all([refreshDay(), loadCheckins(), showDevice(), wireNudges(), checklist]);
});
