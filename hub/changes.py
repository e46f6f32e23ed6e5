"""What other replicas changed since this one last followed the store, gathered from the
store's notices so a burst of them costs one catch-up, not one each."""

from dataclasses import dataclass, field

from hub.store import Change, Topic

MAX_NAMED = 64
"""Clusters named at once beyond which re-reading them all is cheaper than one by one."""


@dataclass(slots=True)
class Pending:
    tokens: bool = False
    settings: bool = False
    clusters: set[str] = field(default_factory=set)
    everything: bool = False

    def add(self, change: Change) -> None:
        if change.topic is Topic.TOKENS:
            self.tokens = True
        elif change.topic is Topic.SETTINGS:
            self.settings = True
        elif change.topic is Topic.CLUSTER:
            self.clusters.add(change.key)
            self.everything |= len(self.clusters) > MAX_NAMED
        elif change.topic is Topic.EVERYTHING:
            self.everything = True
