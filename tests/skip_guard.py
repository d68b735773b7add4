"""No silent skips in CI: a skipped test fails the session unless ``tests/allowed_skips.txt`` lists it.

A skip is a claim that the test cannot run here. CI (``CI=true``, as ``.ci/run`` runs) installs sshd,
Chromium and the requirements, and runs as root in a git clone, so a test it skips is a test that
stopped proving anything without anyone noticing. Outside CI skips are only reported.

The allow-list has one entry a line, ``<node id or fnmatch pattern> | <why CI may skip it>``; ``#``
starts a comment line. An entry without a reason is an error. ``ROSTER_ALLOWED_SKIPS`` names another list
(the guard's own test uses it).
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ALLOW_LIST = Path(__file__).with_name("allowed_skips.txt")
ALLOW_LIST_ENV = "ROSTER_ALLOWED_SKIPS"


@dataclass(frozen=True)
class AllowedSkip:
    pattern: str
    reason: str

    def matches(self, nodeid: str) -> bool:
        return fnmatch.fnmatchcase(nodeid, self.pattern)


def load_allowed(path: Path) -> list[AllowedSkip]:
    """The entries of an allow-list file; ValueError names a line without a pattern or a reason."""
    entries = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, sep, reason = (part.strip() for part in line.partition("|"))
        if not sep or not pattern or not reason:
            raise ValueError(f"{path}:{number}: expected '<node id pattern> | <reason>', got {raw!r}")
        entries.append(AllowedSkip(pattern, reason))
    return entries


def in_ci(environ: os._Environ[str] | dict[str, str] = os.environ) -> bool:
    return environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


# eq=False keeps identity hashing: pluggy keeps plugins in sets (a dataclass with eq is unhashable).
@dataclass(eq=False)
class SkipGuard:
    """A pytest plugin: records every skipped test; under CI, one not on the list fails the session."""

    allowed: list[AllowedSkip]
    enforce: bool
    skipped: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls) -> SkipGuard:
        path = Path(os.environ.get(ALLOW_LIST_ENV) or ALLOW_LIST)
        return cls(load_allowed(path), enforce=in_ci())

    @property
    def unexpected(self) -> dict[str, str]:
        return {
            nodeid: reason
            for nodeid, reason in self.skipped.items()
            if not any(entry.matches(nodeid) for entry in self.allowed)
        }

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            self.skipped[report.nodeid] = reason.removeprefix("Skipped: ")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.enforce and self.unexpected and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        unexpected = self.unexpected
        if not unexpected:
            return
        verdict = "fail the session (CI=true)" if self.enforce else "would fail the session in CI"
        terminalreporter.section(f"skips not in the allow-list: {verdict}", sep="=", red=self.enforce)
        for nodeid, reason in unexpected.items():
            terminalreporter.line(f"SKIPPED {nodeid}: {reason}")
        terminalreporter.line(f"Make the test run here, or list it with its reason in {ALLOW_LIST.name}.")
