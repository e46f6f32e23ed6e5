"""A clock the test moves: the hub and the agents are given it, so no test sleeps."""

from datetime import datetime, timedelta

from tests.support.builders import NOW


class FakeClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
