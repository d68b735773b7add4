"""The layout under ``ROSTER_DATA_ROOT`` (a local path or an object-store URL), in one place.

* ``<district>/<YYYY-MM-DD>/``: a night's run folder (``run_workspace``, ``run_location``);
* ``<district>/snapshot/``: the last delivered roster, named by the pointer ``snapshot.json``;
* ``<district>/go-live/<run>/``: a go-live DAG run's reports (``go_live_workspace``);
* ``<district>/go-live/*.json``: the go-live gate's records, e.g. the last reconcile (``go_live_records``).

Tasks of one night may run on different workers, so each task works in a local copy of the night's
folder (``run_workspace``): on a local data root that is the folder itself; on a URL
(``s3://bucket/prefix``) the folder is pulled from the store before the task and pushed back after
it through Airflow's ``ObjectStoragePath``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from roster.config.district import check_district_id
from roster.settings import data_root

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem  # type: ignore[import-untyped]

SNAPSHOT_FOLDER = "snapshot"
#: The file in the snapshot folder that names the roster the vendor holds now.
SNAPSHOT_POINTER = "snapshot.json"
GO_LIVE_FOLDER = "go-live"
_RUN_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def is_url(root: str) -> bool:
    return "://" in root and not root.startswith("file://")


def _local(root: str) -> Path:
    return Path(root.removeprefix("file://"))


def run_folder_date(name: str) -> dt.date | None:
    """The roster date a run folder is named after, or None for any other folder (snapshot, go-live)."""
    if not _RUN_FOLDER.match(name):
        return None
    try:
        return dt.date.fromisoformat(name)
    except ValueError:
        return None


def _district(district_id: str) -> str:
    """The district's folder name: its id, checked as a name before it becomes part of any path."""
    return check_district_id(district_id)


def _run_key(district_id: str, roster_date: dt.date) -> str:
    return f"{_district(district_id)}/{roster_date.isoformat()}"


def _go_live_key(district_id: str, run_id: str) -> str:
    """A run id as a folder name: ``manual__2026-11-20T08:00:00+00:00`` -> ``manual__2026-11-20T08-00-00-00-00``."""
    folder = re.sub(r"[^A-Za-z0-9._-]+", "-", run_id).strip("-.") or "run"
    return f"{_district(district_id)}/{GO_LIVE_FOLDER}/{folder}"


def _location(key: str) -> str:
    root = data_root()
    return f"{root.rstrip('/')}/{key}" if is_url(root) else str(_local(root) / key)


def run_location(district_id: str, roster_date: dt.date) -> str:
    """Where the night's artifacts live, as users should look for them (a path or a URL)."""
    return _location(_run_key(district_id, roster_date))


def go_live_location(district_id: str, run_id: str) -> str:
    """Where a go-live run's reports live, as users should look for them (a path or a URL)."""
    return _location(_go_live_key(district_id, run_id))


def go_live_records_location(district_id: str) -> str:
    """Where the district's go-live records live (``go_live_records``), as users should look for them."""
    return _location(f"{_district(district_id)}/{GO_LIVE_FOLDER}")


def local_district_folder(district_id: str) -> Path | None:
    """``ROSTER_DATA_ROOT/<district_id>/`` on a local data root; None on an object store."""
    root = data_root()
    return None if is_url(root) else _local(root) / _district(district_id)


def local_run_folders(district_id: str) -> list[Path]:
    """The district's run folders on a local data root, newest night first (none on an object store)."""
    base = local_district_folder(district_id)
    if base is None or not base.is_dir():
        return []
    return sorted((p for p in base.iterdir() if p.is_dir() and run_folder_date(p.name)), reverse=True)


def local_snapshot_folder(district_id: str) -> Path | None:
    """The district's snapshot folder on a local data root; None on an object store."""
    base = local_district_folder(district_id)
    return None if base is None else base / SNAPSHOT_FOLDER


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
        base = _local(root) / _district(district_id)
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.is_dir() else []

    fs, path = _remote(root, _district(district_id))
    return sorted(_name(entry) for entry in _listing(fs, path) if entry["type"] == "directory")


def remove_folder(district_id: str, name: str) -> None:
    """Delete ``ROSTER_DATA_ROOT/<district_id>/<name>/`` and everything in it."""
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"not a folder name: {name!r}")
    root = data_root()
    if not is_url(root):
        shutil.rmtree(_local(root) / _district(district_id) / name)
        return

    from airflow.sdk import ObjectStoragePath

    target = ObjectStoragePath(root.rstrip("/")) / _district(district_id) / name
    target.fs.rm(target.path, recursive=True)


@contextlib.contextmanager
def run_workspace(district_id: str, roster_date: dt.date) -> Iterator[Path]:
    """A local folder holding the night's artifacts; changes are saved back when the block ends."""
    with _workspace(_run_key(district_id, roster_date)) as folder:
        yield folder


@contextlib.contextmanager
def snapshot_workspace(district_id: str) -> Iterator[Path]:
    """A local folder holding the district's last delivered roster (see ``roster.night.snapshot``)."""
    with _workspace(f"{_district(district_id)}/{SNAPSHOT_FOLDER}") as folder:
        yield folder


@contextlib.contextmanager
def go_live_workspace(district_id: str, run_id: str) -> Iterator[Path]:
    """A local folder for a go-live run's reports; saved back when the block ends."""
    with _workspace(_go_live_key(district_id, run_id)) as folder:
        yield folder


@contextlib.contextmanager
def go_live_records(district_id: str) -> Iterator[Path]:
    """A local folder holding the district's go-live records (``<district>/go-live/*.json``), saved back
    when the block ends. Only the files at that level travel; the runs' subfolders stay where they are."""
    with _workspace(f"{_district(district_id)}/{GO_LIVE_FOLDER}") as folder:
        yield folder


def read_file(district_id: str, folder: str, name: str) -> bytes | None:
    """``ROSTER_DATA_ROOT/<district_id>/<folder>/<name>``, or None when it does not exist.

    One small file (a ``qa_report.json``) read in place, without copying the rest of its folder
    (a run folder also holds the export) to a workspace.
    """
    for part in (folder, name):
        if not part or "/" in part or part in (".", ".."):
            raise ValueError(f"not a file or folder name: {part!r}")
    root = data_root()
    if not is_url(root):
        path = _local(root) / _district(district_id) / folder / name
        return path.read_bytes() if path.is_file() else None

    fs, location = _remote(root, f"{_district(district_id)}/{folder}/{name}")
    try:
        return fs.cat_file(location)
    except (FileNotFoundError, IsADirectoryError):
        return None


@contextlib.contextmanager
def _workspace(key: str) -> Iterator[Path]:
    """``ROSTER_DATA_ROOT/<key>`` as a local folder; on an object store, pulled before and pushed after."""
    root = data_root()
    if not is_url(root):
        folder = _local(root) / key
        _private_folder(folder)
        yield folder
        return

    fs, remote = _remote(root, key)
    with tempfile.TemporaryDirectory(prefix="roster-") as scratch:
        local = Path(scratch)
        for entry in _listing(fs, remote):
            if entry["type"] == "file":
                with fs.open(entry["name"], "rb") as src, (local / _name(entry)).open("wb") as dst:
                    shutil.copyfileobj(src, dst)
        before = {p.name: p.stat().st_mtime_ns for p in local.iterdir()}
        yield local
        fs.makedirs(remote, exist_ok=True)
        after = {p.name: p for p in local.iterdir() if p.is_file()}
        # Data files first, pointers (*.json) last: a reader on another worker never sees a
        # pointer to a file that has not arrived yet.
        for name in sorted(after, key=lambda n: n.endswith(".json")):
            if before.get(name) != after[name].stat().st_mtime_ns:
                with after[name].open("rb") as src, fs.open(f"{remote}/{name}", "wb") as dst:
                    shutil.copyfileobj(src, dst)
        for name in before.keys() - after.keys():
            with contextlib.suppress(FileNotFoundError):
                fs.rm_file(f"{remote}/{name}")


def _remote(root: str, key: str) -> tuple[AbstractFileSystem, str]:
    """The filesystem Airflow attached for an object-store root, and ``key``'s path in it.

    Every read, listing and write goes through that one filesystem: ``ObjectStoragePath``'s
    ``iterdir``/``exists``/``is_file`` ask a second fsspec instance (universal-pathlib's own, built
    without the connection's settings), whose listing cache never sees what the first one wrote, so
    a later task in the same process (``dag.test()``) pulled a run folder without its newest files.
    """
    from airflow.sdk import ObjectStoragePath

    remote = ObjectStoragePath(root.rstrip("/")) / key
    return remote.fs, remote.path


def _listing(fs: AbstractFileSystem, path: str) -> list[dict]:
    """The entries of folder ``path``, read fresh from the store (none when it does not exist)."""
    fs.invalidate_cache(path)
    try:
        return fs.ls(path, detail=True)
    except FileNotFoundError:
        return []


def _name(entry: dict) -> str:
    return str(entry["name"]).rstrip("/").rpartition("/")[2]
