"""Run folders under ``ROSTER_DATA_ROOT``: a local path or an object-store URL.

Tasks of one night may run on different workers, so each task works in a local copy of the night's
folder (``run_workspace``): on a local data root that is the folder itself; on a URL
(``s3://bucket/prefix``) the folder is pulled from the store before the task and pushed back after
it through Airflow's ``ObjectStoragePath``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from roster.settings import data_root



def is_url(root: str) -> bool:
    return "://" in root and not root.startswith("file://")


def _local(root: str) -> Path:
    return Path(root.removeprefix("file://"))


def run_key(district_id: str, roster_date: dt.date) -> str:
    return f"{district_id}/{roster_date.isoformat()}"


def run_location(district_id: str, roster_date: dt.date) -> str:
    """Where the night's artifacts live, as users should look for them (a path or a URL)."""
    root = data_root()
    return f"{root.rstrip('/')}/{run_key(district_id, roster_date)}" if is_url(root) else str(_local(root) / run_key(district_id, roster_date))


SNAPSHOT_FOLDER = "snapshot"


def _private_folder(folder: Path) -> None:
    """The folder, created owner-only (0700) with any missing parents; an existing one is tightened to 0700.

    Run folders hold the run's copy of the export and the roster file: student records.
    """
    from roster.io.artifacts import make_private_dir

    make_private_dir(folder)
    if folder.stat().st_mode & 0o077:
        folder.chmod(0o700)


def district_folders(district_id: str) -> list[str]:
    """The names of the folders in ``ROSTER_DATA_ROOT/<district_id>/`` (run folders, snapshot, go-live)."""
    root = data_root()
    if not is_url(root):
        base = _local(root) / district_id
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    from airflow.sdk import ObjectStoragePath

    base = ObjectStoragePath(root.rstrip("/")) / district_id
    if not base.exists():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir())


def remove_folder(district_id: str, name: str) -> None:
    """Delete ``ROSTER_DATA_ROOT/<district_id>/<name>/`` and everything in it."""
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"not a folder name: {name!r}")
    root = data_root()
    if not is_url(root):
        shutil.rmtree(_local(root) / district_id / name)
        return

    from airflow.sdk import ObjectStoragePath

    target = ObjectStoragePath(root.rstrip("/")) / district_id / name
    target.fs.rm(target.path, recursive=True)


@contextlib.contextmanager
def run_workspace(district_id: str, roster_date: dt.date) -> Iterator[Path]:
    """A local folder holding the night's artifacts; changes are saved back when the block ends."""
    with workspace(run_key(district_id, roster_date)) as folder:
        yield folder


@contextlib.contextmanager
def snapshot_workspace(district_id: str) -> Iterator[Path]:
    """A local folder holding the district's last delivered roster (see ``roster.night.snapshot``)."""
    with workspace(f"{district_id}/{SNAPSHOT_FOLDER}") as folder:
        yield folder


@contextlib.contextmanager
def workspace(key: str) -> Iterator[Path]:
    """``ROSTER_DATA_ROOT/<key>`` as a local folder; on an object store, pulled before and pushed after."""
    root = data_root()
    if not is_url(root):
        folder = _local(root) / key
        _private_folder(folder)
        yield folder
        return

    from airflow.sdk import ObjectStoragePath

    remote = ObjectStoragePath(root.rstrip("/")) / key
    with tempfile.TemporaryDirectory(prefix="roster-") as scratch:
        local = Path(scratch)
        if remote.exists():
            for item in remote.iterdir():
                if item.is_file():
                    with item.open("rb") as src, (local / item.name).open("wb") as dst:
                        shutil.copyfileobj(src, dst)
        before = {p.name: p.stat().st_mtime_ns for p in local.iterdir()}
        yield local
        remote.mkdir(parents=True, exist_ok=True)
        after = {p.name: p for p in local.iterdir() if p.is_file()}
        # Data files first, pointers (*.json) last: a reader on another worker never sees a
        # pointer to a file that has not arrived yet.
        for name in sorted(after, key=lambda n: n.endswith(".json")):
            if before.get(name) != after[name].stat().st_mtime_ns:
                with after[name].open("rb") as src, (remote / name).open("wb") as dst:
                    shutil.copyfileobj(src, dst)
        for name in before.keys() - after.keys():
            (remote / name).unlink(missing_ok=True)
