// The SVG ring of heartbeat-up minutes toward the daily target.
import { $ } from "./dom.js";

const CIRCUMFERENCE = 2 * Math.PI * 52;

const ENCOURAGEMENT = [
  [0, "Let's get moving when you are ready."],
  [0.01, "Good start. Every minute counts."],
  [0.25, "A quarter of the way there."],
  [0.5, "Halfway. Keep it going."],
  [0.75, "Nearly there."],
  [1, "Target met today. Well done!"],
];

/** `counting`: the server still has samples of the day to count, so the number may grow (never a false 0). */
export function renderRing(minutes, target, counting = false) {
  const safeTarget = target > 0 ? target : 60;
  const done = Math.max(0, Math.round(minutes || 0));
  const share = Math.min(done / safeTarget, 1);
  $("#ring-fill").setAttribute("stroke-dasharray", `${(share * CIRCUMFERENCE).toFixed(2)} ${CIRCUMFERENCE.toFixed(2)}`);
  $("#ring-fill").classList.toggle("empty", share === 0);
  $("#ring-minutes").textContent = String(done);
  $("#ring-target").textContent = String(safeTarget);
  $("#ring-label").textContent = `${done} of ${safeTarget} heartbeat-up minutes`;
  const met = done >= safeTarget;
  $("#ring").classList.toggle("met", met);
  $("#ring").dataset.minutes = String(done);
  $("#ring").dataset.met = String(met);
  const message = ENCOURAGEMENT.filter(([at]) => share >= at).pop()[1];
  $("#ring").dataset.counting = String(counting);
  $("#ring-status").textContent = counting ? "Counting your latest minutes…" : met ? ENCOURAGEMENT.at(-1)[1] : message;
}
