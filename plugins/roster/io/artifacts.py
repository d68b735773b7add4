"""Writing a night's artifacts: atomically, owner-only, and reproducibly.

A reader (the next task, a person, a re-run) never sees a half-written file: each file is written
under a temporary name in the same folder and renamed into place.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

QA_REPORT = "qa_report.json"
REJECTS = "rejects.csv"
ACCEPTED_ROWS = "accepted_rows.json"
CHANGES = "changes.csv"
CARRIED = "carried_since.json"
#: What one run of the transform writes into its folder (besides the roster file itself).
RUN_FILES = (QA_REPORT, REJECTS, ACCEPTED_ROWS, CHANGES, CARRIED)


def clear_run(folder: Path, *names: str) -> None:
    """Remove an earlier run's artifacts (``RUN_FILES`` and ``names``) from ``folder``, so a run that
    stops half-way never leaves an older run's result looking like its own. Nothing else is touched."""
    for name in (*RUN_FILES, *names):
        (folder / name).unlink(missing_ok=True)


def make_private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents owner-only (0700); folders that exist are left as they are."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # another task made it meanwhile
            continue
        folder.chmod(0o700)  # whatever the umask
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, readable by the owner only (student records)."""
    return write_parts(path, [data])


def write_parts(path: Path, parts: Iterable[bytes | memoryview]) -> Path:
    """Write a file made of pieces (e.g. Arrow buffers) atomically, owner-only, without joining them."""
    make_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            for part in parts:
                handle.write(part)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    return write_bytes(path, (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))
