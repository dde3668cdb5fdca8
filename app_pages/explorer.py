"""Explorer: a zero-cost score against benchmark accuracy, with live rank correlations,
and the figures a NAS paper shows: the three aggregations side by side (Figure 2), a
rank-rank plot, top-k curves and a per-layer SSNR heatmap across architectures.

Scores come from the cache, filled by background jobs (`ssnr_core.runs.jobs`); while a job
of the chosen setup runs, the chart and the cards redraw every second. A fresh session
with nothing of its sample cached starts scoring a small sample at once, so a first
answer appears without a click.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import torch

from ssnr_app import caveats, loaders, panels, research, state, widgets
from ssnr_app.charts import axes, cells
from ssnr_app.charts import explorer as explorer_charts
from ssnr_app.text import plain, plain_html
from ssnr_core import benchmarks
from ssnr_core.proxies import Setup, aggregation, zero_cost
from ssnr_core.runs import Settings, jobs
from ssnr_core.spaces import nb201
from ssnr_core.studies import Evaluation, Summary, evaluation

UPLOAD = "upload"
FIRST_SAMPLE = 200  # the default sample, and the most a first view scores unasked
LIVE_BOOT = 200  # bootstrap resamples while results still arrive (cheaper redraws)
BOOT_CHOICES = ("auto", 200, 1000, 2000)
INSPECT_MAX = 500
SELECTION_ROWS = INSPECT_MAX  # rows of the selection table, each one inspectable below
HEATMAP_ROWS = 15  # the heatmap shows the highest and lowest scored this many each
HEATMAP_MAX = 40  # or up to this many of the selection
PER_LAYER_CHARTS = ("figure2", "heatmap")  # views of the three aggregations or of layers
CHARTS = {
    "figure2": "three aggregations side by side (Figure 2)",
    "scatter": "score vs accuracy",
    "ranks": "rank vs rank",
    "topk": "top-k curves",
    "heatmap": "per-layer SSNR heatmap",
}
FORMULAS = {
    "sum": r"S_n = \sum_p S_p",
    "ssnr": r"\mathrm{SSNR} = S_n / \sigma",
    "layerwise_ssnr": r"\textstyle\sum_l S_n^l / \sigma^l",
}
NO_COLOUR = "none"


@dataclass(frozen=True)
class Truth:
    values: pd.Series  # accuracy (or the uploaded number) by canonical arch
    source: str  # a benchmarks source name, or UPLOAD
    label: str  # what it is, for every caption


@dataclass(frozen=True)
class Display:
    agg: str
    log_x: bool
    chart: str
    colour: str  # an op name, or NO_COLOUR
    density: bool


@dataclass(frozen=True)
class View:
    """Everything the results section needs: what to show, on which sample, scored how."""

    setup: Setup
    truth: Truth
    archs: loaders.Archs
    job: jobs.Job
    display: Display
    boot: str | int

    @property
    def key(self) -> tuple:
        """Names the scores and the truth this view shows, cheaply (no 15,625-row hash):
        the setup, the sample, where the scores come from and which truth."""
        scores = "pack" if loaders.packed(self.setup) else self.job.key
        truth = loaders.digest(self.truth.values) if self.truth.source == UPLOAD else ""
        return (self.setup, self.archs.digest, scores, self.truth.source, truth)

    @property
    def label(self) -> str:
        s = self.setup
        return f"{s.space}/{s.task} {s.saliency}"

    def n_boot(self, n: int, running: bool) -> int:
        chosen = loaders.n_boot_for(n) if self.boot == "auto" else int(self.boot)
        return min(chosen, LIVE_BOOT) if running else chosen


# ---------------------------------------------------------------- inputs


def display_inputs(space: str, saliency: str) -> Display:
    """Aggregation (with its formula), axis, figure and colouring. In presentation mode
    (no sidebar) the aggregation and the figure sit in one row on the page. A per-network
    measure (AZ-NAS, ...) has no aggregations: its score and components stand in their
    place, on a linear axis, without the per-layer figures."""
    on_page = panels.presenting()
    row = st.container(horizontal=True, gap="medium") if on_page else st.sidebar
    measure = bool(zero_cost.score_names(saliency))
    agg = str(
        widgets.choose(
            "Score" if measure else "Aggregation",
            list(evaluation.score_names(saliency)),
            state.AGGREGATION,
            kind="radio",
            container=row,
            format_func=aggregation.label,
            help=f"{saliency} is one number per network: its score and each component."
            if measure
            else "How the per-weight saliencies S_p become one score per network. SSNR: "
            "saliency signal-to-noise ratio.",
            **({"horizontal": True} if on_page else {}),
        )
    )
    if measure:
        st.sidebar.caption(zero_cost.note(saliency))
        log_x = False  # its scores are logs, log-ranks or counts: a log axis hides them
    else:
        st.sidebar.latex(FORMULAS[agg])
        st.session_state.setdefault(state.LOG_X, True)
        log_x = st.sidebar.toggle(
            "Log-scale score axis",
            key=state.LOG_X,
            help="Sums span many decades. Scores <= 0 have no log: they are drawn in a "
            "marked band at the axis floor.",
        )
    chart = str(
        widgets.choose(
            "Figure",
            [c for c in CHARTS if not (measure and c in PER_LAYER_CHARTS)],
            state.CHART,
            container=row,
            format_func=CHARTS.get,
            help="Figure 2: the three aggregations on one accuracy axis. Rank vs rank: "
            "the ranking each score induces. Top-k: how good the best-scored k are. "
            "Heatmap: where in the network layer-wise SSNR comes from.",
        )
    )
    colour = str(
        widgets.choose(
            "Colour points by",
            [NO_COLOUR, *loaders.op_names(space)],
            state.COLOUR,
            help="Colour each architecture by how many edges of its cells use this op.",
        )
    )
    density = st.sidebar.toggle(
        "Density contours instead of points",
        key=state.DENSITY,
        help="For thousands of architectures (e.g. the full space): where they lie, "
        "not each point. Selection needs points.",
    )
    return Display(agg, bool(log_x), chart, colour, bool(density))


def ground_truth(setup: Setup, settings: Settings) -> Truth | None:
    """The chosen ground truth, or None after showing why it cannot be read."""
    upload = widgets.uploaded_truth(setup.space, state.TRUTH, UPLOAD)
    widgets.upload_problems(upload)
    uploaded = upload.values if upload else None
    sources = list(benchmarks.get_task(setup.space, setup.task).sources)
    labels = dict(benchmarks.SOURCE_LABELS)
    if uploaded is not None:
        sources.append(UPLOAD)
        labels[UPLOAD] = f"uploaded: {uploaded.name}"
    source = str(
        widgets.choose(
            "Ground truth",
            sources,
            state.TRUTH,
            format_func=labels.get,
            help="The accuracy each score is correlated with (or your uploaded numbers).",
        )
    )
    if source == UPLOAD:
        return Truth(uploaded, UPLOAD, labels[UPLOAD])  # type: ignore[arg-type]
    try:
        values = loaders.truth(setup.space, setup.task, source, settings.data_dir)
    except loaders.READ_ERRORS as exc:
        panels.read_error(exc)
        return None
    return Truth(values, source, labels[source])


def _sample_chosen() -> None:
    st.session_state[state.SAMPLE_CHOSEN] = True


def _follow_cache() -> None:
    st.session_state[state.SAMPLE_CHOSEN] = False


def sample_size(setup: Setup, truth: Truth, settings: Settings) -> int:
    """The sample size: by default the largest wholly cached (or packed) seeded sample,
    at least FIRST_SAMPLE; for an uploaded truth every architecture it names. Re-read
    for every setup until the user picks a number."""
    total = len(truth.values)
    cached = 0
    with suppress(*loaders.READ_ERRORS):  # a broken cache: the results say why
        if truth.source == UPLOAD:
            cached = loaders.scored_count(setup, loaders.Archs(list(truth.values.index)), settings)
        else:
            cached = loaders.largest_cached_sample(setup, truth.source, settings)
    default = total if truth.source == UPLOAD else max(cached, min(FIRST_SAMPLE, total))
    chosen = st.session_state.get(state.SAMPLE_CHOSEN, False)
    if not chosen:
        st.session_state[state.SAMPLE] = default
    n = widgets.number(
        "Sample size",
        state.SAMPLE,
        default,
        1,
        total,
        on_change=_sample_chosen,
        help=f"Up to {total:,}: every architecture with ground truth. The same seed draws "
        "the same sample as `python -m ssnr_core score --sample N`.",
    )
    if chosen and n != default:
        st.sidebar.button(
            f"Largest cached sample ({default:,})", on_click=_follow_cache, key="follow_cache"
        )
    elif truth.source == UPLOAD:
        st.sidebar.caption(
            f"Your file names {total:,} architectures; {cached:,} of them are scored "
            "and correlated."
        )
    elif loaders.packed(setup):
        st.sidebar.caption(
            f"All {total:,} architectures are in the bundled pack "
            "(`python -m ssnr_core pack`): nothing to compute."
        )
    else:
        st.sidebar.caption(
            f"Following the cache: {cached:,} of {total:,} architectures of this seeded "
            "sample order are scored."
        )
    return n


def compute_inputs() -> tuple[str | int, str]:
    """Bootstrap resamples, and the device (offered when PyTorch sees a GPU)."""
    boot = widgets.choose(
        "Bootstrap resamples",
        BOOT_CHOICES,
        state.BOOTSTRAP,
        help="auto: 1000, fewer for large samples to answer in about a second.",
    )
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    device = (
        str(widgets.choose("Device", devices, state.DEVICE, help="Where scoring jobs run."))
        if len(devices) > 1
        else "cpu"
    )
    return boot, device  # type: ignore[return-value]


def make_view(setup: Setup, truth: Truth, display: Display, settings: Settings) -> View | None:
    """The sample and its scoring job, or None after showing why they cannot be made."""
    st.sidebar.header("Sample")
    n = sample_size(setup, truth, settings)
    boot, device = compute_inputs()
    full = n >= len(truth.values)
    try:
        if truth.source == UPLOAD:
            archs = loaders.sample_from(truth.values, n, setup.seed)
            job = jobs.Job(
                setup, settings, archs_file=jobs.write_archs(archs, settings), device=device
            )
        else:
            archs = loaders.sample(
                setup.space,
                setup.task,
                None if full else n,
                setup.seed,
                truth.source,
                settings.data_dir,
            )
            default = benchmarks.get_task(setup.space, setup.task).sources[0]
            truth_arg = None if truth.source == default else truth.source
            job = jobs.Job(setup, settings, None if full else n, truth_arg, device=device)
    except loaders.READ_ERRORS as exc:
        panels.read_error(exc)
        return None
    return View(setup, truth, archs, job, display, boot)


# ---------------------------------------------------------------- results


def start_first_view(view: View, status: jobs.JobStatus) -> jobs.JobStatus:
    """Once per session: when nothing of a small sample is cached, score it right away,
    so the first view fills in without a click."""
    if st.session_state.get(state.FIRST_VIEW):
        return status
    st.session_state[state.FIRST_VIEW] = True
    if status.running or status.queued or status.done or status.total > FIRST_SAMPLE:
        return status
    if not panels.is_default_job(view.job, FIRST_SAMPLE):  # a link: cached + Compute
        return status
    try:
        jobs.start(view.job, view.archs)
    except OSError as exc:
        st.error(f"Could not start scoring: {exc}")
        return status
    st.rerun()  # once more from the top: the job is live everywhere, the sidebar included


def results(view: View, settings: Settings) -> None:
    """Job progress, cards, scatter, selection and hand-off: live while a job runs; from
    the bundled pack, with no job, when it holds the setup."""
    if loaders.packed(view.setup):
        packed_results(view, settings)
        return
    status = panels.job_status(view.job, view.archs)
    if status is None:
        return
    status = start_first_view(view, status)
    running = job_active(view, settings, status)

    def body() -> None:
        live_results(view, settings, running)

    every = panels.poll_s(status)
    panels.live(body, running, lambda: job_active(view, settings), every)
    if not running:
        all_aggregations(view, settings)


def job_active(view: View, settings: Settings, status: jobs.JobStatus | None = None) -> bool:
    """Whether a job of the view's setup runs or waits in the queue."""
    status = status or panels.job_status(view.job, view.archs)
    own = status is not None and (status.running or status.queued)
    return own or panels.setup_running(view.setup, settings)


def live_results(view: View, settings: Settings, was_running: bool) -> None:
    status = panels.job_status(view.job, view.archs)
    if status is None:
        return
    running = job_active(view, settings, status)
    if was_running and not running:
        st.rerun()  # the job ended: redraw the page once, with its complete results
    panels.job_panel(view.job, view.archs, view.label, status)
    if not (status.running or status.queued):
        naslib_offer(view, status.total - status.done, settings)
    try:
        table = loaders.cached_scores(view.setup, view.archs, settings)
    except loaders.READ_ERRORS as exc:
        panels.read_error(exc)
        return
    s = view.setup
    st.markdown(
        f"**{loaders.space_label(s.space)} · {s.task} · {s.saliency} · seed {s.seed}** — "
        f"{len(table):,} of {len(view.archs):,} sampled architectures scored"
    )
    if table.empty and not running:
        st.info(
            "No architecture of this sample is scored yet: compute them above, or in a "
            "terminal with `python -m ssnr_core score` (the app reads the same cache)."
        )
        return
    show_results(view, table, running)


def naslib_offer(view: View, missing: int, settings: Settings) -> None:
    """Before a heavy Compute (over `panels.HEAVY_S` expected, or not yet measured here):
    NASLib's stored scores of this saliency, an instant view, labelled as theirs."""
    s = view.setup
    if missing <= 0 or not loaders.estimate(s, missing, view.job.device, settings).heavy(
        panels.HEAVY_S
    ):
        return
    try:
        found = loaders.naslib_stored(s.space, s.task, s.saliency, settings.data_dir)
    except loaders.READ_ERRORS:
        return  # no NASLib file to offer: the Compute button stays the way
    if found is None:
        return
    summary = found.summary
    with st.expander(
        f"Instant view instead: NASLib's stored {found.proxy} on their {summary.n:,} "
        f"{s.space}/{s.task} architectures (no computation)"
    ):
        st.caption(
            f"NASLib's numbers, not this app's: their {found.proxy} computation, their "
            "initialisation and batch, their NAS-Bench-Suite-Zero sample, correlated with "
            f"their val_accuracy. n = {summary.n:,} of {len(found.scores):,} "
            f"(dropped: {summary.dropped:,}); 95% intervals from "
            f"{found.n_boot:,} bootstrap resamples."
        )
        cols = panels.card_row(3)
        cols[0].metric("NASLib's Spearman ρ", panels.fmt(summary.spearman), border=True)
        cols[0].caption(panels.fmt_ci(summary.spearman_ci95))
        cols[1].metric("NASLib's Kendall τ", panels.fmt(summary.kendall), border=True)
        cols[1].caption(panels.fmt_ci(summary.kendall_ci95))
        cols[2].metric("NASLib's architectures", f"{summary.n:,}", border=True)
        panels.small_n(summary.n)
        head = axes.titled(
            f"NASLib's stored {found.proxy} vs val_accuracy: "
            f"{axes.rho_text(summary.spearman, summary.n)}",
            f"{s.space}/{s.task} · NASLib's computation, init, batch and sample",
        )
        fig = explorer_charts.stored_scatter(found.scores, found.truth, found.proxy, head)
        panels.chart(fig, key="naslib_stored")


def packed_results(view: View, settings: Settings) -> None:
    """The view from the bundled pack: nothing to compute, nothing live."""
    table = loaders.cached_scores(view.setup, view.archs, settings)
    s = view.setup
    if not panels.presenting():
        st.markdown(
            f"**{loaders.space_label(s.space)} · {s.task} · {s.saliency} · seed {s.seed}** — "
            f"{len(table):,} of {len(view.archs):,} sampled architectures, from the bundled "
            "pack (made by `python -m ssnr_core pack`, rechecked by its test)"
        )
    summaries = show_results(view, table, running=False)
    all_aggregations(view, settings)
    warm(view, table, summaries)


def show_results(view: View, table: pd.DataFrame, running: bool) -> dict[str, Summary]:
    """The headline (named by what the figure shows), the figure, the selection and the
    hand-off, for the scored part of the sample; the summaries it showed."""
    s, agg = view.setup, view.display.agg
    n_boot = view.n_boot(len(table), running)
    summaries = correlate_all(view, table, n_boot)
    summary = summaries[agg] if summaries else None
    provenance = loaders.Provenance.of(s, summary.n if summary else 0, view.truth.label)
    both = view.display.chart == "figure2" and summaries
    head = "Three aggregations" if both else aggregation.label(agg)
    if not panels.presenting():  # on a projector the figure's titles say it
        st.subheader(f"{head} vs {plain(view.truth.label)}")
    cards = st.container()  # above the figure, or below it on a projector
    selection = figure(view, table, summaries, provenance)
    with st.container() if panels.presenting() else cards:
        if both:
            panels.figure2_cards(summaries, n_boot, provenance)
        else:
            panels.metric_cards(summary, n_boot, provenance)
        caveats.show([s.saliency], list(summaries) if both else [agg])
    if selection:
        selection_cards(view, table.loc[selection])
    inspect(view, table, selection)
    return summaries


def correlate_all(
    view: View, table: pd.DataFrame, n_boot: int, rows: str = "scored"
) -> dict[str, Summary]:
    """`evaluation.correlate` of every aggregation (cached per column): the cards, Figure
    2's titles and the all-aggregations table read the same summaries."""
    if table.empty:
        return {}
    stored = loaders.pack_summaries(view.setup, view.truth.source, len(table), n_boot)
    if stored is not None and rows == "scored":
        return stored
    return loaders.summaries(
        table_key(view, table, rows), table, view.truth.values, n_boot, view.setup.seed
    )


def table_key(view: View, table: pd.DataFrame, *more: object) -> tuple:
    """`View.key` and the size of `table`: the scored part of a sample only grows, so its
    size names its rows (a selection adds its own digest to `more`)."""
    return (*view.key, len(table), *more)


def memo(key: tuple, build: Callable[[], Any]) -> Any:
    """`loaders.figure`: built once per key (title, display and rows included)."""
    return loaders.figure(key, build)


def title(view: View, provenance: loaders.Provenance, head: str) -> dict:
    """A figure title saying what it shows and on what (so an exported PNG does too)."""
    s = view.setup
    return axes.titled(
        f"{s.space}/{s.task} · {s.saliency} · {head}",
        f"ground truth: {plain_html(provenance.truth)} · batch: {provenance.batch} · seed {s.seed}",
    )


def colour(view: View, table: pd.DataFrame) -> explorer_charts.Colour | None:
    op = view.display.colour
    if op == NO_COLOUR or table.empty:
        return None
    mix = loaders.op_mix(view.setup.space, loaders.Archs(list(table.index)))
    counts = mix[op] if op in mix else pd.Series(0, index=mix.index)
    return explorer_charts.Colour(counts, f"# {op}")


def figure(
    view: View, table: pd.DataFrame, summaries: dict[str, Summary], provenance: loaders.Provenance
) -> list[str]:
    """The chosen figure; the selected architectures (from the scatter, kept across
    redraws and aggregation switches), in table order."""
    chart = view.display.chart
    if chart == "scatter":
        scatter(view, table, summaries, provenance)
    elif table.empty:
        st.info("The figure appears with the first scores.")
    elif chart == "figure2":
        figure2(view, table, summaries, provenance)
    elif chart == "ranks":
        rank_plot(view, table, summaries, provenance)
    elif chart == "topk":
        top_k_plot(view, table, provenance)
    else:
        heatmap(view, table, provenance)
    chosen = list(st.session_state.get(state.SELECTION, ()))
    return table.index[table.index.isin(chosen)].tolist() if chosen else []


def scatter_figure(
    view: View,
    table: pd.DataFrame,
    summaries: dict[str, Summary],
    provenance: loaders.Provenance,
    agg: str,
) -> tuple[go.Figure, int]:
    """The scatter of one aggregation (memoised; `warm` builds the others ahead)."""
    d = view.display
    rho = summaries[agg].spearman if summaries else float("nan")
    head = title(view, provenance, f"{aggregation.label(agg)}: {axes.rho_text(rho, provenance.n)}")
    return memo(
        table_key(view, table, "scatter", agg, d.log_x, d.colour, json.dumps(head)),
        lambda: explorer_charts.scatter(
            table, view.truth.values, agg, d.log_x, head, colour(view, table)
        ),
    )


def warm(view: View, table: pd.DataFrame, summaries: dict[str, Summary]) -> None:
    """After the page is drawn: build the scatters of the other aggregations, so that a
    switch to them only sends a figure (a tenth of a second each, once per server)."""
    if view.display.chart != "scatter" or view.display.density or not summaries:
        return
    provenance = loaders.Provenance.of(view.setup, summaries[view.display.agg].n, view.truth.label)
    for agg in evaluation.score_names(view.setup.saliency):
        scatter_figure(view, table, summaries, provenance, agg)


def scatter(
    view: View, table: pd.DataFrame, summaries: dict[str, Summary], provenance: loaders.Provenance
) -> None:
    """The WebGL scatter (or density contours); a box/lasso selection is kept in the
    session until cleared, so it survives an aggregation switch."""
    agg, d = view.display.agg, view.display
    rho = summaries[agg].spearman if summaries else float("nan")
    head = f"{aggregation.label(agg)}: {axes.rho_text(rho, provenance.n)}"
    if d.density:
        fig = explorer_charts.density(
            table, view.truth.values, agg, d.log_x, title(view, provenance, head)
        )
        panels.chart(fig, key="density_chart")
        return
    fig, hidden = scatter_figure(view, table, summaries, provenance, agg)
    chosen = st.session_state.get(state.SELECTION, ())
    if chosen:  # marks go on a copy: the memo's figure is shared
        fig = go.Figure(fig)
        explorer_charts.highlight(fig, table, chosen)
    event = panels.chart(fig, key="scatter", on_select="rerun", selection_mode=("box", "lasso"))
    picked = explorer_charts.selected_archs(event, table)
    if picked and picked != st.session_state.get(state.SELECTION_EVENT):
        # A new box or lasso (the widget repeats its last event on every rerun, and
        # forgets it when the figure changes: the session keeps the selection instead).
        st.session_state[state.SELECTION_EVENT] = picked
        st.session_state[state.SELECTION] = picked
        st.rerun()  # redraw with the selection marked and its cards
    if hidden:
        st.caption(f"{hidden:,} architectures with a NaN score or accuracy are not drawn.")
    st.caption(
        "Drag a box or lasso to correlate a subset (it stays selected when you switch the "
        "aggregation); the camera icon saves a PNG with the title."
    )


def figure2(
    view: View, table: pd.DataFrame, summaries: dict[str, Summary], provenance: loaders.Provenance
) -> None:
    """The paper's Figure 2 as three panels side by side (stacked on a phone), each
    titled with its aggregation, Spearman, Kendall and n."""
    s, d = view.setup, view.display
    painted = colour(view, table) if d.colour != NO_COLOUR else None
    for col, agg in zip(st.columns(3, gap="small"), aggregation.AGGREGATIONS):
        found = summaries[agg]
        head = axes.titled(
            f"{aggregation.label(agg)}: ρ = {panels.fmt(found.spearman)}",
            f"τ = {panels.fmt(found.kendall)} · n = {found.n:,}<br>{s.space}/{s.task} "
            f"{s.saliency} · seed {s.seed} · truth: {plain_html(view.truth.source)}"
            + ("" if s.batch == "none" else f" · batch: {s.batch}"),
        )
        fig = memo(
            table_key(view, table, "figure2", agg, d.log_x, d.colour, json.dumps(head)),
            lambda agg=agg, head=head: explorer_charts.figure2_panel(
                table, view.truth.values, agg, d.log_x, head, painted
            ),
        )
        panels.chart(fig, key=f"figure2_{agg}", container=col)
    st.caption(
        "The paper's Figure 2: one panel per aggregation, on one accuracy axis; ρ is "
        "Spearman's rank correlation over the n architectures with a finite score."
    )


def rank_figure(
    view: View,
    table: pd.DataFrame,
    summaries: dict[str, Summary],
    provenance: loaders.Provenance,
    agg: str,
) -> go.Figure:
    head = title(view, provenance, "rank by score vs true rank")
    return memo(
        table_key(view, table, "ranks", agg, json.dumps(head)),
        lambda: explorer_charts.rank_rank(
            loaders.ranks(table[agg], view.truth.values), agg, summaries[agg].spearman, head
        ),
    )


def rank_plot(
    view: View, table: pd.DataFrame, summaries: dict[str, Summary], provenance: loaders.Provenance
) -> None:
    panels.chart(rank_figure(view, table, summaries, provenance, view.display.agg), key="ranks")
    st.caption(
        "Each architecture at (true rank, rank by score), 1 = best; Spearman's ρ is the "
        "correlation of these two ranks. Points above the diagonal are over-rated."
    )


def top_k_figure(view: View, table: pd.DataFrame, provenance: loaders.Provenance) -> go.Figure:
    def build() -> go.Figure:
        names = evaluation.score_names(view.setup.saliency)
        curves = {a: loaders.top_k(table[a], view.truth.values) for a in names}
        found = int(curves[names[0]]["k"][-1])
        return explorer_charts.top_k(
            curves, found, title(view, provenance, f"top-k by score (n = {found:,})")
        )

    return memo(table_key(view, table, "topk", provenance.truth, provenance.batch), build)


def top_k_plot(view: View, table: pd.DataFrame, provenance: loaders.Provenance) -> None:
    panels.chart_row(top_k_figure(view, table, provenance), key="topk")
    st.caption(
        "Keep the k best-scored architectures: precision at k is the share of them that are "
        "among the k most accurate; the best true rank is the best architecture a search "
        "would find among them (k from 1% to 100% of n)."
    )


def heatmap(view: View, table: pd.DataFrame, provenance: loaders.Provenance) -> None:
    """Layer-wise SSNR split by layer group, for the selection or the extremes."""
    agg = view.display.agg
    chosen = [a for a in table.index if a in set(st.session_state.get(state.SELECTION, ()))]
    if chosen:
        archs, which = chosen[:HEATMAP_MAX], f"the selection's first {HEATMAP_MAX}"
    else:
        scored = table[agg][table[agg] > 0]  # a zero score is all-zero in every group
        ranked = scored.sort_values(ascending=False).index
        archs = list(dict.fromkeys([*ranked[:HEATMAP_ROWS], *ranked[-HEATMAP_ROWS:]]))
        which = (
            f"the {HEATMAP_ROWS} highest and {HEATMAP_ROWS} lowest positive "
            f"{aggregation.label(agg)}"
        )
    with st.spinner(f"Building {len(archs)} networks for their layer names…"):
        groups = loaders.group_table(
            view.setup, loaders.Archs(archs), loaders.settings().cache_file
        )
    values = view.truth.values
    labels = [
        f"{i + 1:02d} · acc {values.get(a, float('nan')):.1f} · {aggregation.label(agg)} "
        f"{table.loc[a, agg]:.3g}"
        for i, a in enumerate(groups.index)
    ]
    head = f"layer-wise SSNR by layer group · {len(groups)} architectures ({which})"
    fig = explorer_charts.group_heatmap(groups, labels, title(view, provenance, head))
    panels.chart(fig, key="heatmap")
    st.caption(
        "Each cell: Σ S_n^l/σ^l over the layer group's weight layers; a row sums to the "
        "architecture's layer-wise SSNR. Select points on the scatter to show those instead."
    )


def clear_selection() -> None:
    st.session_state.pop(state.SELECTION, None)


def selection_cards(view: View, sub: pd.DataFrame) -> None:
    """The selection's cards for the chosen aggregation, and a small table of all three."""
    st.subheader(f"Selection: {len(sub):,} architectures")
    st.button("Clear the selection", key="clear_selection", on_click=clear_selection)
    n_boot = loaders.n_boot_for(len(sub))
    summaries = correlate_all(view, sub, n_boot, loaders.Archs(list(sub.index)).digest)
    summary = summaries[view.display.agg]
    provenance = loaders.Provenance.of(view.setup, summary.n, view.truth.label)
    panels.metric_cards(summary, n_boot, provenance, prefix="selection ")
    result = Evaluation(
        view.setup, view.truth.label, {aggregation.label(a): s for a, s in summaries.items()}
    )
    st.dataframe(result.table()[["n", "spearman", "kendall", "top10%_precision"]])
    st.caption("The selection under each aggregation (the same architectures, ranked three ways).")
    selection_table(view, sub)


def selection_table(view: View, sub: pd.DataFrame) -> None:
    """The selected architectures, one row each, sortable by any column (click a
    header); picking a row makes it the architecture inspected below."""
    shown = sub.head(SELECTION_ROWS)
    rows = pd.DataFrame(
        {
            "arch": shown.index.to_numpy(),
            "accuracy": view.truth.values.reindex(shown.index).to_numpy(float),
            "log10 S_n": np.log10(shown["sum"].where(shown["sum"] > 0)).to_numpy(float),
            "S_n": [panels.sci(v, 4) for v in shown["sum"]],
            "overall SSNR": shown["ssnr"].to_numpy(float),
            "layer-wise SSNR": shown["layerwise_ssnr"].to_numpy(float),
        }
    )
    event = st.dataframe(
        rows,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="selection_table",
        column_config={
            "accuracy": st.column_config.NumberColumn(format="%.2f"),
            "log10 S_n": st.column_config.NumberColumn(format="%.3f"),
            "overall SSNR": st.column_config.NumberColumn(format="%.4g"),
            "layer-wise SSNR": st.column_config.NumberColumn(format="%.4g"),
        },
    )
    picked = getattr(getattr(event, "selection", None), "rows", None) or []
    if picked:
        st.session_state["inspect_arch"] = str(rows["arch"].iloc[picked[0]])
    which = f"The first {SELECTION_ROWS:,} of the" if len(sub) > SELECTION_ROWS else "All"
    st.caption(f"{which} {len(sub):,} selected: click a header to sort, a row to inspect it.")


def inspect(view: View, table: pd.DataFrame, selection: list[str]) -> None:
    """Pick an architecture (from the selection, or the extremes) for the layer page."""
    if table.empty:
        return
    st.subheader("Inspect on the layer page")
    if selection:
        options = selection[:INSPECT_MAX]
    else:
        ranked = table[view.display.agg].sort_values(ascending=False, na_position="last").index
        options = list(dict.fromkeys([*ranked[:25], *ranked[-25:]]))
    values = view.truth.values
    arch = st.selectbox(
        "Architecture"
        + (" (from the selection)" if selection else " (the 25 highest and 25 lowest scored)"),
        options,
        key="inspect_arch",
        help="The layer page shows where its saliency sits; Explain takes it through the "
        "computation step by step.",
        format_func=lambda a: f"{a}  ·  accuracy {values.get(a, float('nan')):.2f}",
    )
    cell(view.setup.space, str(arch), values)
    left, right = st.columns(2)
    if left.button("Open on the layer page", key="open_layers"):
        rest = [a for a in options if a != arch]
        state.send_to_layer_page([arch, *rest][:INSPECT_MAX], state.LAYER_PAGE)
    if right.button("Explain this architecture", key="open_explain"):
        st.session_state[state.EXPLAIN_ARCH] = arch
        st.switch_page(state.EXPLAIN_PAGE)


def cell(space: str, arch: str, values: pd.Series) -> None:
    """The inspected architecture's cell as a small graph (NAS-Bench-201's cells)."""
    if space != "nb201":
        return
    ops = nb201.parse(arch)
    fig = cells.cell_graph(
        nb201.EDGES, ops, nb201.live_edges(ops), f"accuracy {values.get(arch, float('nan')):.2f}%"
    )
    panels.chart(fig, key="inspect_cell", static=True)


def all_aggregations(view: View, settings: Settings) -> None:
    """Every aggregation on this sample, as `evaluation.Evaluation`'s table. Computed
    after the page is drawn: switching the aggregation is then a lookup."""
    s = view.setup
    measure = bool(zero_cost.score_names(s.saliency))
    try:
        table = loaders.cached_scores(view.setup, view.archs, settings)
    except loaders.READ_ERRORS:
        return  # the live section has said why
    if table.empty:
        return
    n_boot = view.n_boot(len(table), running=False)
    summaries = correlate_all(view, table, n_boot)
    result = Evaluation(
        view.setup, view.truth.label, {aggregation.label(a): s for a, s in summaries.items()}
    )
    st.subheader(
        f"{s.saliency} and its components on this sample"
        if measure
        else "All aggregations on this sample"
    )
    st.dataframe(result.table())
    st.caption(
        f"{loaders.Provenance.of(view.setup, result.n, view.truth.label).text()} · "
        f"95% intervals: {n_boot:,} bootstrap resamples (`_lo`, `_hi`)."
    )
    export = table.assign(accuracy=view.truth.values.reindex(table.index))
    full = len(view.archs) >= len(view.truth.values)
    source = None if view.truth.source in (UPLOAD, "test200") else view.truth.source
    reproduce = (
        "uploaded ground truth: score with python -m ssnr_core score --archs FILE"
        if view.truth.source == UPLOAD
        else loaders.command(s, None if full else len(view.archs), source)
    )
    panels.download_csv(
        "Download scores and accuracy (CSV)",
        export.reset_index(),
        f"ssnr_{s.space}_{s.task}_{s.saliency}_seed{s.seed}.csv",
        about=loaders.about(s, view.truth.label, len(table), reproduce),
    )
    if measure:
        st.caption(
            f"{s.saliency}'s seeds and paired verdicts: `python -m ssnr_core evaluate "
            f"--saliency {s.saliency} --seeds 0,1,2`; its column in the field's table: Compare."
        )
        return
    research.section(
        view.job,
        view.archs,
        list(table.index),
        view.truth.values,
        view.truth.label,
        view.truth.source == "naslib",
        n_boot,
    )


# ---------------------------------------------------------------- page


def publish_url() -> None:
    state.publish(state.EXPLORER_PARAMS)
    if st.session_state.get(state.SAMPLE_CHOSEN):
        state.publish([state.SAMPLE_PARAM])
    else:
        state.forget(state.SAMPLE_PARAM)


def render() -> None:
    panels.intro(
        "SSNR Explorer",
        "Does a zero-cost proxy track accuracy? Score a sample of a NAS benchmark, then "
        "compare the saliency sum S_n, the overall SSNR (saliency signal-to-noise ratio, "
        "S_n/σ) and the layer-wise SSNR (Σ_l S_n^l/σ^l). The Explain page takes one "
        "network through the computation; the Lecture tells the argument step by step.",
    )
    settings = loaders.settings()
    state.restore([*state.EXPLORER_PARAMS, state.SAMPLE_PARAM])
    st.sidebar.header("Setup")
    choice = widgets.setup_inputs(measures=True)
    display = display_inputs(
        str(st.session_state[state.BENCHMARK]), str(st.session_state[state.SALIENCY])
    )
    if choice.setup is None:
        st.error(choice.problem)
        return
    truth = ground_truth(choice.setup, settings)
    view = make_view(choice.setup, truth, display, settings) if truth else None
    publish_url()
    if view is not None:
        results(view, settings)
    panels.about_metrics()


render()
