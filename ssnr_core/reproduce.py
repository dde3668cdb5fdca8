"""The reference table across search spaces: Kendall tau of sum / SSNR / layer-wise SSNR.

Reference figures (synflow, NASLib's sampling and validation accuracies) are from
the layer-wise SSNR work; `reproduce` computes ours on the same NASLib samples and
ground truth and sets them side by side.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ssnr_core import batches, benchmarks, evaluation, scoring
from ssnr_core.cache import Cache
from ssnr_core.ray_backend import RayBackend
from ssnr_core.scoring import Progress
from ssnr_core.setup import Setup

AGGS = ("sum", "ssnr", "layerwise_ssnr")
NAN = float("nan")
# (column, benchmark, task, reference Kendall tau for sum, ssnr, layerwise_ssnr; synflow)
REFERENCE = (
    ("NB201 CIFAR-10", "nb201", "cifar10", (0.5152, 0.5316, 0.5549)),
    ("NB201 CIFAR-100", "nb201", "cifar100", (0.5615, 0.5252, 0.5943)),
    ("NB301 CIFAR-10", "nb301", "cifar10", (0.1199, 0.2072, 0.3392)),
    ("TNB101 jigsaw", "tnb101", "jigsaw", (0.3311, 0.3829, 0.3807)),
    ("TNB101 class_object", "tnb101", "class_object", (0.4926, 0.4337, 0.4356)),
    ("TNB101 class_scene", "tnb101", "class_scene", (0.5408, 0.5995, 0.5794)),
)


def chosen(columns: tuple[str, ...] | None) -> list[tuple]:
    """The rows of `REFERENCE` named by `columns` (all when None); ValueError for others."""
    known = [label for label, *_ in REFERENCE]
    if columns and set(columns) - set(known):
        unknown = ", ".join(sorted(set(columns) - set(known)))
        raise ValueError(f"unknown column(s) {unknown}; choose from {', '.join(known)}")
    return [row for row in REFERENCE if not columns or row[0] in columns]


def reproduce(
    cache: Cache,
    saliency: str = "synflow",
    sample: int | None = None,
    seed: int = 0,
    n_boot: int = 1000,
    workers: int = 1,
    device: str = "cpu",
    progress: Progress | None = None,
    columns: tuple[str, ...] | None = None,
    compute: bool = True,
    batch: str = "synthetic",
    backend: RayBackend | None = None,
) -> pd.DataFrame:
    """One row per benchmark column: n, our Kendall tau and 95% interval per aggregation,
    and the reference figure (only meaningful for synflow). `compute=False` uses only
    what the cache already holds (the app), so n may be smaller than the sample."""
    rows = []
    for label, bench, task, ref in chosen(columns):
        setup = Setup(bench, task, saliency, seed, batch)
        archs = evaluation.sample(bench, task, sample, seed, "naslib")
        if compute:
            stats = scoring.score(
                setup, archs, cache, workers, device, _labelled(progress, label), backend=backend
            )
        else:
            stats = cache.get(setup, archs)
        result = {}
        if stats:
            truth = benchmarks.truth(bench, task, "naslib")
            result = evaluation.correlate(evaluation.score_table(stats), truth, n_boot, seed)
        row = {"column": label, "benchmark": bench, "task": task, "n": 0}
        row["batch"] = batches.describe(setup.batch, seed)
        for agg, ref_tau in zip(AGGS, ref, strict=True):
            found = result.get(agg)
            row |= {
                "n": found.n if found else 0,
                agg: found.kendall if found else NAN,
                f"{agg}_lo": found.kendall_ci95[0] if found else NAN,
                f"{agg}_hi": found.kendall_ci95[1] if found else NAN,
                f"{agg}_ref": ref_tau if saliency == "synflow" else NAN,
            }
        rows.append(row)
    return pd.DataFrame(rows)


def _labelled(progress: Progress | None, label: str) -> Progress | None:
    if progress is None:
        return None
    return lambda done, total: progress(done, total, label)  # type: ignore[call-arg]


def to_markdown(table: pd.DataFrame, saliency: str) -> str:
    """The table as Markdown: ours [95% CI] (reference) per aggregation."""
    head = "| column | n | sum | overall SSNR | layer-wise SSNR |\n|---|---:|---|---|---|\n"
    lines = []
    for _, r in table.iterrows():
        cells = []
        for agg in AGGS:
            ref = "" if pd.isna(r[f"{agg}_ref"]) else f" ({r[f'{agg}_ref']:.4f})"
            if pd.isna(r[agg]):
                cells.append(f"not computed{ref}")
                continue
            cells.append(f"{r[agg]:.4f} [{r[f'{agg}_lo']:.3f}, {r[f'{agg}_hi']:.3f}]{ref}")
        lines.append(f"| {r['column']} | {r['n']} | " + " | ".join(cells) + " |")
    note = (
        f"\nKendall tau of {saliency} aggregations vs NASLib's val_accuracy on NASLib's "
        "samples; ours [bootstrap 95% interval] (reference)."
    )
    return head + "\n".join(lines) + "\n" + note + "\n"


def write(table: pd.DataFrame, saliency: str, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out_dir / f"reproduce_{saliency}.csv", out_dir / f"reproduce_{saliency}.md"
    table.to_csv(csv_path, index=False)
    md_path.write_text(to_markdown(table, saliency))
    return csv_path, md_path
