// Practice sessions and applications: the same lists and forms on an interview's page (those since it)
// and on the Journal page (all of them). The forms are the partials _practice_card.html and
// _applications_card.html. A practice session's timer, heart figures and arousal chart and an application's
// status history live in practice-heart.js.
import { apiAll } from "./api.js";
import { formatDateTime } from "./time.js";
import { $, el } from "./dom.js";
import { isFuture, lines, liveOutput, localInput, nowInput, readTime, recordList } from "./journal.js";
import { drawArousal, heartLines, practiceTimer, statusControls } from "./practice-heart.js";

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
const newestFirst = (key) => (a, b) => Date.parse(b[key]) - Date.parse(a[key]) || b.id - a.id;
const query = (from) => (from ? `?from=${encodeURIComponent(from)}` : "");
const valueOf = (from) => (typeof from === "function" ? from() : from);

/** The practice list and form; `from` (a time, or a function giving it) limits the list to sessions at or after it.
 * Where the card holds the arousal chart (the Journal page), the timed sessions are compared there. */
export function practiceRecords({ tz, from = null, chart = $("#practice-arousal-chart"), onChange = async () => {} }) {
  const form = $("#practice-form");
  const syncRating = liveOutput($("#practice-rating"), $("#practice-rating-out"));
  const timer = practiceTimer({ tz, say: (text) => { $("#practice-status").textContent = text; } });
  let records;
  const reload = async () => {
    const items = await apiAll(`/practice${query(valueOf(from))}`);
    records.show(items.sort(newestFirst("at")));
    if (chart) drawArousal(chart, items, tz);
  };
  records = recordList({
    form,
    list: $("#practice-list"),
    status: $("#practice-status"),
    path: "/practice",
    itemPath: (p) => `/practice/${p.id}`,
    empty: from ? "No practice since this interview yet. Saying answers out loud, even once, helps."
      : "No practice sessions logged yet.",
    label: (p) => `the practice session of ${formatDateTime(p.at, tz)}`,
    fill(p) {
      $("#practice-at").value = p ? localInput(p.at, tz) : nowInput(tz);
      $("#practice-at").max = nowInput(tz);
      $("#practice-questions").value = p ? p.questions.join("\n") : "";
      $("#practice-rating").value = p ? String(p.self_rating) : "5";
      $("#practice-notes").value = p?.notes || "";
      timer.fill(p);
      syncRating();
    },
    read() {
      const at = readTime($("#practice-at").value, tz);
      const questions = lines($("#practice-questions").value);
      const problems = {};
      if (!at) problems.at = "Please say when you practised.";
      else if (isFuture(at)) problems.at = "That time is still to come; pick when you practised.";
      else if (from && Date.parse(at) < Date.parse(valueOf(from))) {
        problems.at = "That is before the interview; this list holds practice since then (the Journal page holds all of it).";
      }
      if (!questions.length) problems.questions = "Write at least one question you practised, one a line.";
      const span = timer.read();
      Object.assign(problems, span.problems);
      const notes = $("#practice-notes").value.trim();
      return {
        problems,
        body: { at, questions, self_rating: Number($("#practice-rating").value), notes: notes || null, ...span.span },
      };
    },
    messages: {
      at: "Please pick a date and time that has already passed.",
      questions: "Each question can be up to 500 characters, and up to 50 questions a session.",
      self_rating: "Rate the session from 1 to 10.",
      notes: "The notes are too long (up to 20,000 characters).",
      started_at: "Please pick a start that has already passed, or leave both start and end empty.",
      ended_at: "The end must come after the start, at most 6 hours later, and not in the future.",
    },
    general: "Something in the form could not be saved. Check the times: give both a start and an end (at most 6 hours apart), or neither.",
    render: (p) => [
      el("p", { class: "record-title" }, el("time", { datetime: p.at }, formatDateTime(p.at, tz)),
        el("span", { class: "tag" }, `rated ${p.self_rating} of 10`)),
      el("p", { class: "record-meta muted" }, plural(p.questions.length, "question")),
      el("ul", { class: "record-lines" }, p.questions.map((q) => el("li", {}, q))),
      p.notes ? el("p", { class: "record-notes" }, p.notes) : null,
      ...heartLines(p, tz),
    ],
    onChange: async () => {
      await reload();
      await onChange();
    },
  });
  return { reload };
}

/** The applications list and form; `from` as for practice. */
export function applicationRecords({ tz, from = null, onChange = async () => {} }) {
  let records;
  const reload = async () => {
    const items = await apiAll(`/applications${query(valueOf(from))}`);
    records.show(items.sort(newestFirst("applied_at")));
  };
  records = recordList({
    form: $("#application-form"),
    list: $("#application-list"),
    status: $("#application-status"),
    path: "/applications",
    itemPath: (a) => `/applications/${a.id}`,
    empty: from ? "No applications since this interview yet. One more is a step forward, whatever happens."
      : "No applications logged yet.",
    label: (a) => `the application to ${a.company} (${a.role})`,
    fill(a) {
      $("#application-company").value = a?.company || "";
      $("#application-role").value = a?.role || "";
      $("#application-at").value = a ? localInput(a.applied_at, tz) : nowInput(tz);
      $("#application-at").max = nowInput(tz);
      $("#application-state").value = a?.status || "";
    },
    read() {
      const company = $("#application-company").value.trim();
      const role = $("#application-role").value.trim();
      const appliedAt = readTime($("#application-at").value, tz);
      const problems = {};
      if (!company) problems.company = "Please give the company you applied to.";
      if (!role) problems.role = "Please give the role.";
      if (!appliedAt) problems.applied_at = "Please say when you applied.";
      else if (isFuture(appliedAt)) problems.applied_at = "That time is still to come; pick when you applied.";
      else if (from && Date.parse(appliedAt) < Date.parse(valueOf(from))) {
        problems.applied_at = "That is before the interview; this list holds applications since then (the Journal page holds all of them).";
      }
      const state = $("#application-state").value.trim();
      return { problems, body: { company, role, applied_at: appliedAt, status: state || null } };
    },
    messages: {
      company: "The company name can be up to 200 characters.",
      role: "The role can be up to 200 characters.",
      applied_at: "Please pick a date and time that has already passed.",
      status: "The status can be up to 100 characters.",
    },
    render: (a) => [
      el("p", { class: "record-title" }, el("strong", {}, `${a.role} at ${a.company}`),
        a.status ? el("span", { class: "tag" }, a.status) : null),
      el("p", { class: "record-meta muted" }, "Applied ", el("time", { datetime: a.applied_at }, formatDateTime(a.applied_at, tz))),
      ...statusControls(a, tz, {
        say: (text) => { $("#application-status").textContent = text; },
        onSaved: async () => {
          await reload();
          await onChange();
        },
      }),
    ],
    onChange: async () => {
      await reload();
      await onChange();
    },
  });
  return { reload };
}
