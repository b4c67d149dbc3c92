// The Record page's retry policy (record-upload.js) is a pure function of the attempt and the server's
// Retry-After, so it is tested here without a network.
import { test } from "node:test";
import assert from "node:assert/strict";

import { FIRST_BACKOFF_MS, MAX_BACKOFF_MS, backoffMs } from "../../dashboards/static/js/record-upload.js";

test("the wait doubles from 1 s and stops at 30 s, within the jitter", () => {
  const middle = () => 0.5; // no jitter
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffMs(n, null, middle)),
    [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  for (let attempt = 1; attempt < 12; attempt++) {
    for (const r of [0, 0.999]) {
      const wait = backoffMs(attempt, null, () => r);
      assert.ok(wait >= FIRST_BACKOFF_MS * 0.8 && wait <= MAX_BACKOFF_MS, `${attempt}: ${wait}`);
    }
  }
});

test("a 503's Retry-After is honoured, never beyond the longest wait", () => {
  assert.equal(backoffMs(1, 7, () => 0.5), 7000);
  assert.equal(backoffMs(1, 600, () => 0.5), MAX_BACKOFF_MS);
  assert.equal(backoffMs(3, 1, () => 0.5), 4000);
  assert.equal(backoffMs(1, Number.NaN, () => 0.5), 1000);
});
