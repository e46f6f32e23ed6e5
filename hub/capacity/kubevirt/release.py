"""Which KubeVirt release's rules apply, and rules keyed on the release that introduced them.

A rule may arrive in a minor release and be backported to patch releases of older lines
(the CPU-vendor rule of migration targets came in v1.8.0, v1.7.1 and v1.6.4), so `since`
takes the first release of each line that carries it.
"""

import re
from dataclasses import dataclass
from functools import lru_cache

_VERSION = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, slots=True, order=True)
class Release:
    major: int
    minor: int
    patch: int = 0

    @property
    def line(self) -> tuple[int, int]:
        return (self.major, self.minor)

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"


def parse(text: str) -> Release | None:
    """ "v1.9.0", "1.9", "v1.6.2-rc.1" and "v1.8.4-12-gabcdef" all name a release."""
    match = _VERSION.match(text.strip())
    if match is None:
        return None
    return Release(int(match[1]), int(match[2]), int(match[3] or 0))


def _releases(line: tuple[int, int], last_patch: int) -> tuple[Release, ...]:
    return tuple(Release(line[0], line[1], p) for p in range(last_patch + 1))


KNOWN: tuple[Release, ...] = (
    *_releases((1, 5), 3),
    *_releases((1, 6), 6),
    *_releases((1, 7), 4),
    *_releases((1, 8), 4),
    *_releases((1, 9), 0),
)
"""Every release whose rules were read from its tag in kubevirt/kubevirt."""
OLDEST, NEWEST = KNOWN[0], KNOWN[-1]


@dataclass(frozen=True, slots=True)
class Choice:
    """The rules a cluster is sized with, and why, when they are not its own release's."""

    release: Release
    note: str | None = None


def rules_for(version: str | None) -> Choice:
    if not version:
        return Choice(NEWEST, f"KubeVirt version not reported; sized with {NEWEST}'s rules")
    found = parse(version)
    if found is None:
        return Choice(
            NEWEST, f"KubeVirt version {version!r} not understood; sized with {NEWEST}'s rules"
        )
    if found > NEWEST:
        return Choice(
            NEWEST, f"KubeVirt {version} is newer than the rules know; sized with {NEWEST}'s"
        )
    if found < OLDEST:
        return Choice(
            OLDEST, f"KubeVirt {version} is older than the rules know; sized with {OLDEST}'s"
        )
    same_line = [r for r in KNOWN if r.line == found.line and r <= found]
    if not same_line:
        newest_older = max(r for r in KNOWN if r < found)
        return Choice(
            newest_older, f"KubeVirt {version} is not a known release; sized with {newest_older}'s"
        )
    chosen = same_line[-1]
    if chosen != found:
        return Choice(
            chosen, f"KubeVirt {version} is newer than the rules know; sized with {chosen}'s"
        )
    return Choice(chosen)


CHANGES: frozenset[tuple[str, ...]] = frozenset(
    {
        ("1.5.0",),
        ("1.5.1",),
        ("1.5.2",),
        ("1.5.3",),
        ("1.6.0",),
        ("1.7.0",),
        ("1.7.0", "1.6.4"),
        ("1.8.0",),
        ("1.8.0", "1.7.1", "1.6.4"),
        ("1.9.0",),
    }
)
"""Every release a rule of this package begins with (and its backports): `since` takes no
other, so these tell which releases size every VM alike."""
ONLY: frozenset[str] = frozenset({"1.6.2"})
"""Releases with a rule of their own, which the next patch took back."""


@lru_cache(maxsize=64)
def _rule(text: str) -> Release:
    """A release the rules name (a constant of this package), parsed once."""
    found = parse(text)
    assert found is not None, text
    return found


@lru_cache(maxsize=1024)
def since(release: Release, first: str, *backports: str) -> bool:
    """True from `first` on, and in a backport's line from that backport's patch on.
    (Memoized: a pod's rendering asks it a few dozen times.)"""
    assert (first, *backports) in CHANGES, f"add {(first, *backports)} to CHANGES"
    if release >= _rule(first):
        return True
    for text in backports:
        backport = _rule(text)
        if release.line == backport.line and release >= backport:
            return True
    return False


def only(release: Release, text: str) -> bool:
    """The rule of one release alone."""
    assert text in ONLY, f"add {text} to ONLY"
    return release == _rule(text)


def signature(release: Release) -> tuple[bool, ...]:
    """Which rule changes a release has: releases of one signature size every VM alike."""
    changes = sorted(CHANGES)
    return (
        *(since(release, *change) for change in changes),
        *(only(release, text) for text in sorted(ONLY)),
    )


@lru_cache(maxsize=32)
def alike(release: Release) -> str:
    """The known releases of this one's signature, in runs: "v1.8.0-v1.8.4"."""
    wanted = signature(release)
    runs: list[list[Release]] = []
    previous = None
    for known in KNOWN:
        if signature(known) != wanted:
            previous = None
            continue
        if previous is None:
            runs.append([])
        runs[-1].append(known)
        previous = known
    if not runs:
        return str(release)
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def before(release: Release, first: str, *backports: str) -> bool:
    return not since(release, first, *backports)
