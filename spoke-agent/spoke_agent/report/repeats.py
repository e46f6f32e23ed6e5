"""One line for a failure that many watches share: with the API server down, every kind's
watch fails with the same error, and a line per kind per retry buried the one that
mattered (241 lines in 25 s). The first occurrence of an error is said, then at most one
line per `every` seconds with how many were held back. Thread-safe: the watches run in
threads."""

import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Said:
    at: float
    held: int = 0


@dataclass
class Repeats:
    clock: Callable[[], float]
    every: float = 60.0
    _said: dict[str, Said] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def say(self, key: str) -> int | None:
        """None: hold this one back; else say it, with how many were held back since."""
        now = self.clock()
        with self._lock:
            said = self._said.get(key)
            if said is not None and now - said.at < self.every:
                said.held += 1
                return None
            held = 0 if said is None else said.held
            self._said[key] = Said(now)
            return held
