// The floor plan: one SVG group per zone, drawn from GET /api/site (plan units, scaled
// to fit by the viewBox).  Room contents are HTML inside a foreignObject so names and
// occupant badges wrap inside the room instead of overflowing it.

import { h, svg, clear } from "../shared/dom.js";
import { t, pick } from "../shared/i18n.js";

const XHTML = "http://www.w3.org/1999/xhtml";
const MAX_BADGES = 8;

export function isInCustody(person) {
  return Boolean(person && (person.in_custody || person.role === "suspect"));
}

export function isStaff(person) {
  return Boolean(person && (person.role === "officer" || person.role === "guard"));
}

/** The people of a zone as [{id, role, in_custody}] whatever the server sent. */
export function zonePeople(zone) {
  if (Array.isArray(zone.people) && zone.people.length) return zone.people;
  return (zone.occupants || []).map((id) => ({ id, role: null, in_custody: false }));
}

export class FloorPlan {
  constructor(svgEl, { onSelect }) {
    this.svg = svgEl;
    this.onSelect = onSelect;
    this.groups = new Map();
  }

  setSite(site) {
    clear(this.svg);
    this.groups.clear();
    const { width, height } = site.floor;
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    this.svg.append(svg("rect", { class: "floor", x: 0, y: 0, width, height, rx: 10 }));
    for (const zone of site.zones) {
      const { x, y, w, h: hh } = zone.rect;
      const rect = svg("rect", { class: "zone-rect", x: x + 1, y: y + 1, width: w - 2, height: hh - 2, rx: 6 });
      const outline = svg("rect", { class: "zone-pulse", x: x + 1, y: y + 1, width: w - 2, height: hh - 2, rx: 6 });
      const body = document.createElementNS(XHTML, "div");
      body.setAttribute("class", "zone-body");
      const fo = svg("foreignObject", { x, y, width: w, height: hh }, body);
      const title = svg("title");
      const group = svg("g", {
        class: "zone", tabindex: 0, role: "button", "data-zone": zone.id,
        onclick: () => this.onSelect(zone.id),
        onkeydown: (event) => {
          if (event.key === "Enter" || event.key === " ") {
            event.preventDefault();
            this.onSelect(zone.id);
          }
        },
      }, title, rect, fo, outline);
      if (hh < 80) group.classList.add("zone-thin");
      this.svg.append(group);
      this.groups.set(zone.id, { group, body, title });
    }
  }

  /**
   * zones: Map id → zone JSON; view: {severity(zoneId), pulsing(zoneId), selected}.
   */
  render(zones, view) {
    for (const [id, parts] of this.groups) {
      const zone = zones.get(id);
      if (!zone) continue;
      const people = zonePeople(zone);
      const severity = view.severity(id);
      const status = severity ? "alarm" : people.length ? "occupied" : "empty";
      const g = parts.group;
      g.setAttribute("class", [
        "zone", `status-${status}`, severity && `sev-${severity}`,
        view.pulsing(id) && "pulse", view.selected === id && "selected",
        parts.group.classList.contains("zone-thin") && "zone-thin",
      ].filter(Boolean).join(" "));
      g.setAttribute("data-status", status);
      g.setAttribute("aria-pressed", view.selected === id ? "true" : "false");
      const name = pick(zone.name, id);
      const label = `${name}: ${t(`zone.status.${status}`)}`
        + (severity ? ` (${t(`severity.${severity}`)})` : "")
        + (people.length ? ` — ${people.map((p) => p.id).join(", ")}` : "");
      g.setAttribute("aria-label", label);
      parts.title.textContent = label;
      this.fill(parts.body, zone, name, people);
    }
  }

  fill(body, zone, name, people) {
    clear(body);
    const head = h("div", { class: "zone-head" }, h("span", { class: "zone-name" }, name));
    if (zone.capacity) {
      const inCustody = people.filter(isInCustody).length;
      head.append(h("span", {
        class: ["zone-cap", inCustody > zone.capacity && "over"],
        title: t("zone.capacity"),
      }, `${inCustody}/${zone.capacity}`));
    }
    const badges = h("div", { class: "zone-people" });
    for (const person of people.slice(0, MAX_BADGES)) badges.append(badge(person));
    if (people.length > MAX_BADGES) {
      badges.append(h("span", { class: "badge more" }, `+${people.length - MAX_BADGES}`));
    }
    body.append(head, badges);
  }
}

export function badge(person) {
  const kind = isInCustody(person) ? "suspect" : isStaff(person) ? "staff" : "other";
  const role = person.role ? t(`role.${person.role}`) : t(`legend.${kind}`);
  return h("span", { class: ["badge", kind], title: `${person.id} · ${role}`, "data-person": person.id },
    person.id);
}
