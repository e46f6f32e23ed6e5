"""`cclm size`: what each VM's virt-launcher pod would request on a cluster, by the rules of
a KubeVirt release and a KubeVirt CR's configuration, with the arithmetic.

An edge: it reads the files and prints; the sizing is the engine's (`hub.capacity.kubevirt`).
"""

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from hub.capacity.kubevirt import compute, release
from hub.capacity.kubevirt.admission import RejectedError
from hub.capacity.kubevirt.render import Rendered, Target, render, target
from hub.cli.local import read_documents
from hub.cli.usage import UsageError
from hub.fleet import manifests
from hub.models import kubevirt as k
from hub.models import quantity

_NOT_RESOURCES = ("cpu", "memory", compute.EPHEMERAL)


def _target(args: argparse.Namespace) -> Target:
    config, annotations, observed = k.KubeVirtConfiguration(), dict[str, str](), None
    if args.kubevirt is not None:
        documents = [d for d in read_documents(args.kubevirt, "--kubevirt") if d is not None]
        if len(documents) != 1:
            raise UsageError(f"--kubevirt {args.kubevirt}: expected one KubeVirt object")
        try:
            config, annotations, observed = manifests.kubevirt(documents[0], str(args.kubevirt))
        except manifests.ManifestError as error:
            raise UsageError(f"--kubevirt {error}") from error
    version = args.kubevirt_version or observed or str(release.NEWEST)
    if args.kubevirt_version and release.parse(args.kubevirt_version) is None:
        raise UsageError(
            f"--kubevirt-version {args.kubevirt_version!r}: expected a release such as v1.9.0"
        )
    return target(version, config, annotations, {})


def sized(args: argparse.Namespace) -> list[Rendered]:
    documents = read_documents(args.vm_file, "--vm-file")
    try:
        vms = manifests.machines(documents, str(args.vm_file), disks=False)
    except manifests.ManifestError as error:
        raise UsageError(f"--vm-file {error}") from error
    to = _target(args)
    out, refused = [], []
    for vm in vms:
        try:
            out.append(render(vm, to))
        except RejectedError as error:
            refused.append(str(error))
    if refused:
        raise UsageError("\n".join(refused))
    return out


def as_json(rendered: Rendered) -> dict[str, Any]:
    requests = rendered.requests
    return {
        "vm": rendered.vm,
        "pod": {
            "cpu_millis": requests.get("cpu", 0),
            "memory_bytes": requests.get("memory", 0),
            "resources": {
                name: value
                for name, value in sorted(requests.items())
                if name not in _NOT_RESOURCES
            },
        },
        "containers": [
            {
                "name": c.name,
                "cpu_millis": quantity.ceil_millis(c.requests.get("cpu", Fraction(0))),
                "memory_bytes": quantity.ceil(c.requests.get("memory", Fraction(0))),
            }
            for c in rendered.containers
        ],
        "node_selector": dict(sorted(rendered.nodes.node_selector.items())),
        "arithmetic": list(rendered.arithmetic),
    }


def as_text(rendered: Rendered) -> str:
    shown = as_json(rendered)
    pod = shown["pod"]
    lines = [
        f"{rendered.vm}: cpu {quantity.cores(pod['cpu_millis'])} ({pod['cpu_millis']}m), "
        f"memory {quantity.human_bytes(pod['memory_bytes'])} ({pod['memory_bytes']} B)"
    ]
    lines += [f"  {name}: {value}" for name, value in pod["resources"].items()]
    lines.append("  containers:")
    for container in shown["containers"]:
        lines.append(
            f"    {container['name']:<28} cpu {container['cpu_millis']:>6}m  "
            f"memory {container['memory_bytes']:>12} B"
        )
    lines.append("  node selector:")
    lines += [f"    {key}={value}" for key, value in shown["node_selector"].items()]
    if rendered.nodes.affinity:
        lines.append("  required node affinity (any term):")
        for term in rendered.nodes.affinity:
            shown_term = ", ".join(
                f"{r.key} {r.operator.value} {list(r.values)}"
                if r.values
                else f"{r.key} {r.operator.value}"
                for r in term.match_expressions
            )
            lines.append(f"    {shown_term}")
    lines += [f"  note: {note}" for note in rendered.nodes.notes]
    lines.append("  arithmetic:")
    lines += [f"    {step}" for step in rendered.arithmetic]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    rendered = sized(args)
    if args.output == "json":
        print(json.dumps({"vms": [as_json(r) for r in rendered]}, indent=2))
    elif args.output == "yaml":
        print(yaml.safe_dump({"vms": [as_json(r) for r in rendered]}, sort_keys=False), end="")
    else:
        print("\n\n".join(as_text(r) for r in rendered))
    sys.stdout.flush()
    return 0


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    size = commands.add_parser(
        "size",
        help="what each VM's virt-launcher pod would request, by a KubeVirt release's rules",
        description="Size the virt-launcher pod of every VirtualMachine in --vm-file the way "
        "KubeVirt renders it: the instancetype and preference applied, the webhook's defaults, "
        "the memory overhead, every container of the pod and its node selector.",
    )
    size.add_argument(
        "--vm-file",
        type=Path,
        required=True,
        help="YAML: kubevirt.io/v1 VirtualMachines, with the instancetypes and preferences "
        "(instancetype.kubevirt.io/v1beta1, namespaced or cluster-wide) they name",
    )
    size.add_argument(
        "--kubevirt",
        type=Path,
        help="a kubevirt.io/v1 KubeVirt CR; its spec.configuration and annotations are used "
        "(default: KubeVirt's defaults)",
    )
    size.add_argument(
        "--kubevirt-version",
        metavar="VERSION",
        help=f"the release whose rules apply (default: the CR's status, else {release.NEWEST})",
    )
    size.add_argument("--output", "-o", choices=("text", "json", "yaml"), default="text")
    size.set_defaults(run=run)
