// Commands sent from this page and what became of them.
//
// POST /api/devices/{id}/commands answers 202 with the command's id and expiry; the node
// executes it and answers with a CommandResult, which the server pushes on the live feed
// as {type: "command_result", result: {id, node, status, detail, at}}.  Only the page that
// sent a command knows its id, so the result shows to the user who asked.  A command still
// unanswered a little after its expiry is shown as "no answer" (the node never said).

import { devicesApi } from "./http.js";

const ANSWER_GRACE_MS = 5000; // a result may travel a little after the expiry it answers
const KEPT = 50; // per page session
const MAX_TTL_MS = 120_000;

export const FINAL = new Set(["done", "refused", "failed", "timeout", "expired", "unknown_command",
  "no_answer", "error"]);

export class CommandTracker {
  constructor({ onChange }) {
    this.onChange = onChange;
    this.entries = []; // newest first: {key, id, device, name, params, status, detail, sentAt, expiresMs}
    this.early = new Map(); // results that arrived before the 202 answer, by id
    this.seq = 0;
  }

  /** Entries for one device, newest first. */
  of(device) {
    return this.entries.filter((e) => e.device === device);
  }

  async send(device, name, params) {
    const entry = { key: `c${++this.seq}`, id: null, device, name, params, status: "sending",
      detail: "", sentAt: Date.now(), expiresMs: null };
    this.entries.unshift(entry);
    this.entries.length = Math.min(this.entries.length, KEPT);
    this.onChange();
    try {
      const answer = await devicesApi.command(device, name, params);
      entry.id = answer.id;
      // The expiry is on the server's clock; this browser's may differ, so keep the span.
      const span = Math.min(Math.max(answer.expires_ms - Date.now(), 1000), MAX_TTL_MS);
      entry.expiresMs = Date.now() + span;
      entry.status = "pending";
      const early = this.early.get(answer.id);
      if (early) {
        this.early.delete(answer.id);
        this.apply(entry, early);
      }
    } catch (err) {
      entry.status = "error";
      entry.detail = err.detail || err.message;
    }
    this.onChange();
    return entry;
  }

  /** A result from the live feed (for any command; ours are matched by id). */
  result(result) {
    if (!result?.id) return;
    const entry = this.entries.find((e) => e.id === result.id);
    if (entry) {
      this.apply(entry, result);
      this.onChange();
    } else if (this.entries.some((e) => e.status === "sending")) {
      // Our POST's answer may still be on its way: keep the result for it, briefly.
      this.early.set(result.id, result);
      if (this.early.size > KEPT) this.early.delete(this.early.keys().next().value);
    }
  }

  apply(entry, result) {
    entry.status = result.status;
    entry.detail = result.detail || "";
    entry.answeredAt = result.at ? Date.parse(result.at) : Date.now();
  }

  /** Called every second: a pending command past its expiry had no answer. */
  expire(now) {
    let changed = false;
    for (const e of this.entries) {
      if (e.status === "pending" && e.expiresMs && now > e.expiresMs + ANSWER_GRACE_MS) {
        e.status = "no_answer";
        changed = true;
      }
    }
    if (changed) this.onChange();
  }
}
