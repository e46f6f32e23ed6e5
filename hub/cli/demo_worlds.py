"""The simulated clusters the demo's agents migrate VMs between, and the scenes of its tour:
things that happen to a VM mid-flight in a real fleet (a user stops it, the target fills
up), made to happen here, to the tour's own migrations only, so a person can watch the
product deal with them."""

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from spoke_agent.drivers import ClusterDriver, simulated
from spoke_agent.drivers.simulated import World
from spoke_agent.executor.model import Job, Phase

Scene = Callable[[World, str], bool]
"""Acts on one VM of a world; True once the scene is over for it."""
UNSCHEDULABLE = "0/4 nodes are available: 4 Insufficient memory."
"""What the scheduler says of a pod when the cluster filled up after the check."""
PASS_EVERY = 0.25
"""Seconds between an agent's passes over a running job; the simulated clusters' clock moves
a tick per pass: quick, and still visible."""
UNSCHEDULABLE_TIMEOUT = int(300 / PASS_EVERY)
"""Ticks: as KubeVirt does after 300 s, the simulation deletes a receiving pod the scene holds
Pending after about as long, and the attempt fails; until then it is stalled, and can be
cancelled."""


def stop_mid_flight(world: World, vm: str) -> bool:
    """The VM's owner stops it while its live migration is under way."""
    source = world.vms[vm].source
    if not world.live_started(vm) or source is None or not source.running:
        return False
    world.power(vm, False)
    return True


def target_fills_up(world: World, vm: str) -> bool:
    """Other workloads took the target's memory after the check: every receiving pod stays
    Pending with the scheduler's message, for as long as the migration lasts."""
    world.timing = dataclasses.replace(world.timing, receiver_timeout=UNSCHEDULABLE_TIMEOUT)
    for pod in world.pods_of("receiver", vm):
        if pod.phase == Phase.PENDING:
            world.stick(pod.name, UNSCHEDULABLE)
    return False


@dataclass
class Worlds:
    """One simulated pair of clusters per job, and the scenes played on named jobs."""

    scenes: dict[str, Scene] = field(default_factory=dict)
    """job (migration) id -> what happens to its VMs mid-flight."""
    running: dict[str, World] = field(default_factory=dict)
    """job id -> its world."""
    over: set[tuple[str, str]] = field(default_factory=set)

    def build(self, job: Job, _credentials: object) -> tuple[ClusterDriver, ClusterDriver]:
        world = World(dict.fromkeys(job.vms, True))
        self.running[job.id] = world
        return simulated.pair(world)

    def play(self) -> None:
        for job, world in self.running.items():
            scene = self.scenes.get(job)
            if scene is None:
                continue
            for vm in world.vms:
                if (job, vm) not in self.over and scene(world, vm):
                    self.over.add((job, vm))

    async def pause(self, seconds: float) -> None:
        """Between an executor's passes: the scenes act, then time passes."""
        self.play()
        await asyncio.sleep(seconds)
