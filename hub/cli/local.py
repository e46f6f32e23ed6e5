"""Commands that need no hub: a check against a fleet described by files, the policy and
schema tools. An edge: it reads files and the clock, and hands plain data to the engine."""

import argparse
import difflib
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pydantic
import yaml

from hub import policy_files, validation
from hub.capacity import engine
from hub.cli import exits, fleet_files, render
from hub.cli.usage import UsageError, pairs
from hub.fleet import manifests
from hub.models import schemas
from hub.models.api import VmReference
from hub.models.check import CheckRequest, CheckResult
from hub.models.report import CapacityReport
from hub.models.vm import VirtualMachine, VmSpec


def _resolve(
    refs: Sequence[str], reports: dict[str, CapacityReport]
) -> tuple[str, list[VirtualMachine]]:
    sources = set()
    vms = []
    for ref in refs:
        parsed = VmReference.parse(ref)
        if parsed is None or parsed.cluster is None:
            raise UsageError(
                f"--vm {ref!r}: expected CLUSTER/NAMESPACE/NAME, e.g. prod-east/shop/db-large"
            )
        cluster, namespace, name = parsed.cluster, parsed.namespace, parsed.name
        report = reports.get(cluster)
        if report is None:
            raise UsageError(
                f"--vm {ref!r}: no cluster {cluster!r} in the fleet{_meant(cluster, reports)} "
                f"({', '.join(sorted(reports))})"
            )
        found = next((v for v in report.vms if v.namespace == namespace and v.name == name), None)
        if found is None:
            keys = [v.key for v in report.vms]
            raise UsageError(
                f"--vm {ref!r}: cluster {cluster} reports no VM {namespace}/{name}"
                f"{_meant(f'{namespace}/{name}', keys)} (it has: {', '.join(keys) or 'none'})"
            )
        sources.add(cluster)
        vms.append(found)
    if len(sources) > 1:
        raise UsageError(
            f"--vm: all VMs must come from one source cluster, not {', '.join(sorted(sources))}"
        )
    return sources.pop(), vms


def _meant(given: str, known: Iterable[str]) -> str:
    close = sorted(difflib.get_close_matches(given, list(known), n=2, cutoff=0.75))
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""


def read_documents(path: Path, flag: str) -> list[object]:
    """Every YAML (or JSON) document of a file, as `kubectl apply -f` reads them."""
    try:
        return list(yaml.safe_load_all(path.read_text()))
    except OSError as error:
        raise UsageError(f"{flag} {path}: cannot read: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise UsageError(f"{flag} {path}: not valid YAML: {error}") from error


def _is_manifest(document: object) -> bool:
    return isinstance(document, dict) and "apiVersion" in document and "kind" in document


def _vm_file(path: Path) -> list[VirtualMachine]:
    """KubeVirt manifests (VirtualMachines with the instancetypes, preferences and claims
    they name), or VM specs in the flat form (one, or a list)."""
    documents = [d for d in read_documents(path, "--vm-file") if d is not None]
    if any(_is_manifest(d) for d in documents):
        try:
            return manifests.machines(documents, str(path))
        except manifests.ManifestError as error:
            raise UsageError(f"--vm-file {error}") from error
    items = documents[0] if len(documents) == 1 and isinstance(documents[0], list) else documents
    try:
        return [VmSpec.model_validate(item).machine() for item in items]
    except pydantic.ValidationError as error:
        raise UsageError(validation.lines(error, str(path))) from error


def _check(args: argparse.Namespace) -> CheckResult:
    if not args.vm and not args.vm_file:
        raise UsageError("name at least one VM with --vm CLUSTER/NAMESPACE/NAME or --vm-file FILE")
    policy = policy_files.load(args.policy)
    now = datetime.now(UTC)
    fleet, reports = fleet_files.load(args.fleet or fleet_files.example_fleet(), received_at=now)
    source: str | None = args.source
    vms: list[VirtualMachine] = []
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
        storage_class_map=pairs(args.map, "--map", "SOURCE_CLASS=TARGET_CLASS"),
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


def check(args: argparse.Namespace) -> int:
    result = _check(args)
    print(render.shown(args.output, result.model_dump(mode="json"), render.text(result)))
    return exits.of_check(result)


def add_check_arguments(check_parser: argparse.ArgumentParser) -> None:
    check_parser.add_argument(
        "--fleet",
        type=Path,
        help="check against a fleet described by files (its fleet.yaml) instead of a hub",
    )
    check_parser.add_argument(
        "--example",
        action="store_true",
        help="check against the bundled example fleet (prod-east, prod-west, ...): made up",
    )
    check_parser.add_argument(
        "--policy",
        type=Path,
        help="policy YAML, when no hub is used (default: policies/default.yaml)",
    )
    check_parser.add_argument(
        "--vm",
        action="append",
        default=[],
        metavar="CLUSTER/NS/NAME",
        help="a VM from the fleet's inventory (repeatable)",
    )
    check_parser.add_argument(
        "--vm-file",
        type=Path,
        help="YAML: KubeVirt VirtualMachine manifests with the instancetypes, preferences and "
        "claims they name, or VM specs in the flat form",
    )
    check_parser.add_argument("--source", help="source cluster for --vm-file VMs (for locality)")
    check_parser.add_argument(
        "--target", help="the cluster to check; without it every eligible cluster is ranked"
    )
    check_parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="SRC=DST",
        help="storage class map (repeatable)",
    )
    check_parser.add_argument(
        "--max-suggestions", type=int, help="how many suggestions (default: the policy's)"
    )


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    schema = commands.add_parser(
        "schemas",
        help="check (or --write) the JSON Schemas exported from the models",
        description="Compare the JSON Schema files in policies/ with the models; exit 1 if stale.",
    )
    schema.add_argument("--dir", type=Path, default=policy_files.policies_dir())
    schema.add_argument(
        "--write", action="store_true", help="rewrite the files instead of checking"
    )
    schema.set_defaults(run=_schemas)
