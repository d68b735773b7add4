"""Copying a district's remote cross-match tables into a local folder, the one version a night reads.

A night copies them into its run folder (``extract_export``, with the export), so every later task,
on whichever worker, reads those copies (``load_crossmatch(..., copies=folder)``) and not whatever
the district uploaded since. fsspec URLs are read here; ``sftp://`` tables need a fetcher from the
Airflow layer (``roster.airflow.hooks.sftp.fetch``): the domain stays free of Airflow.

Faults: a table that is not there, an unknown URL scheme or a refused read is a ``ConfigError`` (the
night fails at once); anything else (the network) is raised as it is, for the task's retries.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from roster.config import District
from roster.config.crossmatch import TABLES
from roster.config.crossmatch_source import COPY_PREFIX, SFTP, copy_name, kind, table_url
from roster.errors import ConfigError
from roster.io import artifacts

#: Downloads a ``sftp://`` URL to a local path (its size); ``FileNotFoundError`` when it is not there.
Fetcher = Callable[[str, Path], int]


def copy_tables(district: District, dest: Path, sftp_fetch: Fetcher | None = None) -> list[str]:
    """Copy the district's remote tables into ``dest`` as ``crossmatch_<table>.csv``; the tables copied.

    Copies of an earlier run are removed first, so a table the district has since removed is not
    read. ``diagnoses`` may be absent when the district maps no diagnosis.
    """
    spec = district.crossmatch
    if kind(spec) == SFTP and sftp_fetch is None:
        raise ConfigError(
            f"{spec}: key 'crossmatch' of district {district.district_id} is an SFTP folder, "
            "which only Airflow can fetch here"
        )
    artifacts.make_private_dir(dest)
    for old in dest.glob(f"{COPY_PREFIX}*.csv"):
        old.unlink()
    needs_diagnoses = district.source.columns.diagnosis is not None
    copied: list[str] = []
    for table in TABLES:
        url = table_url(spec, table)
        try:
            if sftp_fetch is not None and kind(spec) == SFTP:
                sftp_fetch(url, dest / copy_name(table))
            else:
                _copy_fsspec(url, dest / copy_name(table))
        except FileNotFoundError:
            if table == "diagnoses" and not needs_diagnoses:
                continue
            raise ConfigError(
                f"{url}: cross-match table not found (key 'crossmatch' of district {district.district_id})"
            ) from None
        copied.append(table)
    return copied


def _copy_fsspec(url: str, target: Path) -> None:
    import fsspec  # type: ignore[import-untyped]

    try:
        with fsspec.open(url, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise
    except (PermissionError, ValueError, ImportError) as exc:
        # ValueError / ImportError: a scheme fsspec does not know, or whose package is not installed.
        raise ConfigError(f"{url}: cannot be read ({type(exc).__name__}: {exc})") from None
    except IsADirectoryError:
        raise ConfigError(f"{url}: is a folder, not a cross-match table") from None
    artifacts.write_bytes(target, data)
