"""A claim's per-VM shares: marking a landing, and what still holds against a report."""

from datetime import UTC, datetime, timedelta

from hub.models.claim import Claim, ClaimShare
from hub.models.report import Resources

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
GPU = "nvidia.com/gpu"


def share(node: str | None, cpu: int, memory: int, storage: int, gpus: int = 0) -> ClaimShare:
    return ClaimShare(
        node=node,
        resources=Resources(
            cpu_millis=cpu, memory_bytes=memory, scalar={GPU: gpus} if gpus else {}
        ),
        storage_bytes={"fast": storage},
        quota={"shop": {"requests.memory": memory, "pods": 1}},
    )


def claim() -> Claim:
    return Claim(
        id="c1",
        cluster="west",
        expires_at=T0 + timedelta(minutes=15),
        nodes={
            "w1": Resources(cpu_millis=3000, memory_bytes=12, scalar={GPU: 1}),
            "w2": Resources(cpu_millis=500, memory_bytes=2),
        },
        storage_bytes={"fast": 70},
        quota={"shop": {"requests.memory": 14, "pods": 3}},
        shares={
            "shop/db": share("w1", 2000, 8, 50, gpus=1),
            "shop/web": share("w1", 1000, 4, 10),
            "shop/cache": share("w2", 500, 2, 10),
        },
    )


def test_nothing_changes_until_a_report_newer_than_the_landing() -> None:
    landed = claim().landed(["shop/db"], T0)
    assert landed.shares["shop/db"].landed_at == T0
    assert landed.held(T0) == landed, "a report received at the landing may not show the VM"
    assert claim().held(T0 + timedelta(hours=1)) == claim(), "nothing landed"


def test_a_landed_share_leaves_the_node_and_quota_totals_but_not_storage() -> None:
    held = claim().landed(["shop/db"], T0).held(T0 + timedelta(seconds=1))
    assert held.nodes == {
        "w1": Resources(cpu_millis=1000, memory_bytes=4),
        "w2": Resources(cpu_millis=500, memory_bytes=2),
    }
    assert held.storage_bytes == {"fast": 70}, "free space in a report lags new volumes"
    assert held.quota == {"shop": {"requests.memory": 6, "pods": 2}}
    assert set(held.shares) == {"shop/web", "shop/cache"}


def test_all_landed_holds_nothing_and_never_goes_below_zero() -> None:
    everything = claim().landed(["shop/db", "shop/web", "shop/cache"], T0)
    held = everything.held(T0 + timedelta(seconds=1))
    assert held.nodes == {"w1": Resources(), "w2": Resources()}
    assert (held.quota, held.shares) == ({}, {})
    assert held.storage_bytes == {"fast": 70}, "released with the claim, not before"


def test_a_first_landing_is_kept_and_unknown_vms_are_ignored() -> None:
    first = claim().landed(["shop/db"], T0)
    again = first.landed(["shop/db", "other/vm"], T0 + timedelta(minutes=5))
    assert again == first


def test_a_share_without_a_node_takes_nothing_from_the_nodes() -> None:
    short = claim().model_copy(
        update={"shares": {**claim().shares, "shop/db": share(None, 0, 0, 50)}}
    )
    held = short.landed(["shop/db"], T0).held(T0 + timedelta(seconds=1))
    assert held.nodes == claim().nodes
    assert held.quota == {"shop": {"requests.memory": 14, "pods": 2}}
