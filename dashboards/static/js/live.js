// The user's live stream (server-sent events). EventSource cannot send headers, so the token rides
// in the query string; on an error we close and reconnect with a growing delay.
import { getToken } from "./api.js";

const EVENTS = ["heart_rate", "minutes", "target_met", "strap", "nudge"];
const MAX_DELAY_MS = 15000;

/** Subscribe; `handlers` maps event names to callbacks, `onState` hears "open" / "retrying". Returns stop(). */
export function connectLive(handlers, onState = () => {}) {
  let source = null;
  let delayMs = 1000;
  let timer = null;
  let stopped = false;

  const open = () => {
    const token = getToken();
    if (stopped || !token) return;
    source = new EventSource(`/api/v1/live?access_token=${encodeURIComponent(token)}`);
    source.addEventListener("open", () => {
      delayMs = 1000;
      onState("open");
    });
    for (const name of EVENTS) {
      source.addEventListener(name, (event) => {
        let data;
        try {
          data = JSON.parse(event.data);
        } catch {
          return;
        }
        handlers[name]?.(data);
      });
    }
    source.addEventListener("error", () => {
      source.close();
      onState("retrying");
      if (!stopped) {
        timer = setTimeout(open, delayMs);
        delayMs = Math.min(delayMs * 2, MAX_DELAY_MS);
      }
    });
  };

  open();
  window.addEventListener("pagehide", () => stop());
  function stop() {
    stopped = true;
    clearTimeout(timer);
    source?.close();
  }
  return stop;
}
