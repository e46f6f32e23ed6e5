// Alerts and recommendations, live: the feed keeps them current from the event stream.

import { badge, h, keepingFocus, replace } from "./dom.js";
import { since } from "./units.js";

function alertItem(alert) {
  return h("li", { class: "alert" },
    badge(alert.severity), " ", h("strong", {}, alert.kind), " ",
    alert.cluster ? h("span", { class: "note" }, `${alert.cluster} `) : null,
    alert.message,
    alert.migration_id ? h("div", {}, h("a", { href: `#/migrations/${encodeURIComponent(alert.migration_id)}` }, `migration ${alert.migration_id}`)) : null,
    h("div", { class: "note" }, `first seen ${since(alert.first_seen)}, last ${since(alert.last_seen)}`));
}

function recommendationItem(item) {
  return h("li", { class: "recommendation" },
    h("strong", {}, item.kind), " ", item.message,
    item.targets.length ? h("ul", {}, item.targets.map((t) => h("li", {}, `${t.cluster} `, badge(t.verdict),
      t.score === null ? "" : ` score ${t.score}`, t.reasons.length ? `: ${t.reasons.join("; ")}` : ""))) : null,
    item.moves.length ? h("ul", {}, item.moves.map((m) => h("li", {}, `move ${m.vm} to ${m.to.cluster}`))) : null,
    item.migration_id ? h("div", {}, h("a", { href: `#/migrations/${encodeURIComponent(item.migration_id)}` }, `migration ${item.migration_id}`)) : null);
}

export async function alertsView(view, { feed, subscribe }) {
  function draw() {
    const alerts = feed.alerts();
    const recommendations = feed.recommendations();
    const status = feed.error() ? h("p", { class: "error" }, `Not live: ${feed.error().message} (retrying)`)
      : h("p", { class: "note" }, feed.live() ? "Live from the hub's event stream." : "Connecting…");
    keepingFocus(view, () => replace(view, h("h1", {}, "Alerts and recommendations"), status,
      h("h2", {}, `Open alerts (${alerts.length})`),
      alerts.length ? h("ul", { class: "feed", id: "alerts" }, alerts.map(alertItem)) : h("p", {}, "No open alert."),
      h("h2", {}, `Recommendations (${recommendations.length})`),
      recommendations.length ? h("ul", { class: "feed", id: "recommendations" }, recommendations.map(recommendationItem)) : h("p", {}, "Nothing to recommend.")));
  }
  draw();
  return subscribe(draw);
}
