"""The Explain page's figure: one network's saliency through the three steps."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ssnr_app.charts.axes import (
    COLORS,
    LEGEND_BELOW,
    MARGIN,
    histogram_trace,
    log_bins,
    log_y,
    power_ticks,
)


def explain_figure(
    layers: pd.DataFrame,
    saliency: list[np.ndarray],
    conservation: Mapping[str, float] | None,
    title: dict,
    font: int = 12,
) -> go.Figure:
    """The computation in three panels: per-parameter saliency (histogram, log axis) ->
    per-layer S_n^l and sigma^l (bars, log axis; the synflow conservation law as a line)
    -> each layer's share of S_n and of layer-wise SSNR."""
    fig = make_subplots(
        rows=1,
        cols=3,
        horizontal_spacing=0.07,
        subplot_titles=(
            "1. saliency S_p of every weight",
            "2. per layer: S_n^l and σ^l",
            "3. each layer's share of the score",
        ),
    )
    values = [np.abs(v) for v in saliency]
    edges = log_bins(values)
    fig.add_trace(histogram_trace(np.concatenate(values), edges, "all weights"), row=1, col=1)
    fig.update_xaxes(title="|S_p| (log scale)", **power_ticks(edges[0], edges[-1]), row=1, col=1)
    fig.update_yaxes(title="weights", row=1, col=1)
    x = list(range(len(layers)))
    hover = "%{x:02d} %{customdata}<br>%{y:.4g}<extra></extra>"
    fig.add_trace(
        go.Bar(
            x=x,
            y=layers["sum"].abs(),
            name="S_n^l (layer sum)",
            marker_color=COLORS["sum"],
            customdata=layers["layer"],
            hovertemplate=hover,
        ),
        row=1,
        col=2,
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=layers["sigma"],
            mode="lines+markers",
            name="σ^l (layer spread)",
            line={"color": "#ff7f0e"},
            customdata=layers["layer"],
            hovertemplate=hover,
        ),
        row=1,
        col=2,
    )
    if conservation:
        level = conservation["R_minus_bias"]
        fig.add_trace(
            go.Scatter(
                x=[-0.5, len(layers) - 0.5],
                y=[level, level],
                mode="lines",
                line={"dash": "dash", "color": "#000"},
                name="R − Σ|b| (synflow: stem and last layer)",
            ),
            row=1,
            col=2,
        )
    log_y(fig, np.concatenate([layers["sum"].abs(), layers["sigma"]]), row=1, col=2)
    fig.update_xaxes(title="layer (input to output)", row=1, col=2)
    for column, name, color in (
        ("share_of_sum", "share of S_n", "#d62728"),
        ("share_of_layerwise", "share of layer-wise SSNR", "#9467bd"),
    ):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=layers[column],
                mode="lines+markers",
                name=name,
                line={"color": color},
                customdata=layers["layer"],
                hovertemplate="%{x:02d} %{customdata}<br>%{y:.1%}<extra></extra>",
            ),
            row=1,
            col=3,
        )
    fig.update_yaxes(tickformat=".1%", rangemode="tozero", row=1, col=3)
    fig.update_xaxes(title="layer (input to output)", row=1, col=3)
    fig.update_layout(
        title=title,
        height=380 + 8 * font,
        font={"size": font},
        margin={**MARGIN, "t": 110},
        bargap=0.15,
        legend=LEGEND_BELOW,
    )
    fig.update_annotations(font_size=font + 1)
    return fig
