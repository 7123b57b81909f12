// Alarm management on the wall's alarm rows (docs/alarms.md): shelved and suppressed
// badges, the latest comment, and two small inline forms — comment, shelve (with a reason
// and a duration) / unshelve.  The server's answer comes back over the live feed; a
// refusal (no reason, longer than the role may shelve, a rule never shelved) is shown in
// the row.  No blocking dialogs: the wall keeps updating while a form is open.

import { h } from "../shared/dom.js";
import { lang, formatTime } from "../shared/i18n.js";

const LABELS = {
  shelved: { zh: "已搁置", en: "Shelved" },
  until: { zh: "至", en: "until" },
  suppressed: { zh: "维护中·已抑制", en: "Suppressed (maintenance)" },
  comment: { zh: "备注", en: "Comment" },
  shelve: { zh: "搁置", en: "Shelve" },
  unshelve: { zh: "取消搁置", en: "Unshelve" },
  reason: { zh: "搁置原因", en: "Reason" },
  text: { zh: "备注内容", en: "Comment" },
  save: { zh: "提交", en: "Save" },
  cancel: { zh: "取消", en: "Cancel" },
  minutes: { zh: "分钟", en: "min" },
};
const DURATIONS_MIN = [15, 30, 60, 240, 480];

function l(key) {
  return LABELS[key][lang()];
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new Error(typeof data.detail === "string" ? data.detail : `HTTP ${response.status}`);
  }
  return response.json();
}

/** Badges under the message: shelved (until, by, why), suppressed, the latest comment. */
export function badges(alarm) {
  const out = [];
  if (alarm.shelved) {
    out.push(h("p", { class: "alarm-badge alarm-shelved" },
      `${l("shelved")} ${l("until")} ${formatTime(alarm.shelved.until)} · ${alarm.shelved.by}: ${alarm.shelved.reason}`));
  }
  if (alarm.suppressed_by) {
    out.push(h("p", { class: "alarm-badge alarm-suppressed" }, `${l("suppressed")} · ${alarm.suppressed_by}`));
  }
  const last = (alarm.comments || []).at(-1);
  if (last) {
    out.push(h("p", { class: "alarm-comment" }, h("b", {}, `${last.by} ${formatTime(last.at)}: `), last.text));
  }
  return out;
}

export class AlarmActions {
  constructor({ onChange }) {
    this.onChange = onChange;
    this.open = new Map(); // alarm id → "comment" | "shelve"
    this.drafts = new Map(); // alarm id → {text, reason, minutes}
    this.errors = new Map();
  }

  /** Part of the row's signature: the row is rebuilt when a form opens or fails. */
  sig(id) {
    return [this.open.get(id) ?? "", this.errors.get(id) ?? ""];
  }

  toggle(id, form) {
    this.open.set(id, this.open.get(id) === form ? "" : form);
    this.errors.delete(id);
    this.onChange();
  }

  buttons(alarm) {
    const out = [h("button", { type: "button", class: "btn btn-ghost alarm-act", "data-act": "comment",
      onclick: () => this.toggle(alarm.id, "comment") }, l("comment"))];
    if (alarm.shelved) {
      out.push(h("button", { type: "button", class: "btn btn-ghost alarm-act", "data-act": "unshelve",
        onclick: () => this.run(alarm.id, `/api/alarms/${alarm.id}/unshelve`, {}) }, l("unshelve")));
    } else if (alarm.state !== "cleared") {
      out.push(h("button", { type: "button", class: "btn btn-ghost alarm-act", "data-act": "shelve",
        onclick: () => this.toggle(alarm.id, "shelve") }, l("shelve")));
    }
    return out;
  }

  form(alarm) {
    const id = alarm.id;
    const which = this.open.get(id);
    const error = this.errors.get(id);
    if (!which) return error ? h("p", { class: "alarm-error", role: "alert" }, error) : null;
    const draft = this.drafts.get(id) || { text: "", reason: "", minutes: 30 };
    this.drafts.set(id, draft);
    const fields = [];
    if (which === "comment") {
      const input = h("input", { class: "alarm-input", name: "text", maxlength: 1000,
        placeholder: l("text"), oninput: (e) => { draft.text = e.target.value; } });
      input.value = draft.text;
      fields.push(input);
    } else {
      const reason = h("input", { class: "alarm-input", name: "reason", maxlength: 500,
        placeholder: l("reason"), oninput: (e) => { draft.reason = e.target.value; } });
      reason.value = draft.reason;
      const minutes = h("select", { class: "alarm-input", name: "minutes",
        onchange: (e) => { draft.minutes = Number(e.target.value); } },
      DURATIONS_MIN.map((m) => h("option", { value: m, selected: m === draft.minutes }, `${m} ${l("minutes")}`)));
      fields.push(reason, minutes);
    }
    const submit = (event) => {
      event.preventDefault();
      if (which === "comment") {
        this.run(id, `/api/alarms/${id}/comment`, { text: draft.text });
      } else {
        this.run(id, `/api/alarms/${id}/shelve`, { reason: draft.reason, duration_s: draft.minutes * 60 });
      }
    };
    return h("form", { class: "alarm-form", "data-form": which, onsubmit: submit }, fields,
      h("button", { type: "submit", class: "btn" }, l("save")),
      h("button", { type: "button", class: "btn btn-ghost", onclick: () => this.toggle(id, which) }, l("cancel")),
      error ? h("span", { class: "alarm-error", role: "alert" }, error) : null);
  }

  async run(id, path, body) {
    try {
      await post(path, body);
      this.open.delete(id);
      this.drafts.delete(id);
      this.errors.delete(id);
    } catch (err) {
      this.errors.set(id, err.message);
    }
    this.onChange();
  }
}
