// The hub's public API with the person's token; the token lives in this tab's session
// storage only and travels in the Authorization header, never in a URL.

const KEY = "cclm.token";
export const UNAUTHORIZED = "cclm:unauthorized";

export const session = {
  token: () => sessionStorage.getItem(KEY),
  keep: (token) => sessionStorage.setItem(KEY, token),
  forget: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

function headers(token, extra = {}) {
  return { Authorization: `Bearer ${token}`, ...extra };
}

function refused(token) {
  // The session's own token refused: the shell ends the session (a token being tried at
  // log-in is not the session's).
  if (token === session.token()) window.dispatchEvent(new Event(UNAUTHORIZED));
}

export async function call(method, path, body, token = session.token()) {
  const init = { method, headers: headers(token) };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "unreachable", "The hub did not answer: is it still running?");
  }
  if (response.status === 204) return null;
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401) refused(token);
    const error = answer?.error ?? {};
    throw new ApiError(response.status, error.code ?? "http_error",
      error.message ?? `The hub answered ${response.status}.`, error.details);
  }
  return answer;
}

function frame(text) {
  let id = null;
  let event = "message";
  const data = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") id = Number(value);
    else if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { id, event, data: JSON.parse(data.join("\n")) } : null;
}

export async function* events(after, signal) {
  // Server-Sent Events read through fetch, since EventSource cannot send the token.
  const token = session.token();
  const query = after === null ? "" : `?after=${after}`;
  const response = await fetch(`/api/v1/events${query}`,
    { headers: headers(token, { Accept: "text/event-stream" }), signal });
  if (!response.ok) {
    if (response.status === 401) refused(token);
    throw new ApiError(response.status, "stream", "The event stream was refused.");
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replaceAll("\r\n", "\n");
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const parsed = frame(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (parsed) yield parsed;
        end = buffer.indexOf("\n\n");
      }
    }
  } finally {
    // However the reading ends (the caller broke off, or failed), the connection is let go:
    // a browser keeps only a few per host.
    reader.cancel().catch(() => {});
  }
}
