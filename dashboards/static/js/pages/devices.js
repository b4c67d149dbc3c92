// Devices: scan through the service's Bluetooth transport, pair, and watch each paired strap live.
import { ApiError, api, describeError } from "../api.js";
import { connectLive } from "../live.js";
import { signedInPage } from "../shell.js";
import { formatDateTime, zonedIso } from "../time.js";
import { confirmDelete } from "../journal.js";
import { importForm } from "../importer.js";
import { tokenPanel } from "../device-tokens.js";
import { $, el, replaceChildren } from "../dom.js";

const SCAN_SECONDS = 3;
const LIVE_MS = 15000; // a sample newer than this is "streaming now" (the Today page's staleness too)
const TICK_MS = 5000;
const STATE_WORDS = {
  connecting: "connecting…", recording: "recording", stale: "no data (stale)",
  reconnecting: "reconnecting…", stopped: "stopped",
};
// devices: every device of the user (GET /devices); straps: those this server records (GET /straps);
// heard: device id -> {bpm, t_ms, at} of the newest heart_rate event seen on the live stream.
// seen: device id -> the newest sample time the page has met anywhere (a reply after Stop may know less).
const state = { profile: null, devices: new Map(), straps: new Map(), heard: new Map(), seen: new Map(), reload: null };

const signal = (rssi) => (rssi >= -60 ? "strong" : rssi >= -75 ? "good" : "weak");

/** What records a device: this server, an uploader or phone with its token, or imported files. */
function recorder(device) {
  if (state.straps.has(device.id)) return "this server's Bluetooth";
  const address = device.address || "";
  if (address.startsWith("import:") || device.model === "generated") return "imported files";
  if (device.model === "paired strap") return "nothing now (forgotten strap; history kept)";
  return "an uploader or phone";
}

function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

function lastSampleMs(id) {
  const known = [state.devices.get(id)?.last_sample_ms, state.straps.get(id)?.last_sample_ms,
    state.heard.get(id)?.t_ms, state.seen.get(id)];
  const ms = Math.max(0, ...known.filter(Boolean)) || null;
  if (ms) state.seen.set(id, ms);
  return ms;
}

function lastSample(id) {
  const ms = lastSampleMs(id);
  return ms ? formatDateTime(new Date(ms).toISOString(), state.profile.timezone) : "none yet";
}

/** "streaming now, 132 bpm", "stopped · last heard 3 h ago", "last heard 2 days ago", "no data yet". */
function liveLine(id) {
  const strap = state.straps.get(id);
  const heard = state.heard.get(id);
  const ms = lastSampleMs(id);
  const fresh = heard && Date.now() - heard.at < LIVE_MS;
  if (strap && !strap.recording) return { kind: "stopped", text: ms ? `stopped · last heard ${ago(ms)}` : "stopped" };
  const forgotten = !strap && state.devices.get(id)?.model === "paired strap";
  if (forgotten) return { kind: "quiet", text: ms ? `not recorded now · last heard ${ago(ms)}` : "not recorded now" };
  if (fresh) return { kind: "streaming", text: `streaming now, ${heard.bpm} bpm` };
  if (strap && strap.state !== "recording") return { kind: "waiting", text: `${STATE_WORDS[strap.state] || strap.state}${ms ? ` · last heard ${ago(ms)}` : ""}` };
  if (ms && Date.now() - ms < LIVE_MS) return { kind: "streaming", text: strap?.last_bpm ? `streaming now, ${strap.last_bpm} bpm` : "streaming now" };
  return { kind: "quiet", text: ms ? `last heard ${ago(ms)}` : "no data yet" };
}

const fact = (term, value) => el("div", {}, el("dt", {}, term),
  el("dd", { "data-fact": term.toLowerCase().replace(" ", "-") }, value));

function liveBadge(id) {
  const live = liveLine(id);
  return el("p", { class: `device-live ${live.kind}`, "data-part": "live", "data-live": live.kind }, live.text);
}

function strapItem(strap) {
  const stopped = !strap.recording;
  const facts = [
    ["Recorded by", recorder({ id: strap.device_id })],
    ["State", stopped ? STATE_WORDS.stopped : STATE_WORDS[strap.state] || strap.state],
    ["Heart rate", !stopped && strap.last_bpm ? `${strap.last_bpm} bpm` : "–"],
    ["Last sample", lastSample(strap.device_id)],
    ["Battery", stopped || strap.battery_pct == null ? "–" : `${strap.battery_pct} %`],
    ["Worn on", strap.body_location || "–"],
    ["Address", strap.address],
  ];
  const toggle = strap.recording
    ? el("button", { type: "button", class: "button", "data-action": "stop", "aria-label": `Stop recording ${strap.name}` }, "Stop")
    : el("button", { type: "button", class: "button", "data-action": "resume", "aria-label": `Resume recording ${strap.name}` }, "Resume");
  return el("li", { class: "strap device", "data-device": strap.device_id, "data-state": stopped ? "stopped" : strap.state },
    el("h4", {}, strap.name), liveBadge(strap.device_id),
    el("dl", { class: "facts" }, facts.map(([term, value]) => fact(term, value))),
    el("p", { class: "toolbar" }, toggle,
      el("button", { type: "button", class: "button danger", "data-action": "forget", "aria-label": `Forget ${strap.name}` }, "Forget")));
}

function deviceItem(device) {
  const facts = [
    ["Recorded by", recorder(device)],
    ["Last sample", lastSample(device.id)],
    ["Model", device.model],
  ].filter(([, value]) => value);
  const uploads = recorder(device) === "an uploader or phone";
  return el("li", { class: "device", "data-device": device.id },
    el("h4", {}, device.name), liveBadge(device.id),
    el("dl", { class: "facts" }, facts.map(([term, value]) => fact(term, value))),
    uploads ? tokenPanel(device, state.profile.timezone) : null);
}

function renderStraps() {
  const list = $("#paired");
  if (!state.straps.size) {
    replaceChildren(list, el("li", { class: "muted" }, "No strap paired yet."));
    return;
  }
  replaceChildren(list, [...state.straps.values()].map(strapItem));
}

function renderOthers() {
  const others = [...state.devices.values()].filter((d) => !state.straps.has(d.id))
    .sort((a, b) => (lastSampleMs(b.id) || 0) - (lastSampleMs(a.id) || 0));
  replaceChildren($("#others"), others.length ? others.map(deviceItem)
    : el("li", { class: "muted" }, "Nothing else records for you yet."));
}

/** Relative times and "streaming now" age: refresh only the live lines and last samples in place. */
function tick() {
  for (const item of document.querySelectorAll("li.device[data-device]")) {
    const id = Number(item.dataset.device);
    item.querySelector("[data-part=live]")?.replaceWith(liveBadge(id));
    const last = item.querySelector('[data-fact="last-sample"]');
    if (last) last.textContent = lastSample(id);
  }
}

async function loadAll() {
  const [devices, straps] = await Promise.all([api("/devices"), api("/straps")]);
  state.devices = new Map(devices.map((d) => [d.id, d]));
  state.straps = new Map(straps.map((s) => [s.device_id, s]));
  renderStraps();
  renderOthers();
}

/** A device heard that the page does not know yet (registered since it loaded): list it, once. */
function reloadSoon() {
  state.reload ??= setTimeout(async () => {
    try {
      await loadAll();
    } catch (error) {
      console.warn("devices not reloaded", error);
    } finally {
      state.reload = null;
    }
  }, 500);
}

/** A live event about one strap: merge what it says and redraw that strap. While it is stopped the
 * recorder's last words (a late "connecting" from the stream) do not change what the page says. */
function update(deviceId, changes) {
  const strap = state.straps.get(deviceId);
  if (!strap) return;
  const known = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
  if (!strap.recording) delete known.state;
  if (known.name === strap.address) delete known.name; // a stopped recorder says the address, not the name
  Object.assign(strap, known);
  lastSampleMs(deviceId); // remember the newest sample time before a later reply forgets it
  const item = $(`#paired li[data-device="${deviceId}"]`);
  if (!item) return;
  const fresh = strapItem(strap);
  const toolbar = $(".toolbar", item);
  // Keep the buttons (and the keyboard focus on them) unless Stop became Resume or back.
  if (toolbar && $(".toolbar [data-action]", fresh).dataset.action === $("[data-action]", toolbar).dataset.action) {
    item.dataset.state = fresh.dataset.state;
    for (const part of ["h4", "[data-part=live]", "dl"]) $(part, item).replaceWith($(part, fresh));
    for (const button of toolbar.querySelectorAll("button[data-action]")) { // names follow the strap's name
      const label = $(`[data-action="${button.dataset.action}"]`, fresh)?.getAttribute("aria-label");
      if (label) button.setAttribute("aria-label", label);
    }
  } else {
    item.replaceWith(fresh);
  }
}

function onStrapEvent(e) {
  update(e.device_id, {
    state: e.state, battery_pct: e.battery ?? undefined, body_location: e.body_location ?? undefined,
    last_bpm: e.bpm ?? undefined, name: e.name ?? undefined,
    last_sample_ms: e.t_ms ? Math.max(e.t_ms, state.straps.get(e.device_id)?.last_sample_ms || 0) : undefined,
  });
}

function onHeartRate(e) {
  if (!state.devices.has(e.device_id)) reloadSoon();
  state.heard.set(e.device_id, { bpm: e.bpm, t_ms: e.t_ms, at: Date.now() });
  if (state.straps.has(e.device_id)) update(e.device_id, { last_bpm: e.bpm, last_sample_ms: e.t_ms });
  else tick();
}

/** The shared delete dialog, worded for forgetting: what stops, and that the history stays. */
function confirmForget(strap) {
  const dialog = $("#delete-confirm");
  $("[data-answer=cancel]", dialog).textContent = "Keep it paired";
  $("[data-answer=delete]", dialog).textContent = "Yes, forget it";
  return confirmDelete(`Forget ${strap.name}?`,
    "Chin Up stops recording it and unpairs it. Its recorded history stays with you, and you can pair it again later.");
}

async function act(deviceId, action) {
  const status = $("#paired-status");
  status.textContent = "";
  const strap = state.straps.get(deviceId);
  try {
    if (action === "forget") {
      if (!(await confirmForget(strap))) return;
      await api(`/straps/${deviceId}`, { method: "DELETE" });
      state.straps.delete(deviceId);
      state.heard.delete(deviceId); // nothing records it now: no "streaming" from its last reading
      const device = state.devices.get(deviceId);
      if (device && device.name === strap.address) device.name = strap.name;
      renderStraps();
      renderOthers();
      status.textContent = `${strap.name} is forgotten. Its recorded history stays with you.`;
      return;
    }
    const changed = await api(`/straps/${deviceId}/${action}`, { method: "POST" });
    if (changed.name === changed.address) changed.name = strap.name; // the strap's own name, once heard
    if (action === "resume") state.heard.delete(deviceId); // "streaming" again once it is heard again
    state.straps.set(deviceId, changed);
    update(deviceId, {});
    $(`#paired li[data-device="${deviceId}"] [data-action="${action === "stop" ? "resume" : "stop"}"]`)?.focus();
    status.textContent = action === "stop" ? `${changed.name} stopped; it stays paired.` : `${changed.name}: recording again.`;
  } catch (error) {
    status.textContent = describeError(error);
  }
}

function foundRow(strap) {
  let action;
  if (strap.paired === "yours") action = el("span", { class: "muted" }, "paired");
  else if (strap.paired) action = el("span", { class: "muted" }, "paired with another account");
  else action = el("button", { type: "button", class: "button primary", "data-address": strap.address,
    "data-name": strap.name || "" }, `Pair ${strap.name || strap.address}`);
  return el("tr", {}, el("td", {}, strap.name || "unnamed strap"), el("td", {}, strap.address),
    el("td", {}, `${signal(strap.rssi)} (${strap.rssi} dBm)`), el("td", {}, action));
}

async function scan() {
  const button = $("#scan");
  const status = $("#scan-status");
  button.disabled = true;
  status.textContent = `Listening for ${SCAN_SECONDS} seconds…`;
  try {
    const found = await api(`/straps/scan?seconds=${SCAN_SECONDS}`);
    replaceChildren($("#found tbody"), found.map(foundRow));
    $("#found").hidden = !found.length;
    status.textContent = found.length
      ? `${found.length} strap${found.length === 1 ? "" : "s"} heard.`
      : "No strap heard. Is it worn, and near this computer?";
  } catch (error) {
    // 503: this server cannot use Bluetooth; its reason says what is missing and what to do.
    status.textContent =
      error instanceof ApiError && error.status === 503 ? String(error.message) : describeError(error);
  } finally {
    button.disabled = false;
  }
}

async function pair(button) {
  const status = $("#scan-status");
  button.disabled = true;
  try {
    const strap = await api("/straps", { method: "POST", json: { address: button.dataset.address, name: button.dataset.name || null } });
    state.straps.set(strap.device_id, strap);
    state.devices.set(strap.device_id, { id: strap.device_id, name: strap.name, address: strap.address,
      model: "paired strap", last_sample_ms: strap.last_sample_ms });
    renderStraps();
    renderOthers();
    button.replaceWith(el("span", { class: "muted" }, "paired"));
    status.textContent = `${strap.name} is paired; Chin Up is connecting to it.`;
  } catch (error) {
    button.disabled = false;
    status.textContent = describeError(error);
  }
}

/** The import card: the file, and the options POST /imports takes beside it. */
function setUpImport(profile) {
  importForm($("#import-form"), $("#import-report"), {
    profile,
    dialog: $("#restore-confirm"),
    fields: () => ({
      device_id: $("#import-device").value,
      start: $("#import-start").value ? zonedIso($("#import-start").value, profile.timezone) : null,
      strict: $("#import-strict").checked ? "true" : null,
    }),
  });
}

function fillImportDevices() {
  $("#import-device").append(...[...state.devices.values()].map((d) => el("option", { value: d.id }, d.name)));
}

signedInPage(async (profile) => {
  state.profile = profile;
  $("#scan").addEventListener("click", scan);
  $("#found").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-address]");
    if (button) pair(button);
  });
  $("#paired").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (button) act(Number(button.closest("li").dataset.device), button.dataset.action);
  });
  setUpImport(profile);
  connectLive({ strap: onStrapEvent, heart_rate: onHeartRate });
  await loadAll();
  fillImportDevices();
  setInterval(tick, TICK_MS);
});
