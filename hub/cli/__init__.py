"""`cclm`: the command line. Local commands read files; the others talk to a hub."""

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import version

import pydantic
from spoke_agent import cli as spoke

from hub import policy_files
from hub.cli import demo, exits, feeds, fleet_files, hints, local, policy, remote, serve, size
from hub.cli.client import ClientError
from hub.cli.usage import UsageError
from hub.store import StoreError


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="cclm", description="Capacity-aware cross-cluster live migration of KubeVirt VMs."
    )
    top.add_argument("--version", action="version", version=f"cclm {version('cclm')}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo.add_commands(commands)
    remote.add_commands(commands)
    feeds.add_commands(commands)
    local.add_commands(commands)
    policy.add_commands(commands)
    size.add_commands(commands)
    serve.add_commands(commands)
    spoke.add_commands(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (UsageError, policy_files.PolicyError, fleet_files.FleetFileError) as error:
        print(f"cclm: {error}", file=sys.stderr)
        return exits.USAGE
    except pydantic.ValidationError as error:
        print(f"cclm: {error}", file=sys.stderr)
        return exits.USAGE
    except StoreError as error:
        print(f"cclm: the store cannot be used: {error}", file=sys.stderr)
        return exits.FAILED
    except ClientError as error:
        status = f" ({error.status} {error.code})" if error.status else ""
        print(f"cclm: hub{status}: {hints.said(error)}", file=sys.stderr)
        return exits.of_refusal(error.status)
    except BrokenPipeError:
        # The reader went away (`cclm ... | head`), as with kubectl: stop quietly, and keep
        # the interpreter from failing again on the output it still holds.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return exits.FAILED
