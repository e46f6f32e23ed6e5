"""Reading KubeVirt manifests: whatever the documents hold, the answer is VMs or one
`ManifestError` that names where; never another exception (which the API would turn into
a 500 and the CLI into a traceback)."""

import contextlib
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.capacity.kubevirt import render
from hub.capacity.kubevirt.admission import RejectedError
from hub.fleet import manifests

WEB = list(
    yaml.safe_load_all((Path(__file__).parents[2] / "hub/examples/manifests/web.yaml").read_text())
)

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8) | st.just("4Gi"),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node: object, path: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*path, i))
    return found


def _replace(root: Any, path: tuple[object, ...], value: object) -> Any:
    if not path:
        return value
    node = root
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return root


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_any_damage_to_a_manifest_is_a_manifest_error_or_a_vm(data: st.DataObject) -> None:
    documents = copy.deepcopy(WEB)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(_paths(documents)))
        documents = _replace(documents, path, data.draw(JSON))
    if not isinstance(documents, list):
        documents = [documents]
    try:
        vms = manifests.machines(documents, "f")
    except manifests.ManifestError as error:
        vms, message = [], str(error)
    else:
        message = "f"
    assert message.startswith("f")
    for vm in vms:
        with contextlib.suppress(RejectedError):
            render.render(vm, render.default_target())


def test_a_bad_disk_size_names_the_volume() -> None:
    documents = copy.deepcopy(WEB)
    documents[2]["spec"]["dataVolumeTemplates"][0]["spec"]["storage"]["resources"]["requests"][
        "storage"
    ] = "lots"
    with pytest.raises(manifests.ManifestError) as refused:
        manifests.machines(documents, "f")
    assert str(refused.value) == (
        "f document 3 (web): spec.template.spec.volumes[0]: claim 'web-root' storage: "
        "'lots' is not a Kubernetes quantity (examples: '500m', '2', '1.5Gi', '128974848', '1e3')"
    )
