// The selected device in full: status and why it is lost, its node, maintenance on/off with
// a reason, the commands its profile allows with their results, the Modbus error counters,
// every metric, and its recent samples (GET /api/devices/{id}/samples).
//
// Each section has its own container and is redrawn only when its data changes, so a live
// telemetry update never wipes a reason being typed.

import { h, svg, clear } from "../shared/dom.js";
import { t, pick, formatTime, formatDateTime } from "../shared/i18n.js";
import {
  MODBUS_KINDS, modbusCounters, isModbusMetric, formatValue, lostText, relativeTime, numericSeries, tf,
} from "./health.js";
import { devicesApi } from "./http.js";
import { FINAL } from "./commands.js";

const SAMPLES_REFRESH_MS = 3000;
const SAMPLE_ROWS = 8;

export class DetailPanel {
  constructor(root, { deviceOf, detailOf, zoneName, canOperate, commands, onClose, onChanged }) {
    Object.assign(this, { root, deviceOf, detailOf, zoneName, canOperate, commands, onClose, onChanged });
    this.id = null;
    this.samples = [];
    this.samplesAt = 0;
    this.samplesTimer = null;
    this.busy = false;
    this.error = "";
    this.parts = null;
  }

  show(id) {
    if (id === this.id) return;
    this.id = id;
    this.samples = [];
    this.error = "";
    this.render();
    if (id) this.loadSamples();
  }

  /** Everything again (selection, language, user). */
  render() {
    clear(this.root);
    this.root.dataset.device = this.id || "";
    if (!this.id || !this.deviceOf(this.id)) {
      this.parts = null;
      this.root.append(h("p", { class: "detail-hint muted" }, t("devices.select_hint")));
      return;
    }
    const section = (key, name) => {
      const body = h("div", { class: "section-body" });
      this.root.append(h("section", { class: `dsec sec-${name}`, dataset: { section: name } },
        h("h3", {}, t(key)), body));
      return body;
    };
    this.head = h("div", { class: "detail-head" });
    this.root.append(this.head);
    this.parts = {
      status: section("devices.section.status", "status"),
      maintenance: section("devices.section.maintenance", "maintenance"),
      commands: section("devices.section.commands", "commands"),
      modbus: section("devices.section.modbus", "modbus"),
      metrics: section("devices.section.metrics", "metrics"),
      samples: section("devices.section.samples", "samples"),
    };
    this.renderHead();
    this.renderStatus();
    this.renderMaintenance();
    this.renderCommands();
    this.renderMetrics();
    this.renderSamples();
  }

  /** The feed changed the device (status, metrics). */
  deviceUpdated() {
    if (!this.parts) return this.render();
    this.renderHead();
    this.renderStatus();
    this.renderMetrics();
    // New telemetry: the samples table follows, at most every few seconds.
    if (!this.samplesTimer) {
      const wait = Math.max(0, this.samplesAt + SAMPLES_REFRESH_MS - Date.now());
      this.samplesTimer = setTimeout(() => {
        this.samplesTimer = null;
        this.loadSamples();
      }, wait);
    }
  }

  /** GET /api/devices/{id} answered again (reason, maintenance, node, commands). */
  detailUpdated() {
    if (!this.parts) return this.render();
    this.renderHead();
    this.renderStatus();
    if (!this.busy && this.maintenanceSignature() !== this.maintenanceShown) this.renderMaintenance();
    if (!this.parts.commands.querySelector(".cmd-list")) this.renderCommands();
  }

  refreshCommands() {
    if (this.parts) this.renderCommandLog();
  }

  // ---------------------------------------------------------------- sections

  renderHead() {
    const d = this.deviceOf(this.id);
    const info = this.detailOf(this.id);
    clear(this.head).append(
      h("div", { class: "detail-title" },
        h("h2", { class: "mono" }, d.id),
        h("span", { class: `status-pill st-${d.status}` }, t(`device.${d.status}`, d.status))),
      h("div", { class: "detail-sub muted" },
        `${pick(info?.profile_name, t(`profile.${d.profile}`, d.profile))} · ${this.zoneName(d.zone)} · ${d.node}`),
      h("button", { type: "button", class: "btn btn-ghost detail-close", "aria-label": t("devices.close"),
        title: t("devices.close"), onclick: () => this.onClose() }, "✕"));
  }

  renderStatus() {
    const d = this.deviceOf(this.id);
    const info = this.detailOf(this.id);
    const node = info?.node_state;
    const reason = d.status === "online" ? "" : lostText(info);
    const rows = [
      [t("devices.col.status"), h("span", {},
        h("span", { class: `status-pill st-${d.status}` }, t(`device.${d.status}`, d.status)),
        reason ? h("span", { class: `lost-reason inline cause-${info?.lost_cause}` }, reason) : null)],
      info?.link_status && info.link_status !== d.status
        ? [t("devices.link_status"), t(`device.${info.link_status}`, info.link_status)] : null,
      [t("devices.col.last_seen"), h("span", { dataset: { lastSeen: d.last_seen || "" } }, relativeTime(d.last_seen)),
        d.last_seen ? formatDateTime(d.last_seen) : ""],
      info?.metrics_at ? [t("devices.metrics_at"), formatDateTime(info.metrics_at)] : null,
      node ? [t("devices.node_state"), h("span", {}, h("span", { class: "mono" }, node.id), " ",
        h("span", { class: `chip lv-${node.online ? "ok" : "bad"}` }, t(node.online ? "devices.node_online" : "devices.node_offline")),
        node.outbox ? h("span", { class: "chip lv-warn" }, `${t("devices.outbox")} ${node.outbox}`) : null)] : null,
      info?.transport ? [t("devices.transport"), info.transport] : null,
      info?.heartbeat_s ? [t("devices.heartbeat"), `${info.heartbeat_s.toFixed(1)} s`] : null,
    ].filter(Boolean);
    clear(this.parts.status).append(h("dl", { class: "kv" }, rows.map(([k, v, note]) => [
      h("dt", {}, k), h("dd", {}, v, note ? h("span", { class: "muted note" }, ` ${note}`) : null)])));
  }

  maintenanceSignature() {
    return JSON.stringify([this.detailOf(this.id)?.maintenance ?? null, this.canOperate()]);
  }

  renderMaintenance() {
    this.maintenanceShown = this.maintenanceSignature();
    const info = this.detailOf(this.id);
    const entries = info?.maintenance || [];
    const allowed = this.canOperate();
    const body = clear(this.parts.maintenance);
    const own = entries.find((e) => e.kind === "device");
    if (entries.length) {
      body.append(h("p", { class: "maint-state on" }, t("devices.maint.active")));
      for (const e of entries) {
        body.append(h("div", { class: "maint-entry", dataset: { kind: e.kind } },
          h("div", { class: "maint-reason" }, e.reason, e.kind === "zone" ? ` ${t("devices.maint.zone")}` : ""),
          h("div", { class: "muted note" },
            `${t("devices.maint.by")} ${e.by} · ${t("devices.maint.since")} ${formatDateTime(e.since)}`,
            e.until ? ` · ${t("devices.maint.until")} ${formatDateTime(e.until)}` : "")));
      }
      if (own) {
        body.append(h("button", { type: "button", class: "btn maint-off", disabled: !allowed || this.busy,
          onclick: () => this.maintenance(false) }, t("devices.maint.off")));
      } else {
        body.append(h("p", { class: "muted note" }, t("devices.maint.zone_note")));
      }
    } else {
      body.append(h("p", { class: "maint-state" }, t("devices.maint.inactive")));
    }
    if (!own) {
      const reason = h("input", { class: "maint-reason-input", name: "reason", maxlength: "500",
        placeholder: t("devices.maint.reason"), "aria-label": t("devices.maint.reason"), disabled: !allowed });
      const hours = h("input", { class: "maint-hours-input", name: "hours", type: "number", min: "0.1", max: "720",
        step: "0.5", placeholder: t("devices.maint.hours"), "aria-label": t("devices.maint.hours"), disabled: !allowed });
      const form = h("form", { class: "maint-form" }, reason, hours,
        h("button", { type: "submit", class: "btn btn-primary maint-on", disabled: !allowed || this.busy }, t("devices.maint.on")));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (!reason.value.trim()) {
          this.error = t("devices.maint.need_reason");
          this.renderError(body);
          reason.focus();
          return;
        }
        this.maintenance(true, reason.value.trim(), Number(hours.value) || null);
      });
      body.append(form);
    }
    if (!allowed) body.append(h("p", { class: "muted note" }, t("devices.forbidden")));
    this.renderError(body);
  }

  renderError(body) {
    body.querySelector(".action-error")?.remove();
    if (this.error) body.append(h("p", { class: "action-error", role: "alert" }, this.error));
  }

  async maintenance(on, reason, hours) {
    const id = this.id;
    this.busy = true;
    this.error = "";
    this.renderMaintenance();
    try {
      if (on) await devicesApi.maintenanceOn(id, reason, hours);
      else await devicesApi.maintenanceOff(id);
    } catch (err) {
      this.error = `${t("devices.error")}: ${err.status === 403 ? t("devices.forbidden") : err.detail || err.message}`;
    } finally {
      this.busy = false;
    }
    await this.onChanged(id);
    if (id === this.id) this.renderMaintenance();
  }

  renderCommands() {
    const info = this.detailOf(this.id);
    const body = clear(this.parts.commands);
    const list = info?.commands || [];
    if (!info) return;
    if (!list.length) {
      body.append(h("p", { class: "muted" }, t("devices.no_commands")));
      return;
    }
    const allowed = this.canOperate();
    const ul = h("ul", { class: "cmd-list" });
    for (const c of list) {
      const inputs = Object.entries(c.params || {}).map(([name, spec]) => h("input", {
        class: "cmd-param", name, type: spec.type === "str" ? "text" : "number",
        min: spec.min ?? null, max: spec.max ?? null, required: spec.required || null,
        placeholder: spec.min !== undefined && spec.max !== undefined ? `${spec.min}–${spec.max}` : "",
        "aria-label": name, title: name, disabled: !allowed,
      }));
      const fields = inputs.map((input) => h("label", { class: "cmd-field mono muted" }, input.name, input));
      const form = h("form", { class: ["cmd", c.dangerous && "dangerous"], dataset: { command: c.name } },
        h("div", { class: "cmd-name" },
          h("b", {}, t(`devices.cmd.name.${c.name}`, c.name)), " ", h("span", { class: "mono muted" }, c.name),
          c.dangerous ? h("span", { class: "chip lv-bad" }, t("devices.cmd.dangerous")) : null,
          c.description ? h("div", { class: "muted note" }, c.description) : null),
        h("div", { class: "cmd-controls" }, fields,
          h("button", { type: "submit", class: "btn cmd-send", disabled: !allowed }, t("devices.cmd.send"))));
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const params = {};
        for (const input of inputs) {
          if (input.value === "") continue;
          params[input.name] = input.type === "number" ? Number(input.value) : input.value;
        }
        const label = t(`devices.cmd.name.${c.name}`, c.name);
        if (c.dangerous && !window.confirm(tf("devices.cmd.confirm", { name: label, device: this.id }))) return;
        this.commands.send(this.id, c.name, params);
      });
      ul.append(h("li", {}, form));
    }
    body.append(ul);
    if (!allowed) body.append(h("p", { class: "muted note" }, t("devices.forbidden")));
    this.log = h("div", { class: "cmd-log-wrap" });
    body.append(this.log);
    this.renderCommandLog();
  }

  renderCommandLog() {
    if (!this.log || !this.log.isConnected) return;
    const entries = this.commands.of(this.id);
    clear(this.log);
    if (!entries.length) return;
    this.log.append(h("div", { class: "muted note" }, t("devices.cmd.history")),
      h("ol", { class: "cmd-log" }, entries.map((e) => h("li", {
        class: ["cmd-entry", FINAL.has(e.status) ? "final" : "open"],
        dataset: { id: e.id || "", status: e.status, command: e.name },
      },
      h("span", { class: "cmd-time mono" }, formatTime(e.sentAt)),
      h("span", { class: "cmd-what" }, t(`devices.cmd.name.${e.name}`, e.name)),
      h("span", { class: `cmd-status cs-${e.status}` }, t(`devices.cmd.status.${e.status}`, e.status)),
      e.detail ? h("span", { class: "cmd-detail muted", title: e.detail }, e.detail) : null))));
  }

  renderMetrics() {
    const d = this.deviceOf(this.id);
    const metrics = d.metrics || {};
    const bus = modbusCounters(metrics);
    const modbusSection = this.parts.modbus.parentElement;
    modbusSection.hidden = !bus;
    if (bus) {
      clear(this.parts.modbus).append(
        h("div", { class: "modbus-grid" }, MODBUS_KINDS.map((kind) => h("div", {
          class: ["counter", bus.counts[kind] > 0 && "bad"], dataset: { kind },
        }, h("div", { class: "counter-n" }, String(bus.counts[kind])),
        h("div", { class: "counter-label" }, t(`devices.modbus.${kind}`))))),
        h("div", { class: "modbus-last" }, h("span", { class: "muted" }, `${t("devices.modbus.last_error")}: `),
          h("span", { class: "mono" }, bus.lastError || "–")));
    }
    const units = this.detailOf(this.id)?.units || {};
    const names = Object.keys(metrics).filter((n) => !isModbusMetric(n)).sort();
    const body = clear(this.parts.metrics);
    if (!names.length) {
      body.append(h("p", { class: "muted" }, t("devices.no_metrics")));
      return;
    }
    body.append(h("table", { class: "metrics" }, h("tbody", {}, names.map((n) => h("tr", { dataset: { metric: n } },
      h("th", { class: "mono" }, n),
      h("td", { class: "mono" }, n === "diagnosis" ? `${formatValue(metrics[n])} (${t(`diagnosis.${metrics[n]}`, "")})`
        : formatValue(metrics[n]) + (units[n] && typeof metrics[n] === "number" ? ` ${units[n]}` : "")))))));
  }

  async loadSamples() {
    const id = this.id;
    if (!id) return;
    this.samplesAt = Date.now();
    try {
      const rows = await devicesApi.samples(id);
      if (id !== this.id) return;
      this.samples = rows;
      this.renderSamples();
    } catch (err) {
      console.warn("samples:", err);
    }
  }

  renderSamples() {
    if (!this.parts) return;
    const body = clear(this.parts.samples);
    if (!this.samples.length) {
      body.append(h("p", { class: "muted" }, t("devices.no_samples")));
      return;
    }
    const series = numericSeries(this.samples);
    if (series.length) {
      body.append(h("div", { class: "sparks" }, series.map(([name, points]) => sparkline(name, points))));
    }
    const recent = this.samples.slice(-SAMPLE_ROWS).reverse();
    body.append(h("table", { class: "samples" },
      h("thead", {}, h("tr", {}, h("th", {}, t("devices.samples.time")), h("th", {}, t("devices.samples.values")))),
      h("tbody", {}, recent.map((s) => h("tr", {},
        h("td", { class: "mono" }, formatTime(s.ts), s.hist ? h("span", { class: "chip lv-muted" }, t("devices.samples.hist")) : null),
        h("td", { class: "mono sample-metrics" }, Object.entries(s.metrics || {})
          .filter(([n]) => !isModbusMetric(n))
          .map(([n, v]) => `${n}=${formatValue(v)}`).join("  ")))))));
  }
}

function sparkline(name, points) {
  const w = 160;
  const hgt = 36;
  const vs = points.map((p) => p.v);
  const lo = Math.min(...vs);
  const hi = Math.max(...vs);
  const t0 = points[0].ts;
  const span = Math.max(1, points[points.length - 1].ts - t0);
  const y = (v) => (hi === lo ? hgt / 2 : hgt - 3 - ((v - lo) / (hi - lo)) * (hgt - 6));
  const path = points.map((p, i) => `${i ? "L" : "M"}${(((p.ts - t0) / span) * w).toFixed(1)},${y(p.v).toFixed(1)}`).join(" ");
  const last = vs[vs.length - 1];
  return h("figure", { class: "spark", dataset: { metric: name } },
    h("figcaption", {}, h("span", { class: "mono" }, name), h("b", {}, formatValue(last))),
    svg("svg", { viewBox: `0 0 ${w} ${hgt}`, width: w, height: hgt, preserveAspectRatio: "none", role: "img",
      "aria-label": `${name}: ${formatValue(lo)} – ${formatValue(hi)}` },
    svg("path", { d: path, "vector-effect": "non-scaling-stroke" })),
    h("div", { class: "spark-range muted" }, `${formatValue(lo)} – ${formatValue(hi)}`));
}
