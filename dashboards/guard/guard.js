// The guard's handheld page (/guard): alerts for my zones, loud; one tap to acknowledge,
// arrived, resolved; recovers by itself after a Wi-Fi drop and shows what it missed.
//
// Source of truth: the server's deliveries (GET /api/guard/alerts, WebSocket snapshot on
// every reconnect).  The page confirms receipt ("delivered") of every alert it shows and
// "seen" while it is visible.  A tap made while offline is kept (localStorage) and sent
// when the link is back.

import { api, onUnauthorized } from "../shared/api.js";
import { lang, setLang, onLangChange, ruleName, formatTime, setTimeZone, pick } from "../shared/i18n.js";
import { ensureSession, requireLogin } from "../shared/login.js";
import { g } from "./labels.js";
import { renderList, fillFlash } from "./cards.js";
import { GuardSocket } from "./socket.js";
import { Siren } from "./siren.js";

const KNOWN_KEY = "cw.guard.known"; // alarm ids this handheld has already shown
const OUTBOX_KEY = "cw.guard.outbox"; // taps not yet accepted by the server
const ACTIVE = new Set(["active_unacked", "active_acked"]);
const $ = (id) => document.getElementById(id);

const state = {
  me: null,
  alerts: new Map(), // alarm id → alert (alarm fields + todo + delivery)
  zones: new Map(), // zone id → {zh, en}
  missed: new Set(),
  busy: new Set(),
  notes: new Map(),
  conn: "connecting",
  offlineSince: null,
  flash: null,
};
const siren = new Siren();
const view = { state, act: (alert, step) => act(alert, step), zoneName: (id) => zoneName(id) };
const socket = new GuardSocket("/api/guard/ws", { onMessage, onStatus });

// ------------------------------------------------------------------ storage

function load(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}

function save(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // private mode: the page still works, it only forgets across reloads
  }
}

const known = new Set(load(KNOWN_KEY, []));

function remember(id) {
  if (known.has(id)) return;
  known.add(id);
  save(KNOWN_KEY, [...known].slice(-500));
}

// ------------------------------------------------------------------ live messages

function onStatus(status) {
  if (status === "unauthorized") {
    requireLogin().then(() => socket.start());
    return;
  }
  if (status !== "live" && state.conn === "live") state.offlineSince = new Date();
  if (status === "live") {
    state.offlineSince = null;
    flushOutbox();
  }
  state.conn = status;
  render();
}

function onMessage(msg) {
  if (msg.type === "snapshot") {
    state.me = msg.me;
    const fresh = new Map((msg.alerts || []).map((a) => [a.id, a]));
    const newcomers = [...fresh.values()].filter((a) => !known.has(a.id) && !state.alerts.has(a.id));
    // Alerts this handheld never showed: they arrived while it was offline (or closed).
    const missed = newcomers.filter((a) => a.state !== "cleared");
    for (const a of missed) state.missed.add(a.id);
    state.alerts = fresh;
    for (const a of fresh.values()) confirm(a);
    const loudest = missed.filter((a) => ACTIVE.has(a.state) && !a.acked_by)
      .sort((x, y) => rank(x) - rank(y))[0];
    if (loudest) announce(loudest);
  } else if (msg.type === "alert" && msg.alert) {
    const isNew = !state.alerts.has(msg.alert.id);
    state.alerts.set(msg.alert.id, msg.alert);
    confirm(msg.alert);
    if (isNew || !msg.resend) announce(msg.alert);
  } else if (msg.type === "update" && msg.alert) {
    state.alerts.set(msg.alert.id, msg.alert);
    if (msg.alert.acked_by || !ACTIVE.has(msg.alert.state)) quietIfDone();
  } else if (msg.type === "delivery" && msg.delivery) {
    const a = state.alerts.get(msg.delivery.alarm);
    if (a) a.delivery = msg.delivery;
  } else {
    return;
  }
  render();
}

/** Receipts: delivered on arrival, seen while the page is visible. */
function confirm(alert) {
  remember(alert.id);
  const d = alert.delivery || {};
  if (!d.delivered_at) receipt(alert.id, "delivered");
  if (!d.seen_at && document.visibilityState === "visible") receipt(alert.id, "seen");
}

function receipt(alarm, step) {
  socket.send({ type: "receipt", ts: Date.now(), alarm, step });
}

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible") return;
  for (const a of state.alerts.values()) {
    if (!a.delivery?.seen_at) receipt(a.id, "seen");
  }
});

function rank(a) {
  return ["critical", "major", "minor", "warning"].indexOf(a.severity);
}

function announce(alert) {
  if (alert.acked_by || !ACTIVE.has(alert.state)) return;
  siren.alert(alert.severity);
  if (alert.severity === "critical") state.flash = alert.id;
  notify(alert);
}

function quietIfDone() {
  const loud = [...state.alerts.values()].some((a) => a.severity === "critical"
    && ACTIVE.has(a.state) && !a.acked_by);
  if (!loud) siren.silence();
  const flashing = state.flash !== null ? state.alerts.get(state.flash) : null;
  if (!flashing || flashing.acked_by || !ACTIVE.has(flashing.state)) state.flash = null;
}

async function notify(alert) {
  if (document.visibilityState === "visible" || !("Notification" in window)
      || Notification.permission !== "granted" || !navigator.serviceWorker) return;
  try {
    const reg = await navigator.serviceWorker.ready;
    await reg.showNotification(`${g(`severity.${alert.severity}`)} ${ruleName(alert.rule)}`, {
      body: `${zoneName(alert.zone)} — ${lang() === "en" ? alert.todo_en : alert.todo_zh}`,
      tag: `alarm-${alert.id}`, renotify: true, requireInteraction: alert.severity === "critical",
      vibrate: [500, 200, 500],
    });
  } catch (err) {
    console.warn("notification failed", err);
  }
}

// ------------------------------------------------------------------ actions

async function act(alert, step) {
  const note = (state.notes.get(alert.id) || "").trim();
  state.busy.add(alert.id);
  render();
  try {
    const updated = await post(alert.id, step, note);
    if (updated && updated.id) state.alerts.set(updated.id, updated);
    state.notes.delete(alert.id);
    state.missed.delete(alert.id);
  } catch (err) {
    if (err.status === 0) {
      queue(alert.id, step, note); // offline: sent when the link is back
      state.flash = null;
    } else {
      alert.error = `${g("failed")}: ${err.detail || err.status}`;
    }
  } finally {
    state.busy.delete(alert.id);
    quietIfDone();
    render();
  }
}

function post(alarm, step, note) {
  return fetchJson(`/api/guard/alerts/${alarm}/${step}`, { note });
}

async function fetchJson(path, body) {
  let response;
  try {
    response = await fetch(path, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body) });
  } catch (err) {
    throw Object.assign(new Error(String(err)), { status: 0 });
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401) requireLogin();
    throw Object.assign(new Error("HTTP"), { status: response.status, detail: data.detail });
  }
  return data;
}

function queue(alarm, step, note) {
  const outbox = load(OUTBOX_KEY, []);
  outbox.push({ alarm, step, note, at: new Date().toISOString() });
  save(OUTBOX_KEY, outbox);
  const a = state.alerts.get(alarm);
  if (a) a.queued = step;
}

async function flushOutbox() {
  const outbox = load(OUTBOX_KEY, []);
  if (!outbox.length) return;
  const left = [];
  for (const item of outbox) {
    const note = item.note ? `${item.note} (${formatTime(item.at)})` : `(${formatTime(item.at)})`;
    try {
      await post(item.alarm, item.step, note);
    } catch (err) {
      if (err.status === 0) left.push(item); // still offline; a 4xx is final
    }
  }
  save(OUTBOX_KEY, left);
}

// ------------------------------------------------------------------ rendering

function zoneName(id) {
  return id ? pick(state.zones.get(id), id) : "";
}

function sorted() {
  const needsMe = (a) => (!a.acked_by && a.state !== "cleared" ? 0 : ACTIVE.has(a.state) ? 1 : 2);
  return [...state.alerts.values()].sort((a, b) => needsMe(a) - needsMe(b) || rank(a) - rank(b)
    || Date.parse(b.raised_at) - Date.parse(a.raised_at));
}

function render() {
  const conn = $("conn");
  conn.dataset.status = state.conn;
  $("conn-text").textContent = state.offlineSince && state.conn !== "live"
    ? `${g(`conn.${state.conn}`)} · ${g("offline_since")} ${formatTime(state.offlineSince)}`
    : g(`conn.${state.conn}`);
  $("user-name").textContent = state.me?.user || "";
  const shift = state.me?.shift;
  $("shift").textContent = !state.me ? "" : shift
    ? `${g("zones")}: ${shift.zones.includes("*") ? g("all_zones") : shift.zones.map(zoneName).join("、")}`
    : g("no_shift");
  $("shift").classList.toggle("warn", Boolean(state.me && !shift));
  $("sound").hidden = siren.unlocked || !state.me;
  $("sound").textContent = g("sound_locked");
  const banner = $("missed");
  banner.hidden = state.missed.size === 0;
  $("missed-text").textContent = g("missed", { n: state.missed.size });
  $("missed-ok").textContent = g("dismiss");

  const alerts = sorted();
  renderList($("alerts"), alerts, view);
  $("empty").hidden = alerts.length > 0;
  $("empty").textContent = g("none");

  const flash = state.flash !== null ? state.alerts.get(state.flash) : null;
  const overlay = $("flash");
  overlay.hidden = !flash;
  if (flash) fillFlash(overlay, flash, view);
  document.title = `${alerts.filter((a) => !a.acked_by && ACTIVE.has(a.state)).length || ""} ${g("title")}`.trim();
}

// ------------------------------------------------------------------ start

async function startDuty() {
  $("start").hidden = true;
  await siren.unlock();
  try {
    if ("Notification" in window && Notification.permission === "default") {
      await Notification.requestPermission();
    }
    if (navigator.wakeLock) await navigator.wakeLock.request("screen");
  } catch {
    // optional comforts; the alerts work without them
  }
  render();
}

async function main() {
  for (const b of document.querySelectorAll("[data-lang]")) {
    b.addEventListener("click", () => setLang(b.dataset.lang));
  }
  const relabel = () => {
    for (const b of document.querySelectorAll("[data-lang]")) {
      b.setAttribute("aria-pressed", String(b.dataset.lang === lang()));
    }
    $("start-button").textContent = g("start");
    $("start-hint").textContent = g("start_hint");
    $("logout").textContent = g("logout");
  };
  onLangChange(() => {
    relabel();
    render();
  });
  relabel();
  $("start-button").addEventListener("click", startDuty);
  $("sound").addEventListener("click", startDuty);
  $("missed-ok").addEventListener("click", () => {
    state.missed.clear();
    render();
  });
  $("logout").addEventListener("click", async () => {
    await api.logout().catch(() => {});
    location.reload();
  });
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/guard/sw.js", { scope: "/guard" }).catch((err) => {
      console.warn("service worker not registered", err);
    });
  }
  onUnauthorized(() => requireLogin());
  await ensureSession();
  try {
    const site = await api.site();
    setTimeZone(site.timezone);
    state.zones = new Map((site.zones || []).map((z) => [z.id, z.name]));
  } catch (err) {
    console.warn("site names unavailable", err);
  }
  socket.start();
  render();
}

main();
