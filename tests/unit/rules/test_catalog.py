"""The rule catalog is the single source of the night's rules, and pandera's ``validate`` applies it.

Every reason code is declared once in ``roster.rules.catalog`` (columns, kernel, fix text); the
pandera schema is built from it; the night's rejects are pandera's failure cases. No value of a
failing cell leaves that path.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import traceback
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow.compute as pc
import pytest

from devtools import sample
from domain_fixtures import SAMPLE_EXPORT, make_night, reject_set, row, validate_rows
from roster.config import OPTIONAL_FIELDS, REQUIRED_FIELDS
from roster.io.export import read_export
from roster.night import pipeline
from roster.rules import catalog, model
from roster.rules.catalog import REASONS, RULES, Rule
from roster.rules.checks import column_text
from roster.rules.model import REQUIRED_COLUMNS, RosterRow, build_schema, columns_of, find_rejects


def kernel_rejects(frame: pd.DataFrame, rules) -> set[tuple[int, str, str]]:
    """The reference: every catalog kernel called directly on its column, ``{(row, field, reason)}``."""
    found = set()
    for rule in RULES:
        kernel = rule.kernel_of(rules)
        for column in columns_of(rule) if kernel else ():
            if column in frame.columns:
                for position in np.flatnonzero(~kernel(column_text(frame[column]))):
                    found.add((int(frame["row_number"].iloc[position]), column, rule.reason))
    return found


def test_every_reason_has_one_rule_with_a_fix_text_and_a_check():
    reasons = [rule.reason for rule in RULES]
    assert len(reasons) == len(set(reasons))
    assert {rule.reason: rule.fix for rule in RULES} == REASONS
    assert all(rule.fix.strip() for rule in RULES)
    night = make_night().rules
    for rule in RULES:
        if rule.reason == "ragged_row":  # found by the reader, not a column check
            assert rule.kernel_of(night) is None and columns_of(rule) == ()
        else:
            assert callable(rule.kernel_of(night)) and columns_of(rule), rule.reason


def test_every_reason_code_is_listed_in_the_readmes_rules_paragraph():
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    rules = readme[readme.index("**Rules** (reason codes") :].split("\n\n", 1)[0]
    assert [rule.reason for rule in RULES if f"`{rule.reason}`" not in rules] == []


def test_the_masked_id_token_is_documented_in_the_readme():
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    assert f"`{model.MASKED_ID}`" in readme[readme.index("**Privacy.**") :].split("\n\n", 1)[0]


def test_the_schemas_checks_are_exactly_the_catalogs():
    schema = build_schema(make_night().rules)
    in_schema = [(check.name, column) for column, spec in schema.columns.items() for check in spec.checks]
    in_catalog = [
        (rule.reason, column) for rule in RULES if rule.kernel_of(make_night().rules) for column in columns_of(rule)
    ]
    assert sorted(in_schema) == sorted(in_catalog)
    assert len(in_schema) == len(set(in_schema))


def test_forbidden_characters_are_checked_on_every_text_column_of_the_model():
    forbidden = next(rule for rule in RULES if rule.reason == "forbidden_character")
    text = {name for name, column in RosterRow.to_schema().columns.items() if name != "row_number"}
    assert set(columns_of(forbidden)) == text == set(REQUIRED_FIELDS) | set(OPTIONAL_FIELDS)


def test_required_columns_are_the_models_required_fields():
    required = tuple(name for name, column in RosterRow.to_schema().columns.items() if column.required)
    assert required == REQUIRED_COLUMNS
    assert set(REQUIRED_COLUMNS) == {"row_number", *REQUIRED_FIELDS}


def test_only_the_columns_the_frame_has_are_checked(tmp_path, monkeypatch):
    """An optional column the export lacks is not checked (pandera skips it), and a rule on it is no error."""
    seen = []
    real = model._check

    def spy(reason, kernel):
        return real(reason, lambda data: seen.append(reason) or kernel(data))

    monkeypatch.setattr(model, "_check", spy)
    frame = read_export(SAMPLE_EXPORT, make_night().district.source).table.to_pandas().drop(columns=["diagnosis"])
    find_rejects(frame, make_night().rules)
    assert "unknown_diagnosis" not in seen
    assert seen.count("forbidden_character") == len([c for c in model.TEXT_FIELDS if c in frame.columns])


def test_the_sample_exports_rejects_are_the_kernels_verdicts():
    """The sample export holds one broken row per rule: pandera's rejects are the kernels', row for row."""
    night = make_night()
    frame = read_export(SAMPLE_EXPORT, night.district.source).table.to_pandas()
    rejects = find_rejects(frame, night.rules)
    # Which rows are broken, from how the sample is built: the rows that differ from the same students
    # generated clean, and every row of an id that occurs twice. Each BROKEN case breaks its own rule,
    # and the shared id is one more reason.
    students = sample.generate_rows(300, dt.date(2026, 11, 20))
    assert SAMPLE_EXPORT.read_bytes() == sample.render_csv(students)
    clean = sample.generate_rows(300, dt.date(2026, 11, 20), broken=False)
    ids = Counter(s["STATE_ID"] for s in students)
    broken = {i for i, (s, c) in enumerate(zip(students, clean, strict=True)) if s != c or ids[s["STATE_ID"]] > 1}
    assert sorted(rejects["row_number"]) == sorted(i + 2 for i in broken)  # header = line 1
    assert len(broken) == len(sample.BROKEN) + 2
    assert len(set(rejects["reason"])) == len(sample.BROKEN) + 1
    assert {(int(r.row_number), r.field, r.reason) for r in rejects.itertuples()} == kernel_rejects(frame, night.rules)
    assert not rejects.duplicated().any()
    assert rejects.equals(rejects.sort_values(["row_number", "field", "reason"], ignore_index=True))


def test_a_rule_added_to_the_catalog_is_checked_at_night(tmp_path, monkeypatch):
    no_smiths = Rule(
        "no_smiths",
        ("legal_last_name",),
        "Not a Smith.",
        lambda data: ~pc.equal(data, "Smith").to_numpy(zero_copy_only=False),
    )
    monkeypatch.setattr(catalog, "RULES", (*catalog.RULES, no_smiths))
    result = validate_rows(tmp_path, [row(STATE_ID="0001001"), row(STATE_ID="0001002", LAST_NAME="Smith")])
    assert reject_set(result) == {(3, "legal_last_name", "no_smiths")}


def test_a_rule_on_a_column_the_model_lacks_is_refused(monkeypatch):
    monkeypatch.setattr(
        catalog, "RULES", (*catalog.RULES, Rule("typo", ("legal_lastname",), "Fix.", lambda data: data))
    )
    with pytest.raises(ValueError, match="legal_lastname"):
        build_schema(make_night().rules)


def test_a_rule_changed_in_the_catalog_changes_the_nights_rejects(tmp_path, monkeypatch):
    strict = [
        dataclasses.replace(r, kernel=lambda data: np.zeros(len(data), bool)) if r.reason == "bad_score" else r
        for r in RULES
    ]
    monkeypatch.setattr(catalog, "RULES", tuple(strict))
    result = validate_rows(tmp_path, [row(ELA_SCORE="250")])
    assert reject_set(result) == {(2, "ela_score", "bad_score"), (2, "math_score", "bad_score")}


def test_the_nights_rejects_come_from_panderas_validate(tmp_path, monkeypatch):
    """``night.pipeline.check_export`` calls pandera's ``DataFrameSchema.validate``, and a check added
    to the schema with pandera's own API rejects rows at night."""
    calls = []
    real_validate = pa.DataFrameSchema.validate

    def spying(self, frame, *args, **kwargs):
        calls.append(len(frame))
        return real_validate(self, frame, *args, **kwargs)

    real_build = model.build_schema

    def with_a_pandera_check(rules):
        schema = real_build(rules)
        column = schema.columns["legal_first_name"]
        extra = pa.Check.str_length(max_value=5, name="name_too_long")
        return schema.update_columns({"legal_first_name": {"checks": [*column.checks, extra]}})

    monkeypatch.setattr(pa.DataFrameSchema, "validate", spying)
    monkeypatch.setattr(model, "build_schema", with_a_pandera_check)
    assert pipeline.find_rejects is model.find_rejects
    result = validate_rows(tmp_path, [row(STATE_ID="0001001"), row(STATE_ID="0001002", FIRST_NAME="Bartholomew")])
    assert calls == [2]
    assert reject_set(result) == {(3, "legal_first_name", "name_too_long")}


# Privacy -----------------------------------------------------------------------------------------

SECRETS = ("Bartholomew", "Zebulonqx", "02/30/2012", "Quillanne")


def _assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_a_failing_nights_rejects_and_logs_hold_no_failing_value(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    rows = [
        row(STATE_ID="0001001", FIRST_NAME="Bartholomew\t", LAST_NAME="Zebulonqx|X", DOB="02/30/2012"),
        row(STATE_ID="0001002", MIDDLE_NAME="Quillanne\x85"),
    ]
    result = validate_rows(tmp_path, rows)
    assert {reason for _, _, reason in reject_set(result)} == {"forbidden_character", "bad_date_of_birth"}
    _assert_no_secret(result.rejects.to_csv(index=False))
    _assert_no_secret(repr(result.report.to_json()))
    for record in caplog.records:
        _assert_no_secret(record.getMessage())
        _assert_no_secret(repr(record.args))


@pytest.mark.parametrize(
    "broken",
    [
        lambda f: f.assign(legal_first_name=pd.Series(["Bartholomew", 5], dtype=object)),  # a wrong dtype
        lambda f: f.assign(legal_last_name=pd.Series(["Zebulonqx", None], dtype="str")),  # a null cell
        lambda f: f.assign(date_of_birth=pd.Series(["02/30/2012", "Quillanne"], dtype="category")),
    ],
)
def test_a_reading_bug_names_the_column_and_check_never_a_value(broken, caplog):
    caplog.set_level(logging.DEBUG)
    frame = pd.DataFrame(
        {
            "row_number": pd.Series([2, 3], dtype="int64"),
            **{column: pd.Series(["x", "y"], dtype="str") for column in REQUIRED_COLUMNS if column != "row_number"},
        }
    )
    with pytest.raises(RuntimeError, match=r"^roster schema failed on column \w+: ") as raised:
        find_rejects(broken(frame), make_night().rules)
    error = raised.value
    assert error.__cause__ is None and error.__context__ is None  # pandera's error (it holds the values) is not chained
    _assert_no_secret("".join(traceback.format_exception(error)))
    for record in caplog.records:
        _assert_no_secret(record.getMessage())
