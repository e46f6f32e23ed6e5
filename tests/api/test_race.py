"""Reservations under contention: concurrent accepts can never promise the same last slot."""

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from hub.store import AcceptOutcome
from hub.store.sqlite import SqliteStore
from tests.support.builders import MIB, NodeBuilder, report, vm
from tests.support.clock import FakeClock
from tests.support.hub_env import LENIENT, Env

VMS = [vm(f"vm-{i}", "race", memory="4Gi") for i in range(100)]
# What v1.9.0 asks for one of them: the 4 GiB guest + 220 MiB fixed + 8 MiB vCPU + 8 MiB
# IOThread + 32 MiB video, + the 35M console-log sidecar.
POD_MEMORY = 4 * 1024 * MIB + (220 + 8 + 8 + 32) * MIB + 35 * 10**6


async def _fleet(env: Env, slots: int) -> None:
    source = await env.register("src")
    target = await env.register("dst")
    await env.report(source, report("src", [NodeBuilder("src-1").build()], vms=tuple(VMS)))
    room = slots * POD_MEMORY + POD_MEMORY // 2
    node = NodeBuilder("dst-1").cpu("1000").memory(str(room)).build()
    await env.report(target, report("dst", [node]))


async def _race(envs: list[Env]) -> list[Any]:
    async def one(i: int) -> Any:
        env = envs[i % len(envs)]
        body = {"source_cluster": "src", "target": "dst", "vms": [f"race/vm-{i}"]}
        return await env.api.call("POST", "/api/v1/migrations", env.admin, body)

    return list(await asyncio.gather(*(one(i) for i in range(100))))


def _assert_exactly(answers: list[Any], slots: int) -> None:
    statuses = Counter(a.status for a in answers)
    assert statuses == {201: slots, 409: 100 - slots}, statuses
    for refused in (a for a in answers if a.status == 409):
        assert refused.code == "acknowledgement_required"
        assert refused.body["error"]["details"]["acknowledge"] == ["MEMORY_SHORT"]
        assert "in-flight reservation(s)" in refused.message


async def test_hundred_concurrent_migrations_for_ten_slots(env: Env) -> None:
    await _fleet(env, slots=10)
    _assert_exactly(await _race([env]), 10)
    detail = await env.api.call("GET", "/api/v1/clusters/dst", env.admin)
    assert detail.body["live_claims"] == 10
    assert detail.body["resources"]["memory_bytes"]["reserved"] == 10 * POD_MEMORY


class GatedStore(SqliteStore):
    """Holds each replica's first accept until both replicas have evaluated the target at the
    same generation, so the write-write race on the last slot happens on every run."""

    barrier: asyncio.Barrier

    def __init__(self, path: Path | str) -> None:
        super().__init__(path)
        self._first = True

    async def accept(self, *args: Any, **kwargs: Any) -> AcceptOutcome:
        if self._first:
            self._first = False
            await self.barrier.wait()
        return await super().accept(*args, **kwargs)


async def test_replicas_racing_for_the_last_slot_take_it_once(env: Env) -> None:
    await _fleet(env, slots=1)
    GatedStore.barrier = asyncio.Barrier(2)
    other = Env(env.db, FakeClock(env.clock.now), LENIENT)
    other.admin = env.admin
    for replica in (env, other):
        replica.store_type = GatedStore
    await env.restart()
    await other.start()
    try:
        answers = await asyncio.gather(
            *(
                replica.api.call(
                    "POST",
                    "/api/v1/migrations",
                    env.admin,
                    {"source_cluster": "src", "target": "dst", "vms": [f"race/vm-{i}"]},
                )
                for i, replica in enumerate((env, other))
            )
        )
        assert sorted(a.status for a in answers) == [201, 409]
    finally:
        await other.stop()


@pytest.mark.parametrize("slots", [1, 10])
async def test_two_hub_replicas_on_one_store_never_oversell(env: Env, slots: int) -> None:
    """Each replica has its own memory and lock; only the store's generation check can keep
    them from both taking the last slot."""
    await _fleet(env, slots=slots)
    other = Env(env.db, FakeClock(env.clock.now), LENIENT)
    other.admin = env.admin
    await other.start()
    try:
        _assert_exactly(await _race([env, other]), slots)
        await other.hub.refresh()
        await env.hub.refresh()
        for replica in (env, other):
            detail = await replica.api.call("GET", "/api/v1/clusters/dst", env.admin)
            assert detail.body["live_claims"] == slots
    finally:
        await other.stop()
