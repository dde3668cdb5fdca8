"""The pruning demo's curves: accuracy and every score against the fraction pruned."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ssnr_app.charts.axes import ACCURACY_COLOR, COLORS, LEGEND_BELOW, MARGIN
from ssnr_core.proxies import aggregation


def pruning_curves(table: pd.DataFrame, relative: pd.DataFrame, title: dict) -> go.Figure:
    """Accuracy (top, %) and every curve relative to the unpruned net on one linear axis
    (bottom: 1 = as before pruning), so a fall of the sum while accuracy holds shows."""
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.1,
        row_heights=[0.35, 0.65],
        subplot_titles=("test accuracy", "relative to the unpruned network (1 = unchanged)"),
    )
    pruned = table["fraction_pruned"]
    fig.add_trace(
        go.Scatter(
            x=pruned,
            y=100 * table["test_accuracy"],
            mode="lines+markers",
            name="test accuracy (%)",
            line={"color": ACCURACY_COLOR},
            hovertemplate="pruned %{x:.1%}<br>accuracy %{y:.1f}%<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=pruned,
            y=relative["test_accuracy"],
            mode="lines",
            name="test accuracy (relative)",
            line={"color": ACCURACY_COLOR, "dash": "dash"},
            hovertemplate="pruned %{x:.1%}<br>relative %{y:.3f}<extra></extra>",
        ),
        row=2,
        col=1,
    )
    for name in aggregation.AGGREGATIONS:
        fig.add_trace(
            go.Scatter(
                x=pruned,
                y=relative[name],
                mode="lines+markers",
                name=aggregation.LABELS[name],
                line={"color": COLORS[name], "width": 3},
                customdata=table[name],
                hovertemplate="pruned %{x:.1%}<br>relative %{y:.3f}<br>value %{customdata:.4g}"
                "<extra></extra>",
            ),
            row=2,
            col=1,
        )
    fig.update_yaxes(title="%", row=1, col=1)
    fig.update_yaxes(title="value / value at 0%", range=[0, 1.08], row=2, col=1)
    fig.update_xaxes(tickformat=".0%", row=1, col=1)
    fig.update_xaxes(title="fraction of weights pruned", tickformat=".0%", row=2, col=1)
    fig.update_layout(title=title, height=680, margin={**MARGIN, "t": 100}, legend=LEGEND_BELOW)
    return fig
