// Record: pair a heart-rate strap through Web Bluetooth and record it from this browser. Each notification
// is decoded (hrs.js), stamped and written to IndexedDB (record-queue.js) before anything else; the upload
// loop (record-upload.js) sends the queue to the user's phone device with that device's own upload token.
// Strap habits as the Python recorder handles them: stale after 5 s of silence, reconnect with backoff on
// gattserverdisconnected (notifications enabled again each time), 0 bpm and lost contact kept as such.
// Beside the live number, the day as Today shows it: the heartbeat-up ring (ring.js, pushed by the live
// stream as the server counts) and the day's sessions (day-sessions.js) from GET /days/{date}, fetched at
// most every 15 s; offline, the last known figures stay, marked as such.
import { api, clearToken, getToken, goToLogin } from "../api.js";
import { renderSessions } from "../day-sessions.js";
import { MalformedMeasurement, decodeMeasurement } from "../hrs.js";
import { openQueue } from "../record-queue.js";
import { Uploader } from "../record-upload.js";
import { connectLive } from "../live.js";
import { renderRing } from "../ring.js";
import { browserZone, formatTime, localDate } from "../time.js";
import { ZONE_NAMES, heartLimits, zoneOf } from "../zones.js";
import { $, setText, showNotice } from "../dom.js";

const STALE_MS = 5000;
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 30000;
const COUNT_EVERY_MS = 250; // the queue's size is read at most this often (a count per beat costs)
const STRAP_KEY = "chinup.record.strap"; // the paired strap's id and name, to find it again after a reload
const DAY_KEY = "chinup.record.day"; // the last day summary, shown (marked) while the server is out of reach
const DAY_EVERY_MS = 15000; // the day summary is asked at most this often, while recording and after uploads
const AGAIN = "Tap Pair a strap to reconnect.";
const STATE_WORDS = {
  idle: "not paired", pairing: "choosing a strap…", connecting: "connecting…", recording: "recording",
  stale: "no data for 5 s (stale)", reconnecting: "reconnecting…", stopped: "stopped",
};

const rec = {
  queue: null, uploader: null, profile: null, userId: null,
  device: null, characteristic: null, state: "idle", stopping: false,
  lastT: 0, lastHeardAt: 0, reconnectAttempt: 0, wakeLock: null, malformed: 0, countTimer: null, foreign: false,
  run: 0, strapName: "", resumed: false, // run: which connect loop is current (a new pairing ends the old one)
};
const day = { date: null, summary: null, liveMinutes: 0, fetchedAt: 0, askedAt: 0, timer: null, offline: false };
const ready = start();

/**
 * The one entry of a measurement: what the characteristicvaluechanged listener calls with the value's bytes
 * (a DataView), and what the browser test calls with real payloads (tests/e2e/test_record_page.py).
 * Decodes, stamps (`t` epoch ms, strictly increasing) and commits to IndexedDB before anything else.
 * Returns the stored sample, or null for a payload the specification does not allow.
 */
export async function onMeasurement(value, t = Date.now()) {
  await ready;
  let m;
  try {
    m = decodeMeasurement(value);
  } catch (error) {
    if (!(error instanceof MalformedMeasurement)) throw error;
    rec.malformed += 1;
    return null;
  }
  const stamp = Math.max(Math.round(t), rec.lastT + 1);
  rec.lastT = stamp;
  const sample = { t: stamp, bpm: m.bpm, rr_ms: m.rrIntervalsMs, contact: m.sensorContact };
  await rec.queue.add(sample); // stored before it is shown, counted or sent
  rec.lastHeardAt = Date.now();
  if (rec.state === "stale") setState("recording", rec.strapName);
  showBeat(sample);
  scheduleCount();
  rec.uploader.kick();
  return sample;
}

function setState(state, detail = "") {
  rec.state = state;
  const node = $("#record-state");
  node.dataset.state = state;
  node.textContent = STATE_WORDS[state] + (detail ? ` · ${detail}` : "");
  $("#live-hr").classList.toggle("stale", state !== "recording");
  const active = !["idle", "stopped"].includes(state);
  $("#pair").hidden = active && state !== "reconnecting"; // reconnecting: the user may pair again instead
  $("#stop").hidden = !active;
}

function showBeat(sample) {
  setText("#live-bpm", sample.contact === false && sample.bpm === 0 ? "--" : String(sample.bpm));
  const zone = sample.bpm ? zoneOf(sample.bpm, heartLimits(rec.profile || {})) : null;
  const live = $("#live-hr");
  live.className = `live-hr zone-${zone || "none"}`;
  let label = zone ? ZONE_NAMES[zone] : "no reading";
  if (sample.contact === false) label = "no skin contact";
  setText("#live-zone", label);
}

function scheduleCount() {
  if (rec.countTimer) return;
  rec.countTimer = setTimeout(async () => {
    rec.countTimer = null;
    const queued = await rec.queue.count();
    const uploaded = (await rec.queue.getMeta("uploaded")) || 0;
    if (rec.foreign && !queued) await adoptBrowser();
    for (const [id, n] of [["#queued", queued], ["#uploaded", uploaded]]) {
      $(id).dataset.count = String(n);
      setText(id, n.toLocaleString());
    }
  }, COUNT_EVERY_MS);
}

// --- the phone device and its upload token ------------------------------------------------------------

let registering = null; // one registration at a time: pairing and the upload loop may both ask at once

function ensureDevice() {
  registering ||= registerPhone().finally(() => { registering = null; });
  return registering;
}

async function registerPhone() {
  const known = await rec.queue.getMeta("device");
  if (known) return known;
  const token = getToken();
  if (!token) throw new Error("signed out: log in again to upload");
  const name = `Phone (${rec.device?.name || "heart-rate strap"})`;
  const response = await fetch("/api/v1/devices", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ name, model: "web bluetooth" }),
  });
  if (!response.ok) {
    const error = new Error(`could not register this phone (${response.status})`);
    error.status = response.status === 401 ? 503 : response.status; // keep the device-less queue; retry
    throw error;
  }
  const body = await response.json();
  // Only the upload token is kept for uploads; the user's own token never goes with a batch.
  const device = { id: body.id, name: body.name, upload_token: body.upload_token, user_id: rec.userId };
  await rec.queue.setMeta("device", device);
  return device;
}

function showUpload({ state, error, retryInMs, rejected }) {
  let text = state;
  if (state === "waiting") text = `waiting to retry in ${Math.round(retryInMs / 1000)} s (${error})`;
  if (rejected) text += ` · ${rejected} refused`;
  setText("#upload-state", text);
  $("#upload-state").dataset.state = state;
  scheduleCount();
  if (state === "uploaded") refreshDaySoon(day.offline);
}

// --- the day: ring and sessions, as on Today -----------------------------------------------------------

const zone = () => rec.profile?.timezone || day.summary?.timezone || browserZone();

/** Draw the day: the server's count (or the live stream's, when newer) and its sessions, marked offline. */
function renderDay() {
  const summary = day.summary;
  const minutes = Math.max(summary?.heartbeat_up_minutes ?? 0, day.liveMinutes);
  const target = summary?.target_minutes ?? rec.profile?.daily_target_minutes ?? 60;
  // "counting" is for uploads catching up; while the strap streams, the day is always being counted.
  const streaming = Date.now() - rec.lastHeardAt <= DAY_EVERY_MS;
  renderRing(minutes, target, Boolean(summary?.analysis_pending) && !streaming && !day.offline);
  renderSessions($("#day-sessions"), summary?.sessions ?? [], zone());
  const card = $("#record-day");
  card.dataset.state = day.offline ? "offline" : summary ? "current" : "loading";
  card.dataset.minutes = String(summary?.heartbeat_up_minutes ?? 0);
  const at = day.fetchedAt ? formatTime(new Date(day.fetchedAt).toISOString(), zone()) : null;
  let text = "Asking your server for today's minutes…";
  if (day.offline) {
    text = at ? `Offline: last known figures, from ${at}. They catch up once the phone is back online.`
      : "Offline: today's minutes show once your server can be reached.";
  } else if (at) {
    text = `Counted by your server at ${at}${summary?.analysis_pending ? "; the newest beats are still being counted" : ""}.`;
  }
  setText("#day-freshness", text);
}

/** Ask GET /days/{today} (today in the profile's zone); offline, keep the last known figures and say so. */
async function refreshDay() {
  const today = localDate(zone());
  if (day.date !== today) Object.assign(day, { date: today, summary: null, liveMinutes: 0, fetchedAt: 0 });
  day.askedAt = Date.now();
  try {
    const response = await fetch(`/api/v1/days/${today}`, {
      headers: { Accept: "application/json", Authorization: `Bearer ${getToken()}` },
    });
    if (response.ok) {
      const summary = await response.json();
      Object.assign(day, { summary, fetchedAt: Date.now(), offline: false });
      if (!summary.analysis_pending) day.liveMinutes = 0; // all counted: the summary is the whole day
      localStorage.setItem(DAY_KEY, JSON.stringify({ user_id: rec.userId, date: today, at: day.fetchedAt, summary }));
    } else {
      day.offline = response.status >= 500; // the server is away (503 while it starts); a 4xx is not "offline"
      if (!day.offline) console.warn(`day summary answered ${response.status}`);
    }
  } catch {
    day.offline = true; // no network: what was known stays on screen
  }
  renderDay();
  if (day.summary?.analysis_pending && !["recording", "stale"].includes(rec.state)) refreshDaySoon();
}

/**
 * One fetch of the day at most every DAY_EVERY_MS, however many uploads and timers ask for it. `now`: the
 * server was just seen again (back online, an upload went through while marked offline), so the offline
 * mark goes at once rather than up to 15 s later; that happens once per return, never per upload.
 */
function refreshDaySoon(now = false) {
  if (now) clearTimeout(day.timer);
  else if (day.timer) return;
  const wait = now ? 0 : Math.max(0, day.askedAt + DAY_EVERY_MS - Date.now());
  day.timer = setTimeout(async () => {
    await refreshDay();
    day.timer = null;
  }, wait);
}

/** The last summary this browser saw for this user and today, until the server answers. */
async function showKnownDay() {
  const kept = JSON.parse(localStorage.getItem(DAY_KEY) || "null");
  const owner = rec.userId ?? (await rec.queue.getMeta("device"))?.user_id;
  if (kept && owner != null && kept.user_id === owner && kept.date === localDate(kept.summary.timezone || zone())) {
    Object.assign(day, { date: kept.date, summary: kept.summary, fetchedAt: kept.at, offline: !navigator.onLine });
  }
  renderDay();
}

function watchDay() {
  connectLive({
    minutes: (e) => {
      if (e.date && e.date !== day.date) return;
      day.liveMinutes = e.heartbeat_up_minutes ?? day.liveMinutes;
      renderDay();
      refreshDaySoon(); // the counted minutes may bring a session with them (still at most every 15 s)
    },
    target_met: () => refreshDaySoon(),
  });
  setInterval(() => {
    if (["recording", "stale", "reconnecting"].includes(rec.state) || day.offline) refreshDaySoon();
  }, DAY_EVERY_MS);
  window.addEventListener("online", () => refreshDaySoon(true));
  refreshDay();
}

/**
 * Another account's phone device (a shared browser): its queue still goes to that device, and pairing
 * waits until it is empty, so no one's heart rate ever lands in someone else's account.
 */
async function checkOwner() {
  const known = await rec.queue.getMeta("device");
  if (!known || !rec.userId || !known.user_id || known.user_id === rec.userId) return;
  if (!(await rec.queue.count())) {
    await rec.queue.setMeta("device", null);
    return;
  }
  rec.foreign = true;
  $("#pair").disabled = true;
  showNotice("This browser still holds measurements recorded for another account: they upload there first.");
}

async function adoptBrowser() {
  rec.foreign = false;
  await rec.queue.setMeta("device", null);
  await rec.queue.setMeta("uploaded", 0);
  $("#pair").disabled = !navigator.bluetooth;
  showNotice("");
}

// --- Bluetooth --------------------------------------------------------------------------------------------

const onValue = (event) => {
  onMeasurement(event.target.value).catch((error) => showNotice(`A measurement was not stored: ${error.message}`));
};

async function pair() {
  setState("pairing");
  try {
    rec.device = await navigator.bluetooth.requestDevice({
      filters: [{ services: ["heart_rate"] }],
      optionalServices: ["battery_service", "device_information"],
    });
  } catch (error) {
    setState("idle");
    setText("#record-status", error.name === "NotFoundError" ? "No strap chosen." : error.message);
    return;
  }
  localStorage.setItem(STRAP_KEY, JSON.stringify({ id: rec.device.id, name: rec.device.name }));
  rec.strapName = rec.device.name || "";
  rec.resumed = false;
  rec.device.removeEventListener("gattserverdisconnected", onDisconnected); // the same strap chosen again
  rec.device.addEventListener("gattserverdisconnected", onDisconnected);
  rec.stopping = false;
  ensureDevice().catch(() => {}); // register the phone now, while online; the upload loop retries if not
  await connectWithRetry();
}

async function connect() {
  setState("connecting");
  const server = await rec.device.gatt.connect();
  const service = await server.getPrimaryService("heart_rate");
  const characteristic = await service.getCharacteristic("heart_rate_measurement");
  rec.characteristic?.removeEventListener("characteristicvaluechanged", onValue);
  characteristic.addEventListener("characteristicvaluechanged", onValue);
  rec.characteristic = characteristic;
  await characteristic.startNotifications(); // again after every reconnect: a strap forgets it
  rec.lastHeardAt = Date.now();
  rec.reconnectAttempt = 0;
  setState("recording", rec.strapName);
  setText("#record-status", "");
  keepScreenOn();
}

async function connectWithRetry() {
  const run = ++rec.run; // a newer loop (pairing again) ends this one
  while (!rec.stopping && run === rec.run) {
    try {
      await connect();
      return;
    } catch (error) {
      if (rec.stopping || run !== rec.run) return;
      rec.reconnectAttempt += 1;
      const wait = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** (rec.reconnectAttempt - 1));
      setState("reconnecting", `try ${rec.reconnectAttempt + 1} in ${Math.round(wait / 1000)} s`);
      // After a reload the strap may be out of reach for good: the chooser is always the way back.
      setText("#record-status", rec.resumed ? `${error.message} Still trying. ${AGAIN}` : error.message);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

function onDisconnected() {
  if (rec.stopping) {
    setState("stopped");
    return;
  }
  setState("reconnecting");
  connectWithRetry();
}

async function stop() {
  rec.stopping = true;
  try {
    await rec.characteristic?.stopNotifications();
  } catch {
    // The strap may already be gone.
  }
  rec.device?.gatt.disconnect();
  localStorage.removeItem(STRAP_KEY); // stopped on purpose: a reload does not reconnect
  rec.wakeLock?.release().catch(() => {});
  rec.wakeLock = null;
  setState("stopped");
}

async function keepScreenOn() {
  if (!("wakeLock" in navigator) || rec.wakeLock || document.visibilityState !== "visible") return;
  try {
    rec.wakeLock = await navigator.wakeLock.request("screen");
    rec.wakeLock.addEventListener("release", () => { rec.wakeLock = null; });
  } catch {
    // Not granted (battery saver, no permission): recording goes on with the screen's own timeout.
  }
}

/**
 * After a reload mid-recording the browser may still know the strap it granted (getDevices, Chrome's new
 * permissions backend): reconnect to it without a new chooser. Where getDevices is missing, or no longer
 * lists the strap, the page says that one tap on "Pair a strap" brings it back.
 */
async function resumeStrap() {
  const saved = JSON.parse(localStorage.getItem(STRAP_KEY) || "null");
  if (!saved) return;
  const name = saved.name || "your strap";
  let known = null;
  if (navigator.bluetooth.getDevices) {
    try {
      known = (await navigator.bluetooth.getDevices()).find((d) => d.id === saved.id) || null;
    } catch {
      // Refused (a policy, a permission reset): the chooser below still works.
    }
  }
  if (!known) {
    const why = navigator.bluetooth.getDevices ? `This browser no longer lists ${name}.`
      : `The reload ended the link to ${name}, and this browser cannot reopen it by itself.`;
    setText("#record-status", `${why} ${AGAIN}`);
    return;
  }
  rec.device = known;
  rec.strapName = known.name || saved.name || "";
  rec.resumed = true;
  rec.stopping = false;
  known.addEventListener("gattserverdisconnected", onDisconnected);
  setText("#record-status", `Reconnecting to ${name} after the reload…`);
  connectWithRetry();
}

// --- the page ---------------------------------------------------------------------------------------------

async function loadProfile() {
  try {
    const response = await fetch("/api/v1/me", { headers: { Authorization: `Bearer ${getToken()}` } });
    if (response.status === 401) {
      clearToken();
      goToLogin();
      return;
    }
    if (response.ok) rec.profile = await response.json();
    if (rec.profile) rec.profile.timezone ||= browserZone();
    rec.userId = rec.profile?.id ?? null;
  } catch {
    // Offline: the page records anyway; zones use the defaults until the profile loads.
  }
}

async function start() {
  if (document.readyState === "loading") await new Promise((r) => document.addEventListener("DOMContentLoaded", r));
  if (!getToken()) {
    goToLogin();
    return new Promise(() => {});
  }
  $("#logout")?.addEventListener("click", async () => {
    await api("/auth/logout", { method: "POST" }).catch(() => {}); // the token may already be gone
    clearToken();
    localStorage.removeItem(DAY_KEY); // the day's figures are the user's: not left for the next one
    location.assign("/dashboard/login");
  });
  rec.queue = await openQueue();
  rec.uploader = new Uploader({
    queue: rec.queue, ensureDevice, forgetDevice: () => rec.queue.setMeta("device", null), onChange: showUpload,
  });
  await loadProfile();
  await checkOwner();
  await showKnownDay();
  watchDay();
  rec.uploader.run(); // after the owner check: a foreign queue still goes to its own device
  scheduleCount();
  setInterval(() => {
    if (rec.state === "recording" && Date.now() - rec.lastHeardAt > STALE_MS) setState("stale");
  }, 1000);
  document.addEventListener("visibilitychange", () => {
    if (["recording", "stale"].includes(rec.state)) keepScreenOn();
  });
  if (!navigator.bluetooth) {
    $("#no-bluetooth").hidden = false;
    $("#pair").disabled = true;
    setText("#record-status", "This browser has no Web Bluetooth: see the other ways below.");
  } else {
    $("#pair").addEventListener("click", pair);
    $("#stop").addEventListener("click", stop);
    resumeStrap().catch(() => {});
  }
  document.body.dataset.ready = "true";
}
