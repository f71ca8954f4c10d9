"""The dashboard in headless Chromium on a real `zeroserve up`: the login with the token, the one-time
URLs (printed by `up` and by `zeroserve dashboard`), a Service with its URL and conditions, and the
plots following load as it arrives.

Debian's ``chromium`` driven by Playwright (``executable_path``; Playwright's own browser download is
never used). The screenshot lands in the test's tmp dir, and also at ``$ZEROSERVE_DASHBOARD_PNG`` when
set (how docs/dashboard.png is made).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Up
from tests.e2e.test_autoscaling_e2e import load
from tests.support.polling import wait_for

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")

FAST = "config-autoscaler:\n  stable-window: 6s\n  scale-to-zero-grace-period: 1s\n"
SLEEP = ["--cmd", "python3", "--arg", "examples/sleep/app.py"]


@pytest.fixture
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


def _plot(page: object, plot: str, attr: str) -> float:
    value = page.get_attribute(f"#{plot} svg.plot", f"data-{attr}")  # type: ignore[attr-defined]
    return float(value or 0)


def test_dashboard_login_service_and_live_plots(up: Up, browser: object, tmp_path: Path) -> None:
    up.write_config(FAST)
    wait_for(lambda: "6s" in up.cli("config", "show").stdout, 10, "config written")
    up.cli("service", "create", "sleepy", *SLEEP, "-a", "autoscaling.knative.dev/target=1")
    api = up.endpoints["api"]
    assert up.endpoints["dashboard"] == f"{api}/dashboard/"
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1360, "height": 1500})  # type: ignore[attr-defined]
    page = context.new_page()

    # Not signed in: the page sends the browser to the login, whose wrong token is refused.
    page.goto(up.endpoints["dashboard"])
    assert page.url.endswith("/dashboard/login")
    page.fill("#token", "not-the-token")
    page.click("#sign-in")
    assert "not the token" in page.inner_text(".error")
    page.fill("#token", (up.data_dir / "token").read_text().strip())
    page.click("#sign-in")
    page.wait_for_url(re.compile(r"/dashboard/$"))

    # The Service, its URL and its conditions; the revision's plots with the autoscaler's data.
    page.wait_for_selector("#services li[data-name=sleepy]")
    page.wait_for_selector("#service-name:text('sleepy')")
    page.wait_for_selector(f"#service-url a[href='http://sleepy.default.localhost:{up.port}']", timeout=30_000)
    page.wait_for_selector("table.conditions td:text('ConfigurationsReady')")
    page.wait_for_selector("table.traffic td:text('sleepy-00001')")
    page.wait_for_selector("#plot-instances svg.plot[data-points]", timeout=30_000)
    assert _plot(page, "plot-rate", "max") == 0  # no request yet

    # Load arrives: the request-rate plot gains values and the instances plot rises.
    with load(up, "sleepy.default.localhost", 4, "/?ms=300") as statuses:
        wait_for(lambda: _plot(page, "plot-rate", "max") > 0, 40, "the request rate plotted")
        wait_for(lambda: _plot(page, "plot-instances", "max") >= 2, 60, "instances rising on the plot")
        wait_for(lambda: _plot(page, "plot-latency", "max") > 0, 20, "latency plotted")
        page.wait_for_selector("#logs")
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        if target := os.environ.get("ZEROSERVE_DASHBOARD_PNG"):
            page.screenshot(path=target, full_page=False)
    assert statuses and set(statuses) == {200}
    assert shot.stat().st_size > 10_000
    assert page.inner_text("#explain-summary").startswith("KPA: desired")

    # The one-time URL `up` printed signs a new browser in once; a second use is refused.
    once = re.search(r"dashboard: (https://\S+/dashboard/login\?code=\S+)", up.log())
    assert once is not None, up.log()
    fresh = browser.new_context(ignore_https_errors=True).new_page()  # type: ignore[attr-defined]
    fresh.goto(once.group(1))
    assert fresh.url.endswith("/dashboard/")
    fresh.wait_for_selector("#services li[data-name=sleepy]")
    again = browser.new_context(ignore_https_errors=True).new_page()  # type: ignore[attr-defined]
    again.goto(once.group(1))
    assert "already used" in again.inner_text(".error")
    # `zeroserve dashboard` mints another (with the token, which stays out of the URL).
    url = up.cli("dashboard").stdout.strip()
    assert url.startswith(f"{api}/dashboard/login?code=") and (up.data_dir / "token").read_text() not in url
    again.goto(url)
    assert again.url.endswith("/dashboard/")
