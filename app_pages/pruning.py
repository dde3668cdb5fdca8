"""Pruning demo: a small live replica of the paper's Figure 1, no benchmark data needed.

A CNN trained for a few seconds on scikit-learn's digits is pruned by weight magnitude
(or at random) to 90%+ sparsity; accuracy, the saliency sum and the SSNRs of the masked
network are plotted against the fraction pruned, each relative to its unpruned value on
one linear axis (all numbers from `ssnr_core.studies.pruning`, whose docstring states the
protocol).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ssnr_app import panels, widgets
from ssnr_app.charts import axes
from ssnr_app.charts import pruning as pruning_charts
from ssnr_core.proxies import aggregation
from ssnr_core.studies import pruning

SCOPES = {"global": "globally (one threshold)", "layer": "per layer (same share each)"}
CRITERIA = {"magnitude": "smallest magnitude first", "random": "at random (seeded)"}


@dataclass(frozen=True)
class Demo:
    """The demo's settings, as `pruning.prune_curve` takes them."""

    saliency: str
    criterion: str
    scope: str
    sparsity: float
    steps: int
    seed: int
    epochs: int


@st.cache_resource
def finished() -> dict[Demo, pd.DataFrame]:
    """Curves computed in this server process, by settings: a repeat answers at once."""
    return {}


def run(demo: Demo) -> pd.DataFrame:
    """The curve, with a progress bar per pruning step while it is computed."""
    if demo in finished():
        return finished()[demo]
    bar = st.progress(0.0, text="Training the CNN…")

    def step(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Pruned and scored {done} of {total} sparsities…")

    table = pruning.prune_curve(
        demo.saliency,
        demo.scope,
        demo.sparsity,
        demo.steps,
        demo.seed,
        demo.epochs,
        demo.criterion,
        progress=step,
    )
    bar.empty()
    finished()[demo] = table
    return table


def demo_inputs() -> Demo:
    """The settings form: nothing reruns until "Train and prune"."""
    with st.sidebar.form("prune"):
        st.header("Demo settings")
        sal = widgets.choose(
            "Saliency",
            pruning.SALIENCIES,
            "prune_saliency",
            container=st,
            help="What is measured on each pruned network (it does not choose the weights).",
        )
        criterion = widgets.choose(
            "Remove weights",
            list(CRITERIA),
            "prune_criterion",
            kind="radio",
            container=st,
            format_func=CRITERIA.get,
            help="Magnitude pruning keeps accuracy for long; random pruning does not.",
        )
        scope = widgets.choose(
            "Prune",
            list(SCOPES),
            "prune_scope",
            kind="radio",
            container=st,
            format_func=SCOPES.get,
            help="One threshold for the whole network, or the same share of every layer.",
        )
        sparsity = st.slider(
            "Final sparsity",
            0.5,
            0.99,
            0.95,
            step=0.01,
            key="prune_sparsity",
            help="The share of weights removed at the last step.",
        )
        steps = st.slider(
            "Steps", 4, 30, 12, key="prune_steps", help="Sparsities between 0 and the final."
        )
        seed = widgets.number(
            "Seed",
            "prune_seed",
            0,
            0,
            widgets.MAX_SEED,
            container=st,
            help="Seeds the split, the training and random pruning.",
        )
        epochs = st.slider(
            "Training epochs", 3, 40, 12, key="prune_epochs", help="Before any pruning."
        )
        st.form_submit_button("Train and prune", type="primary")
    return Demo(
        str(sal), str(criterion), str(scope), float(sparsity), int(steps), seed, int(epochs)
    )


def summary_cards(table: pd.DataFrame) -> None:
    first, last = table.iloc[0], table.iloc[-1]
    cols = panels.card_row(5)
    cols[0].metric("trained accuracy", f"{first['test_accuracy']:.1%}", border=True)
    cols[1].metric("pruned", f"{last['fraction_pruned']:.1%}", border=True)
    cols[2].metric(
        "accuracy after pruning",
        f"{last['test_accuracy']:.1%}",
        f"{100 * (last['test_accuracy'] - first['test_accuracy']):+.1f} pts",
        border=True,
    )
    for col, name in zip(cols[3:], ("sum", "ssnr")):
        col.metric(
            f"{aggregation.LABELS[name]} left",
            f"{last[name] / first[name]:.1%}",
            help="after pruning, as a share of the unpruned network's",
            border=True,
        )


def render() -> None:
    panels.intro(
        "Pruning demo",
        "The paper's Figure 1 in miniature: train a small CNN on scikit-learn's 8x8 digits "
        "for a few seconds, remove ever more of its weights, and measure the saliency of "
        "the pruned network. The sum S_n falls long before accuracy does; SSNR (saliency "
        "signal-to-noise ratio), a ratio, stays near 1 until accuracy drops.",
    )
    demo = demo_inputs()
    try:
        table = run(demo)
    except (ValueError, RuntimeError) as exc:
        st.error(f"The demo failed: {exc}")
        return
    present = panels.presenting()
    if not present:  # on a projector, the figure comes first
        summary_cards(table)
    head = f"Pruning a digits CNN ({demo.criterion}, {demo.scope}) · saliency: {demo.saliency}"
    sub = (
        f"{int(table['remaining'].iloc[0]):,} weights · test accuracy on 30% held out · "
        f"seed {demo.seed} · {demo.epochs} epochs · no retraining"
    )
    panels.chart(
        pruning_charts.pruning_curves(table, pruning.relative(table), axes.titled(head, sub)),
        key="prune_figure",
    )
    if present:
        summary_cards(table)
    st.caption(
        f"Weights are masked on the trained network ({CRITERIA[demo.criterion]}), never "
        "chosen by the saliency; the saliency is then computed on the whole masked network, "
        "pruned weights included (they score 0), so every row aggregates the same "
        f"{int(table['remaining'].iloc[0]):,} weights. Took {table['seconds'].iloc[-1]:.1f} s."
    )
    st.dataframe(table, hide_index=True)
    panels.download_csv(
        "Download the table (CSV)",
        table,
        f"pruning_{demo.saliency}_{demo.criterion}_{demo.scope}_seed{demo.seed}.csv",
    )


render()
