"""Explain: one architecture taken through the computation, for a lecture or a first read.

Per-parameter saliency -> per-layer S_n^l and sigma^l -> the three scores, all from
`ssnr_core.studies.explain.explain` (the network is built and scored live, with the same
seeded weights and batch as the cached scores). With synflow, the conservation law is
shown: the stem's and the last layer's sums both equal R - sum|b|. A presentation mode
(large type, no sidebar) is meant for a projector.
"""

from __future__ import annotations

import streamlit as st

from ssnr_app import loaders, panels, state, widgets
from ssnr_app.charts import axes
from ssnr_app.charts import explain as explain_charts
from ssnr_app.text import plain_html
from ssnr_core.proxies import Setup, aggregation, batches, saliency
from ssnr_core.spaces import Space, get_space
from ssnr_core.studies import explain

SCORES = {
    "sum": (r"S_n = \sum_p S_p", "the classic zero-cost score: grows with every weight"),
    "ssnr": (
        r"\mathrm{SSNR} = \frac{S_n}{\sigma}",
        "saliency signal-to-noise ratio: the sum in units of the spread of all S_p",
    ),
    "layerwise_ssnr": (
        r"\sum_l \frac{S_n^l}{\sigma^l}",
        "each layer's signal-to-noise ratio, added: no layer dominates by its scale",
    ),
}


def pick_arch(space: Space) -> str | None:
    """The architecture, canonical (the explorer's pick when it sent one), or None."""
    handoff = state.handoff()
    st.session_state.setdefault(
        state.EXPLAIN_ARCH, handoff.archs[0] if handoff else space.examples[0]
    )
    text = st.sidebar.text_input(
        "Architecture",
        key=state.EXPLAIN_ARCH,
        help=f"Any spelling {space.label} accepts, e.g. {space.examples[0]}",
    )
    try:
        return space.canonical(text)
    except loaders.READ_ERRORS as exc:
        st.error(f"Not an architecture of {space.label}: {exc}")
        return None


def step_figure(e: explain.Explanation, present: bool) -> None:
    s = e.setup
    head = f"{s.space}/{s.task} · {s.saliency} · one network, three steps"
    sub = f"{plain_html(e.arch)} · seed {s.seed} · batch: {batches.describe(s.batch, s.seed)}"
    fig = explain_charts.explain_figure(
        e.layers, e.saliency, e.conservation, axes.titled(head, sub), font=20 if present else 12
    )
    panels.chart_row(fig, key="explain_figure")


def step_saliency(e: explain.Explanation) -> None:
    zeros = sum(int((v == 0).sum()) for v in e.saliency)
    total = sum(v.size for v in e.saliency)
    st.subheader("1 · A saliency for every weight")
    st.markdown(
        f"{e.setup.saliency} gives each of the {total:,} weights of the {len(e.layers)} "
        f"conv/linear layers a saliency S_p. They span many decades (left panel, log axis)"
        + (f"; {zeros:,} are exactly 0 and sit off the log axis." if zeros else ".")
    )


def step_layers(e: explain.Explanation) -> None:
    st.subheader("2 · Per layer: the sum S_n^l and the spread σ^l")
    st.markdown(
        "Within layer l: S_n^l = Σ S_p and σ^l, the standard deviation of its S_p. "
        "Their ratio is the layer's signal-to-noise ratio."
    )
    table = e.layers.rename(columns={"sum": "S_n^l", "sigma": "sigma^l", "snr": "S_n^l/sigma^l"})
    # As text: the grid widget cannot show floats beyond ~1e21 (synflow sums reach 1e48).
    shown = table.assign(**{c: table[c].map("{:.4e}".format) for c in ("S_n^l", "sigma^l")})
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "share_of_sum": st.column_config.NumberColumn("share of S_n", format="percent"),
            "share_of_layerwise": st.column_config.NumberColumn(
                "share of layer-wise SSNR", format="percent"
            ),
        },
    )
    dead = e.layers.loc[e.layers["sum"] == 0, "layer"].tolist()
    if dead:
        st.caption(
            f"{len(dead)} layer(s) have all-zero saliency ({', '.join(dead[:6])}"
            f"{', …' if len(dead) > 6 else ''}): no path from input to output runs "
            "through them, so they add 0 to every score."
        )


def step_scores(e: explain.Explanation) -> None:
    st.subheader("3 · Three scores from the same numbers")
    cols = panels.card_row(4)
    for col, name in zip(cols, aggregation.AGGREGATIONS):
        formula, why = SCORES[name]
        col.metric(aggregation.LABELS[name], panels.sci(e.scores[name], 4), border=True, help=why)
        col.latex(formula)
    cols[3].metric("σ (all weights)", panels.sci(e.scores["sigma"], 4), border=True)
    top = e.layers.sort_values("share_of_sum", ascending=False).iloc[0]
    live = int((e.layers["sum"] != 0).sum())
    st.markdown(
        f"The layer with the largest share of S_n, `{top['layer']}`, holds "
        f"{top['share_of_sum']:.1%} of it and {top['share_of_layerwise']:.1%} of layer-wise "
        f"SSNR (right panel); an even split over the {live} live layers would give "
        f"{1 / max(live, 1):.1%} each."
    )


def step_conservation(e: explain.Explanation) -> None:
    """Synflow only: the stem and the last layer both carry R - sum|b|."""
    c = e.conservation
    if c is None:
        return
    st.subheader("Synflow's conservation law")
    cols = panels.card_row(3)
    cols[0].metric("R − Σ|b|", panels.sci(c["R_minus_bias"], 7), border=True)
    cols[1].metric("stem layer sum", panels.sci(c["first_layer_sum"], 7), border=True)
    cols[2].metric("last layer sum", panels.sci(c["last_layer_sum"], 7), border=True)
    st.markdown(
        "With absolute weights and an all-ones input, synflow's saliency flows like a "
        "current: every path from input to output crosses the stem and the classifier, so "
        "each sums to the network's output R (less the classifier's bias, which reaches "
        "the output without a weight). A layer inside a cell is not such a cut: skip "
        "connections carry part of the flow around it, so cell layers sum to less, and "
        "to different amounts (the dashed line in the middle panel)."
    )


def render() -> None:
    panels.intro(
        "Explain: from saliencies to a score",
        "One network through the computation: a saliency per weight, per-layer sums and "
        "spreads, the three scores, and synflow's conservation law.",
    )
    state.restore(state.EXPLAIN_PARAMS)
    present = panels.presenting()
    settings = loaders.settings()
    st.sidebar.header("Network")
    choice = widgets.setup_inputs()
    if choice.setup is None:
        st.error(choice.problem)
        return
    setup: Setup = choice.setup
    arch = pick_arch(get_space(setup.space))
    state.publish(state.EXPLAIN_PARAMS)
    if arch is None:
        return
    try:
        with st.spinner(loaders.scoring_message(setup, arch), show_time=True):
            e = loaders.explanation(setup, arch, settings.data_dir)
    except (ValueError, OSError, RuntimeError) as exc:
        st.error(f"Could not score the network: {exc}")
        return
    needs_data = saliency.get(setup.saliency).needs_data
    if not present:  # the figure's title names the same
        st.caption(
            f"`{arch}` · {setup.space}/{setup.task} · {setup.saliency} · seed {setup.seed} · "
            f"batch: {batches.describe(setup.batch, setup.seed) if needs_data else 'none'}"
        )
    step_figure(e, present)
    step_saliency(e)
    step_layers(e)
    step_scores(e)
    step_conservation(e)


render()
