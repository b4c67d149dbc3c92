// Moves the Record page's queue (record-queue.js) to the server in batches, with the phone device's own
// upload token. The service is idempotent on (device, t), so a batch whose answer was lost is simply sent
// again; only what the server acknowledged leaves the queue. Offline, on 503 or any other failure the
// loop backs off (1 s doubling to 30 s, with jitter; Retry-After honoured) and tries again; coming back
// online retries at once. A reload starts a new loop on the same queue: nothing is lost or sent twice.
export const BATCH_SIZE = 500;
export const IDLE_MS = 1000; // how long an empty queue waits before it looks again (a new sample wakes it)
export const FIRST_BACKOFF_MS = 1000;
export const MAX_BACKOFF_MS = 30000;
const JITTER = 0.2;

/** The wait before retry number `attempt` (1-based): pure, so the policy is testable without a network. */
export function backoffMs(attempt, retryAfterS = null, random = Math.random) {
  const base = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.max(0, attempt - 1));
  const jittered = base * (1 - JITTER + 2 * JITTER * random());
  const asked = retryAfterS !== null && Number.isFinite(retryAfterS) ? retryAfterS * 1000 : 0;
  return Math.round(Math.min(MAX_BACKOFF_MS, Math.max(jittered, asked)));
}

class Failed extends Error {
  constructor(status, detail, retryAfterS = null) {
    super(detail || `upload failed (${status})`);
    this.status = status;
    this.retryAfterS = retryAfterS;
  }
}

/**
 * The upload loop. `ensureDevice()` resolves to {id, upload_token} (creating the phone device on first
 * use) or throws; `onChange({state, uploaded, rejected, error})` hears every step, for the page to show.
 */
export class Uploader {
  constructor({ queue, ensureDevice, forgetDevice, onChange = () => {} }) {
    this.queue = queue;
    this.ensureDevice = ensureDevice;
    this.forgetDevice = forgetDevice;
    this.onChange = onChange;
    this.attempt = 0;
    this.batchSize = BATCH_SIZE;
    this.rejected = 0;
    this.stopped = false;
    this.wake = null; // resolves the current wait early
    this.idle = false;
    addEventListener("online", () => this.poke(true));
  }

  /** New data: wake an idle loop (a loop backing off keeps waiting; `online` cuts that short). */
  kick() {
    if (this.idle) this.poke(false);
  }

  poke(resetBackoff) {
    if (resetBackoff) this.attempt = 0;
    this.wake?.();
  }

  sleep(ms) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async run() {
    while (!this.stopped) {
      const batch = await this.queue.peek(this.batchSize);
      if (!batch.length) {
        this.idle = true;
        this.onChange({ state: "up to date" });
        await this.sleep(IDLE_MS);
        this.idle = false;
        continue;
      }
      try {
        await this.send(batch);
        this.attempt = 0;
      } catch (error) {
        await this.failed(batch, error);
      }
    }
  }

  async send(batch) {
    this.onChange({ state: "uploading" });
    const device = await this.ensureDevice();
    let response;
    try {
      response = await fetch(`/api/v1/devices/${device.id}/samples`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          Authorization: `Bearer ${device.upload_token}`,
        },
        body: JSON.stringify({ samples: batch }),
      });
    } catch {
      throw new Failed(0, "offline or the server is out of reach");
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      const retryAfter = Number(response.headers.get("Retry-After"));
      throw new Failed(response.status, body && body.detail, Number.isFinite(retryAfter) ? retryAfter : null);
    }
    // A 200 acknowledges the whole batch: accepted, already stored (duplicates) or refused for good.
    const rejected = (body.rejected || []).length;
    this.rejected += rejected;
    await this.queue.acknowledge(batch.map((s) => s.t), batch.length - rejected);
    this.batchSize = BATCH_SIZE;
    this.onChange({ state: "uploaded", rejected: this.rejected });
  }

  async failed(batch, error) {
    const status = error.status ?? 0;
    if (status === 401 || status === 403 || status === 404) {
      // The upload token was revoked or the device deleted: mint a new phone device at the next try.
      await this.forgetDevice();
    } else if (status === 413 || status === 422 || status === 400) {
      if (batch.length === 1) {
        // One sample the server can never take: count it and let the rest through.
        this.rejected += 1;
        await this.queue.acknowledge([batch[0].t], 0);
        return;
      }
      this.batchSize = Math.max(1, Math.floor(batch.length / 2));
      return;
    }
    this.attempt += 1;
    const wait = backoffMs(this.attempt, error.retryAfterS ?? null);
    this.onChange({ state: "waiting", error: error.message, retryInMs: wait, status });
    await this.sleep(wait);
  }
}
