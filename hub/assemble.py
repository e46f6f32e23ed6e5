"""The hub's composition root: the one place a hub process is put together, whichever edge
starts it (`cclm hub serve`, the demo, the tests). It chooses the store adapter, loads the
packaged policy when none was given, and builds the HTTP application around the hub.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from hub import policy_files
from hub.api import app as api
from hub.models.policy import Policy
from hub.service import Hub, Settings
from hub.store import Store
from hub.store.sqlite import SqliteStore

Clock = Callable[[], datetime]


class SettingsError(ValueError):
    """A setting out of range; `setting` names it, so each edge can say it in its own terms
    (the CLI names the flag)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting}: {message}")
        self.setting = setting
        self.message = message


def _positive(settings: object, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(settings, name)
        zero = timedelta(0) if isinstance(value, timedelta) else 0
        if value <= zero:
            raise SettingsError(name, f"must be more than zero, not {value}")


@dataclass(frozen=True, slots=True)
class HubSettings:
    """How one hub process runs: where its store is, the policy it was started with, its
    limits and timings (`hub.service.Settings`), and how often it maintains itself."""

    database: Path
    """The SQLite file (the embedded store)."""
    policy: Policy | None = None
    """Given at start: stored and used from then on. None: the stored policy, else the
    packaged default."""
    limits: Settings = field(default_factory=Settings)
    maintain_every: float | None = 2.0
    """Seconds between sweeps of expired claims and catch-ups with the store (other
    replicas); None leaves both to the caller, as the tests do."""

    def __post_init__(self) -> None:
        timings = ("claim_ttl", "stall_after", "grant_ttl", "grant_linger")
        sizes = ("max_report_bytes", "max_body_bytes", "accept_attempts", "list_limit")
        _positive(self.limits, timings + sizes + ("warm_batch", "warm_interval"))
        if self.limits.intake_workers < 0:
            raise SettingsError("intake_workers", "must be 0 or more")
        if self.maintain_every is not None and self.maintain_every <= 0:
            raise SettingsError("maintain_every", "must be more than zero, or None")


@dataclass(frozen=True, slots=True)
class Assembly:
    hub: Hub
    app: web.Application


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_store(settings: HubSettings) -> Store:
    return SqliteStore(settings.database)


def assemble(settings: HubSettings, clock: Clock = utc_now, store: Store | None = None) -> Assembly:
    """The hub and its application; `store` replaces the configured one (tests wrap it)."""
    policy = settings.policy or policy_files.load()
    hub = Hub(
        store or open_store(settings),
        clock,
        policy,
        settings.limits,
        policy_given=settings.policy is not None,
    )
    return Assembly(hub, api.build(hub, settings.maintain_every))
