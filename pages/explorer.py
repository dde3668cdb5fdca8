"""Explorer: a zero-cost score against benchmark accuracy, with live rank correlations.

Scores come from the cache (filled by a background job, see `ssnr_core.jobs`); an
aggregation change only re-reads cached correlations, no network is recomputed.
"""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st
import torch

from pages import common
from ssnr_core import aggregation, benchmarks, config, jobs, saliency, user_truth
from ssnr_core.cache import Cache, Setup
from ssnr_core.spaces import SPACES

UPLOAD = "upload"
BOOT_CHOICES = ("auto", 200, 1000, 2000)


@st.cache_data(show_spinner=False, max_entries=8)
def parse_upload(data: bytes, arch_col: str, value_col: str) -> user_truth.UserTruth:
    return user_truth.parse(data, arch_col, value_col)


def upload_section(benchmark: str) -> pd.Series | None:
    """The bring-your-own ground truth form; the parsed truth, or None."""
    with st.sidebar.expander("Your own ground truth (CSV)", expanded=False):
        if benchmark != "nb201":
            st.caption("Uploaded ground truth is for NAS-Bench-201 architectures.")
            return None
        st.caption(
            f"A header row, one architecture per row (cell string or benchmark index) and "
            f"a numeric column. At most {user_truth.MAX_ROWS:,} rows and "
            f"{user_truth.MAX_BYTES // 1_000_000} MB."
        )
        file = st.file_uploader("CSV file", type=["csv", "txt", "tsv"], key="upload")
        if file is None:
            return None
        data = file.getvalue()
        try:
            cols = user_truth.columns(data)
            guess_arch = next((c for c in cols if "arch" in c.lower()), cols[0])
            guess_val = next(
                (c for c in cols if "acc" in c.lower() and c != guess_arch),
                cols[min(1, len(cols) - 1)],
            )
            arch_col = common.choose(
                "Architecture column", cols, "k_up_arch", guess_arch, container=st
            )
            value_col = common.choose("Accuracy column", cols, "k_up_val", guess_val, container=st)
            parsed = parse_upload(data, arch_col, value_col)
        except ValueError as exc:
            st.error(f"{file.name}: {exc}")
            return None
        st.success(f"{len(parsed.values):,} architectures from {parsed.rows:,} rows")
        if parsed.errors:
            st.warning(f"{len(parsed.errors):,} rows skipped:")
            st.code("\n".join(parsed.errors[:50]), language=None)
        return parsed.values.rename(f"{value_col} ({file.name})")


def sidebar() -> dict:
    """All inputs, as plain values."""
    sb = st.sidebar
    sb.header("Setup")
    benchmark = common.choose(
        "Benchmark", list(SPACES), "k_bench", format_func=common.benchmark_label
    )
    task = common.choose("Task", common.tasks_of(benchmark), "k_task")
    sal = common.choose("Saliency", list(saliency.REGISTRY), "k_sal")
    agg = common.choose(
        "Aggregation",
        list(aggregation.AGGREGATIONS),
        "k_agg",
        kind="radio",
        format_func=aggregation.LABELS.get,
    )
    st.session_state.setdefault("k_log", True)
    log_x = sb.toggle(
        "Log-scale score axis",
        key="k_log",
        help="Sums span many decades; a log axis cannot show scores <= 0.",
    )
    uploaded = upload_section(benchmark)
    sources = list(benchmarks.get_task(benchmark, task).sources)
    if uploaded is not None:
        sources.append(UPLOAD)
    upload_label = f"uploaded: {uploaded.name}" if uploaded is not None else "uploaded"
    labels = {**benchmarks.SOURCE_LABELS, UPLOAD: upload_label}
    source = common.choose("Ground truth", sources, "k_source", format_func=labels.get)
    return {
        "benchmark": benchmark,
        "task": task,
        "saliency": sal,
        "agg": agg,
        "log_x": log_x,
        "uploaded": uploaded,
        "source": source,
    }


def compute_options(total: int) -> dict:
    sb = st.sidebar
    sb.header("Sample and compute")
    n = common.number(
        "Sample size",
        "k_n",
        min(100, total),
        1,
        total,
        help=f"Up to {total:,}: every architecture with ground truth.",
    )
    seed = common.number(
        "Init seed",
        "k_seed",
        0,
        0,
        2**31 - 1,
        help="Seeds the weights, the data batch and the sample.",
    )
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    device = common.choose("Device", devices, "k_device", help="GPU appears when PyTorch sees one.")
    workers = common.number("Worker processes", "k_workers", 1, 1, os.cpu_count() or 1)
    boot = common.choose(
        "Bootstrap resamples",
        BOOT_CHOICES,
        "k_boot",
        help="auto: 1000, fewer for large samples to answer in under a second.",
    )
    return {"n": n, "seed": seed, "device": device, "workers": workers, "boot": boot}


def render() -> None:
    st.title("SSNR Explorer")
    st.caption(
        "Does a zero-cost proxy track accuracy? Score a sample of a NAS benchmark, "
        "then compare the saliency sum, overall SSNR and layer-wise SSNR."
    )
    inputs = sidebar()
    benchmark, task, agg = inputs["benchmark"], inputs["task"], inputs["agg"]
    problem = common.space_problem(benchmark)
    if problem:
        st.error(problem)
        return
    data_dir = str(config.data_dir())
    try:
        if inputs["source"] == UPLOAD:
            truth = inputs["uploaded"]
        else:
            truth = common.get_truth(benchmark, task, inputs["source"], data_dir)
    except benchmarks.DataError as exc:
        common.data_missing_panel(exc, "explorer")
        return
    except (ValueError, OSError) as exc:
        st.error(str(exc))
        return
    opts = compute_options(len(truth))
    setup = Setup(benchmark, task, inputs["saliency"], opts["seed"])
    full = opts["n"] >= len(truth)
    try:
        if inputs["source"] == UPLOAD:
            archs = common.sample_from(truth, opts["n"], opts["seed"])
            job = jobs.Job(
                setup,
                archs_file=jobs.write_archs(archs),
                workers=opts["workers"],
                device=opts["device"],
            )
        else:
            archs = common.sample_archs(
                benchmark,
                task,
                None if full else opts["n"],
                opts["seed"],
                inputs["source"],
                data_dir,
            )
            default = benchmarks.get_task(benchmark, task).sources[0]
            job = jobs.Job(
                setup,
                None if full else opts["n"],  # same key as the CLI default
                None if inputs["source"] == default else inputs["source"],
                workers=opts["workers"],
                device=opts["device"],
            )
        table = common.cached_scores(setup, archs, str(Cache().path), common.cache_version(setup))
    except benchmarks.DataError as exc:
        common.data_missing_panel(exc, "explorer")
        return
    except common.READ_ERRORS as exc:
        st.error(str(exc))
        return

    st.markdown(
        f"**{common.benchmark_label(benchmark)} · {task} · {setup.saliency} · seed "
        f"{setup.seed}** — {len(table):,} of {len(archs):,} sampled architectures "
        f"scored; truth: {truth.name}"
    )
    common.job_panel(job, archs, f"{benchmark}/{task} {setup.saliency}")
    if table.empty:
        st.info(
            "No architecture of this sample is scored yet: compute them above, or in a "
            "terminal with `python -m ssnr_core score` (the app reads the same cache)."
        )
        common.about_metrics()
        return

    n_boot = common.n_boot_for(len(table)) if opts["boot"] == "auto" else int(opts["boot"])
    with st.spinner(f"Correlating {len(table):,} architectures…"):
        current = common.correlate_one(table[agg], truth, n_boot, setup.seed)
    st.subheader(f"{aggregation.LABELS[agg]} vs {truth.name}")
    common.metric_cards(current, n_boot)

    fig, hidden = common.scatter(table, truth, agg, inputs["log_x"], str(truth.name))
    event = st.plotly_chart(
        fig,
        key="scatter",
        on_select="rerun",
        selection_mode=("box", "lasso"),
        config=common.PLOT_CONFIG,
    )
    chosen = set(common.selected_archs(event))
    selection = [a for a in table.index if a in chosen]  # table order: a seeded bootstrap
    # resamples by position, so the same points give the same interval however picked
    if hidden:
        st.caption(
            f"{hidden:,} architectures with a NaN or (on the log axis) non-positive "
            "score are not drawn."
        )
    st.caption("Drag a box or lasso to correlate a subset; the camera icon saves a PNG.")

    if selection:
        st.subheader(f"Selection: {len(selection):,} architectures")
        sub = table.loc[selection]
        common.metric_cards(
            common.correlate_one(sub[agg], truth, common.n_boot_for(len(sub)), setup.seed),
            common.n_boot_for(len(sub)),
            prefix="selection ",
        )

    st.subheader("Inspect on the layer page")
    if selection:
        options = selection[:500]
    else:
        ranked = table[agg].sort_values(ascending=False, na_position="last").index
        options = list(dict.fromkeys([*ranked[:25], *ranked[-25:]]))
    arch = st.selectbox(
        "Architecture"
        + (" (from the selection)" if selection else " (the 25 highest and 25 lowest scored)"),
        options,
        key="inspect_arch",
        format_func=lambda a: f"{a}  ·  accuracy {truth.get(a, float('nan')):.2f}",
    )
    if st.button("Open on the layer page", key="open_layers"):
        common.request_layer_page(setup, [arch, *[a for a in options if a != arch][:499]])

    st.subheader("All aggregations on this sample")
    # Computed last, after the page is drawn: the other two aggregations' correlations are
    # then cached, and switching the aggregation is a lookup, not a bootstrap.
    summaries = {
        a: common.correlate_one(table[a], truth, n_boot, setup.seed)
        for a in aggregation.AGGREGATIONS
    }
    rows = [
        {
            "aggregation": aggregation.LABELS[a],
            "spearman": s["spearman"],
            "spearman 95% CI": common.fmt_range(s["spearman_ci95"]),
            "kendall": s["kendall"],
            "kendall 95% CI": common.fmt_range(s["kendall_ci95"]),
            "top-10% precision": s[common.TOP_K],
            "n": s["n"],
            "dropped": s["dropped"],
        }
        for a, s in summaries.items()
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    export = table.assign(accuracy=truth.reindex(table.index))
    common.download_csv(
        "Download scores and accuracy (CSV)",
        export.reset_index(),
        f"ssnr_{benchmark}_{task}_{setup.saliency}_seed{setup.seed}.csv",
    )
    common.about_metrics()


common.require_app()
render()
