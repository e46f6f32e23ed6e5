// Check: will these VMs fit, where, and why not; then start the migration from the answer,
// acknowledging what the check found, explicitly and code by code.

import { ApiError, call } from "./api.js";
import { badge, errorText, h, replace, table } from "./dom.js";
import { amount, bytes, figure } from "./units.js";

function vmPicker(box, cluster) {
  // The last cluster picked wins: an answer for one picked before is dropped.
  box.dataset.cluster = cluster;
  replace(box, h("p", { class: "note" }, "Loading VMs…"));
  return call("GET", `/api/v1/clusters/${encodeURIComponent(cluster)}/vms`).then((answer) => {
    if (box.dataset.cluster !== cluster) return;
    const items = answer.items.map((vm) => {
      const ref = `${vm.namespace}/${vm.name}`;
      const id = `vm-${ref.replace(/[^a-zA-Z0-9-]/g, "-")}`;
      return h("label", { for: id },
        h("input", { type: "checkbox", id, name: "vm", value: ref }), ` ${ref}`,
        h("span", { class: "note" }, vm.running ? " running" : " stopped"));
    });
    replace(box, items.length ? items : h("p", { class: "note" }, `${cluster} reports no VMs.`));
  }, (error) => { if (box.dataset.cluster === cluster) replace(box, errorText(error)); });
}

function manifests(text) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`The manifest is not JSON (${error.message}). Paste what kubectl get vm NAME -o json prints.`);
  }
  if (Array.isArray(parsed)) return parsed;
  if (parsed && parsed.kind === "List" && Array.isArray(parsed.items)) return parsed.items;
  return [parsed];
}

function findingItem(finding) {
  const figures = Object.entries(finding.details ?? {}).map(([k, v]) => figure(k, v)).join(" · ");
  return h("li", {},
    badge(finding.severity), " ", h("strong", {}, finding.code), " ",
    finding.vm ? h("span", { class: "note" }, `${finding.vm}: `) : null,
    finding.message,
    figures ? h("div", { class: "figures" }, figures) : null);
}

function placements(items) {
  if (!items.length) return null;
  return table(["VM", "Mode", "Node", "CPU", "Memory", "Volumes"], items.map((p) => [
    p.vm, p.mode, p.node ?? "none fits",
    amount("cpu_millis", p.cpu_millis), bytes(p.memory_bytes),
    p.volumes.map((v) => `${v.disk}: ${bytes(v.size_bytes)} on ${v.storage_class}`).join("; "),
  ]), [3, 4]);
}

function arithmetic(items) {
  const lines = items.flatMap((p) => p.arithmetic.map((line) => `${p.vm}: ${line}`));
  return lines.length ? h("details", {}, h("summary", {}, "How KubeVirt's rules size these pods"),
    h("pre", { class: "figures" }, lines.join("\n"))) : null;
}

function migrateBlock(context, cluster, findings) {
  const legend = h("legend", {}, `Acknowledge what the check of ${cluster} found`);
  const fieldset = h("fieldset", { hidden: true }, legend);
  const boxes = [];
  function addBox(code) {
    if (boxes.some((b) => b.value === code)) return;
    const box = h("input", { type: "checkbox", value: code, id: `ack-${cluster}-${code}` });
    boxes.push(box);
    fieldset.append(h("label", { class: "ack", for: box.id }, box, ` I accept ${code}`));
    fieldset.hidden = false;
  }
  for (const f of findings) if (f.severity !== "info") addBox(f.code);
  const problem = h("div", { role: "alert" });
  const button = h("button", { type: "button" }, `Migrate to ${cluster}`);
  button.addEventListener("click", async () => {
    button.disabled = true;
    const acknowledge = boxes.filter((b) => b.checked).map((b) => b.value);
    try {
      const migration = await call("POST", "/api/v1/migrations", {
        source_cluster: context.source, target: cluster, vms: context.vms, acknowledge,
      });
      location.hash = `#/migrations/${encodeURIComponent(migration.id)}`;
    } catch (error) {
      button.disabled = false;
      let hint = "";
      if (error instanceof ApiError && error.code === "acknowledgement_required") {
        const codes = error.details?.acknowledge ?? [];
        codes.forEach(addBox);
        hint = ` To go ahead anyway, tick ${codes.join(", ")} above and migrate again.`;
      }
      replace(problem, h("p", { class: "error" }, error.message + hint));
    }
  });
  return h("div", { class: "migrate" }, fieldset, h("div", { class: "actions" }, button), problem);
}

function result(answer, context) {
  const parts = [h("h2", { id: "result", tabindex: "-1" }, "Result")];
  const canMigrate = context.source && context.vms.length;
  if (answer.target) {
    const t = answer.target;
    parts.push(h("section", { "aria-labelledby": "on-target" },
      h("h3", { id: "on-target", class: "verdict" }, `On ${t.cluster}: `, badge(t.verdict)),
      t.findings.length ? h("ul", { class: "findings" }, t.findings.map(findingItem)) : h("p", {}, "Nothing is short."),
      placements(t.placements), arithmetic(t.placements),
      canMigrate ? migrateBlock(context, t.cluster, t.findings) : null));
  }
  parts.push(h("h3", {}, "Where they fit"));
  if (answer.suggestions.length) {
    parts.push(h("ol", { class: "suggestions" }, answer.suggestions.map((s) => h("li", {},
      h("strong", {}, s.cluster), " ", badge(s.verdict), ` score ${s.score.total}`,
      h("ul", {}, s.reasons.map((r) => h("li", {}, r))),
      placements(s.placements),
      canMigrate ? migrateBlock(context, s.cluster, []) : null))));
  } else {
    parts.push(h("p", {}, "No other cluster takes them as they are."));
  }
  if (answer.split) {
    parts.push(h("h3", {}, "Split plan"),
      h("p", { class: "note" }, "No one cluster takes them all; split this way, each part fits:"),
      h("ul", {}, answer.split.parts.map((p) => h("li", {}, `${p.cluster}: ${p.vms.join(", ")}`))),
      answer.split.unplaced.length ? h("p", { class: "error" }, `Fit nowhere: ${answer.split.unplaced.join(", ")}`) : null);
  }
  const counts = Object.entries(answer.excluded_counts ?? {});
  if (answer.excluded.length || counts.length) {
    parts.push(h("details", {}, h("summary", {}, `Not suggested (${answer.excluded.length} clusters)`),
      h("ul", {}, counts.map(([why, n]) => h("li", {}, `${n}: ${why}`))),
      answer.excluded.length ? table(["Cluster", "Why not"], answer.excluded.map((e) => [e.cluster, [e.reason, ...e.reasons.filter((r) => r !== e.reason)].join("; ")])) : null));
  }
  parts.push(h("p", { class: "note" }, `${answer.clusters_evaluated} clusters checked node by node.`));
  return parts;
}

export async function checkView(view, { params: [given] }) {
  const clusters = (await call("GET", "/api/v1/clusters")).items.map((c) => c.name);
  const source = h("select", { id: "source" }, clusters.map((n) => h("option", { value: n, selected: n === given }, n)));
  const target = h("select", { id: "target" }, h("option", { value: "" }, "Any cluster: suggest where"),
    clusters.map((n) => h("option", { value: n }, n)));
  const box = h("div", { class: "vmlist", id: "vms", role: "group", "aria-label": "VMs of the source cluster" });
  const pasted = h("textarea", { id: "manifest", spellcheck: "false", "aria-describedby": "manifest-help" });
  const out = h("div", { id: "answer" });
  const button = h("button", { type: "submit" }, "Check");
  const form = h("form", { "aria-labelledby": "check-title" },
    h("h1", { id: "check-title" }, "Check before migrating"),
    h("div", { class: "field" }, h("label", { for: "source" }, "Source cluster"), source),
    h("div", { class: "field" }, h("span", { class: "label" }, h("strong", {}, "VMs")), box),
    h("details", {}, h("summary", {}, "Or paste VirtualMachine manifests"),
      h("div", { class: "field" }, h("label", { for: "manifest" }, "Manifests (JSON)"), pasted,
        h("span", { id: "manifest-help", class: "note" }, "What kubectl get vm NAME -o json prints; a List is fine. Checked as a what-if: it starts no migration."))),
    h("div", { class: "field" }, h("label", { for: "target" }, "Target cluster"), target),
    h("div", { class: "actions" }, button));
  source.addEventListener("change", () => vmPicker(box, source.value));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const vms = [...box.querySelectorAll("input[name=vm]:checked")].map((b) => b.value);
    const body = { list_excluded: true };
    const context = { source: null, vms: [] };
    try {
      if (pasted.value.trim()) body.manifests = manifests(pasted.value);
      else if (vms.length) {
        const listed = box.dataset.cluster; // the cluster these VMs were listed from
        body.vms = vms.map((ref) => `${listed}/${ref}`);
        Object.assign(context, { source: listed, vms });
      } else throw new Error("Pick at least one VM, or paste a manifest.");
      if (target.value) body.target = target.value;
    } catch (error) {
      replace(out, errorText(error));
      return;
    }
    button.disabled = true;
    replace(out, h("p", { class: "note" }, "Checking…"));
    try {
      replace(out, result(await call("POST", "/api/v1/checks", body), context));
      out.querySelector("#result").focus();
    } catch (error) {
      replace(out, errorText(error));
    } finally {
      button.disabled = false;
    }
  });
  replace(view, form, out);
  if (clusters.length) await vmPicker(box, source.value);
  return null;
}
