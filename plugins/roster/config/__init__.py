"""The configuration a night runs on: district files, layouts and cross-match tables.

Every model is strict and frozen; a wrong file is one ``ConfigError`` naming the file and the dotted
key or line. Nothing here imports pandas, so parsing hundreds of district files stays cheap.
"""

from roster.config.district import (
    CANONICAL_FIELDS,
    DEFAULT_STATE_ID_PATTERN,
    OPTIONAL_FIELDS,
    REQUIRED_FIELDS,
    District,
    Source,
    StatusValues,
    VendorExport,
    check_district_id,
    district_files,
    find_district,
    load_district,
    parse_duration,
)
from roster.config.files import resolve
from roster.config.layout import LAYOUT_FIELDS, Layout, load_layout
from roster.settings import include_root

__all__ = [
    "CANONICAL_FIELDS",
    "DEFAULT_STATE_ID_PATTERN",
    "LAYOUT_FIELDS",
    "OPTIONAL_FIELDS",
    "REQUIRED_FIELDS",
    "District",
    "Layout",
    "Source",
    "StatusValues",
    "VendorExport",
    "check_district_id",
    "district_files",
    "find_district",
    "include_root",
    "load_district",
    "load_layout",
    "parse_duration",
    "resolve",
]
