// The server's HTTP API and live WebSocket, as the dashboards use them (CONTRACT.md).
// The session is the httponly cookie cw_session set by POST /api/auth/login, so the
// pages never hold a token; a 401 anywhere means "show the login form".

export class ApiError extends Error {
  constructor(status, detail) {
    super(`HTTP ${status}${detail ? `: ${detail}` : ""}`);
    this.status = status;
    this.detail = detail;
  }
}

let unauthorizedHandler = null;

/** Called (once per 401) so the page can show its login form. */
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

/** One call to the API: JSON in and out, ApiError with the server's detail on failure, and
 * a 401 (where a login is required) calls the onUnauthorized handler. */
export async function request(path, { method = "GET", body, authRequired = true } = {}) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, String(err));
  }
  if (!response.ok) {
    let detail = "";
    try {
      const data = await response.json();
      detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail ?? data);
    } catch {
      // not JSON: the status says enough
    }
    if (response.status === 401 && authRequired && unauthorizedHandler) unauthorizedHandler();
    throw new ApiError(response.status, detail);
  }
  if (response.status === 204) return null;
  const type = response.headers.get("Content-Type") || "";
  return type.includes("json") ? response.json() : response.text();
}

export const api = {
  /** Sets the cw_session cookie; rejects with ApiError(401) on bad credentials. */
  login: (username, password) =>
    request("/api/auth/login", { method: "POST", body: { username, password }, authRequired: false }),
  logout: () => request("/api/auth/logout", { method: "POST", authRequired: false }),
  /** The signed-in user, or ApiError(401) (which does not trigger the handler). */
  me: () => request("/api/auth/me", { authRequired: false }),
  site: () => request("/api/site"),
  alarms: ({ active = false } = {}) => request(`/api/alarms${active ? "?active=true" : ""}`),
  ack: (id, comment) =>
    request(`/api/alarms/${encodeURIComponent(id)}/ack`, {
      method: "POST", body: comment ? { comment } : {},
    }),
};

/** A device as the pages show it: the API's four statuses (CONTRACT.md), and "unknown" for
 * a device never heard of since the server started (status offline, link_status unknown). */
export function deviceView(d) {
  return d && d.status === "offline" && d.link_status === "unknown" ? { ...d, status: "unknown" } : d;
}

/**
 * The live feed /api/ws: a snapshot on every (re)connect, then incremental messages.
 * Reconnects with exponential backoff (0.5 s … 15 s, with jitter so a wall of screens
 * does not reconnect in lockstep after a server restart).
 *
 * options.onMessage(msg), options.onStatus("connecting"|"live"|"reconnecting"),
 * options.beforeReconnect(): awaited before each retry (the page checks the session).
 */
export class LiveSocket {
  constructor(path, { onMessage, onStatus, beforeReconnect } = {}) {
    this.path = path;
    this.onMessage = onMessage || (() => {});
    this.onStatus = onStatus || (() => {});
    this.beforeReconnect = beforeReconnect || (async () => {});
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = true;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    this.onStatus("connecting");
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000);
      this.ws = null;
    }
  }

  open() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}${this.path}`);
    this.ws = ws;
    ws.onmessage = (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        console.warn("live feed: not JSON, ignored");
        return;
      }
      if (msg && msg.type === "snapshot") {
        // Only a snapshot proves the feed is whole again; then the backoff resets.
        this.attempt = 0;
        this.onStatus("live");
      }
      this.onMessage(msg);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.stopped) this.retry();
    };
    ws.onerror = () => {
      // onclose follows and schedules the retry
    };
  }

  retry() {
    this.onStatus("reconnecting");
    const base = Math.min(15000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    const delay = base / 2 + Math.random() * (base / 2);
    clearTimeout(this.timer);
    this.timer = setTimeout(async () => {
      try {
        await this.beforeReconnect();
      } catch (err) {
        console.warn("live feed: before reconnect:", err);
      }
      if (!this.stopped) this.open();
    }, delay);
  }
}
