"""What every export reader gives (``Export``: canonical text columns plus row numbers), and the
trimming and NFC normalization every reader applies, so a CSV export, a workbook and a OneRoster
package of the same students give the same table. Apart from the readers so that each imports it
without importing the others."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from roster.fast.arrow import parallel
from roster.fast.scans import has_surrounding_spaces, nfc_candidates

#: Fields that are names: trimmed and NFC-normalized so "José" typed two ways is one name.
NAME_FIELDS = ("legal_first_name", "legal_middle_name", "legal_last_name")


@dataclass
class Export:
    """One export as read: ``table`` holds canonical string columns plus ``row_number`` (int64)."""

    path: Path
    table: pa.Table
    ragged_rows: list[int] = field(default_factory=list)
    #: Plain sentences for the QA report about what was read around the rows (no student data).
    notes: list[str] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return self.table.num_rows + len(self.ragged_rows)


def _normalize(table: pa.Table, may_need_trim: bool = True) -> pa.Table:
    """Trim surrounding spaces from every value; NFC-normalize names.

    Only spaces are trimmed: a tab, carriage return or other control character must stay visible so
    the validator can reject the value instead of silently changing it. Both steps copy a chunk
    only when some value in it changes (most exports have nothing to trim and few decomposed
    accents), so a clean export's columns stay the parser's own memory.
    """

    def normalized(name: str) -> pa.ChunkedArray:
        chunks = []
        for chunk in table[name].chunks:
            trimmed = pc.utf8_trim(chunk, characters=" ") if may_need_trim and has_surrounding_spaces(chunk) else chunk
            chunks.append(_nfc(trimmed) if name in NAME_FIELDS else trimmed)
        return pa.chunked_array(chunks, type=table.schema.field(name).type)

    return pa.table(parallel(normalized, table.column_names), names=table.column_names)


def _nfc(array: pa.Array) -> pa.Array:
    """NFC-normalized values; only values that can change are normalized (usually none)."""
    if len(array) == 0:
        return array
    candidates = nfc_candidates(array)
    if not candidates.any():
        return array
    mask = pa.array(candidates)
    subset = pc.filter(array, mask)
    normalized = pc.utf8_normalize(subset, form="NFC")
    if pc.all(pc.equal(subset, normalized)).as_py():
        return array
    return pc.replace_with_mask(array, mask, normalized)


__all__ = ["NAME_FIELDS", "Export"]
