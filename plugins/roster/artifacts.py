"""Writing a night's artifacts: atomically, owner-only, and reproducibly.

A reader (the next task, a person, a re-run) never sees a half-written file: each file is written
under a temporary name in the same folder and renamed into place.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

QA_REPORT = "qa_report.json"
REJECTS = "rejects.csv"
ACCEPTED_ROWS = "accepted_rows.json"
CHANGES = "changes.csv"
CARRIED = "carried_since.json"


def write_bytes(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, readable by the owner only (student records)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
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
