// The console's shell: log-in, navigation by URL fragment, and one view at a time. Each
// view draws into a page of its own: a view still loading when the person moved on draws
// into a page no longer shown, and is stopped as soon as it is ready.

import { ApiError, UNAUTHORIZED, call, session } from "./api.js";
import { h, replace } from "./dom.js";
import { createFeed } from "./feed.js";
import { alertsView } from "./alerts.js";
import { checkView } from "./check.js";
import { clusterView, fleetView } from "./fleet.js";
import { migrationView, migrationsView } from "./migrations.js";

const view = document.getElementById("view");
const nav = document.getElementById("nav");
const logout = document.getElementById("logout");
const REFUSED = "The hub no longer accepts this token (revoked or expired). Log in again.";
let feed = null;
let leave = null;
let shown = 0;
const feedListeners = new Set();

const ROUTES = [
  [/^#\/fleet\/([^/]+)$/, clusterView],
  [/^#\/fleet$/, fleetView],
  [/^#\/check(?:\?source=([^&]*))?$/, checkView],
  [/^#\/migrations\/([^/]+)$/, migrationView],
  [/^#\/migrations$/, migrationsView],
  [/^#\/alerts$/, alertsView],
];

function showCount() {
  const open = feed ? feed.alerts().length : 0;
  const count = document.getElementById("alert-count");
  count.textContent = String(open);
  count.classList.toggle("alerting", open > 0);
  document.getElementById("alert-count-text").textContent = `, ${open} open`;
}

function leaving() {
  if (leave) leave();
  leave = null;
  shown += 1;
  return shown;
}

function titled(page) {
  // After a new page: its heading gets the focus and names the tab, so a keyboard or
  // screen reader user lands where the page begins.
  const heading = page.querySelector("h1");
  if (!heading) return;
  heading.tabIndex = -1;
  heading.focus();
  document.title = `${heading.textContent.trim()} · cclm`;
}

function matched(hash) {
  for (const [pattern, render] of ROUTES) {
    const match = hash.match(pattern);
    if (match) return [render, match.slice(1).map((part) => (part === undefined ? undefined : decodeURIComponent(part)))];
  }
  return [null, []];
}

async function route() {
  const mine = leaving();
  if (!session.token()) {
    loginView();
    return;
  }
  const hash = location.hash || "#/fleet";
  for (const link of nav.querySelectorAll("a")) {
    if (hash.startsWith(link.getAttribute("href"))) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const page = h("div", { class: "page" }, h("p", { class: "note" }, "Loading…"));
  replace(view, page);
  try {
    const [render, params] = matched(hash);
    if (!render) {
      replace(page, h("h1", {}, "Not found"), h("p", {}, "No such page. ", h("a", { href: "#/fleet" }, "Go to the fleet.")));
      titled(page);
      return;
    }
    const stop = await render(page, { feed, params, subscribe });
    if (mine !== shown) {
      if (stop) stop();
      return;
    }
    leave = stop;
    titled(page);
  } catch (error) {
    if (mine !== shown || (error instanceof ApiError && error.status === 401)) return;
    replace(page, h("h1", {}, "Something went wrong"), h("p", { class: "error", role: "alert" }, error.message));
    titled(page);
  }
}

function subscribe(listener) {
  // A view hears of the feed's changes until it is left.
  feedListeners.add(listener);
  return () => feedListeners.delete(listener);
}

function started() {
  nav.hidden = false;
  logout.hidden = false;
  feed = createFeed(() => {
    showCount();
    for (const listener of feedListeners) listener();
  });
}

function signOut(message = "") {
  leaving();
  session.forget();
  if (feed) feed.stop();
  feed = null;
  nav.hidden = true;
  logout.hidden = true;
  loginView(message);
}

function loginView(message = "") {
  const input = h("input", { id: "token", type: "password", autocomplete: "off", required: true,
    "aria-describedby": "token-help" });
  const problem = h("p", { class: "error", role: "alert", id: "login-error" }, message);
  const form = h("form", { "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in to the hub"),
    h("div", { class: "field" },
      h("label", { for: "token" }, "Token"),
      input,
      h("span", { id: "token-help", class: "note" },
        "A token the hub minted (cclm tokens create NAME --role viewer|operator|admin). It is kept in this tab only, until you log out or close it.")),
    problem,
    h("button", { type: "submit" }, "Log in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    try {
      await call("GET", "/api/v1/clusters", undefined, token);
    } catch (error) {
      problem.textContent = error.status === 401
        ? "The hub does not accept this token: it was mistyped, revoked, or minted by another hub."
        : error.message;
      input.focus();
      return;
    }
    session.keep(token);
    started();
    await route();
  });
  replace(view, form);
  document.title = "Log in · cclm";
  input.focus();
}

logout.addEventListener("click", () => signOut("Logged out."));
window.addEventListener("hashchange", route);
// Any answer refusing the session's token (revoked, expired, or the hub's store replaced)
// ends the session, whichever view or timer asked.
window.addEventListener(UNAUTHORIZED, () => { if (session.token()) signOut(REFUSED); });
if (session.token()) started();
route();
