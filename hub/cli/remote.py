"""Commands that talk to a running hub over HTTP with a token."""

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.capacity.constraints import requirement_holds
from hub.cli import exits, hints, local, registering, render, selectors, serve, tables, watching
from hub.cli.client import Connection, call
from hub.cli.usage import UsageError, pairs, segment, vm_refs
from hub.models.api import (
    CheckAnswer,
    ClusterDetail,
    ClusterList,
    Migration,
    MigrationList,
    Registered,
    Role,
    State,
    Task,
    TaskList,
    VmList,
    VmReference,
)

Reader = Callable[[], Coroutine[Any, Any, list[dict[str, Any]]]]
"""Reads a list's items from the hub."""
DEFAULT_HUB = f"http://127.0.0.1:{serve.DEFAULT_PORT}"


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file:
        path: Path | None = args.token_file
    elif os.environ.get("CCLM_TOKEN"):
        return os.environ["CCLM_TOKEN"].strip()
    else:
        default = serve.admin_token_path()
        path = default if default.is_file() else None
    if path is None:
        return None
    try:
        return path.read_text().strip()
    except OSError as error:
        raise UsageError(f"--token-file {path}: cannot read: {error.strerror}") from error


def connection(args: argparse.Namespace) -> Connection:
    given = args.hub or os.environ.get("CCLM_HUB") or DEFAULT_HUB
    flag = "--hub" if args.hub else "CCLM_HUB"
    return Connection(hints.hub_url(given, flag), _token(args), args.ca_file)


def _request(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    return asyncio.run(call(connection(args), method, path, **kwargs))


def _show(args: argparse.Namespace, data: Any, text: str) -> int:
    print(render.shown(args.output, data, text))
    return 0


def check(args: argparse.Namespace) -> int:
    if not args.vm:
        raise UsageError("name at least one VM with --vm CLUSTER/NAMESPACE/NAME")
    body: dict[str, Any] = {
        "vms": vm_refs(args.vm),
        "storage_class_map": pairs(args.map, "--map", "SOURCE_CLASS=TARGET_CLASS"),
        "list_excluded": True,
    }
    if args.target:
        body["target"] = args.target
    if args.max_suggestions is not None:
        body["max_suggestions"] = args.max_suggestions
    data = _request(args, "POST", "/api/v1/checks", body=body)
    answer = CheckAnswer.model_validate(data)
    _show(args, data, render.text(answer))
    return exits.of_check(answer)


def checks(args: argparse.Namespace) -> int:
    """`cclm check`: through the hub when one is named, against fleet files when they are;
    the example fleet only when asked for, since its clusters are named like real ones and
    an answer from it could be taken for one from the real fleet."""
    through_hub = bool(args.hub or os.environ.get("CCLM_HUB"))
    if through_hub:
        if args.vm_file:
            raise UsageError("--vm-file works without a hub; with --hub name VMs with --vm")
        if args.fleet or args.example:
            given = "--fleet" if args.fleet else "--example"
            raise UsageError(f"{given} checks without a hub: leave out --hub (and CCLM_HUB)")
        return check(args)
    if args.fleet and args.example:
        raise UsageError("--fleet or --example, not both")
    if not (args.fleet or args.example):
        raise UsageError(
            "say what to check against: --hub URL (or CCLM_HUB) for a running hub, "
            "--fleet FILE for a fleet described by files, or --example for the bundled "
            "example fleet"
        )
    return local.check(args)


def clusters(args: argparse.Namespace) -> int:
    if args.action == "register":
        return registering.register(
            args, lambda method, path, body: _request(args, method, path, body=body)
        )
    if args.action == "token":
        data = _request(args, "POST", f"/api/v1/clusters/{args.name}/token")
        return _show(args, data, render.registered(Registered.model_validate(data)))
    if args.action == "reset-sequence":
        data = _request(args, "POST", f"/api/v1/clusters/{args.name}/sequence-reset")
        was = data["previous_sequence"]
        said = f"the report sequence of {args.name} was reset (it was {was}); its next report "
        return _show(args, data, said + "is taken whatever its sequence")
    if args.action == "show":
        data = _request(args, "GET", f"/api/v1/clusters/{args.name}")
        return _show(args, data, render.cluster(ClusterDetail.model_validate(data)))
    if args.action == "vms":
        data = _request(args, "GET", f"/api/v1/clusters/{args.name}/vms")
        return _show(args, data, render.vms(VmList.model_validate(data).items))
    wanted = selectors.parse(args.selector) if args.selector else []

    async def read() -> list[dict[str, Any]]:
        data = await call(connection(args), "GET", "/api/v1/clusters")
        return [c for c in data["items"] if all(requirement_holds(r, c["labels"]) for r in wanted)]

    def lines(items: list[dict[str, Any]], ages: bool = True) -> list[str]:
        listed = ClusterList.model_validate({"items": items}).items
        return tables.clusters(listed, args.output == "wide", ages).splitlines()

    return _listing(args, read, lines, "name", "clusters")


def _listing(
    args: argparse.Namespace,
    read: Reader,
    lines: watching.Lines,
    key: str,
    noun: str,
) -> int:
    """A list once, or with --watch its changes until Ctrl-C, as kubectl get (-w)."""
    if args.watch:
        if args.output in ("json", "yaml"):
            raise UsageError("--watch prints tables: leave out -o json/yaml, or -o wide")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(watching.watch(read, lines, key))
        return 0
    items = asyncio.run(read())
    if not items and args.output in ("text", "wide"):
        print(f"No {noun} found.", file=sys.stderr)  # as kubectl: stdout stays empty
        return 0
    return _show(args, {"items": items}, "\n".join(lines(items, True)))


def migrate(args: argparse.Namespace) -> int:
    if not args.vm:
        raise UsageError("name at least one VM with --vm CLUSTER/NAMESPACE/NAME")
    first = VmReference.parse(vm_refs(args.vm)[0])
    source = (first.cluster if first else None) or args.source
    if not source:
        raise UsageError("write --vm CLUSTER/NAMESPACE/NAME, or give --source")
    body = {
        "source_cluster": source,
        "target": args.target,
        "vms": args.vm,
        "storage_class_map": pairs(args.map, "--map", "SOURCE_CLASS=TARGET_CLASS"),
        "delete_source": args.delete_source,
        "acknowledge": args.ack,
    }
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
    data = _request(args, "POST", "/api/v1/migrations", body=body, headers=headers)
    return _show(args, data, render.migration(Migration.model_validate(data)))


def _filters(args: argparse.Namespace) -> dict[str, str]:
    return {k: v for k, v in (("state", args.state), ("cluster", args.cluster)) if v}


def _filtered(args: argparse.Namespace, path: str) -> Reader:
    """How a list filtered by --state and --cluster is read, once or on every watch."""

    async def read() -> list[dict[str, Any]]:
        data = await call(connection(args), "GET", path, params=_filters(args))
        return list(data["items"])

    return read


def migrations(args: argparse.Namespace) -> int:
    if args.action == "show":
        data = _request(args, "GET", f"/api/v1/migrations/{args.id}")
        return _show(args, data, render.migration(Migration.model_validate(data)))
    if args.action == "cancel":
        data = _request(args, "POST", f"/api/v1/migrations/{args.id}/cancel")
        return _show(args, data, render.migration(Migration.model_validate(data)))

    def lines(items: list[dict[str, Any]], ages: bool = True) -> list[str]:
        listed = MigrationList.model_validate({"items": items}).items
        shown = tables.migrations(listed, datetime.now(UTC), args.output == "wide", ages)
        return shown.splitlines()

    return _listing(args, _filtered(args, "/api/v1/migrations"), lines, "id", "migrations")


def tasks(args: argparse.Namespace) -> int:
    if args.action == "show":
        data = _request(args, "GET", f"/api/v1/tasks/{args.id}")
        return _show(args, data, render.task(Task.model_validate(data)))

    def lines(items: list[dict[str, Any]], ages: bool = True) -> list[str]:
        listed = TaskList.model_validate({"items": items}).items
        return tables.tasks(listed, datetime.now(UTC), args.output == "wide", ages).splitlines()

    return _listing(args, _filtered(args, "/api/v1/tasks"), lines, "id", "tasks")


def tokens(args: argparse.Namespace) -> int:
    if args.action == "create":
        data = _request(args, "POST", "/api/v1/tokens", body={"name": args.name, "role": args.role})
        return _show(args, data, f"{data['token']}\n(shown once; role {data['info']['role']})")
    if args.action == "revoke":
        _request(args, "DELETE", f"/api/v1/tokens/{args.id}")
        return _show(args, {"revoked": args.id}, f"revoked {args.id}")
    data = _request(args, "GET", "/api/v1/tokens")
    lines = [f"{t['id']}  {t['role']:<8}  {t['name']}" for t in data["items"]]
    return _show(args, data, "\n".join(lines) or "none")


def connection_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--hub", help=f"hub URL (env CCLM_HUB; default {DEFAULT_HUB})")
    options.add_argument(
        "--token-file",
        type=Path,
        help="file holding the bearer token (else env CCLM_TOKEN, else the local hub's "
        "admin token)",
    )
    options.add_argument("--ca-file", help="CA bundle to verify the hub's TLS certificate")
    options.add_argument(
        "--output",
        "-o",
        choices=("text", "json", "yaml", "wide"),
        default="text",
        help="text (the default), json, yaml, or wide: lists with more columns",
    )
    return options


def _watch_flag(listing: argparse.ArgumentParser) -> None:
    listing.add_argument(
        "--watch",
        "-w",
        action="store_true",
        help="after the list, a line for each item that appears or changes (Ctrl-C ends it)",
    )


def _actions(
    commands: "argparse._SubParsersAction[argparse.ArgumentParser]",
    name: str,
    help_text: str,
    shared: argparse.ArgumentParser,
) -> "tuple[argparse.ArgumentParser, argparse._SubParsersAction[argparse.ArgumentParser]]":
    command = commands.add_parser(name, help=help_text, description=help_text, parents=[shared])
    actions = command.add_subparsers(dest="action", metavar="ACTION")
    actions.add_parser("list", help="list (the default)", parents=[shared])
    return command, actions


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    shared = connection_options()
    check_parser = commands.add_parser(
        "check",
        help="will these VMs fit on that cluster? what is short, and where else would they fit?",
        description="Run the pre-migration capacity check: through a hub with --hub (or "
        "CCLM_HUB), against a fleet described by files with --fleet, or against the "
        "bundled example fleet with --example. Exit status: 0 fits, 3 short (or no cluster "
        "would take the VMs), 4 blocked or unknown, 2 a wrong command, 1 a failure.",
        parents=[shared],
    )
    local.add_check_arguments(check_parser)
    check_parser.set_defaults(run=checks)

    cluster_parser, actions = _actions(commands, "clusters", "registered clusters", shared)
    cluster_parser.set_defaults(run=clusters, selector=None, watch=False)
    for listing in (cluster_parser, actions.choices["list"]):
        _watch_flag(listing)
        listing.add_argument(
            "--selector",
            "-l",
            metavar="SELECTOR",
            help="only clusters whose labels match, as kubectl -l: env=prod,region in (a,b)",
        )
    actions.add_parser("show", help="one cluster's capacity", parents=[shared]).add_argument(
        "name", type=segment
    )
    actions.add_parser(
        "vms", help="the VMs a cluster reported, as the check sizes them", parents=[shared]
    ).add_argument("name", type=segment)
    register = actions.add_parser(
        "register",
        help="register clusters (admin): names, or --file; each token printed or written",
        description="Register one cluster or many. Each token is shown once: printed, or "
        "written owner-only to --token-dir DIR/NAME.token, or as a Secret manifest to apply "
        "in that cluster (--secret-dir DIR/NAME.yaml, the agent chart's token.existingSecret).",
        parents=[shared],
    )
    register.add_argument("name", nargs="*", help="cluster names")
    register.add_argument(
        "--file", type=Path, help="YAML list of clusters: names, or {name, labels} each"
    )
    register.add_argument(
        "--label", "-l", action="append", default=[], metavar="KEY=VALUE", help="on each cluster"
    )
    kept = register.add_mutually_exclusive_group()
    kept.add_argument("--token-dir", type=Path, help="write each token to DIR/NAME.token")
    kept.add_argument(
        "--secret-dir", type=Path, help="write each token as a Secret manifest to DIR/NAME.yaml"
    )
    register.add_argument(
        "--secret-namespace",
        default="cclm-system",
        help="the agent's namespace, for --secret-dir (default cclm-system)",
    )
    rotate = actions.add_parser("token", help="issue a new spoke token (admin)", parents=[shared])
    rotate.add_argument("name", type=segment)
    reset = actions.add_parser(
        "reset-sequence",
        help="take the next report whatever its sequence, for an agent whose sequence ran "
        "ahead (admin; audited)",
        parents=[shared],
    )
    reset.add_argument("name", type=segment)

    move = commands.add_parser(
        "migrate",
        help="check, then start a migration (reserves capacity on the target)",
        description="Soft findings must be acknowledged with --ack CODE to proceed.",
        parents=[shared],
    )
    move.add_argument("--vm", action="append", default=[], metavar="CLUSTER/NS/NAME", required=True)
    move.add_argument("--source", help="source cluster, when --vm is NAMESPACE/NAME")
    move.add_argument("--target", required=True)
    move.add_argument("--map", action="append", default=[], metavar="SRC=DST")
    move.add_argument("--ack", action="append", default=[], metavar="CODE")
    move.add_argument("--delete-source", action="store_true")
    move.add_argument("--idempotency-key", help="repeat-safe: the same key answers the same job")
    move.set_defaults(run=migrate)

    for name, runner, text in (
        ("migrations", migrations, "migrations"),
        ("tasks", tasks, "tasks (per migration: state, progress, per-VM phase)"),
    ):
        command, actions = _actions(commands, name, text, shared)
        command.set_defaults(run=runner, state=None, cluster=None, watch=False)
        for parser in (command, actions.choices["list"]):
            _watch_flag(parser)
            parser.add_argument("--state", choices=[s.value for s in State])
            parser.add_argument("--cluster")
        shown = (
            "one migration: its check, VMs and reservation"
            if name == "migrations"
            else ("one task: each VM's mode, phase, bytes copied and receiving pod")
        )
        actions.add_parser("show", help=shown, parents=[shared]).add_argument("id", type=segment)
        if name == "migrations":
            cancel = actions.add_parser(
                "cancel",
                help="cancel it, releasing its reservation (not once a VM's cutover began)",
                parents=[shared],
            )
            cancel.add_argument("id", type=segment)

    token_parser, actions = _actions(commands, "tokens", "API tokens (admin)", shared)
    token_parser.set_defaults(run=tokens)
    create = actions.add_parser(
        "create", help="mint a token (printed once) for a person or a tool", parents=[shared]
    )
    create.add_argument("name", type=segment)
    create.add_argument("--role", required=True, choices=[r.value for r in Role if r != Role.SPOKE])
    actions.add_parser("revoke", help="revoke a token by its id", parents=[shared]).add_argument(
        "id", type=segment
    )
