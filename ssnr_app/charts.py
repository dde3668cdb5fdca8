"""Plotly figures of numbers computed by `ssnr_core`: the score scatter, the layer views,
the pruning curves. Figures only lay values out; nothing here computes a score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ssnr_app.loaders import WEIGHTS
from ssnr_core import aggregation

PLOT_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}
MAX_BINS = 60
QUANTITIES = {"sum": "S_n^l (sum)", "sigma": "σ^l (std)", "snr": "S_n^l / σ^l"}
LAYER_COLUMNS = {"sum": "S_n^l", "sigma": "sigma^l", "snr": "S_n^l/sigma^l"}
PRUNING_COLORS = {"sum": "#d62728", "ssnr": "#2ca02c", "layerwise_ssnr": "#9467bd"}


# ---------------------------------------------------------------- explorer scatter


def scatter(
    table: pd.DataFrame, truth: pd.Series, agg: str, log_x: bool, title: str
) -> tuple[go.Figure, int]:
    """WebGL scatter, one point per scored architecture, and how many were not drawable;
    customdata carries the arch string (selection maps back through it) and its weight
    count. `uirevision` keeps zoom and selection while live updates redraw it."""
    x = table[agg].to_numpy(dtype=float)
    y = truth.reindex(table.index).to_numpy(dtype=float)
    keep = np.isfinite(x) & np.isfinite(y) & ((x > 0) if log_x else True)
    custom = np.column_stack([table.index.to_numpy()[keep], table[WEIGHTS].to_numpy()[keep]])
    fig = go.Figure(
        go.Scattergl(
            x=x[keep],
            y=y[keep],
            mode="markers",
            customdata=custom,
            marker={"size": 6, "opacity": 0.7},
            hovertemplate=(
                "%{customdata[0]}<br>params (conv/linear weights scored): %{customdata[1]:,.0f}"
                "<br>accuracy: %{y:.2f}<br>score: %{x:.4g}<extra></extra>"
            ),
        )
    )
    fig.update_layout(
        title={"text": title, "font": {"size": 13}, "y": 0.97, "yanchor": "top"},
        xaxis_title=aggregation.LABELS[agg] + (" (log)" if log_x else ""),
        yaxis_title=str(truth.name),
        height=540,
        margin={**MARGIN, "t": 80},
        dragmode="lasso",
        uirevision=agg,
    )
    if log_x:
        fig.update_xaxes(type="log")
    return fig, int((~keep).sum())


def selected_archs(event: object) -> list[str]:
    """Architectures of box/lasso-selected points, read from customdata (a point index
    would refer to a trace that changes with every redraw)."""
    try:
        points = event["selection"]["points"]  # type: ignore[index]
    except (KeyError, TypeError):
        return []
    return [p["customdata"][0] for p in points if p.get("customdata")]


# ---------------------------------------------------------------- layer page


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


def heatmap(names: list[str], values: list[np.ndarray], edges: np.ndarray) -> go.Figure:
    """All layers at once: share of each layer's saliencies per log10 bin."""
    z = [np.histogram(_log10(v, edges), bins=edges)[0] / max(len(v), 1) for v in values]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=10 ** ((edges[:-1] + edges[1:]) / 2),
            y=[f"{i:02d} {n}" for i, n in enumerate(names)],
            colorscale="Viridis",
            colorbar={"title": "share"},
            hovertemplate="%{y}<br>saliency ≈ %{x:.3g}<br>share %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(type="log", title="per-parameter saliency (log)")
    fig.update_yaxes(autorange="reversed", tickfont={"size": 9})
    fig.update_layout(height=max(320, 14 * len(names) + 80), margin=MARGIN)
    return fig


def histograms(
    names: list[str], values: list[np.ndarray], edges: np.ndarray, chosen: list[int]
) -> go.Figure:
    """One histogram per chosen layer, on a shared log axis."""
    fig = make_subplots(
        rows=len(chosen),
        cols=1,
        shared_xaxes=True,
        subplot_titles=[f"{i:02d} {names[i]}" for i in chosen],
        vertical_spacing=min(0.08, 0.5 / max(len(chosen), 1)),
    )
    widths = np.diff(10**edges)
    for row, i in enumerate(chosen, start=1):
        counts, _ = np.histogram(_log10(values[i], edges), bins=edges)
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
    fig.update_layout(height=180 * len(chosen) + 60, margin=MARGIN)
    return fig


def layer_bars(table: pd.DataFrame, quantity: str) -> go.Figure:
    """One per-layer quantity of the layer table, input to output."""
    fig = go.Figure(
        go.Bar(
            x=list(range(len(table))),
            y=table[LAYER_COLUMNS[quantity]],
            customdata=table["layer"],
            hovertemplate="%{x:02d} %{customdata}<br>%{y:.4g}<extra></extra>",
        )
    )
    fig.update_yaxes(type="log", title=QUANTITIES[quantity] + " (log)")
    fig.update_xaxes(title="layer (input to output)")
    fig.update_layout(height=320, margin=MARGIN)
    return fig


# ---------------------------------------------------------------- pruning demo


def pruning_curves(table: pd.DataFrame, relative: pd.DataFrame) -> go.Figure:
    """Accuracy (top) and each aggregation relative to the unpruned net (bottom)."""
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
                x=relative["fraction_pruned"],
                y=relative[name],
                mode="lines+markers",
                name=aggregation.LABELS[name],
                line={"color": PRUNING_COLORS.get(name)},
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
    fig.update_layout(height=620, margin=MARGIN, legend={"orientation": "h", "y": -0.12})
    return fig
