import { api, describeError } from "../api.js";
import { signedInPage } from "../shell.js";
import { formatDateTime } from "../time.js";
import { $, el, replaceChildren, showFormError } from "../dom.js";

let profile = null;

async function loadTimeline() {
  const interviews = await api("/interviews");
  const list = $("#timeline");
  if (!interviews.length) {
    replaceChildren(list, el("li", { class: "muted" }, "No interviews logged. When you log one, a recovery plan opens for it."));
    return;
  }
  const newest = [...interviews].sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
  replaceChildren(list, newest.map((i) => el("li", { class: "timeline-item" },
    el("time", { datetime: i.at }, formatDateTime(i.at, profile.timezone)),
    el("a", { href: `/dashboard/interviews/${i.id}` }, `${i.role} at ${i.company}`),
    i.outcome ? el("span", { class: "tag" }, i.outcome) : null)));
}

function wireForm() {
  const form = $("#interview-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    showFormError(form, "");
    const at = $("#at").value;
    const body = { company: $("#company").value.trim(), role: $("#role").value.trim(), at: at ? new Date(at).toISOString() : "" };
    if (!body.company || !body.role || !at) {
      showFormError(form, "Please give the company, the role and when it was.");
      return;
    }
    if ($("#outcome").value) body.outcome = $("#outcome").value;
    try {
      const created = await api("/interviews", { method: "POST", json: body });
      location.assign(`/dashboard/interviews/${created.id}`);
    } catch (error) {
      showFormError(form, describeError(error));
    }
  });
}

signedInPage(async (p) => {
  profile = p;
  wireForm();
  await loadTimeline();
});
