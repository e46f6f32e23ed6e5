"""The image recipes, checked without a container engine (none runs here): what they copy
exists, what they run is a command the package installs and it starts, and the images the
charts and the executor name are the ones the recipes say they build."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from spoke_agent.drivers.kubernetes import DriverSettings

ROOT = Path(__file__).resolve().parents[1]
RECIPES = {
    "cclm": ROOT / "containers/cclm/Containerfile",
    "rsync": ROOT / "containers/rsync/Containerfile",
}
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def instructions(recipe: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", recipe.read_text())
    found = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def entrypoint(recipe: Path) -> list[str]:
    (found,) = [rest for keyword, rest in instructions(recipe) if keyword == "ENTRYPOINT"]
    command: list[str] = yaml.safe_load(found)
    return command


def built_as(recipe: Path) -> str:
    (tag,) = re.findall(r"podman build -f \S+ -t (\S+) \.", recipe.read_text())
    return tag


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_what_a_recipe_copies_is_in_the_repository(name: str) -> None:
    copied = [rest for keyword, rest in instructions(RECIPES[name]) if keyword == "COPY"]
    assert copied
    for sources in copied:
        *paths, _destination = sources.split()
        assert all((ROOT / path).exists() for path in paths), sources


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_the_entrypoint_is_a_command_the_package_installs(name: str) -> None:
    command = entrypoint(RECIPES[name])
    assert command[0] in PROJECT["scripts"]


def test_the_hub_and_agent_commands_start() -> None:
    for command in (["hub", "serve", "--help"], ["spoke", "run", "--help"]):
        ran = subprocess.run(
            [sys.executable, "-m", "hub.cli", *command], capture_output=True, text=True
        )
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.startswith(f"usage: cclm {' '.join(command[:2])}")


def test_the_images_are_non_root_where_they_can_be() -> None:
    users = [rest for keyword, rest in instructions(RECIPES["cclm"]) if keyword == "USER"]
    assert users
    user = users[-1].split(":")[0]
    assert user.isdigit()
    assert user != "0"


def test_the_executor_and_charts_name_the_images_the_recipes_build() -> None:
    assert DriverSettings().rsync_image == built_as(RECIPES["rsync"])
    version = PROJECT["version"]
    assert built_as(RECIPES["cclm"]) == f"quay.io/cclm/cclm:{version}"
    for chart in ("hub", "spoke-agent"):
        values = yaml.safe_load((ROOT / "charts" / chart / "values.yaml").read_text())
        meta = yaml.safe_load((ROOT / "charts" / chart / "Chart.yaml").read_text())
        assert (
            f"{values['image']['repository']}:{meta['appVersion']}"
            == f"quay.io/cclm/cclm:{version}"
        )
    spoke = yaml.safe_load((ROOT / "charts/spoke-agent/values.yaml").read_text())
    assert spoke["rsync"]["image"] == DriverSettings().rsync_image
