"""Copying tonight's local export into the run folder: a file as it is, a OneRoster package folder as
one zip.

The run folder's copy is what every later task of the night reads, so a folder is packed into one
file: a run folder on an object store carries files only (``roster.io.store``), and a package
written into the SIS's folder after the copy cannot change a night half-way. The zip is
deterministic (sorted names, a fixed timestamp), so the same package gives the same bytes.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from roster.errors import InputError

#: The file a package folder must hold to count as there (the SIS writes it with the package).
MANIFEST = "manifest.csv"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def local_export_present(path: Path, *, package: bool) -> bool:
    """A file, or with ``package`` a folder holding ``manifest.csv``."""
    if path.is_file():
        return True
    return package and (path / MANIFEST).is_file()


def copy_name(path: Path) -> str:
    """The export's name in the run folder: ``export_<name>``, a folder's with ``.zip``."""
    return "export_" + path.name + (".zip" if path.is_dir() else "")


def copy_local_export(path: Path, target: Path, *, package: bool) -> int:
    """Copy ``path`` to ``target`` (private, written then renamed); its size in bytes."""
    tmp = target.with_name(f".{target.name}.part")
    if path.is_dir():
        if not package:
            raise InputError(f"{path}: is a folder; only source.format: oneroster reads a package folder")
        if not (path / MANIFEST).is_file():
            raise InputError(f"{path}: the package folder has no {MANIFEST}")
        _zip_folder(path, tmp)
    elif path.is_file():
        shutil.copyfile(path, tmp)
    else:
        raise FileNotFoundError(path)
    tmp.chmod(0o600)
    tmp.replace(target)
    return target.stat().st_size


def _zip_folder(folder: Path, target: Path) -> None:
    """The folder's files (not its subfolders: a package is one level of CSV files) as a zip."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in folder.iterdir() if p.is_file()):
            info = zipfile.ZipInfo(file.name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            with file.open("rb") as src, archive.open(info, "w") as dst:
                shutil.copyfileobj(src, dst)
