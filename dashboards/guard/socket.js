// The guard page's live link (/api/guard/ws), built for a poor Wi-Fi link.
//
// * A ping every 10 s; no message for 25 s means the link is dead even if the browser has
//   not noticed (Wi-Fi roaming leaves half-open sockets), so it is closed and reopened.
// * The browser's offline/online events close at once / reconnect at once.
// * Reconnects with exponential backoff and jitter (0.5 s … 10 s).
// * Every (re)connect starts with a snapshot of the guard's alerts, so nothing sent while
//   the link was down is lost; the page compares it with what it had (guard.js).

const PING_MS = 10_000;
const DEAD_MS = 25_000;

export class GuardSocket {
  constructor(path, { onMessage, onStatus }) {
    this.path = path;
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.pinger = null;
    this.lastHeard = 0;
    this.stopped = true;
    window.addEventListener("offline", () => {
      this.onStatus("offline");
      if (this.ws) this.ws.close();
    });
    window.addEventListener("online", () => {
      if (this.stopped) return;
      this.attempt = 0;
      clearTimeout(this.timer);
      if (!this.ws) this.open();
    });
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.onStatus("connecting");
    this.open();
  }

  send(message) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(message));
      return true;
    }
    return false;
  }

  get live() {
    return Boolean(this.ws && this.ws.readyState === WebSocket.OPEN && this.snapshotSeen);
  }

  open() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let ws;
    try {
      ws = new WebSocket(`${scheme}//${location.host}${this.path}`);
    } catch (err) {
      console.warn("guard link:", err);
      this.retry();
      return;
    }
    this.ws = ws;
    this.snapshotSeen = false;
    ws.onopen = () => {
      this.lastHeard = Date.now();
      clearInterval(this.pinger);
      this.pinger = setInterval(() => this.heartbeat(), PING_MS);
    };
    ws.onmessage = (event) => {
      this.lastHeard = Date.now();
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      if (msg.type === "pong") return;
      if (msg.type === "snapshot") {
        this.attempt = 0;
        this.snapshotSeen = true;
        this.onStatus("live");
      }
      this.onMessage(msg);
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pinger);
      if (event.code === 4401) {
        this.onStatus("unauthorized");
        return;
      }
      if (!this.stopped) this.retry();
    };
    ws.onerror = () => {
      // onclose follows
    };
  }

  heartbeat() {
    if (!this.ws) return;
    if (Date.now() - this.lastHeard > DEAD_MS) {
      console.warn("guard link: silent for too long; reconnecting");
      this.ws.close();
      return;
    }
    this.send({ type: "ping" });
  }

  retry() {
    this.onStatus(navigator.onLine === false ? "offline" : "reconnecting");
    const base = Math.min(10_000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.stopped && !this.ws) this.open();
    }, base / 2 + Math.random() * (base / 2));
  }
}
