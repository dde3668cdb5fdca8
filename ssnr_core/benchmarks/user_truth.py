"""Bring-your-own ground truth: an uploaded CSV mapping NB201 architectures to a number.

The file comes from a browser, so it is treated as untrusted: a cap on bytes and
rows, text decoded strictly, nothing evaluated. Each row names an architecture
(official cell string, NASLib op tuple or benchmark index -- whatever
`spaces.canonical` accepts) and a value in a column the user picks. The value may be
any finite number: an accuracy in % or as a fraction, a loss, a negative score; only
its ranking is used, so nothing is checked against 0..100 (NaN and inf are row errors).
Bad rows are skipped and reported one message each (row number and why; repeats of one
architecture share a message), so the user can fix the file; only a file that is
unusable as a whole raises ValueError.

User text reaches the page in: `UserTruth.errors` (cell snippets, the file name),
`UserTruth.values.name` (the value column's header) and every ValueError message
(header names); render them as plain text, never as Markdown or HTML.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ssnr_core.data import pinned
from ssnr_core.spaces import canonical, get_space

MAX_BYTES = 2_000_000
MAX_ROWS = 20_000
MAX_MESSAGES = 200  # beyond this, one summary line: a 20,000-row typo stays readable


@dataclass
class UserTruth:
    values: pd.Series  # float, indexed by canonical arch string
    errors: list[str] = field(default_factory=list)  # at most MAX_MESSAGES + 1 lines
    rows: int = 0  # data rows read
    skipped: int = 0  # data rows not used (errors may summarise them: count rows here)


def _text(data: bytes, max_bytes: int) -> str:
    """Decoded text with "\n" line ends: CRLF (Windows) and CR (old Mac exports) too."""
    if len(data) > max_bytes:
        raise ValueError(f"file is {len(data):,} bytes; the limit is {max_bytes:,}")
    if not data.strip():
        raise ValueError("file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"file is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _reader(text: str) -> Any:  # a csv reader object (its type is private)
    """Comma, semicolon or tab separated, whichever the header line uses most. Not '|':
    NB201 cell strings are full of it (and a sniffer guessing from the rows trips on them)."""
    header = text.split("\n", 1)[0]
    delimiter = max([",", ";", "\t"], key=header.count)
    return csv.reader(io.StringIO(text), delimiter=delimiter)


def _number(text: str) -> float | None:
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _is_arch(text: str, space: str) -> bool:
    try:
        canonical(space, text)
    except ValueError:  # also DataError
        return False
    return True


def _looks_like_data(names: list[str], space: str) -> bool:
    """A first line with an architecture in one cell and a number in another is a data
    row: the file has no header, and reading it as one would drop that row unseen."""
    archs = [i for i, name in enumerate(names) if name and _is_arch(name, space)]
    return any(_number(n) is not None for j, n in enumerate(names) for i in archs if i != j)


def columns(data: bytes, max_bytes: int = MAX_BYTES, space: str = "nb201") -> list[str]:
    """Header names of the CSV, for the column pickers; ValueError for a file whose first
    line is not a header (empty, repeated names, or a data row)."""
    header = next(_reader(_text(data, max_bytes)), None)
    names = [h.strip() for h in header or []]
    if not names or not any(names):
        raise ValueError("the first line must be a header naming the columns")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate column names in the header: {names}")
    if _looks_like_data(names, space):
        raise ValueError(
            "the first line is an architecture and a number, not a header: add a first "
            "line naming the columns (e.g. arch,accuracy) so that row is not lost"
        )
    return names


def _index_lookup(space: str) -> Callable[[str], str] | None:
    """For a space whose architectures have benchmark indices, a function from an index
    text to the canonical arch that reads the index table once (`canonical` would fetch
    it per row: 20x slower for an index-keyed file)."""
    if not get_space(space).indexed:
        return None
    table: list[object] = []

    def lookup(text: str) -> str:
        if not table:
            table.extend(pinned.nb201_cell_strings())
        index = int(text)
        if not 0 <= index < len(table):
            raise ValueError(f"benchmark index must be in 0..{len(table) - 1}, got {index}")
        cell = table[index]
        if not isinstance(cell, str) or not cell.strip():
            raise ValueError(f"benchmark index {index} has no architecture in the table")
        return canonical(space, cell)

    return lookup


def parse(
    data: bytes,
    arch_column: str,
    value_column: str,
    space: str = "nb201",
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
    filename: str | None = None,
) -> UserTruth:
    """Values by canonical architecture, plus one message per skipped row (one per
    repeated architecture, naming its rows and `filename`).

    Rows are numbered as a spreadsheet shows them: the header is row 1."""
    names = columns(data, max_bytes, space)
    for col in (arch_column, value_column):
        if col not in names:
            raise ValueError(f"no column {col!r}; the header has {', '.join(names)}")
    if arch_column == value_column:
        raise ValueError("pick different columns for the architecture and the value")
    a, v = names.index(arch_column), names.index(value_column)
    reader = _reader(_text(data, max_bytes))
    next(reader)
    by_index = _index_lookup(space)
    values: dict[str, float] = {}
    rows_of: dict[str, list[int]] = {}  # arch -> the rows naming it, the kept one first
    problems: list[tuple[int, str, int]] = []  # (row, message, rows it covers)
    count = 0
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank line
            count += 1
            if count > max_rows:
                raise ValueError(f"file has more than {max_rows:,} data rows; the limit")
            line = reader.line_num
            checked = _check_row(row, a, v, space, by_index)
            if isinstance(checked, str):
                problems.append((line, f"row {line}: {checked}", 1))
                continue
            arch, value = checked
            rows_of.setdefault(arch, []).append(line)
            values.setdefault(arch, value)
    except csv.Error as exc:
        raise ValueError(f"not a readable CSV file (line {reader.line_num}: {exc})") from None
    where = f" of {filename}" if filename else ""
    for kept, *repeats in (r for r in rows_of.values() if len(r) > 1):
        listed = ", ".join(map(str, repeats[:-1])) + (" and " if len(repeats) > 1 else "")
        label = f"row {repeats[0]}" if len(repeats) == 1 else f"rows {listed}{repeats[-1]}"
        message = f"{label}: the same architecture as row {kept}{where}; kept row {kept}"
        problems.append((repeats[0], message, len(repeats)))
    problems.sort()
    errors = [message for _, message, _ in problems[:MAX_MESSAGES]]
    skipped = count - len(values)
    if len(problems) > MAX_MESSAGES:
        rest = sum(n for *_, n in problems[MAX_MESSAGES:])
        errors.append(f"... and {rest:,} more rows skipped ({skipped:,} in all)")
    if not values:
        raise ValueError(
            "no usable rows" + (f"; first problem: {errors[0]}" if errors else " in the file")
        )
    series = pd.Series(values, dtype=float, name=value_column)
    series.index.name = "arch"
    return UserTruth(series, errors, count, skipped)


def _check_row(
    row: list[str], a: int, v: int, space: str, by_index: Callable[[str], str] | None = None
) -> str | tuple[str, float]:
    """(canonical arch, value), or why the row is unusable."""
    if len(row) <= max(a, v):
        return f"has {len(row)} fields; expected at least {max(a, v) + 1}"
    raw_arch, raw_value = row[a].strip(), row[v].strip()
    if not raw_arch:
        return "empty architecture"
    try:
        if by_index is not None and raw_arch.isascii() and raw_arch.isdigit():
            arch = by_index(raw_arch)
        else:
            arch = canonical(space, raw_arch)
    except ValueError as exc:  # also DataError: an index needs the benchmark table
        return f"bad architecture: {exc}"
    try:
        value = float(raw_value.rstrip("%"))
    except ValueError:
        return f"value {raw_value[:40]!r} is not a number"
    if not math.isfinite(value):
        return f"value {raw_value[:40]!r} is not a finite number"
    return arch, value


@dataclass(frozen=True)
class TruthFile:
    """A ground-truth CSV read from disk (the command line's `--truth file:PATH`): the same
    parser, checks and caps as an upload, and the file's identity for every report."""

    path: str
    sha256: str  # of the bytes read
    truth: UserTruth

    @property
    def label(self) -> str:
        column = self.truth.values.name
        return f"file {self.path} (SHA-256 {self.sha256}), column {column!r}"


def read_file(
    path: str | Path,
    arch_column: str | None = None,
    value_column: str | None = None,
    space: str = "nb201",
    max_bytes: int = MAX_BYTES,
) -> TruthFile:
    """Parse a CSV file like an upload; the columns default to the header's first two.
    ValueError (naming the file) when it cannot be read or used."""
    path = Path(path).expanduser()
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)  # one byte over the cap is enough to refuse it
    except OSError as exc:
        raise ValueError(f"cannot read ground-truth file {path}: {exc.strerror or exc}") from None
    try:
        names = columns(data, max_bytes, space)
        if arch_column is None or value_column is None:
            if len(names) < 2:
                raise ValueError("the header needs an architecture and a value column")
            arch_column = arch_column or names[0]
            value_column = value_column or next(n for n in names if n != arch_column)
        parsed = parse(data, arch_column, value_column, space, max_bytes, filename=path.name)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return TruthFile(str(path), hashlib.sha256(data).hexdigest(), parsed)
