// Open alerts and current recommendations, listed once and then kept live from the hub's
// event stream, for the whole console (the navigation's count and the Alerts view).

import { call, events } from "./api.js";

const RETRY_MS = 2000;

export function createFeed(onChange) {
  const alerts = new Map();
  const recommendations = new Map();
  const controller = new AbortController();
  let last = null;
  let error = null;

  function apply({ event, data }) {
    if (event === "alert" && data.alert) {
      if (data.type === "resolved") alerts.delete(data.alert.id);
      else alerts.set(data.alert.id, data.alert);
    } else if (event === "recommendation" && data.recommendation) {
      if (data.type === "removed") recommendations.delete(data.recommendation.id);
      else recommendations.set(data.recommendation.id, data.recommendation);
    } else {
      return false;
    }
    return true;
  }

  async function list() {
    const [open, current] = await Promise.all([
      call("GET", "/api/v1/alerts?state=open&limit=500"),
      call("GET", "/api/v1/recommendations"),
    ]);
    alerts.clear();
    recommendations.clear();
    for (const alert of open.items) alerts.set(alert.id, alert);
    for (const item of current.items) recommendations.set(item.id, item);
  }

  async function follow() {
    // The stream opens first and says where it starts; the lists are read then, so no
    // change falls between them and the stream. After a drop it resumes from the last
    // event seen; a reset (the hub no longer has them) reads the lists again.
    while (!controller.signal.aborted) {
      try {
        for await (const item of events(last, controller.signal)) {
          error = null;
          if (item.event === "open" && last === null) await list();
          if (item.event === "reset") await list();
          if (item.id !== null) last = item.id;
          if (item.event === "open" || item.event === "reset" || apply(item)) onChange();
        }
      } catch (failure) {
        if (controller.signal.aborted) return;
        error = failure;
        onChange();
      }
      await new Promise((resolve) => { window.setTimeout(resolve, RETRY_MS); });
    }
  }

  follow();
  return {
    alerts: () => [...alerts.values()].sort((a, b) => b.last_seen.localeCompare(a.last_seen)),
    recommendations: () => [...recommendations.values()]
      .sort((a, b) => b.updated_at.localeCompare(a.updated_at)),
    error: () => error,
    live: () => last !== null && error === null,
    stop: () => controller.abort(),
  };
}
