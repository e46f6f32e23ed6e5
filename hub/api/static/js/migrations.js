// Migrations: the list, and one migration's task as a per-VM timeline (mode, phase,
// bytes, the receiving pod and what the scheduler says of it, a stall), with cancel
// while a cancel can still stop it, and the reason when it cannot.

import { call } from "./api.js";
import { announce, badge, errorText, h, keepingFocus, replace, table, unchanged } from "./dom.js";
import { age, bytes, since } from "./units.js";

const POLL_MS = 1500;
const AGES_MS = 10000; // unchanged, a migration is redrawn this seldom, for its ages only
const HEARTBEATS = ["updated_at", "reported_at"];
const LIVE = ["pending", "preparing", "receiving", "cutover", "finalizing", "migrated"];
const OFFLINE = ["pending", "preparing", "copying", "finalizing", "migrated"];
const PAST_CUTOVER = ["cutover", "finalizing", "migrated"];
const ENDED = ["migrated", "abandoned"];

export async function migrationsView(view) {
  async function draw() {
    const items = (await call("GET", "/api/v1/migrations")).items;
    keepingFocus(view, () => replace(view, h("h1", {}, "Migrations"),
      items.length ? table(["Migration", "From → to", "VMs", "State", "Created"], items.map((m) => [
        h("a", { href: `#/migrations/${encodeURIComponent(m.id)}` }, m.id),
        `${m.source_cluster} → ${m.target_cluster}`, m.vms.join(", "), badge(m.state), since(m.created_at),
      ])) : h("p", {}, "No migration yet. Start one from ", h("a", { href: "#/check" }, "a check"), ".")));
  }
  await draw();
  const timer = window.setInterval(() => { draw().catch(() => {}); }, POLL_MS * 2);
  return () => window.clearInterval(timer);
}

function phases(vm) {
  const order = vm.mode === "offline" ? OFFLINE : LIVE;
  const at = order.indexOf(vm.phase);
  if (at < 0) return h("p", {}, badge(vm.phase));
  return h("ol", { class: "phases", "aria-label": `${vm.vm}: ${vm.phase}, ${vm.mode}` }, order.map((phase, i) =>
    h("li", { class: i < at ? "done" : i === at ? "now" : null, "aria-current": i === at ? "step" : null }, phase)));
}

function inPhase(vm) {
  const waited = age((Date.now() - Date.parse(vm.phase_since)) / 1000);
  return ENDED.includes(vm.phase) ? `${vm.phase} ${waited} ago` : `${vm.phase} for ${waited}`;
}

function vmRows(task) {
  return task.vms.map((vm) => [
    vm.vm,
    vm.mode,
    phases(vm),
    vm.node ?? "",
    vm.bytes_copied ? bytes(vm.bytes_copied) : "",
    vm.receiving_pod ? [h("div", {}, `${vm.receiving_pod.name}: ${vm.receiving_pod.phase}`),
      vm.receiving_pod.message ? h("div", { class: "note" }, vm.receiving_pod.message) : null,
      vm.pending_since ? h("div", { class: "note" }, `Pending since ${since(vm.pending_since)}`) : null] : "",
    [vm.message, vm.phase_since ? h("div", { class: "note" }, inPhase(vm)) : null],
  ]);
}

function whyNotCancel(migration, task) {
  if (!["queued", "running"].includes(migration.state)) return `It has ended (${migration.state}): there is nothing to cancel.`;
  const past = task.vms.filter((vm) => PAST_CUTOVER.includes(vm.phase)).map((vm) => vm.vm);
  if (past.length) return `${past.join(", ")} passed its cutover: a cancel no longer stops it, so the migration runs to its end.`;
  return null;
}

function cancelBlock(migration, task, redraw) {
  const why = whyNotCancel(migration, task);
  if (why) return h("p", { class: "note", id: "cancel-why" }, why);
  const problem = h("div", { role: "alert" });
  const button = h("button", { type: "button", class: "danger", id: "cancel" }, "Cancel migration");
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await call("POST", `/api/v1/migrations/${encodeURIComponent(migration.id)}/cancel`);
      announce("Migration cancelled.");
      await redraw(true);
    } catch (error) {
      button.disabled = false;
      replace(problem, errorText(error));
    }
  });
  return h("div", { class: "actions" }, button, h("span", { class: "note" }, "Releases the reservation; VMs not yet moved stay on the source."), problem);
}

export async function migrationView(view, { params: [id] }) {
  let lastState = null;
  let shown = null;
  let drawnAt = 0;
  async function draw(forced = false) {
    const migration = await call("GET", `/api/v1/migrations/${encodeURIComponent(id)}`);
    const task = await call("GET", `/api/v1/tasks/${encodeURIComponent(migration.task_id)}`);
    const [same, key] = unchanged(shown, [migration, task], HEARTBEATS);
    if (same && !forced && Date.now() - drawnAt < AGES_MS) return;
    shown = key;
    drawnAt = Date.now();
    if (lastState !== null && lastState !== task.state) announce(`Migration ${task.state}.`);
    lastState = task.state;
    keepingFocus(view, () => replace(view,
      h("p", {}, h("a", { href: "#/migrations" }, "← Migrations")),
      h("h1", {}, `Migration ${migration.id} `, badge(task.state, task.state)),
      h("p", {}, `${migration.source_cluster} → ${migration.target_cluster} · ${migration.vms.length === 1 ? "1 VM" : `${migration.vms.length} VMs`} · by ${migration.created_by} · ${since(migration.created_at)}`),
      h("div", { class: "actions" },
        h("label", { for: "progress" }, "Progress"),
        h("progress", { id: "progress", class: "progress", max: 100, value: task.progress }, `${task.progress}%`),
        h("span", { id: "progress-text" }, `${task.progress}%`)),
      h("p", { id: "task-message" }, task.message),
      task.conditions.map((c) => h("div", { class: "stall", role: "status" },
        h("strong", {}, `${c.type}: ${c.vm}`), ` ${c.message} (since ${since(c.since)})`)),
      task.warnings.map((w) => h("p", { class: "note" }, `warning: ${w}`)),
      h("h2", {}, "Per VM"),
      table(["VM", "Mode", "Phase", "Node", "Copied", "Receiving pod", "Message"], vmRows(task)),
      cancelBlock(migration, task, draw),
      migration.acknowledged.length ? h("p", { class: "note" }, `Started with ${migration.acknowledged.join(", ")} acknowledged.`) : null,
      migration.reservation ? h("p", { class: "note" }, migration.reservation.released_at
        ? `Reservation released ${since(migration.reservation.released_at)} (${migration.reservation.release_reason ?? ""}).`
        : "Capacity reserved on the target until the migration ends.") : null));
  }
  await draw();
  const timer = window.setInterval(() => {
    draw().catch((error) => {
      shown = null; // drawn again as soon as the hub answers
      replace(view, errorText(error));
    });
  }, POLL_MS);
  return () => window.clearInterval(timer);
}
