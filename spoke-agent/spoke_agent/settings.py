"""How one spoke agent runs, grouped the way an operator thinks of it: which cluster it is,
how it reaches the hub, where it keeps its state, how it reports, how it grants and uses
target access, and how its executor paces jobs. Validated once, whichever edge builds it
(`cclm spoke run`, the demo, the tests)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from spoke_agent.drivers.kubernetes import DriverSettings
from spoke_agent.executor.jobs import JobSettings
from spoke_agent.report.collector import Config


class SettingsError(ValueError):
    """A setting out of range; `setting` names it (dotted for a group), so each edge can say
    it in its own terms (the CLI names the flag)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting} {message}")
        self.setting = setting
        self.message = message


@dataclass(frozen=True, slots=True)
class HubConnection:
    url: str
    """The hub's base URL, http:// or https://."""
    token_file: Path
    """The cluster's bearer token, as `cclm clusters register` printed it."""
    ca_file: str | None = None
    """CA bundle to verify the hub's certificate; None: the system's."""
    first_delay: float = 0.5
    """Seconds before the first retry of a failed call to the hub; each retry doubles it."""

    def __post_init__(self) -> None:
        if urlsplit(self.url).scheme not in ("http", "https") or not urlsplit(self.url).netloc:
            raise SettingsError("hub.url", f"must be an http:// or https:// URL, not {self.url!r}")
        if not self.token_file.is_file():
            raise SettingsError("hub.token_file", f"{self.token_file}: no such file")


@dataclass(frozen=True, slots=True)
class AccessSettings:
    """Target access: what this agent grants as a migration's target, and how it reaches the
    targets of its own jobs."""

    api_url: str | None = None
    """How other clusters' agents reach this cluster's API; None: this agent grants none."""
    api_ca_file: Path | None = None
    """CA bundle of this cluster's API server for `api_url`; None: the one the agent trusts."""
    grant_namespace: str = "cclm-system"
    """Where the service accounts of granted access are created."""
    grant_poll_wait: int = 30
    """Seconds a pull of the grants to mint waits at the hub."""
    target_kubeconfigs: Mapping[str, str] = field(default_factory=dict)
    """Target cluster → kubeconfig path, used instead of a grant from that target's agent."""
    sync_addresses: Mapping[str, str] = field(default_factory=dict)
    """Target cluster → its KubeVirt's synchronization address, for live migrations."""

    def __post_init__(self) -> None:
        if self.api_ca_file is not None and not self.api_ca_file.is_file():
            raise SettingsError("access.api_ca_file", f"{self.api_ca_file}: no such file")
        if self.grant_poll_wait < 0:
            raise SettingsError("access.grant_poll_wait", "must be 0 or more")


@dataclass(frozen=True, slots=True)
class SpokeSettings:
    cluster: str
    """This cluster's registered name."""
    hub: HubConnection
    state_dir: Path = Path("/var/lib/cclm-spoke")
    """The journal, the sealing key and the report sequence: on a volume that outlives the
    pod, since restart safety depends on the journal."""
    heartbeat: float = 30.0
    """A report is sent at least this often (seconds), changed or not."""
    debounce: float = 1.0
    """Seconds to wait after a change before reporting, so a burst sends one report."""
    health_host: str = "0.0.0.0"
    health_port: int = 8481
    collector: Config = field(default_factory=Config)
    access: AccessSettings = field(default_factory=AccessSettings)
    jobs: JobSettings = field(default_factory=JobSettings)
    driver: DriverSettings = field(default_factory=DriverSettings)

    def __post_init__(self) -> None:
        if not self.cluster.strip():
            raise SettingsError("cluster", "must not be empty")
        if self.heartbeat <= 0:
            raise SettingsError("heartbeat", f"must be more than zero, not {self.heartbeat}")
        if self.debounce < 0:
            raise SettingsError("debounce", f"must be 0 or more, not {self.debounce}")
        if not 0 <= self.health_port <= 65535:
            raise SettingsError("health_port", f"{self.health_port} is not a TCP port")
