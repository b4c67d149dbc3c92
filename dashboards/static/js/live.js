// The user's live stream (server-sent events). EventSource cannot send headers, and a URL reaches proxy
// logs, so each connection asks for a short-lived single-use ticket (POST /live/ticket, with the bearer
// header) and puts that in the URL, never the token. On an error we close and reconnect with a growing
// delay and a fresh ticket; the server ends the stream ("closed") once the token is revoked or expires.
import { api, getToken } from "./api.js";

const EVENTS = ["heart_rate", "minutes", "target_met", "strap", "nudge"];
const MAX_DELAY_MS = 15000;

/** Subscribe; `handlers` maps event names to callbacks, `onState` hears "open" / "retrying". Returns stop(). */
export function connectLive(handlers, onState = () => {}) {
  let source = null;
  let delayMs = 1000;
  let timer = null;
  let stopped = false;

  const retry = () => {
    onState("retrying");
    if (!stopped) {
      timer = setTimeout(open, delayMs);
      delayMs = Math.min(delayMs * 2, MAX_DELAY_MS);
    }
  };

  const open = async () => {
    if (stopped || !getToken()) return;
    let ticket;
    try {
      ({ ticket } = await api("/live/ticket", { method: "POST" })); // a 401 sends us to the log-in page
    } catch {
      retry();
      return;
    }
    if (stopped) return;
    const es = new EventSource(`/api/v1/live?ticket=${encodeURIComponent(ticket)}`);
    source = es;
    es.addEventListener("open", () => {
      delayMs = 1000;
      onState("open");
    });
    for (const name of EVENTS) {
      es.addEventListener(name, (event) => {
        let data;
        try {
          data = JSON.parse(event.data);
        } catch {
          return;
        }
        handlers[name]?.(data);
      });
    }
    const reconnect = () => {
      es.close();
      retry();
    };
    es.addEventListener("closed", reconnect); // token revoked or expired: the next ticket request tells
    es.addEventListener("error", reconnect);
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
