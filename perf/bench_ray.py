"""Local pool vs Ray on a local instance: archs/s for NB201 CIFAR-10 synflow.

Each run scores a fresh cache (seed-0 sample of --n cells) through `scoring.score`, as
the CLI does, and reports the wall time including start-up (spawning the pool, or
starting Ray and its workers) and the steady rate: architectures after the first
result over the time after it.

    python perf/bench_ray.py --n 600 --workers 2 --chunks 32 8 1
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ssnr_core.proxies.setup import Setup
from ssnr_core.runs import scoring
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.ray_backend import RayBackend
from ssnr_core.runs.settings import Settings
from ssnr_core.runs.threads import set_threads
from ssnr_core.studies import evaluation

SETUP = Setup("nb201", "cifar10", "synflow")


def run(archs: list[str], workers: int, backend: RayBackend | None) -> tuple[float, float]:
    """(wall seconds including start-up, steady archs/s)."""
    seen: list[tuple[float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = Cache(Path(tmp) / "stats.sqlite")
        start = time.perf_counter()
        if backend is None:
            scoring.score(
                SETUP,
                archs,
                cache,
                settings=Settings(workers=workers),
                progress=lambda d, t: seen.append((time.perf_counter(), d)),
            )
        else:
            with backend.connected():
                scoring.score(
                    SETUP,
                    archs,
                    cache,
                    settings=Settings(ray=backend),
                    progress=lambda d, t: seen.append((time.perf_counter(), d)),
                )
        end = time.perf_counter()
    first_t, first_n = next((t, d) for t, d in seen if d > 0)
    return end - start, (len(archs) - first_n) / (end - first_t)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--n", type=int, default=600)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--chunks", type=int, nargs="+", default=[32])
    args = p.parse_args()
    set_threads(1)
    archs = evaluation.sample(SETUP.space, SETUP.task, args.n, 0)
    rows = [("local pool", None)]
    rows += [(f"ray, chunk {c}", RayBackend(chunk=c, local_cpus=args.workers)) for c in args.chunks]
    print(f"| {args.n} archs, {args.workers} workers | wall s (with start-up) | archs/s steady |")
    print("|---|---:|---:|")
    for label, backend in rows:
        wall, rate = run(archs, args.workers, backend)
        print(f"| {label} | {wall:.1f} | {rate:.1f} |", flush=True)


if __name__ == "__main__":
    main()
