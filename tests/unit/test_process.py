"""What a hub process sets up about itself: the open files it may have, and failures said
once per interval."""

import asyncio
import logging
import resource
import subprocess
import sys

import pytest
from aiohttp.http_exceptions import BadHttpMessage

from hub.api.connections import Admission, total_for
from hub.cli.process import MalformedRequests, Quieted


def test_the_soft_open_files_limit_is_raised_to_the_hard_one() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard > 512, "this machine's hard limit leaves nothing to raise"
    code = "from hub.cli import process; print(*process.raise_open_files())"
    done = subprocess.run(
        [sys.executable, "-c", code],
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard)),
        capture_output=True,
        text=True,
        check=True,
    )
    expected = max(512, 1 << 16) if hard == resource.RLIM_INFINITY else hard
    assert done.stdout.split() == ["512", str(expected)]


def test_a_repeated_failure_is_said_once_per_interval_with_a_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    quiet = Quieted(every=10, clock=lambda: now[0])
    loop = asyncio.new_event_loop()
    try:
        failure = {"message": "socket.accept() out of system resource"}
        for _ in range(500):
            quiet(loop, failure)
        quiet(loop, {"message": "something else"})
        now[0] = 11
        quiet(loop, failure)
    finally:
        loop.close()
    said = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert said == [
        "socket.accept() out of system resource",
        "something else",
        "socket.accept() out of system resource (and 499 more like it in the last 10 s)",
    ]
    assert all(r.levelno == logging.ERROR for r in caplog.records if r.name == "asyncio")


def test_admission_caps_each_client_and_the_total_and_frees_on_close() -> None:
    admission = Admission(per_client=2, total=3)
    assert [admission.admit("a") for _ in range(3)] == [True, True, False], "two per client"
    assert admission.admit("b")
    assert not admission.admit("c"), "three in all"
    admission.release("a")
    assert admission.admit("c"), "a closed connection makes room"
    assert not admission.admit("a")


def test_a_small_open_files_limit_still_leaves_connections() -> None:
    assert total_for(20000) == 20000 - 128
    assert total_for(100) == 50, "not a negative cap that refuses everyone"


def test_malformed_requests_are_said_in_a_line_not_a_traceback_each() -> None:
    now = [0.0]
    quiet = MalformedRequests(every=10, clock=lambda: now[0])

    def record(error: BaseException) -> logging.LogRecord:
        return logging.LogRecord(
            "aiohttp.server",
            logging.ERROR,
            __file__,
            1,
            "Error handling request from %s",
            ("10.0.0.9",),
            (type(error), error, None),
        )

    bad = BadHttpMessage("Invalid header value char")
    first = record(bad)
    assert quiet.filter(first)
    assert first.getMessage() == (
        "refused a malformed request from 10.0.0.9: Invalid header value char"
    )
    assert first.exc_info is None
    assert first.levelno == logging.WARNING
    assert not any(quiet.filter(record(bad)) for _ in range(300)), "held back"
    now[0] = 11
    later = record(bad)
    assert quiet.filter(later)
    assert later.getMessage().endswith("(and 300 more in the last 10 s)")
    other = record(RuntimeError("a bug"))
    assert quiet.filter(other)
    assert other.exc_info is not None, "any other failure keeps its traceback"
