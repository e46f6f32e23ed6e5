"""The fit index kept beside each report: loading it gives the index parsing the report
gives, and the live claims apply to it the same way."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from hub.capacity import index, index_form
from hub.models.claim import Claim, ClaimShare
from hub.models.report import CapacityReport, ResourceQuota, Resources
from tests.support.builders import NodeBuilder, report, storage_class

RECEIVED = datetime(2026, 12, 2, 10, tzinfo=UTC)
GPU = "nvidia.com/gpu"


def _report() -> CapacityReport:
    nodes = [
        NodeBuilder("n1").cpu("16", "4").memory("64Gi", "16Gi").scalar(GPU, "4", "1").build(),
        NodeBuilder("n2").cpu("8").memory("32Gi").taint("dedicated", value="db").build(),
        NodeBuilder("n3").cpu("8").memory("32Gi").cordoned().build(),
    ]
    quota = ResourceQuota(namespace="shop", name="compute", hard={"pods": 10}, used={"pods": 2})
    return report(
        "east",
        nodes,
        storage_classes=[storage_class("ceph", is_default=True), storage_class("nfs")],
        quotas=[quota],
    )


def _claim() -> Claim:
    return Claim(
        id="c-1",
        cluster="east",
        expires_at=RECEIVED + timedelta(minutes=15),
        nodes={"n1": Resources(cpu_millis=2000, memory_bytes=2**30, scalar={GPU: 1})},
        storage_bytes={"ceph": 10 * 2**30},
        shares={"shop/web": ClaimShare(node="n1")},
    )


def _loaded(built: index.ClusterIndex) -> index.ClusterIndex:
    loaded = index_form.decode(index_form.encode(built, RECEIVED, 3), {"tier": "gold"}, RECEIVED)
    assert loaded is not None
    assert (loaded.generated_at, loaded.vms) == (RECEIVED, 3)
    return loaded.index


ARRAYS = ("cpu_allocatable", "cpu_used", "memory_allocatable", "memory_used", "pods_free")


def test_a_loaded_form_is_the_index_the_report_gives() -> None:
    parsed = index.unclaimed(_report(), {"tier": "gold"}, RECEIVED)
    loaded = _loaded(parsed)
    for name in (*ARRAYS, "usable", "ready", "plain", "profile_of"):
        assert np.array_equal(getattr(loaded, name), getattr(parsed, name)), name
    for name in ("name", "sequence", "labels", "node_names", "hostnames", "profiles", "totals"):
        assert getattr(loaded, name) == getattr(parsed, name), name
    assert dict(loaded.storage_classes) == dict(parsed.storage_classes)
    assert loaded.default_storage_class == "ceph"
    assert dict(loaded.quotas) == dict(parsed.quotas)
    assert (loaded.kubevirt, loaded.cdi) == (parsed.kubevirt, parsed.cdi)
    assert np.array_equal(loaded.scalar[GPU].used, parsed.scalar[GPU].used)


def test_claims_apply_to_a_loaded_form_as_to_a_parsed_report() -> None:
    claimed = index.with_claims(_loaded(index.unclaimed(_report(), {}, RECEIVED)), [_claim()])
    # n1: 16 cores less the 4 its pods request less the claim's 2; one GPU of 4 in use,
    # and the claim's one more; the claimed VM's pod counts against n1's pods.
    assert claimed.cpu_free.tolist() == [16000 - 4000 - 2000, 8000, 8000]
    assert claimed.memory_used.tolist()[0] == 16 * 2**30 + 2**30
    assert claimed.scalar[GPU].used.tolist() == [2, 0, 0]
    assert claimed.pods_free[0] == index.build(_report(), {}, RECEIVED).pods_free[0] - 1
    assert dict(claimed.storage_claimed) == {"ceph": 10 * 2**30}
    assert claimed.claim_count == 1
    direct = index.build(_report(), {}, RECEIVED, [_claim()])
    for name in ARRAYS:
        assert np.array_equal(getattr(claimed, name), getattr(direct, name)), name
    assert claimed.totals == direct.totals


def test_a_form_of_another_version_or_kind_is_not_read() -> None:
    form = index_form.encode(index.unclaimed(_report(), {}, RECEIVED), RECEIVED, 0)
    assert index_form.decode(b"PK\x03\x04 not a form", {}, RECEIVED) is None
    newer = form.replace(b'"version": 1', b'"version": 9', 1)
    assert index_form.decode(newer, {}, RECEIVED) is None


def test_only_an_unclaimed_index_has_a_form() -> None:
    with pytest.raises(ValueError, match="unclaimed"):
        index_form.encode(index.build(_report(), {}, RECEIVED, [_claim()]), RECEIVED, 0)
