"""The vendor file's shape, ``include/layouts/<name>.yaml``: columns, date format, status words, line ending."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from roster.config.district import CANONICAL_FIELDS
from roster.config.files import Strict, format_error, read_yaml
from roster.config.vendor_codes import VendorField, load_vendor_codes
from roster.errors import ConfigError

#: Fields a layout column may carry: the canonical ones plus the district id.
LAYOUT_FIELDS = (*CANONICAL_FIELDS, "district_id")


class LayoutColumn(Strict):
    """One column of the vendor file, in file order."""

    header: str = Field(min_length=1)
    """The header the vendor expects, written in the file's header line."""
    field: Literal[LAYOUT_FIELDS]  # type: ignore[valid-type]
    """The canonical field the column carries, or ``district_id``."""


class StatusWords(Strict):
    """The words the vendor file uses for a student's status."""

    active: str = Field(min_length=1)
    """Written for an enrolled student."""
    inactive: str = Field(min_length=1)
    """Written for a student who left or is carried as inactive."""


class Layout(Strict):
    """The vendor file's shape, ``include/layouts/<name>.yaml``."""

    name: str
    """The layout's name, as ``destination.layout`` of a district file names it."""
    columns: list[LayoutColumn] = Field(min_length=1)
    """The file's columns in order; ``state_test_number`` and ``status`` are required, headers are distinct."""
    date_format: str = "%m/%d/%Y"
    """strftime format of the dates written (date of birth, entry and exit dates)."""
    status_words: StatusWords
    """The status words written."""
    line_ending: Literal["lf", "crlf"] = "crlf"
    """Line ending of every line, the header's included."""
    vendor_codes: dict[VendorField, str] = {}
    """Canonical field (grade, campus, diagnosis) -> a CSV under the include root (unless absolute) whose
    ``rethink_code`` column lists the vendor's valid codes; a cross-match row mapping to another code is a
    config error. Empty by default: nothing is refused."""

    @model_validator(mode="after")
    def _must_key_students(self) -> Layout:
        fields = [c.field for c in self.columns]
        for required in ("state_test_number", "status"):
            # The id keys every student; the status lets a student who left be sent as inactive.
            if required not in fields:
                raise ValueError(f"columns must include the field {required}")
        headers = [c.header for c in self.columns]
        repeated = sorted({h for h in headers if headers.count(h) > 1})
        if repeated:
            raise ValueError(f"header {repeated[0]!r} appears twice")
        return self

    @property
    def eol(self) -> str:
        return "\r\n" if self.line_ending == "crlf" else "\n"


def layout_path(root: Path, name: str) -> Path:
    return root / "layouts" / f"{name}.yaml"


def load_layout(root: Path, name: str) -> Layout:
    """The layout, with the vendor code lists it names read and checked (``roster.config.vendor_codes``)."""
    path = layout_path(root, name)
    data = read_yaml(path)
    try:
        layout = Layout.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_error(path, err)) from None
    load_vendor_codes(root, layout.vendor_codes, path)  # a bad list is this layout's error, whoever uses it
    return layout
