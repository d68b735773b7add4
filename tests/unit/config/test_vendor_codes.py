"""The vendor's code lists (a layout's ``vendor_codes``) and the cross-match rows checked against them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from domain_fixtures import copy_include, make_district
from roster.cli import main
from roster.config import load_layout
from roster.config.crossmatch import load_crossmatch
from roster.config.vendor_codes import read_vendor_codes
from roster.errors import ConfigError
from roster.night.pipeline import Night


def _list(tmp_path: Path, text: str, name: str = "grades.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_reads_the_rethink_code_column_beside_others_with_a_bom(tmp_path):
    path = _list(tmp_path, "description,rethink_code\nKindergarten, K \n\nGrade 1,1\nGrade 1 again,1\n", bom=True)
    codes = read_vendor_codes(path)
    # A repeat is accepted: the vendor's file pasted as it comes; it changes nothing about what is valid.
    assert codes.codes == frozenset({"K", "1"})
    assert codes.path == path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, "vendor code list not found"),
        ("", "line 1: the header must have a rethink_code column, found nothing"),
        ("code,description\nK,Kinder\n", "line 1: the header must have a rethink_code column, found code,description"),
        ("rethink_code,description\nK,Kinder\n,Grade 1\n", "line 3: rethink_code is empty"),
        ("rethink_code,description\nK,Kinder\n1\n", "line 3: expected 2 fields, found 1"),
        ("rethink_code\n", "lists no codes (only the header)"),
    ],
)
def test_each_bad_list_is_one_error_naming_file_and_line(tmp_path, text, expected):
    path = tmp_path / "grades.csv" if text is None else _list(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        read_vendor_codes(path)
    assert str(err.value) == f"{path}: {expected}"


def test_latin1_list_is_refused(tmp_path):
    path = tmp_path / "grades.csv"
    path.write_bytes("rethink_code,description\nK,Kindergärten\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="cannot be read as UTF-8 CSV"):
        read_vendor_codes(path)


def test_an_edited_list_is_read_again(tmp_path):
    path = _list(tmp_path, "rethink_code\nK\n")
    assert read_vendor_codes(path).codes == {"K"}
    path.write_text("rethink_code\nK\nPK\n", encoding="utf-8")
    assert read_vendor_codes(path).codes == {"K", "PK"}


def _include_with_lists(tmp_path: Path, **lists: str) -> Path:
    """A copy of the include root whose layout names ``vendor_codes/<field>.csv`` for each list given."""
    root = copy_include(tmp_path)
    folder = root / "vendor_codes"
    folder.mkdir()
    for field, text in lists.items():
        (folder / f"{field}.csv").write_text(text, encoding="utf-8")
    layout_file = root / "layouts" / "rethink_ed.yaml"
    layout = yaml.safe_load(layout_file.read_text(encoding="utf-8"))
    layout["vendor_codes"] = {field: f"vendor_codes/{field}.csv" for field in lists}
    layout_file.write_text(yaml.safe_dump(layout, sort_keys=False), encoding="utf-8")
    return root


GRADES = "rethink_code,description\nPK,\nK,\n" + "".join(f"{n},\n" for n in range(1, 13))


def test_the_sample_tables_pass_lists_that_hold_their_codes(tmp_path):
    root = _include_with_lists(tmp_path, grade=GRADES)
    layout = load_layout(root, "rethink_ed")
    assert load_crossmatch(root, make_district(), layout).grades["KG"] == "K"


def test_a_row_mapping_to_a_code_the_vendor_lacks_names_table_line_code_and_list(tmp_path):
    root = _include_with_lists(tmp_path, grade=GRADES.replace("\nK,\n", "\nk,\n"))
    table = root / "crossmatch" / "sample_isd" / "grades.csv"
    listed = root / "vendor_codes" / "grade.csv"
    layout = load_layout(root, "rethink_ed")
    with pytest.raises(ConfigError) as err:
        load_crossmatch(root, make_district(), layout)
    # grades.csv line 3 is "KG,K,Kindergarten"; the vendor's list spells it k.
    assert str(err.value) == (
        f"{table}: line 3: rethink_code 'K' is not one of the vendor's grade codes ({listed}); did you mean 'k'?"
    )


def test_no_close_code_and_more_rows_are_counted(tmp_path):
    root = _include_with_lists(tmp_path, campus="rethink_code\nX-1\n")
    table = root / "crossmatch" / "sample_isd" / "campuses.csv"
    with pytest.raises(ConfigError) as err:
        load_crossmatch(root, make_district(), load_layout(root, "rethink_ed"))
    assert str(err.value) == (
        f"{table}: line 2: rethink_code 'SISD-EL-101' is not one of the vendor's campus codes "
        f"({root / 'vendor_codes' / 'campus.csv'}); the list has 1 codes "
        "(3 more rows of the cross-match tables map to codes not listed)"
    )


def test_a_bad_list_is_the_layouts_error_naming_the_key(tmp_path):
    root = _include_with_lists(tmp_path, diagnosis="code\nAUT\n")
    with pytest.raises(ConfigError) as err:
        load_layout(root, "rethink_ed")
    assert str(err.value) == (
        f"{root / 'vendor_codes' / 'diagnosis.csv'}: line 1: the header must have a rethink_code column, "
        f"found code (key 'vendor_codes.diagnosis' of {root / 'layouts' / 'rethink_ed.yaml'})"
    )


def test_an_absolute_list_path_is_used_as_is(tmp_path):
    root = _include_with_lists(tmp_path, grade=GRADES)
    elsewhere = _list(tmp_path, GRADES, name="vendor_grades.csv")
    layout_file = root / "layouts" / "rethink_ed.yaml"
    layout = yaml.safe_load(layout_file.read_text(encoding="utf-8"))
    layout["vendor_codes"] = {"grade": str(elsewhere)}
    layout_file.write_text(yaml.safe_dump(layout), encoding="utf-8")
    (root / "vendor_codes" / "grade.csv").unlink()
    assert load_layout(root, "rethink_ed").vendor_codes == {"grade": str(elsewhere)}
    Night.load(root, "sample_isd", make_district().start_date)  # the list is found, the tables pass


def test_the_shipped_layout_refuses_nothing():
    from domain_fixtures import INCLUDE

    assert load_layout(INCLUDE, "rethink_ed").vendor_codes == {}


def test_check_config_exits_2_with_the_line(tmp_path, capsys):
    root = _include_with_lists(tmp_path, grade=GRADES.replace("\nK,\n", "\nk,\n"))
    table = root / "crossmatch" / "sample_isd" / "grades.csv"
    assert main(["check-config", "--include-dir", str(root)]) == 2
    err = capsys.readouterr().err
    expected = (
        f"error: {table}: line 3: rethink_code 'K' is not one of the vendor's grade codes "
        f"({root / 'vendor_codes' / 'grade.csv'}); did you mean 'k'?"
    )
    # Both sample districts (CSV and Excel) use these tables: one thing to fix, said once.
    assert err.splitlines() == [expected]


def test_check_config_passes_with_lists_that_hold_every_code(tmp_path, capsys):
    campuses = "rethink_code\nSISD-EL-101\nSISD-EL-102\nSISD-MS-201\nSISD-HS-301\n"
    diagnoses = "rethink_code\nAUT\nEBD\nID\nSLD\nOHI\nSLI\n"
    root = _include_with_lists(tmp_path, grade=GRADES, campus=campuses, diagnosis=diagnoses)
    rc = main(["check-config", "--include-dir", str(root)])
    assert rc == 0, capsys.readouterr().err
