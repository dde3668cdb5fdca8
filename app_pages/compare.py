"""Compare: every saliency x aggregation against every benchmark task, from the cache.

Each cell correlates all cached architectures of that setup that have ground truth
(the task's default source). Nothing is scored here unless asked: missing cells say
so and can be computed in the background; while such a job runs the grid is live.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ssnr_app import caveats, loaders, panels, state, widgets
from ssnr_app.charts import axes
from ssnr_app.charts import compare as compare_charts
from ssnr_core import benchmarks
from ssnr_core.proxies import Setup, aggregation, batches, saliency, zero_cost
from ssnr_core.runs import Settings, jobs
from ssnr_core.studies import compare, evaluation, reproduce

METRICS = {"kendall": "Kendall τ", "spearman": "Spearman ρ"}
NOT_COMPUTED, NOT_COUNTED, BASELINE = compare.NOT_COMPUTED, compare.NOT_COUNTED, compare.BASELINE
DOES_NOT_APPLY = compare.DOES_NOT_APPLY
REFERENCE_BOOT = 200  # as `reproduce` in the app: the cache alone, a quick interval
BEST_CSS = "font-weight: bold; background-color: #e8f4e8"
SMALL_N = 100  # below this many architectures a cell is flagged: its interval is wide
TRUTH_ROW = "ground truth"
PAPER_COLUMNS = [(b, t) for _, b, t, _ in reproduce.REFERENCE]  # the paper's table


@dataclass(frozen=True)
class Grid:
    """What the grid shows: benchmark/task columns, saliency rows, seed, best-by metric."""

    columns: list[tuple[str, str]]
    saliencies: list[str]
    seed: int
    metric: str
    protocol: str = "default"  # a key of PROTOCOLS: which ground truth every column uses

    @property
    def is_field(self) -> bool:
        """Whether this is the field's table (every proxy, the field's columns)."""
        return self.columns == list(compare.FIELD_COLUMNS) and self.saliencies == list(
            saliency.REGISTRY
        )

    def source(self, space: str, task: str) -> str:
        """The ground-truth source of a column under the grid's protocol."""
        return compare.source_for(space, task, self.protocol)

    def setups(self) -> list[Setup]:
        """The cells' setups (none where a measure does not apply to the space)."""
        return [
            cell_setup(b, t, s, self.seed)
            for b, t in self.columns
            for s in self.saliencies
            if zero_cost.supports(s, b)
        ]


def cell_setup(space: str, task: str, sal: str, seed: int) -> Setup:
    """`compare.cell_setup` with the app's settings."""
    return compare.cell_setup(space, task, sal, seed, loaders.settings())


column_name = compare.column_name


@st.cache_data(show_spinner=False, max_entries=32, hash_funcs=loaders.HASH_FUNCS)
def truth_archs(space: str, task: str, source: str, settings: Settings) -> loaders.Archs:
    return loaders.Archs(loaders.truth(space, task, source, settings.data_dir).index.tolist())


PROTOCOLS = compare.PROTOCOLS


def paper_setup() -> None:
    """Button callback: the paper's table (before the widgets are drawn)."""
    available = set(available_columns())
    st.session_state[state.COLUMNS] = [c for c in PAPER_COLUMNS if c in available]
    st.session_state[state.SALIENCIES] = ["synflow"]
    st.session_state[state.MARK_BY] = "kendall"
    st.session_state["protocol"] = "naslib"  # the paper's samples and truth, not ours


def field_setup() -> None:
    """Button callback: the field's table, every proxy against the field's tasks."""
    available = set(available_columns())
    st.session_state[state.COLUMNS] = [c for c in compare.FIELD_COLUMNS if c in available]
    st.session_state[state.SALIENCIES] = list(saliency.REGISTRY)
    st.session_state["protocol"] = "default"


def available_columns() -> list[tuple[str, str]]:
    return [k for k in benchmarks.TASKS if loaders.space_problem(k[0]) is None]


def grid_inputs() -> Grid:
    sb = st.sidebar
    sb.header("Grid")
    sb.button(
        "The field's table",
        on_click=field_setup,
        key="field_setup",
        help="Every saliency and per-network measure (and params/FLOPs) against NB201's "
        "three tasks, NB301 and TNB101 jigsaw, class_object and class_scene, with the "
        "published figures beside ours.",
    )
    sb.button(
        "The paper's table",
        on_click=paper_setup,
        key="paper_setup",
        help="NB201 CIFAR-10 and CIFAR-100, NB301, TNB101 jigsaw, class_object and "
        "class_scene; synflow; marked by Kendall τ; on NASLib's samples and val_accuracy, "
        "as the paper.",
    )
    protocol = widgets.choose(
        "Protocol",
        list(PROTOCOLS),
        "protocol",
        kind="radio",
        format_func=PROTOCOLS.get,
        help="Which architectures and accuracy every column is correlated with.",
    )
    available = available_columns()
    first = available[0][0] if available else None
    default = [k for k in available if k[0] == first]
    st.session_state.setdefault(state.COLUMNS, default)
    st.session_state[state.COLUMNS] = [
        tuple(k) for k in st.session_state[state.COLUMNS] if tuple(k) in available
    ]
    columns = sb.multiselect(
        "Benchmark / task",
        available,
        key=state.COLUMNS,
        format_func=lambda k: column_name(*k),
        help="The grid's columns; each correlates with that task's default ground truth.",
    )
    names = list(saliency.REGISTRY)
    st.session_state.setdefault(state.SALIENCIES, names)
    st.session_state[state.SALIENCIES] = [
        s for s in st.session_state[state.SALIENCIES] if s in names
    ]
    sals = sb.multiselect(
        "Saliencies",
        names,
        key=state.SALIENCIES,
        help="The grid's rows: each saliency under all three aggregations.",
    )
    seed = widgets.seed()
    metric = widgets.choose(
        "Mark the best by",
        list(METRICS),
        state.MARK_BY,
        kind="radio",
        format_func=METRICS.get,
        help="★ marks each column's best row by this rank correlation.",
    )
    return Grid(list(columns), list(sals), seed, str(metric), str(protocol))


@st.cache_data(show_spinner=False, max_entries=16)
def collect(
    grid: Grid, settings: Settings, versions: tuple[int, ...]
) -> tuple[pd.DataFrame, dict[str, str]]:
    """`compare.grid` with the published figures (`versions`, the cells' and baselines'
    row counts, re-keys it as a job adds rows; otherwise it is computed once)."""
    cache = loaders.cache(settings)
    if grid.is_field:
        return compare.field(cache, settings=settings, seed=grid.seed, protocol=grid.protocol)
    long, problems = compare.grid(
        cache,
        settings=settings,
        columns=grid.columns,
        saliencies=grid.saliencies,
        seed=grid.seed,
        protocol=grid.protocol,
    )
    return compare.with_references(long, grid.protocol), problems


def grid_versions(grid: Grid, settings: Settings) -> tuple[int, ...]:
    cells = tuple(loaders.version(setup, settings) for setup in grid.setups())
    counts = tuple(loaders.baseline_count(s, t, settings) for s, t in grid.columns)
    return cells + counts


def cell_text(r: pd.Series, metric: str, best: bool) -> str:
    """One cell: value, 95% interval, n, a flag when n is small, and the published
    figure made under the grid's protocol."""
    if pd.isna(r[metric]):
        return f"n={r['n']:,}: no correlation (too few or constant scores)"
    flag = " ⚠ small n" if r["n"] < SMALL_N else ""
    star = "★ " if best else ""
    interval = panels.fmt_range((r[metric + "_lo"], r[metric + "_hi"]))
    published = r.get(f"published_{metric}_text")
    ref = f" · published {published}" if published else ""
    return f"{star}{panels.fmt(r[metric])} {interval} · n={r['n']:,}{flag}{ref}"


def best_marked(long: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(text grid with the best zero-cost proxy of each column starred, boolean mask of
    the best)."""
    labels = long["aggregation"].map(lambda a: aggregation.LABELS.get(a, a))
    long = long.assign(row=long["saliency"] + " · " + labels, best=compare.best(long, metric))
    order = list(dict.fromkeys(long["row"]))
    cols = list(dict.fromkeys(long["column"]))
    text = pd.DataFrame(NOT_COMPUTED, index=order, columns=cols)
    best = pd.DataFrame(False, index=order, columns=cols)
    for _, r in long.iterrows():
        best.loc[r["row"], r["column"]] = bool(r["best"])
        ok = r["status"] == "ok"
        text.loc[r["row"], r["column"]] = cell_text(r, metric, r["best"]) if ok else r["status"]
    return text, best


def with_truth_row(text: pd.DataFrame, best: pd.DataFrame, grid: Grid) -> tuple:
    """The grid with a first row naming each column's ground truth."""
    truth = {column_name(s, t): truth_label(s, t, grid.source(s, t)) for s, t in grid.columns}
    head = pd.DataFrame([truth], index=[TRUTH_ROW]).reindex(columns=text.columns)
    return pd.concat([head, text]), pd.concat(
        [pd.DataFrame(False, index=[TRUTH_ROW], columns=text.columns), best]
    )


def truth_label(space: str, task: str, source: str | None = None) -> str:
    return benchmarks.SOURCE_LABELS[source or benchmarks.get_task(space, task).sources[0]]


def batch_labels(setups: list[Setup]) -> str:
    """The batches of these setups, each named once."""
    labels = {batches.describe(s.batch, s.seed): None for s in setups}
    return "; ".join(labels)


def provenance(grid: Grid) -> str:
    """What the cells were computed on: batch, seed, and how to read a cell."""
    boot = f" · intervals from ≤ {compare.FIELD_BOOT} bootstrap resamples" if grid.is_field else ""
    return (
        f"Protocol: {PROTOCOLS[grid.protocol]}{boot} · "
        f"Batch: {batch_labels(grid.setups())} · seed {grid.seed} · each cell: value "
        "[95% bootstrap interval] · n architectures (cached, with ground truth; "
        f"⚠ below {SMALL_N}) · 'published': the figure its authors report under this "
        f"protocol (sources below) · '{NOT_COMPUTED}': nothing cached for that setup yet "
        f"(commands below) · '{DOES_NOT_APPLY}': the measure does not run on that space · "
        f"baseline rows: params and FLOPs of the architectures counted in baselines.sqlite "
        f"('{NOT_COUNTED}': none yet; count them on the Explorer's research section)."
    )


def grid_tables(long: pd.DataFrame, grid: Grid) -> None:
    """One tab per metric (the best marked, n and ground truth in the table), and the
    grid as a chart."""
    order = [grid.metric, *[k for k in METRICS if k != grid.metric]]
    tabs = st.tabs([*[METRICS[m] for m in order], "Chart"])
    for tab, metric in zip(tabs, order):
        with tab:
            text, best = with_truth_row(*best_marked(long, metric), grid)
            css = best.replace({True: BEST_CSS, False: ""})
            st.dataframe(text.style.apply(lambda _frame, css=css: css, axis=None))
            st.caption(provenance(grid))
    with tabs[-1]:
        chart(long[long["saliency"] != BASELINE], grid)  # zero-cost proxies only
    published_section(long, grid)
    commands_section(long)
    caveats.show(grid.saliencies)


def chart(long: pd.DataFrame, grid: Grid) -> None:
    """The grid as bars; bars of different n side by side are marked, and a warning
    says when some stand on fewer than `SMALL_N` architectures."""
    ok = long[long["status"] == "ok"]
    if ok.empty:
        st.info("Nothing computed yet: the chart appears with the first cached cell.")
        return
    n = ok["n"]
    head = f"{METRICS[grid.metric]} per benchmark/task · seed {grid.seed}"
    sub = f"n = {n.min():,}–{n.max():,} per cell · error bars: 95% bootstrap interval"
    if n.nunique() > 1:
        sub += " · hatched: fewer architectures than the column's largest n"
    small = ok[ok["n"] < SMALL_N]
    if not small.empty:
        st.warning(
            f"{len(small)} bar(s) stand on fewer than {SMALL_N} architectures (n = "
            f"{small['n'].min():,}–{small['n'].max():,}, marked ✕): a rank correlation this "
            "small moves a lot from sample to sample; compare them with the others by "
            "their intervals, not their heights.",
            icon=":material/warning:",
        )
    fig = compare_charts.compare_bars(
        long, grid.metric, METRICS[grid.metric], axes.titled(head, sub), small_n=SMALL_N
    )
    panels.chart(fig, key="compare_chart")


def published_section(long: pd.DataFrame, grid: Grid) -> None:
    """Every published figure of the grid's cells beside ours, with source and sample."""
    table = compare.published(long, grid.protocol)
    if table.empty:
        return
    with st.expander(f"Published figures ({len(table)}) beside ours"):
        st.dataframe(table, hide_index=True)
        st.caption(
            "Each figure as its source reports it, under its protocol; 'ours' is this "
            "grid's value where the grid uses the same protocol and the cell is computed "
            "(else empty: switch the protocol in the sidebar, or compute the cell)."
        )


def commands_section(long: pd.DataFrame) -> None:
    """The commands that fill the grid's cells not computed (or baselines not counted)."""
    if "command" not in long:
        return
    commands = list(dict.fromkeys(long["command"].dropna()))
    if commands:
        with st.expander(f"Not computed or not counted: {len(commands)} command(s) that fill them"):
            st.code("\n".join(commands), language="bash")


def report_problems(problems: dict[str, str]) -> None:
    """One error for all columns that cannot be shown, each distinct reason once."""
    if not problems:
        return
    by_reason: dict[str, list[str]] = {}
    for col, message in problems.items():
        by_reason.setdefault(message, []).append(col)
    lines = [f"{', '.join(cols)}: {message}" for message, cols in by_reason.items()]
    st.error(f"{len(problems)} column(s) cannot be shown:\n\n" + "\n\n".join(lines))


def running_setups(grid: Grid, settings: Settings) -> set[Setup]:
    return {r.job.setup for r in panels.running_jobs(settings)} & set(grid.setups())


def grid_section(grid: Grid, settings: Settings) -> None:
    """The grid, live while a job of one of its cells runs."""
    running = bool(running_setups(grid, settings))

    def body() -> None:
        if running and not running_setups(grid, settings):
            st.rerun()  # the last job ended: redraw the page once
        with st.spinner("Correlating cached scores…"):
            try:
                long, problems = collect(grid, settings, grid_versions(grid, settings))
            except loaders.READ_ERRORS as exc:
                long, problems = pd.DataFrame(), {"cache": f"cannot read the cache: {exc}"}
        report_problems(problems)
        if long.empty:
            return
        grid_tables(long, grid)
        panels.download_csv("Download the grid (CSV)", long, f"ssnr_compare_seed{grid.seed}.csv")

    panels.live(body, running, lambda: bool(running_setups(grid, settings)))


def compute_cell(grid: Grid, settings: Settings) -> None:
    """Pick a missing cell (or extend one) and score a sample of it in the background."""
    st.subheader("Compute a cell")
    try:
        cells = {setup: loaders.version(setup, settings) > 0 for setup in grid.setups()}
    except loaders.READ_ERRORS:
        return  # the grid has said why
    labels = {
        setup: f"{setup.space}/{setup.task} · {setup.saliency}" + ("" if ok else " (not computed)")
        for setup, ok in cells.items()
    }
    missing_first = sorted(cells, key=lambda setup: cells[setup])
    setup = widgets.choose(
        "Cell",
        missing_first,
        "compare_cell",
        container=st,
        format_func=labels.get,
        help="A benchmark/task and saliency of the grid; those not computed come first.",
    )
    source = grid.source(setup.space, setup.task)
    try:
        total = len(truth_archs(setup.space, setup.task, source, settings))
    except loaders.READ_ERRORS:
        return
    n = widgets.number(
        "Sample size",
        "compare_sample",
        min(200, total),
        1,
        total,
        container=st,
        help=f"Up to {total:,}: the same seeded sample as the explorer's.",
    )
    sample = None if n >= total else n
    archs = loaders.sample(setup.space, setup.task, sample, setup.seed, source, settings.data_dir)
    label = f"{setup.space}/{setup.task} {setup.saliency}"
    default = benchmarks.get_task(setup.space, setup.task).sources[0]
    truth = None if source == default else source
    panels.live_job(jobs.Job(setup, settings, sample, truth), archs, label)


@st.cache_data(show_spinner=False, max_entries=16)
def reference_table(
    sal: str, seed: int, versions: tuple[int, ...], settings: Settings
) -> pd.DataFrame:
    """`reproduce`'s table from the cache alone (`versions` re-keys it as rows arrive)."""
    return reproduce.reproduce(
        loaders.cache(settings),
        cell_setup("nb201", "cifar10", sal, seed),
        settings=settings,
        study=evaluation.Study(n_boot=REFERENCE_BOOT, compute=False),
    )


def reference_section(seed: int, settings: Settings) -> None:
    """The cross-benchmark Kendall table of `python -m ssnr_core reproduce`, beside the
    reference figures, on NASLib's samples and validation accuracies."""
    st.subheader("Reference table: Kendall τ on NASLib's samples")
    sal = str(
        widgets.choose(
            "Saliency",
            list(saliency.REGISTRY),
            "reference_saliency",
            container=st,
            help="The reference figures are synflow's; others are shown without them.",
        )
    )
    columns = {label: cell_setup(b, t, sal, seed) for label, b, t, _ in reproduce.REFERENCE}
    try:
        versions = tuple(loaders.version(setup, settings) for setup in columns.values())
        table = reference_table(sal, seed, versions, settings)
    except loaders.READ_ERRORS as exc:
        st.error(f"Cannot build the reference table: {exc}")
        return
    small = table[(table["n"] > 0) & (table["n"] < SMALL_N)]
    if not small.empty:
        listed = ", ".join(f"{r.column} (n = {r.n})" for r in small.itertuples())
        st.warning(
            f"Small n: {listed}. With under {SMALL_N} architectures a Kendall τ is "
            "uncertain (see its interval) and may differ from the reference figure for "
            "that reason alone; compute the rest of the column below."
        )
    st.markdown(reproduce.to_markdown(table, sal))
    st.caption(
        "Same figures as `python -m ssnr_core reproduce`; the reference column is for "
        f"synflow only. n counts the cached architectures of each NASLib sample; batch: "
        f"{batch_labels(list(columns.values()))}; seed {seed}; {REFERENCE_BOOT} bootstrap "
        "resamples."
    )
    panels.download_csv(
        "Download the reference table (CSV)", table, f"reproduce_{sal}_seed{seed}.csv"
    )
    label = str(
        widgets.choose(
            "Compute the rest of a column",
            list(columns),
            "reference_column",
            container=st,
            help="Scores NASLib's whole sample of this column in the background.",
        )
    )
    setup = columns[label]
    try:
        archs = loaders.sample(setup.space, setup.task, None, seed, "naslib", settings.data_dir)
    except loaders.READ_ERRORS as exc:
        st.error(str(exc))
        return
    panels.live_job(jobs.Job(setup, settings, None, truth="naslib"), archs, f"{label} {sal}")


def render() -> None:
    st.title("Compare")
    st.caption(
        "Rank correlation of every saliency and aggregation with each task's ground "
        "truth, over the architectures in the cache. ★ marks the best of each column."
    )
    settings = loaders.settings()
    state.restore(state.COMPARE_PARAMS)
    grid = grid_inputs()
    state.publish(state.COMPARE_PARAMS)
    problems = [loaders.space_problem(s) for s in sorted({s for s, _ in benchmarks.TASKS})]
    if any(problems):
        st.warning("\n\n".join(p for p in problems if p))
    grid_tab, reference_tab = st.tabs(["Grid", "Reference table"])
    with grid_tab:
        if grid.columns and grid.saliencies:
            grid_section(grid, settings)
            compute_cell(grid, settings)
        else:
            st.info("Pick at least one benchmark/task and one saliency in the sidebar.")
    with reference_tab:
        reference_section(grid.seed, settings)
    panels.about_metrics()


render()
