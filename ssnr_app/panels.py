"""Page sections shared by the pages: metric cards, live job progress, the running-jobs
indicator, error panels, downloads and the metric explanations.

Live parts are `st.fragment`s with `run_every`: they re-read the cache and redraw
themselves while a job runs, not the whole page.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ssnr_app import loaders, state
from ssnr_app.charts import axes
from ssnr_core.proxies import Setup, aggregation
from ssnr_core.runs import Settings, jobs, timings
from ssnr_core.studies import Summary

LIVE_S = 1.0  # how often a live part redraws while a job runs
INDICATOR_S = 2.0
QUEUED_S = 3.0  # how often a view whose job waits in the queue redraws
WATCH_S = 3.0  # how often an idle view looks for a job of its setup started elsewhere
RATE_WINDOW_S = 20.0  # the rate is measured over this much recent progress
METRICS = {"spearman": "Spearman ρ", "kendall": "Kendall τ", "top10": "top-10% precision"}
# Cards: values are never cut to "6.…": a card is as wide as its value needs (at least
# 150 px; `card_row`) and wraps to the next line of the row instead. On a phone, values
# shrink to fit two cards side by side.
CARD_CSS = """
<style>
[data-testid="stMetricValue"] > div { overflow: visible; text-overflow: clip; }
[data-testid="stMetric"] { min-width: 150px; }
@media (max-width: 640px) { [data-testid="stMetricValue"] { font-size: 1.45rem; } }
</style>
"""
# Presentation: large type, no sidebar or toolbar, little padding above the page, so a
# step's figure sits above the fold at 1280x720.
PRESENTATION_CSS = """
<style>
html, .stMarkdown p, .stMarkdown li, [data-testid="stCaptionContainer"] { font-size: 1.3rem; }
h1 { font-size: 2.6rem !important; padding-top: 0 !important; }
h2, h3 { font-size: 2.0rem !important; padding-top: 0.2rem !important; }
[data-testid="stMetricValue"] { font-size: 2.0rem; }
[data-testid="stMetricLabel"] p { font-size: 1.2rem; }
.block-container, [data-testid="stMainBlockContainer"] { padding-top: 1rem !important; }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stToolbar"], [data-testid="stDecoration"], [data-testid="stHeader"] {
  display: none;
}
</style>
"""
IMAGE_FORMATS = ("png", "svg")


# ---------------------------------------------------------------- formatting


def fmt(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
SMALL_N = 100  # below this many architectures a headline correlation carries a warning


def sci(x: float | None, digits: int = 3) -> str:
    """A number for reading: 6.08 × 10⁴⁷ for very large or small magnitudes, else plain
    (1,234.6; 0.0123), `digits` significant digits; never an "e+47" to decode."""
    if x is None or not math.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    exponent = math.floor(math.log10(abs(x)))
    if -3 <= exponent < 6:
        decimals = max(0, digits - 1 - exponent)
        return f"{x:,.{decimals}f}"
    mantissa = x / 10.0**exponent
    if round(abs(mantissa), digits - 1) >= 10:  # 9.996 rounds up a decade
        mantissa, exponent = mantissa / 10, exponent + 1
    return f"{mantissa:.{digits - 1}f} × 10{str(exponent).translate(SUPERSCRIPT)}"


def fmt_range(ci: tuple[float, float]) -> str:
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]"


def fmt_ci(ci: tuple[float, float]) -> str:
    return f"95% CI {fmt_range(ci)}"


def fmt_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def narrow_screens() -> None:
    """Cards that never truncate, compact on a phone (every page)."""
    st.markdown(CARD_CSS, unsafe_allow_html=True)


def presentation_switch() -> bool:
    """Presentation mode, on every page (in the URL as `present=1`): large type and
    figures, no sidebar. The toggle sits on the page, the sidebar being hidden then."""
    state.restore([state.PRESENT_PARAM])
    st.session_state.setdefault(state.PRESENT, False)
    on = st.toggle(
        "Presentation mode",
        key=state.PRESENT,
        help="Large type and figures for a projector (1280x720); hides the sidebar (the "
        "setup stays as chosen, and in the URL).",
    )
    state.publish([state.PRESENT_PARAM])
    if on:
        st.markdown(PRESENTATION_CSS, unsafe_allow_html=True)
    return bool(on)


def presenting() -> bool:
    return bool(st.session_state.get(state.PRESENT))


def intro(title: str, caption: str) -> None:
    """A page's title and what it is for; left out on a projector, where the page's
    figure comes first (above the fold at 1280x720)."""
    if presenting():
        return
    st.title(title)
    st.caption(caption)


def image_format() -> str:
    """What the camera icon of every figure saves (chosen in the sidebar)."""
    return str(st.session_state.get(state.IMAGE_FORMAT) or IMAGE_FORMATS[0])


def image_format_choice() -> None:
    st.sidebar.radio(
        "Figures save as",
        IMAGE_FORMATS,
        key=state.IMAGE_FORMAT,
        horizontal=True,
        format_func=str.upper,
        help="What the camera icon above each figure downloads (its title included).",
    )


def chart(fig: go.Figure, key: str, container: object = st, static: bool = False, **kw: object):
    """`st.plotly_chart` with the app's config (the chosen image format) and, in
    presentation mode, large type on a copy (a figure may be shared by the memo)."""
    if presenting():
        fig = axes.presented(fig)
    config = {
        "displaylogo": False,
        "toImageButtonOptions": {"format": image_format(), "scale": 2},
        **({"staticPlot": True} if static else {}),
    }
    return container.plotly_chart(fig, key=key, config=config, **kw)  # type: ignore[attr-defined]


def chart_row(fig: go.Figure, key: str, container: object = st) -> None:
    """A figure of panels side by side (`make_subplots`, one row) as one figure per
    column (`axes.split`): side by side on a wide screen, stacked on a phone, where
    Streamlit stacks columns, each panel titled; any other figure as `chart` draws it."""
    parts = axes.split(fig)
    if len(parts) == 1:
        chart(fig, key, container)
        return
    cols = container.columns(len(parts), gap="small")  # type: ignore[attr-defined]
    for i, (col, part) in enumerate(zip(cols, parts)):
        chart(part, key=f"{key}_{i}", container=col)


# ---------------------------------------------------------------- cards, captions


def metric_cards(
    summary: Summary | None, n_boot: int, provenance: loaders.Provenance, prefix: str = ""
) -> None:
    """Spearman and Kendall with intervals, top-10% precision and n as cards, and what
    they were computed on; `summary=None` (nothing scored yet) shows placeholders."""
    cards = (
        ("spearman", "rank correlation of score and accuracy"),
        ("kendall", "Kendall's tau-b: share of concordant minus discordant pairs"),
        ("top10", "share of the top 10% by score that is in the top 10% by accuracy"),
    )
    values = (
        {"spearman": None, "kendall": None, "top10": None}
        if summary is None
        else {
            "spearman": summary.spearman,
            "kendall": summary.kendall,
            "top10": summary.top10_precision,
        }
    )
    intervals = (
        {}
        if summary is None
        else {
            "spearman": summary.spearman_ci95,
            "kendall": summary.kendall_ci95,
        }
    )
    cols = card_row(4)
    for col, (key, why) in zip(cols, cards):
        col.metric(f"{prefix}{METRICS[key]}", fmt(values[key]), border=True, help=why)
        if key in intervals:
            col.caption(fmt_ci(intervals[key]))
    cols[3].metric(f"{prefix}architectures", f"{summary.n if summary else 0:,}", border=True)
    if summary is not None:
        small_n(summary.n)
    if summary is None:
        cols[3].caption("waiting for the first scores")
    elif summary.dropped:
        cols[3].caption(f"{summary.dropped:,} dropped (NaN/inf score)")
    else:
        cols[3].caption(f"bootstrap: {n_boot:,} resamples")
    st.caption(provenance.text())


def small_n(n: int) -> None:
    """The warning a headline correlation on few architectures carries."""
    if 0 < n < SMALL_N:
        st.warning(
            f"Only n = {n:,} architectures: a rank correlation this small moves a lot from "
            "sample to sample (see the interval); read it as a first look, not a result.",
            icon=":material/warning:",
        )


def figure2_cards(
    summaries: dict[str, Summary], n_boot: int, provenance: loaders.Provenance
) -> None:
    """Figure 2's headline: Spearman of each aggregation, one card each, named by it,
    with Kendall and both intervals under it, and n."""
    from_core = [(a, summaries[a]) for a in aggregation.AGGREGATIONS if a in summaries]
    cols = card_row(len(from_core) + 1)
    for col, (agg, found) in zip(cols, from_core):
        col.metric(
            f"Spearman ρ · {aggregation.label(agg)}",
            fmt(found.spearman),
            border=True,
            help=f"rank correlation of {aggregation.label(agg)} and accuracy",
        )
        col.caption(
            f"{fmt_ci(found.spearman_ci95)}  \nKendall τ {fmt(found.kendall)} "
            f"{fmt_range(found.kendall_ci95)}"
        )
    n = max((found.n for _, found in from_core), default=0)
    cols[-1].metric("architectures", f"{n:,}", border=True)
    cols[-1].caption(f"bootstrap: {n_boot:,} resamples")
    small_n(n)
    st.caption(provenance.text())


def card_row(n: int) -> list:
    """n card slots in a row that wraps: side by side on a wide screen, two by two on a
    phone (390 px) rather than one tall column."""
    row = st.container(horizontal=True, gap="small")
    return [row.container(width="content") for _ in range(n)]


def download_csv(
    label: str,
    table: pd.DataFrame,
    file_name: str,
    key: str | None = None,
    about: dict[str, object] | None = None,
) -> None:
    """A CSV download of `table` that does not rerun the page when clicked: numbers at 7
    significant digits, and `about` (what it was computed on, the command that
    reproduces it) as `# key: value` lines above the header."""

    st.download_button(
        label,
        lambda: csv_bytes(table, about),  # built on click, not on every rerun
        file_name=file_name,
        mime="text/csv",
        on_click="ignore",
        key=key,
    )


def csv_bytes(table: pd.DataFrame, about: dict[str, object] | None = None) -> bytes:
    """`table` as CSV, numbers at 7 significant digits, below `# key: value` lines."""
    head = "".join(f"# {k}: {v}\n" for k, v in (about or {}).items())
    return (head + table.to_csv(index=False, float_format="%.7g")).encode()


def read_error(exc: Exception) -> None:
    """A damaged ground-truth file or an unreadable cache: what and how to fix it."""
    st.error(str(exc))
    st.caption(
        "Ground truth is bundled with the package; a copy in the data folder is read "
        "instead when present. Delete or re-download a damaged copy "
        "(`python -m ssnr_core fetch`); a damaged cache file can be deleted (it is "
        "rebuilt by scoring)."
    )


# ---------------------------------------------------------------- live jobs


@dataclass(frozen=True)
class Progress:
    """A job's progress as the user sees it: count, rate and time left."""

    done: int
    total: int
    rate: float | None  # architectures per second over the recent window; None: measuring
    elapsed: float

    @property
    def eta(self) -> float | None:
        if not self.rate:
            return None
        return (self.total - self.done) / self.rate

    def text(self) -> str:
        parts = [f"{self.done:,} of {self.total:,} scored"]
        if self.rate:
            parts.append(f"{self.rate:.1f} archs/s")
            parts.append(f"about {fmt_duration(self.eta or 0)} left")
        else:
            parts.append("measuring the rate…")
        parts.append(f"running {fmt_duration(self.elapsed)}")
        return " · ".join(parts)


def progress_of(job: jobs.Job, status: jobs.JobStatus) -> Progress:
    """Add this observation to the job's recent history and measure the rate over it."""
    now = time.time()
    history = st.session_state.setdefault(state.RATES, {}).setdefault(job.key, [])
    history.append((now, status.done))
    history[:] = [(t, d) for t, d in history if now - t <= RATE_WINDOW_S]
    (t0, d0), (t1, d1) = history[0], history[-1]
    rate = (d1 - d0) / (t1 - t0) if t1 - t0 >= 2 and d1 > d0 else None
    return Progress(status.done, status.total, rate, now - (status.started or now))


def _note(job: jobs.Job, text: str, error: bool = False) -> None:
    """A message for the job's panel to show on its next run. Button callbacks draw
    nothing themselves: a callback of a button inside a fragment that draws replaces
    elements at the top of the page (Streamlit warns) instead of updating the panel."""
    st.session_state.setdefault(state.JOB_NOTES, {})[job.key] = (text, error)


def _show_note(job: jobs.Job) -> None:
    text, error = st.session_state.get(state.JOB_NOTES, {}).pop(job.key, (None, False))
    if text:
        (st.error if error else st.caption)(text)


def _start(job: jobs.Job, archs: Sequence[str], label: str) -> None:
    """Button callback: ask for the job (it starts now, or queues behind running jobs)."""
    try:
        status = jobs.start(job, archs)
    except OSError as exc:
        _note(job, f"Could not start scoring: {exc}", error=True)
        return
    missing = status.total - status.done
    if status.queued:
        _note(job, f"{label}: {missing:,} architectures queued (number {status.position}).")
    else:
        _note(job, f"Scoring {missing:,} architectures of {label} in the background…")


def _stop(job: jobs.Job, archs: Sequence[str]) -> None:
    try:
        jobs.stop(job, archs)
    except OSError as exc:
        _note(job, f"Could not stop the job: {exc}", error=True)
        return
    _note(job, "Stopped; what was scored stays cached.")


def queued_text(label: str, status: jobs.JobStatus, settings: Settings) -> str:
    return (
        f"{label}: queued, number {status.position} in line. This server runs at most "
        f"{settings.max_jobs} scoring job(s) at a time (SSNR_MAX_JOBS); this one starts "
        "by itself when its turn comes, and what is cached is shown meanwhile."
    )


def job_panel(job: jobs.Job, archs: Sequence[str], label: str, status: jobs.JobStatus) -> None:
    """Live progress (count, rate, time left, Stop) while the job runs; its place in the
    queue while it waits; else its error, if any, and a Compute button for what the
    cache lacks."""
    _show_note(job)
    if status.running:
        progress = progress_of(job, status)
        st.progress(status.fraction, text=f"{label}: {progress.text()}")
        st.button("Stop", key=f"stop_{job.key}", on_click=_stop, args=(job, archs))
        return
    if status.queued:
        st.info(queued_text(label, status, job.settings), icon=":material/schedule:")
        st.button("Leave the queue", key=f"stop_{job.key}", on_click=_stop, args=(job, archs))
        return
    if status.error:
        st.error(f"{label}: {status.error}")
        if status.log_tail:
            st.code(status.log_tail, language=None)
    missing = status.total - status.done
    if missing > 0:
        found = loaders.estimate(job.setup, missing, job.device, job.settings)
        st.caption(estimate_text(found, job.setup, job.device))
        st.button(
            f"Compute {missing:,} missing of {status.total:,} ({label})",
            key=f"start_{job.key}",
            type="primary",
            on_click=_start,
            args=(job, archs, label),
        )


HEAVY_S = 60.0  # an expected time over this (or unknown) makes a click heavy


def estimate_text(found: timings.Estimate, setup: Setup, device: str) -> str:
    """The expected time of a Compute click, from the rates measured on this machine;
    "not yet measured here" and how to measure it when nothing was recorded."""
    what = f"{setup.space}/{setup.task} {setup.saliency} on {device}"
    how = f"{found.passes} recorded run{'s' if found.passes != 1 else ''}, " + (
        f"{found.measured_archs:,} architectures"
    )
    if found.seconds is not None and found.same_task:
        return (
            f"Expected: about {fmt_duration(found.seconds)} for {found.archs:,} "
            f"architectures at {sci(found.rate)} archs/s, the rate measured here ({how} of "
            f"{what}), plus the job's start-up."
        )
    hint = (
        f" A hint: {found.task} of the same space ran at {sci(found.rate)} archs/s here "
        f"({how}), about {fmt_duration(found.seconds)} for these; inputs differ by task."
        if found.seconds is not None
        else ""
    )
    return (
        f"Expected time: not yet measured here for {what}.{hint} The bar shows the rate "
        "after the first architectures, and Stop keeps what is scored; "
        f"`python perf/bench_spaces.py --tasks {setup.space}/{setup.task}` measures it "
        "without the cache."
    )


def is_default_job(job: jobs.Job, sample: int) -> bool:
    """Whether `job` is what a fresh session's default view shows (NB201 CIFAR-10 synflow,
    seed 0, the default ground truth, the first sample): the only job a first view
    starts unasked. A link with other parameters shows what is cached and a Compute
    button, so a class opening many different links starts no work by itself."""
    default = Setup.resolved("nb201", "cifar10", "synflow", 0, "auto", job.settings.data_dir)
    return (job.setup, job.sample, job.truth, job.archs_file) == (default, sample, None, None)


def job_status(job: jobs.Job, archs: Sequence[str]) -> jobs.JobStatus | None:
    """The job's status, or None after showing why it cannot be read."""
    try:
        return jobs.status(job, archs)
    except loaders.READ_ERRORS as exc:
        st.error(f"Cannot read the job's progress: {exc}")
        return None


def poll_s(status: jobs.JobStatus | None) -> float:
    """How often a live part redraws: every second while its job runs, less often while
    it waits in the queue (twenty waiting sessions need not redraw twenty times a second)."""
    return QUEUED_S if status is not None and status.queued and not status.running else LIVE_S


def live(
    body: Callable[[], None],
    active: bool,
    now_active: Callable[[], bool] | None = None,
    every: float = LIVE_S,
) -> None:
    """Run `body` as a fragment that redraws itself every `every` seconds (see `poll_s`)
    while a job of the view is active. `now_active` says whether one is active now: when
    that changes (a Compute click inside the fragment, a job started in another tab or
    admitted from the queue, its end) the whole page reruns once, so that polling starts
    or stops and complete results show. While none is active, a small watcher fragment
    asks every `WATCH_S`, so the view goes live however its job was started."""

    def tick() -> None:
        if now_active is not None and now_active() != active:
            st.rerun()
        body()

    st.fragment(tick, run_every=every if active else None)()
    if active or now_active is None:
        return

    def watch() -> None:
        if now_active():
            st.rerun()

    st.fragment(watch, run_every=WATCH_S)()


def setup_running(setup: Setup, settings: Settings) -> bool:
    """Whether any app job of this setup runs or waits in the queue now (its results
    change this setup's view)."""
    return any(r.job.setup == setup for r in running_jobs(settings))


# ---------------------------------------------------------------- jobs indicator


@dataclass(frozen=True)
class RunningJob:
    job: jobs.Job
    total: int
    started: float
    queued: int = 0  # its place in the queue (1: next), 0 when it runs


def running_jobs(settings: Settings) -> list[RunningJob]:
    """The app's jobs running now, then those queued in order, rebuilt from their lock
    records (the key must match, so a record this version cannot rebuild is listed by
    nobody rather than wrongly)."""
    try:
        records = [*jobs.active(settings), *jobs.queue(settings)]
    except OSError:
        return []
    out: list[RunningJob] = []
    for info in records:
        cmd = info.get("command") or []
        archs_file = cmd[cmd.index("--archs") + 1] if "--archs" in cmd else None
        try:
            setup = Setup(**info["setup"])
        except (KeyError, TypeError):
            continue
        job = jobs.Job(setup, settings, info.get("sample"), info.get("truth"), archs_file)
        if job.key == info.get("key"):
            place = sum(r.queued > 0 for r in out) + 1 if info.get("queued") else 0
            total = int(info.get("total") or 0)
            out.append(RunningJob(job, total, info.get("started") or 0, place))
    return out


def jobs_indicator(settings: Settings) -> None:
    """A small "jobs running" box in the sidebar of every page, each job with a Stop
    button, queued ones with their place; it polls while jobs run or wait."""
    if not running_jobs(settings):
        return

    def indicator() -> None:
        now = running_jobs(settings)
        if not now:
            st.caption("No scoring job running.")
            return
        box = st.container(border=True)
        waiting = sum(r.queued > 0 for r in now)
        head = f"{len(now) - waiting} scoring job(s) running"
        head += f", {waiting} queued" if waiting else ""
        box.markdown(f":material/progress_activity: **{head}**")
        for r in now:
            s = r.job.setup
            when = (
                f"queued, number {r.queued}" if r.queued else fmt_duration(time.time() - r.started)
            )
            box.caption(
                f"{s.space}/{s.task} {s.saliency} · seed {s.seed} · {r.total:,} archs · {when}"
            )
            box.button(
                "Leave the queue" if r.queued else "Stop",
                key=f"indicator_stop_{r.job.key}",
                on_click=_stop,
                args=(r.job, ()),
                help="Stop this job; what it scored stays cached.",
                icon=":material/stop_circle:",
            )

    with st.sidebar:
        st.fragment(indicator, run_every=INDICATOR_S)()


# ---------------------------------------------------------------- explanations


def about_metrics() -> None:
    with st.expander("About the metrics"):
        st.markdown(
            "Each weight p of a Conv2d/Linear layer gets a saliency S_p (synflow, snip, "
            "grasp, grad_norm: one value per weight; fisher: one per output channel). "
            "With layer l holding n_l saliencies:"
        )
        st.latex(r"S_n = \sum_p S_p \qquad \text{(sum: the classic zero-cost score)}")
        st.latex(
            r"\mathrm{SSNR} = \frac{S_n}{\sigma},\quad "
            r"\sigma = \sqrt{\tfrac{1}{N}\sum_p (S_p - \bar S)^2}"
        )
        st.latex(
            r"\text{layer-wise SSNR} = \sum_l \frac{S_n^l}{\sigma^l},\quad "
            r"S_n^l = \sum_{p \in l} S_p,\ \sigma^l = \sqrt{\tfrac{1}{n_l}"
            r"\sum_{p\in l}(S_p-\bar S^l)^2}"
        )
        st.markdown(
            "- A layer with σ^l = 0 (e.g. a dead edge whose saliencies are all zero) adds 0; "
            "overall SSNR is 0 when σ = 0. A network with any NaN/inf statistic scores NaN "
            "and is dropped from the correlations (the count is shown).\n"
            "- **Spearman ρ**: Pearson correlation of the ranks (ties get average ranks). "
            "**Kendall τ-b**: (concordant − discordant pairs) / pairs, corrected for ties.\n"
            "- **95% CI**: percentile bootstrap over architectures (resampled pairs, seeded).\n"
            "- **top-10% precision**: |top 10% by score ∩ top 10% by accuracy| / (10% of n).\n"
            "- **Batch**: synflow needs no data (an all-ones input); snip, grasp, fisher and "
            "grad_norm see the labelled batch named under each figure."
        )


def live_job(job: jobs.Job, archs: loaders.Archs, label: str) -> None:
    """A job's live progress (or its place in the queue), or a Compute button for what
    the cache lacks; the page reruns when the job starts or ends, so that it polls while
    the job is active and what it scored is correlated at once."""
    status = job_status(job, archs)
    if status is None:
        return

    def active_now() -> bool:
        now = job_status(job, archs)
        return now is not None and (now.running or now.queued)

    def body() -> None:
        now = job_status(job, archs)
        if now is None:
            return
        job_panel(job, archs, label, now)
        if now.complete and not now.running:
            st.caption(f"All {now.total:,} architectures of this sample are cached.")

    live(body, status.running or status.queued, active_now, poll_s(status))
