"""VM references are taken apart in one place, the way the API's `VmRef` pattern reads them."""

import pytest

from hub.models.api import VmReference


@pytest.mark.parametrize(
    ("ref", "parsed"),
    [
        ("shop/db", VmReference(None, "shop", "db")),
        ("prod-east/shop/db", VmReference("prod-east", "shop", "db")),
        ("db", None),
        ("a/b/c/d", None),
        ("/shop/db", None),
        ("shop/", None),
    ],
)
def test_a_reference_is_namespace_name_with_an_optional_cluster(
    ref: str, parsed: VmReference | None
) -> None:
    assert VmReference.parse(ref) == parsed


def test_the_key_is_the_name_inside_the_cluster() -> None:
    found = VmReference.parse("prod-east/shop/db")
    assert found is not None
    assert found.key == "shop/db"
