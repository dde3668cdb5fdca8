"""The Compare grid: every saliency x aggregation (and params/FLOPs) against every task.

Each cell correlates every cached architecture of its setup that has ground truth (the
task's default source); nothing is scored here, so the grid answers at once and says
which cells are not computed. The app's Compare page and `python -m ssnr_core compare`
both show this table.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ssnr_core import benchmarks
from ssnr_core.proxies import aggregation
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.settings import Settings
from ssnr_core.studies import baselines, evaluation
from ssnr_core.studies.correlation import n_boot_for

NOT_COMPUTED = "not computed"
NOT_COUNTED = "not counted"
BASELINE = "baseline"  # the saliency of the params and flops rows


def cell_setup(space: str, task: str, saliency: str, seed: int, settings: Settings) -> Setup:
    """The setup of one cell: the batch as every run resolves it (CIFAR-10 once fetched)."""
    return Setup.resolved(space, task, saliency, seed, "auto", settings.data_dir)


def column_name(space: str, task: str) -> str:
    return f"{space}/{task}"


PROTOCOLS = {
    "default": "each task's default ground truth (NB201: all 15,625 cells, test accuracy)",
    "naslib": "the paper's: NASLib's samples and their val_accuracy",
}


def source_for(space: str, task: str, protocol: str = "default") -> str:
    """The ground-truth source of a column under a protocol: "naslib" puts every column
    on NASLib's sample and its val_accuracy (the paper's protocol) where the task has it."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    sources = benchmarks.get_task(space, task).sources
    return "naslib" if protocol == "naslib" and "naslib" in sources else sources[0]


def grid(
    cache: Cache,
    *,
    settings: Settings,
    columns: Sequence[tuple[str, str]],
    saliencies: Sequence[str],
    seed: int = 0,
    protocol: str = "default",
) -> tuple[pd.DataFrame, dict[str, str]]:
    """A long table, one row per (column, saliency, aggregation) with the summary record
    (`Summary.row()`, its `n_boot` by `n_boot_for`) or a status saying why there is
    none; and per-column problems (a ground truth or cache that cannot be read)."""
    rows: list[dict] = []
    problems: dict[str, str] = {}
    base_cache = baselines.cache_for(cache.path)
    for space, task in columns:
        col = column_name(space, task)
        try:
            truth = benchmarks.truth(
                space, task, source_for(space, task, protocol), settings.data_dir
            )
        except (ValueError, OSError) as exc:
            problems[col] = str(exc)
            continue
        archs = truth.index.tolist()
        for sal in saliencies:
            try:
                found = cache.get(cell_setup(space, task, sal, seed, settings), archs)
            except OSError as exc:
                problems[col] = f"cannot read the cache: {exc}"
                found = {}
            table = evaluation.score_table(found, sal)
            for agg in evaluation.score_names(sal):  # a per-network measure: its own scores
                rows.append(_row(col, space, task, sal, agg, seed, table, truth, NOT_COMPUTED))
        try:
            have = base_cache.get(space, task) if base_cache else {}
        except OSError as exc:
            problems[col] = f"cannot read baselines.sqlite: {exc}"
            have = {}
        counted = pd.DataFrame.from_dict(
            {a: have[a] for a in archs if a in have}, orient="index", columns=list(baselines.NAMES)
        )
        for name in baselines.NAMES:
            rows.append(_row(col, space, task, BASELINE, name, seed, counted, truth, NOT_COUNTED))
    return pd.DataFrame(rows), problems


def _row(
    col: str,
    space: str,
    task: str,
    saliency: str,
    score: str,
    seed: int,
    table: pd.DataFrame,
    truth: pd.Series,
    missing: str,
) -> dict:
    row: dict[str, object] = {"column": col, "benchmark": space, "task": task}
    row |= {"saliency": saliency, "aggregation": score, "seed": seed, "n": 0, "status": missing}
    if not table.empty:
        n_boot = n_boot_for(len(table))
        summary = evaluation.correlate(table[[score]], truth, n_boot, seed)[score]
        row |= {"status": "ok", **summary.row(), "n_boot": n_boot}
    return row


def to_text(long: pd.DataFrame, metric: str = "kendall") -> str:
    """The grid as plain text: rows saliency · score, columns benchmark/task, each cell
    the value with its 95% interval and n, or why it is empty."""
    if long.empty:
        return "nothing to compare"
    labels = long["aggregation"].map(lambda a: aggregation.LABELS.get(a, a))
    long = long.assign(row=long["saliency"] + " · " + labels)

    def cell(r: pd.Series) -> str:
        if r["status"] != "ok":
            return str(r["status"])
        return f"{r[metric]:.4f} [{r[metric + '_lo']:.4f}, {r[metric + '_hi']:.4f}] n={r['n']:,}"

    long = long.assign(cell=long.apply(cell, axis=1))
    table = long.pivot(index="row", columns="column", values="cell")
    table = table.reindex(index=list(dict.fromkeys(long["row"])))
    table = table[list(dict.fromkeys(long["column"]))]
    return table.to_string()
