"""`cclm clusters register`: one cluster or a fleet at once (names, or a file of names and
labels), each token written where the administrator keeps it (a file per cluster, or a
Kubernetes Secret manifest per cluster to apply there), so 50 clusters are one command."""

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from hub.cli import exits, hints, render
from hub.cli.client import ClientError
from hub.cli.usage import UsageError, pairs
from hub.models.api import Registered

Request = Callable[[str, str, Any], Any]
"""The hub call: method, path, body."""
SECRET = "cclm-spoke-token"


def wanted(args: argparse.Namespace) -> list[tuple[str, dict[str, str]]]:
    """The clusters asked for, each with the labels given for all and its own."""
    shared = pairs(args.label, "--label", "KEY=VALUE")
    found = [(name, dict(shared)) for name in args.name]
    if args.file is not None:
        found += [(name, {**shared, **own}) for name, own in _entries(args.file)]
    if not found:
        raise UsageError("name the clusters to register: NAME ... or --file FILE")
    names = [name for name, _ in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise UsageError(f"cluster {twice[0]!r} is named twice")
    return found


def _entries(path: Path) -> list[tuple[str, dict[str, str]]]:
    """A YAML list of `{name, labels}` (or of bare names)."""
    try:
        loaded = yaml.safe_load(path.read_text())
    except OSError as error:
        raise UsageError(f"--file {path}: cannot read: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise UsageError(f"--file {path}: not valid YAML: {error}") from error
    if not isinstance(loaded, list):
        raise UsageError(f"--file {path}: expected a list of clusters ({{name, labels}} each)")
    entries = []
    for at, item in enumerate(loaded, 1):
        entry = {"name": item} if isinstance(item, str) else item
        labels = entry.get("labels") or {} if isinstance(entry, dict) else None
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("name"), str)
            or not (isinstance(labels, dict) and all(isinstance(v, str) for v in labels.values()))
        ):
            raise UsageError(
                f"--file {path}: cluster {at} must be a name or {{name: NAME, labels: {{KEY: "
                "VALUE}}}} with string values"
            )
        entries.append((entry["name"], {str(k): v for k, v in labels.items()}))
    return entries


def _owner_only(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def secret_manifest(token: str, namespace: str) -> str:
    """The Secret the agent's chart takes as `token.existingSecret` (key `token`)."""
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": SECRET, "namespace": namespace},
        "stringData": {"token": token},
    }
    return yaml.safe_dump(secret, sort_keys=False)


def _kept(args: argparse.Namespace, answer: Registered) -> str:
    """Where the token went (written owner-only), or the token itself."""
    if args.token_dir is not None:
        path = args.token_dir / f"{answer.cluster}.token"
        _owner_only(path, answer.token + "\n")
        return f"cluster {answer.cluster}: token written to {path} (mode 0600)"
    if args.secret_dir is not None:
        path = args.secret_dir / f"{answer.cluster}.yaml"
        _owner_only(path, secret_manifest(answer.token, args.secret_namespace))
        return f"cluster {answer.cluster}: Secret {SECRET} written to {path} (mode 0600)"
    return render.registered(answer)


def register(args: argparse.Namespace, request: Request) -> int:
    clusters = wanted(args)
    done, failed, lines = [], [], []
    for name, labels in clusters:
        try:
            data = request("POST", "/api/v1/clusters", {"name": name, "labels": labels})
        except ClientError as error:
            failed.append(error)
            status = f" ({error.status} {error.code})" if error.status else ""
            print(f"cclm: hub{status}: {name} not registered: {hints.said(error)}", file=sys.stderr)
            continue
        answer = Registered.model_validate(data)
        printed = args.token_dir is None and args.secret_dir is None
        done.append(data if printed else {"cluster": name})
        lines.append(_kept(args, answer))
    # One cluster answers as the API does; several, as a list.
    data = done[0] if len(clusters) == 1 and done else {"items": done}
    if done:
        print(render.shown(args.output, data, "\n".join(lines)))
    return exits.of_refusal(failed[0].status) if failed else exits.OK
