"""What rsync's `--info=progress2` output says was sent, summed over the runs of one pod (a
client runs rsync once per volume, and each run counts from zero)."""

import re
from dataclasses import dataclass

_LINE = re.compile(r"^\s*(\d[\d,.]*)\s+\d+%")
"""`     1,238,099,968  42%  118.13MB/s    0:00:10 (xfr#1, to-chk=0/2)`: the bytes this run
has dealt with so far come first; the separators follow the locale."""


@dataclass(slots=True)
class Tally:
    finished: int = 0
    """Bytes of the runs before the current one."""
    current: int = 0

    @property
    def total(self) -> int:
        return self.finished + self.current

    def feed(self, line: str) -> bool:
        """Takes one line (rsync ends progress lines with a carriage return); True when the
        total changed. A count lower than the last one is a new run starting."""
        match = _LINE.match(line)
        if match is None:
            return False
        count = int(re.sub(r"[,.]", "", match.group(1)))
        if count < self.current:
            self.finished += self.current
        changed = count != self.current
        self.current = count
        return changed


def lines(buffer: str) -> tuple[list[str], str]:
    """The whole lines of `buffer` (ended by CR or LF) and the rest, still being written."""
    parts = re.split(r"[\r\n]", buffer)
    return parts[:-1], parts[-1]
