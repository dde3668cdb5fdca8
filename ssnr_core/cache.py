"""Persistent cache of per-layer saliency statistics, one SQLite row per network.

Why SQLite: every finished architecture is committed at once (a killed run loses
at most the one in flight), WAL mode lets the app read while a scoring run
writes, and it ships with Python. Parquet files are immutable, so appending one
row per network would mean thousands of small files or rewriting a large one.
Rows hold float64 arrays as raw little-endian bytes: no pickling anywhere.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ssnr_core.setup import Setup

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stats (
    space TEXT, task TEXT, saliency TEXT, seed INTEGER, batch TEXT, dtype TEXT,
    version TEXT, init TEXT NOT NULL DEFAULT 'slot', arch TEXT, layers BLOB NOT NULL,
    PRIMARY KEY (space, task, saliency, seed, batch, dtype, version, init, arch)
)
"""
_COLUMNS = "space, task, saliency, seed, batch, dtype, version, init, arch, layers"


def _migrate(con: sqlite3.Connection) -> None:
    """A cache made before `Setup.init` existed holds slot-initialised rows: rebuild its
    table with the `init` column in the key (ALTER TABLE cannot change a primary key)."""
    cols = [row[1] for row in con.execute("PRAGMA table_info(stats)")]
    if cols and "init" not in cols:
        con.execute("ALTER TABLE stats RENAME TO stats_old")
        con.execute(_SCHEMA)
        old = _COLUMNS.replace("init, ", "")
        con.execute(f"INSERT INTO stats ({old}) SELECT {old} FROM stats_old")
        con.execute("DROP TABLE stats_old")


def _pack(stats: np.ndarray) -> bytes:
    return np.ascontiguousarray(stats, dtype="<f8").tobytes()


def _unpack(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f8").reshape(-1, 3)


def _where(setup: Setup) -> tuple[str, tuple]:
    """The SQL condition selecting one setup's rows, and its parameters."""
    fields = asdict(setup)
    return " AND ".join(f"{k} = ?" for k in fields), tuple(fields.values())


class CacheError(OSError):
    """The cache cannot be opened, read or written; the message says which file and why."""


class Cache:
    """The statistics of one SQLite file (`Settings.cache_file`)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create the cache folder {self.path.parent}: {exc}") from None
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            _migrate(con)
            con.execute(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            con = sqlite3.connect(self.path, timeout=30)
            try:
                con.execute("PRAGMA synchronous=NORMAL")
                with con:
                    yield con
            finally:
                con.close()
        except sqlite3.Error as exc:
            raise CacheError(f"cache {self.path}: {exc}") from None

    def get(self, setup: Setup, archs: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Cached statistics for `setup`, for all archs or only those asked for."""
        where, key = _where(setup)
        with self._connect() as con:
            rows = con.execute(f"SELECT arch, layers FROM stats WHERE {where}", key).fetchall()
        found = {arch: _unpack(blob) for arch, blob in rows}
        if archs is None:
            return found
        return {a: found[a] for a in archs if a in found}

    def count(self, setup: Setup) -> int:
        where, key = _where(setup)
        with self._connect() as con:
            return con.execute(f"SELECT COUNT(*) FROM stats WHERE {where}", key).fetchone()[0]

    def put(self, setup: Setup, results: Iterable[tuple[str, np.ndarray]]) -> int:
        """Store results as they come, committing each one; returns how many."""
        n = 0
        with self._connect() as con:
            for arch, stats in results:
                con.execute(
                    f"INSERT OR REPLACE INTO stats ({_COLUMNS}) VALUES ({', '.join('?' * 10)})",
                    (*asdict(setup).values(), arch, _pack(stats)),
                )
                con.commit()
                n += 1
        return n

    def setups(self) -> list[tuple[Setup, int]]:
        """What the cache holds: each setup with its number of architectures."""
        cols = ", ".join(Setup.__dataclass_fields__)
        with self._connect() as con:
            rows = con.execute(f"SELECT {cols}, COUNT(*) FROM stats GROUP BY {cols}").fetchall()
        return [(Setup(*row[:-1]), row[-1]) for row in rows]
