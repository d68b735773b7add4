"""The performance shortcuts give exactly the answers of the plain operations they replace.

``roster.fast.ids`` (integer keys for sorting, duplicates and the join), ``roster.fast.arrow`` (chunk-aware
gathers, CSV bytes, constant columns) and the reader's parallel pieces, each against the Arrow,
pandas or single-threaded result on awkward inputs.
"""

from __future__ import annotations

import collections
import csv
import io
import itertools
import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from domain_fixtures import GOOD_ROW, HEADER, make_district, write_export
from roster.fast import arrow as arrowkit
from roster.fast import cells, ids, scans
from roster.io import export as reading

RNG = random.Random(20261120)


def _ids(n: int, alphabet: str, shortest: int, longest: int, extra: tuple[str, ...] = ()) -> list[str]:
    values = ["".join(RNG.choice(alphabet) for _ in range(RNG.randint(shortest, longest))) for _ in range(n)]
    for value in extra:
        values[RNG.randrange(n)] = value
    return values


ID_SETS = {
    "digits, one length": _ids(3000, "0123456789", 10, 10),
    "digits, one length, some malformed": _ids(3000, "0123456789", 10, 10, ("12-34", "", "1.23E+09", " 0012")),
    "digits, lengths 1-18 (prefixes)": _ids(3000, "0123", 1, 18),
    "letters and digits up to 10": _ids(3000, "09azAZ", 0, 10, ("x y",)),
    "short, any bytes": _ids(3000, "0aZ-é.", 0, 8),
    "long ids (strings only)": _ids(3000, "0123456789abc", 5, 25),
    "many duplicates": _ids(3000, "01", 0, 3),
}


def _chunked(values: list[str]) -> pa.ChunkedArray:
    array = pa.array(values, pa.large_string())
    cuts = sorted(RNG.sample(range(1, len(values)), 5))
    bounds = [0, *cuts, len(values)]
    return pa.chunked_array([*(array.slice(a, b - a) for a, b in itertools.pairwise(bounds)), array.slice(0, 0)])


@pytest.mark.parametrize("name", ID_SETS)
def test_id_keys_sort_find_duplicates_and_join_like_strings(name):
    values = ID_SETS[name]
    array, chunked = pa.array(values, pa.large_string()), _chunked(values)
    assert ids.sort_order(chunked).to_pylist() == pc.sort_indices(array).to_pylist()
    counts = collections.Counter(values)
    assert ids.duplicated(chunked).tolist() == [counts[v] > 1 for v in values]
    unique = list(dict.fromkeys(values))
    RNG.shuffle(unique)
    among = pa.array(unique[: len(unique) * 2 // 3], pa.large_string())
    for table in (among, pc.take(among, pc.sort_indices(among))):
        expected = pc.fill_null(pc.index_in(array, value_set=table), -1).to_pylist()
        assert ids.positions(chunked, table).tolist() == expected


# The alphabet holds every forbidden character beyond ASCII and its neighbours in UTF-8 (U+2027,
# U+202F, U+2065, U+206A, U+061B, U+00A0, U+200D), and the parts of mojibake (Ã, ©, €, ™, Å, ¡).
_SCAN_VALUES = [
    *_ids(2000, 'ab |\t\n\x00\x7f\x85é\u0301😀,"', 0, 6),
    *_ids(
        3000,
        'a =+-@"\u2028\u2029\u200e\u200f\u061c\u202a\u202e\u2066\u2069\u2027\u202f\u2065\u206a\u061b\u00a0\u200d',
        0,
        4,
    ),
    *_ids(2000, "aÃ©€™Å¡\u00c2\u00f4\u00f5\u00c1\u0192é", 0, 4),
    *["", " x", "x ", "Jose\u0301", "O\x92B", '"', '"x"', "x\u2028", "\u00a0", "\u200b", "\t", " ", "José", "JosÃ©"],
]


@pytest.mark.parametrize("kind", [pa.large_string(), pa.string()])
def test_byte_scans_agree_with_python_on_every_slice(kind):
    """The string-buffer scans, on slices with offsets (as the reader's chunks are), give what a
    per-value Python test gives."""
    import re
    import unicodedata

    forbidden = re.compile('^"|[|\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]')
    # A character U+00C2-U+00F4 followed by one whose UTF-8 lead byte is 0xC2, 0xC5, 0xC6, 0xCB or 0xE2.
    garbled = re.compile("[\u00c2-\u00f4][\u0080-\u00bf\u0140-\u01bf\u02c0-\u02ff\u2000-\u2fff]")
    for piece in _chunked(_SCAN_VALUES).chunks:
        chunk = piece.cast(kind)
        values = chunk.to_pylist()
        assert scans.forbidden_values(chunk).tolist() == [bool(forbidden.search(v)) for v in values]
        candidates = scans.nfc_candidates(chunk)
        assert all(candidates[i] for i, v in enumerate(values) if unicodedata.normalize("NFC", v) != v)
        assert not any(candidates[i] for i, v in enumerate(values) if all(ord(c) < 0x300 for c in v))
        assert scans.has_surrounding_spaces(chunk) == any(v != v.strip(" ") for v in values)
        assert scans.holds_bytes(chunk, b',"') == any("," in v or '"' in v for v in values)
        assert scans.starts_with_any(chunk, b"=+-@").tolist() == [v[:1] in ("=", "+", "-", "@") for v in values]
        assert scans.maybe_blank(chunk).tolist() == [v != "" and not ("!" <= v[0] <= "~") for v in values]
        assert scans.mojibake_candidates(chunk).tolist() == [bool(garbled.search(v)) for v in values]
    empty = pa.array([], kind)
    assert scans.forbidden_values(empty).tolist() == [] and not scans.holds_bytes(empty, b",")
    assert scans.maybe_blank(empty).tolist() == scans.mojibake_candidates(empty).tolist() == []


@pytest.mark.parametrize(
    "positions",
    [
        np.arange(1000),
        np.arange(999, -1, -1),
        np.array([5, 5, 999, 0, 300, 300]),
        np.array([], dtype=np.int64),
        np.random.default_rng(1).integers(0, 1000, 5000),
    ],
)
def test_take_from_chunked_strings(positions, monkeypatch):
    monkeypatch.setattr(arrowkit, "TAKE_STEP", 64)  # several steps
    values = [f"v{i}é" * (i % 4) for i in range(1000)]
    chunked = _chunked(values)
    taken = arrowkit.take(chunked, positions)
    assert taken.to_pylist() == [values[i] for i in positions]


def test_repeat_builds_valid_constant_columns():
    for value, rows in (("sample_isd", 5), ("", 3), ("é", 2), ("x", 0)):
        column = arrowkit.repeat(value, rows)
        column.validate(full=True)
        assert column.to_pylist() == [value] * rows and column.type == pa.large_string()


def test_csv_bytes_fast_path_is_pandas_path(monkeypatch):
    """The Arrow path writes the bytes pandas' path writes (the reference), formula-looking values too."""
    tricky = [
        "plain",
        "",
        "a,b",
        'say "hi"',
        "two\nlines",
        "cr\ronly",
        "crlf\r\n",
        " lead",
        "trail ",
        "tab\t",
        "é|x",
        '"',
        ",",
        "\x00",
        '=HYPERLINK("http://x","y")',
        "@SUM(A1)",
        "+1+1",
        "-1",
        "-3.5",
        "-",
        "\tx",
        "\r=1",
        "'=x",
        "'",
        "=a,b",
    ]
    frame = pd.DataFrame(
        {
            "row_number": pd.Series(range(len(tricky) * 20), dtype="int64"),
            "state_test_number": pd.array(tricky * 20, dtype="str"),
            "field": pd.array(list(reversed(tricky)) * 20, dtype="str"),
            "reason": pd.array(["bad_state_id"] * (len(tricky) * 20), dtype="str"),
        }
    )
    frame.loc[3, "field"] = np.nan
    monkeypatch.setattr(arrowkit, "CSV_FAST_ROWS", 10**9)
    by_pandas = arrowkit.csv_bytes(frame)
    monkeypatch.setattr(arrowkit, "CSV_FAST_ROWS", 1)
    assert arrowkit.csv_bytes(frame) == by_pandas
    assert b"\"'=HYPERLINK" in by_pandas and b",'@SUM(A1)," in by_pandas
    parsed = list(csv.reader(io.StringIO(by_pandas.decode("utf-8"), newline="")))
    assert [r[1] for r in parsed[1 : len(tricky) + 1]] == [cells.neutralize(v) for v in tricky]


def test_csv_bytes_quote_a_carriage_return():
    """A bare CR ends a row for Excel and the csv module: a value holding one is quoted."""
    frame = pd.DataFrame({"a": pd.array(["x\r=cmd", "y"], dtype="str")})
    assert arrowkit.csv_bytes(frame) == b'a\n"x\r=cmd"\ny\n'


def test_parallel_pieces_number_rows_like_one_parser(tmp_path, monkeypatch):
    """The reader's pieces (one per core) give the row numbers of a single-threaded parse."""
    monkeypatch.setattr(reading, "SEGMENT_MIN_BYTES", 1)
    monkeypatch.setattr(reading.os, "cpu_count", lambda: 5)
    lines = [",".join(HEADER)]
    ragged_lines: list[int] = []  # the file's line numbers of the ragged rows, as they are written
    for n in range(400):
        cells = [{**GOOD_ROW, "STATE_ID": f"{n:07d}"}[h] for h in HEADER]
        line = ",".join(cells)
        if n % 37 == 5:
            line += ",surplus"  # ragged
        elif n % 53 == 7:
            line = ",".join(cells[:4])  # ragged
        lines.append(line)
        if line.count(",") != len(HEADER) - 1:
            ragged_lines.append(len(lines))
        if n % 61 == 3:
            lines.append("")  # blank lines are rows of the spreadsheet, not students
    path = write_export(tmp_path, text="\r\n".join(lines) + "\r\n")
    export = reading.read_export(path, make_district().source)

    skipped: list[int] = []
    single = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=False, column_names=HEADER, skip_rows=1),
        parse_options=pacsv.ParseOptions(invalid_row_handler=lambda row: (skipped.append(row.number), "skip")[1]),
        convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in HEADER}),
    )
    # pyarrow's numbers leave the blank lines out; the reader's are the file's lines (no quotes here).
    sheet = [n for n, line in enumerate(lines, start=1) if line][1:]
    assert export.ragged_rows == [sheet[n - 2] for n in skipped] == ragged_lines
    assert len(ragged_lines) == len([n for n in range(400) if n % 37 == 5 or n % 53 == 7])
    assert export.table["state_test_number"].to_pylist() == single["STATE_ID"].to_pylist()
    expected = [sheet[n - 2] for n in range(2, single.num_rows + len(skipped) + 2) if n not in set(skipped)]
    assert export.table["row_number"].to_pylist() == expected
