"""RBAC as the API server applies it, for the tests that hold a chart's rules to the
requests the code makes (kmock records them): each request is the authorization check it
costs, each rule the checks it passes."""

import itertools
from dataclasses import dataclass
from typing import Any

import kmock

Atom = tuple[str, str, str, str | None]
"""Verb, API group, resource, resource name (None: any)."""


@dataclass(frozen=True)
class Ask:
    """One authorization check, as the API server makes it for a request."""

    verb: str
    group: str
    resource: str
    namespace: str | None = None
    name: str | None = None

    def matches(self, atom: Atom) -> bool:
        verb, group, resource, name = atom
        return (self.verb, self.group, self.resource) == (verb, group, resource) and (
            name is None or name == self.name
        )


@dataclass(frozen=True)
class Grant:
    """A rule, in the namespace of the RoleBinding that grants it (None: everywhere)."""

    namespace: str | None
    rule: dict[str, Any]

    def atoms(self) -> list[Atom]:
        rule = self.rule
        names = rule.get("resourceNames") or [None]
        return list(itertools.product(rule["verbs"], rule["apiGroups"], rule["resources"], names))

    def reaches(self, ask: Ask) -> bool:
        return self.namespace in (None, ask.namespace)

    def allows(self, ask: Ask) -> bool:
        return self.reaches(ask) and any(ask.matches(atom) for atom in self.atoms())

    def unused(self, asks: list[Ask]) -> list[Atom]:
        reached = [ask for ask in asks if self.reaches(ask)]
        return [a for a in self.atoms() if not any(ask.matches(a) for ask in reached)]


def ask_of(request: kmock.Request) -> Ask:
    assert request.resource is not None, request.url
    named = request.name is not None
    verb = {
        "GET": "get" if named else "list",
        "POST": "create",
        "PATCH": "patch",
        "PUT": "update",
        "DELETE": "delete" if named else "deletecollection",
    }[request.method.value]
    if request.params.get("watch") == "true":
        verb = "watch"
    resource = "/".join(filter(None, [request.resource.plural, request.subresource]))
    return Ask(verb, request.resource.group, resource, request.namespace, request.name)
