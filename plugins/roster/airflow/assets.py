"""Each district's delivery as an Airflow Asset, so the Assets page lists every roster delivered and a
downstream DAG can be scheduled on a district's deliveries (README, "Assets").

The asset is the district's roster at the vendor: ``roster://<district_id>``, named
``roster_<district_id>``. The URI names no host or folder: a district switched from QA to live keeps
its asset (the event's extra says which folder got the file), and nothing about the vendor's server
is shown to whoever can read the Assets page. Only ``upload_roster`` has it as an outlet, and that
task succeeds only when the file is at the vendor, so every event is a delivery.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from airflow.sdk import Asset

from roster.config import District

ASSET_GROUP = "roster"


def delivery_asset(district: District | str) -> Asset:
    """The asset of a district's delivered roster (a district or its id)."""
    district_id = district if isinstance(district, str) else district.district_id
    return Asset(name=f"roster_{district_id}", uri=f"roster://{district_id}", group=ASSET_GROUP)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def delivery_extra(
    district: District, roster_date: str, remote_path: str, rows: int | None, sha256: str
) -> dict[str, Any]:
    """What a delivery's asset event carries: no student data, only what identifies the file."""
    return {
        "district_id": district.district_id,
        "roster_date": roster_date,
        "mode": district.mode,
        "remote_path": remote_path,
        "rows": rows,
        "sha256": sha256,
    }
