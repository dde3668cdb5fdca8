"""What every figure of the app shares: the config, margins and colours, power-of-ten
log axes, the marked floor band for scores <= 0, titles that say what a figure was
computed on, saliency histograms and the presentation styling. The figures themselves
sit beside the page that shows them (`explorer`, `layers`, `explain`, `compare`,
`pruning`, `lecture`); nothing here computes a score or a correlation.

Scores spanning many decades are drawn on log10 coordinates with power-of-ten tick
labels only (10^16 as a superscript). Architectures whose score is <= 0 (a disconnected
cell scores exactly 0) have no log: they are drawn in a marked band at the axis floor
and counted in the legend, never left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

PLOT_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
MARGIN = {"l": 10, "r": 10, "t": 40, "b": 10}
# A horizontal legend under the plot, hung from the figure's bottom edge with the room it
# needs (Plotly reserves it): on a narrow screen it wraps to more rows, and one anchored
# at the plot (paper y < 0) would grow up into the axis title.
LEGEND_BELOW = {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom"}
MAX_BINS = 60
MAX_TICKS = 8
COLORS = {"sum": "#d62728", "ssnr": "#2ca02c", "layerwise_ssnr": "#9467bd"}
ACCURACY_COLOR = "#1f77b4"
FLOOR_COLOR = "rgba(127,127,127,0.18)"
DEAD_COLOR = "#7f7f7f"
MEASURE_COLOR = "#17becf"  # a per-network measure's score or component


def color(score: str) -> str:
    """An aggregation's colour, or the one colour of a measure's scores."""
    return COLORS.get(score, MEASURE_COLOR)


def power_ticks(lo: float, hi: float, most: int = MAX_TICKS) -> dict[str, list]:
    """Tick positions (log10 units) at whole powers of ten between lo and hi, at most
    `most` of them, labelled 10^k as superscripts (1 and 10 written out)."""
    first, last = int(np.ceil(lo)), int(np.floor(hi))
    if last < first:
        first = last = round((lo + hi) / 2)
    step = max(1, int(np.ceil((last - first + 1) / most)))
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

    def axis(self, most: int = MAX_TICKS) -> dict:
        """A linear axis over the log10 coordinates, labelled in powers of ten."""
        lo = self.floor - 0.5 if self.at_floor.any() else self.floor + 0.5
        return {"range": [lo, self.top + 0.2], **power_ticks(lo, self.top + 0.2, most)}


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
        annotation_position="top left",  # inside the plot, clear of the tick labels
        annotation_font_size=11,
        **where,
    )


def titled(text: str, sub: str = "") -> dict:
    """A figure title with a smaller second line (what it was computed on)."""
    body = text + (f"<br><sup>{sub}</sup>" if sub else "")
    return {"text": body, "font": {"size": 16}, "x": 0.01, "xanchor": "left"}


def rho_text(rho: float, n: int) -> str:
    return f"ρ = {rho:.3f} (n = {n:,})" if np.isfinite(rho) else f"ρ = n/a (n = {n:,})"


def log_bins(values: list[np.ndarray]) -> np.ndarray:
    """log10 bin edges from the 0.1% quantile to the maximum of the positive values (a
    few tiny saliencies would otherwise stretch the axis over dozens of empty decades;
    `log10_clipped` puts those into the first bin)."""
    pos = np.concatenate([v[v > 0] for v in values] or [np.ones(1)])
    logs = np.log10(pos if pos.size else np.ones(1))
    lo, hi = np.floor(np.quantile(logs, 0.001)), np.ceil(logs.max())
    hi = max(hi, lo + 1)
    return np.linspace(lo, hi, int(min(MAX_BINS, max(10, 4 * (hi - lo)))) + 1)


def log10_clipped(v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.log10(v[v > 0]), edges[0], edges[-1])


def histogram_trace(values: np.ndarray, edges: np.ndarray, name: str) -> go.Bar:
    counts, _ = np.histogram(log10_clipped(values, edges), bins=edges)
    return go.Bar(
        x=(edges[:-1] + edges[1:]) / 2,
        y=counts,
        width=np.diff(edges),
        name=name,
        showlegend=False,
        marker_color=ACCURACY_COLOR,
        hovertemplate="≈ 10^%{x:.1f}: %{y:,} weights<extra></extra>",
    )


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


PRESENT_FONT = 18  # px: titles and tick labels on a projector
PRESENT_HEIGHT = 470  # px: a figure that fits above the fold at 1280x720


def presented(fig: go.Figure, font: int = PRESENT_FONT) -> go.Figure:
    """A copy of `fig` for a projector: every title, tick label, legend and annotation
    at least `font` px, and no taller than `PRESENT_HEIGHT`."""
    out = go.Figure(fig)
    height = out.layout.height or PRESENT_HEIGHT
    out.update_layout(
        font={"size": font},
        title_font_size=font + 4,
        legend_font_size=font,
        height=min(height, PRESENT_HEIGHT),
    )
    lines = str(out.layout.title.text or "").count("<br>") + 1
    top = max(out.layout.margin.t or 0, 30 + lines * round(1.5 * (font + 4)))
    out.update_layout(margin_t=top)  # every title line clear of the plot
    legend = out.layout.legend
    if legend.orientation == "h" and (legend.y or 0) < 0 and legend.yref != "container":
        out.update_layout(legend=LEGEND_BELOW)  # below the axis titles, clear of them
    # A little room under the plot: the first x label clears the last y label.
    out.update_xaxes(tickfont_size=font, title_font_size=font, ticklabelstandoff=6)
    out.update_yaxes(tickfont_size=font, title_font_size=font)
    out.update_annotations(font_size=font)
    return out


def _ref(ref: object, x: str, y: str) -> object:
    """An axis reference of one panel ("x2", "y2 domain") as its own figure's ("x", ...)."""
    if not isinstance(ref, str):
        return ref
    return re.sub(rf"^(?:{x}|{y})\b", lambda m: m.group(0)[0], ref)


def split(fig: go.Figure) -> list[go.Figure]:
    """The panels of a figure made by `make_subplots` with one row of several columns,
    each as a figure of its own (its subplot title over the figure's title, its traces,
    axes, shapes and annotations), so that the page can lay them out in columns, which
    stack on a phone; any other figure as it is."""
    layout = fig.layout.to_plotly_json()
    xs = sorted((k for k in layout if re.fullmatch(r"xaxis\d*", k)), key=lambda k: int(k[5:] or 1))
    domains = {tuple(layout[k].get("domain", (0, 1))) for k in xs}
    if len(xs) < 2 or len(domains) < len(xs):  # one panel, or panels stacked in rows
        return [fig]
    titles = [
        a for a in layout.get("annotations", ()) if a.get("xref") == "paper" and a.get("y") == 1.0
    ]
    title = layout.get("title", {})
    parts = []
    for key in xs:
        x_id = "x" + key[5:]
        y_id = str(layout[key].get("anchor", "y"))
        lo, hi = layout[key].get("domain", (0, 1))
        own = [t for t in titles if lo <= t.get("x", -1) <= hi]
        rest = {k: v for k, v in layout.items() if not re.fullmatch(r"[xy]axis\d*", k)}
        rest |= {
            "xaxis": _axis(layout[key]),
            "yaxis": _axis(layout.get("yaxis" + y_id[1:], {})),
            "annotations": [
                {
                    **a,
                    "xref": _ref(a.get("xref"), x_id, y_id),
                    "yref": _ref(a.get("yref"), x_id, y_id),
                }
                for a in layout.get("annotations", ())
                if a.get("xref", "").split(" ")[0] == x_id
            ],
            "shapes": [
                {
                    **s,
                    "xref": _ref(s.get("xref"), x_id, y_id),
                    "yref": _ref(s.get("yref"), x_id, y_id),
                }
                for s in layout.get("shapes", ())
                if s.get("xref", "").split(" ")[0] == x_id
            ],
        }
        if own:
            text = own[0]["text"] + (f"<br>{title['text']}" if title.get("text") else "")
            rest["title"] = {**title, "text": text}
        traces = [
            t.update(xaxis="x", yaxis="y")
            for t in (go.Figure(fig).data)
            if (t.xaxis or "x") == x_id
        ]
        parts.append(go.Figure(data=traces, layout=rest))
    return parts


def _axis(axis: dict) -> dict:
    return {k: v for k, v in axis.items() if k not in ("domain", "anchor", "matches", "overlaying")}
