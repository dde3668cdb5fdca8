"""Layer saliency: where in a network the saliency sits, and why layer-wise SSNR differs.

One architecture (from the explorer, by benchmark index or by cell string) is built
and scored live (about a second); works without benchmark data except for indices
and the accuracy line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from pages import common
from ssnr_core import aggregation, config, saliency, scoring
from ssnr_core.cache import Setup
from ssnr_core.spaces import SPACES, canonical

BY_STRING = "by architecture string"
BY_INDEX = "by benchmark index"
DEFAULTS = {  # two NB201 cells that score far apart, for a first look
    "a": "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|"
    "nor_conv_3x3~2|",
    "b": "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|skip_connect~1|avg_pool_3x3~2|",
}
QUANTITIES = {"sum": "S_n^l (sum)", "sigma": "σ^l (std)", "snr": "S_n^l / σ^l"}
MAX_BINS = 60


@st.cache_data(show_spinner=False, max_entries=16)
def layer_data(setup: Setup, arch: str) -> tuple[list[str], list[np.ndarray], int]:
    """Layer names, per-parameter saliency arrays and the parameter count of one network."""
    names, tensors = scoring.saliencies(setup, arch)
    params = sum(p.numel() for p in scoring.build_network(setup, arch).parameters())
    return names, [t.numpy().reshape(-1) for t in tensors], params


def accuracy_of(setup: Setup, arch: str) -> str:
    try:
        truth = common.get_truth(setup.space, setup.task, None, str(config.data_dir()))
    except (ValueError, OSError):  # DataError included: accuracy is optional here
        return "accuracy: benchmark data not available"
    if arch not in truth.index:
        return "accuracy: not in the benchmark's ground truth"
    return f"{truth.name}: {truth[arch]:.2f}"


def pick_arch(side: str, space: str, modes: list[str]) -> str | None:
    """The architecture for one side of the page, canonical, or None after an error."""
    mode = common.choose(
        "Pick",
        modes,
        f"k_l_mode_{side}" if side == "b" else "k_l_mode",
        kind="radio",
        container=st,
        horizontal=True,
    )
    try:
        if mode == common.FROM_EXPLORER:
            options = st.session_state.get("layer_archs", [])
            return common.choose(
                "Architecture",
                options,
                f"k_l_arch_{side}",
                default=options[min(len(options) - 1, 1 if side == "b" else 0)],
                container=st,
            )
        if mode == BY_INDEX:
            index = common.number(
                "Benchmark index",
                f"k_l_index_{side}",
                0 if side == "a" else 1,
                0,
                15_624,
                container=st,
            )
            return canonical(space, index)
        st.session_state.setdefault(f"k_l_text_{side}", DEFAULTS[side] if space == "nb201" else "")
        text = st.text_input(
            "Architecture string",
            key=f"k_l_text_{side}",
            help="NB201: official cell string or NASLib tuple; NB301/TNB101: NASLib's key.",
        )
        if not text.strip():
            st.info("Enter an architecture.")
            return None
        return canonical(space, text)
    except (ValueError, OSError) as exc:  # DataError: an index needs the benchmark table
        st.error(str(exc))
        return None


def log_bins(values: list[np.ndarray]) -> np.ndarray:
    """log10 bin edges from the 0.1% quantile to the maximum of the positive values (a
    few tiny saliencies would otherwise stretch the axis over dozens of empty decades;
    `_log10` puts those into the first bin)."""
    pos = np.concatenate([v[v > 0] for v in values] or [np.ones(1)])
    logs = np.log10(pos if pos.size else np.ones(1))
    lo, hi = np.floor(np.quantile(logs, 0.001)), np.ceil(logs.max())
    hi = max(hi, lo + 1)
    return np.linspace(lo, hi, int(min(MAX_BINS, max(10, 4 * (hi - lo)))) + 1)


def _log10(v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.log10(v[v > 0]), edges[0], edges[-1])


def magnitudes(values: list[np.ndarray]) -> tuple[list[np.ndarray], bool]:
    """Saliencies can be signed (grasp); the log axis shows |S_p|, and says so."""
    signed = any((v < 0).any() for v in values)
    return ([np.abs(v) for v in values] if signed else values), signed


def heatmap(names: list[str], values: list[np.ndarray], edges: np.ndarray) -> go.Figure:
    """All layers at once: share of each layer's saliencies per log10 bin."""
    z = []
    for v in values:
        counts, _ = np.histogram(_log10(v, edges), bins=edges)
        z.append(counts / max(len(v), 1))
    labels = [f"{i:02d} {n}" for i, n in enumerate(names)]
    centers = 10 ** ((edges[:-1] + edges[1:]) / 2)
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=centers,
            y=labels,
            colorscale="Viridis",
            colorbar={"title": "share"},
            hovertemplate="%{y}<br>saliency ≈ %{x:.3g}<br>share %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(type="log", title="per-parameter saliency (log)")
    fig.update_yaxes(autorange="reversed", tickfont={"size": 9})
    fig.update_layout(
        height=max(320, 14 * len(names) + 80), margin={"l": 10, "r": 10, "t": 30, "b": 10}
    )
    return fig


def histograms(
    names: list[str], values: list[np.ndarray], edges: np.ndarray, chosen: list[int]
) -> go.Figure:
    fig = make_subplots(
        rows=len(chosen),
        cols=1,
        shared_xaxes=True,
        subplot_titles=[f"{i:02d} {names[i]}" for i in chosen],
        vertical_spacing=min(0.08, 0.5 / max(len(chosen), 1)),
    )
    widths = np.diff(10**edges)
    for row, i in enumerate(chosen, start=1):
        v = values[i]
        counts, _ = np.histogram(_log10(v, edges), bins=edges)
        fig.add_trace(
            go.Bar(
                x=10 ** edges[:-1],
                y=counts,
                width=widths,
                offset=0,
                name=names[i],
                showlegend=False,
                marker_color="#1f77b4",
                hovertemplate="from %{x:.3g}: %{y:,} weights<extra></extra>",
            ),
            row=row,
            col=1,
        )
        fig.update_xaxes(type="log", row=row, col=1)
    fig.update_xaxes(title="per-parameter saliency (log)", row=len(chosen), col=1)
    fig.update_layout(height=180 * len(chosen) + 60, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def layer_table(names: list[str], values: list[np.ndarray], stats: np.ndarray) -> pd.DataFrame:
    cols = aggregation.per_layer(stats)
    return pd.DataFrame(
        {
            "layer": names,
            "count": cols["count"].astype(int),
            "S_n^l": cols["sum"],
            "sigma^l": cols["sigma"],
            "S_n^l/sigma^l": cols["snr"],
            "zeros": [int((v == 0).sum()) for v in values],
        }
    )


def bars(table: pd.DataFrame, quantity: str) -> go.Figure:
    column = {"sum": "S_n^l", "sigma": "sigma^l", "snr": "S_n^l/sigma^l"}[quantity]
    fig = go.Figure(
        go.Bar(
            x=list(range(len(table))),
            y=table[column],
            customdata=table["layer"],
            hovertemplate="%{x:02d} %{customdata}<br>%{y:.4g}<extra></extra>",
        )
    )
    fig.update_yaxes(type="log", title=QUANTITIES[quantity] + " (log)")
    fig.update_xaxes(title="layer (input to output)")
    fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10})
    return fig


def overall(setup: Setup, arch: str) -> dict[str, object]:
    """The whole-network figures of one architecture, for cards or the side-by-side table."""
    names, raw, params = layer_data(setup, arch)
    stats = aggregation.layer_stats(raw)
    return {
        "params": params,
        "weight layers": len(names),
        **{aggregation.LABELS[n]: fn(stats) for n, fn in aggregation.AGGREGATIONS.items()},
    }


def arch_panel(setup: Setup, arch: str, side: str, cards: bool) -> None:
    """Everything about one architecture (cards only when it has the page to itself)."""
    with st.spinner("Scoring the network…"):
        names, raw, params = layer_data(setup, arch)
    values, signed = magnitudes(raw)
    stats = aggregation.layer_stats(raw)
    st.markdown(f"`{arch}`")
    st.caption(f"{params:,} parameters · {len(names)} weight layers · {accuracy_of(setup, arch)}")
    if cards:
        cols = st.columns(3)
        for col, (name, fn) in zip(cols, aggregation.AGGREGATIONS.items()):
            col.metric(aggregation.LABELS[name], f"{fn(stats):.4g}", border=True)
    if signed:
        st.caption("This saliency is signed: histograms show |S_p|; the table keeps the sign.")
    edges = log_bins(values)
    st.plotly_chart(heatmap(names, values, edges), key=f"heat_{side}", config=common.PLOT_CONFIG)
    table = layer_table(names, raw, stats)
    nonzero = [i for i in range(len(names)) if (values[i] > 0).any()] or [0]
    picks = sorted(
        {nonzero[0], nonzero[len(nonzero) // 3], nonzero[2 * len(nonzero) // 3], nonzero[-1]}
    )
    chosen = st.multiselect(
        "Layers to show as histograms",
        list(range(len(names))),
        default=picks,
        key=f"hist_{side}",
        format_func=lambda i: f"{i:02d} {names[i]}",
    )
    if chosen:
        st.plotly_chart(
            histograms(names, values, edges, chosen), key=f"hists_{side}", config=common.PLOT_CONFIG
        )
    quantity = st.radio(
        "Per-layer quantity",
        list(QUANTITIES),
        key=f"q_{side}",
        format_func=QUANTITIES.get,
        horizontal=True,
    )
    st.plotly_chart(bars(table, quantity), key=f"bars_{side}", config=common.PLOT_CONFIG)
    # As text: the grid widget cannot show floats beyond ~1e21 (synflow sums reach 1e48);
    # the CSV below keeps every digit.
    st.dataframe(table.assign(**{c: table[c].map("{:.4e}".format) for c in ("S_n^l", "sigma^l")}))
    common.download_csv(
        "Per-layer table (CSV)",
        table,
        f"layers_{setup.space}_{setup.saliency}_{side}.csv",
        key=f"dl_{side}",
    )


def render() -> None:
    st.title("Layer saliency")
    st.caption(
        "Per-parameter saliency of one network, layer by layer. The sum S_n adds "
        "layers whose saliencies differ by many orders of magnitude; layer-wise SSNR "
        "weighs each layer by its own spread."
    )
    sb = st.sidebar
    sb.header("Network")
    available = [b for b in SPACES if common.space_problem(b) is None]
    if not available:
        st.error(common.space_problem("nb201"))
        return
    space = common.choose("Benchmark", available, "k_l_bench", format_func=common.benchmark_label)
    task = common.choose("Task", common.tasks_of(space), "k_l_task")
    sal = common.choose("Saliency", list(saliency.REGISTRY), "k_l_sal")
    seed = common.number("Init seed", "k_l_seed", 0, 0, 2**31 - 1)
    st.session_state.setdefault("k_l_compare", False)
    compare = sb.toggle("Compare two architectures", key="k_l_compare")
    setup = Setup(space, task, sal, seed)
    modes = [BY_STRING, *([BY_INDEX] if space == "nb201" else [])]
    if st.session_state.get("layer_archs"):
        modes.insert(0, common.FROM_EXPLORER)
    sides = ["a", "b"] if compare else ["a"]
    columns = st.columns(len(sides))
    picked = {}
    for side, column in zip(sides, columns):
        with column:
            if compare:
                st.subheader(f"Architecture {side.upper()}")
            picked[side] = pick_arch(side, space, modes)
    if any(a is None for a in picked.values()):
        return
    try:
        with st.spinner("Scoring…"):
            figures = {side.upper(): overall(setup, arch) for side, arch in picked.items()}
    except (ValueError, OSError, RuntimeError) as exc:
        st.error(f"Could not score the network: {exc}")
        return
    if compare:
        st.subheader("Side by side")
        # As text: sums near 1e49 lose their formatting in the grid widget otherwise.
        st.dataframe(
            pd.DataFrame(
                {
                    side: {
                        k: f"{v:,}" if isinstance(v, int) else f"{v:.4g}" for k, v in row.items()
                    }
                    for side, row in figures.items()
                }
            ).T
        )
    for side, column in zip(sides, st.columns(len(sides))):
        with column:
            arch_panel(setup, picked[side], side, cards=not compare)
    with st.expander("What am I looking at?"):
        st.markdown(
            "- **Heatmap**: one row per weight layer (input to output), the share of its "
            "weights per saliency decade.\n"
            "- **S_n^l** is the layer's saliency sum, **σ^l** their standard deviation; "
            "**S_n^l/σ^l** is the layer's signal-to-noise ratio. Layer-wise SSNR sums it "
            "over layers, so no single layer dominates the way the largest S_n^l "
            "dominates the sum.\n"
            f"- Networks are built at init seed {seed} and scored with {sal} on "
            f"{'an all-ones input' if not saliency.get(sal).needs_data else 'a seeded batch'}"
            ", exactly as the cached scores."
        )


common.require_app()
render()
