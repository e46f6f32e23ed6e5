"""Say which KubeVirt node label no node of a cluster carries, and what the nodes offer instead.

"9 nodes miss label cpu-model-migration.node.kubevirt.io/Skylake-Server=true" is exact but
leaves the administrator to work out what it means. The node labeller's labels each stand
for one thing a node offers (a CPU model, a feature, a machine type), so a missing one is
said in those terms, with the values the cluster's nodes do carry under the same prefix:
that is what tells "this cluster has older CPUs" apart from "the labeller is not running".
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hub.capacity.kubevirt import selection
from hub.models.vm import CPU_VENDOR

_PREFIXES = (
    (selection.MIGRATION_MODEL, "CPU model {} for live migration"),
    (selection.CPU_MODEL, "CPU model {}"),
    (selection.CPU_FEATURE, "CPU feature {}"),
    (CPU_VENDOR, "CPU vendor {}"),
    (selection.MACHINE_TYPE, "machine type {}"),
    (selection.HYPERV, "Hyper-V enlightenment {}"),
)
_FLAGS = {
    selection.SCHEDULABLE: "KubeVirt (no node is labelled kubevirt.io/schedulable=true)",
    "kubevirt.io/sev": "AMD SEV",
    "kubevirt.io/sev-es": "AMD SEV-ES",
    "kubevirt.io/sev-snp": "AMD SEV-SNP",
    "kubevirt.io/tdx": "Intel TDX",
    "kubevirt.io/realtime": "realtime workloads (kubevirt.io/realtime)",
}
_SHOWN = 3


@dataclass(frozen=True, slots=True)
class Missing:
    label: str
    """`key=value` of the label no node carries."""
    sentence: str


def missing(
    cluster: str,
    wanted: Iterable[tuple[str, str]],
    nodes: Iterable[tuple[Mapping[str, str], int]],
) -> Missing | None:
    """The first wanted KubeVirt label that none of `nodes` (labels, count) carries."""
    nodes = tuple(nodes)
    for key, value in wanted:
        if any(labels.get(key) == value for labels, _ in nodes):
            continue
        sentence = _sentence(cluster, key, nodes)
        if sentence is not None:
            return Missing(f"{key}={value}", sentence)
    return None


def _sentence(
    cluster: str, key: str, nodes: tuple[tuple[Mapping[str, str], int], ...]
) -> str | None:
    if key in _FLAGS:
        return f"no node of {cluster} offers {_FLAGS[key]}"
    for prefix, template in _PREFIXES:
        if key.startswith(prefix):
            thing = template.format(key.removeprefix(prefix))
            return f"no node of {cluster} offers {thing}{_instead(prefix, nodes)}"
    return None


def _instead(prefix: str, nodes: tuple[tuple[Mapping[str, str], int], ...]) -> str:
    offered: Counter[str] = Counter()
    for labels, count in nodes:
        for key, value in labels.items():
            if key.startswith(prefix) and value == "true":
                offered[key.removeprefix(prefix)] += count
    if not offered:
        return "; no node carries any such label (is KubeVirt's node labeller running there?)"
    shown = [
        f"{n} node{'s' if n != 1 else ''} offer{'' if n != 1 else 's'} {name}"
        for name, n in sorted(offered.items(), key=lambda kv: (-kv[1], kv[0]))[:_SHOWN]
    ]
    more = len(offered) - _SHOWN
    return "; " + ", ".join(shown) + (f" and {more} more" if more > 0 else "")
