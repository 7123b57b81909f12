// The technicians' page (/devices): every device's health, live.
//
// The live feed /api/ws gives a snapshot of every device on each (re)connect, then
// {type: "device"} messages as they change (CONTRACT.md fields).  What a technician needs
// beyond them (why a device is lost, its node, its maintenance, its profile's commands)
// comes from GET /api/device-details, read again when a device's status changes.
// Commands sent from here are answered by the node; the answer comes back on the feed as
// {type: "command_result"} and is matched by the command's id (commands.js).

import { api, deviceView, LiveSocket, onUnauthorized } from "../shared/api.js";
import { h, clear, renderScheduler } from "../shared/dom.js";
import { checkSession, ensureSession, loadSite, requireLogin, wireSignOut } from "../shared/login.js";
import { t, lang, setLang, onLangChange, translateStatic, pick, setTimeZone } from "../shared/i18n.js";
import { STATUSES, statusCounts, relativeTime, keyMetrics, lostText, compareBy } from "./health.js";
import { DetailPanel } from "./detail.js";
import { CommandTracker } from "./commands.js";
import { devicesApi } from "./http.js";

const $ = (id) => document.getElementById(id);
const FILTERS = ["status", "profile", "zone", "node"];
const CAN_OPERATE = new Set(["tech", "admin"]); // server/api/maintenance.py CAN_MAINTAIN (+ admin)

const scheduleRender = renderScheduler(render); // one render per frame, however many changes
const state = {
  site: null,
  zones: new Map(), // id -> zone (names)
  devices: new Map(), // id -> GET /api/devices row, kept live by the feed
  details: new Map(), // id -> GET /api/devices/{id}
  filters: { status: "", profile: "", zone: "", node: "" },
  search: "",
  sort: { key: "status", dir: 1 },
  selected: null,
  user: null,
  conn: "connecting",
};

const commands = new CommandTracker({ onChange: () => detail.refreshCommands() });
const detail = new DetailPanel($("detail"), {
  deviceOf: (id) => state.devices.get(id),
  detailOf: (id) => state.details.get(id),
  zoneName,
  canOperate: () => CAN_OPERATE.has(state.user?.role),
  commands,
  onClose: () => select(null),
  onChanged: (id) => refreshDetail(id),
});

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
      if (msg.site) applySite(msg.site);
      state.devices = new Map((msg.devices || []).map((d) => [d.id, deviceView(d)]));
      loadDetails();
      break;
    case "device": {
      const d = deviceView(msg.device);
      if (!d) return;
      const before = state.devices.get(d.id);
      state.devices.set(d.id, d);
      // The reason and the maintenance entry change with the status: read them again.
      if (!before || before.status !== d.status) scheduleDetails();
      if (d.id === state.selected) detail.deviceUpdated();
      break;
    }
    case "command_result":
      commands.result(msg.result);
      return;
    default:
      return; // alarms, zones and future additions: not this page's business
  }
  scheduleRender();
}

function applySite(site) {
  state.site = site;
  setTimeZone(site.timezone);
  for (const zone of site.zones || []) state.zones.set(zone.id, zone);
  renderHeader();
}

function zoneName(id) {
  return pick(state.zones.get(id)?.name, id);
}

let detailsTimer = null;

function scheduleDetails() {
  clearTimeout(detailsTimer);
  detailsTimer = setTimeout(loadDetails, 150);
}

async function loadDetails() {
  try {
    const rows = await devicesApi.details();
    state.details = new Map(rows.map((d) => [d.id, d]));
    scheduleRender();
    if (state.selected) detail.detailUpdated();
  } catch (err) {
    console.warn("device details:", err);
  }
}

async function refreshDetail(id) {
  try {
    const d = await devicesApi.device(id);
    state.details.set(id, d);
    // The same fields as the feed's rows (it may be a moment ahead of the feed).
    const { zone, profile, node, status, last_seen: lastSeen, metrics } = d;
    state.devices.set(id, { id, zone, profile, node, status, last_seen: lastSeen, metrics });
    scheduleRender();
    if (id === state.selected) detail.detailUpdated();
  } catch (err) {
    console.warn("device:", err);
  }
}

function select(id) {
  state.selected = id;
  detail.show(id);
  scheduleRender();
}


// ------------------------------------------------------------------ rendering


function matches(d) {
  const f = state.filters;
  if (f.status && d.status !== f.status) return false;
  if (f.profile && d.profile !== f.profile) return false;
  if (f.zone && d.zone !== f.zone) return false;
  if (f.node && d.node !== f.node) return false;
  if (!state.search) return true;
  const q = state.search.toLowerCase();
  const detail = state.details.get(d.id);
  const detailText = [detail?.lost_reason, detail?.lost_text?.zh, detail?.lost_text?.en]
    .filter(Boolean).join(" ");
  return [d.id, d.zone, zoneName(d.zone), d.profile, t(`profile.${d.profile}`, d.profile), d.node, detailText]
    .some((s) => String(s).toLowerCase().includes(q));
}

function render() {
  const all = [...state.devices.values()];
  const counts = statusCounts(all);
  for (const chip of document.querySelectorAll("[data-count]")) {
    const key = chip.dataset.count;
    const n = key === "all" ? all.length : counts[key] ?? 0;
    chip.querySelector(".count-n").textContent = String(n);
    chip.classList.toggle("zero", n === 0 && key !== "all");
    chip.setAttribute("aria-pressed", String(key === "all" ? !state.filters.status : state.filters.status === key));
  }
  renderFilterOptions(all);

  const { key, dir } = state.sort;
  const shown = all.filter(matches).sort((a, b) => dir * compareBy(key, a, b, zoneName));
  const body = clear($("device-rows"));
  for (const d of shown) body.append(row(d));
  $("empty").hidden = shown.length > 0 || all.length === 0;
  $("shown").textContent = `${t("devices.shown")} ${shown.length} / ${all.length}`;
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.setAttribute("aria-sort", th.dataset.sort === key ? (dir > 0 ? "ascending" : "descending") : "none");
  }
}

function row(d) {
  const info = state.details.get(d.id);
  // "Never seen" is what "unknown" already says: the row stays one line.
  const reason = d.status === "online" || info?.lost_cause === "never_seen" ? "" : lostText(info);
  const chips = keyMetrics(d);
  return h("tr", {
    class: ["device-row", d.id === state.selected && "selected"],
    dataset: { device: d.id, status: d.status },
    tabindex: "0",
    onclick: () => select(d.id === state.selected ? null : d.id),
    onkeydown: (event) => {
      if (event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        select(d.id === state.selected ? null : d.id);
      }
    },
  },
  h("td", { class: "dev-id mono" }, d.id),
  h("td", { class: "dev-zone" }, zoneName(d.zone)),
  h("td", { class: "dev-profile" }, t(`profile.${d.profile}`, d.profile)),
  h("td", { class: "dev-node mono" }, d.node),
  h("td", { class: "dev-status" },
    h("span", { class: `status-pill st-${d.status}` }, t(`device.${d.status}`, d.status)),
    reason ? h("div", { class: `lost-reason cause-${info?.lost_cause}`, title: reason }, reason) : null),
  h("td", { class: "dev-seen", dataset: { lastSeen: d.last_seen || "" } }, relativeTime(d.last_seen)),
  h("td", { class: "dev-health" }, chips.map((c) => h("span", {
    class: `chip lv-${c.level}`, dataset: { metric: c.key }, title: c.title || null,
  }, c.text))));
}

function renderFilterOptions(all) {
  const values = {
    status: STATUSES,
    profile: [...new Set(all.map((d) => d.profile))].sort(),
    zone: [...new Set(all.map((d) => d.zone))].sort((a, b) => zoneName(a).localeCompare(zoneName(b), "zh-CN")),
    node: [...new Set(all.map((d) => d.node))].sort(),
  };
  const labels = {
    status: (v) => t(`device.${v}`, v),
    profile: (v) => t(`profile.${v}`, v),
    zone: zoneName,
    node: (v) => v,
  };
  for (const name of FILTERS) {
    const select_ = $(`f-${name}`);
    const signature = `${lang()}|${values[name].join(",")}`;
    if (select_.dataset.signature !== signature) {
      select_.dataset.signature = signature;
      clear(select_).append(h("option", { value: "" }, t("devices.filter.all")),
        ...values[name].map((v) => h("option", { value: v }, labels[name](v))));
    }
    select_.value = state.filters[name];
  }
}

/** The "last seen" column and the detail's times tick every second without a re-render. */
function tick() {
  const now = Date.now();
  for (const cell of document.querySelectorAll("[data-last-seen]")) {
    cell.textContent = relativeTime(cell.dataset.lastSeen || null, now);
  }
  commands.expire(now);
  setTimeout(tick, 1000 - (now % 1000) + 5);
}

function renderHeader() {
  const title = t("devices.title");
  document.title = state.site ? `${pick(state.site.name)} · ${title}` : title;
  $("site-name").textContent = state.site ? pick(state.site.name, state.site.id) : "";
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === lang()));
  }
  $("user-name").textContent = state.user ? `${state.user.username} (${state.user.role ?? ""})` : "";
  renderConnection();
}

function renderConnection() {
  $("conn").dataset.status = state.conn;
  $("conn-text").textContent = t(`conn.${state.conn}`);
  document.body.classList.toggle("stale", state.conn !== "live");
}

function setUser(user) {
  state.user = user;
  renderHeader();
  detail.render();
}

// ------------------------------------------------------------------ start

function wireControls() {
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", () => setLang(button.dataset.lang));
  }
  for (const chip of document.querySelectorAll("[data-count]")) {
    chip.addEventListener("click", () => {
      const key = chip.dataset.count;
      state.filters.status = key === "all" || state.filters.status === key ? "" : key;
      scheduleRender();
    });
  }
  for (const name of FILTERS) {
    $(`f-${name}`).addEventListener("change", (event) => {
      state.filters[name] = event.target.value;
      scheduleRender();
    });
  }
  $("search").addEventListener("input", (event) => {
    state.search = event.target.value.trim();
    scheduleRender();
  });
  $("clear-filters").addEventListener("click", () => {
    state.filters = { status: "", profile: "", zone: "", node: "" };
    state.search = "";
    $("search").value = "";
    scheduleRender();
  });
  for (const th of document.querySelectorAll("th[data-sort]")) {
    th.tabIndex = 0;
    const sort = () => {
      const key = th.dataset.sort;
      state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : 1 };
      scheduleRender();
    };
    th.addEventListener("click", sort);
    th.addEventListener("keydown", (event) => {
      if (event.key === "Enter") sort();
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.selected && !event.target.closest?.("input, select")) select(null);
  });
  wireSignOut($("logout"), socket, setUser);
  onLangChange(() => {
    translateStatic();
    for (const th of document.querySelectorAll("th[data-sort]")) th.title = t("devices.sort");
    renderHeader();
    detail.render();
    scheduleRender();
  });
  onUnauthorized(() => {
    requireLogin().then(setUser);
  });
}

async function main() {
  translateStatic();
  for (const th of document.querySelectorAll("th[data-sort]")) th.title = t("devices.sort");
  wireControls();
  renderHeader();
  try {
    setUser(await ensureSession());
  } catch (err) {
    console.warn("session:", err);
  }
  applySite(await loadSite(setUser));
  socket.start();
  tick();
}

main();
