"""The vectorized check kernels the rule catalog (``roster.rules.catalog``) is made of.

A kernel is a function of a column's Arrow strings returning a numpy boolean per row (True: the value
passes): one call per column, never one per value. They use Arrow and numpy (pandas only on a column's
few distinct values). The kernels that need the night (a pattern, a date format, a set of codes) are
made by a function taking those parameters.

Empty cells are empty strings, never nulls: a missing value is a reason code, not a dtype error.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from roster.fast import ids, scans
from roster.fast.arrow import bools, take, text
from roster.rules.dates import age_on, parse_dates

Kernel = Callable[[pa.ChunkedArray], np.ndarray]
#: A kernel of the whole frame (a rule comparing rows with each other on several columns).
FrameKernel = Callable[[pd.DataFrame], np.ndarray]


def column_text(s: pd.Series) -> pa.ChunkedArray:
    """The Arrow strings behind a text column (zero-copy); a missing value reads as empty text."""
    data = text(s)
    return pc.fill_null(data, "") if data.null_count else data


def taken(data: pa.ChunkedArray, rows: np.ndarray) -> pa.ChunkedArray:
    """The column's values at ``rows`` (``fast.arrow.take``), as a chunked array like the column."""
    values = take(data, rows) if len(rows) else pa.array([], data.type)
    return values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values], data.type)


def _by_chunk(scan: Callable[[pa.Array], np.ndarray], data: pa.ChunkedArray) -> np.ndarray:
    """A per-chunk byte scan (``roster.fast.scans``) over the whole column."""
    masks = [scan(chunk) for chunk in data.chunks]
    return np.concatenate(masks) if masks else np.zeros(0, dtype=bool)


def _filled(data: pa.ChunkedArray) -> np.ndarray:
    return bools(pc.greater(pc.binary_length(data), 0))


#: Characters that show nothing: the Unicode separators (the no-break space U+00A0, the spaces
#: U+2000-U+200A, U+202F, U+205F, the ideographic space U+3000, the line and paragraph separators),
#: the format characters (zero-width space U+200B, ZWNJ and ZWJ, word joiner U+2060, byte-order mark
#: U+FEFF, soft hyphen, bidirectional marks), the controls (tab among them) and the blanks of other
#: scripts (combining grapheme joiner, Hangul fillers, Braille blank). As an RE2 character class.
INVISIBLE = r"\p{Z}\p{Cf}\p{Cc}\x{034F}\x{115F}\x{1160}\x{2800}\x{3164}\x{FFA0}"


def _blank(values: pd.Series) -> np.ndarray:
    return bools(pc.match_substring_regex(pa.array(values, pa.large_string()), f"^[{INVISIBLE}]*$"))


def present(data: pa.ChunkedArray) -> np.ndarray:
    """Holds a visible character: an empty value, or one made only of ``INVISIBLE`` characters
    (a surname of a no-break space, a zero-width space), is missing.

    Only the values a byte scan says may be blank (``scans.maybe_blank``: those not starting with a
    visible ASCII character) are looked at, each distinct one once.
    """
    return _filled(data) & ~_where(data, _by_chunk(scans.maybe_blank, data), _blank)


def unique_or_empty(data: pa.ChunkedArray) -> np.ndarray:
    # Every row of a duplicated id fails: the export cannot say which one is the student.
    return ~present(data) | ~ids.duplicated(data)


def _per_value(data: pa.ChunkedArray, verdict: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
    """``verdict`` (distinct values -> numpy bools) applied through the column's distinct values.

    Dates of birth, scores and codes repeat a lot: a few thousand distinct values for millions of
    rows, so each distinct value is judged once (with pandas, as a ``str`` Series like the column)
    and the verdicts mapped back: a categorical map.
    """
    if len(data) == 0:
        return np.zeros(0, dtype=bool)
    encoded = pc.dictionary_encode(data).combine_chunks()
    verdicts = np.asarray(verdict(encoded.dictionary.to_pandas()), dtype=bool)
    return verdicts[encoded.indices.to_numpy(zero_copy_only=False)]


def _where(data: pa.ChunkedArray, flagged: np.ndarray, verdict: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
    """``verdict`` through ``_per_value`` on the ``flagged`` rows only (False on the others): the
    closer look a byte scan asks for, paid only where it flagged."""
    found = np.zeros(len(data), dtype=bool)
    if flagged.any():
        rows = np.flatnonzero(flagged)
        found[rows] = _per_value(taken(data, rows), verdict)
    return found


#: A decimal number as the vendor reads it: an optional sign, ASCII digits with an optional decimal
#: point, an optional exponent (``250``, ``-3``, ``12.5``, ``1e3``). No thousands separator (``1,234``
#: reads like the decimal comma of ``12,5``), no whitespace inside (the reader trims the ends).
NUMBER = r"^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"


def numeric_or_empty(data: pa.ChunkedArray) -> np.ndarray:
    """Empty, or a finite ``NUMBER``: not ``inf``, ``nan``, nor ``1e999`` (it overflows to infinity)."""

    def verdict(values: pd.Series) -> np.ndarray:
        number = bools(pc.match_substring_regex(pa.array(values, pa.large_string()), NUMBER))
        parsed = pd.to_numeric(values.where(number, ""), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return (values.str.len() == 0).to_numpy(dtype=bool) | (number & np.isfinite(parsed))

    return _per_value(data, verdict)


def no_forbidden(data: pa.ChunkedArray) -> np.ndarray:
    """No character that breaks the pipe file or its readers (``scans.forbidden_values``): the pipe
    (the vendor's columns), line breaks (CR, LF, the Unicode line and paragraph separators: its rows),
    other controls (C0, DEL, C1: a cp1252 export read as Latin-1 gives C1 controls), bidirectional
    controls (they reorder what a reader sees), and no leading double quote (a CSV reader of the
    unquoted file takes it for a quoted value and swallows the lines after it). A byte scan."""
    return ~_by_chunk(scans.forbidden_values, data)


#: First characters that make a spreadsheet run a cell as a formula (CSV injection, OWASP). Tab and
#: CR, the others OWASP names, are forbidden characters already.
FORMULA_STARTS = b"=+-@"


def no_formula(data: pa.ChunkedArray) -> np.ndarray:
    """Does not start with ``FORMULA_STARTS`` (``=HYPERLINK(...)``, ``@SUM(...)``, ``+1``, ``-2``)."""
    return ~_by_chunk(lambda chunk: scans.starts_with_any(chunk, FORMULA_STARTS), data)


def _cp1252_bytes() -> dict[str, int]:
    """Character -> byte of the cp1252 code page; its five undefined bytes as Latin-1 reads them (C1)."""
    table = {}
    for byte in range(256):
        try:
            table[bytes([byte]).decode("cp1252")] = byte
        except UnicodeDecodeError:
            table[chr(byte)] = byte
    return table


_CP1252 = _cp1252_bytes()
_CONTINUATION = "".join(re.escape(char) for char, byte in _CP1252.items() if 0x80 <= byte <= 0xBF)
#: A UTF-8 character's bytes as cp1252 shows them: a lead byte (Â-ß, à-ï, ð-ô) and its continuation bytes.
_GARBLED = re.compile(
    f"[\u00c2-\u00df][{_CONTINUATION}]|[\u00e0-\u00ef][{_CONTINUATION}]{{2}}|[\u00f0-\u00f4][{_CONTINUATION}]{{3}}"
)


def _garbled(value: str) -> bool:
    """Whether some run of ``value``, encoded as cp1252 (Latin-1 for its undefined bytes), is one
    valid multi-byte UTF-8 character: UTF-8 text once decoded as cp1252 (``JosÃ©`` for ``José``)."""
    for run in _GARBLED.finditer(value):
        try:
            bytes(_CP1252[char] for char in run.group()).decode("utf-8")
        except UnicodeDecodeError:
            continue
        return True
    return False


def not_mojibake(data: pa.ChunkedArray) -> np.ndarray:
    """Not UTF-8 text garbled by a cp1252 or Latin-1 decoding (``Ã©``, ``Ã±``, ``â€™``).

    Only the values holding the byte pattern of such text (``scans.mojibake_candidates``) are looked
    at, each distinct one once: a clean export has none.
    """
    return ~_where(
        data,
        _by_chunk(scans.mojibake_candidates, data),
        lambda values: np.fromiter((_garbled(v) for v in values), dtype=bool, count=len(values)),
    )


def _anchored(pattern: str) -> str:
    """``pattern`` anchored at both ends, as ``Series.str.fullmatch`` runs it on Arrow strings (RE2)."""
    if (not pattern.endswith("$") or pattern.endswith("\\$")) and not pattern.startswith("^"):
        pattern = f"^({pattern})$"
    elif not pattern.endswith("$") or pattern.endswith("\\$"):
        pattern = f"^({pattern[1:]})$"
    elif not pattern.startswith("^"):
        pattern = f"^({pattern[0:-1]})$"
    return f"^({pattern[1:]})"


def fullmatch(pattern: str) -> Kernel:
    """Missing (``present``: the missing rule's), or the whole value matches ``pattern``."""
    anchored = _anchored(pattern)

    def kernel(data: pa.ChunkedArray) -> np.ndarray:
        return ~present(data) | bools(pc.match_substring_regex(data, anchored))

    return kernel


def date_or_empty(date_format: str) -> Kernel:
    """Missing (``present``: the missing rule's, or an optional date left empty), or a date in ``date_format``."""

    def verdict(values: pd.Series) -> np.ndarray:
        return parse_dates(values, date_format).notna().to_numpy(dtype=bool)

    return lambda data: ~present(data) | _per_value(data, verdict)


def age_in_range(date_format: str, day: dt.date, low: int, high: int) -> Kernel:
    """Whole years of age on ``day`` within ``low``-``high``; a value that is not a date passes
    (the date rules reject it)."""

    def verdict(values: pd.Series) -> np.ndarray:
        born = parse_dates(values, date_format)
        return (born.isna() | age_on(born, day).between(low, high)).to_numpy(dtype=bool)

    return lambda data: _per_value(data, verdict)


def one_of(values: Iterable[str], empty_passes: bool = False) -> Kernel:
    codes = pa.array(sorted(values), pa.large_string())

    def kernel(data: pa.ChunkedArray) -> np.ndarray:
        known = bools(pc.is_in(data, value_set=codes))
        # An invisible code is not empty: it would be delivered as it is.
        return (~_filled(data) | known) if empty_passes else known

    return kernel


_MONTH = "(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
#: A date anywhere in a value: day, month and year with separators (``03/14/2015``, ``2015-03-14``,
#: ``14.3.15``), or with the month's name (``14-Mar-2015``, ``14MAR2015``, ``Mar 14, 2015``).
DATE_SHAPED = (
    r"(^|[^0-9])[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}([^0-9]|$)"
    rf"|(?i:[0-9]{{1,4}}[-/. ]?{_MONTH}[-/. ,]*[0-9]{{2,4}})"
    rf"|(?i:{_MONTH}[-/. ]?[0-9]{{1,2}}[-/. ,]+[0-9]{{2,4}})"
)
#: The compact dates eight digits may be (YYYYMMDD, MMDDYYYY, DDMMYYYY).
COMPACT_DATES = ("%Y%m%d", "%m%d%Y", "%d%m%Y")


def clearly_id(pattern: str, date_format: str) -> Kernel:
    """Per value: whether it is clearly an id, and never a date of birth, so a report may show it.

    Clearly an id: it matches ``pattern`` (the district's State Test Number pattern) or is made only
    of ASCII letters, digits and ``. + - _`` (an id Excel turned into ``1.23E+09``); it holds a digit;
    and it does not look like a date: not a date in ``date_format``, no ``DATE_SHAPED`` date in it,
    and, unless it matches ``pattern``, not eight digits that are a real date (``COMPACT_DATES``).
    """
    anchored = _anchored(pattern)

    def verdict(values: pd.Series) -> np.ndarray:
        data = pa.array(values, pa.large_string())
        matches = bools(pc.match_substring_regex(data, anchored))
        plain = bools(pc.match_substring_regex(data, r"^[0-9A-Za-z.+_-]+$"))
        digit = bools(pc.match_substring_regex(data, "[0-9]"))
        dated = parse_dates(values, date_format).notna().to_numpy(dtype=bool) | bools(
            pc.match_substring_regex(data, DATE_SHAPED)
        )
        eight = bools(pc.match_substring_regex(data, "^[0-9]{8}$")) & ~matches
        for compact in COMPACT_DATES if eight.any() else ():
            dated = dated | (eight & parse_dates(values, compact).notna().to_numpy(dtype=bool))
        return (matches | plain) & digit & ~dated

    return lambda data: _per_value(data, verdict)
