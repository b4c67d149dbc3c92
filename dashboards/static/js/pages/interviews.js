import { apiAll } from "../api.js";
import { localInput, readTime, recordList } from "../journal.js";
import { signedInPage } from "../shell.js";
import { formatDateTime } from "../time.js";
import { $, el, showNotice } from "../dom.js";

const newestFirst = (a, b) => Date.parse(b.at) - Date.parse(a.at) || b.id - a.id;

function interviewRecords(tz) {
  let records;
  const reload = async () => records.show((await apiAll("/interviews")).sort(newestFirst));
  const outcome = $("#outcome");
  records = recordList({
    form: $("#interview-form"),
    list: $("#timeline"),
    status: $("#interview-status"),
    path: "/interviews",
    itemPath: (i) => `/interviews/${i.id}`,
    empty: "No interviews logged. When you log one, a recovery plan opens for it.",
    label: (i) => `the interview for ${i.role} at ${i.company}`,
    deleteDetail: () => "Its reflection, lessons and feedback go with it. Practice sessions and applications stay in your journal.",
    fill(i) {
      $("#company").value = i?.company || "";
      $("#role").value = i?.role || "";
      $("#at").value = i ? localInput(i.at, tz) : "";
      $("#stage").value = i?.stage || "";
      if (i?.outcome && ![...outcome.options].some((o) => o.value === i.outcome)) {
        outcome.append(el("option", { value: i.outcome }, i.outcome));
      }
      outcome.value = i?.outcome || "";
      $("#interview-form-heading").textContent = i ? "Edit the interview" : "Log an interview";
    },
    read() {
      const body = {
        company: $("#company").value.trim(), role: $("#role").value.trim(), at: readTime($("#at").value, tz),
        stage: $("#stage").value.trim() || null, outcome: outcome.value || null,
      };
      const problems = {};
      if (!body.company) problems.company = "Please give the company.";
      if (!body.role) problems.role = "Please give the role.";
      if (!body.at) problems.at = "Please say when it was (or will be).";
      return { body, problems };
    },
    messages: {
      company: "The company name can be up to 200 characters.",
      role: "The role can be up to 200 characters.",
      at: "Please pick a valid date and time.",
      stage: "The stage can be up to 100 characters.",
      outcome: "Please pick how it went from the list.",
    },
    render: (i) => el("p", { class: "record-title timeline-item" },
      el("time", { datetime: i.at }, formatDateTime(i.at, tz)),
      el("a", { href: `/dashboard/interviews/${i.id}` }, `${i.role} at ${i.company}`),
      i.stage ? el("span", { class: "tag" }, i.stage) : null,
      i.outcome ? el("span", { class: "tag" }, i.outcome) : null),
    onSaved: (saved, edited) => {
      if (edited) return false;
      location.assign(`/dashboard/interviews/${saved.id}`);
      return true;
    },
    onChange: reload,
  });
  return { reload };
}

signedInPage(async (profile) => {
  if (new URLSearchParams(location.search).has("deleted")) showNotice("The interview was deleted.");
  await interviewRecords(profile.timezone).reload();
});
