"""Pruning demo: a small live replica of the seed figure, no benchmark data needed.

A CNN trained for a few seconds on scikit-learn's digits is pruned, lowest saliency
first, to 90%+ sparsity; accuracy, the saliency sum and the SSNRs are plotted against
the fraction pruned (all numbers from `ssnr_core.pruning`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ssnr_app import charts, panels, widgets
from ssnr_core import pruning

SCOPES = {"global": "globally (one threshold)", "layer": "per layer (same share each)"}


@dataclass(frozen=True)
class Demo:
    """The demo's settings, as `pruning.prune_curve` takes them."""

    saliency: str
    scope: str
    sparsity: float
    steps: int
    seed: int
    epochs: int


@st.cache_data(show_spinner=False, max_entries=16)
def run(demo: Demo) -> pd.DataFrame:
    return pruning.prune_curve(
        demo.saliency, demo.scope, demo.sparsity, demo.steps, demo.seed, demo.epochs
    )


def demo_inputs() -> Demo:
    """The settings form: nothing reruns until "Train and prune"."""
    with st.sidebar.form("prune"):
        st.header("Demo settings")
        sal = widgets.choose("Saliency", pruning.SALIENCIES, "prune_saliency", container=st)
        scope = widgets.choose(
            "Prune",
            list(SCOPES),
            "prune_scope",
            kind="radio",
            container=st,
            format_func=SCOPES.get,
        )
        sparsity = st.slider("Final sparsity", 0.5, 0.99, 0.95, step=0.01, key="prune_sparsity")
        steps = st.slider("Steps", 4, 30, 12, key="prune_steps")
        seed = widgets.number("Seed", "prune_seed", 0, 0, widgets.MAX_SEED, container=st)
        epochs = st.slider("Training epochs", 3, 40, 12, key="prune_epochs")
        st.form_submit_button("Train and prune", type="primary")
    return Demo(str(sal), str(scope), float(sparsity), int(steps), seed, int(epochs))


def summary_cards(table: pd.DataFrame) -> None:
    first, last = table.iloc[0], table.iloc[-1]
    cols = st.columns(4)
    cols[0].metric("trained accuracy", f"{first['test_accuracy']:.1%}", border=True)
    cols[1].metric("pruned", f"{last['fraction_pruned']:.1%}", border=True)
    cols[2].metric(
        "accuracy after pruning",
        f"{last['test_accuracy']:.1%}",
        f"{100 * (last['test_accuracy'] - first['test_accuracy']):+.1f} pts",
        border=True,
    )
    cols[3].metric(
        "sum S_n left",
        f"{last['sum'] / first['sum']:.1%}",
        help="saliency sum after pruning, as a share of the unpruned network's",
        border=True,
    )


def render() -> None:
    st.title("Pruning demo")
    st.caption(
        "Train a small CNN on scikit-learn's 8x8 digits for a few seconds, then prune "
        "the lowest-saliency weights step by step. Watch the saliency sum fall while "
        "accuracy holds, and compare with the SSNR scores."
    )
    demo = demo_inputs()
    try:
        with st.spinner("Training and pruning (a few seconds)…"):
            table = run(demo)
    except (ValueError, RuntimeError) as exc:
        st.error(f"The demo failed: {exc}")
        return
    summary_cards(table)
    st.plotly_chart(
        charts.pruning_curves(table, pruning.relative(table)),
        key="prune_figure",
        config=charts.PLOT_CONFIG,
    )
    st.caption(
        f"{int(table['remaining'].iloc[0]):,} weights to begin with; test accuracy on "
        f"scikit-learn's digits (held-out 30%), seed {demo.seed}; saliency recomputed on the "
        f"pruned network after every step; no retraining. Took "
        f"{table['seconds'].iloc[-1]:.1f} s."
    )
    st.dataframe(table, hide_index=True)
    panels.download_csv(
        "Download the table (CSV)",
        table,
        f"pruning_{demo.saliency}_{demo.scope}_seed{demo.seed}.csv",
    )


render()
