"""Compare's chart: the grid of correlations as grouped bars with their intervals."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ssnr_app.charts.axes import COLORS, MARGIN
from ssnr_core.proxies import aggregation


def compare_bars(long: pd.DataFrame, metric: str, label: str, title: dict) -> go.Figure:
    """The Compare grid as grouped bars: one group per benchmark/task, one bar per
    saliency and aggregation, the 95% bootstrap interval as error bars."""
    ok = long[long["status"] == "ok"]
    fig = go.Figure()
    for (sal, agg), rows in ok.groupby(["saliency", "aggregation"], sort=False):
        fig.add_trace(
            go.Bar(
                x=rows["column"],
                y=rows[metric],
                name=f"{sal} · {aggregation.LABELS[agg]}",
                marker_color=COLORS[agg] if ok["saliency"].nunique() == 1 else None,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": rows[f"{metric}_hi"] - rows[metric],
                    "arrayminus": rows[metric] - rows[f"{metric}_lo"],
                },
                customdata=rows["n"],
                hovertemplate="%{x}<br>%{y:.3f} (n = %{customdata:,})<extra></extra>",
            )
        )
    fig.update_layout(
        barmode="group",
        title=title,
        yaxis_title=label,
        height=440,
        margin={**MARGIN, "t": 100},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig
