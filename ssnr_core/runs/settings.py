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

from ssnr_core.runs.backend import Backend
from ssnr_core.runs.pool import LocalPool
from ssnr_core.runs.ray_backend import RayBackend

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Settings:
    """`data_dir`: the user's data folder: `fetch` and `import-nb201` write there, and a
    public ground-truth file found there is read instead of the copy bundled with the
    package (both are checked against the same SHA-256). `cache_dir`: the SQLite cache
    and the app's job files. `workers`: scoring processes of the local pool. `device`:
    where networks are computed ("cpu", "cuda", "cuda:1"). `ray`: run on a Ray cluster
    instead of the local pool. `pack`: the app shows the bundled pack's scores for the
    setups it holds (off: the cache alone, e.g. to watch a live scoring run)."""

    data_dir: Path = PROJECT_ROOT / "data"
    cache_dir: Path = PROJECT_ROOT / "cache"
    workers: int = field(default_factory=usable_cores)
    device: str = "cpu"
    ray: RayBackend | None = None
    pack: bool = True  # the app may show the bundled pack (`studies.pack`) for its setups

    @property
    def backend(self) -> Backend:
        """Where the architectures a cache lacks are computed."""
        return self.ray if self.ray is not None else LocalPool(self.workers)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """`SSNR_DATA_DIR`, `SSNR_CACHE_DIR`, `SSNR_WORKERS`, `SSNR_PACK` (0: the app
        reads the cache alone, never the bundled pack), each optional."""
        settings = cls()
        if env.get("SSNR_DATA_DIR"):
            settings = replace(settings, data_dir=Path(env["SSNR_DATA_DIR"]).expanduser())
        if env.get("SSNR_CACHE_DIR"):
            settings = replace(settings, cache_dir=Path(env["SSNR_CACHE_DIR"]).expanduser())
        if env.get("SSNR_PACK", "").lower() in ("0", "off", "no"):
            settings = replace(settings, pack=False)
        if env.get("SSNR_WORKERS", "").isdigit():
            settings = replace(settings, workers=max(1, int(env["SSNR_WORKERS"])))
        return settings

    @property
    def cache_file(self) -> Path:
        return self.cache_dir / "stats.sqlite"

    @property
    def jobs_dir(self) -> Path:
        return self.cache_dir / "jobs"
