"""A number cell as a spreadsheet displays it: its Excel number format applied, never a float's repr.

An SIS that writes a workbook stores a State ID ``0001234`` as the number 1234 with the format
``0000000``, a score 87 as ``87`` (not ``87.0``), a percentage as 0.5 with ``0%``. What the roster
needs is the text the user sees in the cell (what Excel's "Save as CSV" writes), so the same students
give the same roster whether they arrive as CSV or as a workbook.

Covered: ``General`` (integers without ``.0``; other numbers to Excel's 15 significant digits),
zero padding (``00000``), decimals (``0.0``, ``0.##``), thousands separators (``#,##0``) and
scaling by a trailing comma, percentages, scientific notation (``0.00E+00``), sections by sign
(``0;(0);"zero"``), quoted and escaped literals, colours, locale and currency tags (``[$€-407]``).
Formats this does not understand (fractions, conditions such as ``[>100]``) fall back to ``General``:
the value is still the number's digits, never an error. Date formats never get here: the workbook
reader renders date cells with the district's ``date_format``.

Rounding is half away from zero on the number's shortest decimal form, as Excel rounds (2.5 -> 3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

#: Excel keeps 15 significant digits; a number is never displayed with more.
SIGNIFICANT_DIGITS = 15

_PLACEHOLDERS = re.compile(r"[0#?][0#?,]*(?:\.[0#?]*)?(?:[Ee][+-][0#?]+)?|\.[0#?]+(?:[Ee][+-][0#?]+)?")
_BRACKET = re.compile(r"\[([^\]]*)\]")


@dataclass(frozen=True)
class _Section:
    """One section of a format: literal text around one numeric placeholder run."""

    prefix: str
    suffix: str
    min_integers: int
    grouped: bool
    scale: int  # powers of 1000 divided out by trailing commas
    decimals: int
    min_decimals: int
    point: bool
    exponent_digits: int  # 0: not scientific
    exponent_sign: bool  # "E+": the sign is shown for positive exponents too
    percent: int
    #: A section of text only (``"none"``): the literal is the whole display.
    text_only: bool = False


def render_number(value: int | float, number_format: str) -> str:
    """``value`` as a cell with ``number_format`` shows it."""
    sections = _sections(number_format)
    if sections is None:
        return general(value)
    section, signed = _pick(sections, value)
    if section is None:
        return general(value)
    if section.text_only:
        return section.prefix
    digits = _digits(abs(Decimal(repr(value))), section)
    return ("-" if signed and value < 0 else "") + section.prefix + digits + section.suffix


def general(value: int | float) -> str:
    """Excel's ``General``: integers as digits, other numbers to 15 significant digits."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int) and abs(value) < 10**SIGNIFICANT_DIGITS:
        return str(value)
    number = float(value)
    if number.is_integer() and abs(number) < 10**SIGNIFICANT_DIGITS:
        return str(int(number))
    text = f"{number:.{SIGNIFICANT_DIGITS}g}"
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return text
    return f"{mantissa}E{exponent[0]}{int(exponent[1:]):02d}"


def _pick(sections: list[_Section | None], value: int | float) -> tuple[_Section | None, bool]:
    """The section for the value's sign, and whether a minus sign must be added (first section only)."""
    if value < 0 and len(sections) >= 2:
        return sections[1], False
    if value == 0 and len(sections) >= 3:
        return sections[2], False
    return sections[0], True


@lru_cache(maxsize=256)
def _sections(number_format: str) -> list[_Section | None] | None:
    """The format's sections (None where one is not understood); None: render as General."""
    if number_format in ("General", "@", ""):
        return None
    parsed = [_section(part) for part in _split(number_format)[:3]]
    if parsed[0] is None or parsed[0].text_only:
        return None
    return parsed


def _split(number_format: str) -> list[str]:
    """The format's sections, split at semicolons outside quotes and escapes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in number_format:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def _literals(section: str) -> str | None:
    """The section with every literal character (quoted, escaped, currency tag) marked by a
    leading ``\\x01``, padding and fills dropped; None for what is not supported (fractions, conditions)."""
    out: list[str] = []
    i = 0
    while i < len(section):
        char = section[i]
        if char == '"':
            end = section.find('"', i + 1)
            end = len(section) if end < 0 else end
            out.extend("\x01" + c for c in section[i + 1 : end])
            i = end + 1
        elif char == "\\" and i + 1 < len(section):
            out.append("\x01" + section[i + 1])
            i += 2
        elif char in "_*":  # padding to a character's width, or a fill: nothing in text
            i += 2
        elif char == "[":
            end = section.find("]", i)
            tag = section[i + 1 : end]
            if end < 0 or re.match(r"[<>=]", tag):
                return None
            if tag.startswith("$"):
                out.extend("\x01" + c for c in tag[1:].split("-")[0])
            i = end + 1
        elif char == "/":
            return None
        else:
            out.append(char)
            i += 1
    return "".join(out)


_RUN = re.compile(r"([0#?,]*)(\.?)([0#?]*)(?:[Ee]([+-])([0#?]+))?")


def _section(section: str) -> _Section | None:
    text = _literals(section)
    if text is None:
        return None
    plain = re.sub(r"\x01.", "\x02", text, flags=re.S)
    match = _PLACEHOLDERS.search(plain)
    if match is None:
        whole = _restore(text, plain, 0, len(plain))
        return _Section(whole, "", 0, False, 0, 0, 0, False, 0, False, 0, text_only=True)
    run = _RUN.fullmatch(match.group(0))
    assert run is not None  # _PLACEHOLDERS only matches such runs
    integers, point, decimals, exponent_sign, exponent = run.groups()
    stripped = integers.rstrip(",")
    return _Section(
        prefix=_restore(text, plain, 0, match.start()),
        suffix=_restore(text, plain, match.end(), len(plain)),
        min_integers=stripped.count("0"),
        grouped="," in stripped,
        scale=len(integers) - len(stripped),
        decimals=len(decimals),
        min_decimals=len(decimals) - len(decimals.lstrip("0")),
        point=bool(point),
        exponent_digits=len(exponent or ""),
        exponent_sign=exponent_sign == "+",
        percent=plain.count("%"),
    )


def _restore(text: str, plain: str, start: int, stop: int) -> str:
    """The literal characters of ``plain[start:stop]`` (escaped ones unescaped), percent signs kept."""
    # ``plain`` has one character per literal where ``text`` has two; walk both together.
    out, j = [], 0
    for i, char in enumerate(plain):
        source = text[j : j + 2] if char == "\x02" else text[j]
        j += len(source)
        if start <= i < stop:
            out.append(source[1] if char == "\x02" else char)
    return "".join(out)


def _digits(number: Decimal, section: _Section) -> str:
    number = number.scaleb(2 * section.percent - 3 * section.scale)
    if section.exponent_digits:
        return _scientific(number, section)
    return _fixed(number, section)


def _fixed(number: Decimal, section: _Section) -> str:
    rounded = number.quantize(Decimal(1).scaleb(-section.decimals), rounding=ROUND_HALF_UP)
    whole, _, fraction = f"{rounded:f}".partition(".")
    fraction = fraction.rstrip("0").ljust(section.min_decimals, "0")
    whole = whole.lstrip("0").rjust(section.min_integers, "0")
    if section.grouped and whole:
        whole = f"{int(whole):,}"
    return whole + ("." if section.point else "") + fraction


def _scientific(number: Decimal, section: _Section) -> str:
    exponent = number.adjusted() if number else 0
    mantissa = number.scaleb(-exponent).quantize(Decimal(1).scaleb(-section.decimals), rounding=ROUND_HALF_UP)
    if mantissa >= 10:
        exponent += 1
        mantissa = number.scaleb(-exponent).quantize(Decimal(1).scaleb(-section.decimals), rounding=ROUND_HALF_UP)
    plain = _fixed(mantissa, section)
    sign = "-" if exponent < 0 else ("+" if section.exponent_sign else "")
    return f"{plain}E{sign}{abs(exponent):0{section.exponent_digits}d}"


__all__ = ["SIGNIFICANT_DIGITS", "general", "render_number"]
