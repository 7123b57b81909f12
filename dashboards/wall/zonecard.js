// The details card of the selected zone: kind, capacity, who is in it, its devices.

import { h, clear } from "../shared/dom.js";
import { t, pick, formatTime } from "../shared/i18n.js";
import { badge, isInCustody, isStaff, zonePeople } from "./floorplan.js";

const DEVICE_ORDER = ["offline", "stale", "unknown", "maintenance", "online"];

export function renderZoneCard(card, zone, devices, { onClose }) {
  clear(card);
  if (!zone) {
    card.hidden = true;
    return;
  }
  card.hidden = false;
  card.classList.remove("rollcall");
  card.dataset.zone = zone.id;
  const people = zonePeople(zone);

  const close = h("button", { type: "button", class: "btn btn-ghost card-close", "aria-label": t("zone.close"),
    title: t("zone.close"), onclick: onClose }, "✕");
  const head = h("div", { class: "card-head" },
    h("h2", { class: "card-title" }, pick(zone.name, zone.id)),
    h("span", { class: "card-id" }, zone.id), close);

  const facts = h("dl", { class: "card-facts" },
    h("dt", {}, t("zone.kind")), h("dd", {}, t(`kind.${zone.kind}`, zone.kind)),
    zone.capacity ? [h("dt", {}, t("zone.capacity")), h("dd", {}, String(zone.capacity))] : null);

  const occupants = h("div", { class: "card-people" });
  if (people.length) {
    for (const person of people) {
      occupants.append(h("span", { class: "card-person" }, badge(person),
        person.role ? h("span", { class: "card-role" }, t(`role.${person.role}`, person.role)) : null));
    }
  } else {
    occupants.append(h("span", { class: "muted" }, t("zone.nobody")));
  }

  const zoneDevices = devices.filter((d) => d.zone === zone.id).sort((a, b) =>
    DEVICE_ORDER.indexOf(a.status) - DEVICE_ORDER.indexOf(b.status) || a.id.localeCompare(b.id));
  const list = h("ul", { class: "card-devices" });
  for (const device of zoneDevices) {
    const status = DEVICE_ORDER.includes(device.status) ? device.status : "unknown";
    list.append(h("li", { class: ["device", `dev-${status}`], "data-device": device.id,
      title: device.last_seen ? formatTime(device.last_seen) : "" },
    h("span", { class: "dot", "aria-hidden": "true" }),
    h("span", { class: "device-kind" }, t(`profile.${device.profile}`, device.profile)),
    h("span", { class: "device-id" }, device.id),
    h("span", { class: "device-status" }, t(`device.${status}`))));
  }
  if (!zoneDevices.length) list.append(h("li", { class: "muted" }, t("zone.no_devices")));

  card.append(head, facts,
    h("h3", {}, t("zone.occupants")), occupants,
    h("h3", {}, t("zone.devices")), list);
}

/** With no zone selected, the card lists who is in custody where (the wall's roll call). */
export function renderRollCall(card, zones) {
  clear(card);
  card.hidden = false;
  card.classList.add("rollcall");
  delete card.dataset.zone;
  const inCustody = [];
  let staff = 0;
  for (const zone of zones) {
    for (const person of zonePeople(zone)) {
      if (isInCustody(person)) inCustody.push([person, zone]);
      else if (isStaff(person)) staff += 1;
    }
  }
  inCustody.sort((a, b) => a[0].id.localeCompare(b[0].id, undefined, { numeric: true }));
  const list = h("div", { class: "card-people" });
  for (const [person, zone] of inCustody) {
    list.append(h("span", { class: "card-person" }, badge(person),
      h("span", { class: "card-role" }, pick(zone.name, zone.id))));
  }
  if (!inCustody.length) list.append(h("span", { class: "muted" }, t("zone.nobody")));
  card.append(
    h("div", { class: "card-head" }, h("h2", { class: "card-title" }, t("rollcall.title")),
      h("span", { class: "card-id" }, `${t("rollcall.in_custody")} ${inCustody.length} · ${t("rollcall.staff")} ${staff}`)),
    list);
}
