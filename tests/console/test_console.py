"""The web console in a real browser: Debian's Chromium, driven by Playwright, against the
demo as a person starts it (`cclm demo`, which stays up). A person logs in, sees the demo's
fleet and a cluster's nodes, checks a VM and sees where it fits, migrates it and watches
the timeline finish, sees the tour's stall as a live alert, and cancels that migration.
Screenshots of each view are saved under build/artifacts/console for a person to look at."""

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support import ports
from tests.support.demo import running
from tests.support.tools import tool

MANIFESTS = Path(__file__).resolve().parents[2] / "hub" / "examples" / "manifests" / "web.yaml"
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "artifacts" / "console"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
]
WAIT_MS = 60_000


class Demo:
    def __init__(self, url: str, home: Path) -> None:
        self.url, self.home = url, home
        self.token = (home / "admin.token").read_text().strip()

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        with urllib.request.urlopen(request, timeout=10) as answer:
            text = answer.read()
        return json.loads(text) if text else None


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    home, port = tmp_path_factory.mktemp("console-demo"), ports.free()
    with running(home, "--port", str(port)):
        yield Demo(f"http://127.0.0.1:{port}", home)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=tool("chromium"), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened
    context.close()
    assert problems == [], "the console's scripts failed"


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _log_in(page: Page, demo: Demo, token: str | None = None) -> None:
    page.goto(demo.url + "/")
    page.get_by_label("Token").fill(token or demo.token)
    page.get_by_label("Token").press("Enter")  # the keyboard is enough
    expect(page.get_by_role("heading", name="Fleet")).to_be_visible()


def test_a_wrong_token_is_refused_and_the_right_one_kept_in_this_tab_only(
    page: Page, demo: Demo, browser: Browser
) -> None:
    page.goto(demo.url + "/")
    _shot(page, "01-login")
    page.get_by_label("Token").fill("not-a-token")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("does not accept this token")
    _log_in(page, demo)
    assert page.evaluate("sessionStorage.getItem('cclm.token')") == demo.token
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []
    other = browser.new_page()
    other.goto(demo.url + "/")
    expect(other.get_by_role("heading", name="Log in to the hub")).to_be_visible()
    other.close()


def test_the_fleet_shows_the_demo_clusters_and_a_cluster_its_largest_free_block(
    page: Page, demo: Demo
) -> None:
    _log_in(page, demo)
    for name in ("prod-east", "prod-west", "gpu-lab", "edge-fragmented", "sim-000"):
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    west = demo.api("/api/v1/clusters/prod-west")
    cpu = west["resources"]["cpu_millis"]
    label = f"CPU: {(cpu['allocatable'] - cpu['free'] - cpu['reserved']) / 1000:.1f} cores used"
    expect(page.get_by_role("img", name=label).first).to_be_visible()
    _shot(page, "02-fleet")
    page.get_by_role("link", name="prod-west", exact=True).click()
    expect(page.get_by_role("heading", name="Nodes")).to_be_visible()
    usable = [n for n in west["node_detail"] if n["ready"] and n["schedulable"]]
    free = {
        n["name"]: n["allocatable"]["memory_bytes"]
        - n["requested"]["memory_bytes"]
        - n["reserved"]["memory_bytes"]
        for n in usable
    }
    largest = max(free, key=lambda name: free[name])
    row = page.locator("tr", has_text="largest free memory")
    expect(row).to_have_count(1)
    expect(row.locator("td").first).to_have_text(largest)
    expect(page.locator(".fragmentation")).to_contain_text(f"(on {largest})")
    expect(page.locator("tbody tr")).to_have_count(len(west["node_detail"]))
    _shot(page, "03-cluster")


def test_a_check_shows_suggestions_and_the_migration_started_from_it_finishes(
    page: Page, demo: Demo
) -> None:
    _log_in(page, demo)
    page.get_by_role("link", name="Check").click()
    page.get_by_label("Source cluster", exact=True).select_option("prod-east")
    page.get_by_label("shop/db-large").check()
    page.get_by_label("Target cluster", exact=True).select_option("prod-west")
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.locator("#on-target")).to_contain_text("short")
    expect(page.locator(".findings")).to_contain_text("MEMORY_SHORT")
    suggestions = page.locator(".suggestions > li")
    expect(suggestions.first).to_contain_text("gpu-lab")
    _shot(page, "04-check")
    page.get_by_role("button", name="Migrate to prod-west").click()
    expect(page.locator(".migrate").first).to_contain_text("tick MEMORY_SHORT")
    page.get_by_role("button", name="Migrate to gpu-lab").click()
    expect(page.get_by_role("heading", name="Per VM")).to_be_visible()
    expect(page.locator("h1 .badge")).to_have_text("finished", timeout=WAIT_MS)
    expect(page.locator("#progress-text")).to_have_text("100%")
    expect(page.locator(".phases li[aria-current=step]")).to_have_text("migrated")
    expect(page.locator("#cancel-why")).to_contain_text("It has ended (finished)")
    _shot(page, "05-migration-finished")


def test_pasted_manifests_are_checked_as_a_what_if(page: Page, demo: Demo) -> None:
    documents = list(yaml.safe_load_all(MANIFESTS.read_text()))
    _log_in(page, demo)
    page.get_by_role("link", name="Check").click()
    page.get_by_text("Or paste VirtualMachine manifests").click()
    page.get_by_label("Manifests (JSON)").fill("kind: List")
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("The manifest is not JSON")
    page.get_by_label("Manifests (JSON)").fill(json.dumps({"kind": "List", "items": documents}))
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.locator(".suggestions > li").first).to_contain_text("fits")
    expect(page.locator(".suggestions")).to_contain_text("shop/web")
    expect(page.get_by_role("button", name="Migrate to", exact=False)).to_have_count(0)
    _shot(page, "05b-check-manifests")


def test_the_tours_stall_is_a_live_alert_and_cancelling_it_resolves_the_alert(
    page: Page, demo: Demo
) -> None:
    _log_in(page, demo)
    expect(page.locator("#alert-count")).not_to_have_text("0")
    page.get_by_role("link", name="Alerts").click()
    stalled = page.locator("#alerts li", has_text="stalled")
    expect(stalled).to_contain_text("Insufficient memory")
    expect(page.locator("#recommendations")).to_contain_text("its VMs fit now on")
    _shot(page, "06-alerts")
    stalled.get_by_role("link").click()
    expect(page.locator(".stall")).to_contain_text("Pending")
    expect(page.locator("tbody")).to_contain_text("0/4 nodes are available")
    _shot(page, "07-migration-stalled")
    page.get_by_role("button", name="Cancel migration").click()
    expect(page.locator("h1 .badge")).to_have_text("cancelled", timeout=WAIT_MS)
    page.get_by_role("link", name="Alerts").click()
    expect(page.get_by_role("heading", name="Alerts and recommendations")).to_be_focused()
    expect(page.locator("#alerts li").first).to_be_visible()  # the list is drawn
    expect(page.locator("#alerts li", has_text="stalled")).to_have_count(0, timeout=WAIT_MS)
    expect(page.locator("#recommendations li", has_text="is stalled")).to_have_count(0)
    _shot(page, "08-alerts-after-cancel")


def test_logging_out_stops_what_the_page_was_doing(page: Page, demo: Demo) -> None:
    page.clock.install()  # the page's timers run when the test says, not by the wall clock
    _log_in(page, demo)
    page.get_by_role("link", name="Migrations").click()
    expect(page.get_by_role("heading", name="Migrations")).to_be_focused()
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in to the hub")).to_be_visible()
    page.clock.run_for(30_000)  # ten of the list's polls, had it kept polling
    assert page.evaluate("fetch('/healthz').then((answer) => answer.status)") == 200
    assert [url for url in asked if "/api/v1/" in url] == []
    expect(page.get_by_role("alert")).to_have_text("Logged out.")
    assert page.evaluate("sessionStorage.length") == 0


def test_a_token_revoked_meanwhile_leads_back_to_the_log_in(page: Page, demo: Demo) -> None:
    minted = demo.api("/api/v1/tokens", "POST", {"name": "console-test", "role": "viewer"})
    page.clock.install()
    _log_in(page, demo, minted["token"])
    demo.api(f"/api/v1/tokens/{minted['info']['id']}", "DELETE")
    page.clock.run_for(6_000)  # the fleet's next poll
    expect(page.get_by_role("heading", name="Log in to the hub")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("no longer accepts this token")
