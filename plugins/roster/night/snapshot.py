"""The district's last delivered roster: what the vendor holds now, the baseline of the nightly diff.

Each delivered night is stored as ``snapshot-<date>.parquet``; a small ``snapshot.json`` pointer
names the one the vendor holds now (date, file, rows, checksum of the delivered file, when it was
delivered). The Parquet file is written first under its own name, then the pointer is swapped
atomically, so a reader sees the old snapshot or the new one, never a mix; a failed or held night
never gets here.

``last_delivery`` imports no pandas, so ``roster status`` and the watchdog read the pointer cheaply.

A night is compared with the newest snapshot *before* it, not with the pointer: re-running a night
that was already delivered then gives the same diff and the same bytes as its first run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from roster.io import artifacts
from roster.io.store import SNAPSHOT_POINTER

if TYPE_CHECKING:
    import pandas as pd

#: Snapshots kept for re-runs and backfills; an older night is compared with nothing (a first night).
KEEP = 35


@dataclass(frozen=True)
class Snapshot:
    roster_date: dt.date
    frame: pd.DataFrame


@dataclass(frozen=True)
class Delivery:
    """What the pointer says: the night the vendor holds now, and when it went out."""

    roster_date: dt.date
    delivered_at: dt.datetime | None
    file: str


def last_delivery(folder: Path) -> Delivery | None:
    """The night the vendor holds now, or None before a district's first delivery."""
    pointer = folder / SNAPSHOT_POINTER
    if not pointer.is_file():
        return None
    meta = artifacts.read_json(pointer)
    delivered_at = meta.get("delivered_at")
    return Delivery(
        roster_date=dt.date.fromisoformat(meta["date"]),
        delivered_at=dt.datetime.fromisoformat(delivered_at) if delivered_at else None,
        file=meta["file"],
    )


def _load(path: Path, day: dt.date) -> Snapshot:
    import pandas as pd

    frame = pd.read_parquet(path)
    for column in frame.columns:
        if column != "active":
            frame[column] = frame[column].astype("str")
    return Snapshot(roster_date=day, frame=frame)


def _stored(folder: Path) -> dict[dt.date, Path]:
    out = {}
    for path in folder.glob("snapshot-*.parquet"):
        try:
            out[dt.date.fromisoformat(path.stem.removeprefix("snapshot-"))] = path
        except ValueError:
            continue
    return out


def baseline_for(folder: Path, day: dt.date) -> Snapshot | None:
    """The newest roster delivered for a night before ``day``: what night ``day`` is compared with."""
    earlier = {d: p for d, p in _stored(folder).items() if d < day}
    if not earlier:
        return None
    newest = max(earlier)
    return _load(earlier[newest], newest)


def write_snapshot(
    folder: Path, frame: pd.DataFrame, roster_date: dt.date, delivered: Path, delivered_at: dt.datetime | None = None
) -> Path:
    """Record ``frame`` (tonight's delivered roster, with ``carried_since``) as what the vendor holds."""
    name = f"snapshot-{roster_date.isoformat()}.parquet"
    buffer = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buffer, index=False)
    artifacts.write_bytes(folder / name, buffer.getvalue())
    artifacts.write_json(
        folder / SNAPSHOT_POINTER,
        {
            "date": roster_date.isoformat(),
            "file": name,
            "rows": len(frame),
            "source_file": delivered.name,
            "sha256": hashlib.sha256(delivered.read_bytes()).hexdigest(),
            "delivered_at": (delivered_at or dt.datetime.now(dt.UTC)).isoformat(),
        },
    )
    stored = _stored(folder)
    for day in sorted(stored)[:-KEEP]:
        if stored[day].name != name:
            stored[day].unlink(missing_ok=True)
    return folder / name
