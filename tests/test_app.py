"""The app's pages in Streamlit's AppTest: they render, and show what `ssnr_core` computes.

Every test runs on a private copy of a small scored cache (conftest's `cache_dir`) and
the ground truth bundled with the package; jobs a test starts are stopped after it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from conftest import LOCAL, SAMPLE, SETUP
from streamlit.testing.v1 import AppTest

from ssnr_app import loaders, panels
from ssnr_app.charts import axes
from ssnr_app.charts import explorer as explorer_charts
from ssnr_app.text import plain
from ssnr_core import benchmarks
from ssnr_core.data import pinned
from ssnr_core.proxies import Setup, aggregation, network
from ssnr_core.runs import jobs, scoring
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.settings import Settings
from ssnr_core.spaces import canonical
from ssnr_core.studies import evaluation, pruning, reproduce
from ssnr_core.studies.correlation import Summary

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 120


@pytest.fixture(autouse=True)
def app_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """One scoring process per job, fresh Streamlit caches (settings are read from the
    environment once per process, as in a server), and no job left running."""
    monkeypatch.setenv("SSNR_WORKERS", "1")
    monkeypatch.setenv("SSNR_CACHE_DIR", str(tmp_path / "unused-cache"))  # cache_dir overrides
    monkeypatch.setenv("SSNR_PACK", "0")  # the small cache, not the pack (test_app_pack.py)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    settings = Settings.from_env()
    jobs.clear_queue(settings)
    for running in panels.running_jobs(settings):
        jobs.stop(running.job, ())


def settings() -> Settings:
    return Settings.from_env()


def cache() -> Cache:
    return Cache(settings().cache_file)


def fresh_app(query: dict[str, str] | None = None) -> AppTest:
    """The app on the explorer's one-aggregation scatter (unless `query` says otherwise)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"chart": "scatter", **(query or {})})
    at.run()
    assert not at.exception, at.exception
    return at


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first dataframe on the page that has `column`."""
    for frame in at.dataframe:
        if column in frame.value.columns:
            return frame.value
    raise AssertionError(f"no dataframe with column {column!r}")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def core_summaries(n: int = SAMPLE, truth: pd.Series | None = None) -> dict[str, Summary]:
    """What the explorer should show for the cached part of the n-sample, from the core."""
    archs = evaluation.sample(SETUP.space, SETUP.task, n, SETUP.seed)
    table = evaluation.score_table(cache().get(SETUP, archs))
    if truth is None:
        truth = benchmarks.truth(SETUP.space, SETUP.task)
    return evaluation.correlate(table, truth, loaders.n_boot_for(len(table)), SETUP.seed)


def assert_cards(at: AppTest, summary: Summary, prefix: str = "") -> None:
    shown = metrics(at)
    assert shown[f"{prefix}Spearman ρ"] == panels.fmt(summary.spearman)
    assert shown[f"{prefix}Kendall τ"] == panels.fmt(summary.kendall)
    assert shown[f"{prefix}top-10% precision"] == panels.fmt(summary.top10_precision)
    assert shown[f"{prefix}architectures"] == f"{summary.n:,}"
    captions = [c.value for c in at.caption]
    assert panels.fmt_ci(summary.spearman_ci95) in captions
    assert panels.fmt_ci(summary.kendall_ci95) in captions


def provenance_shown(at: AppTest, n: int) -> bool:
    """Some caption says n, the ground truth and the batch."""
    return any(
        f"n = {n:,} architectures" in c.value
        and "ground truth: NB201 mean 200-epoch test accuracy" in c.value
        and "batch: no batch (data-free" in c.value  # synflow sees no data
        for c in at.caption
    )


def test_explorer_shows_the_core_correlations_and_follows_the_aggregation(cache_dir: Path):
    at = fresh_app()
    at.sidebar.number_input(key="sample").set_value(SAMPLE).run()
    assert not at.exception and not at.error
    expected = core_summaries()
    assert_cards(at, expected["sum"])
    assert provenance_shown(at, SAMPLE)
    seen = set()
    for agg in ("ssnr", "layerwise_ssnr", "sum"):
        at.sidebar.radio(key="aggregation").set_value(agg).run()
        assert not at.exception
        assert_cards(at, expected[agg])
        seen.add(metrics(at)["Spearman ρ"])
    assert len(seen) == 3, "the three aggregations rank this sample differently"
    # The sample is fully cached: no compute button; the scatter and the all-aggregations
    # table (the core's Evaluation table) are there.
    assert not any(b.label.startswith("Compute") for b in at.button)
    assert at.get("plotly_chart")
    table = frame_with(at, "spearman")
    assert table.loc[aggregation.LABELS["ssnr"], "kendall"] == expected["ssnr"].kendall


def test_the_default_sample_is_the_largest_cached_one(cache_dir: Path):
    # 24 cached (the seed-0 sample of 24): the default is the first-view size, 200, which
    # holds those 24 (one seeded permutation) and offers the rest.
    at = fresh_app()
    assert at.sidebar.number_input(key="sample").value == 200
    assert any(b.label.startswith("Compute 176 missing of 200") for b in at.button)
    assert metrics(at)["architectures"] == str(SAMPLE)
    assert not jobs.active(settings()), "a partly cached sample is not scored unasked"
    # 300 cached (stand-in statistics): the default grows to the largest cached sample.
    archs = evaluation.sample(SETUP.space, SETUP.task, 300, SETUP.seed)
    rng = np.random.default_rng(0)
    fake = [(a, np.abs(rng.normal(size=(3, 3))) + 1) for a in archs]
    cache().put(SETUP, fake)
    st.cache_data.clear()
    at = fresh_app()
    assert at.sidebar.number_input(key="sample").value == 300
    assert metrics(at)["architectures"] == "300"
    assert not any(b.label.startswith("Compute") for b in at.button)
    assert_cards(at, core_summaries(300)["sum"])


def test_a_first_view_on_an_empty_cache_starts_scoring_without_a_click(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SSNR_CACHE_DIR", str(tmp_path / "empty"))
    at = fresh_app()
    assert not at.error
    running = jobs.active(settings())
    assert len(running) == 1 and running[0]["total"] == 200
    assert running[0]["setup"]["saliency"] == "synflow"
    # The page is live: progress with a Stop button, placeholder cards, the chart frame,
    # and the sidebar's jobs indicator.
    assert any(p.value is not None for p in at.get("progress"))
    assert metrics(at)["architectures"] in {str(i) for i in range(201)}
    assert at.get("plotly_chart")
    assert any("scoring job(s) running" in m.value for m in at.sidebar.markdown)
    at.sidebar.button(key=f"indicator_stop_{panels.running_jobs(settings())[0].job.key}").click()
    at.run()
    assert not jobs.active(settings())
    at.run()  # a second run of the same session starts nothing again
    assert not jobs.active(settings())


def test_a_link_with_other_parameters_starts_nothing_and_offers_compute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Only the default view scores unasked: 20 students opening 20 different links
    start no work by themselves."""
    monkeypatch.setenv("SSNR_CACHE_DIR", str(tmp_path / "empty"))
    for query in ({"seed": "3"}, {"saliency": "snip"}, {"sample": "150"}):
        at = fresh_app(query)
        assert not at.error and not jobs.active(settings())
        assert any(b.label.startswith("Compute ") for b in at.button), query


def test_compute_beyond_the_job_limit_queues_and_shows_the_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SSNR_CACHE_DIR", str(tmp_path / "empty"))
    at = fresh_app()  # the default view: its job runs (the limit is 1)
    assert len(jobs.active(settings())) == 1
    other = fresh_app({"seed": "3"})
    next(b for b in other.button if b.label.startswith("Compute")).click().run()
    assert not other.exception and not other.error
    assert len(jobs.active(settings())) == 1  # not a second job
    (waiting,) = jobs.queue(settings())
    assert waiting["setup"]["seed"] == 3
    assert any("queued, number 1 in line" in i.value for i in other.info)
    assert any(b.label == "Leave the queue" for b in other.button)
    assert any("1 queued" in m.value for m in other.sidebar.markdown)
    next(b for b in other.button if b.label == "Leave the queue").click().run()
    assert not jobs.queue(settings()) and len(jobs.active(settings())) == 1
    del at


def test_the_compute_button_scores_the_missing_architectures_in_the_background(
    cache_dir: Path,
):
    at = fresh_app()
    at.sidebar.number_input(key="sample").set_value(SAMPLE + 2).run()
    assert metrics(at)["architectures"] == str(SAMPLE)
    button = next(b for b in at.button if b.label.startswith("Compute 2 missing"))
    button.click().run()
    assert not at.exception
    assert any("in the background" in c.value for c in at.caption)  # feedback at once
    assert not at.toast  # a fragment's button callback draws nothing itself
    archs = evaluation.sample(SETUP.space, SETUP.task, SAMPLE + 2, SETUP.seed)
    job = jobs.Job(SETUP, settings(), SAMPLE + 2)
    assert jobs.status(job, archs).running  # started, and the page is not blocked
    at.run()  # a rerun while it works: same job, no second one
    assert len(jobs.active(settings())) == 1
    deadline = time.time() + 120
    while jobs.status(job, archs).running and time.time() < deadline:
        time.sleep(0.3)
    at.run()
    assert not at.exception and not at.error
    assert metrics(at)["architectures"] == str(SAMPLE + 2)
    assert_cards(at, core_summaries(SAMPLE + 2)["sum"])


def test_the_url_restores_the_view(cache_dir: Path):
    at = fresh_app({"aggregation": "layerwise_ssnr", "sample": str(SAMPLE), "seed": "0"})
    assert at.sidebar.radio(key="aggregation").value == "layerwise_ssnr"
    assert at.sidebar.number_input(key="sample").value == SAMPLE
    assert_cards(at, core_summaries()["layerwise_ssnr"])
    # A mistyped value falls back to the default, without an error.
    at = fresh_app({"aggregation": "nonsense", "benchmark": "nb999", "seed": "x"})
    assert not at.error
    assert at.sidebar.radio(key="aggregation").value == "sum"
    assert at.sidebar.selectbox(key="benchmark").value == "nb201"


def test_the_score_table_with_weights_is_the_plain_one_plus_weight_counts():
    rng = np.random.default_rng(0)
    stats = {
        f"a{i}": np.column_stack(
            [rng.integers(1, 50, 4), rng.lognormal(0, 8, 4), rng.lognormal(0, 8, 4)]
        ).astype(float)
        for i in range(20)
    }
    stats["nan"] = np.array([[3.0, np.nan, 1.0]])
    table = evaluation.score_table(stats, weights=True)
    core = evaluation.score_table(stats)
    pd.testing.assert_frame_equal(table[core.columns], core)
    assert table.loc["a1", evaluation.WEIGHTS] == stats["a1"][:, 0].sum()
    assert table.loc["nan", list(aggregation.AGGREGATIONS)].isna().all()
    empty = evaluation.score_table({}, weights=True)
    assert empty.empty and list(empty.columns) == [*aggregation.AGGREGATIONS, evaluation.WEIGHTS]


def test_a_large_scatter_sends_half_the_numbers_and_keeps_them_exact():
    """Over NAMED_POINTS points: rows and weight counts in float32 (exact), the score read
    off the log axis; on a linear axis sums near 1e47 stay finite (float64)."""
    n = explorer_charts.NAMED_POINTS + 500
    rng = np.random.default_rng(0)
    archs = [f"arch{i}" for i in range(n)]
    table = pd.DataFrame(
        {
            **{a: 10.0 ** rng.uniform(30, 47, n) for a in aggregation.AGGREGATIONS},
            evaluation.WEIGHTS: rng.integers(1_000, 1_600_000, n).astype(float),
        },
        index=archs,
    )
    truth = pd.Series(rng.uniform(10, 95, n), index=archs, name="accuracy (%)")
    fig, hidden = explorer_charts.scatter(table, truth, "sum", True, axes.titled("t"))
    (points,) = fig.data
    custom = np.asarray(points.customdata)
    assert hidden == 0 and custom.dtype == np.float32 and custom.shape == (n, 2)
    assert np.array_equal(custom[:, 0], np.arange(n))
    assert np.array_equal(custom[:, 1], table[evaluation.WEIGHTS].to_numpy())
    np.testing.assert_allclose(points.x, np.log10(table["sum"]), rtol=1e-6)
    assert "10<sup>%{x:.4f}</sup>" in points.hovertemplate and points.text is None
    linear, _ = explorer_charts.scatter(table, truth, "sum", False, axes.titled("t"))
    np.testing.assert_array_equal(linear.data[0].x, table["sum"].to_numpy())


def test_scatter_maps_points_to_archs_by_customdata(cache_dir: Path):
    archs = evaluation.sample(SETUP.space, SETUP.task, SAMPLE, SETUP.seed)
    table = evaluation.score_table(cache().get(SETUP, archs), weights=True)
    truth = benchmarks.truth(SETUP.space, SETUP.task)
    victim, nan = table["sum"].idxmax(), table["sum"].idxmin()
    table.loc[victim, "sum"] = -1.0  # no log: drawn at the axis floor, never left out
    table.loc[nan, "sum"] = np.nan  # not drawable at all: counted
    fig, hidden = explorer_charts.scatter(table, truth, "sum", True, axes.titled("t"))
    points, floor = fig.data
    assert points.type == "scattergl" and hidden == 1
    drawn = [table.index[int(c[0])] for c in points.customdata]
    at_floor = [table.index[int(c[0])] for c in floor.customdata]
    assert list(points.text) == drawn  # a small sample names its points for the hover
    assert victim in at_floor and nan not in drawn + at_floor
    assert sorted(drawn + at_floor) == sorted(table.index.drop(nan))
    assert floor.name.startswith(f"score ≤ 0: {len(at_floor)}")
    assert set(floor.x) == {min(points.x) // 1 - 1}  # a decade below the smallest
    for (row, weights, score), x, y in zip(points.customdata, points.x, points.y):
        arch = table.index[int(row)]
        # positions in float32 on the wire; the hover's numbers exact
        assert x == pytest.approx(np.log10(table.loc[arch, "sum"]), rel=1e-6)
        assert y == pytest.approx(truth[arch], rel=1e-6)
        assert weights == table.loc[arch, evaluation.WEIGHTS] and score == table.loc[arch, "sum"]
    # Ticks at whole powers of ten only, written as superscripts.
    assert all(t == "1" or t == "10" or t.startswith("10<sup>") for t in fig.layout.xaxis.ticktext)
    assert [10**v for v in fig.layout.xaxis.tickvals] == sorted(
        10**v for v in fig.layout.xaxis.tickvals
    )
    event = {
        "selection": {
            "points": [
                {"point_index": 0, "customdata": [table.index.get_loc(drawn[3]), 1.0]},
                {"point_index": 7, "customdata": [table.index.get_loc(drawn[1]), 1.0]},
            ]
        }
    }
    assert explorer_charts.selected_archs(event, table) == [drawn[3], drawn[1]]
    assert explorer_charts.selected_archs({"selection": {"points": []}}, table) == []
    # The browser sends a typed array's row as an object keyed by position.
    keyed = {"selection": {"points": [{"customdata": {"0": 2.0, "1": 5.0, "2": 1.0}}]}}
    assert explorer_charts.selected_archs(keyed, table) == [table.index[2]]


def test_uploaded_ground_truth_is_validated_and_correlated(cache_dir: Path):
    archs = evaluation.sample(SETUP.space, SETUP.task, SAMPLE, SETUP.seed)
    index = {s: i for i, s in enumerate(pinned.nb201_cell_strings())}
    rng = np.random.default_rng(1)
    lines = ["architecture,my_accuracy,notes"]
    mine = {}
    for i, arch in enumerate(archs[:16]):
        value = float(rng.uniform(50, 95))
        mine[arch] = value
        lines.append(f"{index[arch] if i % 2 else arch},{value},x")  # index or cell string
    lines += ["|bogus~0|,50,x", f"{archs[0]},not-a-number,x"]
    csv = ("\n".join(lines) + "\n").encode()
    at = fresh_app()
    at.sidebar.file_uploader(key="upload").set_value(("mine.csv", csv, "text/csv")).run()
    assert not at.exception
    assert at.sidebar.selectbox(key="upload_arch").value == "architecture"
    assert at.sidebar.selectbox(key="upload_value").value == "my_accuracy"
    # The problems are listed in the main area, as plain text; the view switched to the
    # uploaded truth at once.
    skipped = "\n".join(c.value for c in at.main.code)
    assert "row 18" in skipped and "row 19" in skipped and "not a number" in skipped
    assert at.sidebar.selectbox(key="truth").value == "upload"
    at.sidebar.number_input(key="sample").set_value(16).run()
    assert not at.exception and not at.error
    truth = pd.Series(mine)
    table = evaluation.score_table(cache().get(SETUP, list(mine)))
    expected = evaluation.correlate(table, truth, loaders.n_boot_for(16), SETUP.seed)["sum"]
    assert_cards(at, expected)
    label = plain("uploaded: my_accuracy (mine.csv)")
    assert any(f"ground truth: {label}" in c.value for c in at.caption)


def test_layer_page_from_the_explorer_matches_the_core(cache_dir: Path):
    at = fresh_app({"sample": str(SAMPLE)})
    arch = at.selectbox(key="inspect_arch").value
    at.button(key="open_layers").click().run()
    assert not at.exception and not at.error
    assert at.selectbox(key="layer_arch_a").value == arch
    names, tensors = network.saliencies(SETUP, arch)
    stats = aggregation.layer_stats(tensors)
    shown = metrics(at)
    for name, fn in aggregation.AGGREGATIONS.items():
        assert shown[aggregation.LABELS[name]] == panels.sci(fn(stats), 4)
    # The page's numbers are the cached ones: same seeded weights.
    # the page scores one network, the cache an engine batch: float32, equal to 1e-5
    np.testing.assert_allclose(stats, cache().get(SETUP, [arch])[arch], rtol=1e-5)
    table = frame_with(at, "S_n^l")
    assert list(table["layer"]) == names
    per_layer = aggregation.per_layer(stats)
    assert list(table["S_n^l"]) == [panels.sci(v, 4) for v in per_layer["sum"]]
    np.testing.assert_allclose(table["S_n^l/sigma^l"], per_layer["snr"])


def test_layer_page_compares_two_cells(cache_dir: Path):
    at = fresh_app()
    at.switch_page("app_pages/layers.py").run()
    at.sidebar.toggle(key="layer_compare").set_value(True).run()
    assert not at.exception and not at.error
    side_by_side = frame_with(at, aggregation.LABELS["layerwise_ssnr"])
    truth = benchmarks.truth(SETUP.space, SETUP.task)
    for side in ("a", "b"):
        arch = at.text_input(key=f"layer_text_{side}").value
        stats = aggregation.layer_stats(network.saliencies(SETUP, arch)[1])
        row = side_by_side.loc[side.upper()]
        for name, fn in aggregation.AGGREGATIONS.items():
            assert row[aggregation.LABELS[name]] == panels.sci(fn(stats), 4)
        accuracy = truth[canonical(SETUP.space, arch)]
        assert any(f"{truth.name}: {accuracy:.2f}" in c.value for c in at.caption)
    assert side_by_side.loc["A", "layer-wise SSNR"] != side_by_side.loc["B", "layer-wise SSNR"]
    at.text_input(key="layer_text_b").set_value("|nope~0|").run()
    assert not at.exception
    assert len(at.error) == 1 and (
        "malformed" in at.error[0].value or "unknown" in at.error[0].value
    )


def test_compare_grid_matches_the_core_and_says_what_is_missing(cache_dir: Path):
    at = fresh_app()
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception and not at.error
    grid = at.dataframe[0].value  # the first tab: best marked by Kendall
    truth = benchmarks.truth(SETUP.space, SETUP.task)
    # Every cached arch with ground truth, in the benchmark's order (the seeded bootstrap
    # resamples by position, so the order is part of the input).
    table = evaluation.score_table(cache().get(SETUP, truth.index))
    expected = evaluation.correlate(table, truth, loaders.n_boot_for(len(table)), SETUP.seed)
    col = "nb201/cifar10"
    best = max(expected, key=lambda a: expected[a].kendall)
    for agg, s in expected.items():
        # n in the cell, flagged as small (under 100 architectures).
        text = f"{panels.fmt(s.kendall)} {panels.fmt_range(s.kendall_ci95)} · n={s.n} ⚠ small n"
        cell = grid.loc[f"synflow · {aggregation.LABELS[agg]}", col]
        assert cell == ("★ " if agg == best else "") + text
    assert grid.loc["ground truth", col] == benchmarks.SOURCE_LABELS["test200"]
    assert grid.loc[f"snip · {aggregation.LABELS['sum']}", col] == "not computed"
    assert grid.loc[f"synflow · {aggregation.LABELS['sum']}", "nb201/cifar100"] == "not computed"
    assert any(b.label.startswith("Compute") for b in at.button)
    assert at.get("download_button")
    batch = "Batch: no batch (data-free saliency: an all-ones input); synthetic noise batch"
    assert any(batch in c.value for c in at.caption)  # synflow, then snip


def test_compare_columns_come_from_the_url(cache_dir: Path):
    at = fresh_app()
    at.query_params.update({"columns": "nb201/cifar100,tnb101/jigsaw", "saliencies": "snip"})
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception
    assert at.sidebar.multiselect(key="columns").value == [
        ("nb201", "cifar100"),
        ("tnb101", "jigsaw"),
    ]
    assert list(at.dataframe[0].value.columns) == ["nb201/cifar100", "tnb101/jigsaw"]


def test_compare_reference_table_is_the_reproduce_table(cache_dir: Path):
    naslib_archs = evaluation.sample("nb201", "cifar10", 6, 0, "naslib")
    scoring.score(SETUP, naslib_archs, cache(), settings=LOCAL)
    at = fresh_app()
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception and not at.error
    expected = reproduce.to_markdown(
        reproduce.reproduce(
            cache(),
            SETUP,
            settings=LOCAL,
            study=evaluation.Study(n_boot=200, compute=False),
        ),
        "synflow",
    )
    shown = [m.value.strip() for m in at.markdown if "| column | n |" in m.value]
    assert shown == [expected.strip()]
    assert "| NB201 CIFAR-10 | 6 |" in expected and "(0.5549)" in expected
    assert "not computed (0.3392)" in expected  # NB301: nothing cached


def test_pruning_page_plots_the_core_curve(cache_dir: Path):
    at = fresh_app()
    at.switch_page("app_pages/pruning.py").run()
    assert not at.exception and not at.error
    expected = pruning.prune_curve()  # the page's defaults
    shown = frame_with(at, "test_accuracy")
    cols = ["fraction_pruned", "test_accuracy", "sum", "ssnr", "layerwise_ssnr"]
    pd.testing.assert_frame_equal(shown[cols], expected[cols])
    assert metrics(at)["pruned"] == f"{expected['fraction_pruned'].iloc[-1]:.1%}"


def test_a_damaged_data_file_is_one_error_message(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    damaged = tmp_path / "data" / pinned.NB201_CSV.path
    damaged.parent.mkdir(parents=True)
    damaged.write_text("ArchitectureString,CIFAR10TestAccuracy200Epochs\n|x~0|,1\n")
    monkeypatch.setenv("SSNR_DATA_DIR", str(tmp_path / "data"))
    at = fresh_app()
    assert not at.exception
    assert len(at.error) == 1 and "not the pinned file" in at.error[0].value


def test_a_benchmark_whose_space_does_not_import_fails_gracefully(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    real = loaders.get_space

    def broken(name: str):
        if name == "nb301":
            raise ImportError("half-written module")
        return real(name)

    monkeypatch.setattr(loaders, "get_space", broken)
    at = fresh_app()
    at.sidebar.selectbox(key="benchmark").set_value("nb301").run()
    assert not at.exception
    assert any("not available" in e.value and "half-written" in e.value for e in at.error)
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception
    assert any("half-written" in w.value for w in at.warning)


def test_a_corrupt_cache_is_an_error_message_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "stats.sqlite").write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("SSNR_CACHE_DIR", str(tmp_path))
    at = fresh_app()
    assert any("not a database" in e.value for e in at.error)
    assert not jobs.active(settings())
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception
    assert any("cannot read the cache" in e.value for e in at.error)


def test_a_per_layer_page_says_where_a_per_network_measure_is_shown(cache_dir: Path):
    at = fresh_app({"saliency": "az_nas", "benchmark": "nb101"})
    assert not at.exception
    assert any("az_nas does not run on nb101 networks" in e.value for e in at.error)
    at.sidebar.selectbox(key="benchmark").set_value("nb201").run()
    at.switch_page("app_pages/layers.py").run()
    assert not at.exception
    said = " ".join(e.value for e in at.error)
    assert "do not apply" in said and "evaluate --saliency az_nas" in said
    assert "the Explorer" in said


def test_the_explorer_shows_a_per_network_measure_by_its_score_and_components(cache_dir: Path):
    """AZ-NAS is one number per network: the Explorer offers its score and components in
    place of aggregations, on a linear axis, without the per-layer figures."""
    az = Setup.resolved("nb201", "cifar10", "az_nas")
    archs = evaluation.sample("nb201", "cifar10", 12, 0)
    cache().put(az, list(zip(archs, network.many_stats(az, archs), strict=True)))
    at = fresh_app({"saliency": "az_nas", "sample": "12"})
    assert not at.exception and not at.error
    score = at.sidebar.radio(key="aggregation")
    assert score.label == "Score" and list(score.options) == [
        "az_nas",
        "expressivity",
        "progressivity",
        "trainability",
        "complexity",
    ]
    charts = at.sidebar.selectbox(key="chart").options  # their labels
    assert charts == ["score vs accuracy", "rank vs rank", "top-k curves"]
    table = evaluation.score_table(cache().get(az, archs), "az_nas")
    truth = benchmarks.truth("nb201", "cifar10")
    expected = evaluation.correlate(table, truth, loaders.n_boot_for(12), 0)
    for name in ("az_nas", "trainability"):
        score.set_value(name).run()
        assert not at.exception and not at.error
        assert metrics(at)["Spearman ρ"] == panels.fmt(expected[name].spearman)
    assert any("one number per network" in c.value for c in at.sidebar.caption)
    for chart in ("ranks", "topk"):
        at.sidebar.selectbox(key="chart").set_value(chart).run()
        assert not at.exception and not at.error
