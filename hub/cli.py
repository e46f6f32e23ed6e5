"""`cclm`: the command line. This module is an edge: it reads files and the clock, and hands
plain data to the engine."""

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pydantic
import yaml

from hub import fleet_files, policy_files, render
from hub.capacity import engine
from hub.models import schemas
from hub.models.check import CheckRequest, CheckResult
from hub.models.report import CapacityReport
from hub.models.vm import VmSpec


class UsageError(ValueError):
    """Bad arguments or input files; printed as one message, exit status 2."""


def _resolve(refs: Sequence[str], reports: dict[str, CapacityReport]) -> tuple[str, list[VmSpec]]:
    sources = set()
    vms = []
    for ref in refs:
        parts = ref.split("/")
        if len(parts) != 3 or not all(parts):
            raise UsageError(
                f"--vm {ref!r}: expected CLUSTER/NAMESPACE/NAME, e.g. prod-east/shop/db-large"
            )
        cluster, namespace, name = parts
        report = reports.get(cluster)
        if report is None:
            raise UsageError(
                f"--vm {ref!r}: no cluster {cluster!r} in the fleet ({', '.join(sorted(reports))})"
            )
        found = next((v for v in report.vms if v.namespace == namespace and v.name == name), None)
        if found is None:
            known = ", ".join(v.key for v in report.vms) or "none"
            raise UsageError(
                f"--vm {ref!r}: cluster {cluster} reports no VM {namespace}/{name} "
                f"(it has: {known})"
            )
        sources.add(cluster)
        vms.append(found)
    if len(sources) > 1:
        raise UsageError(
            f"--vm: all VMs must come from one source cluster, not {', '.join(sorted(sources))}"
        )
    return sources.pop(), vms


def _vm_file(path: Path) -> list[VmSpec]:
    try:
        data = yaml.safe_load(path.read_text())
        items = data if isinstance(data, list) else [data]
        return [VmSpec.model_validate(item) for item in items]
    except OSError as error:
        raise UsageError(f"{path}: cannot read: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise UsageError(f"{path}: not valid YAML: {error}") from error
    except pydantic.ValidationError as error:
        lines = [f"{path}: at {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
        raise UsageError("\n".join(lines)) from error


def _class_map(pairs: Sequence[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        source, sep, target = pair.partition("=")
        if not sep or not source or not target:
            raise UsageError(f"--map {pair!r}: expected SOURCE_CLASS=TARGET_CLASS")
        mapping[source] = target
    return mapping


def _check(args: argparse.Namespace) -> CheckResult:
    if not args.vm and not args.vm_file:
        raise UsageError("name at least one VM with --vm CLUSTER/NAMESPACE/NAME or --vm-file FILE")
    policy = policy_files.load(args.policy)
    now = datetime.now(UTC)
    fleet, reports = fleet_files.load(args.fleet, received_at=now)
    source: str | None = args.source
    vms: list[VmSpec] = []
    if args.vm:
        source, vms = _resolve(args.vm, reports)
    if args.vm_file:
        vms += _vm_file(args.vm_file)
    if args.target and args.target == source:
        raise UsageError(
            f"--target {args.target!r} is the VMs' source cluster; name another cluster"
        )
    request = CheckRequest(
        vms=tuple(vms),
        source_cluster=source,
        target=args.target,
        storage_class_map=_class_map(args.map),
        max_suggestions=args.max_suggestions,
    )
    return engine.run(fleet, request, policy, now, list_excluded=True)


def _schemas(args: argparse.Namespace) -> int:
    stale = []
    for name, document in schemas.documents().items():
        path = args.dir / name
        rendered = schemas.render(document)
        if args.write:
            path.write_text(rendered)
        elif not path.is_file() or path.read_text() != rendered:
            stale.append(str(path))
    if stale:
        print("out of date: " + ", ".join(stale) + " (run: cclm schemas --write)", file=sys.stderr)
        return 1
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="cclm", description="Capacity-aware cross-cluster live migration of KubeVirt VMs."
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser(
        "check",
        help="will these VMs fit on that cluster? what is short, and where else would they fit?",
        description="Run the pre-migration capacity check against a fleet described by files "
        "(the bundled example fleet unless --fleet is given).",
    )
    check.add_argument(
        "--fleet",
        type=Path,
        default=fleet_files.example_fleet(),
        help="fleet.yaml (default: the example fleet)",
    )
    check.add_argument("--policy", type=Path, help="policy YAML (default: policies/default.yaml)")
    check.add_argument(
        "--vm",
        action="append",
        default=[],
        metavar="CLUSTER/NS/NAME",
        help="a VM from the fleet's inventory (repeatable)",
    )
    check.add_argument("--vm-file", type=Path, help="YAML file with one VM spec or a list of them")
    check.add_argument("--source", help="source cluster for --vm-file VMs (for locality)")
    check.add_argument(
        "--target", help="the cluster to check; without it every eligible cluster is ranked"
    )
    check.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="SRC=DST",
        help="storage class map (repeatable)",
    )
    check.add_argument(
        "--max-suggestions", type=int, help="how many suggestions (default: the policy's)"
    )
    check.add_argument("--output", choices=("text", "json"), default="text")

    schema = commands.add_parser(
        "schemas",
        help="check (or --write) the JSON Schemas exported from the models",
        description="Compare the JSON Schema files in policies/ with the models; exit 1 if stale.",
    )
    schema.add_argument("--dir", type=Path, default=policy_files.policies_dir())
    schema.add_argument(
        "--write", action="store_true", help="rewrite the files instead of checking"
    )

    policy = commands.add_parser(
        "policy",
        help="validate a capacity policy file and print it with defaults filled in",
        description="Validate a policy YAML against policies/policy.v1.schema.json.",
    )
    policy.add_argument(
        "file", type=Path, nargs="?", help="policy YAML (default: policies/default.yaml)"
    )
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "schemas":
            return _schemas(args)
        if args.command == "policy":
            print(
                yaml.safe_dump(
                    policy_files.load(args.file).model_dump(mode="json"), sort_keys=False
                ),
                end="",
            )
            return 0
        result = _check(args)
    except (UsageError, policy_files.PolicyError, fleet_files.FleetFileError) as error:
        print(f"cclm: {error}", file=sys.stderr)
        return 2
    except pydantic.ValidationError as error:
        print(f"cclm: {error}", file=sys.stderr)
        return 2
    if args.output == "json":
        print(json.dumps(result.model_dump(mode="json"), indent=2))
    else:
        print(render.text(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
