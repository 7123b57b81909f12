// Tiny DOM builders.  Every piece of data becomes a text node or an attribute value,
// never markup: names, ids and messages come from devices and people and are untrusted.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** h("div", {class: "x"}, "text", h("span", {}, name)) */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function svg(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replaceChildren(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

/** A render coalescer: ``schedule()`` runs ``render`` once on the next frame however many
 * changes asked for it (a hidden tab, where frames do not run, 250 ms later). */
export function renderScheduler(render) {
  let queued = false;
  const run = () => {
    queued = false;
    render();
  };
  return function schedule() {
    if (queued) return;
    queued = true;
    if (document.visibilityState === "visible") requestAnimationFrame(run);
    else setTimeout(run, 250);
  };
}
