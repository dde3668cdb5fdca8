"""The reference table across search spaces: Kendall tau of sum / SSNR / layer-wise SSNR
(or of a per-network measure and its components), beside the size baselines (params,
FLOPs) and the best of NASLib's stored proxies.

Reference figures (synflow, NASLib's sampling and validation accuracies) are from
the layer-wise SSNR work; `reproduce` computes ours on the same NASLib samples and
ground truth and sets them side by side.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from ssnr_core import benchmarks
from ssnr_core.proxies import batches, zero_cost
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.scoring import Progress
from ssnr_core.runs.settings import Settings
from ssnr_core.studies import evaluation, naslib
from ssnr_core.studies.evaluation import Study

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
# Columns the reference does not cover (no figure to compare with): the two other spaces of
# NAS-Bench-Suite-Zero, on NASLib's samples and val_accuracy as the rest.
EXTRA = (
    ("NB101 CIFAR-10", "nb101", "cifar10", (NAN, NAN, NAN)),
    ("TNB101-macro jigsaw", "tnb101_macro", "jigsaw", (NAN, NAN, NAN)),
    ("TNB101-macro class_object", "tnb101_macro", "class_object", (NAN, NAN, NAN)),
    ("TNB101-macro class_scene", "tnb101_macro", "class_scene", (NAN, NAN, NAN)),
)
COLUMNS = REFERENCE + EXTRA
_EXTRA_LABELS = {label for label, *_ in EXTRA}


def chosen(columns: tuple[str, ...] | None) -> list[tuple]:
    """The rows of `COLUMNS` named by `columns` (all when None); ValueError for others."""
    known = [label for label, *_ in COLUMNS]
    if columns and set(columns) - set(known):
        unknown = ", ".join(sorted(set(columns) - set(known)))
        raise ValueError(f"unknown column(s) {unknown}; choose from {', '.join(known)}")
    return [row for row in COLUMNS if not columns or row[0] in columns]


BASELINES = ("params", "flops")
PAIRS = (
    ("layerwise_ssnr", "sum"),
    ("layerwise_ssnr", "ssnr"),
    ("ssnr", "sum"),
    ("layerwise_ssnr", "params"),
    ("layerwise_ssnr", "flops"),
)


def pairs_of(saliency: str) -> tuple[tuple[str, str], ...]:
    """The paired differences reported for `saliency`, the headline first: layer-wise
    SSNR against the sum, or a measure's score against the size baselines."""
    measure = zero_cost.score_names(saliency)
    return ((measure[0], "flops"), (measure[0], "params")) if measure else PAIRS


def reproduce(
    cache: Cache,
    protocol: Setup,
    *,
    settings: Settings,
    sample: int | None = None,
    columns: tuple[str, ...] | None = None,
    study: Study = Study(),
    progress: Progress | None = None,
) -> pd.DataFrame:
    """One row per benchmark column: n, our Kendall tau of the seed-averaged score with
    its 95% interval, the mean and sd of the per-seed taus and the reference figure (only
    meaningful for synflow) per aggregation, the same for params, flops and any
    combination, the best of NASLib's stored proxies on the same archs, and paired
    bootstrap differences (`PAIRS`). `protocol` gives the saliency, seed, batch and init
    of every column (its own space and task are not used); the sample is drawn with its
    seed; `study.seeds` are the init seeds (default that seed). `study.compute=False` uses
    only what the cache already holds (the app), so n may be smaller than the sample."""
    saliency, seed, init = protocol.saliency, protocol.seed, protocol.init
    seeds = study.seeds or (seed,)
    pairs = pairs_of(saliency)
    study = replace(study, pairs=pairs)
    names = (
        *evaluation.score_names(saliency),
        *BASELINES,
        *map(evaluation.combine_name, study.combine),
    )
    rows = []
    for label, bench, task, ref in chosen(columns):
        setup = protocol.on(bench, task)
        row = {"column": label, "benchmark": bench, "task": task, "n": 0}
        row |= {
            "batch": batches.describe(setup.batch, seed),
            "truth": benchmarks.SOURCE_LABELS["naslib"],
            "seeds": ",".join(map(str, seeds)),
            "init": init,
            "sample_seed": seed,
            "applies": zero_cost.supports(saliency, bench),  # AZ-NAS has no blocks in NB101
        }
        if not row["applies"]:
            rows.append(row)
            continue
        archs = evaluation.sample(bench, task, sample, seed, "naslib")
        truth = benchmarks.truth(bench, task, "naslib")
        found = evaluation.run(
            setup,
            cache,
            archs,
            truth,
            truth_label=benchmarks.SOURCE_LABELS["naslib"],
            settings=settings,
            study=study,
            progress=_labelled(progress, label),
        )
        mean, sd = found.seed_stats("kendall")
        row |= {"n": found.n, "truth": found.truth}
        refs = dict(zip(AGGS, ref, strict=True))
        for name in names:
            got = found.summaries.get(name) if found.n else None
            row |= {
                name: got.kendall if got else NAN,
                f"{name}_lo": got.kendall_ci95[0] if got else NAN,
                f"{name}_hi": got.kendall_ci95[1] if got else NAN,
                f"{name}_seed_mean": mean.get(name, NAN) if got else NAN,
                f"{name}_seed_sd": sd.get(name, NAN) if got else NAN,
                f"{name}_spearman": got.spearman if got else NAN,
            }
            if name in refs:
                row[f"{name}_ref"] = refs[name] if saliency == "synflow" else NAN
        best = naslib.best(found.naslib)
        row |= {
            "naslib_best": best or "",
            "naslib_best_kendall": found.naslib[best].kendall if best else NAN,
        }
        for a, b in pairs:
            delta, lo, hi = found.paired.get(f"{a}-{b}", {}).get("kendall", (NAN, NAN, NAN))
            row |= {f"{a}-{b}": delta, f"{a}-{b}_lo": lo, f"{a}-{b}_hi": hi}
        rows.append(row)
    return pd.DataFrame(rows)


def _labelled(progress: Progress | None, label: str) -> Progress | None:
    if progress is None:
        return None
    return lambda done, total: progress(done, total, label)  # type: ignore[call-arg]


def to_markdown(table: pd.DataFrame, saliency: str) -> str:
    """The table as Markdown: per aggregation and baseline our Kendall tau (one seed:
    [95% interval]; several: mean ± sd over seeds) and (the reference), the best NASLib
    proxy, and the headline paired difference (`pairs_of`) [95%]."""
    several_inits = "init" in table and table["init"].nunique() > 1
    names = [c for c in (*evaluation.score_names(saliency), *BASELINES) if c in table.columns]
    names += [c for c in table.columns if "+" in c and not c.endswith(("_lo", "_hi", "_ref"))]
    names = [n for n in names if not any(n.endswith(s) for s in _SUFFIXES)]
    heads = [LABELS.get(n, n) for n in names]
    extra = "naslib_best" in table
    head = "| column | n | " + " | ".join(heads)
    a, b = pairs_of(saliency)[0]
    delta = "layer-wise − sum" if a == "layerwise_ssnr" else f"{a} − {LABELS.get(b, b)}"
    head += f" | best NASLib proxy | Δτ {delta} [95%] |" if extra else " |"
    rule = "|---|---:|" + "---|" * (len(names) + (2 if extra else 0))
    lines = []
    for _, r in table.iterrows():
        cells = [_cell(r, n) for n in names]
        if extra:
            best = r["naslib_best"] if isinstance(r["naslib_best"], str) else ""
            cells.append(f"{best} {r['naslib_best_kendall']:.4f}" if best else "")
            d, lo, hi = (r.get(f"{a}-{b}{end}") for end in ("", "_lo", "_hi"))
            cells.append("" if pd.isna(d) else f"{d:+.4f} [{lo:+.3f}, {hi:+.3f}]")
        label = f"{r['column']} ({r['init']} init)" if several_inits else r["column"]
        lines.append(f"| {label} | {r['n']} | " + " | ".join(cells) + " |")
    seeds = sorted({str(s) for s in table["seeds"]}) if "seeds" in table else []
    several = any("," in s for s in seeds)
    what = "mean ± sd of the per-seed taus" if several else "ours [bootstrap 95% interval]"
    inits = " and ".join(sorted(set(table["init"]), reverse=True)) if "init" in table else "slot"
    kind = f"{saliency} aggregations"
    if zero_cost.score_names(saliency):
        kind = f"{saliency} (one number per network) and its components"
    note = (
        f"\nKendall tau of {kind} and the size baselines vs NASLib's "
        f"val_accuracy on NASLib's samples; {what} (reference). Init seeds "
        f"{'; '.join(seeds) or '0'}; {inits} init. Params: Conv/Linear/BN parameters; FLOPs: "
        "Conv/Linear MACs of one input. The Δτ interval is a paired bootstrap of the "
        "seed-averaged scores (mean of per-seed ranks)."
    )
    unreferenced = [r["column"] for _, r in table.iterrows() if r["column"] in _EXTRA_LABELS]
    if unreferenced:
        note += f" No reference figure exists for {', '.join(unreferenced)}."
    return f"{head}\n{rule}\n" + "\n".join(lines) + "\n" + note + "\n"


LABELS = {
    "sum": "sum",
    "ssnr": "overall SSNR",
    "layerwise_ssnr": "layer-wise SSNR",
    "params": "params",
    "flops": "FLOPs",
}
_SUFFIXES = ("_seed_mean", "_seed_sd", "_spearman")


def _cell(r: pd.Series, name: str) -> str:
    if not r.get("applies", True) and name not in BASELINES:
        return "does not apply"
    ref = r.get(f"{name}_ref", NAN)
    ref_text = "" if pd.isna(ref) else f" ({ref:.4f})"
    if pd.isna(r[name]):
        return f"not computed{ref_text}"
    sd = r.get(f"{name}_seed_sd", NAN)
    if name in BASELINES and abs(sd) < 1e-12:  # the same for every seed
        return f"{r[name]:.4f}"
    if not pd.isna(sd):
        return f"{r[f'{name}_seed_mean']:.4f} ± {sd:.4f}{ref_text}"
    return f"{r[name]:.4f} [{r[f'{name}_lo']:.3f}, {r[f'{name}_hi']:.3f}]{ref_text}"


def write(table: pd.DataFrame, saliency: str, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out_dir / f"reproduce_{saliency}.csv", out_dir / f"reproduce_{saliency}.md"
    table.to_csv(csv_path, index=False)
    md_path.write_text(to_markdown(table, saliency))
    return csv_path, md_path
