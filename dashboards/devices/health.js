// What a device's state and metrics say about its health, as short texts and numbers for
// the technicians' page.  Pure functions of the data (and the clock passed in), no DOM.

import { t, pick } from "../shared/i18n.js";

/** Status order: what needs a technician first. */
export const STATUSES = ["offline", "stale", "unknown", "maintenance", "online"];

/** The gateway's error kinds (gateway/device.py ERROR_KINDS), published per device as
 * the metrics modbus_errors_<kind>, with modbus_last_error the last reason. */
export const MODBUS_KINDS = ["timeout", "unreachable", "exception", "bad_response", "out_of_range", "internal"];
export const MODBUS_LAST_ERROR = "modbus_last_error";
const BATTERY_METRICS = ["battery", "battery_level", "battery_pct", "battery_percent"];

/** A label with {name} placeholders filled in. */
export function tf(key, vars = {}) {
  return t(key).replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

/** Counts per status over every device (the header's tiles). */
export function statusCounts(devices) {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const d of devices) counts[d.status] = (counts[d.status] ?? 0) + 1;
  return counts;
}

/** "12 秒前" / "3 min ago" from an ISO time; "" for none.  Clock skew never shows as
 * a time in the future. */
export function relativeTime(iso, nowMs = Date.now()) {
  if (!iso) return t("devices.never");
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return "";
  const s = Math.max(0, Math.floor((nowMs - then) / 1000));
  if (s < 60) return tf("devices.ago.s", { n: s });
  if (s < 3600) return tf("devices.ago.m", { n: Math.floor(s / 60) });
  if (s < 86400) return tf("devices.ago.h", { n: Math.floor(s / 3600) });
  return tf("devices.ago.d", { n: Math.floor(s / 86400) });
}

/** The Modbus error counters of a device, or null when it has none (not on a bus). */
export function modbusCounters(metrics) {
  if (!metrics) return null;
  const counts = {};
  let seen = false;
  for (const kind of MODBUS_KINDS) {
    const v = metrics[`modbus_errors_${kind}`];
    if (typeof v === "number") seen = true;
    counts[kind] = typeof v === "number" ? v : 0;
  }
  if (!seen && !(MODBUS_LAST_ERROR in metrics)) return null;
  const total = MODBUS_KINDS.reduce((n, k) => n + counts[k], 0);
  return { counts, total, lastError: metrics[MODBUS_LAST_ERROR] || "" };
}

export function isModbusMetric(name) {
  return name.startsWith("modbus_errors_") || name === MODBUS_LAST_ERROR;
}

/** A battery level in percent, when the device reports one. */
export function battery(metrics) {
  for (const name of BATTERY_METRICS) {
    const v = metrics?.[name];
    if (typeof v === "number") return Math.round(v <= 1 && name === "battery" ? v * 100 : v);
  }
  return null;
}

/** Why the device is not online, in the page's language ("" when it is). */
export function lostText(detail) {
  if (!detail?.lost_cause) return "";
  const cause = t(`devices.lost.${detail.lost_cause}`);
  // lost_text ({zh, en}, the node's reason worded by the server) when the server has it.
  const reason = pick(detail.lost_text, detail.lost_reason);
  return reason ? `${cause}: ${reason}` : cause;
}

/** The key metrics of a row: [{key, text, level: "ok"|"warn"|"bad"|"muted", title}]. */
export function keyMetrics(device) {
  const m = device.metrics || {};
  const chips = [];
  const level = battery(m);
  if (level !== null) {
    chips.push({ key: "battery", text: `${t("devices.battery")} ${level}%`,
      level: level < 20 ? "bad" : level < 40 ? "warn" : "ok" });
  }
  if (typeof m.diagnosis === "string" && m.diagnosis) {
    chips.push({ key: "diagnosis", text: t(`diagnosis.${m.diagnosis}`, m.diagnosis),
      level: m.diagnosis === "ok" ? "ok" : m.diagnosis === "starting" ? "muted" : "bad",
      title: m.diagnosis_detail || "" });
  }
  const bus = modbusCounters(m);
  if (bus) {
    const parts = MODBUS_KINDS.filter((k) => bus.counts[k] > 0)
      .map((k) => `${t(`devices.modbus.${k}`)} ${bus.counts[k]}`);
    chips.push(bus.total > 0
      ? { key: "modbus", text: `${t("devices.modbus_errors")} ${bus.total}`, level: "warn",
        title: [...parts, bus.lastError && `${t("devices.modbus.last_error")}: ${bus.lastError}`].filter(Boolean).join("\n") }
      : { key: "modbus", text: t("devices.modbus_ok"), level: "muted" });
  }
  // A device that does not report shows its last known values, greyed.
  return device.status === "online" ? chips : chips.map((c) => ({ ...c, level: "muted" }));
}

/** A metric value as text: booleans as ✓/✗, numbers trimmed, lists by their length. */
export function formatValue(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "boolean") return value ? "✓ true" : "✗ false";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(2);
  if (Array.isArray(value)) return value.length ? `[${value.length}] ${value.slice(0, 6).join(", ")}${value.length > 6 ? "…" : ""}` : "[]";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Numeric metrics of a series of samples that change: name -> [{ts, v}] (sparklines). */
export function numericSeries(samples, limit = 4) {
  const series = new Map();
  for (const s of samples) {
    for (const [name, v] of Object.entries(s.metrics || {})) {
      if (typeof v !== "number" || isModbusMetric(name)) continue;
      if (!series.has(name)) series.set(name, []);
      series.get(name).push({ ts: Date.parse(s.ts), v });
    }
  }
  return [...series.entries()].filter(([, points]) => points.length >= 2).slice(0, limit);
}

/** Compare two devices for a column (numbers and texts; missing values last). */
export function compareBy(key, a, b, zoneName) {
  const value = (d) => {
    switch (key) {
      case "status": return STATUSES.indexOf(d.status);
      case "last_seen": return d.last_seen ? -Date.parse(d.last_seen) : Infinity;
      case "zone": return zoneName(d.zone);
      case "health": return -(modbusCounters(d.metrics)?.total ?? -1);
      default: return d[key] ?? "";
    }
  };
  const va = value(a);
  const vb = value(b);
  if (typeof va === "number" && typeof vb === "number") return va - vb || a.id.localeCompare(b.id);
  return String(va).localeCompare(String(vb), "zh-CN") || a.id.localeCompare(b.id);
}
