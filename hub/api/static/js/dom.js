// Elements are built with text nodes only: nothing the hub answers is parsed as HTML.

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, String(value));
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

export function keepingFocus(view, draw) {
  // A periodic redraw must not take the keyboard's place away: the element that had the
  // focus (found again by its id or link) gets it back.
  const had = view.contains(document.activeElement) ? document.activeElement : null;
  const id = had?.id ?? "";
  const href = had?.getAttribute("href") ?? null;
  const heading = had?.tagName === "H1";
  draw();
  const again = id ? document.getElementById(id)
    : href ? view.querySelector(`a[href="${CSS.escape(href)}"]`)
      : heading ? view.querySelector("h1") : null;
  if (!again) return;
  if (heading) again.tabIndex = -1;
  again.focus();
}

export function unchanged(previous, data, volatile = []) {
  // The same data but for fields that change by themselves (ages, heartbeats).
  const key = JSON.stringify(data, (name, value) => (volatile.includes(name) ? undefined : value));
  return [previous === key, key];
}

export function announce(text) {
  // Read out by screen readers without moving the focus.
  const live = document.getElementById("live");
  live.textContent = "";
  window.setTimeout(() => { live.textContent = text; }, 50);
}

export function badge(text, kind = text) {
  return h("span", { class: `badge ${kind}` }, text);
}

export function table(headings, rows, numeric = []) {
  return h("table", {},
    h("thead", {}, h("tr", {}, headings.map((text, i) =>
      h("th", { scope: "col", class: numeric.includes(i) ? "num" : null }, text)))),
    h("tbody", {}, rows.map((row) => {
      const cells = Array.isArray(row) ? row : row.cells;
      return h("tr", { class: row.className ?? null }, cells.map((cell, i) =>
        h("td", { class: numeric.includes(i) ? "num" : null }, cell)));
    })));
}

export function errorText(error) {
  return h("p", { class: "error", role: "alert" }, error.message);
}
