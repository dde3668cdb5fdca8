"""Compare's chart: the grid of correlations as grouped bars with their intervals."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ssnr_app.charts.axes import COLORS, LEGEND_BELOW, MARGIN
from ssnr_core.proxies import aggregation

FEWER = "/"  # hatch of a bar on fewer architectures than its column's largest
SMALL = "x"  # hatch of a bar on fewer than `small_n` architectures


def compare_bars(
    long: pd.DataFrame, metric: str, label: str, title: dict, small_n: int = 100
) -> go.Figure:
    """The Compare grid as grouped bars: one group per benchmark/task, one bar per
    saliency and aggregation, the 95% bootstrap interval as error bars. Each bar names
    its n; where bars of one column differ in n, the smaller ones are hatched, and a
    bar under `small_n` architectures is cross-hatched."""
    ok = long[long["status"] == "ok"]
    largest = ok.groupby("column")["n"].transform("max")
    hatch = pd.Series("", index=ok.index).where(ok["n"] >= largest, FEWER)
    hatch = hatch.where(ok["n"] >= small_n, SMALL)
    fig = go.Figure()
    for (sal, agg), rows in ok.groupby(["saliency", "aggregation"], sort=False):
        fig.add_trace(
            go.Bar(
                x=rows["column"],
                y=rows[metric],
                name=f"{sal} · {aggregation.LABELS.get(agg, agg)}",
                marker_color=COLORS.get(agg) if ok["saliency"].nunique() == 1 else None,
                marker_pattern_shape=hatch[rows.index].tolist(),
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": rows[f"{metric}_hi"] - rows[metric],
                    "arrayminus": rows[metric] - rows[f"{metric}_lo"],
                },
                text=[f"n={n:,}" for n in rows["n"]],
                textposition="inside",
                textangle=-90,
                insidetextanchor="start",
                customdata=rows["n"],
                hovertemplate="%{x}<br>%{y:.3f} (n = %{customdata:,})<extra></extra>",
            )
        )
    rows = -(-len(fig.data) // 4)  # legend rows, about four entries each
    fig.update_layout(
        barmode="group",
        title=title,
        yaxis_title=label,
        height=360 + 24 * rows,
        margin={**MARGIN, "t": 100, "b": 40 + 24 * rows},  # the legend in the margin
        legend=LEGEND_BELOW,
        uniformtext={"minsize": 9, "mode": "hide"},
    )
    return fig
