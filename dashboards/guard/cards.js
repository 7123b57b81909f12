// The guard page's alert cards and the full-screen critical alert (guard.js renders them).
// A card is rebuilt only when its alert changed, so a note being typed is not lost to an
// unrelated update.  `view`: {state, act(alert, step), zoneName(id)}.

import { h, clear } from "../shared/dom.js";
import { lang, ruleName, formatTime } from "../shared/i18n.js";
import { g } from "./labels.js";

const cards = new Map(); // alarm id → {el, sig}: a card is rebuilt only when it changed

export function renderList(list, alerts, view) {
  const keep = new Set();
  let previous = null;
  for (const a of alerts) {
    keep.add(a.id);
    const sig = JSON.stringify([a, view.state.busy.has(a.id), view.state.missed.has(a.id), lang()]);
    let entry = cards.get(a.id);
    if (!entry || entry.sig !== sig) {
      const focused = entry && entry.el.contains(document.activeElement);
      const el = card(a, view);
      if (entry) entry.el.replaceWith(el);
      entry = { el, sig };
      cards.set(a.id, entry);
      if (focused) el.querySelector("textarea")?.focus(); // typing a note is not interrupted
    }
    const expected = previous ? previous.nextSibling : list.firstChild;
    if (expected !== entry.el) list.insertBefore(entry.el, expected);
    previous = entry.el;
  }
  for (const [id, entry] of cards) {
    if (!keep.has(id)) {
      entry.el.remove();
      cards.delete(id);
    }
  }
}

function card(a, view) {
  const d = a.delivery || {};
  const open = a.state !== "cleared";
  const busy = view.state.busy.has(a.id);
  const note = h("textarea", { class: "note", rows: 2, maxlength: 1000, placeholder: g("note"),
    oninput: (e) => view.state.notes.set(a.id, e.target.value) });
  note.value = view.state.notes.get(a.id) || "";
  const button = (step, label, cls) => h("button", { type: "button", class: `btn big ${cls}`,
    "data-step": step, disabled: busy, onclick: () => view.act(a, step) }, label);
  const steps = ["delivered", "seen", "acknowledged", "arrived", "resolved"];
  return h("li", {
    class: ["alert", `sev-${a.severity}`, `state-${a.state}`, view.state.missed.has(a.id) && "missed"],
    "data-alarm-id": a.id, "data-rule": a.rule, "data-state": a.state, "data-zone": a.zone ?? "",
    "data-step": d.step || "sent",
  },
  h("div", { class: "alert-head" },
    h("span", { class: "sev" }, g(`severity.${a.severity}`)),
    h("span", { class: "rule" }, ruleName(a.rule)),
    view.state.missed.has(a.id) ? h("span", { class: "tag missed-tag" }, g("missed_tag")) : null,
    h("time", { datetime: a.raised_at }, formatTime(a.raised_at))),
  h("div", { class: "zone" }, view.zoneName(a.zone), a.subject ? h("span", { class: "subject" }, a.subject) : null),
  h("p", { class: "msg" }, lang() === "en" ? a.message_en : a.message_zh),
  h("p", { class: "todo" }, h("b", {}, `${g("todo")}: `), lang() === "en" ? a.todo_en : a.todo_zh),
  h("div", { class: "meta" },
    h("span", { class: "state" }, g(`view.state.${a.state}`)),
    d.level !== undefined ? h("span", { class: "level" }, g(`level.${d.level}`)) : null,
    a.acked_by ? h("span", { class: "acked" }, `${g("acked_by")} `, h("b", { class: "acked-by" }, a.acked_by)) : null),
  h("ol", { class: "steps" }, steps.map((s) => h("li", { class: d[`${s}_at`] ? "done" : "" }, g(`step.${s}`)))),
  a.queued ? h("p", { class: "queued" }, g("queued")) : null,
  a.error ? h("p", { class: "error", role: "alert" }, a.error) : null,
  open ? h("div", { class: "actions" },
    !a.acked_by ? button("acknowledged", g("ack"), "btn-ack") : null,
    !d.arrived_at ? button("arrived", g("arrived"), "btn-arrived") : null,
    !d.resolved_at ? button("resolved", g("resolved"), "btn-resolved") : null) : null,
  open && !d.resolved_at ? note : null);
}

export function fillFlash(overlay, a, view) {
  clear(overlay);
  overlay.append(
    h("div", { class: "flash-sev" }, g(`severity.${a.severity}`)),
    h("div", { class: "flash-rule" }, ruleName(a.rule)),
    h("div", { class: "flash-zone" }, view.zoneName(a.zone)),
    h("p", { class: "flash-todo" }, lang() === "en" ? a.todo_en : a.todo_zh),
    h("button", { type: "button", class: "btn big btn-ack", id: "flash-ack",
      onclick: () => view.act(a, "acknowledged") }, g("ack")));
}
