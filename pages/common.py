"""Shared pieces of the app's pages: cached loaders over `ssnr_core`, formatting, panels.

No science here: every number comes from `ssnr_core`.
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ssnr_core import aggregation, benchmarks, config, evaluation, fetch, jobs
from ssnr_core.cache import Cache, Setup
from ssnr_core.spaces import SPACES, get_space

PLOT_CONFIG = {
    "displaylogo": False,
    "toImageButtonOptions": {"format": "png", "scale": 2},
}
# What reading benchmark data or the cache can raise (DataError is a ValueError): shown
# with st.error, never as a traceback.
READ_ERRORS = (ValueError, OSError, sqlite3.Error)
KEEP_PREFIX = "k_"  # widget keys whose values survive page switches (see keep_widget_state)
TOP_K = "top10%_precision"
METRIC_LABELS = {"spearman": "Spearman ρ", "kendall": "Kendall τ", TOP_K: "top-10% precision"}


class Archs(tuple):
    """A tuple of architecture strings carrying a digest, so that st.cache_data hashes
    15,625 names in microseconds (see `HASH_FUNCS`)."""

    digest: str

    def __new__(cls, items: Sequence[str]) -> Archs:
        obj = super().__new__(cls, items)
        obj.digest = hashlib.blake2b("\n".join(items).encode(), digest_size=16).hexdigest()
        return obj


HASH_FUNCS = {Archs: lambda a: a.digest}


APP_FLAG = "_ran_through_app"


def require_app() -> None:
    """A fresh server whose first request is a page's URL runs that page file bare
    (Streamlit's legacy `pages/` folder mode, until app.py has called st.navigation
    once); send such a request through app.py, so navigation and layout are right."""
    if not st.session_state.get(APP_FLAG):
        st.switch_page("app.py")


def keep_widget_state() -> None:
    """Streamlit forgets a widget's value when its page is not shown; re-assigning the
    key on every run (the documented work-around) keeps the user's settings per page."""
    for key in list(st.session_state):
        if isinstance(key, str) and key.startswith(KEEP_PREFIX):
            st.session_state[key] = st.session_state[key]


def choose(
    label: str,
    options: Sequence,
    key: str,
    default: object = None,
    kind: str = "selectbox",
    container: object = st.sidebar,
    **kw: object,
) -> object:
    """A selectbox/radio whose remembered value is reset when no longer an option (e.g. the
    task after a benchmark change); defaults go through Session State, not `index=`, so
    re-assigned keys never trigger Streamlit's "default and Session State" warning."""
    options = list(options)
    if st.session_state.get(key) not in options:
        st.session_state[key] = default if default in options else options[0]
    widget = container.radio if kind == "radio" else container.selectbox
    return widget(label, options, key=key, **kw)


def number(
    label: str,
    key: str,
    default: int,
    lo: int,
    hi: int,
    container: object = st.sidebar,
    **kw: object,
) -> int:
    """An integer input whose remembered value is clamped into [lo, hi] first."""
    value = st.session_state.get(key, default)
    st.session_state[key] = int(min(max(value, lo), hi))
    return int(container.number_input(label, min_value=lo, max_value=hi, step=1, key=key, **kw))


def request_layer_page(setup: Setup, archs: Sequence[str]) -> None:
    """Hand architectures and their setup to the layer page and go there."""
    st.session_state["layer_archs"] = list(archs)
    st.session_state["k_l_bench"] = setup.space
    st.session_state["k_l_task"] = setup.task
    st.session_state["k_l_sal"] = setup.saliency
    st.session_state["k_l_seed"] = setup.seed
    st.session_state["k_l_mode"] = FROM_EXPLORER
    st.session_state["k_l_arch_a"] = archs[0]
    st.switch_page("pages/layers.py")


FROM_EXPLORER = "from the explorer"


# ---------------------------------------------------------------- availability, data


def space_problem(benchmark: str) -> str | None:
    """None when the benchmark's search space imports, else a message for st.error.
    Any exception counts: a half-finished space module can raise anything at import."""
    try:
        get_space(benchmark)
    except Exception as exc:  # shown to the user instead of a traceback
        return (
            f"The {SPACES.get(benchmark, benchmark)} search space is not available in this "
            f"installation ({type(exc).__name__}: {exc}). Pick another benchmark."
        )
    return None


def benchmark_label(benchmark: str) -> str:
    return f"{SPACES.get(benchmark, benchmark)} ({benchmark})"


def tasks_of(benchmark: str) -> list[str]:
    return [t for b, t in benchmarks.TASKS if b == benchmark]


@st.cache_data(show_spinner=False, max_entries=16)
def get_truth(benchmark: str, task: str, source: str | None, data_dir: str) -> pd.Series:
    """Ground truth (data_dir is part of the cache key: changing the folder reloads)."""
    return benchmarks.truth(benchmark, task, source)


@st.cache_data(show_spinner=False, max_entries=16, hash_funcs=HASH_FUNCS)
def sample_archs(
    benchmark: str, task: str, n: int | None, seed: int, source: str | None, data_dir: str
) -> Archs:
    return Archs(evaluation.sample(benchmark, task, n, seed, source))


def sample_from(truth: pd.Series, n: int | None, seed: int) -> Archs:
    """`evaluation.sample`'s seeded draw, applied to an uploaded ground truth."""
    return Archs(evaluation.draw(truth.index.tolist(), n, seed))


def data_missing_panel(exc: Exception, key: str) -> None:
    """First run without benchmark data: what is missing, fetch it, or point to a folder."""
    st.error(str(exc))
    root = config.data_dir()
    missing = fetch.missing()
    if missing:
        st.markdown(f"Data folder: `{root}`. Missing: " + ", ".join(f"`{f.path}`" for f in missing))
    col_fetch, col_path = st.columns(2)
    with col_fetch:
        st.markdown("**Download** the public benchmark files (about 10 MB, checksummed).")
        if st.button("Fetch benchmark files", key=f"{key}_fetch", type="primary"):
            bar = st.progress(0.0, text="starting")
            todo = missing or list(fetch.FILES)
            try:
                for i, remote in enumerate(todo):
                    bar.progress(i / len(todo), text=f"fetching {remote.path}")
                    fetch.fetch_file(remote, root / remote.path)
                bar.progress(1.0, text="done")
                st.cache_data.clear()
                st.rerun()
            except (OSError, ValueError) as err:
                st.error(f"Fetch failed: {err}. Files already complete are kept; try again.")
    with col_path:
        st.markdown("**Or use a folder** that already has them (sets `SSNR_DATA_DIR`).")
        path = st.text_input("Data folder", value=str(root), key=f"{key}_path")
        if st.button("Use this folder", key=f"{key}_use"):
            if Path(path).expanduser().is_dir():
                os.environ["SSNR_DATA_DIR"] = path
                st.cache_data.clear()
                st.rerun()
            else:
                st.error(f"{path} is not a folder.")
    st.info("The Layer saliency and Pruning demo pages work without benchmark data.")


# ---------------------------------------------------------------- scores, correlations


def score_table(stats: dict[str, np.ndarray]) -> pd.DataFrame:
    """`evaluation.score_table` plus each network's number of scored values ("weights"),
    shown on hover; an empty frame when nothing is cached yet."""
    columns = [*aggregation.AGGREGATIONS, "weights"]
    if not stats:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="arch"), dtype=float)
    table = evaluation.score_table(stats)
    table["weights"] = aggregation.merge_all(list(stats.values()))[:, aggregation.COUNT]
    return table[columns]


@st.cache_data(show_spinner=False, max_entries=16, hash_funcs=HASH_FUNCS)
def cached_scores(setup: Setup, archs: Archs, cache_file: str, version: int) -> pd.DataFrame:
    """Scores of the sample's cached networks. `version` (the setup's row count) changes
    when a job adds rows, so new results show up; otherwise this is read once."""
    return score_table(Cache(cache_file).get(setup, archs))


def cache_version(setup: Setup) -> int:
    return Cache().count(setup)


def n_boot_for(n: int) -> int:
    """Bootstrap resamples for n architectures: 1000 up to 1,000 points, then fewer so
    one correlation summary stays about a second on two cores (cost grows with
    resamples x n log n); never under 100, which is what all 15,625 NB201 cells get
    (their 95% interval is a few thousandths wide anyway)."""
    return int(min(1000, max(100, 1_000_000 // max(n, 1))))


@st.cache_data(show_spinner=False, max_entries=64)
def correlate_one(scores: pd.Series, truth: pd.Series, n_boot: int, seed: int) -> dict:
    """`evaluation.correlate` for one aggregation (cached per aggregation and sample)."""
    name = str(scores.name)
    return evaluation.correlate(scores.to_frame(name), truth, n_boot, seed)[name]


def fmt(x: float, digits: int = 3) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def fmt_range(ci: tuple[float, float]) -> str:
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]"


def fmt_ci(ci: tuple[float, float]) -> str:
    return f"95% CI {fmt_range(ci)}"


def download_csv(label: str, table: pd.DataFrame, file_name: str, key: str | None = None) -> None:
    """A CSV download of `table` that does not rerun the page when clicked."""
    st.download_button(
        label,
        lambda: table.to_csv(index=False).encode(),  # built on click, not on every rerun
        file_name=file_name,
        mime="text/csv",
        on_click="ignore",
        key=key,
    )


def metric_cards(summary: dict, n_boot: int, prefix: str = "") -> None:
    """Spearman and Kendall with intervals, top-10% precision, and n as metric cards."""
    cols = st.columns(4)
    cards = (
        ("spearman", "rank correlation of score and accuracy"),
        ("kendall", "Kendall's tau-b: share of concordant minus discordant pairs"),
        (TOP_K, "share of the top 10% by score that is in the top 10% by accuracy"),
    )
    for col, (key, why) in zip(cols, cards):
        col.metric(f"{prefix}{METRIC_LABELS[key]}", fmt(summary[key]), border=True, help=why)
        if f"{key}_ci95" in summary:
            col.caption(fmt_ci(summary[f"{key}_ci95"]))
    cols[3].metric(f"{prefix}architectures", f"{summary['n']:,}", border=True)
    dropped = summary["dropped"]
    cols[3].caption(
        f"{dropped:,} dropped (NaN/inf score)" if dropped else f"bootstrap: {n_boot:,} resamples"
    )


# ---------------------------------------------------------------- scatter


def scatter(
    table: pd.DataFrame, truth: pd.Series, agg: str, log_x: bool, y_label: str
) -> tuple[go.Figure, int]:
    """WebGL scatter, one point per scored architecture; customdata carries the arch
    string (selection maps back through it), its weight count, and the score."""
    x = table[agg].to_numpy()
    y = truth.reindex(table.index).to_numpy()
    keep = np.isfinite(x) & np.isfinite(y) & ((x > 0) if log_x else True)
    archs = table.index.to_numpy()[keep]
    custom = np.column_stack([archs, table["weights"].to_numpy()[keep]])
    fig = go.Figure(
        go.Scattergl(
            x=x[keep],
            y=y[keep],
            mode="markers",
            customdata=custom,
            marker={"size": 6, "opacity": 0.7},
            hovertemplate=(
                "%{customdata[0]}<br>params (conv/linear weights scored): %{customdata[1]:,.0f}"
                "<br>accuracy: %{y:.2f}<br>score: %{x:.4g}<extra></extra>"
            ),
        )
    )
    fig.update_layout(
        xaxis_title=aggregation.LABELS[agg] + (" (log)" if log_x else ""),
        yaxis_title=y_label,
        height=520,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        dragmode="lasso",
    )
    if log_x:
        fig.update_xaxes(type="log")
    return fig, int((~keep).sum())


def selected_archs(event: object) -> list[str]:
    """Architectures of box/lasso-selected points, read from customdata (a point index
    would refer to a trace that changes with every redraw)."""
    try:
        points = event["selection"]["points"]  # type: ignore[index]
    except (KeyError, TypeError):
        return []
    return [p["customdata"][0] for p in points if p.get("customdata")]


# ---------------------------------------------------------------- background jobs


def job_panel(job: jobs.Job, archs: Sequence[str], label: str) -> jobs.JobStatus:
    """Start button, or live progress of the running job (polled in a fragment, so the
    rest of the page stays usable); the whole page reruns once the job ends."""
    try:
        state = jobs.status(job, archs)
    except READ_ERRORS as exc:
        st.error(f"Cannot read the job's progress: {exc}")
        return jobs.JobStatus(False, 0, len(archs), str(exc))
    if state.running:
        _progress_fragment(job, archs, label)
        return state
    if state.error:
        st.error(f"{label}: {state.error}")
        if state.log_tail:
            st.code(state.log_tail, language=None)
    missing = state.total - state.done
    if missing > 0:
        text = f"Compute {missing:,} missing of {state.total:,} ({label})"
        if st.button(text, key=f"start_{job.key}", type="primary"):
            try:
                jobs.start(job, archs)
            except OSError as exc:
                st.error(f"Could not start the scoring job: {exc}")
            else:
                st.rerun()
    return state


@st.fragment(run_every=1.5)
def _progress_fragment(job: jobs.Job, archs: Sequence[str], label: str) -> None:
    state = jobs.status(job, archs)
    if not state.running:
        st.rerun()  # the job ended: redraw the page with its results
    st.progress(state.fraction, text=f"{label}: {state.done:,} of {state.total:,} scored")
    if st.button("Stop", key=f"stop_{job.key}"):
        jobs.stop(job, archs)
        st.rerun()


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
            "- **top-10% precision**: |top 10% by score ∩ top 10% by accuracy| / (10% of n)."
        )
