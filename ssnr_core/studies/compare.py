"""The Compare grid: every saliency x aggregation (and params/FLOPs) against every task.

Each cell correlates every cached architecture of its setup that has ground truth (the
task's default source); nothing is scored here, so the grid answers at once and says
which cells are not computed (with the command that computes them) and where a measure
does not apply (a per-network measure on a space it does not run on). The app's Compare
page and `python -m ssnr_core compare` both show this table; `field` is the grid of every
proxy against the tasks the field reports on, with the published figures beside ours.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ssnr_core import benchmarks
from ssnr_core.proxies import aggregation, saliency, zero_cost
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.settings import Settings
from ssnr_core.studies import baselines, evaluation, references
from ssnr_core.studies.correlation import n_boot_for

NOT_COMPUTED = "not computed"
NOT_COUNTED = "not counted"
DOES_NOT_APPLY = "does not apply"
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


def command(space: str, task: str, saliency: str, seed: int, protocol: str = "default") -> str:
    """The CLI command that computes a cell: `evaluate` on the column's whole ground
    truth under the protocol (NB201 by default: all 15,625 cells; resumable)."""
    parts = ["python -m ssnr_core evaluate", f"--benchmark {space} --task {task}"]
    parts.append(f"--saliency {saliency} --seed {seed}")
    source = source_for(space, task, protocol)
    if source != benchmarks.get_task(space, task).sources[0]:
        parts.append(f"--truth {source}")
    return " ".join(parts)


def grid(
    cache: Cache,
    *,
    settings: Settings,
    columns: Sequence[tuple[str, str]],
    saliencies: Sequence[str],
    seed: int = 0,
    protocol: str = "default",
    max_boot: int | None = None,
) -> tuple[pd.DataFrame, dict[str, str]]:
    """A long table, one row per (column, saliency, aggregation) with the summary record
    (`Summary.row()`, its `n_boot` by `n_boot_for`, at most `max_boot`) or a status
    saying why there is none; and per-column problems (a ground truth or cache that
    cannot be read)."""
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
            if not zero_cost.supports(sal, space):
                rows += [
                    _row(
                        col,
                        space,
                        task,
                        sal,
                        agg,
                        seed,
                        pd.DataFrame(),
                        truth,
                        DOES_NOT_APPLY,
                        None,
                    )
                    for agg in evaluation.score_names(sal)
                ]
                continue
            try:
                found = cache.get(cell_setup(space, task, sal, seed, settings), archs)
            except OSError as exc:
                problems[col] = f"cannot read the cache: {exc}"
                found = {}
            table = evaluation.score_table(found, sal)
            for agg in evaluation.score_names(sal):  # a per-network measure: its own scores
                row = _row(col, space, task, sal, agg, seed, table, truth, NOT_COMPUTED, max_boot)
                if row["status"] == NOT_COMPUTED:
                    row["command"] = command(space, task, sal, seed, protocol)
                rows.append(row)
        try:
            have = base_cache.get(space, task) if base_cache else {}
        except OSError as exc:
            problems[col] = f"cannot read baselines.sqlite: {exc}"
            have = {}
        counted = pd.DataFrame.from_dict(
            {a: have[a] for a in archs if a in have}, orient="index", columns=list(baselines.NAMES)
        )
        for name in baselines.NAMES:
            row = _row(
                col, space, task, BASELINE, name, seed, counted, truth, NOT_COUNTED, max_boot
            )
            if row["status"] == NOT_COUNTED:  # counted beside synflow, the cheapest saliency
                row["command"] = (
                    command(space, task, "synflow", seed, protocol) + " --baselines yes"
                )
            rows.append(row)
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
    max_boot: int | None,
) -> dict:
    row: dict[str, object] = {"column": col, "benchmark": space, "task": task}
    row |= {"saliency": saliency, "aggregation": score, "seed": seed, "n": 0, "status": missing}
    if not table.empty:
        n_boot = min(n_boot_for(len(table)), max_boot or n_boot_for(len(table)))
        summary = evaluation.correlate(table[[score]], truth, n_boot, seed)[score]
        row |= {"status": "ok", **summary.row(), "n_boot": n_boot}
    return row


# The field's table: NB201's three tasks, and the NB301 and TNB101 micro tasks of the paper.
FIELD_COLUMNS = (
    *[("nb201", t) for t in ("cifar10", "cifar100", "ImageNet16-120")],
    ("nb301", "cifar10"),
    *[("tnb101", t) for t in ("jigsaw", "class_object", "class_scene")],
)


FIELD_BOOT = 200  # bootstrap resamples at most: ~200 correlations stay quick to redo


def field(
    cache: Cache, *, settings: Settings, seed: int = 0, protocol: str = "default"
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The field's table: every registered saliency and measure (each score column) and
    the params/FLOPs baselines against `FIELD_COLUMNS`, from the cache alone, with the
    published figures beside ours (`with_references`); intervals from at most
    `FIELD_BOOT` resamples."""
    long, problems = grid(
        cache,
        settings=settings,
        columns=FIELD_COLUMNS,
        saliencies=list(saliency.REGISTRY),
        seed=seed,
        protocol=protocol,
        max_boot=FIELD_BOOT,
    )
    return with_references(long, protocol), problems


def with_references(long: pd.DataFrame, protocol: str = "default") -> pd.DataFrame:
    """`long` with, per metric, the published figure of each row's cell made under the
    same protocol (`published_<metric>`, NaN where none), as published (`_text`:
    "0.7409", "~0.89") and with its source and sample (`_label`). Figures made under
    another protocol are not set beside ours (`published` lists them all)."""
    out = long.copy()
    for metric in references.METRICS:
        found = [
            [
                ref
                for ref in references.find(r.saliency, r.aggregation, r.benchmark, r.task, metric)
                if same_truth(ref, protocol)
            ][:1]
            for r in long.itertuples()
        ]
        out[f"published_{metric}"] = [f[0].value if f else float("nan") for f in found]
        out[f"published_{metric}_text"] = [f[0].text() if f else "" for f in found]
        out[f"published_{metric}_label"] = [f[0].label() if f else "" for f in found]
    return out


def same_truth(ref: references.Reference, protocol: str) -> bool:
    """Whether a published figure was made on the ground truth a grid under `protocol`
    uses for its column (NB301 and TNB101 have only NASLib's: both protocols match)."""
    return source_for(ref.space, ref.task, ref.protocol) == source_for(
        ref.space, ref.task, protocol
    )


def published(long: pd.DataFrame, protocol: str = "default") -> pd.DataFrame:
    """Every published figure of the grid's cells, one row each: proxy, score, column,
    metric, the figure, its source, sample and protocol, and ours where the grid's
    column has the same ground truth and is computed (else NaN)."""
    rows = []
    cells = long.set_index(["saliency", "aggregation", "benchmark", "task"]) if len(long) else None
    for ref in references.REFERENCES:
        key = (ref.proxy, ref.score, ref.space, ref.task)
        if cells is None or key not in cells.index:
            continue
        cell = cells.loc[[key]].iloc[0]
        same = same_truth(ref, protocol) and cell["status"] == "ok"
        rows.append(
            {
                "proxy": ref.proxy,
                "score": aggregation.LABELS.get(ref.score, ref.score),
                "column": column_name(ref.space, ref.task),
                "metric": ref.metric,
                "published": ref.text(),
                "source": ref.source,
                "sample": ref.sample,
                "protocol": PROTOCOLS[ref.protocol],
                "ours": float(cell[ref.metric]) if same else float("nan"),
                "n": int(cell["n"]) if same else 0,
            }
        )
    return pd.DataFrame(rows)


def best(long: pd.DataFrame, metric: str) -> pd.Series:
    """True for each column's best zero-cost proxy row by `metric` (ties all marked;
    the params/FLOPs baselines are never marked)."""
    if long.empty or metric not in long:
        return pd.Series(False, index=long.index)
    ok = (long["status"] == "ok") & (long["saliency"] != BASELINE)
    values = long[metric].where(ok)
    top = values.groupby(long["column"]).transform("max")
    return (values == top) & ok


def cell_text(r: pd.Series, metric: str, marked: bool = False) -> str:
    """One cell as text: ★ for the best, value, 95% interval, n, and the published
    figure made under the grid's protocol."""
    if r["status"] != "ok":
        return str(r["status"])
    if pd.isna(r[metric]):
        return f"n={r['n']:,}: no correlation (too few or constant scores)"
    text = f"{r[metric]:.4f} [{r[metric + '_lo']:.4f}, {r[metric + '_hi']:.4f}] n={r['n']:,}"
    published = r.get(f"published_{metric}_text")
    if published:
        text += f" · published {published}"
    return ("★ " if marked else "") + text


def to_text(long: pd.DataFrame, metric: str = "kendall", protocol: str = "default") -> str:
    """The grid as plain text: rows saliency · score, columns benchmark/task, each cell
    `cell_text` (★ the best of the column), or why it is empty; then the commands that
    compute the cells not computed."""
    if long.empty:
        return "nothing to compare"
    labels = long["aggregation"].map(lambda a: aggregation.LABELS.get(a, a))
    long = long.assign(row=long["saliency"] + " · " + labels)
    marked = best(long, metric)
    cells = [cell_text(r, metric, bool(m)) for (_, r), m in zip(long.iterrows(), marked)]
    long = long.assign(cell=cells)
    table = long.pivot(index="row", columns="column", values="cell")
    table = table.reindex(index=list(dict.fromkeys(long["row"])))
    table = table[list(dict.fromkeys(long["column"]))]
    text = table.to_string()
    others = published(long[long.columns.drop(["row", "cell"])], protocol)
    others = others[others["ours"].isna()] if len(others) else others
    if len(others):
        lines = [
            f"{r.proxy} · {r.score} {r.column} {r.metric} {r.published} ({r.source}; {r.sample})"
            for r in others.itertuples()
        ]
        text += "\n\npublished, not beside ours (another ground truth, or not computed):\n  "
        text += "\n  ".join(lines)
    commands = list(dict.fromkeys(long["command"].dropna())) if "command" in long else []
    if commands:
        text += "\n\nnot computed or not counted; the commands that fill them:\n  "
        text += "\n  ".join(commands)
    return text
