"""Score a sample of a benchmark and correlate every aggregation with its ground truth."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from ssnr_core import benchmarks
from ssnr_core.data import pinned
from ssnr_core.proxies import aggregation, batches, zero_cost
from ssnr_core.proxies.setup import INITS, Setup
from ssnr_core.runs import scoring
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.settings import Settings
from ssnr_core.studies import baselines, correlation, naslib

SEED_AVERAGE = "mean of per-seed ranks"  # how scores of several seeds are combined
Paired = dict[str, tuple[float, float, float]]  # statistic -> (delta, lo, hi)


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
    """The seeded draw behind `sample`, for any list (e.g. an uploaded ground truth): the
    first n of `draw_order`, in their original order."""
    if n is None or n >= len(archs):
        return archs
    if n < 1:
        raise ValueError(f"sample size must be at least 1, got {n}")
    return [archs[i] for i in sorted(draw_order(len(archs), seed)[:n])]


def draw_order(size: int, seed: int) -> np.ndarray:
    """The order in which `draw` takes architectures: the sample of n is the first n, so
    a sample is wholly cached exactly when a prefix of this order is."""
    return np.random.default_rng(seed).permutation(size)


WEIGHTS = "weights"  # `score_table`'s optional column: scored values per network


def score_table(
    stats: dict[str, np.ndarray], saliency: str | None = None, *, weights: bool = False
) -> pd.DataFrame:
    """One row per arch, one column per aggregation, and with `weights` the number of
    values each network's scores sum over (shown on hover); no rows for no stats. For a
    per-network measure (`zero_cost`) its own score and components instead of the
    aggregations, which do not apply to it."""
    columns = [*score_names(saliency or ""), *([WEIGHTS] if weights else [])]
    if not stats:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="arch"), dtype=float)
    values = list(stats.values())
    measure = saliency is not None and zero_cost.get(saliency) is not None
    if measure:
        found = zero_cost.scores(str(saliency), values)
    else:
        found = aggregation.aggregate_all(values)
    table = pd.DataFrame(found, index=pd.Index(list(stats), name="arch"))
    if weights:  # a measure's rows are its components, not layers: no weights to count
        table[WEIGHTS] = np.nan if measure else aggregation.merge_all(values)[:, aggregation.COUNT]
    return table[columns]


def score_names(saliency: str) -> tuple[str, ...]:
    """The score columns of `saliency`'s table: the three aggregations, or a per-network
    measure's own score and components."""
    return zero_cost.score_names(saliency) or tuple(aggregation.AGGREGATIONS)


def correlate(
    table: pd.DataFrame, truth: pd.Series, n_boot: int = 1000, seed: int = 0
) -> dict[str, correlation.Summary]:
    """{score column: summary} against the truth of the archs in `table`."""
    y = truth.reindex(table.index).to_numpy()
    return {
        name: correlation.summary(table[name].to_numpy(), y, n_boot, seed) for name in table.columns
    }


def combine_name(parts: Sequence[str]) -> str:
    return "+".join(parts)


def parse_combine(text: str) -> tuple[str, ...]:
    """Parse "layerwise_ssnr,params" into ("layerwise_ssnr", "params"); ValueError for an
    unknown score or fewer than two."""
    parts = tuple(p.strip() for p in text.split(",") if p.strip())
    known = (*aggregation.AGGREGATIONS, *baselines.NAMES)
    unknown = [p for p in parts if p not in known]
    if unknown or len(parts) < 2:
        raise ValueError(
            f"--combine takes two or more of {', '.join(known)}, comma-separated; got {text!r}"
        )
    return parts


def with_combinations(table: pd.DataFrame, combine: Sequence[Sequence[str]]) -> pd.DataFrame:
    """`table` plus one mean-of-ranks column per combination (named "a+b")."""
    out = table.copy()
    for parts in combine:
        cols = [table[p].to_numpy() for p in parts]
        out[combine_name(parts)] = correlation.rank_mean(cols)
    return out


def seed_average(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """One table from per-seed tables (same rows and columns): a column that is the same
    for every seed (params, flops) is kept as is; any other is the mean of its per-seed
    ranks. Ranks, not raw values or z-scores: sums span decades, so a raw mean or a
    z-score would let one seed's extreme architectures dominate."""
    if len(tables) == 1:
        return tables[0]
    out = {}
    for col in tables[0].columns:
        values = [t[col].to_numpy() for t in tables]
        same = all(np.array_equal(values[0], v, equal_nan=True) for v in values[1:])
        out[col] = values[0] if same else correlation.rank_mean(values)
    return pd.DataFrame(out, index=tables[0].index)


def pairs(names: Sequence[str]) -> list[tuple[str, str]]:
    """Every pair (a, b) of scores, in the order of `names` (layer-wise SSNR first)."""
    return list(combinations(names, 2))


def paired(
    table: pd.DataFrame,
    truth: pd.Series,
    which: Sequence[tuple[str, str]],
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Paired]:
    """Map "a-b" to {"spearman": (Δ, lo, hi), "kendall": (Δ, lo, hi)}: paired bootstrap of
    the difference of a's and b's correlation with the truth (same resamples for both)."""
    y = truth.reindex(table.index).to_numpy()
    scores = {k: table[k].to_numpy() for pair in which for k in pair}
    # A score with no value at all (e.g. baselines not counted) cannot be paired; it must
    # not drop the rows of every other pair either.
    present = {k for k, v in scores.items() if np.isfinite(v).any()}
    usable = [(a, b) for a, b in which if a in present and b in present]
    nan = (float("nan"),) * 3
    out: dict[str, Paired] = {f"{a}-{b}": {"spearman": nan, "kendall": nan} for a, b in which}
    for name, stat in (("spearman", correlation.spearman), ("kendall", correlation.kendall)):
        kept = {k: v for k, v in scores.items() if k in present}
        found = correlation.paired_bootstraps(kept, y, usable, stat, n_boot, seed)
        for (a, b), value in found.items():
            out[f"{a}-{b}"][name] = value
    return out


@dataclass(frozen=True)
class Evaluation:
    """Correlations of every score with one ground truth, and what they were computed on.

    `summaries` are those of the seed-averaged scores (of the one seed when there is one);
    `per_seed` holds each seed's (point estimates only); `paired` the paired-bootstrap
    differences; `naslib` NASLib's stored proxies on the same archs and truth; `agreement`
    the Spearman of each of our aggregations with NASLib's same-named stored saliency."""

    setup: Setup  # of the first seed
    truth: str  # what the ground truth is (label)
    summaries: dict[str, correlation.Summary]  # score name -> summary
    seeds: tuple[int, ...] = ()
    per_seed: tuple[dict[str, correlation.Summary], ...] = ()
    paired: dict[str, Paired] = field(default_factory=dict)
    naslib: dict[str, correlation.Summary] = field(default_factory=dict)
    agreement: dict[str, tuple[float, int]] = field(default_factory=dict)
    sample_seed: int | None = None

    @property
    def batch(self) -> str:
        return batches.describe(self.setup.batch, self.setup.seed)

    @property
    def n(self) -> int:
        return max((s.n for s in self.summaries.values()), default=0)

    def table(self) -> pd.DataFrame:
        """One row per score: n, Spearman and Kendall with intervals, top-k figures, and
        over seeds the mean and sd of each seed's Spearman and Kendall."""
        rows = {name: s.row() for name, s in self.summaries.items()}
        for stat in ("spearman", "kendall"):
            mean, sd = self.seed_stats(stat)
            for name in rows:
                rows[name] |= {f"{stat}_seed_mean": mean[name], f"{stat}_seed_sd": sd[name]}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("score")

    def seed_stats(self, stat: str) -> tuple[dict[str, float], dict[str, float]]:
        """Mean and sample sd (ddof=1; NaN for one seed) over seeds of each score's `stat`."""
        runs = self.per_seed or (self.summaries,)
        mean, sd = {}, {}
        for name in self.summaries:
            values = np.array([getattr(r[name], stat) for r in runs], dtype=float)
            mean[name] = float(np.mean(values))
            spread = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
            # exactly 0 for params, flops over several seeds; NaN (no spread) for one seed
            sd[name] = 0.0 if len(values) > 1 and np.ptp(values) == 0 else spread
        return mean, sd

    def verdicts(self, stat: str = "kendall") -> dict[str, str]:
        symbol = {"kendall": "τ", "spearman": "ρ"}[stat]
        out = {}
        for key, found in self.paired.items():
            a, b = key.split("-", 1)
            absent = [_label(x) for x in (a, b) if x in self.summaries and not self.summaries[x].n]
            if absent:  # a score with no values (baselines not counted): nothing to pair
                out[key] = (
                    f"{_label(a)} vs {_label(b)}: not compared ({' and '.join(absent)} not "
                    "counted for these architectures)"
                )
                continue
            out[key] = correlation.verdict(_label(a), _label(b), *found[stat], symbol)
        return out

    def to_json(self) -> dict:
        """The `evaluate --json` object."""
        s = self.summaries
        seeds = list(self.seeds or (self.setup.seed,))
        mean_rho, sd_rho = self.seed_stats("spearman")
        mean_tau, sd_tau = self.seed_stats("kendall")
        return {
            "benchmark": self.setup.space,
            "task": self.setup.task,
            "saliency": self.setup.saliency,
            "seed": self.setup.seed,
            "seeds": seeds,
            "sample_seed": self.setup.seed if self.sample_seed is None else self.sample_seed,
            "seed_average": SEED_AVERAGE if len(seeds) > 1 else "one seed",
            "init": self.setup.init,
            "batch": self.setup.batch,
            "batch_label": self.batch,
            "truth": self.truth,
            "n": self.n,
            "flops_unit": "MACs of Conv/Linear layers, millions, one input",
            "per_network": zero_cost.note(self.setup.saliency) or None,
            "params_unit": "parameters of Conv/Linear/BatchNorm, millions",
            "dropped": {k: v.dropped for k, v in s.items()},
            "spearman": {k: v.spearman for k, v in s.items()},
            "kendall": {k: v.kendall for k, v in s.items()},
            "ci95": {
                k: {"spearman": v.spearman_ci95, "kendall": v.kendall_ci95} for k, v in s.items()
            },
            "top10%_precision": {k: v.top10_precision for k, v in s.items()},
            "metrics": {k: v.metrics for k, v in s.items()},
            "per_seed": [
                {
                    "seed": seed,
                    "spearman": {k: v.spearman for k, v in run.items()},
                    "kendall": {k: v.kendall for k, v in run.items()},
                }
                for seed, run in zip(seeds, self.per_seed or (s,), strict=True)
            ],
            "seed_mean": {"spearman": mean_rho, "kendall": mean_tau},
            "seed_sd": {"spearman": sd_rho, "kendall": sd_tau},
            "paired": {k: {st: list(v) for st, v in p.items()} for k, p in self.paired.items()},
            "verdicts": self.verdicts(),
            "naslib_proxies": {
                k: {"n": v.n, "spearman": v.spearman, "kendall": v.kendall}
                for k, v in self.naslib.items()
            },
            "naslib_best": naslib.best(self.naslib),
            "naslib_agreement": {
                k: {"spearman": rho, "n": n, "with": f"naslib {self.setup.saliency}"}
                for k, (rho, n) in self.agreement.items()
            },
        }


def _label(name: str) -> str:
    return aggregation.LABELS.get(name, name).replace("sum (S_n)", "sum")


@dataclass(frozen=True)
class Study:
    """How an evaluation is analysed, beyond the setup and the run settings: the init
    `seeds` (default: the setup's), rank `combine`-ations of scores, bootstrap
    resamples, whether params/FLOPs are counted (`count_baselines`, see `_baselines`),
    which score pairs are compared (`pairs`, default every pair) and whether missing
    architectures are computed (`compute=False`: only what the caches hold)."""

    seeds: tuple[int, ...] = ()
    combine: tuple[tuple[str, ...], ...] = ()
    n_boot: int = 1000
    count_baselines: bool | None = None
    pairs: tuple[tuple[str, str], ...] | None = None
    compute: bool = True


def evaluate(
    setup: Setup,
    cache: Cache,
    *,
    settings: Settings,
    study: Study = Study(),
    n: int | None = None,
    source: str | None = None,
    progress: scoring.Progress | None = None,
) -> Evaluation:
    """Score what the cache lacks for a sample of `n` (drawn with `setup.seed`; None: all
    archs with ground truth `source`), then correlate (`run`)."""
    data_dir = settings.data_dir
    archs = sample(setup.space, setup.task, n, setup.seed, source, data_dir)
    truth = benchmarks.truth(setup.space, setup.task, source, data_dir)
    source = source or benchmarks.get_task(setup.space, setup.task).sources[0]
    label = benchmarks.source_label(setup.space, setup.task, source)
    return run(
        setup,
        cache,
        archs,
        truth,
        truth_label=label,
        settings=settings,
        study=study,
        progress=progress,
    )


def run(
    setup: Setup,
    cache: Cache,
    archs: Sequence[str],
    truth: pd.Series,
    *,
    truth_label: str,
    settings: Settings,
    study: Study = Study(),
    progress: scoring.Progress | None = None,
) -> Evaluation:
    """The evaluation of `archs` against `truth`: aggregations per seed, params and flops,
    combinations, seed average, paired differences, and NASLib's proxies where the space
    has them (what is computed and compared: `study`)."""
    if setup.init not in INITS:
        raise ValueError(f"unknown init protocol {setup.init!r}; choose from {', '.join(INITS)}")
    seeds = tuple(dict.fromkeys(study.seeds or (setup.seed,)))
    n_boot, combine = study.n_boot, study.combine
    stats = []
    for s in seeds:
        one = replace(setup, seed=s)
        if study.compute:
            stats.append(scoring.score(one, archs, cache, settings=settings, progress=progress))
        else:
            stats.append(cache.get(one, archs))
    archs = [a for a in archs if all(a in found for found in stats)]
    base = _baselines(setup, cache, archs, study.compute, study.count_baselines, progress)
    tables = [
        with_combinations(
            score_table({a: found[a] for a in archs}, setup.saliency).join(base), combine
        )
        for found in stats
    ]
    if not archs:
        cols = [*score_names(setup.saliency), *baselines.NAMES, *map(combine_name, combine)]
        tables = [pd.DataFrame(columns=cols, index=pd.Index([], name="arch"), dtype=float)]
    averaged = seed_average(tables)
    summaries = correlate(averaged, truth, n_boot, setup.seed)
    per_seed = tuple(correlate(t, truth, 0, setup.seed) for t in tables) if len(seeds) > 1 else ()
    which = study.pairs or pairs(_order(averaged))
    found_pairs = paired(averaged, truth, which, n_boot, setup.seed)
    proxies: dict[str, correlation.Summary] = {}
    agree: dict[str, tuple[float, int]] = {}
    if setup.space in pinned.NASLIB_FILES and archs:
        data_dir = settings.data_dir
        proxies = naslib.summaries(setup.space, setup.task, truth, archs, 0, setup.seed, data_dir)
        for agg in aggregation.AGGREGATIONS if zero_cost.get(setup.saliency) is None else ():
            agree[agg] = naslib.agreement(averaged[agg], setup.space, setup.task, setup.saliency)
    return Evaluation(
        replace(setup, seed=seeds[0]),
        truth_label,
        summaries,
        seeds,
        per_seed,
        found_pairs,
        proxies,
        agree,
        setup.seed,
    )


AUTO_BASELINES = 2_000  # at most this many uncounted archs are counted unasked (~1 min)


def _baselines(
    setup: Setup,
    cache: Cache,
    archs: Sequence[str],
    compute: bool,
    count: bool | None,
    progress: scoring.Progress | None,
) -> pd.DataFrame:
    """params and flops of `archs`: counted where missing when `count` (None: when at most
    `AUTO_BASELINES` are missing; counting FLOPs takes a forward pass per arch, the full
    NB201 space ~15 min), else from `baselines.sqlite` when every arch is there, else NaN
    (never correlations of a subset that happens to be counted)."""
    base_cache = baselines.cache_for(cache.path)
    have = base_cache.get(setup.space, setup.task) if base_cache else {}
    missing = sum(a not in have for a in archs)
    if compute and missing and (count or (count is None and missing <= AUTO_BASELINES)):
        return baselines.table(setup.space, setup.task, archs, base_cache, progress)
    rows = [have[a] if not missing else (np.nan, np.nan) for a in archs]
    return pd.DataFrame(rows, index=pd.Index(archs, name="arch"), columns=list(baselines.NAMES))


def _order(table: pd.DataFrame) -> list[str]:
    """Score names for pairing: layer-wise SSNR, SSNR, sum, then the rest as they come."""
    first = ["layerwise_ssnr", "ssnr", "sum"]
    return [c for c in first if c in table.columns] + [c for c in table.columns if c not in first]
