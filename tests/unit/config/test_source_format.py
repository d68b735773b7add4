"""``source.format``'s own keys: what OneRoster fixes is not written, ``sheet`` only with xlsx,
``oneroster`` only with oneroster. Each refusal is one line naming the file and the dotted key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from domain_fixtures import INCLUDE, write_district
from roster.config import load_district
from roster.errors import ConfigError


def _sample(district_id: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((INCLUDE / "districts" / f"{district_id}.yaml").read_text(encoding="utf-8"))
    return data


def _refused(tmp_path: Path, data: dict[str, Any], district_id: str) -> str:
    path = write_district(tmp_path, data, district_id)
    with pytest.raises(ConfigError) as info:
        load_district(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    return message.removeprefix(f"{path}: ")


def test_the_sample_districts_of_each_format_load() -> None:
    for district_id, fmt in [("sample_isd", "csv"), ("sample_isd_oneroster", "oneroster"), ("sample_isd_xlsx", "xlsx")]:
        assert load_district(INCLUDE / "districts" / f"{district_id}.yaml").source.format == fmt


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("columns", {"state_test_number": "STATE_ID"}),
        ("delimiter", ","),
        ("date_format", "%Y-%m-%d"),
        ("status_values", {"active": ["active"], "inactive": ["inactive"]}),
    ],
)
def test_a_key_oneroster_fixes_is_refused_with_format_oneroster(tmp_path: Path, key: str, value: Any) -> None:
    data = _sample("sample_isd_oneroster")
    data["source"][key] = value  # even the value OneRoster would give: written, it looks as if it applied
    message = _refused(tmp_path, data, "sample_isd_oneroster")
    assert message.startswith(f"key 'source.{key}': {key} is fixed by OneRoster with format: oneroster; remove it")


@pytest.mark.parametrize(("district_id", "fmt"), [("sample_isd", "csv"), ("sample_isd_oneroster", "oneroster")])
def test_sheet_is_refused_unless_format_xlsx(tmp_path: Path, district_id: str, fmt: str) -> None:
    data = _sample(district_id)
    data["source"]["sheet"] = "Students"
    message = _refused(tmp_path, data, district_id)
    assert message == f"key 'source.sheet': sheet is read only with format: xlsx, not format: {fmt}; remove it"


def test_sheet_is_refused_when_format_defaults_to_csv(tmp_path: Path) -> None:
    data = _sample("sample_isd_xlsx")
    del data["source"]["format"]
    message = _refused(tmp_path, data, "sample_isd_xlsx")
    assert message == "key 'source.sheet': sheet is read only with format: xlsx, not format: csv; remove it"


@pytest.mark.parametrize("district_id", ["sample_isd", "sample_isd_xlsx"])
def test_oneroster_is_refused_unless_format_oneroster(tmp_path: Path, district_id: str) -> None:
    data = _sample(district_id)
    data["source"]["oneroster"] = {"state_id": "identifier"}
    message = _refused(tmp_path, data, district_id)
    fmt = data["source"].get("format", "csv")
    assert message == (
        f"key 'source.oneroster': oneroster is read only with format: oneroster, not format: {fmt}; remove it"
    )


@pytest.mark.parametrize("key", ["delimiter", "encoding"])
def test_delimiter_or_encoding_with_xlsx_names_the_dotted_key(tmp_path: Path, key: str) -> None:
    data = _sample("sample_isd_xlsx")
    data["source"][key] = "utf-8" if key == "encoding" else ";"
    message = _refused(tmp_path, data, "sample_isd_xlsx")
    assert message.startswith(f"key 'source.{key}': {key} does not apply to format: xlsx")
