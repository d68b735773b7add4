"""Browser tests: a real Airflow (``stack.airflow_stack``) and Debian's Chromium driven by Playwright.

Marked ``browser``; skipped only where ``/usr/bin/chromium`` is absent (CI installs it). The stack is
shared by the browser tests (package-scoped): each test triggers its own runs (its own run ids and
roster dates). ``logged_in_page`` is a page of a fresh browser context that has logged in through
Airflow's real login page, for any test of a page behind it (the Required Actions page, the Rosters
view).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from browser.stack import CHROMIUM, CHROMIUM_ARGS, Stack, airflow_stack, copy_include

DAG_ID = "roster_sample_isd"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (apt-get install chromium)")
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(skip)


# Package-scoped, not session-scoped: the stack's processes would compete for the cores with the
# rest of the suite, and Playwright's sync API leaves its event loop marked as running in the main
# thread while it is open, so a later ``asyncio.run`` (``dag.test()`` running a trigger inline)
# would fail with "cannot be called from a running event loop".
@pytest.fixture(scope="package")
def airflow_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """api-server, scheduler, dag-processor and triggerer on free loopback ports, with the loopback
    SFTP and SMTP servers; the reviewer's login is ``Stack.username`` / ``Stack.password``."""
    base = tmp_path_factory.mktemp("airflow-ui")
    include = copy_include(base / "include")
    with airflow_stack(base, include, dag_ids=(DAG_ID,)) as stack:
        yield stack


@pytest.fixture(scope="package")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where a test saves its screenshots (under its own tmp_path)."""
    folder = tmp_path / "screenshots"
    folder.mkdir()
    return folder


@pytest.fixture
def logged_in_page(chromium, airflow_ui: Stack, shots: Path) -> Iterator[object]:
    """A page logged in as the reviewer through the login page (``shots/login.png``: the filled form)."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        page.goto(f"{airflow_ui.base_url}/")
        page.wait_for_url("**/auth/login**")
        page.fill("input[name=username]", airflow_ui.username)
        page.fill("input[name=password]", airflow_ui.password)
        page.screenshot(path=str(shots / "login.png"))
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/auth/login" not in url)
        yield page
    finally:
        context.close()
