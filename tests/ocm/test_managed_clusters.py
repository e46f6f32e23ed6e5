"""`--managed-clusters` against an emulated hub cluster over HTTP, through the official
client: ManagedClusters appearing, changing and going; cluster sets; availability;
PlacementDecisions; and each cluster's spoke token in its namespace's Secret."""

import base64

import pytest

from hub.capacity import index
from hub.models.policy import PlacementRef, Policy, TargetSelector
from tests.api.fleet import east, tiny, west
from tests.ocm.conftest import Ocm
from tests.support import hub_cluster as hc
from tests.support.hub_env import LENIENT

SET_LABEL = "cluster.open-cluster-management.io/clusterset"
MIRRORED = {"cluster.cclm.io/source": "open-cluster-management"}
WIDE = {"vms": ["east/shop/web"], "list_excluded": True}
"""A check with no target: every cluster ranked, and why the others are left out."""


def token_of(ocm: Ocm, cluster: str) -> str:
    found = hc.secret(ocm.cluster, cluster, "cclm-spoke-token")
    assert found is not None, f"no token Secret in namespace {cluster}"
    return base64.b64decode(found["data"]["token"]).decode()


async def labels_of(ocm: Ocm, cluster: str) -> dict[str, str]:
    answer = await ocm.env.api.call("GET", f"/api/v1/clusters/{cluster}", ocm.env.admin)
    assert answer.status == 200, answer.body
    return dict(answer.body["labels"])


def seed_sets(ocm: Ocm) -> None:
    for found in (
        hc.cluster_set("prod"),
        hc.cluster_set("default"),
        hc.cluster_set("global", {}),
        hc.cluster_set("gpus", {"matchLabels": {"gpu": "true"}}),
    ):
        hc.put_set(ocm.cluster, found)


async def test_each_managed_cluster_is_registered_with_its_labels_sets_and_token(
    ocm: Ocm,
) -> None:
    seed_sets(ocm)
    hc.put_cluster(ocm.cluster, hc.managed_cluster("east", {SET_LABEL: "prod", "gpu": "true"}))
    hc.put_cluster(ocm.cluster, hc.managed_cluster("west", {SET_LABEL: "default"}, "False"))
    await ocm.follow()
    assert await labels_of(ocm, "east") == {
        SET_LABEL: "prod",
        "gpu": "true",
        **MIRRORED,
        "cluster.cclm.io/available": "true",
        "clusterset.cclm.io/prod": "true",
        "clusterset.cclm.io/global": "true",
        "clusterset.cclm.io/gpus": "true",
    }
    assert await labels_of(ocm, "west") == {
        SET_LABEL: "default",
        **MIRRORED,
        "cluster.cclm.io/available": "false",
        "clusterset.cclm.io/default": "true",
        "clusterset.cclm.io/global": "true",
    }
    # Each Secret's token is that cluster's spoke token, and only that cluster's.
    assert (await ocm.env.report(token_of(ocm, "east"), east())).status == 202
    assert (await ocm.env.report(token_of(ocm, "east"), west())).status == 403
    assert (await ocm.env.report(token_of(ocm, "west"), west())).status == 202
    secret = hc.secret(ocm.cluster, "east", "cclm-spoke-token")
    assert secret["metadata"]["labels"]["app.kubernetes.io/part-of"] == "cclm"
    # A second pass changes nothing: the tokens stay.
    before = token_of(ocm, "east")
    plan = await ocm.follower.reconcile(ocm.env.hub)
    assert (plan.register, plan.relabel, plan.retire) == ((), (), ())
    assert token_of(ocm, "east") == before


async def test_a_changed_cluster_is_relabelled_and_an_unavailable_one_is_not_suggested(
    ocm: Ocm,
) -> None:
    hc.put_cluster(ocm.cluster, hc.managed_cluster("east"))
    hc.put_cluster(ocm.cluster, hc.managed_cluster("west", available=None))
    await ocm.follow()
    for name, built in (("east", east()), ("west", west())):
        assert (await ocm.env.report(token_of(ocm, name), built)).status == 202
    body = {"vms": ["east/shop/web"], "target": "west"}
    checked = await ocm.env.api.call("POST", "/api/v1/checks", ocm.env.admin, body)
    findings = {f["code"]: f for f in checked.body["target"]["findings"]}
    assert findings["CLUSTER_UNAVAILABLE"]["severity"] == "critical"
    assert findings["CLUSTER_UNAVAILABLE"]["details"] == {"available": "unknown"}
    wide = await ocm.env.api.call("POST", "/api/v1/checks", ocm.env.admin, WIDE)
    assert wide.body["suggestions"] == []
    reasons = {e["cluster"]: e["reason"] for e in wide.body["excluded"]}
    assert reasons["west"] == "its ManagedCluster is not Available"

    hc.put_cluster(ocm.cluster, hc.managed_cluster("west", {"tier": "gold"}, "True"))
    await ocm.follow()
    assert (await labels_of(ocm, "west"))["tier"] == "gold"
    wide = await ocm.env.api.call("POST", "/api/v1/checks", ocm.env.admin, WIDE)
    assert [s["cluster"] for s in wide.body["suggestions"]] == ["west"]


async def test_a_missing_or_wrong_secret_gets_a_new_token(ocm: Ocm) -> None:
    hc.put_cluster(ocm.cluster, hc.managed_cluster("east"))
    await ocm.follow()
    first = token_of(ocm, "east")
    del ocm.cluster.objects["v1/secrets", "east", "cclm-spoke-token"]
    await ocm.follow()
    second = token_of(ocm, "east")
    assert second != first
    assert (await ocm.env.report(first, east())).status == 401
    assert (await ocm.env.report(second, east())).status == 202
    stored = ocm.cluster.objects["v1/secrets", "east", "cclm-spoke-token"]
    stored.patch({"data": {"token": base64.b64encode(b"cclm_0000_not-a-token").decode()}})
    await ocm.follow()
    third = token_of(ocm, "east")
    assert third not in (second, "cclm_0000_not-a-token")
    assert (await ocm.env.report(third, east(sequence=2))).status == 202


async def test_a_removed_cluster_is_retired_and_one_registered_by_hand_is_kept(
    ocm: Ocm,
) -> None:
    manual = await ocm.env.register("tiny")
    assert (await ocm.env.report(manual, tiny())).status == 202
    hc.put_cluster(ocm.cluster, hc.managed_cluster("east"))
    hc.put_cluster(ocm.cluster, hc.managed_cluster("west"))
    await ocm.follow()
    west_token = token_of(ocm, "west")
    for name, built in (("east", east()), ("west", west())):
        assert (await ocm.env.report(token_of(ocm, name), built)).status == 202
    body = {"source_cluster": "east", "target": "west", "vms": ["shop/db"]}
    accepted = await ocm.env.api.call("POST", "/api/v1/migrations", ocm.env.admin, body)
    assert accepted.status == 201, accepted.body

    hc.remove_cluster(ocm.cluster, "west")
    # Gone once may be a blip: retired when it is still gone at the next pass.
    first = await ocm.follower.reconcile(ocm.env.hub)
    assert (first.absent, first.retire) == (("west",), ())
    assert (await ocm.env.api.call("GET", "/api/v1/clusters/west", ocm.env.admin)).status == 200
    plan = await ocm.follower.reconcile(ocm.env.hub)
    assert plan.retire == ("west",)
    gone = await ocm.env.api.call("GET", "/api/v1/clusters/west", ocm.env.admin)
    assert gone.status == 404
    assert (await ocm.env.report(west_token, west(sequence=2))).status == 401
    # The migration into it fails (it cannot go on), its reservation released with it.
    failed = await ocm.env.api.call(
        "GET", f"/api/v1/migrations/{accepted.body['id']}", ocm.env.admin
    )
    assert failed.body["state"] == "failed"
    assert ocm.env.sql("SELECT release_reason FROM claims") == [("failed",)]
    jobs = await ocm.env.api.call(
        "GET", "/api/v1/clusters/east/jobs", token_of(ocm, "east"), params={"wait": "0"}
    )
    assert jobs.status == 200, jobs.body
    assert jobs.body["items"] == []  # east's agent stops: the job is no longer listed
    alerts = await ocm.env.api.call(
        "GET", "/api/v1/alerts", ocm.env.admin, params={"kind": "cluster-retired"}
    )
    [alert] = alerts.body["items"]
    assert alert["cluster"] == "west"
    assert "its ManagedCluster is gone" in alert["message"]
    # Registered by hand, never a ManagedCluster: untouched, though no ManagedCluster names it.
    assert (await ocm.env.api.call("GET", "/api/v1/clusters/tiny", ocm.env.admin)).status == 200
    assert "cluster.cclm.io/source" not in await labels_of(ocm, "tiny")


async def test_a_cluster_being_deleted_is_retired(ocm: Ocm) -> None:
    hc.put_cluster(ocm.cluster, hc.managed_cluster("east"))
    await ocm.follow()
    going = hc.managed_cluster("east")
    going["metadata"]["deletionTimestamp"] = "2026-12-02T00:00:00Z"
    hc.put_cluster(ocm.cluster, going)
    await ocm.follow()
    plan = await ocm.follower.reconcile(ocm.env.hub)
    assert plan.retire == ("east",)


async def test_an_empty_list_retires_nobody(ocm: Ocm) -> None:
    hc.put_cluster(ocm.cluster, hc.managed_cluster("east"))
    await ocm.follow()
    hc.remove_cluster(ocm.cluster, "east")
    for _ in range(3):
        plan = await ocm.follower.reconcile(ocm.env.hub)
        assert plan.retire == ()
    assert (await ocm.env.api.call("GET", "/api/v1/clusters/east", ocm.env.admin)).status == 200


async def test_a_cluster_not_yet_accepted_waits(ocm: Ocm) -> None:
    hc.put_cluster(ocm.cluster, hc.managed_cluster("east", accepted=False))
    plan = await ocm.follower.reconcile(ocm.env.hub)
    assert plan.register == ()
    assert hc.secret(ocm.cluster, "east", "cclm-spoke-token") is None
    hc.put_cluster(ocm.cluster, hc.managed_cluster("east"))
    await ocm.follow()
    assert (await ocm.env.report(token_of(ocm, "east"), east())).status == 202


async def test_labels_the_hub_owns_are_never_taken_from_a_cluster(ocm: Ocm) -> None:
    forged = {
        "placement.cclm.io/virt.targets": "true",
        "clusterset.cclm.io/prod": "true",
        "cluster.cclm.io/available": "true",
        "feature.open-cluster-management.io/addon-cclm-spoke-agent": "available",
        "region": "east",
    }
    hc.put_cluster(ocm.cluster, hc.managed_cluster("east", forged, available="False"))
    await ocm.follow()
    assert await labels_of(ocm, "east") == {
        "region": "east",
        **MIRRORED,
        "cluster.cclm.io/available": "false",
    }
    by_hand = await ocm.env.api.call(
        "POST",
        "/api/v1/clusters",
        ocm.env.admin,
        {"name": "lab", "labels": {"placement.cclm.io/virt.targets": "true"}},
    )
    assert by_hand.status == 400
    assert "placement.cclm.io/virt.targets is the hub's own" in by_hand.message


async def test_one_cluster_that_cannot_be_kept_does_not_hold_up_the_rest(ocm: Ocm) -> None:
    hc.put_cluster(ocm.cluster, hc.managed_cluster("east"))
    ocm.cluster.objects["v1/secrets", "east", "cclm-spoke-token"] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "cclm-spoke-token", "namespace": "east"},
        "data": {"token": base64.b64encode(b"a service account's").decode()},
    }
    hc.put_cluster(ocm.cluster, hc.managed_cluster("west"))
    await ocm.follow()
    # east's Secret is not the hub's: left alone (and logged); west is kept all the same.
    assert hc.secret(ocm.cluster, "east", "cclm-spoke-token")["type"] == (
        "kubernetes.io/service-account-token"
    )
    assert (await ocm.env.report(token_of(ocm, "west"), west())).status == 202


async def test_a_cluster_registered_by_hand_is_taken_over(
    ocm: Ocm, caplog: pytest.LogCaptureFixture
) -> None:
    manual = await ocm.env.register("east", {"team": "a"})
    hc.put_cluster(ocm.cluster, hc.managed_cluster("east", {"team": "b"}))
    plan = await ocm.follower.reconcile(ocm.env.hub)
    assert plan.adopt == ("east",)
    assert "east was registered by hand" in caplog.text
    assert (await labels_of(ocm, "east"))["team"] == "b"
    assert (await ocm.env.report(manual, east())).status == 401
    assert (await ocm.env.report(token_of(ocm, "east"), east())).status == 202


async def test_a_placement_chooses_the_eligible_targets(ocm: Ocm) -> None:
    ocm.env.hub.policy = LENIENT.model_copy(
        update={
            "eligible_targets": TargetSelector(
                placement=PlacementRef(namespace="virt", name="targets")
            )
        }
    )
    for name in ("east", "west", "tiny"):
        hc.put_cluster(ocm.cluster, hc.managed_cluster(name))
    # Two decision objects of the Placement, and one of another Placement.
    hc.put_decision(ocm.cluster, hc.decision("virt", "targets", 1, ["west"]))
    hc.put_decision(ocm.cluster, hc.decision("virt", "targets", 2, ["east"]))
    hc.put_decision(ocm.cluster, hc.decision("virt", "others", 1, ["tiny"]))
    await ocm.follow()
    assert (await labels_of(ocm, "west"))["placement.cclm.io/virt.targets"] == "true"
    assert "placement.cclm.io/virt.targets" not in await labels_of(ocm, "tiny")
    for name, built in (("east", east()), ("west", west()), ("tiny", tiny())):
        assert (await ocm.env.report(token_of(ocm, name), built)).status == 202
    wide = await ocm.env.api.call("POST", "/api/v1/checks", ocm.env.admin, WIDE)
    assert [s["cluster"] for s in wide.body["suggestions"]] == ["west"]
    reasons = {e["cluster"]: e["reason"] for e in wide.body["excluded"]}
    assert reasons["tiny"] == "not selected by the policy's eligible_targets"
    # The Placement decides again: tiny in, west out.
    hc.put_decision(ocm.cluster, hc.decision("virt", "targets", 1, ["tiny"]))
    await ocm.follow()
    wide = await ocm.env.api.call("POST", "/api/v1/checks", ocm.env.admin, WIDE)
    assert [s["cluster"] for s in wide.body["suggestions"]] == ["tiny"]


def test_without_managed_clusters_a_placement_selects_nothing() -> None:
    from hub.capacity.rules import eligibility, selects
    from tests.support.builders import NOW, NodeBuilder, report

    chosen = TargetSelector(placement=PlacementRef(namespace="virt", name="targets"))
    assert not selects(chosen, {"region": "east"})
    built = index.build(report("west", [NodeBuilder("w").build()]), {}, NOW)
    [finding] = eligibility(built, Policy(eligible_targets=chosen))
    assert "Placement virt/targets has not chosen it" in finding.message
    assert "--managed-clusters" in finding.message
    assert selects(chosen, {"placement.cclm.io/virt.targets": "true"})
    assert (
        Policy.model_validate(
            {"eligible_targets": {"placement": {"namespace": "virt", "name": "targets"}}}
        ).eligible_targets
        == chosen
    )


@pytest.mark.parametrize("bad", [{"namespace": "Virt", "name": "t"}, {"name": "t"}])
def test_a_bad_placement_reference_is_refused(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="placement"):
        Policy.model_validate({"eligible_targets": {"placement": bad}})
