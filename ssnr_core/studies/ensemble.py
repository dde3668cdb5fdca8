"""Does layer-wise SSNR add information to AZ-NAS? Its rank aggregation with SSNR added.

AZ-NAS scores a population by Σ_k log(rank_k / N) over its components (`zero_cost`).
Here layer-wise SSNR of a saliency (synflow by default) becomes one more term, or
replaces each component in turn, and each variant is compared with AZ-NAS alone by a
paired bootstrap (same resamples for both), on the same architectures and truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ssnr_core.proxies import aggregation, zero_cost
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs import scoring
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.settings import Settings
from ssnr_core.studies import correlation, evaluation

ADDED = "layerwise_ssnr"


@dataclass(frozen=True)
class Ensemble:
    measure: Setup  # the rank-aggregated measure's setup (AZ-NAS)
    saliency: Setup  # whose layer-wise SSNR joins it
    table: pd.DataFrame  # one column per variant, one row per arch
    summaries: dict[str, correlation.Summary]
    paired: dict[str, evaluation.Paired]  # "variant-az_nas" -> {stat: (Δ, lo, hi)}

    def rows(self) -> list[dict]:
        """One row per variant: n, Spearman and Kendall with intervals, Δτ vs the measure."""
        out = []
        for name, s in self.summaries.items():
            row = {"score": name, "n": s.n, "spearman": s.spearman, "kendall": s.kendall}
            row |= {"spearman_ci95": s.spearman_ci95, "kendall_ci95": s.kendall_ci95}
            found = self.paired.get(f"{name}-{self.measure.saliency}")
            if found:
                row |= {"delta_kendall": found["kendall"], "delta_spearman": found["spearman"]}
            out.append(row)
        return out


def variants(terms: dict[str, np.ndarray], name: str, added: np.ndarray) -> pd.DataFrame:
    """The measure (sum of its log-rank terms), the measure plus `added`'s log-rank term,
    and each component replaced by it."""
    extra = zero_cost.rank_terms(added)
    parts = {k: v for k, v in terms.items() if k != name}
    total = sum(parts.values(), np.zeros(len(extra)))
    cols = {name: total, f"{name}+{ADDED}": total + extra}
    for k, v in parts.items():
        cols[f"{name}-{k}+{ADDED}"] = total - v + extra
    return pd.DataFrame(cols)


def ensemble(
    measure: Setup,
    cache: Cache,
    archs: Sequence[str],
    truth: pd.Series,
    *,
    settings: Settings,
    saliency: str = "synflow",
    n_boot: int = 1000,
    progress: scoring.Progress | None = None,
) -> Ensemble:
    """Score what the cache lacks (the measure and the saliency on `archs`), then
    correlate every variant and pair it with the measure alone."""
    known = zero_cost.get(measure.saliency)
    if known is None or known.combine != "rank_log_sum":
        raise ValueError(f"{measure.saliency} is not a rank-aggregated measure (az_nas is)")
    other = Setup(measure.space, measure.task, saliency, measure.seed, init=measure.init)
    found = scoring.score(measure, archs, cache, settings=settings, progress=progress)
    stats = scoring.score(other, archs, cache, settings=settings, progress=progress)
    terms = zero_cost.scores(measure.saliency, [found[a] for a in archs])
    added = aggregation.aggregate_all([stats[a] for a in archs])[ADDED]
    table = variants(terms, measure.saliency, added).set_index(pd.Index(archs, name="arch"))
    summaries = evaluation.correlate(table, truth, n_boot, measure.seed)
    which = [(c, measure.saliency) for c in table.columns if c != measure.saliency]
    paired = evaluation.paired(table, truth, which, n_boot, measure.seed)
    return Ensemble(measure, other, table, summaries, paired)
