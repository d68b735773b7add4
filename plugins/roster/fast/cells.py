"""Spreadsheet cells: report values a spreadsheet would run as formulas, neutralized (CSV injection).

Excel, LibreOffice and Google Sheets run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a
formula, and a tab or carriage return before one of them is skipped on import. OWASP's advice is to
prefix such a value with a single quote, which makes the spreadsheet show it as text. Here:

* a value starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'``, except a plain
  number (``-1``, ``+2``, ``-3.5``): a spreadsheet reads that as the number it is, never as a
  formula, and a grade code ``-1`` must stay ``-1``;
* a value that already starts with quotes followed by one of those characters (``'=x``) gets one
  more quote, so that ``unneutralize`` (strip one quote from ``'+`` followed by such a character) gives
  back exactly the value written, whatever it was.

``neutralize``/``unneutralize`` are the per-value definitions (small reports, readers, tests);
``neutralized``/``unneutralized`` the same on Arrow columns, for the report writer's fast path.
"""

from __future__ import annotations

import re

import pyarrow as pa
import pyarrow.compute as pc

from roster.fast.scans import starts_with_any

#: The first characters that make a spreadsheet run a cell as a formula (OWASP's list).
FORMULA_STARTS = "=+-@\t\r"
#: What a neutralized value starts with (and a value that only looks neutralized: ``'=x``).
QUOTE = "'"
_TRIGGER = "^'*[=+\\-@\t\r]"
_NEUTRAL = "^'+[=+\\-@\t\r]"
#: A plain number: a spreadsheet reads it as a number, whatever its sign (ASCII digits only).
_PLAIN_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$"
_trigger, _neutral, _plain = re.compile(_TRIGGER), re.compile(_NEUTRAL), re.compile(_PLAIN_NUMBER)
#: The bytes a value must start with for ``neutralized`` to look closer (a quote, or a formula start).
_FIRST_BYTES = (QUOTE + FORMULA_STARTS).encode("ascii")


def neutralize(value: str) -> str:
    """``value`` as a spreadsheet shows it as text: ``'`` in front of a formula-looking value."""
    return QUOTE + value if _trigger.match(value) and not _plain.match(value) else value


def unneutralize(value: str) -> str:
    """The value ``neutralize`` was given (one leading quote removed where it added one)."""
    return value[1:] if _neutral.match(value) else value


def needs_neutralizing(values: pa.ChunkedArray) -> bool:
    """A cheap scan (each value's first byte): whether any value may need a quote."""
    return any(bool(starts_with_any(chunk, _FIRST_BYTES).any()) for chunk in values.chunks)


def neutralized(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """``neutralize`` on every value of a string column; the column itself when no value can need it."""
    if not needs_neutralizing(values):
        return values
    quote = pa.scalar(QUOTE, values.type)
    hit = pc.and_not(pc.match_substring_regex(values, _TRIGGER), pc.match_substring_regex(values, _PLAIN_NUMBER))
    prefixed = pc.binary_join_element_wise(quote, values, pa.scalar("", values.type))
    return pc.if_else(hit, prefixed, values)


def unneutralized(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """``unneutralize`` on every value of a string column (a report read back)."""
    if not needs_neutralizing(values):
        return values
    return pc.if_else(pc.match_substring_regex(values, _NEUTRAL), pc.utf8_slice_codeunits(values, 1), values)
