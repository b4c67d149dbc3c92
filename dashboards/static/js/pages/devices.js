// Devices: scan through the service's Bluetooth transport, pair, and watch each paired strap live.
import { ApiError, api, describeError } from "../api.js";
import { connectLive } from "../live.js";
import { signedInPage } from "../shell.js";
import { formatTime, zonedIso } from "../time.js";
import { importForm } from "../importer.js";
import { $, el, replaceChildren } from "../dom.js";

const SCAN_SECONDS = 3;
const STATE_WORDS = {
  connecting: "connecting…", recording: "recording", stale: "no data (stale)",
  reconnecting: "reconnecting…", stopped: "stopped",
};
const state = { profile: null, straps: new Map() };

const signal = (rssi) => (rssi >= -60 ? "strong" : rssi >= -75 ? "good" : "weak");

function lastSample(strap) {
  if (!strap.last_sample_ms) return "none yet";
  return formatTime(new Date(strap.last_sample_ms).toISOString(), state.profile.timezone);
}

function strapItem(strap) {
  const facts = [
    ["State", STATE_WORDS[strap.state] || strap.state],
    ["Heart rate", strap.last_bpm ? `${strap.last_bpm} bpm` : "–"],
    ["Last sample", lastSample(strap)],
    ["Battery", strap.battery_pct == null ? "–" : `${strap.battery_pct} %`],
    ["Worn on", strap.body_location || "–"],
    ["Address", strap.address],
  ];
  const toggle = strap.recording
    ? el("button", { type: "button", class: "button", "data-action": "stop" }, "Stop")
    : el("button", { type: "button", class: "button", "data-action": "resume" }, "Resume");
  return el("li", { class: "strap", "data-device": strap.device_id, "data-state": strap.state },
    el("h3", {}, strap.name),
    el("dl", { class: "facts" }, facts.map(([term, value]) =>
      el("div", {}, el("dt", {}, term), el("dd", { "data-fact": term.toLowerCase().replace(" ", "-") }, value)))),
    el("p", { class: "toolbar" }, toggle,
      el("button", { type: "button", class: "button", "data-action": "forget" }, "Forget")));
}

function renderStraps() {
  const list = $("#paired");
  if (!state.straps.size) {
    replaceChildren(list, el("li", { class: "muted" }, "No strap paired yet."));
    return;
  }
  replaceChildren(list, [...state.straps.values()].map(strapItem));
}

async function loadStraps() {
  const straps = await api("/straps");
  state.straps = new Map(straps.map((s) => [s.device_id, s]));
  renderStraps();
}

/** A live event about one strap: merge what it says and redraw that strap. */
function update(deviceId, changes) {
  const strap = state.straps.get(deviceId);
  if (!strap) return;
  Object.assign(strap, Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)));
  $(`#paired li[data-device="${deviceId}"]`)?.replaceWith(strapItem(strap));
}

function onStrapEvent(e) {
  update(e.device_id, {
    state: e.state, battery_pct: e.battery ?? undefined, body_location: e.body_location ?? undefined,
    last_bpm: e.bpm ?? undefined, name: e.name ?? undefined,
    last_sample_ms: e.t_ms ? Math.max(e.t_ms, state.straps.get(e.device_id)?.last_sample_ms || 0) : undefined,
  });
}

function onHeartRate(e) {
  update(e.device_id, { last_bpm: e.bpm, last_sample_ms: e.t_ms });
}

async function act(deviceId, action) {
  const status = $("#paired-status");
  status.textContent = "";
  try {
    if (action === "forget") {
      await api(`/straps/${deviceId}`, { method: "DELETE" });
      state.straps.delete(deviceId);
      renderStraps();
      status.textContent = "Forgotten. Its recorded history stays with you.";
      return;
    }
    const strap = await api(`/straps/${deviceId}/${action}`, { method: "POST" });
    state.straps.set(deviceId, strap);
    update(deviceId, {});
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
    renderStraps();
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
  api("/devices").then((devices) => {
    $("#import-device").append(...devices.map((d) => el("option", { value: d.id }, d.name)));
  }).catch((error) => console.warn("devices not listed for the import", error));
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
  await loadStraps();
});
