"""The charts as Helm renders them (the Helm SDK as a library, no binary) and the Kubernetes
schemas every rendered object is held to (kubernetes-validate), for each supported version.

`python -m tests.support.charts` writes deploy/spoke-rbac.yaml from the spoke agent's chart,
its one source; tests/charts/test_spoke_agent_chart.py fails when the file differs."""

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "charts"
HUB = CHARTS / "hub"
SPOKE = CHARTS / "spoke-agent"
DEPLOY_RBAC = ROOT / "deploy" / "spoke-rbac.yaml"
KUBERNETES = ("1.28.0", "1.30.0", "1.32.0", "1.34.0")
"""The Kubernetes versions the charts support (OpenShift 4.15 and later): each rendered
object is validated against each one's schemas."""
SPOKE_REQUIRED = {
    "hub": {"url": "https://cclm-hub.example.com"},
    "cluster": "east",
    "token": {"existingSecret": "cclm-spoke-token"},
}
RBAC_KINDS = ("ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")


@contextmanager
def loaded(chart: Path) -> Iterator[helm.Chart]:
    with helm.Chart.load(chart) as handle:
        yield handle


def render(
    chart: Path, values: Mapping[str, Any] | None = None, namespace: str = "cclm"
) -> list[dict[str, Any]]:
    """Every object the chart renders, as `helm install` would (the schema checked first),
    released under the chart's own name."""
    with loaded(chart) as handle:
        handle.validate_schema(dict(values or {}))
        rendered = handle.render(dict(values or {}), name=handle.name, namespace=namespace)
    documents = []
    for path, text in sorted(rendered.items()):
        if path.endswith(".txt"):
            continue
        documents += [d for d in yaml.safe_load_all(text) if d]
    return documents


def by_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] == kind]


def one(documents: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(documents, kind)
    assert len(found) == 1, f"{len(found)} {kind} objects rendered, expected one"
    return found[0]


def invalid(document: dict[str, Any], version: str) -> str | None:
    """kubernetes-validate's strict verdict (unknown fields are errors), None when valid."""
    try:
        kubernetes_validate.validate(document, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return f"{document['kind']}/{document['metadata']['name']}: {error.message} at {error.path}"
    return None


def rbac(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The RBAC objects without their labels (Helm's bookkeeping, not rights)."""
    kept = []
    for document in documents:
        if document["kind"] in RBAC_KINDS:
            metadata = {k: v for k, v in document["metadata"].items() if k != "labels"}
            kept.append({**document, "metadata": metadata})
    return kept


DEPLOY_HEADER = """\
# The spoke agent's RBAC, for installs without Helm: rendered from the chart
# (charts/spoke-agent/templates/_rbac.tpl, the one source of these rules, with their reasons)
# by `python -m tests.support.charts`; a test fails when this file differs. Apply it, then
# run the agent as ServiceAccount cclm-spoke in namespace cclm-system.
"""


def deploy_rbac() -> str:
    documents = rbac(render(SPOKE, SPOKE_REQUIRED, namespace="cclm-system"))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cclm-system"}}
    return DEPLOY_HEADER + yaml.safe_dump_all([namespace, *documents], sort_keys=False)


if __name__ == "__main__":
    DEPLOY_RBAC.write_text(deploy_rbac())
    sys.stdout.write(f"wrote {DEPLOY_RBAC.relative_to(ROOT)}\n")
