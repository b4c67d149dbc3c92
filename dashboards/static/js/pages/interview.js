import { ApiError, api, apiAll, apiOptional } from "../api.js";
import { loadStress } from "../interview-stress.js";
import { clearProblems, confirmDelete, isFuture, localInput, nowInput, readTime, recordList, showApiError, showProblems } from "../journal.js";
import { applicationRecords, practiceRecords } from "../records.js";
import { fillReflection, wireReflection } from "../reflection.js";
import { itemId, signedInPage } from "../shell.js";
import { formatDateTime } from "../time.js";
import { $, el, replaceChildren } from "../dom.js";

const STEP_LABELS = {
  reflect: "Reflect: what went well, then what did not",
  learn: "Learn: lessons and how to handle them next time",
  move_on: "Move on",
  get_feedback: "Get feedback",
  practise: "Practise your responses",
  dont_stop: "Don't stop: keep applying",
  exercise: "Exercise: your daily heartbeat-up hour",
};

// Where on the page (or off it) each step is done: [target, link text to do it, link text once done].
const STEP_ACTIONS = {
  reflect: ["#reflection", "Write the reflection", "Review the reflection"],
  learn: ["#lessons", "Write lessons", "Review lessons"],
  move_on: ["#moved_on", "Mark it moved on", "Review"],
  get_feedback: ["#feedback", "Log feedback", "Review feedback"],
  practise: ["#practice", "Log practice", "Practise again"],
  dont_stop: ["#applications", "Log an application", "Log another"],
  exercise: ["/dashboard", "See today's minutes", "See today's minutes"],
};

const state = { id: null, tz: "UTC", interview: null, lists: [] };

function stepAction(step, done) {
  const action = STEP_ACTIONS[step];
  if (!action) return null;
  const [href, todo, review] = action;
  const link = el("a", { class: "plan-action", href }, done ? review : todo);
  if (href.startsWith("#")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      const target = $(href);
      target.scrollIntoView({ block: "start" });
      (target.matches("input, textarea, section") ? target : target.querySelector("textarea, input"))?.focus({ preventScroll: true });
    });
  }
  return link;
}

async function loadPlan() {
  const plan = await apiOptional(`/interviews/${state.id}/recovery-plan`);
  const steps = plan?.steps || [];
  if (!steps.length) {
    replaceChildren($("#plan"), el("li", { class: "muted" }, "The plan's progress will show here."));
    $("#plan-progress").textContent = "";
    return;
  }
  const done = steps.filter((s) => s.done).length;
  $("#plan-progress").textContent = `${done} of ${steps.length} steps done.`;
  replaceChildren($("#plan"), steps.map((s) => el("li", { class: s.done ? "plan-step done" : "plan-step", "data-step": s.step },
    el("span", { class: "plan-mark", "aria-hidden": "true" }, s.done ? "✓" : ""),
    el("span", { class: "plan-body" },
      el("strong", {}, STEP_LABELS[s.step] || s.title || String(s.step).replaceAll("_", " ")),
      el("span", { class: "visually-hidden" }, s.done ? " (done)" : " (to do)"),
      s.evidence?.summary ? el("span", { class: "plan-evidence muted" }, s.evidence.summary) : null),
    stepAction(s.step, s.done))));
}

function showSummary(interview) {
  document.querySelector("h1").textContent = `${interview.role} at ${interview.company}`;
  document.title = `${interview.company} · Chin Up`;
  const parts = [formatDateTime(interview.at, state.tz), interview.stage, interview.outcome].filter(Boolean);
  $("#interview-summary").textContent = parts.join(" · ");
}

function showMissing() {
  $("#interview-live").remove();
  $("#delete-confirm").remove();
  $("#interview-missing").hidden = false;
  document.querySelector("h1").textContent = "Interview not found";
  document.title = "Not found · Chin Up";
}

/** Feedback of this interview: asked for, received, what was said. */
function feedbackRecords() {
  const tz = state.tz;
  const when = (iso) => formatDateTime(iso, tz);
  let records;
  const reload = async () => records.show((await apiAll(`/interviews/${state.id}/feedback`)).reverse());
  records = recordList({
    form: $("#feedback-form"),
    list: $("#feedback-list"),
    status: $("#feedback-status"),
    path: `/interviews/${state.id}/feedback`,
    itemPath: (f) => `/interviews/${state.id}/feedback/${f.id}`,
    empty: "No feedback logged yet. A short, polite email asking what you could do better is enough.",
    label: (f) => (f.received_at ? `the feedback received ${when(f.received_at)}`
      : f.requested_at ? `the feedback request of ${when(f.requested_at)}` : "this feedback"),
    fill(f) {
      $("#feedback-requested").value = f ? (f.requested_at ? localInput(f.requested_at, tz) : "") : nowInput(tz);
      $("#feedback-received").value = f?.received_at ? localInput(f.received_at, tz) : "";
      $("#feedback-notes").value = f?.notes || "";
    },
    read() {
      const requested = readTime($("#feedback-requested").value, tz);
      const received = readTime($("#feedback-received").value, tz);
      const notes = $("#feedback-notes").value.trim() || null;
      const problems = {};
      if (isFuture(requested)) problems.requested_at = "That time is still to come; pick when you asked.";
      if (isFuture(received)) problems.received_at = "That time is still to come; pick when it arrived.";
      if (requested && received && Date.parse(received) < Date.parse(requested)) {
        problems.received_at = "The reply cannot arrive before you asked; check the two times.";
      }
      if (!requested && !received && !notes) problems.requested_at = "Say when you asked, when it arrived, or what they said.";
      return { problems, body: { requested_at: requested, received_at: received, notes } };
    },
    messages: {
      requested_at: "Please pick a valid date and time.",
      received_at: "Please pick a valid date and time, after you asked.",
      notes: "The notes are too long (up to 20,000 characters).",
    },
    general: "The reply cannot arrive before you asked; check the two times.",
    render: (f) => [
      el("p", { class: "record-title" },
        el("span", { class: f.received_at ? "tag good" : "tag" }, f.received_at ? "Received" : "Asked, waiting")),
      el("p", { class: "record-meta muted" }, ...[
        f.requested_at ? ["Asked ", el("time", { datetime: f.requested_at }, when(f.requested_at))] : [],
        f.requested_at && f.received_at ? [" · "] : [],
        f.received_at ? ["Received ", el("time", { datetime: f.received_at }, when(f.received_at))] : [],
      ].flat()),
      f.notes ? el("p", { class: "record-notes" }, f.notes) : null,
    ],
    onChange: async () => {
      await reload();
      await loadPlan();
    },
  });
  return { reload };
}

function fillEdit(interview) {
  $("#edit-company").value = interview.company;
  $("#edit-role").value = interview.role;
  $("#edit-at").value = localInput(interview.at, state.tz);
  $("#edit-stage").value = interview.stage || "";
  const outcome = $("#edit-outcome");
  if (interview.outcome && ![...outcome.options].some((o) => o.value === interview.outcome)) {
    outcome.append(el("option", { value: interview.outcome }, interview.outcome));
  }
  outcome.value = interview.outcome || "";
}

function toggleEdit(open) {
  const section = $("#interview-edit");
  section.hidden = !open;
  $("#edit-interview").setAttribute("aria-expanded", String(open));
  if (open) {
    fillEdit(state.interview);
    clearProblems($("#interview-edit-form"));
    $("#edit-company").focus();
  } else $("#edit-interview").focus();
}

function wireDetails() {
  const form = $("#interview-edit-form");
  $("#edit-interview").addEventListener("click", () => toggleEdit($("#interview-edit").hidden));
  form.querySelector("[data-action=cancel]").addEventListener("click", () => toggleEdit(false));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      company: $("#edit-company").value.trim(), role: $("#edit-role").value.trim(), at: readTime($("#edit-at").value, state.tz),
      stage: $("#edit-stage").value.trim() || null, outcome: $("#edit-outcome").value || null,
    };
    const problems = {};
    if (!body.company) problems.company = "Please give the company.";
    if (!body.role) problems.role = "Please give the role.";
    if (!body.at) problems.at = "Please say when it was.";
    if (Object.keys(problems).length) return showProblems(form, problems);
    try {
      state.interview = await api(`/interviews/${state.id}`, { method: "PATCH", json: body });
      showSummary(state.interview);
      toggleEdit(false);
      $("#interview-status").textContent = "Interview details saved.";
      await Promise.all([loadPlan(), loadStress(state.id, state.interview.at, state.tz), ...state.lists.map((l) => l.reload())]);
    } catch (error) {
      showApiError(form, error, { messages: {
        company: "The company name can be up to 200 characters.", role: "The role can be up to 200 characters.",
        at: "Please pick a valid date and time.", stage: "The stage can be up to 100 characters.",
      } });
    }
  });
  $("#delete-interview").addEventListener("click", async () => {
    const { company, role } = state.interview;
    const ok = await confirmDelete(`Delete the interview for ${role} at ${company}?`,
      "Its reflection, lessons and feedback go with it. Practice sessions and applications stay in your journal.");
    if (!ok) return;
    try {
      await api(`/interviews/${state.id}`, { method: "DELETE" });
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) {
        $("#interview-status").textContent = "The interview could not be deleted. Please try again.";
        return;
      }
    }
    location.assign("/dashboard/interviews?deleted=1");
  });
}

signedInPage(async (profile) => {
  state.id = itemId();
  state.tz = profile.timezone;
  const interview = await apiOptional(`/interviews/${state.id}`);
  if (!interview) {
    showMissing();
    return;
  }
  state.interview = interview;
  showSummary(interview);
  wireDetails();
  wireReflection(state.id, { onSaved: loadPlan });
  fillReflection(interview.reflection);
  const from = () => state.interview.at; // the lists follow an edited interview time
  const lists = [
    feedbackRecords(),
    practiceRecords({ tz: state.tz, from, onChange: loadPlan }),
    applicationRecords({ tz: state.tz, from, onChange: loadPlan }),
  ];
  state.lists = lists;
  await Promise.all([loadPlan(), loadStress(state.id, interview.at, state.tz), ...lists.map((l) => l.reload())]);
});
