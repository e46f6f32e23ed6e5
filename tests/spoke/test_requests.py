"""A bound pod's requests by kubernetes/component-helpers v0.35.0 resource/helpers.go:
PodRequests :149, AggregateContainerRequests :191, determineEffectiveRequests :287,
IsPodResizeInfeasible :302, IsSupportedPodLevelResource :74."""

from typing import Any

from spoke_agent.report.requests import pod_requests
from spoke_agent.sim import objects as m

GIB, MIB = 2**30, 2**20


def _pod(
    containers: list[dict[str, Any]],
    init: list[dict[str, Any]] | None = None,
    **status: Any,
) -> dict[str, Any]:
    pod = m.pod("ns", "p", "w1", containers, init_containers=init)
    pod["status"].update(status)
    return pod


def _sidecar(name: str, cpu: str, memory: str) -> dict[str, Any]:
    return {**m.container(name, cpu, memory), "restartPolicy": "Always"}


def _resized(name: str, actual: dict[str, str], allocated: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "resources": {"requests": actual}, "allocatedResources": allocated}


def test_an_init_container_counts_with_the_sidecars_started_before_it() -> None:
    # app 1 + sidecar 0.25 = 1.25 cores; init "big" runs beside the sidecar: 3 + 0.25.
    pod = _pod(
        [m.container("app", "1", "1Gi")],
        [_sidecar("mesh", "250m", "256Mi"), m.container("big", "3", "512Mi")],
    )
    assert pod_requests(pod) == {"cpu": 3250, "memory": GIB + 256 * MIB}


def test_a_sidecar_declared_after_an_init_container_does_not_run_beside_it() -> None:
    pod = _pod(
        [m.container("app", "1", "1Gi")],
        [m.container("big", "3", "512Mi"), _sidecar("mesh", "250m", "256Mi")],
    )
    assert pod_requests(pod) == {"cpu": 3000, "memory": GIB + 256 * MIB}


def test_in_place_resize_takes_the_largest_of_spec_actual_and_allocated() -> None:
    # spec 1 core / 1Gi; the kubelet runs it at 2 cores / 512Mi and allocated 1.5 / 3Gi.
    pod = _pod(
        [m.container("app", "1", "1Gi")],
        containerStatuses=[
            _resized("app", {"cpu": "2", "memory": "512Mi"}, {"cpu": "1500m", "memory": "3Gi"})
        ],
    )
    assert pod_requests(pod) == {"cpu": 2000, "memory": 3 * GIB}


def test_an_infeasible_resize_leaves_the_spec_out() -> None:
    # The spec asks for 8 cores the node cannot give; actual and allocated are what counts.
    pod = _pod(
        [m.container("app", "8", "1Gi")],
        containerStatuses=[
            _resized("app", {"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})
        ],
        conditions=[{"type": "PodResizePending", "status": "True", "reason": "Infeasible"}],
    )
    assert pod_requests(pod) == {"cpu": 1000, "memory": GIB}


def test_a_deferred_resize_keeps_the_spec() -> None:
    pod = _pod(
        [m.container("app", "8", "1Gi")],
        containerStatuses=[
            _resized("app", {"cpu": "1", "memory": "1Gi"}, {"cpu": "1", "memory": "1Gi"})
        ],
        conditions=[{"type": "PodResizePending", "status": "True", "reason": "Deferred"}],
    )
    assert pod_requests(pod)["cpu"] == 8000


def test_a_sidecar_is_resized_but_an_ordinary_init_container_is_not() -> None:
    pod = _pod(
        [m.container("app", "1", "1Gi")],
        [_sidecar("mesh", "100m", "64Mi"), m.container("setup", "500m", "64Mi")],
        initContainerStatuses=[
            _resized("mesh", {"cpu": "400m", "memory": "64Mi"}, {"cpu": "400m", "memory": "64Mi"}),
            _resized("setup", {"cpu": "4", "memory": "4Gi"}, {"cpu": "4", "memory": "4Gi"}),
        ],
    )
    # app 1 + resized sidecar 0.4; setup's own spec (0.5) + sidecar 0.4 is smaller.
    assert pod_requests(pod) == {"cpu": 1400, "memory": GIB + 64 * MIB}


def test_a_status_without_resources_leaves_the_spec_alone() -> None:
    pod = _pod([m.container("app", "1", "1Gi")], containerStatuses=[{"name": "app", "ready": True}])
    assert pod_requests(pod) == {"cpu": 1000, "memory": GIB}


def test_pod_level_requests_replace_cpu_memory_and_hugepages_but_not_others() -> None:
    app = m.container("app", "1", "1Gi")
    app["resources"]["requests"]["nvidia.com/gpu"] = "1"
    pod = _pod([app, m.container("log", "100m", "64Mi")])
    pod["spec"]["resources"] = {
        "requests": {"cpu": "3", "memory": "6Gi", "hugepages-2Mi": "1Gi", "nvidia.com/gpu": "4"}
    }
    assert pod_requests(pod) == {
        "cpu": 3000,
        "memory": 6 * GIB,
        "hugepages-2Mi": GIB,
        "nvidia.com/gpu": 1,
    }


def test_a_pod_level_cpu_request_leaves_the_memory_sum() -> None:
    pod = _pod([m.container("a", "1", "1Gi"), m.container("b", "1", "1Gi")])
    pod["spec"]["resources"] = {"requests": {"cpu": "500m"}}
    assert pod_requests(pod) == {"cpu": 500, "memory": 2 * GIB}


def test_pod_level_in_place_resize_takes_the_pods_own_status() -> None:
    pod = _pod([m.container("a", "1", "1Gi")])
    pod["spec"]["resources"] = {"requests": {"cpu": "2", "memory": "2Gi"}}
    pod["status"]["resources"] = {"requests": {"cpu": "3", "memory": "1Gi"}}
    pod["status"]["allocatedResources"] = {"cpu": "2", "memory": "5Gi"}
    assert pod_requests(pod) == {"cpu": 3000, "memory": 5 * GIB}


def test_the_pod_overhead_comes_on_top_of_pod_level_requests() -> None:
    pod = _pod([m.container("a", "1", "1Gi")])
    pod["spec"]["resources"] = {"requests": {"cpu": "2"}}
    pod["spec"]["overhead"] = {"cpu": "250m", "memory": "120Mi"}
    assert pod_requests(pod) == {"cpu": 2250, "memory": GIB + 120 * MIB}


def test_limits_stand_in_for_unset_requests() -> None:
    pod = _pod([{"name": "a", "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}}])
    assert pod_requests(pod) == {"cpu": 2000, "memory": GIB}
