"""Compare: every saliency x aggregation against every benchmark task, from the cache.

Each cell correlates all cached architectures of that setup that have ground truth
(the default source of the task). Nothing is scored here unless asked: missing cells
say so and can be computed in the background.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from pages import common
from ssnr_core import aggregation, benchmarks, config, evaluation, jobs, reproduce, saliency
from ssnr_core.cache import Cache, Setup

METRICS = {"kendall": "Kendall τ", "spearman": "Spearman ρ"}
NOT_COMPUTED = "not computed"


@st.cache_data(show_spinner=False, max_entries=32, hash_funcs=common.HASH_FUNCS)
def truth_archs(benchmark: str, task: str, data_dir: str) -> common.Archs:
    return common.Archs(common.get_truth(benchmark, task, None, data_dir).index.tolist())


def column_name(benchmark: str, task: str) -> str:
    return f"{benchmark}/{task}"


def collect(
    columns: list[tuple[str, str]], saliencies: list[str], seed: int
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Long table, one row per (column, saliency, aggregation); and per-column errors."""
    data_dir = str(config.data_dir())
    rows, problems = [], {}
    for bench, task in columns:
        col = column_name(bench, task)
        try:
            truth = common.get_truth(bench, task, None, data_dir)
            archs = truth_archs(bench, task, data_dir)
        except (ValueError, OSError) as exc:  # DataError included
            problems[col] = str(exc)
            continue
        for sal in saliencies:
            setup = Setup(bench, task, sal, seed)
            try:
                version = common.cache_version(setup)
                table = (
                    common.cached_scores(setup, archs, str(Cache().path), version)
                    if version
                    else pd.DataFrame()
                )
            except common.READ_ERRORS as exc:
                problems[col] = f"cannot read the cache: {exc}"
                table = pd.DataFrame()
            for agg in aggregation.AGGREGATIONS:
                row = {
                    "benchmark": bench,
                    "task": task,
                    "column": col,
                    "saliency": sal,
                    "aggregation": agg,
                    "seed": seed,
                    "n": 0,
                    "status": NOT_COMPUTED,
                }
                if not table.empty:
                    n_boot = common.n_boot_for(len(table))
                    s = common.correlate_one(table[agg], truth, n_boot, seed)
                    row.update(
                        {
                            "status": "ok",
                            "n": s["n"],
                            "dropped": s["dropped"],
                            "spearman": s["spearman"],
                            "spearman_lo": s["spearman_ci95"][0],
                            "spearman_hi": s["spearman_ci95"][1],
                            "kendall": s["kendall"],
                            "kendall_lo": s["kendall_ci95"][0],
                            "kendall_hi": s["kendall_ci95"][1],
                            common.TOP_K: s[common.TOP_K],
                            "n_boot": n_boot,
                        }
                    )
                rows.append(row)
    return pd.DataFrame(rows), problems


def grid(long: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(text grid with the best of each column starred, boolean mask of the best)."""
    long = long.assign(row=long["saliency"] + " · " + long["aggregation"].map(aggregation.LABELS))
    order = list(dict.fromkeys(long["row"]))
    cols = list(dict.fromkeys(long["column"]))
    text = pd.DataFrame(NOT_COMPUTED, index=order, columns=cols)
    best = pd.DataFrame(False, index=order, columns=cols)
    if metric in long:
        values = long.pivot(index="row", columns="column", values=metric).reindex(order)
        for col in cols:
            if col in values and values[col].notna().any():
                best.loc[values[col] == values[col].max(), col] = True
    for _, r in long.iterrows():
        if r["status"] != "ok":
            continue
        star = "★ " if best.loc[r["row"], r["column"]] else ""
        text.loc[r["row"], r["column"]] = (
            f"{star}{common.fmt(r[metric])} [{common.fmt(r[metric + '_lo'])}, "
            f"{common.fmt(r[metric + '_hi'])}]"
        )
    return text, best


def compute_missing(long: pd.DataFrame, seed: int) -> None:
    """Pick a missing cell (or extend one) and score a sample of it in the background."""
    st.subheader("Compute a cell")
    pairs = long[["benchmark", "task", "saliency", "status"]].drop_duplicates()
    if pairs.empty:
        return
    labels = {
        i: f"{r.benchmark}/{r.task} · {r.saliency}"
        + (" (not computed)" if r.status != "ok" else "")
        for i, r in pairs.iterrows()
    }
    missing_first = sorted(labels, key=lambda i: (pairs.loc[i, "status"] == "ok", i))
    pick = common.choose("Cell", missing_first, "k_c_pick", container=st, format_func=labels.get)
    r = pairs.loc[pick]
    data_dir = str(config.data_dir())
    total = len(truth_archs(r.benchmark, r.task, data_dir))
    n = common.number(
        "Sample size",
        "k_c_n",
        min(100, total),
        1,
        total,
        container=st,
        help=f"Up to {total:,}: the same seeded sample as the explorer's.",
    )
    full = n >= total
    setup = Setup(r.benchmark, r.task, r.saliency, seed)
    archs = common.sample_archs(r.benchmark, r.task, None if full else n, seed, None, data_dir)
    job = jobs.Job(setup, None if full else n)
    state = common.job_panel(job, archs, f"{r.benchmark}/{r.task} {r.saliency}")
    if state.complete and not state.running:
        st.caption(f"All {state.total:,} architectures of this sample are cached.")


@st.cache_data(show_spinner=False, max_entries=16)
def reference_table(sal: str, seed: int, versions: tuple[int, ...], data_dir: str) -> pd.DataFrame:
    """`reproduce`'s table from the cache alone (`versions` re-keys it as rows arrive)."""
    return reproduce.reproduce(sal, seed=seed, n_boot=200, compute=False)


def reference_section(seed: int) -> None:
    """The cross-benchmark Kendall table of `python -m ssnr_core reproduce`, beside the
    reference figures, on NASLib's samples and validation accuracies."""
    st.subheader("Reference table: Kendall τ on NASLib's samples")
    sal = common.choose("Saliency", list(saliency.REGISTRY), "k_c_ref_sal", container=st)
    columns = [(label, Setup(b, t, sal, seed)) for label, b, t, _ in reproduce.REFERENCE]
    try:
        versions = tuple(common.cache_version(setup) for _, setup in columns)
        table = reference_table(sal, seed, versions, str(config.data_dir()))
    except common.READ_ERRORS as exc:  # DataError included
        st.error(f"Cannot build the reference table: {exc}")
        return
    st.markdown(reproduce.to_markdown(table, sal))
    st.caption(
        "Same figures as `python -m ssnr_core reproduce`; the reference column is "
        "for synflow only. n counts the cached architectures of each NASLib sample."
    )
    common.download_csv(
        "Download the reference table (CSV)", table, f"reproduce_{sal}_seed{seed}.csv"
    )
    label = common.choose(
        "Compute the rest of a column", [c for c, _ in columns], "k_c_ref_col", container=st
    )
    setup = dict(columns)[label]
    try:
        archs = evaluation.sample(setup.space, setup.task, None, seed, "naslib")
    except common.READ_ERRORS as exc:
        st.error(str(exc))
        return
    common.job_panel(jobs.Job(setup, None, truth="naslib"), archs, f"{label} {sal}")


def render() -> None:
    st.title("Compare")
    st.caption(
        "Rank correlation of every saliency and aggregation with each task's ground "
        "truth, over the architectures in the cache. ★ marks the best of each column."
    )
    sb = st.sidebar
    sb.header("Grid")
    available = [key for key in benchmarks.TASKS if common.space_problem(key[0]) is None]
    unavailable = sorted({b for b, _ in benchmarks.TASKS} - {b for b, _ in available})
    default = [k for k in available if k[0] == "nb201"] or available[:3]
    st.session_state.setdefault("k_c_cols", default)
    st.session_state["k_c_cols"] = [k for k in st.session_state["k_c_cols"] if k in available]
    columns = sb.multiselect(
        "Benchmark / task", available, key="k_c_cols", format_func=lambda k: column_name(*k)
    )
    st.session_state.setdefault("k_c_sals", list(saliency.REGISTRY))
    sals = sb.multiselect("Saliencies", list(saliency.REGISTRY), key="k_c_sals")
    seed = common.number("Init seed", "k_c_seed", 0, 0, 2**31 - 1)
    metric = common.choose(
        "Mark the best by", list(METRICS), "k_c_metric", kind="radio", format_func=METRICS.get
    )
    for b in unavailable:
        st.warning(common.space_problem(b))
    grid_tab, reference_tab = st.tabs(["Grid", "Reference table"])
    with grid_tab:
        grid_section(columns, sals, seed, metric)
    with reference_tab:
        reference_section(seed)
    common.about_metrics()


def grid_section(columns: list[tuple[str, str]], sals: list[str], seed: int, metric: str) -> None:
    if not columns or not sals:
        st.info("Pick at least one benchmark/task and one saliency in the sidebar.")
        return
    with st.spinner("Correlating cached scores…"):
        long, problems = collect(columns, sals, seed)
    for col, message in problems.items():
        st.error(f"{col}: {message}")
    if long.empty:
        if problems:
            common.data_missing_panel(
                benchmarks.DataError(next(iter(problems.values()))), "compare"
            )
        return
    tabs = st.tabs([METRICS[metric], *[v for k, v in METRICS.items() if k != metric], "n"])
    for tab, m in zip(tabs, [metric, *[k for k in METRICS if k != metric]]):
        with tab:
            text, best = grid(long, m)
            css = best.replace({True: "font-weight: bold; background-color: #e8f4e8", False: ""})
            styled = text.style.apply(lambda _frame, css=css: css, axis=None)
            st.dataframe(styled)
            st.caption(
                "95% bootstrap intervals in brackets; "
                f"'{NOT_COMPUTED}': nothing cached for that setup yet."
            )
    with tabs[-1]:
        counts = long.drop_duplicates(["column", "saliency"]).pivot(
            index="saliency", columns="column", values="n"
        )
        st.dataframe(counts)
        st.caption("Architectures with ground truth and a finite score per cell.")
    common.download_csv("Download the grid (CSV)", long, f"ssnr_compare_seed{seed}.csv")
    compute_missing(long, seed)


common.require_app()
render()
