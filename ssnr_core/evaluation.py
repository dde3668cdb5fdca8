"""Score a sample of a benchmark and correlate every aggregation with its ground truth."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ssnr_core import aggregation, batches, benchmarks, correlation, scoring
from ssnr_core.cache import Cache
from ssnr_core.ray_backend import RayBackend
from ssnr_core.setup import Setup


def sample(
    space: str,
    task: str,
    n: int | None = None,
    seed: int = 0,
    source: str | None = None,
    data_dir: Path | None = None,
) -> list[str]:
    """n archs with ground truth, drawn by a seeded permutation (so a smaller sample is
    a subset of a larger one and shares its cache); all of them when n is None."""
    return draw(benchmarks.truth(space, task, source, data_dir).index.tolist(), n, seed)


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


def correlate(
    table: pd.DataFrame, truth: pd.Series, n_boot: int = 1000, seed: int = 0
) -> dict[str, correlation.Summary]:
    """{score column: summary} against the truth of the archs in `table`."""
    y = truth.reindex(table.index).to_numpy()
    return {
        name: correlation.summary(table[name].to_numpy(), y, n_boot, seed) for name in table.columns
    }


@dataclass(frozen=True)
class Evaluation:
    """Correlations of every score with one ground truth, and what they were computed on."""

    setup: Setup
    truth: str  # what the ground truth is (label)
    summaries: dict[str, correlation.Summary]  # score name -> summary

    @property
    def batch(self) -> str:
        return batches.describe(self.setup.batch, self.setup.seed)

    @property
    def n(self) -> int:
        return max((s.n for s in self.summaries.values()), default=0)

    def table(self) -> pd.DataFrame:
        """One row per score: n, Spearman and Kendall with intervals, top-10% precision."""
        rows = {name: s.row() for name, s in self.summaries.items()}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("score")

    def to_json(self) -> dict:
        """The `evaluate --json` object."""
        s = self.summaries
        return {
            "benchmark": self.setup.space,
            "task": self.setup.task,
            "saliency": self.setup.saliency,
            "seed": self.setup.seed,
            "batch": self.setup.batch,
            "batch_label": self.batch,
            "truth": self.truth,
            "n": self.n,
            "dropped": {k: v.dropped for k, v in s.items()},
            "spearman": {k: v.spearman for k, v in s.items()},
            "kendall": {k: v.kendall for k, v in s.items()},
            "ci95": {
                k: {"spearman": v.spearman_ci95, "kendall": v.kendall_ci95} for k, v in s.items()
            },
            "top10%_precision": {k: v.top10_precision for k, v in s.items()},
        }


def evaluate(
    setup: Setup,
    cache: Cache,
    n: int | None = None,
    source: str | None = None,
    n_boot: int = 1000,
    workers: int = 1,
    device: str = "cpu",
    progress: scoring.Progress | None = None,
    data_dir: Path | None = None,
    backend: RayBackend | None = None,
) -> Evaluation:
    """Score what the cache lacks for the sample (on Ray when a backend is given), then
    correlate."""
    archs = sample(setup.space, setup.task, n, setup.seed, source, data_dir)
    stats = scoring.score(setup, archs, cache, workers, device, progress, data_dir, backend)
    truth = benchmarks.truth(setup.space, setup.task, source, data_dir)
    source = source or benchmarks.get_task(setup.space, setup.task).sources[0]
    summaries = correlate(score_table(stats), truth, n_boot, setup.seed)
    return Evaluation(setup, benchmarks.source_label(setup.space, setup.task, source), summaries)
