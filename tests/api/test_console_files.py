"""The console's files as the hub serves them: the page at `/`, its scripts and styles under
/console/ with a policy that lets the page load nothing from elsewhere, and nothing outside
the shipped set, whatever the path asks for."""

import re

import yarl

from hub.api import console
from tests.support.hub_env import Env


async def _get(env: Env, path: str) -> tuple[int, str, dict[str, str]]:
    response = await env.api.client.get(path)
    return response.status, await response.text(), dict(response.headers)


async def test_the_page_is_served_without_a_token_with_a_strict_policy(env: Env) -> None:
    status, text, headers = await _get(env, "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" in text
    assert 'type="module"' in text


async def test_every_file_the_page_and_its_scripts_name_is_served(env: Env) -> None:
    _, page, _ = await _get(env, "/")
    named = set(re.findall(r'(?:src|href)="/console/([^"]+)"', page))
    unread = [name for name in named if name.endswith(".js")]
    while unread:  # every module each script imports, and theirs
        _, script, _ = await _get(env, f"/console/{unread.pop()}")
        for module in re.findall(r'from "\./([^"]+)"', script):
            if f"js/{module}" not in named:
                named.add(f"js/{module}")
                unread.append(f"js/{module}")
    assert {"console.css", "js/main.js", "js/check.js", "js/feed.js", "js/units.js"} <= named
    for name in named:
        status, _, headers = await _get(env, f"/console/{name}")
        assert status == 200, name
        assert headers["Content-Type"].split(";")[0] == console.TYPES["." + name.rsplit(".")[-1]]


async def test_a_path_outside_the_shipped_files_is_not_found(env: Env) -> None:
    for path in (
        "/console/%2E%2E/hub.db",
        "/console/js%2F..%2F..%2Fconsole.py",
        "/console/js/x.js",
    ):
        # As sent, not normalized by the client: the hub sees the dots and slashes.
        response = await env.api.client.get(yarl.URL(path, encoded=True))
        status, text = response.status, await response.text()
        assert status == 404, path
        assert "<html" not in text
    status, text, _ = await _get(env, "/nowhere")
    assert status == 404
    assert '"not_found"' in text
