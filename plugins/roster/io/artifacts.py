"""Writing a night's artifacts: atomically, owner-only, and reproducibly; removing only our own.

A reader (the next task, a person, a re-run) never sees a half-written file: each file is written
under a temporary name in the same folder and renamed into place.

The output folder may be the user's own (``roster run --out``). Each folder written into keeps a small
manifest, ``.roster_written.json``: the name and a fingerprint (size, and a digest of the first and
last 64 KiB) of every file written there. Clean-up (``clear_run``, ``remove_written``) deletes a file
only when the manifest lists it and it still is what was written, so a file a person put there under
an artifact's name is never deleted; and ``refuse_overwriting`` stops a run whose input is one of the
files it would write or clear, before anything is touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from roster.errors import InputError, RosterError

QA_REPORT = "qa_report.json"
REJECTS = "rejects.csv"
ACCEPTED_ROWS = "accepted_rows.json"
CHANGES = "changes.csv"
CARRIED = "carried_since.json"
#: What one run of the transform writes into its folder (besides the roster file itself).
RUN_FILES = (QA_REPORT, REJECTS, ACCEPTED_ROWS, CHANGES, CARRIED)


#: The manifest of the files written into a folder (see the module's docstring).
MANIFEST = ".roster_written.json"
#: Bytes read from each end of a file for its fingerprint: constant cost, whatever the file's size.
_EDGE = 1 << 16


def clear_run(folder: Path, *names: str) -> None:
    """Remove an earlier run's artifacts (``RUN_FILES`` and ``names``) from ``folder``, so a run that
    stops half-way never leaves an older run's result looking like its own. Only files a run wrote
    there (``remove_written``) are removed; nothing else is touched."""
    for name in (*RUN_FILES, *names):
        remove_written(folder / name)


def remove_written(path: Path) -> bool:
    """Delete ``path`` if it is a file written by ``write_parts`` and unchanged since; whether it was."""
    manifest = _manifest(path.parent)
    if path.name not in manifest:
        return False
    if path.is_file() and _fingerprint(path) == manifest[path.name]:
        path.unlink()
    del manifest[path.name]
    _save_manifest(path.parent, manifest)
    return not path.exists()


def refuse_overwriting(inputs: Mapping[str, Path | None], folder: Path, names: Iterable[str]) -> None:
    """An ``InputError`` naming both when an input (``{"--input": path}``) is one of the files
    ``folder/<name>`` a run writes or clears there: the run would overwrite or delete its own input."""
    targets = [folder / name for name in (*names, MANIFEST)]
    for label, path in inputs.items():
        if path is None or not path.exists():
            continue
        for target in targets:
            if target.exists() and os.path.samefile(path, target):
                raise InputError(
                    f"{path}: {label} is {target}, a file this run writes into {folder}; "
                    f"move it out of that folder or choose another output folder"
                )


def output_folder(path: Path) -> Path:
    """``path`` checked as a folder to write into, before anything is read: one ``RosterError`` naming
    the path when it is a file or under one, or when it (or, while missing, the folder it would be made
    in) cannot be written into (permissions, a read-only file system). A missing folder is created
    when the first file is written (``write_parts``), so a run that fails first leaves none behind."""
    existing = path
    try:
        existing = next(p for p in (path, *path.parents) if p.exists() or p.is_symlink())
        if not existing.is_dir():
            where = "is a file" if existing == path else f"is under {existing}, which is a file"
            raise RosterError(f"{path}: the output folder {where}, not a folder; name a folder for the output")
        fd, probe = tempfile.mkstemp(dir=existing, prefix=".roster-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        what = "the output folder" if existing == path else f"{existing}, where the output folder would be made"
        raise RosterError(f"{path}: cannot write into {what} ({exc.strerror or type(exc).__name__})") from None
    return path


def _fingerprint(path: Path) -> str:
    """The file's size and a digest of its first and last ``_EDGE`` bytes (cheap for any size)."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        digest.update(handle.read(_EDGE))
        if size > _EDGE:
            handle.seek(max(_EDGE, size - _EDGE))
            digest.update(handle.read(_EDGE))
    return f"{size}:{digest.hexdigest()}"


def _manifest(folder: Path) -> dict[str, str]:
    try:
        written = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # none yet (or unreadable): nothing here is known to be ours
    return {str(k): str(v) for k, v in written.items()} if isinstance(written, dict) else {}


def _save_manifest(folder: Path, manifest: dict[str, str]) -> None:
    path = folder / MANIFEST
    if not manifest:
        path.unlink(missing_ok=True)
        return
    _replace(path, [(json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode("utf-8")])


def _record(path: Path) -> None:
    manifest = _manifest(path.parent)
    manifest[path.name] = _fingerprint(path)
    _save_manifest(path.parent, manifest)


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


def write_bytes(path: Path, data: bytes, *, recorded: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically, readable by the owner only (student records)."""
    return write_parts(path, [data], recorded=recorded)


def write_parts(path: Path, parts: Iterable[bytes | memoryview], *, recorded: bool = False) -> Path:
    """Write a file made of pieces (e.g. Arrow buffers) atomically, owner-only, without joining them.

    ``recorded``: listed in the folder's manifest, so a later clean-up (``clear_run``,
    ``remove_written``) may remove it; every file a clean-up looks for is written so.
    """
    make_private_dir(path.parent)
    _replace(path, parts)
    if recorded:
        _record(path)
    return path


def _replace(path: Path, parts: Iterable[bytes | memoryview]) -> None:
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


def write_json(path: Path, payload: dict[str, Any], *, recorded: bool = False) -> Path:
    return write_bytes(path, (json.dumps(payload, indent=2, sort_keys=True) + "\n").encode("utf-8"), recorded=recorded)


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))
