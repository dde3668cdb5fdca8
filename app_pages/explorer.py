"""Explorer: a zero-cost score against benchmark accuracy, with live rank correlations.

Scores come from the cache, filled by background jobs (`ssnr_core.jobs`); while a job
of the chosen setup runs, the chart and the cards redraw every second. A fresh session
with nothing of its sample cached starts scoring a small sample at once, so a first
answer appears without a click.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

import pandas as pd
import streamlit as st
import torch

from ssnr_app import charts, loaders, panels, state, widgets
from ssnr_core import aggregation, benchmarks, jobs
from ssnr_core.evaluation import Evaluation
from ssnr_core.settings import Settings
from ssnr_core.setup import Setup

UPLOAD = "upload"
FIRST_SAMPLE = 200  # the default sample, and the most a first view scores unasked
LIVE_BOOT = 200  # bootstrap resamples while results still arrive (cheaper redraws)
BOOT_CHOICES = ("auto", 200, 1000, 2000)
INSPECT_MAX = 500


@dataclass(frozen=True)
class Truth:
    values: pd.Series  # accuracy (or the uploaded number) by canonical arch
    source: str  # a benchmarks source name, or UPLOAD
    label: str  # what it is, for every caption


@dataclass(frozen=True)
class Display:
    agg: str
    log_x: bool


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
    def label(self) -> str:
        s = self.setup
        return f"{s.space}/{s.task} {s.saliency}"

    def n_boot(self, n: int, running: bool) -> int:
        chosen = loaders.n_boot_for(n) if self.boot == "auto" else int(self.boot)
        return min(chosen, LIVE_BOOT) if running else chosen


# ---------------------------------------------------------------- inputs


def display_inputs() -> Display:
    agg = widgets.choose(
        "Aggregation",
        list(aggregation.AGGREGATIONS),
        state.AGGREGATION,
        kind="radio",
        format_func=aggregation.LABELS.get,
    )
    st.session_state.setdefault(state.LOG_X, True)
    log_x = st.sidebar.toggle(
        "Log-scale score axis",
        key=state.LOG_X,
        help="Sums span many decades; a log axis cannot show scores <= 0.",
    )
    return Display(str(agg), bool(log_x))


def ground_truth(setup: Setup, config: Settings) -> Truth | None:
    """The chosen ground truth, or None after showing why it cannot be read."""
    uploaded = widgets.uploaded_truth(setup.space)
    sources = list(benchmarks.get_task(setup.space, setup.task).sources)
    labels = dict(benchmarks.SOURCE_LABELS)
    if uploaded is not None:
        sources.append(UPLOAD)
        labels[UPLOAD] = f"uploaded: {uploaded.name}"
    source = str(widgets.choose("Ground truth", sources, state.TRUTH, format_func=labels.get))
    if source == UPLOAD:
        return Truth(uploaded, UPLOAD, labels[UPLOAD])  # type: ignore[arg-type]
    try:
        values = loaders.truth(setup.space, setup.task, source, config.data_dir)
    except loaders.READ_ERRORS as exc:
        panels.read_error(exc)
        return None
    return Truth(values, source, labels[source])


def _sample_chosen() -> None:
    st.session_state[state.SAMPLE_CHOSEN] = True


def _follow_cache() -> None:
    st.session_state[state.SAMPLE_CHOSEN] = False


def sample_size(setup: Setup, truth: Truth, config: Settings) -> int:
    """The sample size: by default the largest wholly cached seeded sample (at least
    FIRST_SAMPLE), re-read for every setup until the user picks a number."""
    total = len(truth.values)
    cached = 0
    if truth.source != UPLOAD:
        with suppress(*loaders.READ_ERRORS):  # a broken cache: the results say why
            cached = loaders.largest_cached_sample(setup, truth.source, config)
    default = max(cached, min(FIRST_SAMPLE, total))
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
    device = str(widgets.choose("Device", devices, state.DEVICE)) if len(devices) > 1 else "cpu"
    return boot, device  # type: ignore[return-value]


def make_view(setup: Setup, truth: Truth, display: Display, config: Settings) -> View | None:
    """The sample and its scoring job, or None after showing why they cannot be made."""
    st.sidebar.header("Sample")
    n = sample_size(setup, truth, config)
    boot, device = compute_inputs()
    full = n >= len(truth.values)
    try:
        if truth.source == UPLOAD:
            archs = loaders.sample_from(truth.values, n, setup.seed)
            job = jobs.Job(setup, config, archs_file=jobs.write_archs(archs, config), device=device)
        else:
            archs = loaders.sample(
                setup.space,
                setup.task,
                None if full else n,
                setup.seed,
                truth.source,
                config.data_dir,
            )
            default = benchmarks.get_task(setup.space, setup.task).sources[0]
            truth_arg = None if truth.source == default else truth.source
            job = jobs.Job(setup, config, None if full else n, truth_arg, device=device)
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
    if status.running or status.done or status.total > FIRST_SAMPLE:
        return status
    try:
        jobs.start(view.job, view.archs)
    except OSError as exc:
        st.error(f"Could not start scoring: {exc}")
        return status
    st.rerun()  # once more from the top: the job is live everywhere, the sidebar included


def results(view: View, config: Settings) -> None:
    """Job progress, cards, scatter, selection and hand-off: live while a job runs."""
    status = panels.job_status(view.job, view.archs)
    if status is None:
        return
    status = start_first_view(view, status)
    running = status.running or panels.setup_running(view.setup, config)

    def body() -> None:
        live_results(view, config, running)

    panels.live(body, running)
    if not running:
        all_aggregations(view, config)


def live_results(view: View, config: Settings, was_running: bool) -> None:
    status = panels.job_status(view.job, view.archs)
    if status is None:
        return
    running = status.running or panels.setup_running(view.setup, config)
    if was_running and not running:
        st.rerun()  # the job ended: redraw the page once, with its complete results
    panels.job_panel(view.job, view.archs, view.label, status)
    try:
        table = loaders.cached_scores(view.setup, view.archs, config)
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
    agg = view.display.agg
    n_boot = view.n_boot(len(table), running)
    summary = (
        loaders.correlate(table[agg], view.truth.values, n_boot, s.seed) if len(table) else None
    )
    provenance = loaders.Provenance.of(s, summary.n if summary else 0, view.truth.label)
    st.subheader(f"{aggregation.LABELS[agg]} vs {view.truth.label}")
    panels.metric_cards(summary, n_boot, provenance)
    selection = scatter(view, table, provenance)
    if selection:
        selection_cards(view, table.loc[selection])
    inspect(view, table, selection)


def scatter(view: View, table: pd.DataFrame, provenance: loaders.Provenance) -> list[str]:
    """The WebGL scatter; the selected architectures, in table order (a seeded bootstrap
    resamples by position, so the same points give the same interval however picked)."""
    s = view.setup
    title = (
        f"{s.space}/{s.task} · {s.saliency} · n = {provenance.n:,} · seed {s.seed}<br>"
        f"<sup>ground truth: {provenance.truth}<br>batch: {provenance.batch}</sup>"
    )
    fig, hidden = charts.scatter(
        table, view.truth.values, view.display.agg, view.display.log_x, title
    )
    event = st.plotly_chart(
        fig,
        key="scatter",
        on_select="rerun",
        selection_mode=("box", "lasso"),
        config=charts.PLOT_CONFIG,
    )
    if hidden:
        st.caption(
            f"{hidden:,} architectures with a NaN or (on the log axis) non-positive "
            "score are not drawn."
        )
    st.caption("Drag a box or lasso to correlate a subset; the camera icon saves a PNG.")
    chosen = set(charts.selected_archs(event))
    return [a for a in table.index if a in chosen]


def selection_cards(view: View, sub: pd.DataFrame) -> None:
    st.subheader(f"Selection: {len(sub):,} architectures")
    n_boot = loaders.n_boot_for(len(sub))
    summary = loaders.correlate(sub[view.display.agg], view.truth.values, n_boot, view.setup.seed)
    provenance = loaders.Provenance.of(view.setup, summary.n, view.truth.label)
    panels.metric_cards(summary, n_boot, provenance, prefix="selection ")


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
        format_func=lambda a: f"{a}  ·  accuracy {values.get(a, float('nan')):.2f}",
    )
    if st.button("Open on the layer page", key="open_layers"):
        rest = [a for a in options if a != arch]
        state.send_to_layer_page([arch, *rest][:INSPECT_MAX], state.LAYER_PAGE)


def all_aggregations(view: View, config: Settings) -> None:
    """Every aggregation on this sample, as `evaluation.Evaluation`'s table. Computed
    after the page is drawn: switching the aggregation is then a lookup."""
    try:
        table = loaders.cached_scores(view.setup, view.archs, config)
    except loaders.READ_ERRORS:
        return  # the live section has said why
    if table.empty:
        return
    n_boot = view.n_boot(len(table), running=False)
    summaries = {
        aggregation.LABELS[a]: loaders.correlate(
            table[a], view.truth.values, n_boot, view.setup.seed
        )
        for a in aggregation.AGGREGATIONS
    }
    result = Evaluation(view.setup, view.truth.label, summaries)
    st.subheader("All aggregations on this sample")
    st.dataframe(result.table())
    st.caption(
        f"{loaders.Provenance.of(view.setup, result.n, view.truth.label).text()} · "
        f"95% intervals: {n_boot:,} bootstrap resamples (`_lo`, `_hi`)."
    )
    export = table.assign(accuracy=view.truth.values.reindex(table.index))
    s = view.setup
    panels.download_csv(
        "Download scores and accuracy (CSV)",
        export.reset_index(),
        f"ssnr_{s.space}_{s.task}_{s.saliency}_seed{s.seed}.csv",
    )


# ---------------------------------------------------------------- page


def publish_url() -> None:
    state.publish(state.EXPLORER_PARAMS)
    if st.session_state.get(state.SAMPLE_CHOSEN):
        state.publish([state.SAMPLE_PARAM])
    else:
        state.forget(state.SAMPLE_PARAM)


def render() -> None:
    st.title("SSNR Explorer")
    st.caption(
        "Does a zero-cost proxy track accuracy? Score a sample of a NAS benchmark, "
        "then compare the saliency sum, overall SSNR and layer-wise SSNR."
    )
    config = loaders.settings()
    state.restore([*state.EXPLORER_PARAMS, state.SAMPLE_PARAM])
    st.sidebar.header("Setup")
    choice = widgets.setup_inputs()
    display = display_inputs()
    if choice.setup is None:
        st.error(choice.problem)
        return
    truth = ground_truth(choice.setup, config)
    view = make_view(choice.setup, truth, display, config) if truth else None
    publish_url()
    if view is not None:
        results(view, config)
    panels.about_metrics()


render()
