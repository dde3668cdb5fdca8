"""Score a sample of a benchmark and correlate every aggregation with its ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ssnr_core import aggregation, benchmarks, correlation, scoring
from ssnr_core.cache import Cache, Setup


def sample(
    benchmark: str, task: str, n: int | None = None, seed: int = 0, source: str | None = None
) -> list[str]:
    """n archs with ground truth, drawn by a seeded permutation (so a smaller sample is
    a subset of a larger one and shares its cache); all of them when n is None."""
    return draw(benchmarks.truth(benchmark, task, source).index.tolist(), n, seed)


def draw(archs: list[str], n: int | None, seed: int) -> list[str]:
    """The seeded draw behind `sample`, for any list (e.g. an uploaded ground truth)."""
    if n is None or n >= len(archs):
        return archs
    if n < 1:
        raise ValueError(f"sample size must be at least 1, got {n}")
    order = np.random.default_rng(seed).permutation(len(archs))[:n]
    return [archs[i] for i in sorted(order)]


def score_table(stats: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per arch, one column per aggregation."""
    return pd.DataFrame(
        aggregation.aggregate_all(list(stats.values())), index=pd.Index(list(stats), name="arch")
    )


def correlate(table: pd.DataFrame, truth: pd.Series, n_boot: int = 1000, seed: int = 0) -> dict:
    """{aggregation: correlation.summary} against the truth of the archs in `table`."""
    y = truth.reindex(table.index).to_numpy()
    return {
        name: correlation.summary(table[name].to_numpy(), y, n_boot, seed) for name in table.columns
    }


def evaluate(
    setup: Setup,
    n: int | None = None,
    source: str | None = None,
    n_boot: int = 1000,
    cache: Cache | None = None,
    workers: int = 1,
    device: str = "cpu",
    progress: scoring.Progress | None = None,
) -> dict:
    """Score what the cache lacks for the sample, then correlate (the `evaluate` JSON)."""
    archs = sample(setup.space, setup.task, n, setup.seed, source)
    stats = scoring.score(setup, archs, cache, workers, device, progress)
    table = score_table(stats)
    truth = benchmarks.truth(setup.space, setup.task, source)
    result = correlate(table, truth, n_boot, setup.seed)
    source = source or benchmarks.get_task(setup.space, setup.task).sources[0]
    first = next(iter(result.values()))
    return {
        "benchmark": setup.space,
        "task": setup.task,
        "saliency": setup.saliency,
        "seed": setup.seed,
        "batch": setup.batch,
        "truth": benchmarks.SOURCE_LABELS[source],
        "n": first["n"],
        "dropped": {k: v["dropped"] for k, v in result.items()},
        "spearman": {k: v["spearman"] for k, v in result.items()},
        "kendall": {k: v["kendall"] for k, v in result.items()},
        "ci95": {
            k: {"spearman": v["spearman_ci95"], "kendall": v["kendall_ci95"]}
            for k, v in result.items()
        },
        "top10%_precision": {k: v["top10%_precision"] for k, v in result.items()},
    }
