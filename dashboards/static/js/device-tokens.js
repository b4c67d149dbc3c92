// Upload tokens of one device (GET/POST /devices/{id}/tokens, DELETE …/tokens/{token}): what an uploader
// or a phone authenticates with. Rotating issues a new token, shown here once, and revokes the others;
// revoking one stops whatever uses it at once. The device and its history stay either way.
import { api, describeError } from "./api.js";
import { confirmDelete } from "./journal.js";
import { formatDateTime } from "./time.js";
import { $, el, replaceChildren } from "./dom.js";

// device id -> its panel: the devices list is redrawn often, and a token shown once must survive that.
const panels = new Map();

/** The shared confirm dialog, worded for this question. */
function confirmWith(question, detail, keep, yes) {
  const dialog = $("#delete-confirm");
  $("[data-answer=cancel]", dialog).textContent = keep;
  $("[data-answer=delete]", dialog).textContent = yes;
  return confirmDelete(question, detail);
}

function tokenRow(token, timezone) {
  const issued = `issued ${formatDateTime(token.created_at, timezone)}`;
  const state = token.active ? "active" : `revoked ${formatDateTime(token.revoked_at, timezone)}`;
  return el("li", { class: "token", "data-token": token.id, "data-active": token.active ? "true" : "false" },
    el("span", {}, `Token ${token.id} · ${issued} · ${state}`),
    token.active ? el("button", { type: "button", class: "button danger", "data-action": "revoke-token",
      "aria-label": `Revoke token ${token.id}` }, "Revoke") : null);
}

/** The "Upload tokens" disclosure of a device recorded by an uploader or a phone. */
export function tokenPanel(device, timezone) {
  if (panels.has(device.id)) return panels.get(device.id);
  const list = el("ul", { class: "plain-list token-list", "data-part": "tokens" });
  const fresh = el("div", { class: "token-new", "data-part": "new-token", hidden: true });
  const status = el("p", { class: "form-status", role: "status", "aria-live": "polite" });
  const rotate = el("button", { type: "button", class: "button", "data-action": "rotate-token" }, "Rotate upload token");
  const panel = el("details", { class: "tokens", "data-part": "token-panel" },
    el("summary", {}, "Upload tokens"),
    el("p", { class: "hint" }, "What an uploader or a phone signs its uploads with. Rotate if a token may have leaked: the new one is shown once, and every older one stops working."),
    list, el("p", { class: "toolbar" }, rotate), fresh, status);
  let loaded = false;

  const load = async () => {
    try {
      const tokens = await api(`/devices/${device.id}/tokens`);
      replaceChildren(list, tokens.length ? tokens.map((t) => tokenRow(t, timezone))
        : el("li", { class: "muted" }, "No upload token."));
      loaded = true;
    } catch (error) {
      status.textContent = describeError(error);
    }
  };

  const doRotate = async () => {
    const sure = await confirmWith(`Rotate the upload token of ${device.name}?`,
      "A new token is issued and every older one stops working at once: whatever uploads with an old one must get the new one. The device and its history stay.",
      "Keep the tokens", "Yes, rotate");
    if (!sure) return;
    try {
      const issued = await api(`/devices/${device.id}/tokens`, { method: "POST" });
      const field = el("input", { type: "text", readonly: true, class: "token-value", value: issued.upload_token,
        id: `token-${device.id}`, "aria-label": `New upload token of ${device.name}` });
      replaceChildren(fresh, el("label", { for: field.id }, "New upload token (shown only now: copy it to your uploader)"), field);
      fresh.hidden = false;
      field.select();
      status.textContent = `New upload token issued for ${device.name}; the older ones are revoked.`;
      await load();
    } catch (error) {
      status.textContent = describeError(error);
    }
  };

  const doRevoke = async (tokenId) => {
    const sure = await confirmWith(`Revoke token ${tokenId} of ${device.name}?`,
      "Whatever uploads with it stops at once. The device and its history stay.", "Keep it", "Yes, revoke");
    if (!sure) return;
    try {
      await api(`/devices/${device.id}/tokens/${tokenId}`, { method: "DELETE" });
      status.textContent = `Token ${tokenId} is revoked.`;
      await load();
    } catch (error) {
      status.textContent = describeError(error);
    }
  };

  panel.addEventListener("toggle", () => {
    if (panel.open && !loaded) load();
  });
  panel.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    if (button.dataset.action === "rotate-token") doRotate();
    if (button.dataset.action === "revoke-token") doRevoke(Number(button.closest("li").dataset.token));
  });
  panels.set(device.id, panel);
  return panel;
}
