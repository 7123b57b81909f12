// The live alarm list: newest first, coloured by severity, one-click acknowledge.
// Rows are keyed by alarm id and rebuilt only when their content changed, so a button
// being pressed is not replaced under the operator's pointer by an unrelated update.

import { h, clear } from "../shared/dom.js";
import { t, lang, ruleName, formatTime, formatDateTime } from "../shared/i18n.js";
import { AlarmActions, badges } from "./alarmactions.js";

export const SEVERITY_ORDER = ["critical", "major", "minor", "warning"];
const NEEDS_ACK = new Set(["active_unacked", "cleared_unacked"]);
export const ACTIVE = new Set(["active_unacked", "active_acked"]);

export function newestFirst(a, b) {
  const ta = Date.parse(a.raised_at) || 0;
  const tb = Date.parse(b.raised_at) || 0;
  return tb - ta || b.id - a.id;
}

export class AlarmList {
  /** options.onAck(alarm) → Promise; options.zoneName(zoneId) → string. */
  constructor(listEl, emptyEl, { onAck, zoneName }) {
    this.list = listEl;
    this.empty = emptyEl;
    this.onAck = onAck;
    this.zoneName = zoneName;
    this.rows = new Map(); // id → {el, sig}
    this.busy = new Set(); // ids with an acknowledge in flight
    this.failed = new Set(); // ids whose last acknowledge failed
    this.actions = new AlarmActions({ onChange: () => this.refresh() }); // comment, shelve
  }

  render(alarms, { highlightZone = null, langTag = "" } = {}) {
    const keep = new Set();
    let previous = null;
    for (const alarm of alarms) {
      keep.add(alarm.id);
      const highlight = highlightZone !== null && alarm.zone === highlightZone;
      const sig = JSON.stringify([alarm, highlight, langTag, this.busy.has(alarm.id),
        this.failed.has(alarm.id), this.actions.sig(alarm.id)]);
      let row = this.rows.get(alarm.id);
      if (!row) {
        row = { el: h("li", { class: "alarm" }), sig: "" };
        this.rows.set(alarm.id, row);
      }
      if (row.sig !== sig) {
        this.fill(row.el, alarm, highlight);
        row.sig = sig;
      }
      // Keep DOM order equal to `alarms` with the fewest moves.
      const expected = previous ? previous.nextSibling : this.list.firstChild;
      if (expected !== row.el) this.list.insertBefore(row.el, expected);
      previous = row.el;
    }
    for (const [id, row] of this.rows) {
      if (!keep.has(id)) {
        row.el.remove();
        this.rows.delete(id);
      }
    }
    this.empty.hidden = alarms.length > 0;
  }

  fill(el, alarm, highlight) {
    el.className = ["alarm", `sev-${alarm.severity}`, `state-${alarm.state}`,
      highlight && "highlight", alarm.shelved && "shelved", alarm.suppressed_by && "suppressed",
    ].filter(Boolean).join(" ");
    el.dataset.alarmId = String(alarm.id);
    el.dataset.rule = alarm.rule;
    el.dataset.state = alarm.state;
    el.dataset.zone = alarm.zone ?? "";
    clear(el);

    const head = h("div", { class: "alarm-head" },
      h("span", { class: "alarm-sev" }, t(`severity.${alarm.severity}`)),
      h("span", { class: "alarm-rule" }, ruleName(alarm.rule)),
      alarm.count > 1 ? h("span", { class: "alarm-count", title: t("alarms.count") }, `×${alarm.count}`) : null,
      h("time", { class: "alarm-time", datetime: alarm.raised_at, title: formatDateTime(alarm.raised_at) },
        formatTime(alarm.raised_at)));

    const where = h("div", { class: "alarm-where" });
    if (alarm.zone) where.append(h("span", { class: "alarm-zone" }, this.zoneName(alarm.zone)));
    if (alarm.subject) {
      where.append(h("span", { class: "alarm-subject", title: t("alarms.subject") }, alarm.subject));
    }

    const message = (lang() === "en" ? alarm.message_en : alarm.message_zh)
      || alarm.message_zh || alarm.message_en || "";

    const foot = h("div", { class: "alarm-foot" },
      h("span", { class: "alarm-state" }, t(`state.${alarm.state}`)));
    if (alarm.acked_by) {
      foot.append(h("span", { class: "alarm-acked" },
        `${t("alarms.acked_by")} `, h("b", { class: "alarm-acked-by" }, alarm.acked_by),
        alarm.acked_at ? ` ${formatTime(alarm.acked_at)}` : ""));
    }
    if (alarm.cleared_at) {
      foot.append(h("span", { class: "alarm-cleared" },
        `${t("alarms.cleared")} ${formatTime(alarm.cleared_at)}`));
    }
    if (this.failed.has(alarm.id)) {
      foot.append(h("span", { class: "alarm-error", role: "alert" }, t("alarms.ack_failed")));
    }
    if (NEEDS_ACK.has(alarm.state)) {
      const busy = this.busy.has(alarm.id);
      foot.append(h("button", {
        type: "button", class: "btn ack", disabled: busy,
        "aria-label": `${t("alarms.ack")}: ${ruleName(alarm.rule)} ${alarm.subject ?? ""}`.trim(),
        onclick: () => this.acknowledge(alarm),
      }, t(busy ? "alarms.acking" : "alarms.ack")));
    }

    foot.append(...this.actions.buttons(alarm));
    const form = this.actions.form(alarm);
    el.append(head, where, ...(message ? [h("p", { class: "alarm-msg" }, message)] : []),
      ...badges(alarm), foot, ...(form ? [form] : []));
  }

  async acknowledge(alarm) {
    if (this.busy.has(alarm.id)) return;
    this.busy.add(alarm.id);
    this.failed.delete(alarm.id);
    this.refresh();
    try {
      await this.onAck(alarm);
    } catch (err) {
      console.warn("acknowledge failed", err);
      this.failed.add(alarm.id);
    } finally {
      this.busy.delete(alarm.id);
      this.refresh();
    }
  }

  /** Set by the page: re-render with the current state. */
  refresh() {}
}
