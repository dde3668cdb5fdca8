"""Any model: a well-known network through the same per-layer statistics as a benchmark
architecture, scored live with `ssnr_core.score_model`.

VGG-16 (the SSNR paper's Figure 1), ResNet-18/50, MobileNetV2/V3, EfficientNet-B0 and
ViT-B/16, as torchvision builds them (`weights=None`; ssnr_core's equivalent copy where
torchvision does not import). With synflow and a network without biases or BatchNorm in
its paths (VGG-16), every layer carries the same S_n^l: the conservation law, in view.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ssnr_app import panels, state, widgets
from ssnr_app.charts import axes
from ssnr_core.proxies import aggregation, models, saliency
from ssnr_core.spaces import zoo

SIZES = (32, 64, 112, 224)
FIXED_SIZE = {"vit_b_16": 224}  # its patch grid fixes the input size


@st.cache_resource
def scored() -> dict[tuple[str, int, str, int], tuple[models.ModelScore, str]]:
    """Scores computed in this server process: a repeat answers at once."""
    return {}


def score(name: str, size: int, which: str, seed: int) -> tuple[models.ModelScore, str]:
    key = (name, size, which, seed)
    if key not in scored():
        model, _, note = models.load(f"torchvision:{name}", seed=seed)
        found = models.score_model(model, (3, size, size), saliency=which, seed=seed, name=name)
        scored()[key] = (found, note)
    return scored()[key]


def layer_chart(table: pd.DataFrame, column: str, title: dict) -> go.Figure:
    values = table[column].to_numpy(dtype=float)
    shown = np.where(values > 0, values, np.nan)  # a log axis has no place for 0
    fig = go.Figure(go.Bar(x=list(table.index), y=shown, hovertext=list(table["kind"])))
    axes.log_y(fig, values)  # power-of-ten labels only
    fig.update_layout(title=title, height=360, margin={**axes.MARGIN, "t": 80})
    fig.update_xaxes(showticklabels=len(table) <= 40)
    return fig


def charts(table: pd.DataFrame, name: str, which: str, seed: int) -> None:
    """S_n^l and S_n^l/σ^l per layer, side by side (stacked on a phone)."""
    sub = f"{name} · {which} · init seed {seed} · untrained"
    left, right = st.columns(2)
    head = axes.titled("S_n^l per layer", sub)
    panels.chart(layer_chart(table, "sum", head), key="model_sum", container=left)
    head = axes.titled("S_n^l / σ^l per layer (layer-wise SSNR sums these)", sub)
    panels.chart(layer_chart(table, "snr", head), key="model_snr", container=right)


def conservation(table: pd.DataFrame) -> str:
    sums = table["sum"].to_numpy(dtype=float)
    live = sums[sums > 0]
    if not len(live):
        return "Every layer's saliency is 0."
    spread = live.max() / live.min()
    if spread < 1 + 1e-6:
        return (
            f"Every layer carries the same S_n^l = {panels.sci(live[0], 4)}: synflow's "
            "conservation law (no biases or BatchNorm on the paths)."
        )
    return (
        f"S_n^l varies by a factor {panels.sci(spread)} across layers (biases, BatchNorm, residual "
        "sums and saturating activations break the per-layer conservation)."
    )


def render() -> None:
    panels.intro(
        "Any model",
        "A well-known network, untrained, through the same per-layer statistics and three "
        "aggregations as a benchmark architecture (Conv2d and Linear weights).",
    )
    state.restore(state.MODEL_PARAMS)  # a link names the model and its input size
    if st.session_state.get(state.MODEL_SIZE) not in SIZES:  # none yet, or a bad link's
        st.session_state[state.MODEL_SIZE] = 224  # set here, not as the widget's value
    st.sidebar.header("Model")
    name = str(widgets.choose("Model", list(zoo.BUILDERS), state.MODEL_NAME))
    size = FIXED_SIZE.get(name) or st.sidebar.select_slider(
        "Input size (pixels)", SIZES, key=state.MODEL_SIZE
    )
    state.publish(state.MODEL_PARAMS)
    which = st.sidebar.selectbox("Saliency", list(saliency.REGISTRY), key="model_saliency")
    seed = int(st.sidebar.number_input("Init seed", 0, 2**31 - 1, 0, key="model_seed"))
    try:
        with st.spinner(f"Scoring {name} with {which} ({size}x{size})…", show_time=True):
            found, note = score(name, size, which, seed)
    except ValueError as exc:
        st.error(str(exc))
        return
    scores = found.scores
    table = found.table()
    present = panels.presenting()
    if present:  # on a projector, the figures come first
        charts(table, name, which, seed)
    for label, column in zip(aggregation.LABELS, panels.card_row(3)):
        column.metric(aggregation.LABELS[label], panels.sci(scores[label], 4), border=True)
    dead = found.dead_layers()
    if len(dead) == len(table):
        st.warning(
            f"{which} is 0 in every layer: something blocks every path (a zero-initialised "
            "layer, such as ViT's head, or saturated activations)."
        )
    elif dead:
        st.info(f"{len(dead)} of {len(table)} layers have zero {which}: {', '.join(dead[:6])}")
    if which == "synflow":
        st.write(conservation(table))
    if not present:
        charts(table, name, which, seed)
    st.dataframe(
        table.rename(
            columns={"count": "weights", "sum": "S_n^l", "sigma": "sigma^l", "snr": "S_n^l/sigma^l"}
        ),
        width="stretch",
    )
    st.caption(
        f"{note}. Input 3x{size}x{size}, {found.dtype}; batch: {found.batch}; init seed "
        f"{seed}; {len(table)} weight layers."
    )


render()
