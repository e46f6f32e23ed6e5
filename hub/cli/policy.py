"""`cclm policy`: the capacity policy. Without a hub, a file is validated and printed with
its defaults filled in; with `--hub` (or CCLM_HUB) the hub's policy in force is shown, and
`--apply` replaces it with the file, validated here first so a mistake is told of by file
and line before anything is sent."""

import argparse
import asyncio
import os
from pathlib import Path

import yaml

from hub import policy_files
from hub.cli import remote, render
from hub.cli.client import call
from hub.cli.usage import UsageError


def _yaml(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False).rstrip("\n")


def policy(args: argparse.Namespace) -> int:
    through_hub = bool(args.hub or os.environ.get("CCLM_HUB"))
    if args.apply and not through_hub:
        raise UsageError("--apply replaces a hub's policy: name it with --hub URL (or CCLM_HUB)")
    if args.apply and args.file is None:
        raise UsageError("--apply needs the policy file: cclm policy FILE --apply")
    if not through_hub:
        checked = policy_files.load(args.file).model_dump(mode="json")
        print(render.shown(args.output, checked, _yaml(checked)))
        return 0
    if args.file is not None and not args.apply:
        raise UsageError(
            "with --hub, FILE is applied only with --apply; to validate it alone, leave out "
            "--hub (and CCLM_HUB)"
        )
    connection = remote.connection(args)
    if args.apply:
        checked = policy_files.load(args.file).model_dump(mode="json")
        data = asyncio.run(call(connection, "PUT", "/api/v1/policy", body=checked))
        said = f"policy applied from {args.file}:\n{_yaml(data)}"
    else:
        data = asyncio.run(call(connection, "GET", "/api/v1/policy"))
        said = _yaml(data)
    print(render.shown(args.output, data, said))
    return 0


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    command = commands.add_parser(
        "policy",
        help="the capacity policy: validate a file, show a hub's, or --apply one to a hub",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[remote.connection_options()],
    )
    command.add_argument(
        "file",
        type=Path,
        nargs="?",
        help="policy YAML (default without a hub: policies/default.yaml)",
    )
    command.add_argument(
        "--apply", action="store_true", help="replace the hub's policy with FILE (admin)"
    )
    command.set_defaults(run=policy)
