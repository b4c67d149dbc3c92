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
export async function api(path, options = {}) {
  return (await send(`${API}${path}`, options)).data;
}

/** The target of the `rel="next"` link in an RFC 8288 Link header, or null. */
export function nextLink(header) {
  for (const [, target, params] of (header || "").matchAll(/<([^>]*)>([^,<]*)/g)) {
    const rel = /;\s*rel\s*=\s*(?:"([^"]*)"|([^\s;]+))/i.exec(params);
    if (rel && (rel[1] ?? rel[2]).toLowerCase().split(/\s+/).includes("next")) return target;
  }
  return null;
}

/**
 * Every item of a paged journal list (GET /checkins, /interviews, /practice, ...), in the list's order.
 * The first page holds the newest items and its Link rel="next" the ones before them, so the pages are
 * put back together last-fetched first. Only same-origin API links are followed: the token goes along.
 */
export async function apiAll(path, { signal } = {}) {
  const pages = [];
  const seen = new Set();
  let url = `${API}${path}`;
  while (url && !seen.has(url)) {
    seen.add(url);
    const { response, data } = await send(url, { signal });
    pages.push(Array.isArray(data) ? data : []);
    const next = nextLink(response.headers.get("Link"));
    const target = next ? new URL(next, location.href) : null;
    url = target && target.origin === location.origin && target.pathname.startsWith(`${API}/`)
      ? target.pathname + target.search : null;
  }
  return pages.reverse().flat();
}

async function send(url, { method = "GET", json, form, auth = true, signal } = {}) {
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
  const response = await fetch(url, { method, headers, body, signal });
  const data = await parse(response);
  if (response.status === 401 && auth) {
    clearToken();
    goToLogin();
    throw new ApiError(401, "please log in again");
  }
  if (!response.ok) throw new ApiError(response.status, data && data.detail ? data.detail : data);
  return { response, data };
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

function jsonOrText(text) {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * POST a multipart form with upload progress (fetch reports none, XMLHttpRequest does).
 * `onProgress(sent, total)` runs as the body leaves; `onSent()` once it has all left and the server reads it.
 * Resolves with the parsed answer; rejects with ApiError on 4xx/5xx, TypeError when the network fails.
 */
export function upload(path, formData, { onProgress, onSent } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${API}${path}`);
    xhr.setRequestHeader("Accept", "application/json");
    const token = getToken();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.upload.addEventListener("progress", (e) => onProgress?.(e.loaded, e.lengthComputable ? e.total : 0));
    xhr.upload.addEventListener("load", () => onSent?.());
    xhr.addEventListener("error", () => reject(new TypeError("network error")));
    xhr.addEventListener("abort", () => reject(new TypeError("upload aborted")));
    xhr.addEventListener("load", () => {
      const data = xhr.responseText ? jsonOrText(xhr.responseText) : null;
      if (xhr.status === 401) {
        clearToken();
        goToLogin();
        reject(new ApiError(401, "please log in again"));
      } else if (xhr.status < 200 || xhr.status >= 300) {
        reject(new ApiError(xhr.status, data && data.detail ? data.detail : data));
      } else {
        resolve(data);
      }
    });
    xhr.send(formData);
  });
}

/** Save what a GET answers as a file: the token goes in a header, so a plain link cannot fetch it. */
export async function download(path, fallbackName) {
  const headers = {};
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${API}${path}`, { headers });
  if (response.status === 401) {
    clearToken();
    goToLogin();
    throw new ApiError(401, "please log in again");
  }
  if (!response.ok) {
    const data = await parse(response);
    throw new ApiError(response.status, data && data.detail ? data.detail : data);
  }
  const disposition = response.headers.get("Content-Disposition") || "";
  const name = /filename="?([^";]+)"?/.exec(disposition)?.[1] || fallbackName;
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return { name, bytes: blob.size };
}
