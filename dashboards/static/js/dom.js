// Small helpers to build DOM safely (textContent only: nothing from the API is parsed as HTML).

export const $ = (selector, root = document) => root.querySelector(selector);

/** el("li", {class: "x"}, "text", child) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function replaceChildren(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

export function setText(selector, text) {
  const node = typeof selector === "string" ? $(selector) : selector;
  if (node) node.textContent = text;
}

/** A <dt>/<dd> pair list for a <dl class="facts">. */
export function facts(dl, pairs) {
  replaceChildren(dl, pairs.filter(([, v]) => v !== null && v !== undefined).map(([term, value]) =>
    el("div", {}, el("dt", {}, term), el("dd", {}, value))));
}

export function showNotice(text) {
  const notice = $("#notice");
  if (!notice) return;
  notice.textContent = text;
  notice.hidden = !text;
}

export function showFormError(form, text) {
  const box = form.querySelector(".form-error");
  if (!box) return;
  box.textContent = text || "";
  box.hidden = !text;
}

export const round = (value, digits = 0) =>
  value === null || value === undefined || Number.isNaN(value) ? null : Number(value.toFixed(digits));

export const orDash = (value, unit = "") => (value === null || value === undefined ? "–" : `${value}${unit}`);
