// The JavaScript HRS decoder against the shared vectors the Python codec and Bumble's encoder produced
// (tests/devices/test_hrs_vectors.py): same values, same refusals, so the two can never drift apart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import { MalformedMeasurement, decodeMeasurement, encodeMeasurement } from "../../dashboards/static/js/hrs.js";

const { cases } = JSON.parse(readFileSync(new URL("../vectors/hrs_measurements.json", import.meta.url)));
const bytes = (hex) => Uint8Array.from(hex.match(/../g) || [], (h) => parseInt(h, 16));

test("the vectors hold valid and malformed cases", () => {
  assert.ok(cases.filter((c) => c.decoded).length >= 20);
  assert.ok(cases.filter((c) => c.error).length >= 5);
});

for (const c of cases) {
  test(`vector: ${c.name}`, () => {
    const payload = bytes(c.payload);
    if (c.error) {
      assert.throws(() => decodeMeasurement(payload), (error) => {
        assert.ok(error instanceof MalformedMeasurement);
        assert.equal(error.reasonClass, c.error.reason_class);
        assert.equal(error.reason, c.error.reason);
        return true;
      });
      return;
    }
    const m = decodeMeasurement(new DataView(payload.buffer)); // what characteristicvaluechanged hands over
    assert.deepEqual(m, {
      bpm: c.decoded.bpm,
      sensorContact: c.decoded.sensor_contact,
      energyExpendedKj: c.decoded.energy_expended_kj,
      rrIntervalsMs: c.decoded.rr_intervals_ms,
      uint16Bpm: c.decoded.uint16_bpm,
    });
    assert.deepEqual(decodeMeasurement(encodeMeasurement(m)), m); // the round trip is exact
  });
}

test("every flags byte decodes when its fields are all there; reserved bits are ignored", () => {
  for (let flags = 0; flags < 256; flags++) {
    const payload = [flags, 72, ...(flags & 0x01 ? [1] : []), ...(flags & 0x08 ? [5, 0] : []), ...(flags & 0x10 ? [0x34, 0x03] : [])];
    const m = decodeMeasurement(payload);
    assert.equal(m.bpm, flags & 0x01 ? 72 + 256 : 72);
    assert.equal(m.energyExpendedKj, flags & 0x08 ? 5 : null);
    assert.deepEqual(m.rrIntervalsMs, flags & 0x10 ? [0x334 * 1000 / 1024] : []);
  }
});
