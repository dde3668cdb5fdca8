"""The Explorer's research section: params and FLOPs as baseline scores, paired
verdicts, NASLib's stored proxies, and several init seeds.

Everything shown comes from `evaluation.run(..., compute=False)` on what the caches
hold; counting params/FLOPs and scoring more seeds are explicit buttons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from ssnr_app import loaders, panels, state
from ssnr_app.text import plain
from ssnr_core.proxies import Setup, aggregation
from ssnr_core.proxies.setup import MAX_SEED, check_seed
from ssnr_core.runs import Settings, jobs
from ssnr_core.studies import Evaluation, baselines, naslib

SCORES = (*aggregation.AGGREGATIONS, *baselines.NAMES)
COLUMNS = ["n", "spearman", "spearman_lo", "spearman_hi", "kendall", "kendall_lo", "kendall_hi"]
MAX_SEEDS = 5
FLOPS_S = 0.15  # seconds to count one architecture's FLOPs (a forward pass)


def parse_seeds(text: str) -> tuple[int, ...]:
    """ "0,1,2" -> (0, 1, 2); ValueError for anything else, or more than MAX_SEEDS."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    seeds = tuple(dict.fromkeys(check_seed(int(p)) for p in parts))  # bounded as --seeds
    if not seeds or len(seeds) > MAX_SEEDS:
        raise ValueError(text)
    return seeds


def seeds_input(setup: Setup) -> tuple[int, ...] | None:
    """The init seeds (mirrored in the URL); None after saying why the text is unusable."""
    st.session_state.setdefault(state.SEEDS, "")
    text = st.text_input(
        f"Init seeds (1 to {MAX_SEEDS}, comma-separated; empty: the page's seed)",
        key=state.SEEDS,
        placeholder=str(setup.seed),
        help="Score the same architectures with several weight-init seeds: the table "
        "shows each seed's correlations, their mean ± sd, and the correlation of the "
        "seed-averaged score (mean of per-seed ranks).",
    )
    if not str(text).strip():
        return (setup.seed,)
    try:
        return parse_seeds(str(text))
    except ValueError:
        st.error(
            f"Init seeds must be 1 to {MAX_SEEDS} integers in 0..{MAX_SEED:,} separated by commas "
            f"(e.g. 0,1,2); got {text!r}."
        )
        return None


def _count(setup: Setup, missing: Sequence[str], settings: Settings) -> bool:
    """Count params and FLOPs of the missing archs into baselines.sqlite (what was counted
    before a failure stays); False after saying why it failed."""
    bar = st.progress(0.0, text=f"Counting params and FLOPs of {len(missing):,} architectures…")

    def progress(done: int, total: int) -> None:
        bar.progress(done / total, text=f"Counted {done:,} of {total:,} architectures")

    try:
        baselines.table(
            setup.space, setup.task, missing, baselines.cache_for(settings.cache_file), progress
        )
    except (*loaders.READ_ERRORS, RuntimeError) as exc:
        st.error(f"Could not count params and FLOPs: {exc}")
        return False
    return True


def counting(setup: Setup, scored: Sequence[str], settings: Settings) -> None:
    """Say which archs lack params/FLOPs, with a button that counts them."""
    try:
        missing = loaders.uncounted(setup.space, setup.task, scored, settings)
    except loaders.READ_ERRORS as exc:
        panels.read_error(exc)
        return
    if not missing:
        return
    st.caption(
        f"params and FLOPs of {len(missing):,} of {len(scored):,} scored architectures are "
        "not counted yet: their baseline rows use only the counted ones."
    )
    clicked = st.button(
        f"Count params and FLOPs of {len(missing):,} architectures "
        f"(about {panels.fmt_duration(len(missing) * FLOPS_S)})",
        key="count_baselines",
    )
    if clicked and _count(setup, missing, settings):
        st.rerun()


def summary_table(result: Evaluation) -> pd.DataFrame:
    """One row per score with a value (aggregations, then params and FLOPs): n, ρ and τ
    with 95% CIs. A score with no value at all (baselines not counted) is left out: the
    caption says so, instead of a row of empty cells."""
    table = result.table()
    rows = [s for s in SCORES if s in table.index and table.loc[s, "n"] > 0]
    return table.loc[rows, COLUMNS]


def missing_verdict(result: Evaluation, pair: str) -> str | None:
    """Why a paired verdict has no number (instead of printing nan), or None."""
    a, b = pair.split("-", 1)
    uncounted = [k for k in (a, b) if k in result.summaries and result.summaries[k].n == 0]
    if uncounted:
        return (
            f"{' and '.join(uncounted)} not counted for these architectures: count them "
            "above to compare"
        )
    n = min((result.summaries[k].n for k in (a, b) if k in result.summaries), default=0)
    if n < 3:
        return f"only {n} architecture(s) with both scores: a correlation needs at least 3"
    return None


def verdicts(result: Evaluation) -> None:
    """The paired-bootstrap differences as plain sentences; where there is none, why."""
    st.markdown("**Paired bootstrap: layer-wise SSNR against the others**")
    for stat in ("kendall", "spearman"):
        for pair, sentence in result.verdicts(stat).items():
            delta = result.paired[pair][stat][0]
            why = None if np.isfinite(delta) else missing_verdict(result, pair)
            if why is not None or not np.isfinite(delta):
                a, b = pair.split("-", 1)
                label = aggregation.LABELS.get(a, a), aggregation.LABELS.get(b, b)
                st.markdown(f"{label[0]} vs {label[1]}: no verdict ({why or 'no finite scores'}).")
            else:
                st.markdown(sentence)
    st.caption(
        "Δ is the difference of the two scores' correlation with the ground truth on the "
        "same bootstrap resamples, with its 95% interval; an interval containing 0 is no "
        "significant difference."
    )


def seed_tables(result: Evaluation) -> None:
    """Per-seed Kendall and Spearman, their mean ± sd, and the seed-averaged score's."""
    for stat, label in (("kendall", "Kendall τ"), ("spearman", "Spearman ρ")):
        rows = {
            f"seed {s}": {k: getattr(run[k], stat) for k in SCORES if k in run}
            for s, run in zip(result.seeds, result.per_seed, strict=True)
        }
        mean, sd = result.seed_stats(stat)
        rows["mean"] = {k: mean[k] for k in SCORES if k in mean}
        rows["sd"] = {k: sd[k] for k in SCORES if k in sd}
        rows["seed-averaged score"] = {
            k: getattr(result.summaries[k], stat) for k in SCORES if k in result.summaries
        }
        st.markdown(f"**{label} per init seed**")
        st.dataframe(pd.DataFrame.from_dict(rows, orient="index"), key=f"seeds_{stat}")
    st.caption(
        "sd: sample standard deviation over seeds (0 for params and FLOPs, which ignore the "
        "weights). Seed-averaged score: the mean of each seed's ranks, then correlated."
    )


def seed_jobs(view_job: jobs.Job, archs: loaders.Archs, seeds: Sequence[int]) -> None:
    """One background job per seed (other than the page's own) that lacks archs."""
    setup, settings = view_job.setup, view_job.settings
    extra = [s for s in seeds if s != setup.seed]
    if not extra:
        return
    try:
        listed = jobs.write_archs(archs, settings)
    except OSError as exc:
        st.error(f"Cannot prepare the seeds' jobs: {exc}")
        return
    for s in extra:
        job = jobs.Job(replace(setup, seed=s), settings, archs_file=listed, device=view_job.device)
        panels.live_job(job, archs, f"init seed {s}")


def naslib_tables(result: Evaluation, saliency: str) -> None:
    """NASLib's stored proxies on the same archs (read-only), and our agreement with its
    same-named proxy."""
    if not result.naslib:
        return
    st.markdown("**NASLib's stored proxies on the same architectures**")
    rows = {
        p: {"n": s.n, "spearman": s.spearman, "kendall": s.kendall}
        for p, s in result.naslib.items()
    }
    st.dataframe(pd.DataFrame.from_dict(rows, orient="index"), key="naslib_proxies")
    best = naslib.best(result.naslib)
    st.caption(
        "Read from NASLib's NAS-Bench-Suite-Zero file, not recomputed"
        + (f"; best zero-cost proxy by Kendall τ: {best}." if best else ".")
    )
    agree = {
        aggregation.LABELS[a]: {"spearman with NASLib": rho, "n": n}
        for a, (rho, n) in result.agreement.items()
    }
    st.dataframe(pd.DataFrame.from_dict(agree, orient="index"), key="naslib_agreement")
    st.caption(f"Spearman of our scores with NASLib's stored `{saliency}` on the common archs.")


def section(
    job: jobs.Job,
    archs: loaders.Archs,
    scored: Sequence[str],
    truth: pd.Series,
    truth_label: str,
    from_naslib: bool,
    n_boot: int,
) -> None:
    """The research section under the Explorer's results, behind a toggle: its paired
    bootstraps cost seconds on a large sample, and the results above must come at once.
    On when a shared link names seeds."""
    setup, settings = job.setup, job.settings
    shown = st.toggle(
        "Research: size baselines, paired verdicts, init seeds",
        key="research",
        value=bool(st.query_params.get("seeds")),
        help="params and FLOPs beside the aggregations, paired bootstrap verdicts, several "
        "init seeds, and NASLib's stored proxies when the ground truth is NASLib's sample.",
    )
    if not shown:
        return
    with st.container(border=True):
        seeds = seeds_input(setup)
        if seeds is None:
            return
        seed_jobs(job, archs, seeds)
        try:
            result = loaders.research(setup, archs, truth, truth_label, seeds, n_boot, settings)
        except loaders.READ_ERRORS as exc:
            panels.read_error(exc)
            return
        counting(setup, scored, settings)
        if not result.n:
            st.info("No architecture of this sample is scored for every chosen seed yet.")
            return
        st.markdown("**Scores and size baselines**")
        shown_scores = summary_table(result)
        st.dataframe(shown_scores, key="research_scores")
        absent = [s for s in SCORES if s in result.summaries and s not in shown_scores.index]
        if absent:
            st.caption(
                f"Not shown: {', '.join(absent)}, not counted for these architectures yet "
                "(count them above)."
            )
        provenance = loaders.Provenance.of(setup, result.n, truth_label)
        st.caption(
            f"{provenance.text()} · init seeds {', '.join(map(str, result.seeds))} · 95% "
            f"intervals: {n_boot:,} bootstrap resamples. params: Conv/Linear/BatchNorm "
            "parameters (millions); flops: MACs of Conv/Linear for one input (millions)."
        )
        verdicts(result)
        if len(result.seeds) > 1:
            seed_tables(result)
        if from_naslib:
            naslib_tables(result, setup.saliency)
        else:
            st.caption(
                f"NASLib's stored proxies are compared when the ground truth is "
                f"{plain('NASLib NAS-Bench-Suite-Zero sample')} (the only archs they exist for)."
            )
