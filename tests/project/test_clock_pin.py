"""The clock pin (``tests/conftest.py``'s ``pinned_clock``) holds: an unmarked test sees ``PINNED_NOW``,
ticking; a ``real_clock`` test sees the real clock; and every ``real_clock`` mark says why.

The real time comes from the kernel, which time-machine does not patch: a file's modification time.
"""

from __future__ import annotations

import ast
import datetime as dt
import time
from pathlib import Path

import pytest

from conftest import PINNED_NOW, REPO

#: How far the ticking clock may have moved from PINNED_NOW by the time a test reads it.
TICK_ALLOWANCE = dt.timedelta(minutes=10)


def _kernel_now(tmp_path: Path) -> dt.datetime:
    probe = tmp_path / "probe"
    probe.write_bytes(b"")
    return dt.datetime.fromtimestamp(probe.stat().st_mtime, dt.UTC)


def test_an_unmarked_test_sees_the_pinned_instant_ticking(tmp_path: Path) -> None:
    first = dt.datetime.now(dt.UTC)
    assert PINNED_NOW <= first < PINNED_NOW + TICK_ALLOWANCE
    assert dt.date.today() == PINNED_NOW.astimezone().date()
    assert dt.datetime.now().astimezone() - PINNED_NOW < TICK_ALLOWANCE
    assert PINNED_NOW.timestamp() <= time.time() < (PINNED_NOW + TICK_ALLOWANCE).timestamp()
    # Far from the real clock (the pin is a date CI will not run on again), and it ticks.
    assert abs(_kernel_now(tmp_path) - first) > TICK_ALLOWANCE
    deadline = time.monotonic() + 30
    while dt.datetime.now(dt.UTC) == first and time.monotonic() < deadline:
        time.sleep(0.001)
    assert dt.datetime.now(dt.UTC) > first


@pytest.mark.real_clock("the guard's own check that the opt-out reaches the real clock")
def test_a_real_clock_test_sees_the_kernel_time(tmp_path: Path) -> None:
    before = dt.datetime.now(dt.UTC)
    kernel = _kernel_now(tmp_path)
    after = dt.datetime.now(dt.UTC)
    # The file system's timestamp granularity (a jiffy, coarser than the clock) leaves a little slack.
    assert before - dt.timedelta(seconds=1) <= kernel <= after + dt.timedelta(seconds=1)


def _real_clock_marks(tree: ast.AST) -> list[ast.AST]:
    """Every ``pytest.mark.real_clock`` in a module: a call (``real_clock("why")``) or a bare mark."""
    calls = {
        id(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "real_clock"
    }
    return [
        node
        for node in ast.walk(tree)
        if (isinstance(node, ast.Call) and id(node.func) in calls)
        or (isinstance(node, ast.Attribute) and node.attr == "real_clock" and id(node) not in calls)
    ]


def _has_reason(mark: ast.AST) -> bool:
    if not isinstance(mark, ast.Call) or not mark.args:
        return False
    reason = mark.args[0]
    return isinstance(reason, ast.Constant) and isinstance(reason.value, str) and bool(reason.value.strip())


def test_every_real_clock_mark_gives_a_reason() -> None:
    """Statically, over every test module (the fixture fails a marked test without one at run time)."""
    marked, missing = set(), []
    for path in sorted((REPO / "tests").rglob("*.py")):
        for mark in _real_clock_marks(ast.parse(path.read_text(encoding="utf-8"))):
            marked.add(path.relative_to(REPO).as_posix())
            if not _has_reason(mark):
                missing.append(f"{path.relative_to(REPO)}:{getattr(mark, 'lineno', '?')}")
    assert not missing, f"real_clock without a reason: {missing}"
    # The scan reaches the modules known to opt out (and this one).
    assert {
        "tests/browser/test_hold_review_browser.py",
        "tests/browser/test_rosters_browser.py",
        "tests/nights/test_pool_concurrency.py",
        "tests/project/test_clock_pin.py",
    } <= marked


def test_the_scan_finds_a_mark_without_a_reason() -> None:
    module = ast.parse(
        "import pytest\n"
        "@pytest.mark.real_clock\ndef test_a(): pass\n"
        "@pytest.mark.real_clock('  ')\ndef test_b(): pass\n"
        "@pytest.mark.real_clock('servers tick')\ndef test_c(): pass\n"
    )
    assert [_has_reason(mark) for mark in _real_clock_marks(module)] == [False, False, True]
