"""Persistent cache of per-layer saliency statistics, one SQLite row per network.

Why SQLite: every finished architecture is committed at once (a killed run loses
at most the one in flight), WAL mode lets the app read while a scoring run
writes, and it ships with Python. Parquet files are immutable, so appending one
row per network would mean thousands of small files or rewriting a large one.
Rows hold float64 arrays as raw little-endian bytes: no pickling anywhere.

Why claims: two runs on one setup (two CLI runs, or app jobs for samples of 200
and 400 that overlap) would each compute every architecture the other has not
stored yet. Before computing, a run `claim`s the architectures it will do: a row
(setup, arch, pid, process start time) inserted with INSERT OR IGNORE in one
write transaction, so of two runs exactly one gets each architecture. A run skips
what a live process holds and asks again when its own share is done: by then
the other has stored them, or has died, and then its claims are stale (the pid is
gone, or reused by a process with another start time) and are taken over. `put`
drops the claim of each row it stores; `release` drops the rest (a run that
stops early).

Why the care with errors: the cache is the one thing a user cannot recompute
cheaply, so every failure is a `CacheError` (an OSError: the CLI prints one line)
that says what to do, and never changes what is stored: a damaged or old file is
left as it is, a read-only cache still serves what it holds (opened read-only, no
schema or journal-mode writes), and a full disk keeps every row committed before.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from urllib.parse import quote

import numpy as np

from ssnr_core.proxies.setup import Setup
from ssnr_core.runs.processes import process_alive, process_start

COLUMNS = (  # of the stats table: `Setup`'s fields, then the architecture and its statistics
    *("space", "task", "saliency", "seed", "batch", "dtype", "version", "init"),
    *("arch", "layers"),
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS stats (
    space TEXT, task TEXT, saliency TEXT, seed INTEGER, batch TEXT, dtype TEXT,
    version TEXT, init TEXT NOT NULL DEFAULT 'slot', arch TEXT, layers BLOB NOT NULL,
    PRIMARY KEY (space, task, saliency, seed, batch, dtype, version, init, arch)
)
"""
_CLAIMS = """
CREATE TABLE IF NOT EXISTS claims (
    setup TEXT, arch TEXT, pid INTEGER, pid_start TEXT, time REAL,
    PRIMARY KEY (setup, arch)
)
"""
TIMEOUT_S = 30.0  # how long a statement waits for another process's write lock


def _migrate(con: sqlite3.Connection) -> None:
    """A cache made before `Setup.init` existed holds slot-initialised rows: rebuild its
    table with the `init` column in the key (ALTER TABLE cannot change a primary key)."""
    con.execute("ALTER TABLE stats RENAME TO stats_old")
    con.execute(_SCHEMA)
    old = ", ".join(c for c in COLUMNS if c != "init")
    con.execute(f"INSERT INTO stats ({old}) SELECT {old} FROM stats_old")
    con.execute("DROP TABLE stats_old")


def _pack(stats: np.ndarray) -> bytes:
    return np.ascontiguousarray(stats, dtype="<f8").tobytes()


def _unpack(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f8").reshape(-1, 3)


def _key(setup: Setup) -> str:
    """A setup's claims key: that of the setup its rows are stored under (`Setup.stored`)."""
    return setup.stored.to_json()


def _where(setup: Setup) -> tuple[str, tuple]:
    """The SQL condition selecting one setup's rows (`Setup.stored`'s), and its parameters."""
    fields = asdict(setup.stored)
    return " AND ".join(f"{k} = ?" for k in fields), tuple(fields.values())


class CacheError(OSError):
    """The cache cannot be opened, read or written; the message says which file, why,
    and what to do."""


def _explain(path: Path, exc: sqlite3.Error) -> CacheError:
    text = str(exc)
    low = text.lower()
    if "not a database" in low or "malformed" in low or "encrypted" in low:
        return CacheError(
            f"cache file {path} is not a SQLite database (damaged? {text}): move it away "
            "and rerun to start a new cache; nothing else was changed"
        )
    if "readonly" in low or "read-only" in low:
        return CacheError(
            f"cache {path} is read-only ({text}): new results cannot be stored; make it "
            "writable or set SSNR_CACHE_DIR to a writable folder"
        )
    if "disk" in low and ("full" in low or "i/o" in low):
        return CacheError(
            f"cannot write to cache {path} ({text}: is the disk full or a file-size limit "
            "reached?): every result stored before is kept; free space and rerun to resume"
        )
    if "locked" in low or "busy" in low:
        return CacheError(
            f"cache {path} stayed locked by another process for {TIMEOUT_S:.0f} s ({text}); "
            "rerun when it is done"
        )
    if "unable to open" in low:
        return CacheError(
            f"cannot open cache {path} ({text}): check that its folder exists and is "
            "readable, or set SSNR_CACHE_DIR"
        )
    return CacheError(f"cache {path}: {text}")


class Cache:
    """The statistics of one SQLite file (`Settings.cache_file`). A file or folder this
    process may not write is opened read-only: reads work, `put` and `claim` do not."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create the cache folder {self.path.parent}: {exc}") from None
        exists = self.path.exists()
        self.readonly = not os.access(self.path.parent, os.W_OK) or (
            exists and not os.access(self.path, os.W_OK)
        )
        if self.readonly and not exists:
            raise CacheError(
                f"cache folder {self.path.parent} is read-only and holds no cache yet: make "
                "it writable or set SSNR_CACHE_DIR to a writable folder"
            )
        with self._connect() as con:
            tables = {
                r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
            tables = {t for t in tables if not t.startswith("sqlite_")}
            if tables - {"stats", "claims"} or (tables and "stats" not in tables):
                raise CacheError(
                    f"{self.path} is an SQLite file but not an ssnr_core cache (tables: "
                    f"{', '.join(sorted(tables))}): nothing was changed; move it away or set "
                    "SSNR_CACHE_DIR to another folder"
                )
            if "stats" in tables:
                self._check_columns(con)
            if self.readonly:
                if "stats" not in tables:
                    raise CacheError(f"cache {self.path} is read-only and holds no statistics")
                return
            if con.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                con.execute("PRAGMA journal_mode=WAL")
            if not {"stats", "claims"} <= tables:
                con.execute(_SCHEMA)
                con.execute(_CLAIMS)

    def _check_columns(self, con: sqlite3.Connection) -> None:
        found = tuple(r[1] for r in con.execute("PRAGMA table_info(stats)"))
        if set(found) == set(COLUMNS) - {"init"} and not self.readonly:
            _migrate(con)  # from before `Setup.init`: every row was slot-initialised
            return
        key = {r[1] for r in con.execute("PRAGMA table_info(stats)") if r[5]}
        if set(found) != set(COLUMNS) or key != set(COLUMNS) - {"layers"}:
            raise CacheError(
                f"cache {self.path} was written by another version of ssnr_core (columns "
                f"{', '.join(found)}, key {', '.join(sorted(key)) or 'none'}; this one needs "
                f"{', '.join(COLUMNS)}, keyed by all but layers): move it away and "
                "rerun to start a new cache, or set SSNR_CACHE_DIR; nothing was changed"
            )

    def _open(self) -> sqlite3.Connection:
        if not self.readonly:
            return sqlite3.connect(self.path, timeout=TIMEOUT_S)
        uri = f"file:{quote(str(self.path.absolute()))}?mode=ro"
        con = sqlite3.connect(uri, uri=True, timeout=TIMEOUT_S)
        try:
            con.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            return con
        except sqlite3.OperationalError:
            # A WAL file whose folder we cannot write and whose -shm index is gone (its
            # last writer closed it cleanly): read the file as it stands.
            con.close()
            return sqlite3.connect(f"{uri}&immutable=1", uri=True, timeout=TIMEOUT_S)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection whose every SQLite error, also one raised while the caller's
        block runs (a `put` generator's), becomes a CacheError naming the file."""
        try:
            con = self._open()
            try:
                if not self.readonly:
                    con.execute("PRAGMA synchronous=NORMAL")
                with con:
                    yield con
            finally:
                con.close()
        except sqlite3.Error as exc:
            raise _explain(self.path, exc) from None

    def _read_only_error(self) -> CacheError:
        return CacheError(
            f"cache {self.path} is read-only: new results cannot be stored; make it "
            "writable or set SSNR_CACHE_DIR to a writable folder"
        )

    def get(self, setup: Setup, archs: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Cached statistics for `setup`, for all archs or only those asked for."""
        where, key = _where(setup)
        with self._connect() as con:
            rows = con.execute(f"SELECT arch, layers FROM stats WHERE {where}", key).fetchall()
        try:
            found = {arch: _unpack(blob) for arch, blob in rows}
        except (ValueError, TypeError):
            raise CacheError(
                f"cache file {self.path} holds a damaged row for {setup}: move the file away "
                "and rerun to start a new cache; nothing was changed"
            ) from None
        if archs is None:
            return found
        return {a: found[a] for a in archs if a in found}

    def count(self, setup: Setup) -> int:
        where, key = _where(setup)
        with self._connect() as con:
            return con.execute(f"SELECT COUNT(*) FROM stats WHERE {where}", key).fetchone()[0]

    def put(self, setup: Setup, results: Iterable[tuple[str, np.ndarray]]) -> int:
        """Store results as they come, committing each one (and dropping its claim);
        returns how many. Nothing is asked of a read-only cache until a result comes."""
        n = 0
        claim_key = _key(setup)
        with self._connect() as con:
            for arch, stats in results:
                if self.readonly:
                    raise self._read_only_error()
                con.execute(
                    f"INSERT OR REPLACE INTO stats ({', '.join(COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(COLUMNS))})",
                    (*asdict(setup.stored).values(), arch, _pack(stats)),
                )
                con.execute("DELETE FROM claims WHERE setup = ? AND arch = ?", (claim_key, arch))
                con.commit()
                n += 1
        return n

    def claim(self, setup: Setup, archs: Iterable[str], owner: int | None = None) -> list[str]:
        """Of `archs`, those not yet cached that `owner` (a pid; default this process)
        may now compute: unclaimed ones, its own, and those of dead processes. The rest
        are held by live runs: ask again once these are stored. A read-only cache
        records nothing and returns every uncached arch."""
        pid = os.getpid() if owner is None else owner
        start = process_start(pid)
        wanted = list(dict.fromkeys(archs))
        where, params = _where(setup)
        key, now = _key(setup), time.time()
        with self._connect() as con:
            if not self.readonly:  # one writer at a time, from reading what is stored on
                con.execute("BEGIN IMMEDIATE")
            stored = con.execute(f"SELECT arch FROM stats WHERE {where}", params)
            cached = {a for (a,) in stored}  # names only: no statistics to unpack
            todo = [a for a in wanted if a not in cached]
            if self.readonly or not todo:
                return todo
            holders = con.execute(
                "SELECT DISTINCT pid, pid_start FROM claims WHERE setup = ?", (key,)
            ).fetchall()
            for other, other_start in holders:
                if (other, other_start) != (pid, start) and not process_alive(other, other_start):
                    con.execute(
                        "DELETE FROM claims WHERE setup = ? AND pid = ? AND pid_start IS ?",
                        (key, other, other_start),
                    )
            con.executemany(
                "INSERT OR IGNORE INTO claims VALUES (?, ?, ?, ?, ?)",
                [(key, a, pid, start, now) for a in todo],
            )
            mine = {
                a
                for (a,) in con.execute(
                    "SELECT arch FROM claims WHERE setup = ? AND pid = ? AND pid_start IS ?",
                    (key, pid, start),
                )
            }
            con.commit()
        return [a for a in todo if a in mine]

    def release(
        self, setup: Setup, archs: Iterable[str] | None = None, owner: int | None = None
    ) -> int:
        """Drop `owner`'s claims on `archs` (default: all of its claims for `setup`), so
        that other runs take over what it will not compute; returns how many."""
        if self.readonly:
            return 0
        pid = os.getpid() if owner is None else owner
        key = _key(setup)
        where = "setup = ? AND pid = ?"
        with self._connect() as con:
            if archs is None:
                return con.execute(f"DELETE FROM claims WHERE {where}", (key, pid)).rowcount
            cur = con.executemany(
                f"DELETE FROM claims WHERE {where} AND arch = ?", [(key, pid, a) for a in archs]
            )
            return cur.rowcount

    def claimed(self, setup: Setup) -> dict[str, int]:
        """Architectures of `setup` held by live runs, with their pids (for progress)."""
        with self._connect() as con:
            if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'claims'").fetchone():
                return {}
            rows = con.execute(
                "SELECT arch, pid, pid_start FROM claims WHERE setup = ?", (_key(setup),)
            ).fetchall()
        return {arch: pid for arch, pid, start in rows if process_alive(pid, start)}

    def holders(self, setup: Setup) -> dict[int, int]:
        """Live runs holding claims on `setup`'s architectures: pid -> how many."""
        out: dict[int, int] = {}
        for pid in self.claimed(setup).values():
            out[pid] = out.get(pid, 0) + 1
        return out

    def take_over(self, setup: Setup, pids: Iterable[int]) -> int:
        """Drop the claims these (stopped) runs hold on `setup`, so that this run computes
        their architectures; returns how many were dropped."""
        if self.readonly:
            return 0
        key = _key(setup)
        with self._connect() as con:
            cur = con.executemany(
                "DELETE FROM claims WHERE setup = ? AND pid = ?", [(key, pid) for pid in pids]
            )
            return cur.rowcount

    def setups(self) -> list[tuple[Setup, int]]:
        """What the cache holds: each setup with its number of architectures. Rows of a
        measure's older protocol (a setup made from them names today's protocol, so it
        would not find them) are left out: no current setup reads them."""
        cols = ", ".join(Setup.__dataclass_fields__)
        with self._connect() as con:
            rows = con.execute(f"SELECT {cols}, COUNT(*) FROM stats GROUP BY {cols}").fetchall()
        found = [(Setup(*row[:-1]), row) for row in rows]
        return [
            (setup, row[-1]) for setup, row in found if tuple(asdict(setup).values()) == row[:-1]
        ]
