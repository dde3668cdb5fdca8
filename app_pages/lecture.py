"""Lecture: the argument for SSNR in six steps, one idea each, on real architectures.

Every number on the page is computed: from the bundled pack (all 15,625 NB201 cells,
synflow, `ssnr_core.studies.pack`), by `ssnr_core.studies.lecture` (which band, which
pair, how each aggregation ranks inside a band), by scoring the two chosen networks live
(`explain.explain`) and by the pruning demo (`studies.pruning`). The step is in the URL
(`?step=pair`), so a lecturer can link to one; Previous and Next walk through them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ssnr_app import loaders, panels, state
from ssnr_app.charts import axes, cells
from ssnr_app.charts import explorer as explorer_charts
from ssnr_app.charts import lecture as lecture_charts
from ssnr_app.charts import pruning as pruning_charts
from ssnr_app.text import plain, plain_html
from ssnr_core.proxies import aggregation
from ssnr_core.proxies.setup import Setup
from ssnr_core.spaces import nb201
from ssnr_core.studies import explain, lecture, pack, pruning

STEPS = {
    "bands": "The sum alone",
    "pair": "Two networks, one S_n",
    "sigma": "Divide by σ",
    "conservation": "Why the sum misleads: a conserved flow",
    "pruning": "Pruning: S_n falls before accuracy does",
    "figure2": "All 15,625 cells: Figure 2",
}
TASK_LABELS = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "ImageNet16-120": "ImageNet16-120"}


@dataclass(frozen=True)
class Context:
    """What every step reads: the task's setup, truth and facts, and the layout."""

    setup: Setup
    truth: pd.Series
    facts: lecture.Facts
    present: bool
    data_dir: object

    @property
    def height(self) -> int:
        """A figure that fits above the fold at 1280x720 in presentation mode."""
        return 400 if self.present else 480

    @property
    def font(self) -> int:
        return 18 if self.present else 13

    def table(self) -> pd.DataFrame:
        found = loaders.bundled_pack()
        assert found is not None
        return found.tables[self.setup.task]

    def explained(self, arch: str) -> explain.Explanation:
        with st.spinner(loaders.scoring_message(self.setup, arch), show_time=True):
            return loaders.explanation(self.setup, arch, self.data_dir)  # type: ignore[arg-type]

    def title(self, head: str, sub: str = "") -> dict:
        s = self.setup
        line = f"{s.space}/{s.task} · {s.saliency} · seed {s.seed} · n = {self.facts.n:,}"
        return axes.titled(head, f"{sub} · {line}" if sub else line)


def acc(ctx: Context, arch: str) -> str:
    return f"{ctx.truth[arch]:.2f}%"


def short(arch: str) -> str:
    """An arch string a card can hold: its six ops, abbreviated."""
    return " ".join(cells.SHORT.get(op, op).replace(" ", "") for op in nb201.parse(arch))


# ---------------------------------------------------------------- steps


def step_bands(ctx: Context) -> None:
    b, rho = ctx.facts.band, ctx.facts.summaries["sum"]
    fig = lecture_charts.band_scatter(
        ctx.table(),
        ctx.truth,
        ctx.facts.band,
        ctx.title("sum (S_n) vs accuracy: one S_n, many accuracies", "band shaded"),
        ctx.height,
    )
    panels.chart(fig, key="lecture_bands")
    st.markdown(
        f"Accuracy against the classic score S_n (log axis): Spearman ρ = "
        f"**{panels.fmt(rho.spearman)}** over all {ctx.facts.n:,} cells, yet the points "
        f"stand in **vertical bands**: {b.n:,} cells have S_n between "
        f"{panels.sci(10**b.lo)} and {panels.sci(10**b.hi)}, and their accuracies run "
        f"from **{b.acc_min:.1f}%** to **{b.acc_max:.1f}%**."
    )


def pair_cards(ctx: Context, e: explain.Explanation, label: str) -> None:
    cols = panels.card_row(3)
    cols[0].metric(f"{label}: accuracy", acc(ctx, e.arch), border=True)
    cols[1].metric(f"{label}: S_n", panels.sci(e.scores["sum"], 4), border=True)
    cols[2].metric(f"{label}: σ", panels.sci(e.scores["sigma"], 4), border=True)


def step_pair(ctx: Context) -> None:
    p = ctx.facts.pair
    good, bad = ctx.explained(p.better), ctx.explained(p.worse)
    gap = ctx.truth[p.better] - ctx.truth[p.worse]
    ratio = good.scores["sum"] / bad.scores["sum"]
    layers = {
        f"more accurate ({acc(ctx, p.better)})": good.layers,
        f"less accurate ({acc(ctx, p.worse)})": bad.layers,
    }
    fig = lecture_charts.pair_layers(
        layers, ctx.title("the same S_n, layer by layer"), ctx.height, ctx.font
    )
    panels.chart_row(fig, key="lecture_pair_layers")
    for col, e, label in zip(st.columns(2), (good, bad), ("more accurate", "less accurate")):
        with col:
            ops = nb201.parse(e.arch)
            fig = cells.cell_graph(
                nb201.EDGES, ops, nb201.live_edges(ops), f"{label} ({acc(ctx, e.arch)})", 170
            )
            panels.chart(fig, key=f"lecture_cell_{label}", static=True)
            pair_cards(ctx, e, label)
    st.markdown(
        f"Picked from the whole space ({plain(p.rule)}): the sums differ by "
        f"{abs(ratio - 1):.1%}, the accuracies by **{gap:.1f} points**. Above: per layer, "
        "the saliency sum S_n^l and its spread σ^l; their cells and totals."
    )


def step_sigma(ctx: Context) -> None:
    p, ranks, bands = ctx.facts.pair, ctx.facts.standing, ctx.facts.bands
    n = ctx.facts.n
    good, bad = (ranks.loc[a] for a in (p.better, p.worse))
    median = bands[list(aggregation.AGGREGATIONS)].median()
    fig = lecture_charts.band_correlations(
        bands, ctx.title("ranking inside a band of equal S_n"), ctx.height, ctx.font
    )
    panels.chart(fig, key="lecture_sigma")
    st.markdown(
        f"Of {n:,} cells the pair ranks **{good['sum']:,}** and **{bad['sum']:,}** by S_n "
        f"(accuracy: {good['accuracy']:,} and {bad['accuracy']:,}). Divided by σ: overall "
        f"SSNR ranks them {good['ssnr']:,} and {bad['ssnr']:,}, layer-wise SSNR "
        f"{good['layerwise_ssnr']:,} and {bad['layerwise_ssnr']:,}. Not one pair but "
        f"every band: inside each decade of S_n ({len(bands)} with ≥ 100 cells), the "
        f"median Spearman with accuracy is {panels.fmt(median['sum'])} for the sum, "
        f"{panels.fmt(median['ssnr'])} for overall SSNR and "
        f"**{panels.fmt(median['layerwise_ssnr'])}** for layer-wise SSNR."
    )


def step_conservation(ctx: Context) -> None:
    e = ctx.explained(ctx.facts.pair.better)
    c = e.conservation
    table = lecture.per_weight(e.layers)
    rho = lecture.size_rho(table)
    fig = lecture_charts.per_weight(
        table, ctx.title("saliency per weight vs layer size", short(e.arch)), ctx.height, ctx.font
    )
    panels.chart(fig, key="lecture_conservation")
    cols = panels.card_row(3)
    if c is not None:
        cols[0].metric("R − Σ|b| (output)", panels.sci(c["R_minus_bias"], 7), border=True)
        cols[1].metric("stem layer: S_n^l", panels.sci(c["first_layer_sum"], 7), border=True)
        cols[2].metric("last layer: S_n^l", panels.sci(c["last_layer_sum"], 7), border=True)
    st.markdown(
        "Synflow's saliency flows like a current: every path crosses the stem and the "
        "classifier, so each carries the whole output (the three numbers above, to 7 "
        f"digits). Shared among a layer's weights, a bigger layer leaves **less per weight**:"
        f" Spearman of layer size and S_n^l per weight = **{panels.fmt(rho)}** over the "
        f"{len(table)} live layers of the more accurate cell. S_n adds these unequal shares; "
        "S_n^l / σ^l measures each layer against its own spread."
    )


def step_pruning(ctx: Context) -> None:
    with st.spinner("Training the small CNN and pruning it (once per server)…", show_time=True):
        curve = loaders.pruning_curve()
    found = lecture.still_accurate(curve)
    rel = found.relative
    fig = pruning_charts.pruning_curves(
        curve,
        pruning.relative(curve),
        axes.titled(
            "pruning a trained CNN: accuracy and scores",
            "synflow · magnitude, global · seed 0 · scikit-learn digits",
        ),
    )
    fig.update_layout(height=ctx.height + 40)
    panels.chart(fig, key="lecture_pruning")
    st.markdown(
        f"A small CNN trained on scikit-learn's digits, pruned by magnitude without "
        f"retraining. At **{found.fraction:.0%}** pruned, accuracy is still "
        f"{found.accuracy:.1f}% (unpruned {found.start:.1f}%), but S_n has fallen to "
        f"**{rel['sum']:.0%}** of its value; overall SSNR is at {rel['ssnr']:.0%}, "
        f"layer-wise SSNR at {rel['layerwise_ssnr']:.0%}. S_n counts weights; SSNR asks "
        "whether the saliency stands out."
    )


def step_figure2(ctx: Context) -> None:
    s = ctx.facts.summaries
    provenance = loaders.Provenance.of(ctx.setup, ctx.facts.n, loaders.truth_label(ctx.setup))
    best = max(s, key=lambda a: s[a].spearman)
    words = (
        f"All {ctx.facts.n:,} cells of {TASK_LABELS[ctx.setup.task]}, the paper's Figure 2: "
        f"{aggregation.LABELS[best]} ranks them best (Spearman "
        f"{panels.fmt(s[best].spearman)} {panels.fmt_range(s[best].spearman_ci95)}, the sum "
        f"{panels.fmt(s['sum'].spearman)} {panels.fmt_range(s['sum'].spearman_ci95)})."
    )
    for col, agg in zip(st.columns(3, gap="small"), aggregation.AGGREGATIONS):
        found = s[agg]
        head = axes.titled(
            f"{aggregation.LABELS[agg]}: {axes.rho_text(found.spearman, found.n)}",
            f"Kendall τ = {panels.fmt(found.kendall)} · {ctx.setup.space}/{ctx.setup.task}",
        )
        fig = loaders.figure(
            ("lecture_figure2", ctx.setup, agg, ctx.present),
            lambda agg=agg, head=head: explorer_charts.figure2_panel(
                ctx.table(), ctx.truth, agg, True, head
            ).update_layout(height=ctx.height),
        )
        with col:
            panels.chart(fig, key=f"lecture_figure2_{agg}")
    panels.figure2_cards(s, loaders.n_boot_for(ctx.facts.n), provenance)
    st.markdown(words)


RENDER: dict[str, Callable[[Context], None]] = {
    "bands": step_bands,
    "pair": step_pair,
    "sigma": step_sigma,
    "conservation": step_conservation,
    "pruning": step_pruning,
    "figure2": step_figure2,
}


# ---------------------------------------------------------------- page


def _go(step: str) -> None:
    st.session_state[state.LECTURE_STEP] = step


def navigation(step: str) -> None:
    """Previous / where we are / Next, in one row above the step (with the task choice
    on the last step, which shows each task)."""
    names = list(STEPS)
    i = names.index(step)
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    row.button(
        "← Previous",
        key="lecture_previous",
        disabled=i == 0,
        on_click=_go,
        args=(names[max(i - 1, 0)],),
    )
    row.markdown(f"**Step {i + 1} of {len(names)}**")
    row.button(
        "Next →",
        key="lecture_next",
        type="primary",
        disabled=i == len(names) - 1,
        on_click=_go,
        args=(names[min(i + 1, len(names) - 1)],),
    )
    if step == "figure2":
        row.segmented_control(
            "Task",
            list(pack.TASKS),
            key=state.LECTURE_TASK,
            format_func=TASK_LABELS.get,
            label_visibility="collapsed",
        )


def render() -> None:
    state.restore(state.LECTURE_PARAMS)
    if st.session_state.get(state.LECTURE_STEP) not in STEPS:
        st.session_state[state.LECTURE_STEP] = next(iter(STEPS))
    if st.session_state.get(state.LECTURE_TASK) not in pack.TASKS:
        st.session_state[state.LECTURE_TASK] = pack.TASKS[0]
    state.publish(state.LECTURE_PARAMS)  # before the heading: the URL names the step shown
    step = str(st.session_state[state.LECTURE_STEP])
    present = panels.presenting()
    st.header(f"{list(STEPS).index(step) + 1} · {STEPS[step]}")
    navigation(step)
    task = str(st.session_state.get(state.LECTURE_TASK) or pack.TASKS[0])
    if step != "figure2":
        task = pack.TASKS[0]  # the argument is told on CIFAR-10
    settings = loaders.settings()
    try:
        with st.spinner("Reading the bundled pack…"):
            facts = loaders.lecture_facts(task, settings.data_dir)
        truth = loaders.truth(pack.SPACE, task, None, settings.data_dir)
    except loaders.READ_ERRORS as exc:
        panels.read_error(exc)
        return
    ctx = Context(pack.setups()[task], truth, facts, present, settings.data_dir)
    RENDER[step](ctx)
    if not present:
        st.caption(
            f"Ground truth: {plain_html(loaders.truth_label(ctx.setup))}; scores from the "
            "bundled pack (`python -m ssnr_core pack`); the two networks and the pruning "
            "demo are computed live. Presentation mode (top of the page) enlarges it for "
            "a projector."
        )


render()
