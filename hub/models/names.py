"""Kubernetes object names, held to the rules the API server holds them to
(k8s.io/apimachinery/pkg/util/validation/validation.go: `IsDNS1123Subdomain` for most
objects, nodes and storage classes included; `IsDNS1123Label` for namespaces). A report
names only objects that an API server admitted, so a name outside these rules is a forged
or broken report, refused before it reaches the inventory."""

from typing import Annotated

from pydantic import StringConstraints

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"

Subdomain = Annotated[
    str, StringConstraints(min_length=1, max_length=253, pattern=rf"^{_LABEL}(\.{_LABEL})*$")
]
"""DNS-1123 subdomain: at most 253 characters, lower-case alphanumeric, '-' and '.'."""

Label = Annotated[str, StringConstraints(min_length=1, max_length=63, pattern=rf"^{_LABEL}$")]
"""DNS-1123 label: at most 63 characters, lower-case alphanumeric and '-'."""
