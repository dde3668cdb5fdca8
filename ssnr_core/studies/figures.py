"""The numbers behind the app's figures that are not correlations: ranks for a rank-rank
plot, op mixes for colouring, and per-layer-group SSNR across many architectures.

Correlations and top-k curves live in `correlation`; this module only lays out what a
figure needs, computed once here so that the app and its tests read the same values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as st

from ssnr_core.proxies import network, saliency
from ssnr_core.proxies.setup import Setup
from ssnr_core.spaces import get_space
from ssnr_core.studies import explain


def ranks(scores: pd.Series, truth: pd.Series) -> pd.DataFrame:
    """Score rank and true rank (1 = highest; ties share their average rank) of every
    architecture with a finite score and ground truth: Spearman's rho is the Pearson
    correlation of these two columns."""
    y = truth.reindex(scores.index)
    keep = np.isfinite(scores.to_numpy(float)) & np.isfinite(y.to_numpy(float))
    x, y = scores[keep], y[keep]
    return pd.DataFrame(
        {
            "score_rank": st.rankdata(-x.to_numpy(float)),
            "true_rank": st.rankdata(-y.to_numpy(float)),
        },
        index=x.index,
    )


def op_mix(space: str, archs: Sequence[str]) -> pd.DataFrame:
    """How often each op occurs in each architecture (0 where absent): rows archs,
    columns the ops seen, in order of first appearance."""
    found = get_space(space)
    table = pd.DataFrame([found.op_counts(a) for a in archs], index=pd.Index(archs, name="arch"))
    return table.fillna(0).astype(int)


def layer_names(setup: Setup, arch: str) -> list[str]:
    """The weight layers of `arch`, in the order its cached statistics list them, without
    scoring it (modules are shared, so this costs a build, not a saliency)."""
    model = network.build_network(setup, arch, share=True)
    return [name for name, _ in saliency.weight_layers(model)]


def group_table(setup: Setup, stats: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Each architecture's layer-wise SSNR split by layer group (`explain.group_of`):
    rows architectures, columns groups (stem, cells, classifier, in network order);
    each row sums to the architecture's layer-wise SSNR."""
    rows = {}
    for arch, s in stats.items():
        names = layer_names(setup, arch)
        if len(names) != len(s):
            raise ValueError(
                f"{arch}: {len(s)} cached layers but the network has {len(names)}; "
                "the cache is from another version"
            )
        rows[arch] = explain.group_contributions(names, s)
    table = pd.DataFrame(rows).T
    order = list(dict.fromkeys(g for s in rows.values() for g in s.index))
    return table.reindex(columns=order).rename_axis(index="arch", columns="group")
