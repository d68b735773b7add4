"""The district's last delivered roster: what the vendor holds now, the baseline of the nightly diff.

Stored as ``snapshot-<date>.parquet`` beside a small ``snapshot.json`` pointer (date, file, rows,
checksum of the delivered file). The Parquet file is written first under its own name, then the
pointer is swapped atomically, so a reader sees the old snapshot or the new one, never a mix; a
failed or held night never gets here. The previous Parquet file is kept one night for forensics.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from roster import artifacts

POINTER = "snapshot.json"


@dataclass(frozen=True)
class Snapshot:
    roster_date: dt.date
    frame: pd.DataFrame
    source_file: str


def read_snapshot(folder: Path) -> Snapshot | None:
    """The last delivered roster, or None before a district's first delivery."""
    pointer = folder / POINTER
    if not pointer.is_file():
        return None
    meta = artifacts.read_json(pointer)
    frame = pd.read_parquet(folder / meta["file"])
    for column in frame.columns:
        if column != "active":
            frame[column] = frame[column].astype("str")
    return Snapshot(roster_date=dt.date.fromisoformat(meta["date"]), frame=frame, source_file=meta["source_file"])


def write_snapshot(folder: Path, frame: pd.DataFrame, roster_date: dt.date, delivered: Path) -> Path:
    """Record ``frame`` (tonight's delivered roster, with ``carried_since``) as the last delivered roster."""
    name = f"snapshot-{roster_date.isoformat()}.parquet"
    buffer = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buffer, index=False)
    artifacts.write_bytes(folder / name, buffer.getvalue())
    previous = artifacts.read_json(folder / POINTER)["file"] if (folder / POINTER).is_file() else None
    artifacts.write_json(
        folder / POINTER,
        {
            "date": roster_date.isoformat(),
            "file": name,
            "rows": len(frame),
            "source_file": delivered.name,
            "sha256": hashlib.sha256(delivered.read_bytes()).hexdigest(),
        },
    )
    for old in folder.glob("snapshot-*.parquet"):
        if old.name not in (name, previous):
            old.unlink(missing_ok=True)
    return folder / name
