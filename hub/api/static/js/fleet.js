// Fleet: per cluster, what is used, reserved and free, resource by resource; a cluster's
// nodes show the fragmentation a sum hides (the largest free block is what a VM needs).

import { call } from "./api.js";
import { badge, h, keepingFocus, replace, table, unchanged } from "./dom.js";
import { age, amount, bytes, resourceName } from "./units.js";

const POLL_MS = 5000;
const AGES_MS = 30000; // unchanged figures are redrawn this seldom, for their ages only

function percent(part, whole) {
  return whole > 0 ? Math.max(0, Math.min(100, (100 * part) / whole)) : 0;
}

export function meter(name, total, used, reserved, free, show) {
  const text = `${name}: ${show(used)} used, ${show(reserved)} reserved, ${show(free)} free of ${show(total)}`;
  return h("div", { class: "meter" },
    h("div", { class: "name" }, h("span", {}, name), h("span", {}, `${show(free)} free of ${show(total)}`)),
    h("div", { class: "bar", role: "img", "aria-label": text, title: text },
      h("span", { class: "used", "data-width": percent(used, total) }),
      h("span", { class: "reserved", "data-width": percent(reserved, total) }),
      h("span", { class: "free", "data-width": percent(free, total) })));
}

export function sizeBars(root) {
  // Widths are set from script: the page's security policy allows no inline styles.
  for (const span of root.querySelectorAll(".bar span[data-width]")) {
    span.style.width = `${span.dataset.width}%`;
  }
}

function legend() {
  return h("p", { class: "legend", "aria-hidden": "true" },
    h("span", {}, h("i", { class: "used" }), "used (requested)"),
    h("span", {}, h("i", { class: "reserved" }), "reserved for accepted migrations"),
    h("span", {}, h("i", { class: "free" }), "free"));
}

function resourceMeters(cluster) {
  const meters = [];
  const names = Object.keys(cluster.resources).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  for (const name of names) {
    const r = cluster.resources[name];
    meters.push(meter(resourceName(name), r.allocatable, r.requested, r.reserved, r.free,
      (v) => amount(name, v)));
  }
  for (const s of cluster.storage) {
    const label = `Storage ${s.name}${s.is_default ? " (default)" : ""}`;
    if (s.capacity_bytes === null) {
      const free = s.free_bytes === null ? "free space not reported" : `${bytes(s.free_bytes)} free, total not reported`;
      meters.push(h("p", { class: "meter" }, `${label}: ${free} (source: ${s.capacity_source})`));
      continue;
    }
    const used = s.capacity_bytes - (s.available_bytes ?? s.capacity_bytes);
    meters.push(meter(label, s.capacity_bytes, used, s.reserved_bytes, s.free_bytes ?? 0, bytes));
  }
  return meters;
}

function plural(count, noun) {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function rank(name) {
  return name === "cpu_millis" ? 0 : name === "memory_bytes" ? 1 : 2;
}

function labels(map) {
  const entries = Object.entries(map ?? {});
  return entries.length
    ? h("ul", { class: "chips", "aria-label": "labels" }, entries.map(([k, v]) => h("li", {}, `${k}=${v}`)))
    : null;
}

function reportAge(cluster) {
  const when = cluster.report_age_seconds === null ? "no report yet"
    : `report #${cluster.report_sequence}, ${age(cluster.report_age_seconds)} old`;
  return h("p", { class: "note" }, when);
}

function card(cluster) {
  return h("article", { class: "card", "aria-labelledby": `c-${cluster.name}` },
    h("h2", { id: `c-${cluster.name}` }, h("a", { href: `#/fleet/${encodeURIComponent(cluster.name)}` }, cluster.name), badge(cluster.freshness)),
    reportAge(cluster),
    labels(cluster.labels),
    h("p", { class: "note" }, `${cluster.nodes_usable} of ${cluster.nodes} nodes usable · ${plural(cluster.vms, "VM")} · ${plural(cluster.live_claims, "reservation")}`
      + (cluster.kubevirt_version ? ` · KubeVirt ${cluster.kubevirt_version}` : "")),
    resourceMeters(cluster));
}

export async function fleetView(view) {
  let shown = null;
  let drawnAt = 0;
  async function draw() {
    const clusters = (await call("GET", "/api/v1/clusters")).items;
    const [same, key] = unchanged(shown, clusters, ["report_age_seconds", "report_received_at", "report_generated_at"]);
    if (same && Date.now() - drawnAt < AGES_MS) return;
    shown = key;
    drawnAt = Date.now();
    keepingFocus(view, () => {
      replace(view, h("h1", {}, "Fleet"), legend(),
        clusters.length ? h("div", { class: "cards" }, clusters.map(card))
          : h("p", {}, "No cluster is registered yet: cclm clusters register NAME."));
      sizeBars(view);
    });
  }
  await draw();
  const timer = window.setInterval(() => { draw().catch(() => {}); }, POLL_MS);
  return () => window.clearInterval(timer);
}

function nodeFree(node, key) {
  return node.allocatable[key] - node.requested[key] - node.reserved[key];
}

function nodeRows(cluster) {
  const usable = cluster.node_detail.filter((n) => n.ready && n.schedulable);
  const largest = (key) => usable.reduce((best, n) => (best && nodeFree(best, key) >= nodeFree(n, key) ? best : n), null);
  const cpu = largest("cpu_millis");
  const memory = largest("memory_bytes");
  const rows = cluster.node_detail.map((n) => {
    const marks = [n === cpu ? "largest free CPU" : null, n === memory ? "largest free memory" : null].filter(Boolean);
    const state = !n.ready ? "not ready" : !n.schedulable ? "cordoned" : "usable";
    return {
      className: marks.length ? "largest" : null,
      cells: [
        n.name, state,
        meter("CPU", n.allocatable.cpu_millis, n.requested.cpu_millis, n.reserved.cpu_millis, Math.max(0, nodeFree(n, "cpu_millis")), (v) => amount("cpu_millis", v)),
        meter("Memory", n.allocatable.memory_bytes, n.requested.memory_bytes, n.reserved.memory_bytes, Math.max(0, nodeFree(n, "memory_bytes")), bytes),
        [`${amount("cpu_millis", Math.max(0, nodeFree(n, "cpu_millis")))}, ${bytes(Math.max(0, nodeFree(n, "memory_bytes")))}`,
          marks.length ? h("div", { class: "note" }, marks.join(", ")) : null],
      ],
    };
  });
  return { rows, cpu, memory };
}

export async function clusterView(view, { params: [name] }) {
  const cluster = await call("GET", `/api/v1/clusters/${encodeURIComponent(name)}`);
  const { rows, cpu, memory } = nodeRows(cluster);
  const total = cluster.resources.memory_bytes;
  const summary = memory && total
    ? `${bytes(total.free)} memory is free in all, but one VM can get at most ${bytes(nodeFree(memory, "memory_bytes"))} (on ${memory.name}); `
      + `at most ${amount("cpu_millis", nodeFree(cpu, "cpu_millis"))} CPU (on ${cpu.name}).`
    : "No usable node reported.";
  replace(view,
    h("p", {}, h("a", { href: "#/fleet" }, "← Fleet")),
    h("h1", {}, `Cluster ${cluster.name} `, badge(cluster.freshness)),
    reportAge(cluster),
    labels(cluster.labels),
    legend(),
    resourceMeters(cluster),
    h("h2", {}, "Nodes"),
    h("p", { class: "fragmentation" }, summary),
    table(["Node", "State", "CPU", "Memory", "Free block (what one VM can get here)"], rows),
    cluster.pending_launchers ? h("p", { class: "note" }, cluster.pending_launchers === 1
      ? "1 virt-launcher pod is Pending." : `${cluster.pending_launchers} virt-launcher pods are Pending.`) : null,
    h("p", {}, h("a", { href: `#/check?source=${encodeURIComponent(cluster.name)}` }, `Check VMs of ${cluster.name} against the fleet`)));
  sizeBars(view);
  return null;
}
