"""Ranking across the fleet: exact, explained, and the same as checking every cluster."""

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.capacity import check, engine, fleet, index, suggestions
from hub.models.check import CheckRequest, Verdict
from hub.models.policy import Policy
from hub.models.report import KubeVirtSettings
from tests.support.builders import NOW, NodeBuilder, fleet_of, report, vm

POLICY = Policy()


def run(fleet_index, vms, **kw):
    return engine.run(
        fleet_index, CheckRequest(vms=tuple(vms), **kw), POLICY, NOW, list_excluded=True
    )


def three_clusters():
    return fleet_of(
        report("small", [NodeBuilder(f"s{i}").memory("64Gi", "40Gi").build() for i in range(3)]),
        report("big", [NodeBuilder(f"b{i}").memory("256Gi", "20Gi").build() for i in range(4)]),
        report("full", [NodeBuilder(f"f{i}").memory("64Gi", "60Gi").build() for i in range(3)]),
    )


def test_suggestions_rank_fitting_clusters_and_explain_the_rest():
    result = run(three_clusters(), [vm(memory="16Gi")])
    assert [s.cluster for s in result.suggestions] == ["big", "small"]
    assert result.suggestions[0].score.total > result.suggestions[1].score.total
    assert any("stay free" in r for r in result.suggestions[0].reasons)
    [full] = result.excluded
    assert full.cluster == "full"
    assert "largest free is 4.0 GiB" in full.reason


def test_an_excluded_cluster_gives_every_reason_worst_first():
    # Short of memory on its one node (a blocker) and five minutes silent, past the policy's
    # soft staleness of 120 s (a warning).
    crowded = report("crowded", [NodeBuilder("c").memory("32Gi", "24Gi").build()])
    late = fleet.build([index.build(crowded, {}, NOW - timedelta(minutes=5))])
    result = run(late, [vm(memory="16Gi")])
    [excluded] = result.excluded
    assert len(excluded.reasons) == 2
    assert "the largest free is 8.0 GiB on c" in excluded.reasons[0]
    assert "report" in excluded.reasons[1]
    assert excluded.reason == excluded.reasons[0]


def test_the_source_and_target_are_never_suggested_and_locality_counts():
    region = "topology.kubernetes.io/region"
    labels = {"small": {region: "east"}, "big": {region: "west"}, "full": {region: "east"}}
    reports = [
        report("small", [NodeBuilder("s").memory("256Gi", "20Gi").build()]),
        report("big", [NodeBuilder("b").memory("256Gi", "20Gi").build()]),
        report("full", [NodeBuilder("f").memory("64Gi").build()]),
    ]
    result = run(fleet_of(*reports, labels=labels), [vm()], source_cluster="full")
    assert [s.cluster for s in result.suggestions] == ["small", "big"]
    assert {e.cluster: e.reason for e in result.excluded} == {"full": "the source of this check"}


def test_ineligible_stale_and_kubevirt_less_clusters_are_excluded_with_reasons():
    policy = Policy.model_validate({"eligible_targets": {"match_labels": {"env": "prod"}}})
    clusters = [
        index.build(report("prod", [NodeBuilder("p").build()]), {"env": "prod"}, NOW),
        index.build(report("lab", [NodeBuilder("l").build()]), {"env": "lab"}, NOW),
        index.build(
            report("old", [NodeBuilder("o").build()]), {"env": "prod"}, NOW - timedelta(hours=1)
        ),
        index.build(
            report("nokv", [NodeBuilder("k").build()], kubevirt=KubeVirtSettings(installed=False)),
            {"env": "prod"},
            NOW,
        ),
    ]
    result = engine.run(
        fleet.build(clusters), CheckRequest(vms=(vm(),)), policy, NOW, list_excluded=True
    )
    assert [s.cluster for s in result.suggestions] == ["prod"]
    assert {e.cluster: e.reason for e in result.excluded} == {
        "lab": "not selected by the policy's eligible_targets",
        "old": "report older than the hard staleness limit",
        "nokv": "KubeVirt absent",
    }
    assert result.excluded_counts["KubeVirt absent"] == 1


def test_an_unknown_target_is_reported_as_unknown():
    result = run(three_clusters(), [vm()], target="nowhere")
    assert result.target is not None
    assert result.target.verdict == Verdict.UNKNOWN


def test_a_batch_no_single_cluster_takes_gets_a_split_plan():
    clusters = fleet_of(
        *[report(f"c{i}", [NodeBuilder(f"n{i}").memory("64Gi", "20Gi").build()]) for i in range(3)]
    )
    batch = [vm(f"v{i}", memory="30Gi") for i in range(3)]
    result = run(clusters, batch)
    assert result.suggestions == ()
    assert result.split is not None
    assert sorted(v for part in result.split.parts for v in part.vms) == ["ns/v0", "ns/v1", "ns/v2"]
    assert len(result.split.parts) == 3
    assert result.split.unplaced == ()


MODELS = ("Skylake-Server", "Icelake-Server")
node_shapes = st.tuples(
    st.sampled_from(["32Gi", "64Gi", "128Gi"]),
    st.integers(0, 95),
    st.integers(0, 95),
    st.booleans(),
    st.sampled_from(MODELS),
)
vm_shapes = st.tuples(
    st.sampled_from(["2Gi", "8Gi", "24Gi", "40Gi"]),
    st.booleans(),
    st.sampled_from((None, *MODELS)),
)


@settings(max_examples=80, deadline=None)
@given(
    clusters=st.lists(st.lists(node_shapes, min_size=1, max_size=4), min_size=1, max_size=8),
    shapes=st.lists(vm_shapes, min_size=1, max_size=3),
    limit=st.integers(1, 4),
)
def test_ranking_equals_checking_every_cluster(clusters, shapes, limit):
    """The threshold walk stops early and the fleet-wide prefilter drops clusters; it must
    still return what a full scan would, with cordoned nodes that some VMs tolerate and
    host-model VMs that need the source's CPU model."""
    reports = []
    for c, nodes in enumerate(clusters):
        built = []
        for n, (size, mem_pct, cpu_pct, cordoned, model) in enumerate(nodes):
            total = int(size.removesuffix("Gi"))
            node = (
                NodeBuilder(f"n{n}")
                .memory(size, f"{total * mem_pct // 100}Gi")
                .cpu("16", f"{16 * cpu_pct * 10}m")
                .label(f"cpu-model-migration.node.kubevirt.io/{model}")
            )
            built.append((node.cordoned() if cordoned else node).build())
        reports.append(report(f"c{c}", built))
    fleet_index = fleet_of(*reports)
    vms = [
        vm(
            f"v{i}",
            memory=memory,
            host_model=model,
            tolerations=[{"operator": "Exists"}] if tolerant else [],
        )
        for i, (memory, tolerant, model) in enumerate(shapes)
    ]
    ctx = check.Context(policy=POLICY, now=NOW)
    ranked = suggestions.rank(fleet_index, vms, ctx, {}, limit)
    every = [check.evaluate(c, vms, ctx).result for c in fleet_index.clusters]
    fitting = sorted((r.score.total for r in every if r.fits and r.score), reverse=True)
    assert [s.score.total for s in ranked.suggestions] == fitting[:limit]
