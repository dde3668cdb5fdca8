"""The layer page's figures: per-layer saliency histograms, the all-layers heatmap and
per-layer bars of S_n^l, sigma^l and their ratio.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ssnr_app.charts.axes import MARGIN, histogram_trace, log10_clipped, log_y, power_ticks

QUANTITIES = {"sum": "S_n^l (sum)", "sigma": "σ^l (std)", "snr": "S_n^l / σ^l"}
LAYER_COLUMNS = {"sum": "S_n^l", "sigma": "sigma^l", "snr": "S_n^l/sigma^l"}


def heatmap(
    names: list[str], values: list[np.ndarray], edges: np.ndarray, title: dict | None = None
) -> go.Figure:
    """All layers at once: share of each layer's saliencies per log10 bin."""
    z = [np.histogram(log10_clipped(v, edges), bins=edges)[0] / max(len(v), 1) for v in values]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=(edges[:-1] + edges[1:]) / 2,
            y=[f"{i:02d} {n}" for i, n in enumerate(names)],
            colorscale="Viridis",
            colorbar={"title": "share"},
            hovertemplate="%{y}<br>saliency ≈ 10^%{x:.1f}<br>share %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="per-parameter saliency (log scale)", **power_ticks(edges[0], edges[-1]))
    fig.update_yaxes(autorange="reversed", tickfont={"size": 9})
    fig.update_layout(
        title=title,
        height=max(320, 14 * len(names) + 80) + (60 if title else 0),
        margin={**MARGIN, "t": 80} if title else MARGIN,
    )
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
    for row, i in enumerate(chosen, start=1):
        fig.add_trace(histogram_trace(values[i], edges, names[i]), row=row, col=1)
    fig.update_xaxes(**power_ticks(edges[0], edges[-1]))
    fig.update_xaxes(title="per-parameter saliency (log scale)", row=len(chosen), col=1)
    fig.update_layout(height=180 * len(chosen) + 60, margin=MARGIN, bargap=0)
    return fig


def layer_bars(table: pd.DataFrame, quantity: str) -> go.Figure:
    """One per-layer quantity of the layer table, input to output."""
    values = table[LAYER_COLUMNS[quantity]]
    fig = go.Figure(
        go.Bar(
            x=list(range(len(table))),
            y=values,
            customdata=table["layer"],
            hovertemplate="%{x:02d} %{customdata}<br>%{y:.4g}<extra></extra>",
        )
    )
    log_y(fig, values.to_numpy())
    fig.update_yaxes(title=QUANTITIES[quantity] + " (log scale)")
    fig.update_xaxes(title="layer (input to output)")
    fig.update_layout(height=320, margin=MARGIN)
    return fig
