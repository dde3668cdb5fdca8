"""One settings value per run: where user data and the cache live, where scoring runs.

Read from the environment once, at the edge (`Settings.from_env` in the CLI's `main`
and the app's entry point), then passed down; nothing below the edge reads the
environment, so a test or an app session can hold its own settings side by side.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ssnr_core.data.paths import user_path
from ssnr_core.runs.backend import Backend
from ssnr_core.runs.pool import LocalPool
from ssnr_core.runs.ray_backend import RayBackend

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKERS_PER_CORE = 4  # the most worker processes per usable core (`--workers`, SSNR_WORKERS)
MAX_JOBS = 16  # the most background scoring jobs one server may run at once (SSNR_MAX_JOBS)


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def max_workers() -> int:
    """The bound on worker processes, for the flag and the setting alike."""
    return WORKERS_PER_CORE * usable_cores()


class SettingsError(ValueError):
    """A setting from the environment cannot be used; the message names the variable."""


def _folder(name: str, text: str) -> Path:
    """An absolute folder path: made absolute here, once, so that processes started in
    another working directory (the app's jobs) see the same folder as their parent."""
    try:
        return user_path(text, name)
    except ValueError as exc:
        raise SettingsError(str(exc)) from None


def _switch(name: str, text: str) -> bool:
    """An on/off setting: 1 or 0."""
    if text.strip() not in ("0", "1"):
        raise SettingsError(f"{name} must be 0 or 1, got {text.strip()[:40]!r}")
    return text.strip() == "1"


def _count(name: str, text: str, hi: int, why: str) -> int:
    """An integer setting in 1..hi, with the same bound as its command-line flag."""
    try:
        value = int(text.strip())
    except ValueError:
        value = None
    if value is None or not 1 <= value <= hi:
        raise SettingsError(f"{name}={text!r}: must be an integer in 1..{hi} ({why})")
    return value


@dataclass(frozen=True)
class Settings:
    """`data_dir`: the user's data folder: `fetch` and `import-nb201` write there, and a
    public ground-truth file found there is read instead of the copy bundled with the
    package (both are checked against the same SHA-256). `cache_dir`: the SQLite cache
    and the app's job files. `workers`: scoring processes of the local pool. `device`:
    where networks are computed ("cpu", "cuda", "cuda:1"). `ray`: run on a Ray cluster
    instead of the local pool. `max_jobs`: how many of the app's background scoring jobs
    run at once (each uses `workers` processes); the others wait in a queue. `pack`: the
    app shows the bundled pack's scores for the setups it holds (off: the cache alone,
    e.g. to watch a live scoring run)."""

    data_dir: Path = PROJECT_ROOT / "data"
    cache_dir: Path = PROJECT_ROOT / "cache"
    workers: int = field(default_factory=usable_cores)
    device: str = "cpu"
    ray: RayBackend | None = None
    max_jobs: int = 1  # background scoring jobs one server runs at once; the rest queue
    take_over: bool = False  # compute what stopped runs (Ctrl-Z) claimed instead of stopping
    pack: bool = True  # the app may show the bundled pack (`studies.pack`) for its setups

    @property
    def backend(self) -> Backend:
        """Where the architectures a cache lacks are computed."""
        return self.ray if self.ray is not None else LocalPool(self.workers)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """`SSNR_DATA_DIR`, `SSNR_CACHE_DIR` (absolute paths from here on),
        `SSNR_WORKERS`, `SSNR_MAX_JOBS`, `SSNR_PACK` (0: the app reads the cache alone,
        never the bundled pack; 1: the default), each optional; SettingsError for a value
        that cannot be used (never silently ignored)."""
        settings = cls()
        if env.get("SSNR_DATA_DIR"):
            settings = replace(settings, data_dir=_folder("SSNR_DATA_DIR", env["SSNR_DATA_DIR"]))
        if env.get("SSNR_CACHE_DIR"):
            cache_dir = _folder("SSNR_CACHE_DIR", env["SSNR_CACHE_DIR"])
            settings = replace(settings, cache_dir=cache_dir)
        if env.get("SSNR_WORKERS", "").strip():
            why = f"{WORKERS_PER_CORE} x the {usable_cores()} usable cores"
            workers = _count("SSNR_WORKERS", env["SSNR_WORKERS"], max_workers(), why)
            settings = replace(settings, workers=workers)
        if env.get("SSNR_MAX_JOBS", "").strip():
            why = "background scoring jobs at once"
            max_jobs = _count("SSNR_MAX_JOBS", env["SSNR_MAX_JOBS"], MAX_JOBS, why)
            settings = replace(settings, max_jobs=max_jobs)
        if env.get("SSNR_PACK", "").strip():
            settings = replace(settings, pack=_switch("SSNR_PACK", env["SSNR_PACK"]))
        return settings

    @property
    def cache_file(self) -> Path:
        return self.cache_dir / "stats.sqlite"

    @property
    def jobs_dir(self) -> Path:
        return self.cache_dir / "jobs"
