"""The lecture's figures: the sum-only scatter with its widest vertical band marked, two
networks' per-layer S_n^l and sigma^l side by side, rank correlation inside bands of
equal S_n, and saliency per weight against layer size (the conservation law)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ssnr_app.charts.axes import COLORS, LEGEND_BELOW, MARGIN, log_y, power_ticks
from ssnr_app.charts.explorer import scatter
from ssnr_core.proxies import aggregation
from ssnr_core.studies import lecture

PAIR_COLORS = ("#2ca02c", "#d62728")  # the more accurate network, the less accurate one


def band_scatter(
    table: pd.DataFrame, truth: pd.Series, band: lecture.Band, title: dict, height: int
) -> go.Figure:
    """Accuracy against the sum alone (log axis), the widest band of equal S_n shaded."""
    fig, _ = scatter(table, truth, "sum", True, title)
    fig.add_vrect(
        x0=band.lo,
        x1=band.hi,
        fillcolor="rgba(255,165,0,0.35)",
        line={"color": "#ff7f0e", "width": 2},
        annotation_text=f"{band.n:,} archs",
        annotation_position="top left",
        annotation_yshift=-28,  # a line under the floor band's count, which may be beside it
    )
    fig.update_layout(height=height, dragmode="zoom")
    return fig


def pair_layers(
    layers: Mapping[str, pd.DataFrame], title: dict, height: int, font: int = 14
) -> go.Figure:
    """Per layer of each network (input to output): S_n^l (left) and sigma^l (right), on
    log axes; the first network given is drawn in green, the second in red."""
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.1,
        subplot_titles=("S_n^l: saliency summed per layer", "σ^l: spread of saliency per layer"),
    )
    every = []
    for (name, table), color in zip(layers.items(), PAIR_COLORS):
        x = np.arange(len(table))
        for col, quantity in ((1, "sum"), (2, "sigma")):
            values = table[quantity].abs().to_numpy(float)
            every.append((col, values))
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=np.where(values > 0, values, np.nan),
                    mode="lines+markers",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                    line={"color": color, "width": 2},
                    marker={"size": 5},
                    customdata=table["layer"],
                    hovertemplate="%{x:02d} %{customdata}<br>%{y:.4g}<extra></extra>",
                ),
                row=1,
                col=col,
            )
    for col in (1, 2):
        log_y(fig, np.concatenate([v for c, v in every if c == col]), row=1, col=col)
        fig.update_xaxes(title="layer (input to output)", row=1, col=col)
    fig.update_layout(
        title=title,
        height=height,
        font={"size": font},
        margin={**MARGIN, "t": 90},
        legend=LEGEND_BELOW,
    )
    fig.update_annotations(font_size=font + 1)
    return fig


def band_correlations(bands: pd.DataFrame, title: dict, height: int, font: int = 14) -> go.Figure:
    """Spearman with accuracy inside each decade of S_n, per aggregation: where the sum
    cannot rank (its bands are flat), the sigma-normalised scores still do."""
    fig = go.Figure()
    for agg in aggregation.AGGREGATIONS:
        fig.add_trace(
            go.Scatter(
                x=bands["lo"] + 0.5,
                y=bands[agg],
                mode="lines+markers",
                name=aggregation.LABELS[agg],
                line={"color": COLORS[agg], "width": 3},
                customdata=bands["n"],
                hovertemplate="S_n ≈ 10^%{x:.1f}: ρ = %{y:.3f} (n = %{customdata:,})"
                "<extra></extra>",
            )
        )
    fig.add_hline(y=0, line={"color": "#888", "dash": "dot"})
    lo, hi = float(bands["lo"].min()), float(bands["lo"].max() + 1)
    fig.update_xaxes(title="the band's S_n (one decade each)", **power_ticks(lo, hi))
    fig.update_yaxes(title="Spearman ρ inside the band", range=[-1, 1])
    fig.update_layout(
        title=title,
        height=height,
        font={"size": font},
        margin={**MARGIN, "t": 80},
        legend=LEGEND_BELOW,
    )
    return fig


def per_weight(table: pd.DataFrame, title: dict, height: int, font: int = 14) -> go.Figure:
    """Saliency per weight against a layer's number of weights, both log: a conserved
    flow shared among more weights leaves less for each."""
    fig = go.Figure(
        go.Scatter(
            x=table["count"],
            y=table["per_weight"],
            mode="markers",
            marker={"size": 10, "color": COLORS["layerwise_ssnr"], "opacity": 0.8},
            customdata=table["layer"],
            hovertemplate="%{customdata}<br>%{x:,} weights<br>%{y:.4g} per weight<extra></extra>",
        )
    )
    fig.update_xaxes(type="log", dtick=1, title="weights in the layer (log scale)")
    log_y(fig, table["per_weight"].to_numpy(float))
    fig.update_yaxes(title="S_n^l per weight (log scale)")
    fig.update_layout(title=title, height=height, font={"size": font}, margin={**MARGIN, "t": 80})
    return fig
