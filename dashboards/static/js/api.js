// The one way pages talk to the service: bearer token from localStorage, JSON in and out, 401 -> log in.
const TOKEN_KEY = "chinup.token";
const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : `request failed (${status})`);
    this.status = status;
    this.detail = detail;
  }
}

export const getToken = () => localStorage.getItem(TOKEN_KEY);
export const setToken = (token) => localStorage.setItem(TOKEN_KEY, token);
export const clearToken = () => localStorage.removeItem(TOKEN_KEY);

export function goToLogin() {
  const here = location.pathname + location.search;
  const next = here.startsWith("/dashboard") && !here.startsWith("/dashboard/login") ? here : "/dashboard";
  location.assign(`/dashboard/login?next=${encodeURIComponent(next)}`);
}

async function parse(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Call the API; `json` sends a JSON body, `form` an urlencoded one. Throws ApiError on 4xx/5xx. */
export async function api(path, { method = "GET", json, form, auth = true, signal } = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = new URLSearchParams(form);
  }
  const token = getToken();
  if (auth && token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${API}${path}`, { method, headers, body, signal });
  const data = await parse(response);
  if (response.status === 401 && auth) {
    clearToken();
    goToLogin();
    throw new ApiError(401, "please log in again");
  }
  if (!response.ok) throw new ApiError(response.status, data && data.detail ? data.detail : data);
  return data;
}

/** Like api(), but an endpoint that is absent (404/405) yields `fallback` instead of an error. */
export async function apiOptional(path, fallback = null) {
  try {
    return await api(path);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return fallback;
    throw error;
  }
}

/** Turn an API error into a sentence for a form; validation errors name the field. */
export function describeError(error) {
  if (error instanceof ApiError) {
    if (error.status >= 500) return "The server had a problem. Please try again in a moment.";
    return String(error.message || "Something went wrong.");
  }
  return "Could not reach the server. Check your connection and try again.";
}
