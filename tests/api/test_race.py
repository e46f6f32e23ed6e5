"""Reservations under contention: concurrent accepts can never promise the same last slot."""

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from hub.store import AcceptOutcome, Store
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


class GatedStore:
    """Holds each replica's first accept until both replicas have evaluated the target at the
    same generation, so the write-write race on the last slot happens on every run. The
    rest of the store is the replica's own."""

    barrier: asyncio.Barrier

    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self._first = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def accept(self, *args: Any, **kwargs: Any) -> AcceptOutcome:
        if self._first:
            self._first = False
            await self.barrier.wait()
        return await self._inner.accept(*args, **kwargs)


async def test_replicas_racing_for_the_last_slot_take_it_once(env: Env) -> None:
    await _fleet(env, slots=1)
    GatedStore.barrier = asyncio.Barrier(2)
    other = Env(env.db, FakeClock(env.clock.now), LENIENT)
    other.admin = env.admin
    for replica in (env, other):
        replica.wrap = GatedStore
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


async def test_one_request_repeated_over_three_replicas_makes_one_migration(env: Env) -> None:
    """The same request with one Idempotency-Key, 60 times over three replicas at once: one
    migration is made and every answer names it (none says the VM is busy with it)."""
    await _fleet(env, slots=10)
    others = [Env(env.db, FakeClock(env.clock.now), LENIENT) for _ in range(2)]
    for other in others:
        other.admin = env.admin
        await other.start()
    replicas = [env, *others]
    body = {"source_cluster": "src", "target": "dst", "vms": ["race/vm-7"]}
    headers = {"Idempotency-Key": "change-7"}
    try:
        answers = await asyncio.gather(
            *(
                replicas[i % 3].api.call(
                    "POST", "/api/v1/migrations", env.admin, body, headers=headers
                )
                for i in range(60)
            )
        )
    finally:
        for other in others:
            await other.stop()
    assert Counter(a.status for a in answers) == {201: 1, 200: 59}, [a.code for a in answers]
    assert len({a.body["id"] for a in answers}) == 1


async def test_one_replica_at_a_time_sweeps_and_another_takes_over_when_it_stops(
    env: Env,
) -> None:
    other = Env(env.db, env.clock, LENIENT)
    other.admin = env.admin
    await other.start()
    try:
        term = timedelta(seconds=6)
        assert await env.hub.leading(term)
        assert not await other.hub.leading(term), "the lease is the first replica's"
        env.clock.advance(4)
        assert await env.hub.leading(term), "renewed in time"
        assert not await other.hub.leading(term)
        env.clock.advance(7)
        assert await other.hub.leading(term), "its holder stopped renewing: taken over"
        assert not await env.hub.leading(term)
    finally:
        await other.stop()


class SlowRead:
    """Holds one read (`tokens` or `clusters`) until the test lets it go."""

    def __init__(self, inner: Store, held: str) -> None:
        self._inner = inner
        self._held = held
        self.reading = asyncio.Event()
        self.release = asyncio.Event()
        self.hold = False

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._inner, name)
        if name != self._held:
            return found

        async def read() -> Any:
            value = await found()
            if self.hold:
                self.hold = False
                self.reading.set()
                await self.release.wait()
            return value

        return read


@pytest.mark.parametrize("held", ["tokens", "clusters"])
async def test_a_cluster_registered_while_the_hub_follows_the_store_is_not_lost(
    env: Env, held: str
) -> None:
    """Following the store (every 2 s) read the tokens or clusters, a registration added
    one meanwhile, and the stale read replaced the hub's view: the new spoke was refused
    (unauthorized, or unknown cluster) until the next read."""
    slow: list[SlowRead] = []
    env.wrap = lambda store: slow.append(SlowRead(store, held)) or slow[-1]
    await env.restart()
    slow[0].hold = True
    following = asyncio.create_task(env.hub.refresh())
    await slow[0].reading.wait()
    token = await env.register("late")
    slow[0].release.set()
    await following
    assert (await env.report(token, report("late", [NodeBuilder("l-1").build()]))).status == 202
