"""Plotly figures of numbers computed by `ssnr_core`: score scatters (one aggregation or the
paper's three side by side), rank-rank, top-k curves, layer views, the Explain view, the
Compare bars and the pruning curves. Figures only lay values out; nothing here computes
a score or a correlation.

Scores spanning many decades are drawn on log10 coordinates with power-of-ten tick
labels only (10^16 as a superscript). Architectures whose score is <= 0 (a disconnected
cell scores exactly 0) have no log: they are drawn in a marked band at the axis floor
and counted in the legend, never left out. Every title says what the figure was
computed on (n, rho where there is one), so an exported PNG carries it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ssnr_core.proxies import aggregation
from ssnr_core.studies.evaluation import WEIGHTS

PLOT_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}
MAX_BINS = 60
MAX_TICKS = 8
QUANTITIES = {"sum": "S_n^l (sum)", "sigma": "σ^l (std)", "snr": "S_n^l / σ^l"}
LAYER_COLUMNS = {"sum": "S_n^l", "sigma": "sigma^l", "snr": "S_n^l/sigma^l"}
COLORS = {"sum": "#d62728", "ssnr": "#2ca02c", "layerwise_ssnr": "#9467bd"}
ACCURACY_COLOR = "#1f77b4"
FLOOR_COLOR = "rgba(127,127,127,0.18)"
DEAD_COLOR = "#7f7f7f"


# ---------------------------------------------------------------- axes


def power_ticks(lo: float, hi: float) -> dict[str, list]:
    """Tick positions (log10 units) at whole powers of ten between lo and hi, at most
    MAX_TICKS of them, labelled 10^k as superscripts (1 and 10 written out)."""
    first, last = int(np.ceil(lo)), int(np.floor(hi))
    if last < first:
        first = last = round((lo + hi) / 2)
    step = max(1, int(np.ceil((last - first + 1) / MAX_TICKS)))
    ks = list(range(first, last + 1, step))
    text = {0: "1", 1: "10"}
    return {"tickvals": ks, "ticktext": [text.get(k, f"10<sup>{k}</sup>") for k in ks]}


@dataclass(frozen=True)
class LogValues:
    """Scores on log10 coordinates: finite positive ones at their log, <= 0 at `floor`
    (a whole decade below the smallest positive), NaN/inf dropped (`nonfinite` counts)."""

    coords: np.ndarray  # log10(score) or floor, for the finite scores
    keep: np.ndarray  # which of the input values are finite
    at_floor: np.ndarray  # which kept values are <= 0
    floor: float
    top: float

    @classmethod
    def of(cls, values: np.ndarray) -> LogValues:
        values = np.asarray(values, dtype=float)
        keep = np.isfinite(values)
        kept = values[keep]
        pos = kept[kept > 0]
        lo = np.floor(np.log10(pos.min())) if pos.size else 0.0
        top = np.ceil(np.log10(pos.max())) if pos.size else 1.0
        floor = lo - 1.0
        with np.errstate(divide="ignore", invalid="ignore"):
            coords = np.where(kept > 0, np.log10(np.where(kept > 0, kept, 1.0)), floor)
        return cls(coords, keep, kept <= 0, float(floor), float(max(top, lo + 1)))

    @property
    def nonfinite(self) -> int:
        return int((~self.keep).sum())

    def axis(self) -> dict:
        """A linear axis over the log10 coordinates, labelled in powers of ten."""
        lo = self.floor - 0.5 if self.at_floor.any() else self.floor + 0.5
        return {"range": [lo, self.top + 0.2], **power_ticks(lo, self.top + 0.2)}


def floor_band(fig: go.Figure, logs: LogValues, row: int | None = None, col: int | None = None):
    """The marked band at the floor where scores <= 0 are drawn (when there are any)."""
    if not logs.at_floor.any():
        return
    where = {"row": row, "col": col} if row else {}
    fig.add_vrect(
        x0=logs.floor - 0.4,
        x1=logs.floor + 0.4,
        fillcolor=FLOOR_COLOR,
        line_width=0,
        annotation_text=f"≤ 0: {int(logs.at_floor.sum()):,}",
        annotation_position="top",
        annotation_font_size=11,
        **where,
    )


def titled(text: str, sub: str = "") -> dict:
    """A figure title with a smaller second line (what it was computed on)."""
    body = text + (f"<br><sup>{sub}</sup>" if sub else "")
    return {"text": body, "font": {"size": 16}, "x": 0.01, "xanchor": "left"}


def rho_text(rho: float, n: int) -> str:
    return f"ρ = {rho:.3f} (n = {n:,})" if np.isfinite(rho) else f"ρ = n/a (n = {n:,})"


# ---------------------------------------------------------------- explorer scatters


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
    custom = np.column_stack([archs, table[WEIGHTS].to_numpy()[keep], x[keep]])
    marker: dict = {"size": 6, "opacity": 0.75, "color": COLORS[agg]}
    if colour is not None:
        marker |= {
            "color": colour.values.reindex(archs).to_numpy(float),
            "colorscale": "Viridis",
            "showscale": True,
            "colorbar": {"title": colour.label, "thickness": 12},
        }
    hover = (
        "%{customdata[0]}<br>params (conv/linear weights scored): %{customdata[1]:,.0f}"
        "<br>accuracy: %{y:.2f}<br>score: %{customdata[2]:.4g}<extra></extra>"
    )
    traces = [
        go.Scattergl(
            x=coords[~floor],
            y=y[keep][~floor],
            mode="markers",
            customdata=custom[~floor],
            marker={**marker, **({"color": marker["color"][~floor]} if colour else {})},
            hovertemplate=hover,
            name=aggregation.LABELS[agg],
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
                marker={"size": 8, "symbol": "x", "color": DEAD_COLOR},
                hovertemplate=hover,
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
        xaxis_title=aggregation.LABELS[agg] + (" (log scale)" if log_x else ""),
        yaxis_title=str(truth.name),
        height=540,
        margin={**MARGIN, "t": 90},
        dragmode="lasso",
        uirevision=agg,
        legend={"orientation": "h", "y": -0.15},
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
        xaxis_title=aggregation.LABELS[agg] + (" (log scale)" if log_x else ""),
        yaxis_title=str(truth.name),
        height=540,
        margin={**MARGIN, "t": 90},
    )
    if logs is not None:
        fig.update_xaxes(**logs.axis())
        floor_band(fig, logs)
    return fig


def figure2(
    table: pd.DataFrame,
    truth: pd.Series,
    rhos: Mapping[str, tuple[float, int]],
    log_x: bool,
    title: dict,
    colour: Colour | None = None,
) -> go.Figure:
    """The paper's Figure 2: sum, overall SSNR and layer-wise SSNR against accuracy, side
    by side on a shared accuracy axis, each titled with its Spearman rho and n."""
    aggs = list(aggregation.AGGREGATIONS)
    fig = make_subplots(
        rows=1,
        cols=3,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        subplot_titles=[f"{aggregation.LABELS[a]}<br>{rho_text(*rhos[a])}" for a in aggs],
    )
    for col, agg in enumerate(aggs, start=1):
        traces, logs, _ = _points(table, truth, agg, log_x, colour)
        traces[0].marker.showscale = col == 3 and colour is not None  # one colour bar
        for trace in traces:
            trace.showlegend = trace.showlegend is not False and col == 1
            fig.add_trace(trace, row=1, col=col)
        fig.update_xaxes(
            title=aggregation.LABELS[agg] + (" (log scale)" if log_x else ""), row=1, col=col
        )
        if logs is not None:
            fig.update_xaxes(**logs.axis(), row=1, col=col)
            floor_band(fig, logs, 1, col)
    fig.update_yaxes(title=str(truth.name), row=1, col=1)
    fig.update_layout(
        title=title,
        height=460,
        margin={**MARGIN, "t": 120},
        dragmode="zoom",
        legend={"orientation": "h", "y": -0.2},
    )
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
                marker={"size": 5, "opacity": 0.6, "color": COLORS[agg]},
                customdata=ranks.index.to_numpy(),
                hovertemplate="%{customdata}<br>true rank %{x:.0f}<br>score rank %{y:.0f}"
                "<extra></extra>",
                name=aggregation.LABELS[agg],
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
        title=title | {"text": f"{title['text']}<br>{aggregation.LABELS[agg]}: {rho_text(rho, n)}"},
        xaxis_title="true rank (1 = most accurate)",
        yaxis_title=f"rank by {aggregation.LABELS[agg]} (1 = highest)",
        height=540,
        margin={**MARGIN, "t": 110},
        legend={"orientation": "h", "y": -0.15},
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
    for agg, c in curves.items():
        style = {"color": COLORS[agg]}
        common = {"x": 100 * c["fraction"], "customdata": c["k"], "line": style}
        fig.add_trace(
            go.Scatter(
                y=c["precision"],
                name=aggregation.LABELS[agg],
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
                name=aggregation.LABELS[agg],
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
        legend={"orientation": "h", "y": -0.2},
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


def highlight(fig: go.Figure, archs: Sequence[str]) -> None:
    """Mark the chosen architectures as selected in every scatter trace (a selection
    survives a redraw, e.g. after switching the aggregation)."""
    chosen = set(archs)
    for trace in fig.data:
        custom = getattr(trace, "customdata", None)
        if chosen and custom is not None and np.ndim(custom) == 2:
            trace.selectedpoints = [i for i, c in enumerate(custom) if c[0] in chosen]


def selected_archs(event: object) -> list[str]:
    """Architectures of box/lasso-selected points, read from customdata (a point index
    would refer to a trace that changes with every redraw)."""
    try:
        points = event["selection"]["points"]  # type: ignore[index]
    except (KeyError, TypeError):
        return []
    return [p["customdata"][0] for p in points if p.get("customdata")]


# ---------------------------------------------------------------- compare


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
            x=(edges[:-1] + edges[1:]) / 2,
            y=[f"{i:02d} {n}" for i, n in enumerate(names)],
            colorscale="Viridis",
            colorbar={"title": "share"},
            hovertemplate="%{y}<br>saliency ≈ 10^%{x:.1f}<br>share %{z:.3f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="per-parameter saliency (log scale)", **power_ticks(edges[0], edges[-1]))
    fig.update_yaxes(autorange="reversed", tickfont={"size": 9})
    fig.update_layout(height=max(320, 14 * len(names) + 80), margin=MARGIN)
    return fig


def _histogram_trace(values: np.ndarray, edges: np.ndarray, name: str) -> go.Bar:
    counts, _ = np.histogram(_log10(values, edges), bins=edges)
    return go.Bar(
        x=(edges[:-1] + edges[1:]) / 2,
        y=counts,
        width=np.diff(edges),
        name=name,
        showlegend=False,
        marker_color=ACCURACY_COLOR,
        hovertemplate="≈ 10^%{x:.1f}: %{y:,} weights<extra></extra>",
    )


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
        fig.add_trace(_histogram_trace(values[i], edges, names[i]), row=row, col=1)
    fig.update_xaxes(**power_ticks(edges[0], edges[-1]))
    fig.update_xaxes(title="per-parameter saliency (log scale)", row=len(chosen), col=1)
    fig.update_layout(height=180 * len(chosen) + 60, margin=MARGIN, bargap=0)
    return fig


def log_y(fig: go.Figure, values: np.ndarray, row: int | None = None, col: int | None = None):
    """A log y axis over positive `values`, ticks at powers of ten only."""
    pos = np.asarray(values, float)
    pos = pos[np.isfinite(pos) & (pos > 0)]
    lo, hi = (np.log10(pos.min()), np.log10(pos.max())) if pos.size else (0.0, 1.0)
    ticks = power_ticks(np.floor(lo), np.ceil(hi))
    fig.update_yaxes(
        type="log",
        tickvals=[10.0**k for k in ticks["tickvals"]],
        ticktext=ticks["ticktext"],
        row=row,
        col=col,
    )


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


# ---------------------------------------------------------------- explain view


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
    fig.add_trace(_histogram_trace(np.concatenate(values), edges, "all weights"), row=1, col=1)
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
        legend={"orientation": "h", "y": -0.25},
    )
    fig.update_annotations(font_size=font + 1)
    return fig


# ---------------------------------------------------------------- pruning demo


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
    fig.update_layout(
        title=title, height=680, margin={**MARGIN, "t": 100}, legend={"orientation": "h", "y": -0.1}
    )
    return fig
