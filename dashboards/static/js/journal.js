// The journal's shared parts: times in the profile's zone, plain-sentence form errors, the delete
// confirmation, and one list-with-a-form pattern (add, edit, delete) every journal record uses.
import { ApiError, api, describeError } from "./api.js";
import { zonedIso } from "./time.js";
import { $, el, replaceChildren, showFormError } from "./dom.js";

const FUTURE_SLACK_MS = 60_000; // the server allows a little clock skew too

/** An instant as a datetime-local value ("YYYY-MM-DDTHH:MM") on the wall clock of zone `tz`. */
export function localInput(iso, tz) {
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  }).formatToParts(new Date(iso));
  const get = (type) => parts.find((p) => p.type === type).value;
  return `${get("year")}-${get("month")}-${get("day")}T${get("hour")}:${get("minute")}`;
}

export const nowInput = (tz) => localInput(new Date().toISOString(), tz);

/** A datetime-local value read in zone `tz`, as ISO 8601 with its offset; null when empty. */
export const readTime = (value, tz) => (value ? zonedIso(value, tz) : null);

export const isFuture = (iso) => iso != null && Date.parse(iso) > Date.now() + FUTURE_SLACK_MS;

export const lines = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean);

/** The fields a 422 answer names ("body.at: …; body.self_rating: …"); null for a field-less reason. */
function problemFields(error) {
  const detail = typeof error.detail === "string" ? error.detail : "";
  return detail.split("; ").map((part) => {
    const colon = part.indexOf(": ");
    const loc = colon > 0 && !part.slice(0, colon).includes(" ") ? part.slice(0, colon) : "";
    return loc.split(".").find((p) => p && !["body", "query", "path"].includes(p) && !/^\d+$/.test(p)) || null;
  });
}

function fieldOf(form, name) {
  return form.querySelector(`[name="${name}"]`) || form.querySelector(`[data-field="${name}"]`);
}

export function clearProblems(form) {
  showFormError(form, "");
  for (const node of form.querySelectorAll(".field-error")) node.remove();
  for (const node of form.querySelectorAll("[aria-invalid]")) {
    node.removeAttribute("aria-invalid");
    const ids = (node.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && !id.endsWith("-problem"));
    if (ids.length) node.setAttribute("aria-describedby", ids.join(" "));
    else node.removeAttribute("aria-describedby");
  }
}

/** Put each sentence next to its field ({name: sentence}); `general` goes in the form's error box. */
export function showProblems(form, problems, general = "") {
  clearProblems(form);
  let first = null;
  const leftOver = [];
  for (const [name, sentence] of Object.entries(problems)) {
    const input = fieldOf(form, name);
    if (!input) {
      leftOver.push(sentence);
      continue;
    }
    const id = `${input.id || name}-problem`;
    const note = el("p", { class: "field-error", id }, sentence);
    (input.closest(".field") || input).append(note);
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", [input.getAttribute("aria-describedby"), id].filter(Boolean).join(" "));
    first ??= input;
  }
  const marked = Object.keys(problems).length - leftOver.length;
  const summary = [general, ...leftOver].filter(Boolean).join(" ")
    || (marked > 1 ? `Please check the ${marked} fields marked above.` : marked ? "Please check the field marked above." : "");
  showFormError(form, summary);
  first?.focus();
}

/** An API refusal in plain words: 422s next to the field they name (`messages[field]`), others in the box. */
export function showApiError(form, error, { messages = {}, general = "" } = {}) {
  if (error instanceof ApiError && error.status === 422) {
    const problems = {};
    let other = "";
    for (const name of problemFields(error)) {
      if (name && messages[name]) problems[name] = messages[name];
      else other = general || "Something in the form could not be saved. Please check the values and try again.";
    }
    showProblems(form, problems, other);
    return;
  }
  const sentence = !(error instanceof ApiError) || error.status >= 500 ? describeError(error)
    : error.status === 404 ? "This is no longer there (perhaps deleted in another tab). The list has been refreshed."
      : error.status === 409 ? "That clashes with something already saved."
        : error.status === 429 || error.status === 503 ? "The server is busy. Please try again in a moment."
          : "This could not be saved. Please try again.";
  showProblems(form, {}, sentence);
}

/** Ask before deleting, in the page's #delete-confirm dialog; resolves true to go on. */
export function confirmDelete(question, detail = "") {
  const dialog = $("#delete-confirm");
  $("#delete-confirm-heading", dialog).textContent = question;
  $("#delete-confirm-text", dialog).textContent = detail || "This cannot be undone.";
  if (!dialog.dataset.wired) {
    dialog.dataset.wired = "true";
    dialog.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-answer]");
      if (button) dialog.close(button.dataset.answer);
    });
  }
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const onClose = () => {
      dialog.removeEventListener("close", onClose);
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(dialog.returnValue === "delete");
    };
    dialog.addEventListener("close", onClose);
    dialog.returnValue = "";
    dialog.showModal();
  });
}

/**
 * A list of records with one form that adds them and edits them.
 * cfg: form, list, status (a role=status node), path (collection), itemPath(item), empty (sentence),
 * read() -> {body} or {problems}, fill(item|null), render(item) -> [nodes], label(item) (names the item in
 * buttons and the question), messages/general (showApiError), onChange() after every save or delete,
 * onSaved(saved, edited) -> true when it takes over (e.g. goes to another page).
 */
export function recordList(cfg) {
  const { form } = cfg;
  const submit = form.querySelector("button[type=submit]");
  const cancel = form.querySelector("[data-action=cancel]");
  const addText = submit.textContent;
  let editing = null;
  const say = (text) => { if (cfg.status) cfg.status.textContent = text; };

  function stopEditing() {
    editing = null;
    delete form.dataset.editing;
    submit.textContent = addText;
    if (cancel) cancel.hidden = true;
    clearProblems(form);
    cfg.fill(null);
  }

  function startEditing(item) {
    editing = item;
    form.dataset.editing = String(item.id);
    submit.textContent = "Save changes";
    if (cancel) cancel.hidden = false;
    clearProblems(form);
    cfg.fill(item);
    say(`Editing ${cfg.label(item)}.`);
    form.scrollIntoView({ block: "start" });
    form.querySelector("input:not([type=hidden]), textarea, select")?.focus({ preventScroll: true });
  }

  async function remove(item) {
    const name = cfg.label(item);
    if (!(await confirmDelete(`Delete ${name}?`, cfg.deleteDetail?.(item)))) return;
    try {
      await api(cfg.itemPath(item), { method: "DELETE" });
      if (editing?.id === item.id) stopEditing();
      say(`Deleted ${name}.`);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) {
        showApiError(form, error);
        return;
      }
    }
    await cfg.onChange();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblems(form);
    say("");
    const { body, problems } = cfg.read(Boolean(editing));
    if (problems && Object.keys(problems).length) {
      showProblems(form, problems);
      return;
    }
    submit.disabled = true;
    try {
      const saved = await api(editing ? cfg.itemPath(editing) : cfg.path, { method: editing ? "PATCH" : "POST", json: body });
      const verb = editing ? "Changes saved" : "Saved";
      if (cfg.onSaved?.(saved, Boolean(editing))) return;
      stopEditing();
      say(`${verb}: ${cfg.label(saved)}.`);
      await cfg.onChange();
    } catch (error) {
      showApiError(form, error, cfg);
      if (error instanceof ApiError && error.status === 404) {
        stopEditing();
        await cfg.onChange();
      }
    } finally {
      submit.disabled = false;
    }
  });
  cancel?.addEventListener("click", () => {
    stopEditing();
    say("");
    submit.focus();
  });

  /** Draw the records, newest first. */
  function show(items) {
    if (!items.length) {
      replaceChildren(cfg.list, el("li", { class: "muted record-empty" }, cfg.empty));
      return;
    }
    replaceChildren(cfg.list, items.map((item) => {
      const name = cfg.label(item);
      const edit = el("button", { type: "button", class: "button small", "aria-label": `Edit ${name}` }, "Edit");
      const del = el("button", { type: "button", class: "button small danger", "aria-label": `Delete ${name}` }, "Delete");
      edit.addEventListener("click", () => startEditing(item));
      del.addEventListener("click", () => remove(item));
      return el("li", { class: "record", "data-id": item.id },
        el("div", { class: "record-body" }, cfg.render(item)),
        el("div", { class: "record-actions" }, edit, del));
    }));
  }

  stopEditing();
  return { show, stopEditing };
}

/** Wire a range input to its <output>. */
export function liveOutput(input, output) {
  const sync = () => { output.textContent = input.value; };
  input.addEventListener("input", sync);
  sync();
  return sync;
}
