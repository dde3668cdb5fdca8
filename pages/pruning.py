"""Pruning demo: a small live replica of the seed figure, no benchmark data needed.

A CNN trained for a few seconds on scikit-learn's digits is pruned, lowest saliency
first, to 90%+ sparsity; accuracy, the saliency sum and the SSNRs are plotted against
the fraction pruned (all numbers from `ssnr_core.pruning`).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from pages import common
from ssnr_core import aggregation, pruning

COLORS = {"sum": "#d62728", "ssnr": "#2ca02c", "layerwise_ssnr": "#9467bd"}


@st.cache_data(show_spinner=False, max_entries=16)
def run(sal: str, scope: str, sparsity: float, steps: int, seed: int, epochs: int) -> pd.DataFrame:
    return pruning.prune_curve(sal, scope, sparsity, steps, seed, epochs)


def figure(table: pd.DataFrame) -> go.Figure:
    rel = pruning.relative(table)
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=("test accuracy", "score relative to the unpruned net"),
    )
    fig.add_trace(
        go.Scatter(
            x=table["fraction_pruned"],
            y=100 * table["test_accuracy"],
            mode="lines+markers",
            name="test accuracy (%)",
            line={"color": "#1f77b4"},
        ),
        row=1,
        col=1,
    )
    for name in aggregation.AGGREGATIONS:
        fig.add_trace(
            go.Scatter(
                x=rel["fraction_pruned"],
                y=rel[name],
                mode="lines+markers",
                name=aggregation.LABELS[name],
                line={"color": COLORS.get(name)},
                customdata=table[name],
                hovertemplate="pruned %{x:.1%}<br>relative %{y:.3f}<br>value %{customdata:.4g}"
                "<extra></extra>",
            ),
            row=2,
            col=1,
        )
    fig.update_yaxes(title="%", row=1, col=1)
    fig.update_yaxes(type="log", dtick="D2", title="value / value at 0% (log)", row=2, col=1)
    fig.update_xaxes(title="fraction of weights pruned", tickformat=".0%", row=2, col=1)
    fig.update_layout(
        height=620,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.12},
    )
    return fig


def render() -> None:
    st.title("Pruning demo")
    st.caption(
        "Train a small CNN on scikit-learn's 8x8 digits for a few seconds, then prune "
        "the lowest-saliency weights step by step. Watch the saliency sum fall while "
        "accuracy holds, and compare with the SSNR scores."
    )
    with st.sidebar.form("prune"):
        st.header("Demo settings")
        sal = common.choose("Saliency", pruning.SALIENCIES, "k_p_sal", container=st)
        scope = common.choose(
            "Prune",
            pruning.SCOPES,
            "k_p_scope",
            kind="radio",
            container=st,
            format_func={
                "global": "globally (one threshold)",
                "layer": "per layer (same share each)",
            }.get,
        )
        st.session_state.setdefault("k_p_sparsity", 0.95)
        sparsity = st.slider("Final sparsity", 0.5, 0.99, step=0.01, key="k_p_sparsity")
        st.session_state.setdefault("k_p_steps", 12)
        steps = st.slider("Steps", 4, 30, key="k_p_steps")
        seed = common.number("Seed", "k_p_seed", 0, 0, 2**31 - 1, container=st)
        st.session_state.setdefault("k_p_epochs", 12)
        epochs = st.slider("Training epochs", 3, 40, key="k_p_epochs")
        st.form_submit_button("Train and prune", type="primary")
    try:
        with st.spinner("Training and pruning (a few seconds)…"):
            table = run(sal, scope, float(sparsity), int(steps), int(seed), int(epochs))
    except (ValueError, RuntimeError) as exc:
        st.error(f"The demo failed: {exc}")
        return
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
    st.plotly_chart(figure(table), key="prune_fig", config=common.PLOT_CONFIG)
    st.caption(
        f"{int(first['remaining']):,} weights to begin with; saliency recomputed on "
        f"the pruned network after every step; no retraining. Took "
        f"{last['seconds']:.1f} s."
    )
    st.dataframe(table, hide_index=True)
    common.download_csv("Download the table (CSV)", table, f"pruning_{sal}_{scope}_seed{seed}.csv")


common.require_app()
render()
