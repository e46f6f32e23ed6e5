// The console's shell: log-in, navigation by URL fragment, and one view at a time.

import { ApiError, call, session } from "./api.js";
import { h, replace } from "./dom.js";
import { createFeed } from "./feed.js";
import { alertsView } from "./alerts.js";
import { checkView } from "./check.js";
import { clusterView, fleetView } from "./fleet.js";
import { migrationView, migrationsView } from "./migrations.js";

const view = document.getElementById("view");
const nav = document.getElementById("nav");
const logout = document.getElementById("logout");
let feed = null;
let leave = null;
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
  const count = document.getElementById("alert-count");
  const open = feed ? feed.alerts().length : 0;
  count.textContent = String(open);
  count.classList.toggle("alerting", open > 0);
  count.setAttribute("aria-label", `${open} open alerts`);
}

async function route() {
  if (leave) leave();
  leave = null;
  if (!session.token()) {
    loginView();
    return;
  }
  const hash = location.hash || "#/fleet";
  for (const link of nav.querySelectorAll("a")) {
    const current = hash.startsWith(link.getAttribute("href"));
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  for (const [pattern, render] of ROUTES) {
    const match = hash.match(pattern);
    if (match) {
      const params = match.slice(1).map((part) => (part === undefined ? undefined : decodeURIComponent(part)));
      replace(view, h("p", { class: "note" }, "Loading…"));
      try {
        leave = await render(view, { feed, params, subscribe });
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          signOut("The hub no longer accepts this token (revoked or expired). Log in again.");
          return;
        }
        replace(view, h("h1", {}, "Something went wrong"),
          h("p", { class: "error", role: "alert" }, error.message));
      }
      return;
    }
  }
  replace(view, h("h1", {}, "Not found"), h("p", {}, "No such page. ", h("a", { href: "#/fleet" }, "Go to the fleet.")));
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
  session.forget();
  if (feed) feed.stop();
  feed = null;
  nav.hidden = true;
  logout.hidden = true;
  document.getElementById("who").textContent = "";
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
    session.keep(input.value.trim());
    try {
      await call("GET", "/api/v1/clusters");
    } catch (error) {
      session.forget();
      problem.textContent = error.status === 401
        ? "The hub does not accept this token: it was mistyped, revoked, or minted by another hub."
        : error.message;
      input.focus();
      return;
    }
    started();
    await route();
    view.focus();
  });
  replace(view, form);
  input.focus();
}

logout.addEventListener("click", () => signOut("Logged out."));
window.addEventListener("hashchange", route);
if (session.token()) started();
route();
