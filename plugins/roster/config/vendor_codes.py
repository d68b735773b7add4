"""The vendor's lists of valid codes, named by a layout's ``vendor_codes`` (grade, campus, diagnosis).

Each list is a CSV under the include root (unless absolute) with a ``rethink_code`` column; other
columns (``description``...) are allowed and ignored. A cross-match row that maps to a code the vendor
does not have would be delivered every night and refused at the vendor, so it is a configuration error
(``roster.config.crossmatch.check_vendor_codes``), found when the DAGs are parsed.

A code listed twice is accepted: the list is the vendor's file, pasted as it comes, and a repeat
changes nothing about which codes are valid (unlike a cross-match table, where a repeated district
code could map two ways and the point person edits it row by row).

Read with the ``csv`` module, no pandas: the scheduler reads these while parsing every district, so
each list is read once per parse and kept (``read_vendor_codes`` caches it by path, file size and
modification time, so an edited list is read again).
"""

from __future__ import annotations

import csv
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from roster.config.files import resolve
from roster.errors import ConfigError

COLUMN = "rethink_code"
#: The canonical fields a layout may name a list for.
VendorField = Literal["grade", "campus", "diagnosis"]


@dataclass(frozen=True)
class VendorCodes:
    """One list: the codes the vendor accepts for one field, and where they were read."""

    path: Path
    codes: frozenset[str]

    def closest(self, code: str) -> str | None:
        """The valid code nearest ``code`` (a typo, a case slip), if one is close."""
        if not code:
            return None
        by_folded = {c.casefold(): c for c in sorted(self.codes)}
        if code.casefold() in by_folded:
            return by_folded[code.casefold()]
        near = difflib.get_close_matches(code, sorted(self.codes), n=1, cutoff=0.6)
        return near[0] if near else None


_CACHE: dict[Path, tuple[tuple[int, int], VendorCodes]] = {}


def read_vendor_codes(path: Path) -> VendorCodes:
    """One list, read once while the file stays unchanged; a ``ConfigError`` naming file and line."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{path}: vendor code list not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: vendor code list cannot be read ({exc.strerror})") from None
    signature = (stat.st_size, stat.st_mtime_ns)
    cached = _CACHE.get(path)
    if cached is not None and cached[0] == signature:
        return cached[1]
    codes = VendorCodes(path=path, codes=_read(path))
    _CACHE[path] = (signature, codes)
    return codes


def _read(path: Path) -> frozenset[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise ConfigError(f"{path}: vendor code list not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"{path}: cannot be read as UTF-8 CSV ({exc})") from None
    header = [h.strip() for h in rows[0]] if rows else []
    if COLUMN not in header:
        found = ",".join(header) or "nothing"
        raise ConfigError(f"{path}: line 1: the header must have a {COLUMN} column, found {found}")
    at = header.index(COLUMN)
    codes: set[str] = set()
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ConfigError(f"{path}: line {line}: expected {len(header)} fields, found {len(row)}")
        code = row[at].strip()
        if not code:
            raise ConfigError(f"{path}: line {line}: {COLUMN} is empty")
        codes.add(code)
    if not codes:
        raise ConfigError(f"{path}: lists no codes (only the header)")
    return frozenset(codes)


def load_vendor_codes(root: Path, vendor_codes: Mapping[VendorField, str], layout_file: Path) -> dict[str, VendorCodes]:
    """Canonical field -> its list, for every list a layout's ``vendor_codes`` names (none: empty)."""
    lists: dict[str, VendorCodes] = {}
    for field, name in vendor_codes.items():
        try:
            lists[field] = read_vendor_codes(resolve(root, name))
        except ConfigError as exc:
            raise ConfigError(f"{exc} (key 'vendor_codes.{field}' of {layout_file})") from None
    return lists


__all__ = ["COLUMN", "VendorCodes", "VendorField", "load_vendor_codes", "read_vendor_codes"]
