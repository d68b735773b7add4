"""A OneRoster bulk package's files as Arrow tables: the zip or folder opened, ``manifest.csv``
checked, each CSV file parsed with every value as text.

``oneroster.py`` maps these tables to the canonical fields; this module knows only the package's
shape. Every fault here makes the whole package unreadable: one ``InputError`` naming the package,
the file inside it and the line (the header) or row (a record, header = row 1), never a value that
could be student data.
"""

from __future__ import annotations

import codecs
import csv
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from roster.errors import InputError
from roster.io.text import Text, first_bad_utf8_line, is_utf8

#: OneRoster versions read (``oneroster.version`` of the manifest); 1.0 had no manifest at all.
SUPPORTED_VERSIONS = ("1.1", "1.2")
_VERSION = re.compile(r"^1\.([0-9]+)(\.[0-9]+)*$")


@dataclass(frozen=True)
class Package:
    """The CSV files of one package, by lower-case file name, as bytes (OneRoster files are small)."""

    path: Path
    files: dict[str, bytes]
    manifest: dict[str, tuple[str, int]]  # property -> (value, row in manifest.csv)

    @property
    def version(self) -> str:
        return self.manifest["oneroster.version"][0]

    def fail(self, name: str, where: str, message: str) -> InputError:
        """The error for a fault in file ``name`` at ``where`` ("line 1", "row 7" or "")."""
        place = f"{where}: " if where else ""
        return InputError(f"{self.path}: {name}: {place}{message}")

    def mode(self, name: str) -> str:
        """``bulk``, ``delta`` or ``absent`` as the manifest says of ``name`` (``users.csv``)."""
        key = f"file.{name.removesuffix('.csv')}"
        value = self.manifest.get(key, ("absent", 0))[0].strip().lower()
        return value or "absent"

    def bulk(self, name: str) -> bool:
        """Whether the package carries ``name`` in bulk; a delta file is refused."""
        mode = self.mode(name)
        key = f"file.{name.removesuffix('.csv')}"
        if mode == "delta":
            row = self.manifest[key][1]
            raise self.fail(
                "manifest.csv",
                f"row {row}",
                f"{key} is delta: a roster night needs a bulk package (every student, every night); "
                "export OneRoster in bulk mode",
            )
        if mode not in ("bulk", "absent"):
            row = self.manifest[key][1]
            raise self.fail("manifest.csv", f"row {row}", f"{key} must be bulk or absent, not {mode!r}")
        if mode == "bulk" and name.lower() not in self.files:
            raise InputError(f"{self.path}: manifest.csv lists {name} as bulk but the package has no {name}")
        return mode == "bulk"

    def require(self, name: str) -> None:
        """A file every roster night needs: present in bulk."""
        key = f"file.{name.removesuffix('.csv')}"
        if key not in self.manifest:
            raise self.fail(
                "manifest.csv",
                "",
                f"{key} is missing; a roster night needs users.csv, orgs.csv and demographics.csv in bulk",
            )
        if not self.bulk(name):
            raise InputError(
                f"{self.path}: the package has no {name} (manifest.csv says file.{name.removesuffix('.csv')} "
                f"is absent); a roster night needs users.csv, orgs.csv and demographics.csv"
            )

    def header(self, name: str) -> list[str]:
        data = self.files[name.lower()]
        end = min((i for i in (data.find(b"\n"), data.find(b"\r")) if i >= 0), default=len(data))
        first = data[:end]
        if not first.strip(b" \t"):
            raise self.fail(name, "", "the file is empty; expected a header line")
        try:
            return [h.strip() for h in next(csv.reader([first.decode("utf-8")]))]
        except (UnicodeDecodeError, csv.Error):
            raise self.fail(name, "line 1", "not a CSV header") from None

    def table(
        self, name: str, required: tuple[str, ...], optional: tuple[str, ...] = (), *, hint: str = ""
    ) -> pa.Table:
        """The file's ``required`` and present ``optional`` columns (large_string, never null) plus
        ``row_number`` (header = row 1); blank lines dropped; a ragged row is fatal."""
        data = self.files[name.lower()]
        if not is_utf8(data):
            line = first_bad_utf8_line(Text(data, len(data)))
            raise self.fail(name, f"line {line}", "not valid UTF-8 text (OneRoster files are UTF-8)")
        header = self.header(name)
        for column in (*required, *optional):
            if header.count(column) > 1:
                raise self.fail(name, "line 1", f"column {column!r} appears {header.count(column)} times in the header")
        for column in required:
            if column not in header:
                raise self.fail(name, "line 1", f"column {column!r} is missing from the header{hint}")
        columns = [*required, *(c for c in optional if c in header)]
        table = _parse(self, name, data, header, columns)
        return _without_blank_rows(table, columns)


def _parse(package: Package, name: str, data: bytes, header: list[str], columns: list[str]) -> pa.Table:
    ragged: list[pacsv.InvalidRow] = []

    def on_invalid_row(row: pacsv.InvalidRow) -> str:
        ragged.append(row)
        return "skip"

    # Unused columns get unique placeholder names, so a repeated column nobody reads is no fault.
    names = [h if h in columns else f"\x00{k}" for k, h in enumerate(header)]
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(use_threads=False, column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=on_invalid_row
            ),
            convert_options=pacsv.ConvertOptions(
                include_columns=columns,
                column_types={c: pa.large_string() for c in columns},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid:
        # Never quote the parser's message: it ends with the row's text.
        raise package.fail(name, "", "cannot be parsed as CSV (an unclosed quote?)") from None
    if ragged:
        row = ragged[0]
        raise package.fail(
            name, f"row {row.number}", f"expected {row.expected_columns} values, found {row.actual_columns}"
        )
    numbers = np.arange(2, table.num_rows + 2, dtype=np.int64)
    return table.append_column("row_number", pa.array(numbers, pa.int64()))


def _without_blank_rows(table: pa.Table, columns: list[str]) -> pa.Table:
    """Blank lines parse as rows with every value empty; they are no records."""
    if table.num_rows == 0:
        return table
    blank = np.ones(table.num_rows, dtype=bool)
    for column in columns:
        blank &= pc.equal(pc.utf8_length(table[column]), 0).to_numpy(zero_copy_only=False).astype(bool)
    return table.filter(pa.array(~blank)) if blank.any() else table


def open_package(path: Path) -> Package:
    """The package at ``path`` (a ``.zip`` or a folder), its manifest read and its version checked."""
    files = _folder_files(path) if path.is_dir() else _zip_files(path)
    if "manifest.csv" not in files:
        raise InputError(
            f"{path}: the package has no manifest.csv; OneRoster 1.1 and 1.2 packages carry one "
            "(a package without one is OneRoster 1.0, which is not read)"
        )
    files = {name: data.removeprefix(codecs.BOM_UTF8) for name, data in files.items()}
    package = Package(path, files, {})
    manifest = _manifest(package)
    package = Package(path, files, manifest)
    _check_version(package)
    return package


def _folder_files(path: Path) -> dict[str, bytes]:
    try:
        return {p.name.lower(): p.read_bytes() for p in sorted(path.iterdir()) if p.suffix.lower() == ".csv"}
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None


def _zip_files(path: Path) -> dict[str, bytes]:
    """The CSV files of the zip: at its root or all in one folder (a zipped folder)."""
    if not path.exists():
        raise InputError(f"{path}: OneRoster package not found")
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise InputError(f"{path}: not a OneRoster package: not a zip archive (expected a .zip or a folder)") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror})") from None
    with archive:
        members = [
            m
            for m in archive.infolist()
            if not m.is_dir() and m.filename.lower().endswith(".csv") and not m.filename.startswith("__MACOSX/")
        ]
        folders = sorted({str(PurePosixPath(m.filename).parent) for m in members})
        if len(folders) > 1:
            shown = ", ".join(f"{f}/" if f != "." else "the root" for f in folders)
            raise InputError(
                f"{path}: the zip holds CSV files in several folders ({shown}); put one package's files in one place"
            )
        try:
            return {PurePosixPath(m.filename).name.lower(): archive.read(m) for m in members}
        except (zipfile.BadZipFile, OSError, NotImplementedError) as exc:
            raise InputError(f"{path}: the zip cannot be read ({exc})") from None


def _manifest(package: Package) -> dict[str, tuple[str, int]]:
    table = package.table("manifest.csv", ("propertyName", "value"))
    names = table["propertyName"].to_pylist()
    values = table["value"].to_pylist()
    rows = table["row_number"].to_pylist()
    return {name.strip(): (value.strip(), row) for name, value, row in zip(names, values, rows, strict=True)}


def _check_version(package: Package) -> None:
    if "oneroster.version" not in package.manifest:
        raise package.fail("manifest.csv", "", "oneroster.version is missing (expected 1.1 or 1.2)")
    version, row = package.manifest["oneroster.version"]
    match = _VERSION.match(version)
    if match and match[1] == "0":
        raise package.fail(
            "manifest.csv", f"row {row}", "oneroster.version is 1.0, which is not read; export OneRoster 1.1 or 1.2"
        )
    if not match or f"1.{match[1]}" not in SUPPORTED_VERSIONS:
        shown = f" {version!r}" if len(version) <= 10 else ""
        raise package.fail(
            "manifest.csv", f"row {row}", f"oneroster.version{shown} is not supported; export OneRoster 1.1 or 1.2"
        )
