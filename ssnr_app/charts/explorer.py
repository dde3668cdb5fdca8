"""The Explorer's figures: score scatters (one aggregation, or the paper's three side by
side), density contours, rank-rank, top-k curves and the per-layer-group heatmap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ssnr_app.charts.axes import (
    COLORS,
    DEAD_COLOR,
    LEGEND_BELOW,
    MARGIN,
    LogValues,
    color,
    floor_band,
    power_ticks,
    rho_text,
)
from ssnr_core.proxies import aggregation
from ssnr_core.studies.evaluation import WEIGHTS

PALETTE = plotly.colors.qualitative.Plotly  # a measure's score and components, in turn
NAMED_POINTS = 2_000  # up to this many points carry their arch string for the hover


@dataclass(frozen=True)
class Colour:
    """Marker colours: a count per architecture (e.g. of one op) and what it counts."""

    values: pd.Series
    label: str


def _points(
    table: pd.DataFrame, truth: pd.Series, agg: str, log_x: bool, colour: Colour | None
) -> tuple[list[go.Scattergl], LogValues | None, int]:
    """The scatter traces of one aggregation (points, then any at the floor); the log
    coordinates when on a log axis; how many were not drawable (NaN score or truth)."""
    x = table[agg].to_numpy(dtype=float)
    y = truth.reindex(table.index).to_numpy(dtype=float)
    ok_y = np.isfinite(y)
    logs = LogValues.of(np.where(ok_y, x, np.nan)) if log_x else None
    keep = logs.keep if logs else np.isfinite(x) & ok_y
    coords = logs.coords if logs else x[keep]
    floor = logs.at_floor if logs else np.zeros(int(keep.sum()), bool)
    archs = table.index.to_numpy()[keep]
    rows = np.flatnonzero(keep).astype(float)  # the row in `table`: numbers travel fast
    weights = table[WEIGHTS].to_numpy(float)[keep]
    names = archs if len(archs) <= NAMED_POINTS else None
    # On the wire: positions in float32 (more digits than a pixel shows). A small sample's
    # hover carries its name and exact score (float64: sums reach 1e49); a large one's
    # carries row and weight count only, in float32 (exact below 2^24) when they fit, and
    # reads the score off the log axis (10^x to 4 decimals): its payload is half the size,
    # and the browser redraws a switch that much sooner.
    exact = names is not None or not log_x
    if exact:
        custom = np.column_stack([rows, weights, x[keep]])
    else:
        small = weights.size == 0 or np.nanmax(weights) < 2**24
        custom = np.column_stack([rows, weights]).astype(np.float32 if small else float)
    coords = np.asarray(coords, np.float32 if log_x else float)
    y = y.astype(np.float32)
    marker: dict = {"size": 6, "opacity": 0.75, "color": color(agg)}
    if colour is not None:
        marker |= {
            "color": colour.values.reindex(archs).to_numpy(float),
            "colorscale": "Viridis",
            "showscale": True,
            "colorbar": {"title": colour.label, "thickness": 12},
        }
    score = "%{customdata[2]:.4g}" if exact else "10<sup>%{x:.4f}</sup>"
    counted = "params (conv/linear weights scored): %{customdata[1]:,.0f}<br>"
    hover = (
        ("%{text}<br>" if names is not None else "architecture #%{customdata[0]:.0f}<br>")
        + ("" if np.isnan(weights).all() else counted)  # a measure counts no weights
        + f"accuracy: %{{y:.2f}}<br>score: {score}<extra></extra>"
    )
    floor_hover = hover.replace(score, "≤ 0 (drawn at the floor)")
    traces = [
        go.Scattergl(
            x=coords[~floor],
            y=y[keep][~floor],
            mode="markers",
            customdata=custom[~floor],
            text=None if names is None else names[~floor],
            marker={**marker, **({"color": marker["color"][~floor]} if colour else {})},
            hovertemplate=hover,
            name=aggregation.label(agg),
            showlegend=False,
        )
    ]
    if floor.any():
        traces.append(
            go.Scattergl(
                x=coords[floor],
                y=y[keep][floor],
                mode="markers",
                customdata=custom[floor],
                text=None if names is None else names[floor],
                marker={"size": 8, "symbol": "x", "color": DEAD_COLOR},
                hovertemplate=hover if exact else floor_hover,
                name=f"score ≤ 0: {int(floor.sum()):,} (at the floor)",
            )
        )
    return traces, logs, int((~keep).sum())


def scatter(
    table: pd.DataFrame,
    truth: pd.Series,
    agg: str,
    log_x: bool,
    title: dict,
    colour: Colour | None = None,
) -> tuple[go.Figure, int]:
    """WebGL scatter, one point per scored architecture, and how many were not drawable
    (NaN score or truth); customdata carries the arch string (selection maps back
    through it), its weight count and its score. `uirevision` keeps zoom while live
    updates redraw it."""
    traces, logs, hidden = _points(table, truth, agg, log_x, colour)
    fig = go.Figure(traces)
    fig.update_layout(
        title=title,
        xaxis_title=aggregation.label(agg) + (" (log scale)" if log_x else ""),
        yaxis_title=str(truth.name),
        height=540,
        margin={**MARGIN, "t": 90},
        dragmode="lasso",
        uirevision=agg,
        legend=LEGEND_BELOW,
    )
    if logs is not None:
        fig.update_xaxes(**logs.axis())
        floor_band(fig, logs)
    return fig, hidden


def density(table: pd.DataFrame, truth: pd.Series, agg: str, log_x: bool, title: dict) -> go.Figure:
    """Where the architectures lie, as density contours (for thousands of points)."""
    x = table[agg].to_numpy(dtype=float)
    y = truth.reindex(table.index).to_numpy(dtype=float)
    logs = LogValues.of(np.where(np.isfinite(y), x, np.nan)) if log_x else None
    keep = logs.keep if logs else np.isfinite(x) & np.isfinite(y)
    fig = go.Figure(
        go.Histogram2dContour(
            x=logs.coords if logs else x[keep],
            y=y[keep],
            colorscale="Blues",
            ncontours=14,
            contours={"coloring": "fill", "showlines": False},
            colorbar={"title": "archs", "thickness": 12},
            hovertemplate="%{z:,} architectures<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title=aggregation.label(agg) + (" (log scale)" if log_x else ""),
        yaxis_title=str(truth.name),
        height=540,
        margin={**MARGIN, "t": 90},
    )
    if logs is not None:
        fig.update_xaxes(**logs.axis())
        floor_band(fig, logs)
    return fig


def figure2_panel(
    table: pd.DataFrame,
    truth: pd.Series,
    agg: str,
    log_x: bool,
    title: dict,
    colour: Colour | None = None,
) -> go.Figure:
    """One panel of the paper's Figure 2: an aggregation against accuracy, its y axis
    over the whole truth so the three panels share it (they sit side by side, and stack
    on a phone)."""
    traces, logs, _ = _points(table, truth, agg, log_x, colour)
    fig = go.Figure(traces)
    y = truth.reindex(table.index).to_numpy(float)
    y = y[np.isfinite(y)]
    pad = 0.03 * float(np.ptp(y)) if y.size else 1.0
    fig.update_xaxes(title=aggregation.label(agg) + (" (log scale)" if log_x else ""))
    fig.update_yaxes(
        title=str(truth.name), range=[y.min() - pad, y.max() + pad] if y.size else None
    )
    if logs is not None:
        fig.update_xaxes(**logs.axis(most=5))  # a third of the width: fewer, readable ticks
        floor_band(fig, logs)
    fig.update_layout(
        title=title,
        height=440,
        margin={**MARGIN, "t": 100},
        dragmode="zoom",
        legend=LEGEND_BELOW,
    )
    return fig


def stored_scatter(scores: pd.Series, truth: pd.Series, proxy: str, title: dict) -> go.Figure:
    """NASLib's stored score of each architecture of their sample against their
    val_accuracy (power-of-ten axis when the scores are positive and span decades)."""
    x = scores.to_numpy(float)
    y = truth.reindex(scores.index).to_numpy(float)
    ok = np.isfinite(x) & np.isfinite(y)
    wide = bool(ok.any() and (x[ok] > 0).all() and x[ok].max() > 1e3 * x[ok].min())
    logs = LogValues.of(x[ok]) if wide else None
    fig = go.Figure(
        go.Scattergl(
            x=logs.coords if logs else x[ok],
            y=y[ok].astype(np.float32),
            mode="markers",
            text=scores.index.to_numpy()[ok],
            customdata=x[ok],
            marker={"size": 6, "opacity": 0.75, "color": COLORS["sum"]},
            hovertemplate="%{text}<br>val_accuracy: %{y:.2f}<br>NASLib's score: "
            "%{customdata:.4g}<extra></extra>",
            showlegend=False,
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title=f"NASLib's stored {proxy}" + (" (log scale)" if logs else ""),
        yaxis_title="NASLib's val_accuracy (%)",
        height=440,
        margin={**MARGIN, "t": 90},
    )
    if logs is not None:
        fig.update_xaxes(**logs.axis())
    return fig


def rank_rank(ranks: pd.DataFrame, agg: str, rho: float, title: dict) -> go.Figure:
    """Score rank against true rank (1 = best): a perfect score lies on the diagonal."""
    n = len(ranks)
    fig = go.Figure(
        [
            go.Scattergl(
                x=ranks["true_rank"],
                y=ranks["score_rank"],
                mode="markers",
                marker={"size": 5, "opacity": 0.6, "color": color(agg)},
                customdata=ranks.index.to_numpy(),
                hovertemplate="%{customdata}<br>true rank %{x:.0f}<br>score rank %{y:.0f}"
                "<extra></extra>",
                name=aggregation.label(agg),
            ),
            go.Scatter(
                x=[1, n],
                y=[1, n],
                mode="lines",
                line={"dash": "dot", "color": "#888"},
                name="perfect ranking",
            ),
        ]
    )
    fig.update_layout(
        title=title | {"text": f"{title['text']}<br>{aggregation.label(agg)}: {rho_text(rho, n)}"},
        xaxis_title="true rank (1 = most accurate)",
        yaxis_title=f"rank by {aggregation.label(agg)} (1 = highest)",
        height=540,
        margin={**MARGIN, "t": 110},
        legend=LEGEND_BELOW,
    )
    fig.update_xaxes(range=[0, n + 1])
    fig.update_yaxes(range=[0, n + 1])
    return fig


def top_k(curves: Mapping[str, Mapping[str, np.ndarray]], n: int, title: dict) -> go.Figure:
    """`correlation.top_k_curve` per aggregation: precision at k and the best true rank
    among the top k by score, k from 1% to 100% of n; a random ranking for reference."""
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.1,
        subplot_titles=("precision at k", "best true rank among the top k (1 = the best)"),
    )
    for i, (agg, c) in enumerate(curves.items()):
        style = {"color": COLORS.get(agg, PALETTE[i % len(PALETTE)])}
        common = {"x": 100 * c["fraction"], "customdata": c["k"], "line": style}
        fig.add_trace(
            go.Scatter(
                y=c["precision"],
                name=aggregation.label(agg),
                hovertemplate="top %{x:.0f}% (k = %{customdata:,}): precision %{y:.3f}"
                "<extra></extra>",
                **common,
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                y=c["best_true_rank"],
                name=aggregation.label(agg),
                showlegend=False,
                hovertemplate="top %{x:.0f}% (k = %{customdata:,}): best true rank %{y:,}"
                "<extra></extra>",
                **common,
            ),
            row=1,
            col=2,
        )
    some = next(iter(curves.values()))
    fig.add_trace(
        go.Scatter(
            x=100 * some["fraction"],
            y=some["k"] / max(n, 1),
            name="random ranking (expected)",
            line={"dash": "dot", "color": "#888"},
            hoverinfo="skip",
        ),
        row=1,
        col=1,
    )
    fig.update_xaxes(title="k, % of the architectures kept by score", ticksuffix="%")
    fig.update_yaxes(range=[0, 1.02], row=1, col=1)
    top = float(np.log10(max(n, 10)))
    fig.update_yaxes(
        type="log",
        range=[-0.05, top + 0.05],
        tickvals=[10**k for k in range(int(top) + 1)],
        ticktext=power_ticks(0, top)["ticktext"],
        row=1,
        col=2,
    )
    fig.update_layout(
        title=title,
        height=460,
        margin={**MARGIN, "t": 110},
        legend=LEGEND_BELOW,
    )
    return fig


def group_heatmap(table: pd.DataFrame, labels: Sequence[str], title: dict) -> go.Figure:
    """Rows architectures, columns layer groups: each group's part of layer-wise SSNR (0
    where an architecture has no weight layer in a group, e.g. a cell of skips)."""
    fig = go.Figure(
        go.Heatmap(
            z=table.fillna(0).to_numpy(float),
            x=list(table.columns),
            y=list(labels),
            customdata=np.repeat(table.index.to_numpy()[:, None], table.shape[1], axis=1),
            colorscale="Viridis",
            colorbar={"title": "Σ S_n^l/σ^l", "thickness": 12},
            hovertemplate="%{customdata}<br>%{x}: %{z:.4g}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", tickfont={"size": 10}, title="architecture")
    fig.update_xaxes(title="layer group (input to output)")
    fig.update_layout(
        title=title, height=max(360, 18 * len(table) + 160), margin={**MARGIN, "t": 110}
    )
    return fig


def highlight(fig: go.Figure, table: pd.DataFrame, archs: Sequence[str]) -> None:
    """Mark the chosen architectures as selected in every scatter trace of `table`'s
    points (a selection survives a redraw, e.g. after switching the aggregation)."""
    rows = np.flatnonzero(table.index.isin(list(archs)))
    if not rows.size:
        return
    for trace in fig.data:
        custom = getattr(trace, "customdata", None)
        if custom is not None and np.ndim(custom) == 2:
            trace.selectedpoints = np.flatnonzero(np.isin(np.asarray(custom)[:, 0], rows)).tolist()


def selected_archs(event: object, table: pd.DataFrame) -> list[str]:
    """Architectures of box/lasso-selected points, read from customdata's row of `table`
    (a point index would refer to a trace that changes with every redraw)."""
    try:
        points = event["selection"]["points"]  # type: ignore[index]
    except (KeyError, TypeError):
        return []
    rows = [_row(p["customdata"]) for p in points if p.get("customdata")]
    return [str(table.index[r]) for r in rows if r is not None and 0 <= r < len(table)]


def _row(custom: object) -> int | None:
    """customdata's first value: a list, or (a typed array sent as such) an object keyed
    by position."""
    first: Any = custom.get("0", custom.get(0)) if isinstance(custom, dict) else custom[0]  # type: ignore[index]
    try:
        return int(first)
    except (TypeError, ValueError):
        return None
