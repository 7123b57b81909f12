// The duty desk's monitoring wall: floor plan, live alarms, acknowledge.
//
// State comes from the live feed /api/ws: a snapshot on every (re)connect replaces it,
// then incremental {type: alarm|zone|device} messages update it.  GET /api/site draws
// the plan; GET /api/alarms adds the recent (cleared) alarms the snapshot may not carry.

import { api, deviceView, LiveSocket, onUnauthorized } from "../shared/api.js";
import { checkSession, ensureSession, loadSite, requireLogin, wireSignOut } from "../shared/login.js";
import { renderScheduler } from "../shared/dom.js";
import {
  t, lang, setLang, onLangChange, translateStatic, pick, setTimeZone, formatTime, formatDate,
} from "../shared/i18n.js";
import { FloorPlan } from "./floorplan.js";
import { AlarmList, ACTIVE, SEVERITY_ORDER, newestFirst } from "./alarms.js";
import { renderRollCall, renderZoneCard } from "./zonecard.js";
import { LiveTile } from "./liveview.js";

const RECENT_LIMIT = 200;
const $ = (id) => document.getElementById(id);

const state = {
  site: null,
  zones: new Map(),
  alarms: new Map(),
  devices: new Map(),
  filter: "active", // "active" | "recent"
  selected: null,
  user: null,
  conn: "connecting",
};

const scheduleRender = renderScheduler(render); // one render per frame, however many changes
const plan = new FloorPlan($("plan"), { onSelect: selectZone });
const alarmList = new AlarmList($("alarm-list"), $("alarm-empty"), {
  onAck: acknowledge,
  zoneName: (id) => pick(state.zones.get(id)?.name, id),
});
alarmList.refresh = scheduleRender;
const liveTile = new LiveTile(document.body); // the selected zone's camera, live

const socket = new LiveSocket("/api/ws", {
  onMessage: applyMessage,
  onStatus: (status) => {
    state.conn = status;
    renderConnection();
  },
  beforeReconnect: () => checkSession(setUser),
});

// ------------------------------------------------------------------ state changes

function applyMessage(msg) {
  switch (msg?.type) {
    case "snapshot":
      if (msg.site?.floor && msg.site?.zones) applySite(msg.site);
      state.zones = new Map((msg.zones || []).map((z) => [z.id, mergeZone(z)]));
      state.devices = new Map((msg.devices || []).map((d) => [d.id, deviceView(d)]));
      state.alarms = new Map((msg.alarms || []).map((a) => [a.id, a]));
      loadRecentAlarms();
      break;
    case "alarm":
      if (msg.alarm) state.alarms.set(msg.alarm.id, msg.alarm);
      break;
    case "zone":
      if (msg.zone) state.zones.set(msg.zone.id, mergeZone(msg.zone));
      break;
    case "device":
      if (msg.device) state.devices.set(msg.device.id, deviceView(msg.device));
      break;
    default:
      return; // unknown message types are future additions; ignore them
  }
  scheduleRender();
}

/** Zone messages may omit the static parts (rect, name); keep what the site gave. */
function mergeZone(zone) {
  return { ...(state.zones.get(zone.id) || {}), ...zone };
}

function applySite(site) {
  const first = !state.site;
  state.site = site;
  setTimeZone(site.timezone);
  for (const zone of site.zones) state.zones.set(zone.id, mergeZone(zone));
  if (first || site.zones.length !== plan.groups.size) plan.setSite(site);
  renderHeader();
}

async function loadRecentAlarms() {
  try {
    const recent = await api.alarms();
    // The live feed wins: an alarm it already delivered is newer than this answer.
    for (const alarm of recent.slice(0, RECENT_LIMIT)) {
      if (!state.alarms.has(alarm.id)) state.alarms.set(alarm.id, alarm);
    }
    scheduleRender();
  } catch (err) {
    console.warn("recent alarms:", err);
  }
}

async function acknowledge(alarm) {
  let answer;
  try {
    answer = await api.ack(alarm.id);
  } catch (err) {
    if (err.status === 409) return; // someone else acknowledged it first: not a failure
    throw err;
  }
  // The WS update follows; an alarm in the answer only makes the row change sooner.
  const updated = answer?.alarm ?? answer;
  if (updated && updated.id === alarm.id && updated.state) state.alarms.set(updated.id, updated);
}

function selectZone(id) {
  state.selected = state.selected === id ? null : id;
  liveTile.select(state.selected, state.devices);
  scheduleRender();
  if (state.selected) {
    requestAnimationFrame(() => {
      document.querySelector("#alarm-list .alarm.highlight")?.scrollIntoView({ block: "nearest" });
    });
  }
}


// ------------------------------------------------------------------ rendering


function activeAlarms() {
  return [...state.alarms.values()].filter((a) => ACTIVE.has(a.state));
}

function worstSeverity(alarms) {
  let best = null;
  for (const a of alarms) {
    if (best === null || SEVERITY_ORDER.indexOf(a.severity) < SEVERITY_ORDER.indexOf(best)) best = a.severity;
  }
  return best;
}

function render() {
  const active = activeAlarms();
  const byZone = new Map();
  for (const a of active) {
    if (!a.zone) continue;
    if (!byZone.has(a.zone)) byZone.set(a.zone, []);
    byZone.get(a.zone).push(a);
  }

  plan.render(state.zones, {
    selected: state.selected,
    // The server's zone severity, or what the alarms say if the zone message lags.
    severity: (id) => {
      const zone = state.zones.get(id);
      const fromServer = zone?.status === "alarm" ? zone.severity : null;
      return worstSeverity([...(byZone.get(id) || []), ...(fromServer ? [{ severity: fromServer }] : [])]);
    },
    pulsing: (id) => (byZone.get(id) || []).some((a) => a.severity === "critical" && a.state === "active_unacked"),
  });

  for (const sev of SEVERITY_ORDER) {
    const n = active.filter((a) => a.severity === sev).length;
    const chip = $(`count-${sev}`);
    chip.querySelector(".count-n").textContent = String(n);
    chip.classList.toggle("zero", n === 0);
  }

  const shown = [...state.alarms.values()]
    .filter((a) => state.filter === "recent" || ACTIVE.has(a.state) || a.state === "cleared_unacked")
    .sort(newestFirst)
    .slice(0, RECENT_LIMIT);
  alarmList.render(shown, { highlightZone: state.selected, langTag: lang() });
  $("alarm-total").textContent = String(shown.length);

  liveTile.update(state.devices);
  const zone = state.selected ? state.zones.get(state.selected) : null;
  if (zone) {
    renderZoneCard($("zone-card"), zone, [...state.devices.values()], {
      onClose: () => selectZone(state.selected),
    });
  } else {
    renderRollCall($("zone-card"), [...state.zones.values()]);
  }
  const filterBar = $("zone-filter");
  filterBar.hidden = !zone;
  if (zone) $("zone-filter-name").textContent = pick(zone.name, zone.id);
}

function renderHeader() {
  document.title = state.site ? `${pick(state.site.name)} · ${t("app.title")}` : t("app.title");
  $("site-name").textContent = state.site ? pick(state.site.name, state.site.id) : "";
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === lang()));
  }
  for (const button of document.querySelectorAll("[data-filter]")) {
    button.setAttribute("aria-pressed", String(button.dataset.filter === state.filter));
  }
  $("user-name").textContent = state.user?.username ?? state.user?.name ?? "";
  renderConnection();
  tick();
}

function renderConnection() {
  const el = $("conn");
  el.dataset.status = state.conn;
  $("conn-text").textContent = t(`conn.${state.conn}`);
  document.body.classList.toggle("stale", state.conn !== "live");
}

let clockTimer = null;

function tick() {
  const now = new Date();
  $("clock-time").textContent = formatTime(now);
  $("clock-date").textContent = formatDate(now);
  clearTimeout(clockTimer);
  clockTimer = setTimeout(tick, 1000 - (now.getTime() % 1000) + 5); // on the second
}

function setUser(user) {
  state.user = user;
  renderHeader();
}

// ------------------------------------------------------------------ start

function wireControls() {
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", () => setLang(button.dataset.lang));
  }
  for (const button of document.querySelectorAll("[data-filter]")) {
    button.addEventListener("click", () => {
      state.filter = button.dataset.filter;
      renderHeader();
      scheduleRender();
    });
  }
  $("zone-filter-clear").addEventListener("click", () => selectZone(state.selected));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.selected) selectZone(state.selected);
  });
  wireSignOut($("logout"), socket, setUser);
  onLangChange(() => {
    translateStatic();
    renderHeader();
    scheduleRender();
  });
  onUnauthorized(() => {
    requireLogin().then(setUser);
  });
}

async function main() {
  translateStatic();
  wireControls();
  renderHeader();
  try {
    setUser(await ensureSession());
  } catch (err) {
    console.warn("session:", err); // server unreachable: loadSite keeps trying
  }
  applySite(await loadSite(setUser));
  scheduleRender();
  loadRecentAlarms();
  socket.start();
}

main();
