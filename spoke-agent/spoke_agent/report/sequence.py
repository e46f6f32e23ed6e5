"""Report sequence numbers that only ever grow, across restarts.

The next number is the larger of the last one saved plus one and the current time in
milliseconds, so even an agent that lost its state file resumes above everything it sent
before (the hub ignores anything not newer), as long as the clock does not jump back.
"""

import os
from datetime import datetime
from pathlib import Path


class Sequence:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._last = self._read()

    def _read(self) -> int:
        try:
            return int(self._path.read_text().strip())
        except (OSError, ValueError):
            return 0

    def next(self, now: datetime) -> int:
        value = max(self._last + 1, int(now.timestamp() * 1000))
        self._path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self._path.with_suffix(".tmp")
        temporary.write_text(str(value))
        os.replace(temporary, self._path)
        self._last = value
        return value
