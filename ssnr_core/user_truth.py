"""Bring-your-own ground truth: an uploaded CSV mapping NB201 architectures to a number.

The file comes from a browser, so it is treated as untrusted: a cap on bytes and
rows, text decoded strictly, nothing evaluated. Each row names an architecture
(official cell string, NASLib op tuple or benchmark index -- whatever
`spaces.canonical` accepts) and a value in a column the user picks. Bad rows are
skipped and reported one message each (row number and why), so the user can fix
the file; only a file that is unusable as a whole raises ValueError.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ssnr_core.spaces import canonical

MAX_BYTES = 2_000_000
MAX_ROWS = 20_000
MAX_MESSAGES = 200  # beyond this, one summary line: a 20,000-row typo stays readable


@dataclass
class UserTruth:
    values: pd.Series  # float, indexed by canonical arch string
    errors: list[str] = field(default_factory=list)
    rows: int = 0  # data rows read


def _text(data: bytes, max_bytes: int) -> str:
    if len(data) > max_bytes:
        raise ValueError(f"file is {len(data):,} bytes; the limit is {max_bytes:,}")
    if not data.strip():
        raise ValueError("file is empty")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"file is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _reader(text: str) -> Any:  # a csv reader object (its type is private)
    """Comma, semicolon or tab separated, whichever the header line uses most. Not '|':
    NB201 cell strings are full of it (and a sniffer guessing from the rows trips on them)."""
    header = text.split("\n", 1)[0]
    delimiter = max([",", ";", "\t"], key=header.count)
    return csv.reader(io.StringIO(text), delimiter=delimiter)


def columns(data: bytes, max_bytes: int = MAX_BYTES) -> list[str]:
    """Header names of the CSV, for the column pickers."""
    header = next(_reader(_text(data, max_bytes)), None)
    names = [h.strip() for h in header or []]
    if not names or not any(names):
        raise ValueError("the first line must be a header naming the columns")
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate column names in the header: {names}")
    return names


def parse(
    data: bytes,
    arch_column: str,
    value_column: str,
    space: str = "nb201",
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
) -> UserTruth:
    """Values by canonical architecture, plus one message per skipped row.

    Rows are numbered as a spreadsheet shows them: the header is row 1."""
    names = columns(data, max_bytes)
    for col in (arch_column, value_column):
        if col not in names:
            raise ValueError(f"no column {col!r}; the header has {', '.join(names)}")
    if arch_column == value_column:
        raise ValueError("pick different columns for the architecture and the value")
    a, v = names.index(arch_column), names.index(value_column)
    reader = _reader(_text(data, max_bytes))
    next(reader)
    values: dict[str, float] = {}
    first_row: dict[str, int] = {}
    errors: list[str] = []
    count = 0
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # blank line
            count += 1
            if count > max_rows:
                raise ValueError(f"file has more than {max_rows:,} data rows; the limit")
            line = reader.line_num
            problem = _check_row(row, a, v, space)
            if isinstance(problem, str):
                errors.append(f"row {line}: {problem}")
                continue
            arch, value = problem
            if arch in values:
                errors.append(
                    f"row {line}: {row[a].strip()!r} is the same architecture as row "
                    f"{first_row[arch]}; kept the first"
                )
                continue
            values[arch], first_row[arch] = value, line
    except csv.Error as exc:
        raise ValueError(f"not a readable CSV file (line {reader.line_num}: {exc})") from None
    if len(errors) > MAX_MESSAGES:
        errors = [*errors[:MAX_MESSAGES], f"... and {len(errors) - MAX_MESSAGES:,} more bad rows"]
    if not values:
        raise ValueError(
            "no usable rows" + (f"; first problem: {errors[0]}" if errors else " in the file")
        )
    series = pd.Series(values, dtype=float, name=value_column)
    series.index.name = "arch"
    return UserTruth(series, errors, count)


def _check_row(row: list[str], a: int, v: int, space: str) -> str | tuple[str, float]:
    """(canonical arch, value), or why the row is unusable."""
    if len(row) <= max(a, v):
        return f"has {len(row)} fields; expected at least {max(a, v) + 1}"
    raw_arch, raw_value = row[a].strip(), row[v].strip()
    if not raw_arch:
        return "empty architecture"
    try:
        arch = canonical(space, raw_arch)
    except ValueError as exc:  # also DataError: an index needs the benchmark table
        return f"bad architecture: {exc}"
    try:
        value = float(raw_value.rstrip("%"))
    except ValueError:
        return f"value {raw_value[:40]!r} is not a number"
    if not math.isfinite(value):
        return f"value {raw_value!r} is not a finite number"
    return arch, value
