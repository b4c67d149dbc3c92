// Importing a file from the browser: pick or drop it, upload it with progress to POST /imports?background=true,
// follow the job the server imports it in (GET /imports/{id}), then say in words and numbers what the import
// did. The Devices page imports recordings; Profile restores exports.
import { api, describeError, upload } from "./api.js";
import { formatDateTime, formatDuration, formatTime, localDate } from "./time.js";
import { el, replaceChildren } from "./dom.js";

const POLL_MS = 1500;
const JOB_POLL_MS = 500; // a background import's progress is written at most once a second
const POLL_LIMIT_MS = 120000;
const MAX_RANGE_DAYS = 400; // GET /days answers at most this many days at a time
const MAX_LINKS = 31; // days or sessions listed by name; the rest are counted
const EXPORT_NAME = /^chinup-export.*\.zip$/i;
const FORMAT_NAMES = {
  fit: "FIT", tcx: "TCX", gpx: "GPX", csv: "CSV", hrm: "Polar HRM", fitlog: "SportTracks fitlog",
  zip: "zip", rr: "RR text", "apple-health": "Apple Health export",
  "apple-health-zip": "Apple Health export (zip)",
  "chinup-export": "Chin Up export",
};
const RESTORED_NAMES = {
  checkins: "check-ins", interviews: "interviews", practice: "practice sessions",
  applications: "applications", sessions: "session corrections",
};

const count = (n) => Number(n ?? 0).toLocaleString();
const plural = (n, one, many = `${one}s`) => `${count(n)} ${n === 1 ? one : many}`;
export const formatName = (format) => FORMAT_NAMES[format] || String(format || "unknown").toUpperCase();
const baseName = (path) => String(path).split("/").pop();

/** A calendar date with its year: imports are often of other years. */
function longDay(date) {
  return new Intl.DateTimeFormat(undefined, {
    timeZone: "UTC", weekday: "short", day: "numeric", month: "short", year: "numeric",
  }).format(new Date(`${date}T12:00:00Z`));
}

function timeSpan(report, tz) {
  if (!report.first || !report.last) return "–";
  const seconds = (Date.parse(report.last) - Date.parse(report.first)) / 1000;
  const sameDay = localDate(tz, new Date(report.first)) === localDate(tz, new Date(report.last));
  const end = sameDay ? formatTime(report.last, tz) : formatDateTime(report.last, tz);
  return `${formatDateTime(report.first, tz)} – ${end} (${formatDuration(seconds)})`;
}

function countFacts(report) {
  const pairs = [
    ["Format", "format", formatName(report.format)],
    ["Read", "read", count(report.read)],
    ["Stored", "stored", count(report.stored)],
    ["Duplicates", "duplicates", count(report.duplicates)],
    ["Rejected", "rejected", count(report.rejected)],
    ["RR dropped", "rr-dropped", count(report.rr_dropped)],
    ["Skipped records", "skipped", count(report.skipped.length)],
  ];
  return el("dl", { class: "facts import-counts" }, pairs.map(([term, key, value]) =>
    el("div", {}, el("dt", {}, term), el("dd", { "data-fact": key }, value))));
}

function skippedWhere(s) {
  const where = [s.place];
  if (s.message != null) where.push(`message ${count(s.message)}`);
  if (s.byte != null) where.push(`byte ${count(s.byte)}`);
  return `${where.filter(Boolean).join(", ")}: ${s.reason}`;
}

function listSection(title, part, items) {
  if (!items.length) return null;
  return el("div", { class: "report-part", "data-part": part }, el("h4", {}, title),
    el("ul", { class: "report-list" }, items.map((item) => el("li", {}, item))));
}

function memberLine(m) {
  const name = el("span", { class: "member-name" }, baseName(m.file));
  if (m.refused) {
    const reason = m.refused.startsWith(`${m.file}: `) ? m.refused.slice(m.file.length + 2) : m.refused;
    return el("li", { class: "member", "data-member": baseName(m.file) }, name, " · ",
      el("span", { class: "refused" }, "not imported:"), ` ${reason}`);
  }
  const parts = [formatName(m.format), `${count(m.stored)} stored of ${count(m.read)} read`];
  if (m.duplicates) parts.push(plural(m.duplicates, "duplicate"));
  if (m.rejected) parts.push(`${count(m.rejected)} rejected`);
  if (m.rr_dropped) parts.push(`${count(m.rr_dropped)} RR dropped`);
  if (m.skipped.length) parts.push(plural(m.skipped.length, "skipped record"));
  if (m.days.length) parts.push(m.days.length === 1 ? longDay(m.days[0]) : `${m.days.length} days`);
  return el("li", { class: "member", "data-member": baseName(m.file) }, name, ` · ${parts.join(" · ")}`);
}

function summary(report) {
  const name = baseName(report.file);
  if (report.files.length) {
    const refused = report.files.filter((m) => m.refused).length;
    const taken = report.files.length - refused;
    return `${name}: ${plural(taken, "file")} of ${report.files.length} imported, ${count(report.stored)} new samples stored.`;
  }
  if (report.restored) {
    return `${name}: account restored, ${count(report.stored)} new samples stored (${count(report.duplicates)} were already here).`;
  }
  if (!report.stored && report.duplicates && !report.rejected) {
    return `${name} was imported before: all ${count(report.duplicates)} samples are already stored, nothing changed.`;
  }
  return `${name} (${formatName(report.format)}): ${count(report.stored)} new samples stored of ${count(report.read)} read.`;
}

function restoredLine(restored) {
  const parts = Object.entries(restored).filter(([, n]) => n).map(([k, n]) => `${count(n)} ${RESTORED_NAMES[k] || k}`);
  return `Restored from the export: ${parts.length ? parts.join(", ") : "no journal entry you did not have"}; your profile settings are now the export's.`;
}

function dayLinks(days) {
  const shown = days.slice(-MAX_LINKS).map((d) => el("a", { href: `/dashboard/sessions?day=${d}` }, longDay(d)));
  if (days.length > MAX_LINKS) shown.unshift(`${count(days.length - MAX_LINKS)} earlier days`);
  return listSection(`Days touched (${days.length})`, "days", shown);
}

/** The report in words and numbers; sessions are filled in by `showSessions` once analysis has run. */
export function renderReport(box, report, tz) {
  const parts = [
    el("h3", { tabindex: "-1" }, "What the import did"),
    el("p", { class: "statement", "data-part": "summary" }, summary(report)),
    countFacts(report),
    el("p", { "data-part": "span" }, el("strong", {}, "Time span: "), timeSpan(report, tz),
      el("span", { class: "muted" }, ` · times in ${tz}`)),
    report.unwrapped.length ? el("p", { class: "muted" }, `Unpacked first: ${report.unwrapped.join(", ")}.`) : null,
    report.restored ? el("p", { "data-part": "restored" }, restoredLine(report.restored)) : null,
    listSection("Rejected, by reason", "rejected-reasons",
      Object.entries(report.rejected_by_reason).map(([reason, n]) => `${reason}: ${count(n)}`)),
    listSection("Skipped records, and where", "skipped", report.skipped.map(skippedWhere)),
    listSection("Warnings", "warnings", report.warnings),
    report.files.length ? el("div", { class: "report-part", "data-part": "members" },
      el("h4", {}, "Files in the zip"), el("ul", { class: "report-list" }, report.files.map(memberLine))) : null,
    report.days.length ? dayLinks(report.days) : null,
    el("div", { class: "report-part", "data-part": "sessions" }, el("h4", {}, "Sessions touched"),
      el("p", { class: "muted", "data-part": "sessions-status" },
        report.stored ? "Finding the workouts in what was imported…" : "Looking them up…")),
  ];
  replaceChildren(box, parts);
  box.hidden = false;
}

function sessionItem(s, tz) {
  const parts = [formatDuration(s.duration_s)];
  if (s.avg_bpm) parts.push(`avg ${Math.round(s.avg_bpm)} bpm`);
  if (s.heartbeat_up_minutes != null) parts.push(`${s.heartbeat_up_minutes} heartbeat-up min`);
  return el("li", {}, el("a", { href: `/dashboard/sessions/${s.id}` }, formatDateTime(s.start, tz)), ` · ${parts.join(" · ")}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Wait until the touched days are counted (analysis runs after the import answers). */
async function settled(days) {
  const to = days[days.length - 1];
  const from = days.find((d) => (Date.parse(to) - Date.parse(d)) / 86400000 < MAX_RANGE_DAYS);
  const deadline = Date.now() + POLL_LIMIT_MS;
  while (Date.now() < deadline) {
    const summaries = await api(`/days?from=${from}&to=${to}`);
    if (!summaries.some((d) => d.analysis_pending)) return true;
    await sleep(POLL_MS);
  }
  return false;
}

/** List the sessions overlapping the import's time span, once the analysis has found them. */
export async function showSessions(box, report, tz) {
  const part = box.querySelector('[data-part="sessions"]');
  const status = part.querySelector('[data-part="sessions-status"]');
  if (!report.first || !report.last) {
    status.textContent = "None: nothing with a time was imported.";
    return;
  }
  try {
    if (report.analysis_pending && report.days.length && !(await settled(report.days))) {
      status.textContent = "Still counting. The sessions will be on the Sessions page shortly.";
      return;
    }
    const range = `from=${encodeURIComponent(report.first)}&to=${encodeURIComponent(report.last)}`;
    const sessions = await api(`/sessions?${range}`);
    if (!sessions.length) {
      status.textContent = "None: no workout was found in this recording.";
      return;
    }
    const shown = sessions.slice(-MAX_LINKS);
    status.textContent = sessions.length > shown.length
      ? `${count(sessions.length)} sessions; the latest ${shown.length}:` : `${plural(sessions.length, "session")}:`;
    part.append(el("ul", { class: "report-list" }, shown.map((s) => sessionItem(s, tz))));
  } catch (error) {
    status.textContent = describeError(error);
  }
}

/** Ask before a file restores an account; resolves true to go on. */
export function confirmRestore(dialog, fileName) {
  dialog.querySelector('[data-part="confirm-file"]').textContent = `File: ${fileName}`;
  return new Promise((resolve) => {
    const done = (answer) => {
      dialog.removeEventListener("close", onClose);
      resolve(answer);
    };
    const onClose = () => done(dialog.returnValue === "restore");
    dialog.addEventListener("close", onClose);
    dialog.returnValue = "";
    dialog.showModal();
  });
}

function wireDialog(dialog) {
  if (!dialog || dialog.dataset.wired) return;
  dialog.dataset.wired = "true";
  dialog.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-answer]");
    if (button) dialog.close(button.dataset.answer);
  });
}

function jobText(job) {
  if (job.state === "queued") return "Sent; waiting for the server to start reading the file…";
  return `Importing: ${job.percent} % read, ${count(job.samples_stored)} samples stored`;
}

class ImportJobFailed extends Error {}

/** Follow a background import until it ends: the report once done; a failed one rejects with its reason. */
async function followJob(job, onJob) {
  while (job.state !== "done" && job.state !== "failed") {
    onJob(job);
    await sleep(JOB_POLL_MS);
    job = await api(`/imports/${job.id}`);
  }
  if (job.state === "failed") throw new ImportJobFailed(job.error || "The import failed.");
  onJob(job);
  return job.report;
}

function progressText(sent, total) {
  if (!total) return `${count(Math.round(sent / 1024))} KB sent`;
  return `${Math.round((100 * sent) / total)} % of ${count(Math.max(1, Math.round(total / 1024)))} KB`;
}

/**
 * Wire an import form: `form` holds a file input, a drop zone and the parts named by data-part;
 * `report` is where the report goes. `restore` asks before every upload (the Profile page's control).
 */
export function importForm(form, reportBox, { profile, dialog, restore = false, fields = () => ({}), onDone }) {
  const input = form.querySelector('input[type="file"]');
  const drop = form.querySelector('[data-part="drop"]');
  const part = (name) => form.querySelector(`[data-part="${name}"]`);
  const submit = form.querySelector('button[type="submit"]');
  wireDialog(dialog);

  const showError = (text) => {
    part("error").textContent = text || "";
    part("error").hidden = !text;
  };
  const showFile = () => {
    const file = input.files[0];
    part("chosen").textContent = file ? `Chosen: ${file.name} (${count(Math.max(1, Math.round(file.size / 1024)))} KB)` : "No file chosen yet.";
  };
  input.addEventListener("change", () => {
    showError("");
    showFile();
  });
  for (const type of ["dragenter", "dragover"]) {
    drop.addEventListener(type, (event) => {
      event.preventDefault();
      drop.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) drop.addEventListener(type, () => drop.classList.remove("dragging"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    if (!event.dataTransfer?.files?.length) return;
    input.files = event.dataTransfer.files;
    showError("");
    showFile();
    submit.focus();
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showError("");
    part("status").textContent = "";
    const file = input.files[0];
    if (!file) {
      showError("Choose a file first (or drop one in the box).");
      input.focus();
      return;
    }
    if ((restore || EXPORT_NAME.test(file.name)) && dialog && !(await confirmRestore(dialog, file.name))) {
      part("status").textContent = "Nothing was changed.";
      return;
    }
    const body = new FormData();
    body.append("file", file, file.name);
    let extra;
    try {
      extra = fields();
    } catch (error) {
      showError(error.message);
      return;
    }
    for (const [key, value] of Object.entries(extra)) if (value !== null && value !== "") body.append(key, value);
    const bar = form.querySelector("progress");
    bar.value = 0;
    part("progress-text").textContent = "";
    part("progress").hidden = false;
    submit.disabled = true;
    reportBox.hidden = true;
    try {
      const job = await upload("/imports?background=true", body, {
        onProgress: (sent, total) => {
          if (total) bar.value = (100 * sent) / total;
          part("progress-text").textContent = progressText(sent, total);
        },
        onSent: () => {
          bar.value = 100;
          part("progress-text").textContent = "Sent; the server is reading the file…";
        },
      });
      const report = await followJob(job, (now) => {
        bar.value = now.percent;
        part("progress-text").textContent = jobText(now);
      });
      part("progress").hidden = true;
      part("status").textContent = restore ? "Restored." : "Imported.";
      renderReport(reportBox, report, profile.timezone);
      reportBox.querySelector("h3").focus();
      submit.disabled = false; // another file may go while this one's sessions are being found
      onDone?.(report);
      await showSessions(reportBox, report, profile.timezone);
    } catch (error) {
      part("progress").hidden = true;
      showError(error instanceof ImportJobFailed ? error.message : describeError(error));
    } finally {
      submit.disabled = false;
    }
  });
  showFile();
}
