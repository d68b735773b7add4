"""Cross-match tables: district code -> Rethink Ed code; every fault names the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain_fixtures import INCLUDE, copy_include, make_district
from roster.config.crossmatch import load_crossmatch, read_table
from roster.errors import ConfigError


def _table(tmp_path: Path, content: str | bytes, name: str = "grades.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_sample_tables():
    cm = load_crossmatch(INCLUDE, make_district())
    assert cm.grades["KG"] == "K"
    assert cm.grades["05"] == "5"
    assert "5" not in cm.grades
    assert cm.campuses == {"101": "SISD-EL-101", "102": "SISD-EL-102", "201": "SISD-MS-201", "301": "SISD-HS-301"}
    assert cm.diagnoses["ED"] == "EBD"
    assert cm.for_field("grade") is cm.grades
    assert cm.for_field("campus") is cm.campuses
    assert cm.for_field("diagnosis") is cm.diagnoses


def test_table_without_description(tmp_path):
    assert read_table(_table(tmp_path, "district_code,rethink_code\n01,1\n02,2\n")) == {"01": "1", "02": "2"}


def test_table_tolerates_bom_crlf_spaces_and_blank_lines(tmp_path):
    content = b'\xef\xbb\xbfdistrict_code , rethink_code,description\r\n 01 , 1 ,Grade 1\r\n\r\n,,\r\n02,2,"Grade 2, second"\r\n'
    assert read_table(_table(tmp_path, content)) == {"01": "1", "02": "2"}


def test_duplicate_code_names_the_line(tmp_path):
    path = _table(tmp_path, "district_code,rethink_code,description\nKG,K,Kinder\n01,1,One\nKG,K,Kinder again\n")
    with pytest.raises(ConfigError) as info:
        read_table(path)
    assert str(info.value) == f"{path}: line 4: district_code 'KG' is listed twice"


def test_duplicate_after_trimming_is_a_duplicate(tmp_path):
    path = _table(tmp_path, "district_code,rethink_code\n01,1\n 01,1\n")
    with pytest.raises(ConfigError, match=r"line 3: district_code '01' is listed twice"):
        read_table(path)


@pytest.mark.parametrize(
    "header",
    [
        "code,rethink_code",
        "district_code",
        "rethink_code,district_code",
        "district_code,rethink_code,notes",
        "District_Code,Rethink_Code",
    ],
)
def test_bad_header(tmp_path, header):
    path = _table(tmp_path, f"{header}\n01,1\n")
    with pytest.raises(ConfigError) as info:
        read_table(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line 1: header must be district_code,rethink_code[,description]")
    assert message.endswith(f"found {header}")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("district_code,rethink_code\n01,1\n02\n", "line 3: expected 2 fields, found 1"),
        ("district_code,rethink_code\n01,1,extra\n", "line 2: expected 2 fields, found 3"),
        ("district_code,rethink_code\n01,\n", "line 2: district_code and rethink_code must both be filled in"),
        (
            "district_code,rethink_code,description\n,1,x\n",
            "line 2: district_code and rethink_code must both be filled in",
        ),
        ("", "empty; expected the header district_code,rethink_code"),
    ],
)
def test_bad_rows(tmp_path, content, expected):
    path = _table(tmp_path, content)
    with pytest.raises(ConfigError) as info:
        read_table(path)
    assert str(info.value) == f"{path}: {expected}"


def test_not_utf8(tmp_path):
    path = _table(tmp_path, "district_code,rethink_code\nÉ1,E1\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="cannot be read as UTF-8 CSV"):
        read_table(path)


def test_missing_table(tmp_path):
    path = tmp_path / "grades.csv"
    with pytest.raises(ConfigError) as info:
        read_table(path)
    assert str(info.value) == f"{path}: cross-match table not found"


def test_load_crossmatch_missing_table_names_it(tmp_path):
    root = copy_include(tmp_path)
    (root / "crossmatch" / "sample_isd" / "campuses.csv").unlink()
    with pytest.raises(ConfigError, match=r"crossmatch/sample_isd/campuses\.csv: cross-match table not found"):
        load_crossmatch(root, make_district())


def test_load_crossmatch_missing_folder(tmp_path):
    district = make_district({"crossmatch": "crossmatch/elsewhere"})
    with pytest.raises(ConfigError) as info:
        load_crossmatch(INCLUDE, district)
    message = str(info.value)
    assert message.startswith(f"{INCLUDE / 'crossmatch' / 'elsewhere'}: cross-match folder not found")
    assert "key 'crossmatch'" in message


def test_load_crossmatch_absolute_folder(tmp_path):
    root = copy_include(tmp_path)
    district = make_district({"crossmatch": str(root / "crossmatch" / "sample_isd")})
    assert load_crossmatch(tmp_path / "unused", district).grades["KG"] == "K"


def test_diagnoses_optional_when_unmapped(tmp_path):
    root = copy_include(tmp_path)
    (root / "crossmatch" / "sample_isd" / "diagnoses.csv").unlink()
    columns = make_district().source.columns.model_dump(exclude_none=True)
    del columns["diagnosis"]
    assert load_crossmatch(root, make_district({"source.columns": columns})).diagnoses == {}
    with pytest.raises(ConfigError, match=r"diagnoses\.csv: cross-match table not found"):
        load_crossmatch(root, make_district())


def test_diagnoses_checked_when_present_even_if_unmapped(tmp_path):
    root = copy_include(tmp_path)
    (root / "crossmatch" / "sample_isd" / "diagnoses.csv").write_text("district_code,rethink_code\nAU,AUT\nAU,AUT\n")
    columns = make_district().source.columns.model_dump(exclude_none=True)
    del columns["diagnosis"]
    with pytest.raises(ConfigError, match=r"diagnoses\.csv: line 3: district_code 'AU' is listed twice"):
        load_crossmatch(root, make_district({"source.columns": columns}))
