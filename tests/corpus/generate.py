"""The corpus of broken SIS exports, and the verdict each must get from ``roster run``.

    python tests/corpus/generate.py      # rewrite the committed files and README.md

Every file is the sample district's export (``include/districts/sample_isd.yaml``: comma-delimited
UTF-8, dates ``%m/%d/%Y``) of 60 good generated students, broken one way. ``CASES`` is the single
source of truth: ``tests/unit/io/test_corpus.py`` runs ``roster run`` on each file and checks its verdict, and
checks the committed files are what this script writes. The very long line is written at test
time (6 MB: too big to commit).

Verdicts:

* ``fatal``: exit 2, exactly one ``error:`` line naming the file and the line, row, column or key,
  no traceback, and nothing written: no roster file, no ``qa_report.json``, no ``rejects.csv``. A
  file that cannot be read as one export is no night at all ("nothing half done"); the Airflow
  task fails the same way and the on-call email carries the same line.
* ``rejected``: the bad rows are rejected with their reason codes in ``rejects.csv``, the rest are
  delivered: QA passes under the district's ``max_reject_rate`` (5% for the sample district), exit 0.
* ``qa_failed``: read fine but QA fails (exit 1): ``qa_report.json`` and ``rejects.csv`` say why,
  no roster file.
* ``clean``: nothing wrong, every row delivered, exit 0.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import random
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[1] / "plugins"), str(HERE.parents[1])]

from devtools.sample import HEADER, generate_rows  # noqa: E402

DAY = dt.date(2026, 11, 20)
ROWS = 60


@dataclass(frozen=True)
class Case:
    name: str  # file name in tests/corpus/
    what: str  # the breakage, as a district IT person would describe it
    verdict: str  # fatal | rejected | qa_failed | clean
    exit_code: int
    #: fatal: parts of the one error line (besides the file's path, always checked)
    message: tuple[str, ...] = ()
    #: rejected / qa_failed: every (row_number, field, reason) of rejects.csv
    rejects: frozenset[tuple[int, str, str]] = frozenset()
    rows_read: int | None = None
    #: changes to the sample district's file for this case (dotted keys)
    district: dict[str, object] = field(default_factory=dict)
    committed: bool = True
    #: rejected / qa_failed / clean: the ``notes`` of qa_report.json
    notes: tuple[str, ...] = ()


def _good(seed: int = 11) -> list[dict[str, str]]:
    return generate_rows(ROWS, DAY, seed=seed, broken=False)


def _csv(rows: list[dict[str, str]], header: list[str] | None = None, eol: str = "\n", delimiter: str = ",") -> str:
    header = header or HEADER
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=eol, delimiter=delimiter)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return buffer.getvalue()


def _ascii(value: str) -> str:
    """Accents dropped (the other rows of the Latin-1 case are plain ASCII, so the first bad line is known)."""
    return unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")


def _lines(text: str) -> list[str]:
    return text.split("\n")


def build() -> dict[str, bytes]:  # noqa: PLR0915 - one recipe per corpus file, read top to bottom beside CASES
    """File name -> bytes, for every case (the long line included)."""
    files: dict[str, bytes] = {}
    good = _good()

    files["empty.csv"] = b""
    files["header_only.csv"] = (",".join(HEADER) + "\r\n").encode()
    files["missing_required_column.csv"] = _csv(good, header=[h for h in HEADER if h != "DOB"]).encode()
    files["duplicate_column.csv"] = _csv(good, header=[*HEADER, "DOB"]).encode()

    # Two exports pasted into one file: the second one's header line is row 22.
    files["header_repeated.csv"] = (_csv(good[:20]) + _csv(good[20:])).encode()

    # Names with accents, saved as Latin-1 (Windows) while the district file says UTF-8.
    latin = [{k: _ascii(v) for k, v in r.items()} for r in good]
    latin[6]["LAST_NAME"], latin[9]["FIRST_NAME"] = "Peña", "José"
    files["latin1_not_utf8.csv"] = _csv(latin).encode("latin-1")
    # The same Windows file with a stray comma in the row of the first bad name (row 8): the encoding
    # is named, never the row's text (the parser's own message would quote it).
    lines = _lines(_csv(latin))
    lines[7] = lines[7].replace(",", ", Jr.,", 1)
    files["latin1_ragged.csv"] = "\n".join(lines).encode("latin-1")
    files["utf16.csv"] = _csv(good).encode("utf-16")  # Excel's "Unicode text": a byte-order mark, then UTF-16

    files["wrong_delimiter.csv"] = _csv(good, delimiter=";").encode()
    files["binary_garbage.csv"] = random.Random(5).randbytes(4096)
    # An Excel workbook renamed to .csv (only its first bytes matter to the reader).
    files["excel_workbook.csv"] = b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + random.Random(6).randbytes(2048)

    # Stray delimiters: a comma typed into a name (row 6), a row cut short (row 13), a trailing comma (row 30).
    lines = _lines(_csv(good))
    lines[5] = lines[5].replace(",", ",Jr,", 1)
    lines[12] = ",".join(lines[12].split(",")[:7])
    lines[29] = lines[29] + ","
    files["ragged_rows.csv"] = "\n".join(lines).encode()

    # The transfer cut the file off in the middle of its last row.
    text = _csv(good)
    files["truncated.csv"] = text[: text.rstrip("\n").rfind(",", 0, len(text) - 30)].encode()

    # A quote opened in row 11 and never closed: every row after it would vanish into one value.
    lines = _lines(_csv(good))
    cells = lines[10].split(",")
    cells[4] = '"' + cells[4]
    lines[10] = ",".join(cells)
    files["unterminated_quote.csv"] = "\n".join(lines).encode()

    # NUL bytes inside two values (a database padding a fixed-width field).
    rows = [dict(r) for r in good]
    rows[3]["LAST_NAME"] = rows[3]["LAST_NAME"] + "\x00\x00\x00"
    rows[17]["LOCAL_ID"] = "\x00" + rows[17]["LOCAL_ID"]
    files["nul_bytes.csv"] = _csv(rows).encode()

    # Opened and re-saved in Excel: ids as numbers (scientific notation, leading zeros stripped),
    # dates in Excel's own formats.
    rows = [dict(r) for r in good]
    rows[2]["STATE_ID"] = "4.00001E+09"
    rows[7]["STATE_ID"] = "1.23E+09"
    rows[11]["STATE_ID"] = rows[11]["STATE_ID"].lstrip("0")
    rows[14]["STATE_ID"] = rows[14]["STATE_ID"].lstrip("0")
    files["excel_ids.csv"] = _csv(rows).encode()
    rows = [dict(r) for r in good]
    rows[4]["DOB"] = "2015-03-14"  # ISO, Excel's default for a date cell saved as text
    rows[8]["DOB"] = "42078"  # a date cell saved as its serial number
    rows[12]["DOB"] = "3/14/15"  # two-digit year
    rows[16]["DOB"] = "14/03/2015"  # day and month swapped (a non-US locale)
    files["excel_dates.csv"] = _csv(rows).encode()

    files["crlf.csv"] = _csv(good, eol="\r\n").encode()
    files["bom.csv"] = b"\xef\xbb\xbf" + _csv(good).encode()

    # A 6 MB line (bigger than the reader's 4 MB blocks): a notes column pasted with a whole document.
    rows = [dict(r) for r in good]
    rows[9]["NOTES"] = "lorem ipsum " * (6 * 1024 * 1024 // 12)
    files["long_line.csv"] = _csv(rows, header=[*HEADER, "NOTES"]).encode()

    # Stray delimiters in most rows (a name column holding "Last, First"): far above the threshold.
    rows = [dict(r) for r in good]
    for r in rows[::3]:
        r["LAST_NAME"] = f"{r['LAST_NAME']}, {r['FIRST_NAME']}"
    lines = _lines(_csv(rows))
    files["mostly_ragged.csv"] = "\n".join(line.replace('"', "") for line in lines).encode()

    # --- reading (issue 13): encodings, line endings, blank lines, end-of-file junk ---
    # A UTF-8 export (accents only from row 8 on) while the district file says windows-1252.
    files["utf8_declared_cp1252.csv"] = _csv(latin).encode("utf-8")
    # Excel's "Unicode text": UTF-16 with a byte-order mark, CRLF; and UTF-16 big-endian without one.
    files["utf16le_bom.csv"] = codecs.BOM_UTF16_LE + _csv(good, eol="\r\n").encode("utf-16-le")
    files["utf16be_nobom.csv"] = _csv(good).encode("utf-16-be")
    files["cr_only.csv"] = _csv(good, eol="\r").encode()  # old Mac line endings, some Excel saves
    # Blank lines after rows 11 and 32 (one, then two); an unknown grade and a stray comma after them.
    rows = [dict(r) for r in good]
    rows[14]["GRADE"] = "13"
    lines = _lines(_csv(rows))
    lines[50] += ",Jr"
    files["blank_lines.csv"] = "\n".join([*lines[:11], "", *lines[11:31], "", "", *lines[31:]]).encode()
    # A DOS end of file (Ctrl-Z) and NUL padding to a 512-byte block after the last row.
    text = _csv(good, eol="\r\n").encode() + b"\x1a"
    files["eof_junk.csv"] = text + b"\x00" * (-len(text) % 512 or 512)
    files.update(_rule_files(good))
    return files


def _rule_files(good: list[dict[str, str]]) -> dict[str, bytes]:
    """The files of the rules' cases (character and value policy, masked ids): see their CASES block."""
    files: dict[str, bytes] = {}

    def changed(changes: dict[int, dict[str, str]]) -> bytes:
        rows = [dict(r) for r in good]
        for index, values in changes.items():
            rows[index].update(values)
        return _csv(rows).encode()

    files["quote_start.csv"] = changed(
        {4: {"LAST_NAME": '"' + good[4]["LAST_NAME"]}, 20: {"FIRST_NAME": '"' + good[20]["FIRST_NAME"] + '"'}}
    )
    files["unicode_separators.csv"] = changed(
        {
            3: {"LAST_NAME": good[3]["LAST_NAME"] + "\u2028Jr", "FIRST_NAME": good[3]["FIRST_NAME"] + "\u2029"},
            15: {"MIDDLE_NAME": "\u202eLee", "LAST_NAME": "\u2066" + good[15]["LAST_NAME"] + "\u2069"},
        }
    )
    files["invisible_surname.csv"] = changed({7: {"LAST_NAME": "\u00a0"}, 30: {"LAST_NAME": "\u200b"}})
    files["infinite_scores.csv"] = changed(
        {2: {"ELA_SCORE": "inf", "MATH_SCORE": "1e999"}, 40: {"ELA_SCORE": "-Infinity", "MATH_SCORE": "NaN"}}
    )
    files["formula_names.csv"] = changed(
        {
            5: {"LAST_NAME": '=HYPERLINK("http://evil.example","Smith")', "FIRST_NAME": "+1"},
            12: {"FIRST_NAME": "@SUM(A1:A9)", "MIDDLE_NAME": "-2"},
        }
    )
    files["mojibake_names.csv"] = changed(
        {8: {"FIRST_NAME": "JosÃ©", "LAST_NAME": "PeÃ±a"}, 25: {"FIRST_NAME": "MarÃ­a", "LAST_NAME": "Oâ€™Brien"}}
    )
    # The SIS report edited so the STATE_ID and DOB headers trade places over unchanged columns.
    lines = _lines(_csv(good))
    lines[0] = ",".join({"STATE_ID": "DOB", "DOB": "STATE_ID"}.get(h, h) for h in HEADER)
    files["swapped_id_dob.csv"] = "\n".join(lines).encode()
    return files


def _rows_of(reason: str, field_name: str, *rows: int) -> set[tuple[int, str, str]]:
    return {(r, field_name, reason) for r in rows}


def _rows_sharing(column: str) -> list[int]:
    """The row numbers of the good students whose ``column`` value another one has too."""
    values = [r[column] for r in _good()]
    return [n + 2 for n, value in enumerate(values) if values.count(value) > 1]


CASES: list[Case] = [
    Case("empty.csv", "an empty file (0 bytes)", "fatal", 2, ("the file is empty; expected a header line",)),
    Case("header_only.csv", "the header line and no student", "qa_failed", 1, rows_read=0),
    Case(
        "missing_required_column.csv",
        "the DOB column left out of the report",
        "fatal",
        2,
        ("line 1: required column 'DOB' (date_of_birth) is missing from the header",),
    ),
    Case(
        "duplicate_column.csv",
        "a column twice in the header",
        "fatal",
        2,
        ("line 1: column 'DOB' (date_of_birth) appears 2 times in the header",),
    ),
    Case(
        "header_repeated.csv",
        "two exports pasted into one file (the header line again at row 22)",
        "fatal",
        2,
        ("row 22: the header line appears again", "two exports joined"),
    ),
    Case(
        "latin1_not_utf8.csv",
        "saved as Latin-1 (Windows) while the district file says UTF-8",
        "fatal",
        2,
        ("line 8: not valid utf-8 text", "source.encoding"),
    ),
    Case(
        "latin1_ragged.csv",
        "the same, with a stray comma in that row (a ragged row that is also not UTF-8)",
        "fatal",
        2,
        ("line 8: not valid utf-8 text", "source.encoding"),
    ),
    Case(
        "utf16.csv",
        'saved by Excel as "Unicode text" (UTF-16)',
        "fatal",
        2,
        ("line 1: not utf-8 text: it is UTF-16 text (a byte-order mark)", "set source.encoding: utf-16"),
    ),
    Case(
        "wrong_delimiter.csv",
        "semicolons instead of commas",
        "fatal",
        2,
        ("line 1: required column 'STATE_ID' (state_test_number) is missing", "is the file delimited by ','?"),
    ),
    Case("binary_garbage.csv", "random bytes", "fatal", 2, ("line 1: not a CSV export", "binary")),
    Case(
        "excel_workbook.csv",
        "an Excel workbook renamed to .csv",
        "fatal",
        2,
        ("line 1: not a CSV export", "Excel workbook", "save it from Excel as CSV"),
    ),
    Case(
        "ragged_rows.csv",
        "stray delimiters: an extra value (rows 6, 30), a row cut short (row 13)",
        "rejected",
        0,
        rejects=frozenset(_rows_of("ragged_row", "(row)", 6, 13, 30)),
        rows_read=ROWS,
    ),
    Case(
        "truncated.csv",
        "the transfer cut off in the middle of the last row",
        "rejected",
        0,
        rejects=frozenset(_rows_of("ragged_row", "(row)", ROWS + 1)),
        rows_read=ROWS,
    ),
    Case(
        "unterminated_quote.csv",
        "a quote opened in row 11 and never closed",
        "fatal",
        2,
        ("row 11: a quoted value is never closed", "unterminated quote"),
    ),
    Case(
        "nul_bytes.csv",
        "NUL bytes inside two values",
        "rejected",
        0,
        rejects=frozenset(
            {(5, "legal_last_name", "forbidden_character"), (19, "local_student_id", "forbidden_character")}
        ),
        rows_read=ROWS,
    ),
    Case(
        "excel_ids.csv",
        "ids re-saved by Excel: 1.23E+09 (rows 4, 9); leading zeros stripped (rows 13, 16) pass the default pattern",
        "rejected",
        0,
        rejects=frozenset(_rows_of("bad_state_id", "state_test_number", 4, 9)),
        rows_read=ROWS,
    ),
    Case(
        "excel_ids.csv",
        "the same file where the district's pattern fixes the length (^[0-9]{10}$): every mangled id is caught",
        "qa_failed",
        1,
        rejects=frozenset(_rows_of("bad_state_id", "state_test_number", 4, 9, 13, 16)),
        rows_read=ROWS,
        district={"source.state_id_pattern": "^[0-9]{10}$"},
    ),
    Case(
        "excel_dates.csv",
        "dates re-saved by Excel: 2015-03-14, 42078, 3/14/15, 14/03/2015",
        "qa_failed",
        1,
        rejects=frozenset(_rows_of("bad_date_of_birth", "date_of_birth", 6, 10, 14, 18)),
        rows_read=ROWS,
    ),
    Case(
        "excel_dates.csv",
        "the same, with a district that allows 10% rejects: the night goes on without them",
        "rejected",
        0,
        rejects=frozenset(_rows_of("bad_date_of_birth", "date_of_birth", 6, 10, 14, 18)),
        rows_read=ROWS,
        district={"qa.max_reject_rate": 0.1},
    ),
    Case("crlf.csv", "Windows line endings (CRLF)", "clean", 0, rows_read=ROWS),
    Case("bom.csv", "a UTF-8 byte-order mark", "clean", 0, rows_read=ROWS),
    Case(
        "long_line.csv",
        "a 6 MB line (a notes column holding a document; the column is not mapped)",
        "clean",
        0,
        rows_read=ROWS,
        committed=False,
    ),
    Case(
        "mostly_ragged.csv",
        'stray delimiters in a third of the rows ("Last, First" in one column)',
        "qa_failed",
        1,
        rejects=frozenset(_rows_of("ragged_row", "(row)", *range(2, ROWS + 2, 3))),
        rows_read=ROWS,
    ),
    # --- reading (issue 13): encodings, line endings, blank lines, end-of-file junk ---
    Case(
        "utf8_declared_cp1252.csv",
        "a UTF-8 export while the district file says windows-1252 (would deliver JosÃ©)",
        "fatal",
        2,
        ("line 8: not windows-1252 text: the file is UTF-8", "set source.encoding: utf-8"),
        district={"source.encoding": "windows-1252"},
    ),
    Case(
        "utf16le_bom.csv",
        'Excel\'s "Unicode text" (UTF-16 with a byte-order mark, CRLF)',
        "clean",
        0,
        rows_read=ROWS,
        district={"source.encoding": "utf-16"},
    ),
    Case(
        "utf16be_nobom.csv",
        "UTF-16 big-endian without a byte-order mark",
        "clean",
        0,
        rows_read=ROWS,
        district={"source.encoding": "utf-16"},
    ),
    Case("cr_only.csv", "old Mac line endings (CR only)", "clean", 0, rows_read=ROWS),
    Case(
        "blank_lines.csv",
        "blank lines after rows 11 and 32: rows of the spreadsheet, not students; an unknown grade (row 17) "
        "and a stray comma (row 54) after them",
        "rejected",
        0,
        rejects=frozenset({(17, "grade", "unknown_grade"), (54, "(row)", "ragged_row")}),
        rows_read=ROWS,
    ),
    Case(
        "eof_junk.csv",
        "a DOS end-of-file mark (Ctrl-Z) and NUL padding after the last row",
        "clean",
        0,
        rows_read=ROWS,
        notes=("ignored 427 bytes of end-of-file padding (NUL, Ctrl-Z) after row 61",),
    ),
    # Rules: the character and value policy (forbidden characters, invisible-only is missing, finite
    # scores, formulas and mojibake in names) and the rejects' masked State Test Numbers.
    Case(
        "quote_start.csv",
        "a name starting with a double quote (rows 6, 22): it would break readers of the pipe file",
        "rejected",
        0,
        rejects=frozenset(
            {(6, "legal_last_name", "forbidden_character"), (22, "legal_first_name", "forbidden_character")}
        ),
        rows_read=ROWS,
    ),
    Case(
        "unicode_separators.csv",
        "Unicode line/paragraph separators (row 5) and text-direction controls (row 17) in names",
        "rejected",
        0,
        rejects=frozenset(
            {
                (5, "legal_first_name", "forbidden_character"),
                (5, "legal_last_name", "forbidden_character"),
                (17, "legal_last_name", "forbidden_character"),
                (17, "legal_middle_name", "forbidden_character"),
            }
        ),
        rows_read=ROWS,
    ),
    Case(
        "invisible_surname.csv",
        "a surname of only a no-break space (row 9) or a zero-width space (row 32)",
        "rejected",
        0,
        rejects=frozenset(_rows_of("missing_last_name", "legal_last_name", 9, 32)),
        rows_read=ROWS,
    ),
    Case(
        "infinite_scores.csv",
        "scores inf and 1e999 (row 4), -Infinity and NaN (row 42)",
        "rejected",
        0,
        rejects=frozenset(_rows_of("bad_score", "ela_score", 4, 42) | _rows_of("bad_score", "math_score", 4, 42)),
        rows_read=ROWS,
    ),
    Case(
        "formula_names.csv",
        "names that spreadsheets run as formulas: =HYPERLINK(...), +1 (row 7), @SUM(...), -2 (row 14)",
        "rejected",
        0,
        rejects=frozenset(
            {
                (7, "legal_first_name", "formula_value"),
                (7, "legal_last_name", "formula_value"),
                (14, "legal_first_name", "formula_value"),
                (14, "legal_middle_name", "formula_value"),
            }
        ),
        rows_read=ROWS,
    ),
    Case(
        "mojibake_names.csv",
        "names already garbled by a wrong encoding: JosÃ© PeÃ±a (row 10), MarÃ­a Oâ€™Brien (row 27)",
        "rejected",
        0,
        rejects=frozenset(
            _rows_of("mojibake", "legal_first_name", 10, 27) | _rows_of("mojibake", "legal_last_name", 10, 27)
        ),
        rows_read=ROWS,
    ),
    Case(
        "swapped_id_dob.csv",
        "the STATE_ID and DOB headers swapped: every row rejected, no birth date in rejects.csv (ids masked)",
        "qa_failed",
        1,
        rejects=frozenset(
            _rows_of("bad_state_id", "state_test_number", *range(2, ROWS + 2))
            | _rows_of("bad_date_of_birth", "date_of_birth", *range(2, ROWS + 2))
            | _rows_of("duplicate_state_id", "state_test_number", *_rows_sharing("DOB"))  # now the id column
        ),
        rows_read=ROWS,
    ),
]


def readme() -> str:
    lines = [
        "# Broken exports",
        "",
        "Written by `python tests/corpus/generate.py` (the verdicts live in its `CASES`); checked by",
        "`tests/unit/io/test_corpus.py`, which runs `roster run` on each file. Each file is the sample district's",
        "export (60 good students, comma-delimited UTF-8) broken one way. `long_line.csv` (6 MB) is written",
        "at test time, not committed.",
        "",
        "| file | what is wrong | verdict | exit | what the district sees |",
        "|---|---|---|---|---|",
    ]
    for case in CASES:
        if case.verdict == "fatal":
            seen = "`error: <file>: " + " … ".join(case.message) + "`; nothing written"
        elif case.verdict == "clean":
            seen = f"all {case.rows_read} rows delivered"
            seen += "".join(f"; note: {note}" for note in case.notes)
        else:
            reasons = sorted({r for _, _, r in case.rejects})
            rows = sorted({n for n, _, _ in case.rejects})
            seen = f"{'rows' if len(rows) > 1 else 'row'} {', '.join(map(str, rows))} rejected ({', '.join(reasons)})"
            seen += "; QA passes, the rest delivered" if case.verdict == "rejected" else "; QA fails, nothing delivered"
            if case.verdict == "qa_failed" and not case.rejects:
                seen = "QA fails: the export holds no student rows"
        district = f" (district: {', '.join(f'`{k}: {v}`' for k, v in case.district.items())})" if case.district else ""
        lines.append(f"| `{case.name}` | {case.what}{district} | {case.verdict} | {case.exit_code} | {seen} |")
    return "\n".join(lines) + "\n"


def write(directory: Path = HERE) -> None:
    for name, data in build().items():
        if all(case.committed for case in CASES if case.name == name):
            (directory / name).write_bytes(data)
    (directory / "README.md").write_text(readme(), encoding="utf-8")


if __name__ == "__main__":
    write()
