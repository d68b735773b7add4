"""The skip guard (``tests/skip_guard.py``): under CI=true a skip not in the allow-list fails pytest.

Each case runs a real pytest in a subprocess on a tiny test file that skips, with the guard
registered as ``tests/conftest.py`` registers it, and reads its exit status.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from skip_guard import ALLOW_LIST, load_allowed

TINY_TESTS = """
import pytest

def test_runs():
    pass

def test_skips_inside():
    pytest.skip("the thing is missing")

@pytest.mark.skipif(True, reason="a marker says so")
def test_skipped_by_marker():
    pass

@pytest.mark.xfail(reason="known bug", strict=True)
def test_expected_failure():
    raise AssertionError
"""

GUARD_CONFTEST = f"""
import sys

sys.path.insert(0, {str(REPO / "tests")!r})
from skip_guard import SkipGuard


def pytest_configure(config):
    config.pluginmanager.register(SkipGuard.from_environment(), "roster-skip-guard")
"""


def _pytest(tmp_path: Path, allowed: str, *, ci: bool, target: str = "test_tiny.py") -> subprocess.CompletedProcess:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "conftest.py").write_text(GUARD_CONFTEST)
    (project / "test_tiny.py").write_text(TINY_TESTS)
    allow_list = tmp_path / "allowed_skips.txt"
    allow_list.write_text(allowed)
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "PYTEST_ADDOPTS"}}
    env.update(ROSTER_ALLOWED_SKIPS=str(allow_list), PYTHONDONTWRITEBYTECODE="1")
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_unlisted_skip_fails_the_session_in_ci(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "# nothing allowed\n", ci=True)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "1 passed, 2 skipped, 1 xfailed" in result.stdout
    assert "skips not in the allow-list: fail the session (CI=true)" in result.stdout
    assert "SKIPPED test_tiny.py::test_skips_inside: the thing is missing" in result.stdout
    assert "SKIPPED test_tiny.py::test_skipped_by_marker: a marker says so" in result.stdout
    assert "test_expected_failure" not in result.stdout.split("skips not in the allow-list")[1]


def test_listed_skips_pass_in_ci_by_node_id_or_pattern(tmp_path: Path) -> None:
    allowed = (
        "test_tiny.py::test_skips_inside | the thing is never installed in CI\n"
        "test_tiny.py::test_skipped_by_* | the marker is about another platform\n"
    )
    result = _pytest(tmp_path, allowed, ci=True)
    assert result.returncode == pytest.ExitCode.OK, result.stdout
    assert "skips not in the allow-list" not in result.stdout


def test_one_listed_skip_does_not_excuse_another(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "test_tiny.py::test_skips_inside | the thing is never installed in CI\n", ci=True)
    assert result.returncode == pytest.ExitCode.TESTS_FAILED, result.stdout
    assert "SKIPPED test_tiny.py::test_skipped_by_marker: a marker says so" in result.stdout
    assert "SKIPPED test_tiny.py::test_skips_inside" not in result.stdout


def test_outside_ci_unlisted_skips_are_reported_only(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "", ci=False)
    assert result.returncode == pytest.ExitCode.OK, result.stdout
    assert "skips not in the allow-list: would fail the session in CI" in result.stdout


def test_an_entry_without_a_reason_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "allowed_skips.txt"
    path.write_text("# a comment\n\ntests/x.py::test_y\n")
    with pytest.raises(ValueError, match=r"allowed_skips.txt:3: expected '<node id pattern> \| <reason>'"):
        load_allowed(path)
    path.write_text("tests/x.py::test_y |   \n")
    with pytest.raises(ValueError, match=r":1: expected"):
        load_allowed(path)


def test_the_checked_in_allow_list_gives_every_skip_a_reason() -> None:
    assert all(entry.reason for entry in load_allowed(ALLOW_LIST))


def test_the_guard_works_beside_a_nested_conftest(tmp_path: Path) -> None:
    """A folder with its own conftest.py (tests/browser has one) makes pytest call the hooks of a test
    outside it without that conftest: pluggy then keeps the plugins in a set, so the guard must be
    hashable."""
    nested = tmp_path / "project" / "nested"
    nested.mkdir(parents=True)
    (nested / "conftest.py").write_text("")
    (nested / "test_nested.py").write_text("def test_nested():\n    pass\n")
    result = _pytest(tmp_path, "test_tiny.py::* | the tiny file skips on purpose\n", ci=True, target=".")
    assert result.returncode == pytest.ExitCode.OK, result.stdout + result.stderr
    assert "2 passed, 2 skipped, 1 xfailed" in result.stdout
