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
    header: str = Field(min_length=1)
    field: Literal[LAYOUT_FIELDS]  # type: ignore[valid-type]


class StatusWords(Strict):
    active: str = Field(min_length=1)
    inactive: str = Field(min_length=1)


class Layout(Strict):
    """The vendor file's shape, ``include/layouts/<name>.yaml``."""

    name: str
    columns: list[LayoutColumn] = Field(min_length=1)
    date_format: str = "%m/%d/%Y"
    status_words: StatusWords
    line_ending: Literal["lf", "crlf"] = "crlf"
    #: Canonical field (grade, campus, diagnosis) -> a CSV under the include root (unless absolute) whose
    #: ``rethink_code`` column lists the vendor's valid codes; a cross-match row mapping to another code is
    #: a config error (``roster.config.vendor_codes``). None by default: nothing is refused.
    vendor_codes: dict[VendorField, str] = {}

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
