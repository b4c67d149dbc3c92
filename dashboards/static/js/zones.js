// Heart-rate zones as the server computes them (GET /me/heart: its resting HR and HRmax, estimated when the
// profile leaves them empty), for when an event or sample does not carry its zone.
import { getToken } from "./api.js";
import { zoneLimits } from "./charts.js";

export const ZONE_NAMES = { rest: "Rest", moderate: "Moderate", vigorous: "Vigorous", peak: "Peak" };
const LOAD_TIMEOUT_MS = 3000;
let server = null;

/** Fetch the server's heart profile (again after the profile changes); null when signed out or unreachable. */
export async function loadHeartProfile() {
  const token = getToken();
  if (!token) return null;
  try {
    const response = await fetch("/api/v1/me/heart", {
      headers: { Accept: "application/json", Authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(LOAD_TIMEOUT_MS),
    });
    server = response.ok ? await response.json() : null;
  } catch {
    server = null;
  }
  return server;
}

// Loaded before any page module runs, so every synchronous heartLimits() below already has the server's values.
await loadHeartProfile();

/** The server's heart profile as last loaded (null if it could not be). */
export const heartProfile = () => server;

/** Resting and maximum HR the server uses; without its answer, the profile's values or DESIGN.md's defaults. */
export function heartLimits(profile, restingFromData = null) {
  if (server) {
    return {
      resting: server.resting_hr,
      maximum: server.max_hr,
      estimated: server.resting_hr_source !== "yours" || server.max_hr_source !== "yours",
      zones: { moderate: server.zones.moderate_bpm, vigorous: server.zones.vigorous_bpm, peak: server.zones.peak_bpm },
    };
  }
  const resting = profile.resting_hr || restingFromData || 60;
  const age = profile.birth_year ? new Date().getFullYear() - profile.birth_year : null;
  const maximum = profile.max_hr || (age ? Math.round(208 - 0.7 * age) : 190);
  const estimated = !profile.resting_hr || !profile.max_hr;
  return { resting, maximum, estimated, zones: zoneLimits(resting, maximum) };
}

export function zoneOf(bpm, limits) {
  const z = limits.zones || zoneLimits(limits.resting, limits.maximum);
  if (bpm >= z.peak) return "peak";
  if (bpm >= z.vigorous) return "vigorous";
  if (bpm >= z.moderate) return "moderate";
  return "rest";
}
