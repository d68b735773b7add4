"""docs/DISTRICT_CONFIG.md and include/districts/district.schema.json follow the models; the sample shows every key."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from conftest import INCLUDE, REPO
from roster.config import District, district_files, parse_duration
from roster.config.reference import SAMPLE_DISTRICT, SCHEMA, document_paths, stale, uncomment, value_at
from roster.config.schema import Key, has_default, json_schema, keys

SAMPLE_TEXT = (REPO / SAMPLE_DISTRICT).read_text(encoding="utf-8")
SCHEMA_JSON = json.loads((REPO / SCHEMA).read_text(encoding="utf-8"))


def as_editor_reads(value: Any) -> Any:
    """A PyYAML document as the YAML language server sees it (YAML 1.2: ``2026-08-01`` is a string)."""
    if isinstance(value, dict):
        return {k: as_editor_reads(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_editor_reads(v) for v in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


ACTIVE = yaml.safe_load(SAMPLE_TEXT)
EVERY_OPTION = yaml.safe_load(uncomment(SAMPLE_TEXT))
VALIDATOR = Draft202012Validator(SCHEMA_JSON, format_checker=Draft202012Validator.FORMAT_CHECKER)
DISTRICT_KEYS = keys(json_schema(District, "district"))


def test_the_generated_reference_and_schema_follow_the_models() -> None:
    behind = stale(REPO)
    assert not behind, (
        f"{', '.join(str(p.relative_to(REPO)) for p in behind)} out of step with the models: run `make docs`"
    )


def test_every_key_has_a_description() -> None:
    undescribed = [k.path for k in DISTRICT_KEYS if not k.schema.get("description")]
    assert not undescribed, f"give these fields a docstring (the string under the field): {undescribed}"


def test_the_schema_is_for_editors() -> None:
    Draft202012Validator.check_schema(SCHEMA_JSON)
    assert SCHEMA_JSON["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA_JSON["title"] and SCHEMA_JSON["additionalProperties"] is False
    assert SAMPLE_TEXT.splitlines()[0] == "# yaml-language-server: $schema=district.schema.json"


@pytest.mark.parametrize("document", [ACTIVE, EVERY_OPTION], ids=["as set", "every option uncommented"])
def test_the_sample_validates_against_the_schema_and_the_models(document: dict) -> None:
    VALIDATOR.validate(as_editor_reads(document))
    District.model_validate(document)


@pytest.mark.parametrize(
    ("dotted", "value"),
    [
        ("source.wait_for", "3 hours"),
        ("source.wait_for", "90"),
        ("qa.hold_timeout", "1w"),
        ("mode", "production"),
        ("qa.max_reject_rate", 1.5),
        ("source.duplicate_rows", "keep"),
        ("source.delimiter", ";;"),
        ("destination.remote_dir", "upload/x"),
        ("contacts.point_person", ["not an address"]),
        ("start_date", "2026-13-01"),
        ("notify.colour", "red"),
        ("unknown_key", 1),
    ],
)
def test_the_schema_rejects_what_the_loader_rejects(dotted: str, value: Any) -> None:
    document = changed(EVERY_OPTION, dotted, value)
    with pytest.raises(ValidationError):
        District.model_validate(document)
    assert list(VALIDATOR.iter_errors(as_editor_reads(document))), f"the schema accepts {dotted}: {value!r}"


@pytest.mark.parametrize("text", ["30s", "15m", "3h", "2d", " 3h ", "0s", "120m"])
def test_the_schema_takes_the_durations_the_loader_takes(text: str) -> None:
    assert parse_duration(text) >= dt.timedelta(0)
    VALIDATOR.validate(as_editor_reads(changed(EVERY_OPTION, "qa.hold_timeout", text)))


def changed(document: dict, dotted: str, value: Any) -> dict:
    copy = json.loads(json.dumps(as_editor_reads(document)))
    node = copy
    *parents, leaf = dotted.split(".")
    for name in parents:
        node = node.setdefault(name, {})
    node[leaf] = value
    return copy


#: Keys read only with another ``source.format`` than the sample's csv: uncommented they would make the
#: sample invalid (``source.sheet`` with csv is an error), so they are shown in that format's README example.
OTHER_FORMAT_KEYS = {
    "source.sheet": "xlsx",
    "source.oneroster": "oneroster",
    "source.oneroster.state_id": "oneroster",
    "source.oneroster.extensions": "oneroster",
}


def test_the_sample_lists_every_key_of_the_models() -> None:
    listed = document_paths(EVERY_OPTION)
    missing = [k.path for k in DISTRICT_KEYS if k.path not in listed and k.path not in OTHER_FORMAT_KEYS]
    assert not missing, f"{SAMPLE_DISTRICT} lacks these keys (add them, commented out with their default): {missing}"
    unknown = sorted(listed - {k.path for k in DISTRICT_KEYS})
    assert not unknown, f"{SAMPLE_DISTRICT} lists keys the models do not have: {unknown}"


def _optional(key: Key) -> bool:
    return not key.required or key.within is not None


def _has_a_default(key: Key) -> bool:
    """A default to show: not ``None``, and not inside a block absent by default (``go_live``: an example)."""
    blocks = {k.path: k for k in DISTRICT_KEYS}
    inside_absent = key.within is not None and blocks[key.within].default is None
    return has_default(key) and key.default is not None and not inside_absent


def test_only_optional_keys_are_commented_out_and_with_their_defaults() -> None:
    active = document_paths(ACTIVE)
    commented = [k for k in DISTRICT_KEYS if k.path not in active]
    assert commented, "the sample comments out the optional keys it does not set"
    required = [k.path for k in commented if not _optional(k)]
    assert not required, f"required keys commented out: {required}"
    wrong = {
        k.path: value_at(EVERY_OPTION, k.path)
        for k in commented
        if _has_a_default(k) and as_editor_reads(value_at(EVERY_OPTION, k.path)) != k.default
    }
    assert not wrong, f"commented-out keys whose value is not the default: {wrong}"


def test_uncommenting_leaves_prose_comments_alone() -> None:
    text = "# Sample district: prose.\n# yaml-language-server: $schema=x.json\nqa:\n  # required_nights: 3\n"
    assert (
        uncomment(text)
        == "# Sample district: prose.\n# yaml-language-server: $schema=x.json\nqa:\n  required_nights: 3\n"
    )


def test_the_schema_file_is_not_a_district() -> None:
    from roster.airflow.nightly import build_all

    assert (INCLUDE / SCHEMA.relative_to("include")).is_file()
    assert [p.name for p in district_files(INCLUDE)] == [
        "sample_isd.yaml",
        "sample_isd_oneroster.yaml",
        "sample_isd_xlsx.yaml",
    ]
    assert set(build_all(INCLUDE)) == {"roster_sample_isd", "roster_sample_isd_oneroster", "roster_sample_isd_xlsx"}
