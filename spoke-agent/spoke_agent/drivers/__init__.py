"""The executor's view of a cluster. It drives both ends of a migration through this one
interface: the source cluster it runs in, and the target through the job's connection.

Two implementations: `simulated` (a pair of in-memory clusters on a virtual clock, the
executor's test bed and the demo's) and `kubernetes` (the real objects, through the official
client). Like httpx's transports, the fake is a first-class implementation, not a patch.
"""

from typing import Protocol

from spoke_agent.executor.model import Action, ClusterState, Job


class ClusterDriver(Protocol):
    def observe(self, job: Job) -> ClusterState:
        """Everything of `job` this cluster holds, read fresh."""
        ...

    def apply(self, job: Job, action: Action) -> None:
        """Carry out one action. Idempotent: applying it twice is applying it once."""
        ...
