"""District files and layouts: each fault is one ConfigError naming the file and the dotted key."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from domain_fixtures import DISTRICT_FILE, INCLUDE, copy_include, district_data, make_district, write_district
from roster.config import (
    DEFAULT_STATE_ID_PATTERN,
    District,
    VendorExport,
    find_district,
    include_root,
    load_district,
    load_layout,
    parse_duration,
    resolve,
)
from roster.errors import ConfigError


def test_sample_district_loads():
    district = load_district(DISTRICT_FILE)
    assert district.district_id == "sample_isd"
    assert district.timezone == "America/Chicago"
    assert district.source.columns.state_test_number == "STATE_ID"
    assert district.source.columns.diagnosis == "DIAGNOSIS"
    assert district.source.wait_for == dt.timedelta(hours=3)
    assert district.qa.max_reject_rate == 0.05
    assert district.qa.hold_timeout == dt.timedelta(hours=20)
    assert district.destination.layout == "rethink_ed"
    assert find_district(INCLUDE, "sample_isd") == district


def test_optional_keys_take_their_documented_defaults(tmp_path):
    data = district_data()
    del data["source"]["wait_for"], data["source"]["state_id_pattern"], data["source"]["encoding"]
    del data["qa"]["max_deactivation_rate"], data["qa"]["max_change_rate"], data["qa"]["hold_timeout"]
    del data["blackout"], data["contacts"]["administrators"], data["contacts"]["teachers"]
    del data["contacts"]["coordinator"], data["contacts"]["oncall"], data["smtp_conn_id"]
    data.pop("vendor_export", None)
    district = load_district(write_district(tmp_path, data))
    assert district.source.wait_for == dt.timedelta(hours=3)
    assert district.source.state_id_pattern == DEFAULT_STATE_ID_PATTERN == r"^[0-9A-Za-z]{4,20}$"
    assert district.source.encoding == "utf-8"
    assert district.qa.max_deactivation_rate == 0.10
    assert district.qa.max_change_rate == 0.75
    assert district.qa.hold_timeout == dt.timedelta(hours=20)
    assert district.blackout == []
    assert district.contacts.administrators == [] and district.contacts.teachers == []
    assert district.smtp_conn_id == "smtp_default"
    assert district.vendor_export == VendorExport()
    assert district.vendor_export.columns.state_test_number == "State IDNumber"
    assert district.vendor_export.columns.status == "Enrollment Status"
    assert district.vendor_export.status_values.active == ["Active"]
    assert district.vendor_export.date_format == "%m/%d/%Y"


def test_district_helpers():
    district = make_district()
    day = dt.date(2026, 11, 20)
    assert district.output_filename(day) == "sample_isd_roster_20261120.txt"
    assert district.source_path(day) == "inbound/sample_isd/roster_20261120.csv"
    assert district.remote_dir == "/upload/sample_isd"
    assert make_district({"mode": "qa"}).remote_dir == "/upload/sample_isd/qa"
    assert district.tz.key == "America/Chicago"
    assert district.in_blackout(dt.date(2027, 6, 4)) is None
    assert district.in_blackout(dt.date(2027, 6, 5)) is not None
    assert district.in_blackout(dt.date(2027, 8, 10)) is not None
    assert district.in_blackout(dt.date(2027, 8, 11)) is None


def test_resolve_paths_against_the_include_root(tmp_path):
    assert resolve(tmp_path, "crossmatch/x") == tmp_path / "crossmatch" / "x"
    assert resolve(tmp_path, "/abs/x") == Path("/abs/x")


def _edit(key: str, value):
    def change(data):
        *parents, last = key.split(".")
        node = data
        for part in parents:
            node = node[part]
        node[last] = value

    return change


def _drop(key: str):
    def change(data):
        *parents, last = key.split(".")
        node = data
        for part in parents:
            node = node[part]
        del node[last]

    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_edit("colour", "blue"), "unknown key 'colour'"),
        (_edit("source.columns.foo", "FOO"), "unknown key 'source.columns.foo'"),
        (_edit("qa.max_rejects", 3), "unknown key 'qa.max_rejects'"),
        (
            lambda d: d["qa"].__setitem__("max_reject_rat", d["qa"].pop("max_reject_rate")),
            "unknown key 'qa.max_reject_rat'",
        ),
        (_edit("vendor_export", {"columns": {"foo": "x"}}), "unknown key 'vendor_export.columns.foo'"),
        (_edit("timezone", "America/Chicgo"), "key 'timezone': 'America/Chicgo' is not an IANA time zone"),
        (_edit("timezone", "CST-6"), "key 'timezone':"),
        (_edit("schedule", "0 2 * *"), "key 'schedule': '0 2 * *' is not a cron expression"),
        (_edit("schedule", "61 2 * * *"), "key 'schedule': '61 2 * * *' is not a cron expression"),
        (_edit("source.wait_for", "3 hours"), "key 'source.wait_for': '3 hours' is not a duration"),
        (_edit("qa.hold_timeout", "20x"), "key 'qa.hold_timeout': '20x' is not a duration"),
        (_edit("qa.max_reject_rate", 1.5), "key 'qa.max_reject_rate':"),
        (_edit("qa.max_change_rate", -0.1), "key 'qa.max_change_rate':"),
        (_edit("qa.max_reject_rate", "lots"), "key 'qa.max_reject_rate':"),
        (_drop("name"), "missing key 'name'"),
        (_drop("qa.max_reject_rate"), "missing key 'qa.max_reject_rate'"),
        (_drop("source.columns.date_of_birth"), "missing key 'source.columns.date_of_birth'"),
        (_drop("contacts.point_person"), "missing key 'contacts.point_person'"),
        (_edit("district_id", "other_isd"), "key 'district_id': 'other_isd' must match the file name 'sample_isd'"),
        (_edit("district_id", "Sample-ISD"), "key 'district_id':"),
        (_edit("mode", "prod"), "key 'mode':"),
        (_edit("start_date", "2026-13-01"), "key 'start_date':"),
        (_edit("source.encoding", "utf-9"), "key 'source.encoding': unknown encoding 'utf-9'"),
        (_edit("source.delimiter", ",,"), "key 'source.delimiter':"),
        (_edit("source.date_format", "%m/%d"), "key 'source.date_format':"),
        (_edit("source.state_id_pattern", "[a-"), "key 'source.state_id_pattern': not a regular expression"),
        (_edit("source.status_values", {"active": ["A"], "inactive": ["A", "I"]}), "key 'source.status_values':"),
        (_edit("source.status_values", {"active": [], "inactive": ["I"]}), "key 'source.status_values.active':"),
        (
            _edit("source.columns.grade", "CAMPUS"),
            "key 'source.columns': header 'CAMPUS' is mapped to more than one field",
        ),
        (_edit("source.path", "inbound/{day}.csv"), "key 'source.path':"),
        (_edit("destination.filename", "r_{date:%Y%m%d"), "key 'destination.filename':"),
        (_edit("destination.filename", "sub/r.txt"), "key 'destination.filename':"),
        (_edit("destination.remote_dir", "upload"), "key 'destination.remote_dir':"),
        (
            _edit("blackout", [{"start": "2027-06-05", "end": "2027-06-01"}]),
            "key 'blackout.0': end 2027-06-01 is before start 2027-06-05",
        ),
        (_edit("blackout", [{"start": "2027-06-05", "until": "2027-06-09"}]), "unknown key 'blackout.0.until'"),
        (_edit("contacts.point_person", ["not an email"]), "key 'contacts.point_person.0':"),
        (_edit("contacts.point_person", []), "key 'contacts.point_person':"),
        (
            _edit("contacts.coordinator_name", "Jane Doe <jane@example.org>"),
            "key 'contacts.coordinator_name': 'Jane Doe <jane@example.org>' is not a name as an email shows it",
        ),
        (_edit("contacts.coordinator_name", "Jane\nDoe"), "key 'contacts.coordinator_name':"),
        (_edit("contacts.coordinator_name", ""), "key 'contacts.coordinator_name':"),
        (
            lambda d: (d["contacts"].pop("coordinator"), d["contacts"].__setitem__("coordinator_name", "Jane Doe")),
            "key 'contacts.coordinator_name': 'Jane Doe' names no one",
        ),
        (_edit("source", "inbound/x.csv"), "key 'source':"),
    ],
)
def test_wrong_district_file(tmp_path, change, expected):
    data = district_data()
    change(data)
    path = write_district(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_district(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_invalid_yaml_names_the_line(tmp_path):
    lines = DISTRICT_FILE.read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines, start=1) if line.startswith("mode:"))
    lines[number - 1] = "mode: live: now"
    path = tmp_path / "districts" / "sample_isd.yaml"
    path.parent.mkdir()
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_district(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line {number} ")
    assert "not valid YAML" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("- just\n- a list\n", "expected a mapping of keys at the top level"),
        ("", "expected a mapping of keys at the top level"),
        ("district_id: sample_isd\n\tname: x\n", "line 2 is not valid YAML"),
    ],
)
def test_not_a_district_mapping(tmp_path, content, expected):
    path = tmp_path / "sample_isd.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected) as info:
        load_district(path)
    assert str(info.value).startswith(str(path))


def test_missing_district_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_district(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError) as info:
        find_district(INCLUDE, "nope_isd")
    message = str(info.value)
    assert "nope_isd.yaml: no such district file" in message
    assert "sample_isd" in message  # lists the known districts


def test_models_are_strict_and_frozen():
    district = make_district()
    with pytest.raises(ValidationError, match="frozen") as frozen:
        district.name = "x"  # type: ignore[misc]
    assert [e["type"] for e in frozen.value.errors()] == ["frozen_instance"]
    data = district_data()
    data["extra"] = 1
    with pytest.raises(ValidationError, match="extra") as extra:
        District.model_validate(data)
    assert [(e["type"], e["loc"]) for e in extra.value.errors()] == [("extra_forbidden", ("extra",))]


# Layouts --------------------------------------------------------------------------------------------


def _layout_dir(tmp_path: Path, data: dict) -> Path:
    (tmp_path / "layouts").mkdir(exist_ok=True)
    (tmp_path / "layouts" / "custom.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return tmp_path


def _layout_data() -> dict:
    return yaml.safe_load((INCLUDE / "layouts" / "rethink_ed.yaml").read_text(encoding="utf-8"))


def test_sample_layout():
    layout = load_layout(INCLUDE, "rethink_ed")
    assert layout.columns[0].header == "State IDNumber"
    assert layout.columns[0].field == "state_test_number"
    assert layout.columns[-1].field == "district_id"
    assert layout.eol == "\r\n"
    assert layout.status_words.active == "Active"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["columns"].__setitem__(1, {"header": "Local ID", "field": "local_id"}), "key 'columns.1.field':"),
        (lambda d: d["columns"][2].__setitem__("width", 10), "unknown key 'columns.2.width'"),
        (lambda d: d.__setitem__("quoting", "all"), "unknown key 'quoting'"),
        (lambda d: d.__setitem__("line_ending", "cr"), "key 'line_ending':"),
        (lambda d: d.__delitem__("status_words"), "missing key 'status_words'"),
        (lambda d: d.__setitem__("columns", d["columns"][1:]), "columns must include the field state_test_number"),
        (lambda d: d["columns"].append({"header": "Grade", "field": "grade"}), "header 'Grade' appears twice"),
    ],
)
def test_wrong_layout(tmp_path, change, expected):
    data = _layout_data()
    change(data)
    root = _layout_dir(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_layout(root, "custom")
    message = str(info.value)
    assert message.startswith(f"{root / 'layouts' / 'custom.yaml'}: ")
    assert expected in message


def test_missing_layout(tmp_path):
    with pytest.raises(ConfigError, match=r"layouts/nope\.yaml: file not found"):
        load_layout(tmp_path, "nope")


# Durations and the include root ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", dt.timedelta(seconds=30)),
        ("15m", dt.timedelta(minutes=15)),
        ("3h", dt.timedelta(hours=3)),
        ("2d", dt.timedelta(days=2)),
        ("0s", dt.timedelta(0)),
        (" 20h ", dt.timedelta(hours=20)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


def test_parse_duration_passes_timedeltas_through():
    assert parse_duration(dt.timedelta(minutes=5)) == dt.timedelta(minutes=5)


@pytest.mark.parametrize("text", ["3 hours", "3", "h3", "", "1.5h", "-3h", "3H", "3w", "3h30m", None])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match=re.escape("is not a duration; write e.g. 30s, 15m, 3h or 2d")):
        parse_duration(text)


def test_include_root_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("ROSTER_INCLUDE_DIR", raising=False)
    assert include_root() == INCLUDE
    monkeypatch.setenv("ROSTER_INCLUDE_DIR", str(tmp_path / "env"))
    assert include_root() == tmp_path / "env"
    assert include_root(tmp_path / "flag") == tmp_path / "flag"
    assert include_root(str(tmp_path / "flag")) == tmp_path / "flag"


# roster check-config over a whole include root: each fault names its file and key or line ----------------


def _check_config(root: Path, capsys) -> tuple[int, list[str], str]:
    from roster.cli import main

    code = main(["check-config", "--include-dir", str(root)])
    captured = capsys.readouterr()
    return code, captured.err.splitlines(), captured.out


def _district_copy(root: Path, district_id: str, change=None) -> Path:
    data = district_data()
    data["district_id"] = district_id
    if change:
        change(data)
    return write_district(root, data, district_id=district_id)


def _layout_named(root: Path, name: str, change) -> None:
    data = yaml.safe_load((root / "layouts" / "rethink_ed.yaml").read_text(encoding="utf-8"))
    data["name"] = name
    change(data)
    (root / "layouts" / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def _tables_named(root: Path, name: str) -> Path:
    import shutil

    folder = root / "crossmatch" / name
    shutil.copytree(root / "crossmatch" / "sample_isd", folder)
    return folder


def _bad_layout_field(root: Path) -> None:
    _layout_named(root, "odd_layout", lambda d: d["columns"][2].__setitem__("field", "nickname"))


def _dup_code(root: Path) -> None:
    folder = _tables_named(root, "bad_isd")
    (folder / "grades.csv").write_text("district_code,rethink_code,description\nKG,K,Kinder\n01,1,One\nKG,K,again\n")


def _no_grades(root: Path) -> None:
    (_tables_named(root, "bad_isd") / "grades.csv").unlink()


def _bad_campus_row(root: Path) -> None:
    (_tables_named(root, "bad_isd") / "campuses.csv").write_text("district_code,rethink_code\n101\n")


@pytest.mark.parametrize(
    ("prepare", "change", "expected"),
    [
        (None, lambda d: d.__setitem__("colour", "blue"), "districts/bad_isd.yaml: unknown key 'colour'"),
        (None, lambda d: d["qa"].__setitem__("max_rejects", 1), "districts/bad_isd.yaml: unknown key 'qa.max_rejects'"),
        (
            None,
            lambda d: d.__setitem__("timezone", "Mars/Olympus"),
            "districts/bad_isd.yaml: key 'timezone': 'Mars/Olympus' is not an IANA time zone",
        ),
        (
            None,
            lambda d: d.__setitem__("schedule", "0 25 * * *"),
            "districts/bad_isd.yaml: key 'schedule': '0 25 * * *' is not a cron expression",
        ),
        (
            None,
            lambda d: d.__setitem__("crossmatch", "crossmatch/nowhere"),
            "crossmatch/nowhere: cross-match folder not found (key 'crossmatch' of district bad_isd)",
        ),
        (
            _no_grades,
            lambda d: d.__setitem__("crossmatch", "crossmatch/bad_isd"),
            "crossmatch/bad_isd/grades.csv: cross-match table not found",
        ),
        (
            _dup_code,
            lambda d: d.__setitem__("crossmatch", "crossmatch/bad_isd"),
            "crossmatch/bad_isd/grades.csv: line 4: district_code 'KG' is listed twice",
        ),
        (
            _bad_campus_row,
            lambda d: d.__setitem__("crossmatch", "crossmatch/bad_isd"),
            "crossmatch/bad_isd/campuses.csv: line 2: expected 2 fields, found 1",
        ),
        (
            _bad_layout_field,
            lambda d: d["destination"].__setitem__("layout", "odd_layout"),
            "layouts/odd_layout.yaml: key 'columns.2.field':",
        ),
        (None, lambda d: d["destination"].__setitem__("layout", "nope"), "layouts/nope.yaml: file not found"),
    ],
)
def test_check_config_names_exactly_the_one_bad_district_among_good_ones(tmp_path, capsys, prepare, change, expected):
    root = copy_include(tmp_path)
    _district_copy(root, "aaa_isd")
    _district_copy(root, "zzz_isd")
    if prepare:
        prepare(root)
    _district_copy(root, "bad_isd", change)

    code, errors, out = _check_config(root, capsys)

    assert code == 2
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"error: {root}/")
    assert expected in errors[0]
    assert out == ""
    for good in ("aaa_isd", "sample_isd", "zzz_isd"):
        assert f"{good}.yaml" not in errors[0]


def test_check_config_passes_once_the_bad_district_is_fixed(tmp_path, capsys):
    root = copy_include(tmp_path)
    _district_copy(root, "aaa_isd")
    bad = _district_copy(root, "bad_isd", lambda d: d.__setitem__("timezone", "Nowhere"))
    assert _check_config(root, capsys)[0] == 2
    bad.unlink()
    _district_copy(root, "bad_isd")
    code, errors, out = _check_config(root, capsys)
    assert (code, errors) == (0, [])
    assert out.startswith("ok: 5 district file(s) valid")  # with the samples (CSV, Excel and OneRoster)
