// Heart-rate zones by Karvonen reserve, for when an event or sample does not carry its zone.
import { zoneLimits } from "./charts.js";

export const ZONE_NAMES = { rest: "Rest", moderate: "Moderate", vigorous: "Vigorous", peak: "Peak" };

/** Resting and maximum HR from the profile, else the defaults of DESIGN.md (Tanaka for the maximum). */
export function heartLimits(profile, restingFromData = null) {
  const resting = profile.resting_hr || restingFromData || 60;
  const age = profile.birth_year ? new Date().getFullYear() - profile.birth_year : null;
  const maximum = profile.max_hr || (age ? Math.round(208 - 0.7 * age) : 190);
  const estimated = !profile.resting_hr || !profile.max_hr;
  return { resting, maximum, estimated };
}

export function zoneOf(bpm, limits) {
  const z = zoneLimits(limits.resting, limits.maximum);
  if (bpm >= z.peak) return "peak";
  if (bpm >= z.vigorous) return "vigorous";
  if (bpm >= z.moderate) return "moderate";
  return "rest";
}
