"""A cell drawn as a small graph: nodes in a row, one arc per edge labelled with its op,
edges that cannot reach the output greyed (they score exactly zero)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

OP_COLORS = {
    "none": "#bbbbbb",
    "skip_connect": "#1f77b4",
    "nor_conv_1x1": "#ff7f0e",
    "nor_conv_3x3": "#d62728",
    "avg_pool_3x3": "#2ca02c",
}
SHORT = {
    "none": "none",
    "skip_connect": "skip",
    "nor_conv_1x1": "conv 1×1",
    "nor_conv_3x3": "conv 3×3",
    "avg_pool_3x3": "pool 3×3",
}


def cell_graph(
    edges: Sequence[tuple[int, int]],
    ops: Sequence[str],
    live: Sequence[bool],
    title: str = "",
    height: int = 220,
) -> go.Figure:
    """Nodes 0..N on a line (0 the cell's input, N its output); edge (to, from) as an
    arc above the line, higher the longer it is, its op written at the top."""
    nodes = 1 + max(max(e) for e in edges)
    fig = go.Figure()
    for (to, frm), op, alive in zip(edges, ops, live):
        span = to - frm
        t = np.linspace(0, np.pi, 24)
        x = frm + span * (1 - np.cos(t)) / 2
        y = 0.35 * span * np.sin(t)
        color = OP_COLORS.get(op, "#555") if alive else "#cccccc"
        dash = "dot" if op == "none" or not alive else "solid"
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                line={"color": color, "width": 3, "dash": dash},
                hoverinfo="text",
                text=f"{frm} → {to}: {op}" + ("" if alive else " (off every path: scores 0)"),
                showlegend=False,
            )
        )
        fig.add_annotation(
            x=frm + span / 2,
            y=0.35 * span,
            text=SHORT.get(op, op),
            showarrow=False,
            yshift=9,
            font={"color": color, "size": 12},
        )
    fig.add_trace(
        go.Scatter(
            x=list(range(nodes)),
            y=[0] * nodes,
            mode="markers+text",
            marker={"size": 22, "color": "white", "line": {"color": "#333", "width": 2}},
            text=[str(i) for i in range(nodes)],
            textposition="middle center",
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.update_xaxes(visible=False, range=[-0.4, nodes - 0.6])
    fig.update_yaxes(visible=False, range=[-0.3, 0.35 * (nodes - 1) + 0.45])
    fig.update_layout(
        title={"text": title, "font": {"size": 13}, "x": 0.01},
        height=height,
        margin={"l": 5, "r": 5, "t": 30 if title else 5, "b": 5},
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return fig
