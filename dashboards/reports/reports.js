// The supervisor's page (/reports): alarm KPIs (GET /api/kpis) per console, shift and day,
// the guards on shift, and the audit trail with a one-click verification of its chain.

import { api, onUnauthorized } from "../shared/api.js";
import { h, svg, clear } from "../shared/dom.js";
import { lang, setLang, onLangChange, ruleName, formatDateTime, formatTime, setTimeZone } from "../shared/i18n.js";
import { ensureSession, requireLogin } from "../shared/login.js";

const L = {
  title: ["告警统计与审计", "Alarm reports and audit"],
  last24: ["最近24小时", "Last 24 h"],
  last7d: ["最近7天", "Last 7 days"],
  from: ["自", "From"],
  to: ["至", "To"],
  apply: ["查询", "Show"],
  loading: ["加载中…", "Loading…"],
  activations: ["告警次数", "Activations"],
  announced: ["已通知", "Announced"],
  shelved: ["搁置期间", "While shelved"],
  suppressed: ["维护抑制", "Suppressed"],
  ack: ["确认用时 中位/P90", "Time to ack median/p90"],
  clear: ["恢复用时 中位/P90", "Time to clear median/p90"],
  standing: ["长期未恢复告警", "Standing alarms"],
  chattering: ["频繁抖动源", "Chattering sources"],
  top: ["告警最多的10个来源", "Top 10 sources"],
  roster: ["当前在岗", "On shift now"],
  shifts: ["按班次", "Per shift"],
  days: ["按日", "Per day"],
  console: ["席位", "Console"],
  per10: ["每10分钟告警数", "Alarms per 10 min"],
  avg: ["平均", "average"],
  peak: ["峰值", "peak"],
  floods: ["告警泛滥时段", "Flood periods"],
  in_flood: ["泛滥时间占比", "time in flood"],
  none: ["无", "None"],
  rule: ["规则", "Rule"],
  subject: ["对象", "Subject"],
  zone: ["区域", "Zone"],
  since: ["发生", "Since"],
  age: ["持续", "Age"],
  count: ["次数", "Count"],
  max: ["1分钟内最多", "Most in a window"],
  period: ["时段", "Period"],
  alarms: ["告警", "Alarms"],
  critical: ["紧急", "Critical"],
  user: ["人员", "User"],
  role: ["角色", "Role"],
  zones: ["区域", "Zones"],
  connected: ["手持端", "Handheld"],
  online: ["在线", "online"],
  offline: ["离线", "offline"],
  audit: ["审计日志 (哈希链)", "Audit trail (hash chain)"],
  verify: ["校验审计链", "Verify the audit chain"],
  time: ["时间", "Time"],
  action: ["操作", "Action"],
  detail: ["内容", "Detail"],
  forbidden: ["需要带班领导 (supervisor) 权限", "Needs the supervisor role"],
};
const $ = (id) => document.getElementById(id);
const l = (key) => L[key][lang() === "en" ? 1 : 0];
let window_ = { hours: 24 };
let report = null;

function duration(s) {
  if (s === null || s === undefined) return "–";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function table(el, headers, rows) {
  clear(el);
  el.append(h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))));
  const body = h("tbody");
  if (!rows.length) body.append(h("tr", {}, h("td", { class: "empty", colspan: headers.length }, l("none"))));
  for (const row of rows) body.append(h("tr", {}, row.map((c) => (c instanceof Node ? c : h("td", {}, c ?? "")))));
  el.append(body);
}

const num = (v) => h("td", { class: "num" }, String(v));

function tile(label, value, bad = false) {
  return h("div", { class: ["tile", bad && "bad"] }, h("div", { class: "n" }, value), h("div", { class: "label" }, label));
}

function chart(points, limit) {
  const max = Math.max(limit + 2, ...points.map((p) => p.count));
  const width = Math.max(points.length, 1);
  const el = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${max}`, preserveAspectRatio: "none",
    role: "img", "aria-label": l("per10") });
  points.forEach((p, i) => {
    el.append(svg("rect", { x: i + 0.1, y: max - p.count, width: 0.8, height: p.count,
      class: p.count > limit ? "flood" : "" }, svg("title", {}, `${formatDateTime(p.start)}: ${p.count}`)));
  });
  el.append(svg("line", { x1: 0, x2: width, y1: max - limit, y2: max - limit, "vector-effect": "non-scaling-stroke" }));
  return el;
}

function render() {
  document.title = l("title");
  $("title").textContent = l("title");
  for (const [id, key] of [["from-label", "from"], ["to-label", "to"], ["apply", "apply"],
    ["h-standing", "standing"], ["h-chattering", "chattering"], ["h-top", "top"], ["h-roster", "roster"],
    ["h-shifts", "shifts"], ["h-days", "days"], ["h-audit", "audit"], ["verify", "verify"]]) {
    $(id).textContent = l(key);
  }
  for (const b of document.querySelectorAll("[data-hours]")) {
    b.textContent = l(b.dataset.hours === "24" ? "last24" : "last7d");
    b.setAttribute("aria-pressed", String(Number(b.dataset.hours) === window_.hours));
  }
  for (const b of document.querySelectorAll("[data-lang]")) b.setAttribute("aria-pressed", String(b.dataset.lang === lang()));
  if (!report) return;
  const r = report;
  const standingN = r.standing.length;
  clear($("tiles")).append(
    tile(l("activations"), r.activations), tile(l("announced"), r.announced),
    tile(l("shelved"), r.shelved), tile(l("suppressed"), r.suppressed),
    tile(l("ack"), `${duration(r.time_to_ack.median_s)} / ${duration(r.time_to_ack.p90_s)}`),
    tile(l("clear"), `${duration(r.time_to_clear.median_s)} / ${duration(r.time_to_clear.p90_s)}`),
    tile(l("standing"), standingN, standingN > 0), tile(l("chattering"), r.chattering.length, r.chattering.length > 0));
  const consoles = clear($("consoles"));
  for (const [name, c] of Object.entries(r.consoles)) {
    consoles.append(h("div", { class: "console", "data-console": name },
      h("h3", {}, `${l("console")} ${name} · ${l("per10")}: ${l("avg")} ${c.average_per_10min}, ${l("peak")} ${c.peak_per_10min} · ${l("in_flood")} ${c.percent_time_in_flood}%`),
      chart(c.per_10min, r.thresholds.flood_per_10min),
      h("p", { class: "floods" }, c.floods.length
        ? `${l("floods")}: ${c.floods.map((f) => `${formatDateTime(f.start)}–${formatTime(f.end)} (${f.count})`).join("; ")}`
        : "")));
  }
  table($("standing"), [l("rule"), l("subject"), l("zone"), l("since"), l("age")],
    r.standing.map((s) => [ruleName(s.rule), s.subject, s.zone, formatDateTime(s.since), duration(s.age_s)]));
  table($("chattering"), [l("rule"), l("subject"), l("count"), l("max")],
    r.chattering.map((c) => [ruleName(c.rule), c.subject, num(c.activations), num(c.max_in_window)]));
  table($("top"), [l("rule"), l("subject"), l("count")],
    r.top_sources.map((s) => [ruleName(s.rule), s.subject, num(s.count)]));
  const periods = (list) => list.map((p) => [p.period, num(p.activations), num(p.critical),
    `${duration(p.time_to_ack.median_s)} / ${duration(p.time_to_ack.p90_s)}`,
    `${duration(p.time_to_clear.median_s)} / ${duration(p.time_to_clear.p90_s)}`,
    p.top_sources.map((s) => `${ruleName(s.rule)} ${s.subject} ×${s.count}`).join("; ")]);
  const heads = [l("period"), l("alarms"), l("critical"), l("ack"), l("clear"), l("top")];
  table($("shifts"), heads, periods(r.by_shift));
  table($("days"), heads, periods(r.by_day));
}

async function get(path) {
  const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (response.status === 401) {
    await requireLogin();
    return get(path);
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(data.detail || `HTTP ${response.status}`), { status: response.status });
  return data;
}

async function load() {
  const status = $("status");
  status.className = "status";
  status.textContent = l("loading");
  const params = new URLSearchParams();
  if (window_.from) {
    params.set("from", new Date(window_.from).toISOString());
    params.set("to", new Date(window_.to || Date.now()).toISOString());
  } else {
    params.set("hours", String(window_.hours));
  }
  try {
    report = await get(`/api/kpis?${params}`);
    status.textContent = `${formatDateTime(report.from)} – ${formatDateTime(report.to)}`;
    render();
  } catch (err) {
    status.className = "status error";
    status.textContent = err.status === 403 ? l("forbidden") : String(err.message);
  }
  loadRoster();
  loadAudit();
}

async function loadRoster() {
  try {
    const shifts = await get("/api/guards/shifts");
    table($("roster"), [l("user"), l("role"), l("zones"), l("connected")], shifts.map((s) => [
      s.user, s.role, s.zones.join(", "), s.connected ? l("online") : l("offline")]));
  } catch (err) {
    console.warn("roster", err);
  }
}

async function loadAudit() {
  try {
    const entries = await get("/api/audit?limit=100");
    table($("audit"), [l("time"), l("user"), l("action"), l("detail")], entries.reverse().map((e) => [
      formatDateTime(e.ts), e.user, e.action, h("td", { class: "detail" }, JSON.stringify(e.detail))]));
  } catch (err) {
    table($("audit"), [l("detail")], [[err.status === 403 ? l("forbidden") : String(err.message)]]);
  }
}

async function verify() {
  const out = $("verify-result");
  try {
    const result = await get("/api/audit/verify");
    out.className = `verify ${result.ok ? "ok" : "bad"}`;
    out.textContent = result.message;
  } catch (err) {
    out.className = "verify bad";
    out.textContent = err.status === 403 ? l("forbidden") : String(err.message);
  }
  loadAudit();
}

async function main() {
  for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => setLang(b.dataset.lang));
  for (const b of document.querySelectorAll("[data-hours]")) {
    b.addEventListener("click", () => {
      window_ = { hours: Number(b.dataset.hours) };
      load();
    });
  }
  $("apply").addEventListener("click", () => {
    if ($("from").value) window_ = { from: $("from").value, to: $("to").value };
    load();
  });
  $("verify").addEventListener("click", verify);
  onLangChange(render);
  onUnauthorized(() => requireLogin());
  render();
  const user = await ensureSession();
  $("user-name").textContent = user?.username || "";
  try {
    setTimeZone((await api.site()).timezone);
  } catch {
    // the default zone
  }
  await load();
}

main();
