// REST helpers: same-origin only, with a timeout and errors that carry the server's message.

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export async function request(method, path, body, timeoutMs = 8000) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(path, {
      method,
      headers: body === undefined ? {} : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      cache: "no-store",
    });
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    if (response.status === 401) window.dispatchEvent(new Event("coachiq-unauthorized"));
    if (!response.ok) {
      throw new ApiError(response.status, describe(data) || `HTTP ${response.status}`, data);
    }
    return data;
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError(0, error.name === "AbortError" ? "the server did not answer" : "no connection to the server");
  } finally {
    clearTimeout(timer);
  }
}

function describe(data) {
  if (!data || typeof data !== "object") return typeof data === "string" ? data.slice(0, 200) : "";
  const detail = data.detail ?? data.message ?? data.error;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
  if (detail && typeof detail === "object") return detail.message || JSON.stringify(detail);
  return "";
}

export const getJSON = (path, timeoutMs) => request("GET", path, undefined, timeoutMs);
export const postJSON = (path, body, timeoutMs) => request("POST", path, body, timeoutMs);
export const putJSON = (path, body, timeoutMs) => request("PUT", path, body, timeoutMs);
