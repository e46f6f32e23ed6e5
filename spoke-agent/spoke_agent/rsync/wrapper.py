"""`cclm-rsync-progress COMMAND...`: the rsync image's entrypoint. It runs the pod's command,
passes its output through, and when the pod is told its own name (POD_NAME and POD_NAMESPACE
from the downward API) writes the bytes sent so far to its `cclm.io/bytes-copied` annotation,
at most every few seconds and once at the end. It exits with the command's status, so a
failed copy fails the pod; a report that cannot be written (the pod's ServiceAccount may not
patch pods) is logged once and never fails the copy."""

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from spoke_agent.drivers.kube_objects import BYTES_COPIED
from spoke_agent.rsync.progress import Tally, lines

EVERY = 5.0
"""Seconds between reports: the executor reads them on its rounds, not live."""


class Reporter:
    def __init__(self, namespace: str, name: str) -> None:
        if os.environ.get("KUBECONFIG"):
            config.load_kube_config()
        else:
            config.load_incluster_config()
        self.pods = client.CoreV1Api()
        self.namespace, self.name = namespace, name
        self.failing = False

    def report(self, total: int) -> None:
        body = {"metadata": {"annotations": {BYTES_COPIED: str(total)}}}
        try:
            self.pods.patch_namespaced_pod(self.name, self.namespace, body)
            self.failing = False
        except (ApiException, HTTPError, OSError) as error:
            if not self.failing:
                reason = getattr(error, "reason", None) or error
                print(f"cclm-rsync-progress: cannot report progress: {reason}", file=sys.stderr)
            self.failing = True


def _reporter() -> Reporter | None:
    name, namespace = os.environ.get("POD_NAME"), os.environ.get("POD_NAMESPACE")
    if not (name and namespace):
        return None
    try:
        return Reporter(namespace, name)
    except config.ConfigException as error:
        print(f"cclm-rsync-progress: progress is not reported: {error}", file=sys.stderr)
        return None


def _forward(process: "subprocess.Popen[bytes]") -> None:
    """As PID 1 the entrypoint gets no default action for SIGTERM: without this, a pod being
    deleted (a copy cancelled or retried) would wait out its grace period, and rsync would
    be killed without a word. The command's whole group hears it, `sh -c`'s children too."""

    def handle(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, handle)


def run(command: Sequence[str], reporter: Reporter | None) -> int:
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    _forward(process)
    output = process.stdout
    assert isinstance(output, io.BufferedReader)
    tally, rest, reported, last = Tally(), "", -1, 0.0
    # read1: what the command wrote so far, without waiting for a full buffer.
    while chunk := output.read1(65536):
        sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
        whole, rest = lines(rest + chunk.decode(errors="replace"))
        for line in whole:
            tally.feed(line)
        if reporter and tally.total != reported and time.monotonic() - last >= EVERY:
            reporter.report(tally.total)
            reported, last = tally.total, time.monotonic()
    tally.feed(rest)
    status = process.wait()
    if reporter and tally.total != reported:
        reporter.report(tally.total)
    return 128 - status if status < 0 else status


def main(argv: Sequence[str] | None = None) -> int:
    command = list(sys.argv[1:] if argv is None else argv)
    if not command:
        print("usage: cclm-rsync-progress COMMAND [ARG...]", file=sys.stderr)
        return 2
    try:
        return run(command, _reporter())
    except FileNotFoundError:
        print(f"cclm-rsync-progress: no such command: {command[0]}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())
