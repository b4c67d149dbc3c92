// Heart Rate Measurement (0x2A37) codec, the JavaScript twin of devices/hrs.py: bytes in, a plain object
// out, no I/O. Both decoders are checked on the same vectors (tests/vectors/hrs_measurements.json).

// RR intervals travel in 1/1024 s; units * 1000 / 1024 is exact in binary, as in devices.hrs.
export const MS_PER_RR_UNIT = 1000 / 1024;

// Why a payload was rejected: the same names and words as devices.hrs.Reason.
export const Reason = Object.freeze({
  EMPTY: "empty payload",
  TRUNCATED_BPM: "truncated heart rate value",
  TRUNCATED_ENERGY: "truncated energy expended field",
  ODD_RR: "RR interval list ends with an odd byte",
  TRAILING_BYTES: "bytes after the last field although the RR-interval flag is clear",
});

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** A payload the Bluetooth specification does not allow; `reasonClass` names the Reason, `reason` says it. */
export class MalformedMeasurement extends Error {
  constructor(reasonClass, bytes) {
    super(`${Reason[reasonClass]} (payload ${hex(bytes) || "empty"})`);
    this.name = "MalformedMeasurement";
    this.reasonClass = reasonClass;
    this.reason = Reason[reasonClass];
  }
}

/** The bytes of a DataView, an ArrayBuffer, a typed array or a plain array of numbers. */
export function asBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return Uint8Array.from(value);
}

/**
 * Decode one notification value: {bpm, sensorContact (null when not supported), energyExpendedKj (or null),
 * rrIntervalsMs (oldest first), uint16Bpm}. Throws MalformedMeasurement for an impossible payload.
 */
export function decodeMeasurement(value) {
  const b = asBytes(value);
  if (b.length === 0) throw new MalformedMeasurement("EMPTY", b);
  const flags = b[0];
  const uint16 = (flags & 0x01) !== 0;
  const contactBits = (flags >> 1) & 0b11; // 0/1: not supported, 2: no contact, 3: contact
  const hasEnergy = (flags & 0x08) !== 0;
  const hasRr = (flags & 0x10) !== 0;
  const bpmEnd = uint16 ? 3 : 2;
  if (b.length < bpmEnd) throw new MalformedMeasurement("TRUNCATED_BPM", b);
  const bpm = uint16 ? b[1] | (b[2] << 8) : b[1];
  let offset = bpmEnd;
  let energy = null;
  if (hasEnergy) {
    if (b.length < offset + 2) throw new MalformedMeasurement("TRUNCATED_ENERGY", b);
    energy = b[offset] | (b[offset + 1] << 8);
    offset += 2;
  }
  const extra = b.length - offset;
  const rr = [];
  if (extra && !hasRr) throw new MalformedMeasurement("TRAILING_BYTES", b);
  if (extra & 1) throw new MalformedMeasurement("ODD_RR", b);
  for (let i = offset; i < b.length; i += 2) rr.push((b[i] | (b[i + 1] << 8)) * MS_PER_RR_UNIT);
  return {
    bpm,
    sensorContact: contactBits < 2 ? null : contactBits === 3,
    energyExpendedKj: energy,
    rrIntervalsMs: rr,
    uint16Bpm: uint16,
  };
}

/** The inverse, for tests and simulators: uint16 when bpm > 255 or `uint16Bpm` asks for it. */
export function encodeMeasurement({ bpm, sensorContact = null, energyExpendedKj = null, rrIntervalsMs = [], uint16Bpm = false }) {
  const uint16 = uint16Bpm || bpm > 0xff;
  let flags = uint16 ? 0x01 : 0;
  if (sensorContact !== null) flags |= 0x04 | (sensorContact ? 0x02 : 0);
  const out = [uint16 ? [bpm & 0xff, bpm >> 8] : [bpm]];
  if (energyExpendedKj !== null) {
    flags |= 0x08;
    out.push([energyExpendedKj & 0xff, energyExpendedKj >> 8]);
  }
  if (rrIntervalsMs.length) flags |= 0x10;
  for (const ms of rrIntervalsMs) {
    const units = Math.round((ms * 1024) / 1000);
    out.push([units & 0xff, units >> 8]);
  }
  return Uint8Array.from([flags, ...out.flat()]);
}
