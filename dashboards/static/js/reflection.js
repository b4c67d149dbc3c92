// The reflection form: what went well, what did not, and lessons each with its own "next time" box.
// The API stores lessons as {lesson, next_time} (service/api/interviews.py, Lesson); no "→" convention.
import { api } from "./api.js";
import { $, el, replaceChildren } from "./dom.js";
import { clearProblems, lines, showApiError, showProblems } from "./journal.js";

let rowCount = 0;

function renumber() {
  const rows = [...document.querySelectorAll("#lesson-list .lesson-row")];
  rows.forEach((row, i) => {
    const n = i + 1;
    row.querySelector("[data-part=lesson-label]").textContent = `Lesson ${n}`;
    row.querySelector("[data-part=next-label]").textContent = `Next time, for lesson ${n}`;
    row.querySelector("[data-part=remove]").setAttribute("aria-label", `Remove lesson ${n}`);
  });
}

function lessonRow({ lesson = "", next_time: nextTime = "" } = {}) {
  rowCount += 1;
  const id = `lesson-${rowCount}`;
  const lessonBox = el("textarea", { id, name: `${id}-lesson`, rows: 2, maxlength: 2000, "data-part": "lesson" });
  const nextBox = el("textarea", { id: `${id}-next`, name: `${id}-next`, rows: 2, maxlength: 2000, "data-part": "next",
    placeholder: "What you will do differently" });
  lessonBox.value = lesson;
  nextBox.value = nextTime || "";
  const remove = el("button", { type: "button", class: "button small", "data-part": "remove" }, "Remove");
  const row = el("li", { class: "lesson-row" },
    el("div", { class: "field" }, el("label", { for: id, "data-part": "lesson-label" }), lessonBox),
    el("div", { class: "field" }, el("label", { for: `${id}-next`, "data-part": "next-label" }), nextBox),
    el("div", { class: "lesson-remove" }, remove));
  remove.addEventListener("click", () => {
    const list = $("#lesson-list");
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    if (!list.children.length) list.append(lessonRow());
    renumber();
    (next || list.firstElementChild)?.querySelector("textarea")?.focus();
  });
  return row;
}

function fillLessons(lessons) {
  replaceChildren($("#lesson-list"), (lessons.length ? lessons : [{}]).map((l) => lessonRow(typeof l === "string" ? { lesson: l } : l)));
  renumber();
}

export function fillReflection(r) {
  $("#went_well").value = (r?.went_well || []).join("\n");
  $("#went_poorly").value = (r?.went_poorly || []).join("\n");
  fillLessons(r?.lessons || []);
  $("#outsider_view").value = r?.outsider_view || "";
  $("#moved_on").checked = Boolean(r?.moved_on);
}

/** The body for PUT …/reflection, or the problems to show first. */
function readReflection() {
  const problems = {};
  const lessons = [];
  for (const row of document.querySelectorAll("#lesson-list .lesson-row")) {
    const lesson = row.querySelector("[data-part=lesson]").value.trim();
    const nextTime = row.querySelector("[data-part=next]").value.trim();
    if (!lesson && nextTime) problems[row.querySelector("[data-part=lesson]").name] = "Write the lesson this plan for next time belongs to.";
    if (lesson) lessons.push(nextTime ? { lesson, next_time: nextTime } : { lesson });
  }
  const body = { went_well: lines($("#went_well").value), went_poorly: lines($("#went_poorly").value), lessons, moved_on: $("#moved_on").checked };
  const outsider = $("#outsider_view").value.trim();
  body.outsider_view = outsider || null;
  return { body, problems };
}

const MESSAGES = {
  went_well: "Each line can be up to 2,000 characters, and up to 100 lines.",
  went_poorly: "Each line can be up to 2,000 characters, and up to 100 lines.",
  lessons: "Each lesson and each plan can be up to 2,000 characters, and up to 100 lessons.",
  outsider_view: "This is too long (up to 20,000 characters).",
};

export function wireReflection(id, { onSaved }) {
  const form = $("#reflection-form");
  $("#add-lesson").addEventListener("click", () => {
    const row = lessonRow();
    $("#lesson-list").append(row);
    renumber();
    row.querySelector("textarea").focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearProblems(form);
    $("#reflection-status").textContent = "";
    const { body, problems } = readReflection();
    if (Object.keys(problems).length) {
      showProblems(form, problems);
      return;
    }
    try {
      fillReflection(await api(`/interviews/${id}/reflection`, { method: "PUT", json: body }));
      $("#reflection-status").textContent = "Reflection saved. That took courage.";
      await onSaved();
    } catch (error) {
      showApiError(form, error, { messages: MESSAGES });
    }
  });
}
