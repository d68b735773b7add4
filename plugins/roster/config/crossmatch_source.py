"""Where a district's cross-match tables live, as the district file's ``crossmatch:`` key says.

Three forms:

* a folder, relative to the include root unless absolute (``crossmatch/lakeview``): read in place;
* an fsspec URL (``s3://bucket/dir``, ``memory://dir``, ``file:///abs/dir``): read with fsspec;
* ``sftp://<conn_id>/<dir>``: the district's own SFTP drop folder, read through the Airflow
  connection ``conn_id`` (only the Airflow layer, or the CLI with Airflow connections, can fetch it).

The last two are *remote*: the district can update them without a release, so a night must read one
version of them from start to end. They are copied into a local folder first (``roster.io.
crossmatch_copy``; a night copies them into its run folder in ``extract_export``) and read from there,
under flat names (``crossmatch_<table>.csv``) because an object-store data root carries only a run
folder's files, not its subfolders (``roster.io.store``). Errors still name the table's URL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from roster.config.files import resolve
from roster.errors import ConfigError

LOCAL, FSSPEC, SFTP = "local", "fsspec", "sftp"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
#: The prefix of a table's local copy (``crossmatch_grades.csv``).
COPY_PREFIX = "crossmatch_"


def kind(spec: str) -> str:
    """``local``, ``fsspec`` or ``sftp``: how the tables of ``spec`` are read."""
    match = _SCHEME.match(spec)
    if match is None:
        return LOCAL
    return SFTP if match.group(1).lower() == "sftp" else FSSPEC


def is_remote(spec: str) -> bool:
    return kind(spec) != LOCAL


def check_spec(value: str) -> str:
    """``value`` when it is one of the three forms; a ``ValueError`` saying what is wrong otherwise."""
    match = _SCHEME.match(value)
    if match is None:
        if "://" in value:
            raise ValueError(f"{value!r} is neither a folder nor a URL such as s3://bucket/dir")
        return value
    rest = value[match.end() :]
    if kind(value) == SFTP:
        conn_id, slash, folder = rest.partition("/")
        if not _CONN_ID.match(conn_id) or not slash or not folder.strip("/") or folder.startswith("/"):
            raise ValueError(
                f"{value!r} is not of the form sftp://<conn_id>/<dir>: an Airflow connection id, then the "
                "folder's path from the server's root (sftp://lakeview_drop/roster/crossmatch is /roster/crossmatch)"
            )
    elif not rest.strip("/"):
        raise ValueError(f"{value!r} names no folder after {match.group(0)}")
    return value


def table_url(spec: str, table: str) -> str:
    """Where table ``table`` of a remote ``spec`` is (``s3://bucket/dir/grades.csv``)."""
    return f"{spec.rstrip('/')}/{table}.csv"


def copy_name(table: str) -> str:
    return f"{COPY_PREFIX}{table}.csv"


@dataclass(frozen=True)
class TableFile:
    """One table as read: the local file, and what errors and ``qa_report.json`` call it."""

    table: str
    path: Path
    source: str


def table_file(root: Path, spec: str, table: str, copies: Path | None) -> TableFile:
    """Table ``table`` of ``spec``: the file in the folder, or for a remote ``spec`` its copy in ``copies``.

    A local table is named by its path (as errors always named it); a remote one by its URL.
    """
    if not is_remote(spec):
        path = resolve(root, spec) / f"{table}.csv"
        return TableFile(table, path, str(path))
    if copies is None:
        raise ConfigError(f"{spec}: remote cross-match tables are read from a local copy, and none was made")
    return TableFile(table, copies / copy_name(table), table_url(spec, table))
