"""The app's pages in Streamlit's AppTest: they render, and show what `ssnr_core` computes."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SAMPLE, SETUP
from streamlit.testing.v1 import AppTest

from pages import common
from ssnr_core import aggregation, benchmarks, evaluation, jobs, pruning, reproduce, scoring
from ssnr_core.cache import Cache

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 120


def fresh_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
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


def core_summaries(truth: pd.Series | None = None) -> dict:
    """What the explorer should show for the cached sample, straight from the core."""
    archs = evaluation.sample(SETUP.space, SETUP.task, SAMPLE, SETUP.seed)
    table = evaluation.score_table(Cache().get(SETUP, archs))
    if truth is None:
        truth = benchmarks.truth(SETUP.space, SETUP.task)
    return evaluation.correlate(table, truth, common.n_boot_for(len(table)), SETUP.seed)


def assert_cards(at: AppTest, summary: dict, prefix: str = "") -> None:
    shown = metrics(at)
    assert shown[f"{prefix}Spearman ρ"] == common.fmt(summary["spearman"])
    assert shown[f"{prefix}Kendall τ"] == common.fmt(summary["kendall"])
    assert shown[f"{prefix}top-10% precision"] == common.fmt(summary[common.TOP_K])
    assert shown[f"{prefix}architectures"] == f"{summary['n']:,}"
    captions = [c.value for c in at.caption]
    assert common.fmt_ci(summary["spearman_ci95"]) in captions
    assert common.fmt_ci(summary["kendall_ci95"]) in captions


def test_explorer_shows_the_core_correlations_and_follows_the_aggregation(cache_dir: Path):
    at = fresh_app()
    at.sidebar.number_input(key="k_n").set_value(SAMPLE).run()
    assert not at.exception and not at.error
    expected = core_summaries()
    assert_cards(at, expected["sum"])
    seen = set()
    for agg in ("ssnr", "layerwise_ssnr", "sum"):
        at.sidebar.radio(key="k_agg").set_value(agg).run()
        assert not at.exception
        assert_cards(at, expected[agg])
        seen.add(metrics(at)["Spearman ρ"])
    assert len(seen) == 3, "the three aggregations rank this sample differently"
    # The sample is fully cached: no compute button, and the scatter is there.
    assert not any(b.label.startswith("Compute") for b in at.button)
    assert at.get("plotly_chart")


def test_explorer_offers_to_compute_what_the_cache_lacks(cache_dir: Path):
    at = fresh_app()  # default sample of 100 holds the 24 cached (same seeded permutation)
    assert any(b.label.startswith("Compute 76 missing of 100") for b in at.button)
    assert metrics(at)["architectures"] == str(SAMPLE)


def test_the_compute_button_scores_the_missing_architectures_in_the_background(
    cache_dir: Path,
):
    at = fresh_app()
    at.sidebar.number_input(key="k_n").set_value(SAMPLE + 2).run()
    assert metrics(at)["architectures"] == str(SAMPLE)
    button = next(b for b in at.button if b.label.startswith("Compute 2 missing"))
    button.click().run()
    assert not at.exception
    archs = evaluation.sample(SETUP.space, SETUP.task, SAMPLE + 2, SETUP.seed)
    job = jobs.Job(SETUP, SAMPLE + 2)
    assert jobs.status(job, archs).running  # started, and the page is not blocked
    at.run()  # a rerun while it works: same job, no second one
    assert [i["pid"] for i in jobs.active()] == [json.loads(jobs.lock_path(job).read_text())["pid"]]
    deadline = time.time() + 120
    while jobs.status(job, archs).running and time.time() < deadline:
        time.sleep(0.3)
    at.run()
    assert not at.exception and not at.error
    assert metrics(at)["architectures"] == str(SAMPLE + 2)
    expected = evaluation.correlate(
        evaluation.score_table(Cache().get(SETUP, archs)),
        benchmarks.truth(SETUP.space, SETUP.task),
        common.n_boot_for(SAMPLE + 2),
        SETUP.seed,
    )
    assert_cards(at, expected["sum"])


def test_the_score_table_is_the_cores_plus_weight_counts():
    rng = np.random.default_rng(0)
    stats = {
        f"a{i}": np.column_stack(
            [rng.integers(1, 50, 4), rng.lognormal(0, 8, 4), rng.lognormal(0, 8, 4)]
        ).astype(float)
        for i in range(20)
    }
    stats["nan"] = np.array([[3.0, np.nan, 1.0]])
    table = common.score_table(stats)
    core = evaluation.score_table(stats)
    pd.testing.assert_frame_equal(table[core.columns], core)
    assert table.loc["a1", "weights"] == stats["a1"][:, 0].sum()
    assert table.loc["nan", list(aggregation.AGGREGATIONS)].isna().all()
    empty = common.score_table({})
    assert empty.empty and list(empty.columns) == [*aggregation.AGGREGATIONS, "weights"]


def test_scatter_maps_points_to_archs_by_customdata(cache_dir: Path):
    archs = evaluation.sample(SETUP.space, SETUP.task, SAMPLE, SETUP.seed)
    table = common.score_table(Cache().get(SETUP, archs))
    truth = benchmarks.truth(SETUP.space, SETUP.task)
    victim = table["sum"].idxmax()
    table.loc[victim, "sum"] = -1.0  # not drawable on a log axis
    drawable = table.index[table["sum"] > 0]  # a disconnected cell scores exactly 0
    fig, hidden = common.scatter(table, truth, "sum", True, "accuracy")
    trace = fig.data[0]
    assert trace.type == "scattergl" and hidden == SAMPLE - len(drawable)
    drawn = [c[0] for c in trace.customdata]
    assert victim not in drawn and sorted(drawn) == sorted(drawable)
    for (arch, weights), x, y in zip(trace.customdata, trace.x, trace.y):
        assert x == table.loc[arch, "sum"] and y == truth[arch]
        assert weights == table.loc[arch, "weights"]
    # A selection event names points by their customdata, whatever their order.
    event = {
        "selection": {
            "points": [
                {"point_index": 0, "customdata": [drawn[3], 1.0]},
                {"point_index": 7, "customdata": [drawn[1], 1.0]},
            ]
        }
    }
    assert common.selected_archs(event) == [drawn[3], drawn[1]]
    assert common.selected_archs({"selection": {"points": []}}) == []


def test_uploaded_ground_truth_is_validated_and_correlated(cache_dir: Path):
    archs = evaluation.sample(SETUP.space, SETUP.task, SAMPLE, SETUP.seed)
    index = {s: i for i, s in enumerate(benchmarks.nb201_cell_strings())}
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
    assert at.sidebar.selectbox(key="k_up_arch").value == "architecture"
    assert at.sidebar.selectbox(key="k_up_val").value == "my_accuracy"
    skipped = "\n".join(c.value for c in at.sidebar.code)
    assert "row 18" in skipped and "row 19" in skipped and "not a number" in skipped
    at.sidebar.selectbox(key="k_source").set_value("upload").run()
    at.sidebar.number_input(key="k_n").set_value(16).run()
    assert not at.exception and not at.error
    truth = pd.Series(mine)
    table = evaluation.score_table(Cache().get(SETUP, list(mine)))
    expected = evaluation.correlate(table, truth, common.n_boot_for(16), SETUP.seed)["sum"]
    assert_cards(at, expected)


def test_layer_page_from_the_explorer_matches_the_core(cache_dir: Path):
    at = fresh_app()
    at.sidebar.number_input(key="k_n").set_value(SAMPLE).run()
    arch = at.selectbox(key="inspect_arch").value
    at.button(key="open_layers").click().run()
    assert not at.exception and not at.error
    assert at.selectbox(key="k_l_arch_a").value == arch
    names, tensors = scoring.saliencies(SETUP, arch)
    stats = aggregation.layer_stats(tensors)
    shown = metrics(at)
    for name, fn in aggregation.AGGREGATIONS.items():
        assert shown[aggregation.LABELS[name]] == f"{fn(stats):.4g}"
    # The page's numbers are the cached ones: same seeded weights.
    cached = Cache().get(SETUP, [arch])[arch]
    np.testing.assert_allclose(stats, cached, rtol=1e-9)
    table = frame_with(at, "S_n^l")
    assert list(table["layer"]) == names
    per_layer = aggregation.per_layer(stats)
    assert list(table["S_n^l"]) == [f"{v:.4e}" for v in per_layer["sum"]]
    np.testing.assert_allclose(table["S_n^l/sigma^l"], per_layer["snr"])


def test_layer_page_compares_two_cells_without_benchmark_data(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SSNR_DATA_DIR", str(tmp_path / "no-data"))
    at = fresh_app()
    at.switch_page("pages/layers.py").run()
    at.sidebar.toggle(key="k_l_compare").set_value(True).run()
    assert not at.exception and not at.error
    side_by_side = frame_with(at, aggregation.LABELS["layerwise_ssnr"])
    for side in ("a", "b"):
        arch = at.text_input(key=f"k_l_text_{side}").value
        stats = aggregation.layer_stats(scoring.saliencies(SETUP, arch)[1])
        row = side_by_side.loc[side.upper()]
        for name, fn in aggregation.AGGREGATIONS.items():
            assert row[aggregation.LABELS[name]] == f"{fn(stats):.4g}"
    assert side_by_side.loc["A", "layer-wise SSNR"] != side_by_side.loc["B", "layer-wise SSNR"]
    assert sum("benchmark data not available" in c.value for c in at.caption) == 2
    at.text_input(key="k_l_text_b").set_value("|nope~0|").run()
    assert any("malformed" in e.value or "unknown" in e.value for e in at.error)


def test_compare_grid_matches_the_core_and_says_what_is_missing(cache_dir: Path):
    at = fresh_app()
    at.switch_page("pages/compare.py").run()
    assert not at.exception and not at.error
    grid = at.dataframe[0].value  # the first tab: best marked by Kendall
    truth = benchmarks.truth(SETUP.space, SETUP.task)
    # The page reads every cached arch with ground truth, in the benchmark's order (the
    # seeded bootstrap resamples by position, so the order is part of the input).
    table = evaluation.score_table(Cache().get(SETUP, truth.index))
    expected = evaluation.correlate(table, truth, common.n_boot_for(len(table)), SETUP.seed)
    col = "nb201/cifar10"
    best = max(expected, key=lambda a: expected[a]["kendall"])
    for agg, s in expected.items():
        lo, hi = s["kendall_ci95"]
        text = f"{common.fmt(s['kendall'])} [{common.fmt(lo)}, {common.fmt(hi)}]"
        cell = grid.loc[f"synflow · {aggregation.LABELS[agg]}", col]
        assert cell == ("★ " if agg == best else "") + text
    assert grid.loc[f"snip · {aggregation.LABELS['sum']}", col] == "not computed"
    assert grid.loc[f"synflow · {aggregation.LABELS['sum']}", "nb201/cifar100"] == "not computed"
    assert any(b.label.startswith("Compute") for b in at.button)
    assert at.get("download_button")


def test_pruning_page_plots_the_core_curve(cache_dir: Path):
    at = fresh_app()
    at.switch_page("pages/pruning.py").run()
    assert not at.exception and not at.error
    expected = pruning.prune_curve()  # the page's defaults
    shown = frame_with(at, "test_accuracy")
    cols = ["fraction_pruned", "test_accuracy", "sum", "ssnr", "layerwise_ssnr"]
    pd.testing.assert_frame_equal(shown[cols], expected[cols])
    assert metrics(at)["pruned"] == f"{expected['fraction_pruned'].iloc[-1]:.1%}"


def test_first_run_without_data_offers_fetch_and_path(
    cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SSNR_DATA_DIR", str(tmp_path / "empty"))
    at = fresh_app()
    assert not at.exception
    assert any("missing benchmark file" in e.value for e in at.error)
    assert any(b.label == "Fetch benchmark files" for b in at.button)
    assert any(t.label == "Data folder" for t in at.text_input)


def test_a_benchmark_whose_space_does_not_import_fails_gracefully(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
):
    real = common.get_space

    def broken(name: str):
        if name == "nb301":
            raise ImportError("half-written module")
        return real(name)

    monkeypatch.setattr(common, "get_space", broken)
    at = fresh_app()
    at.sidebar.selectbox(key="k_bench").set_value("nb301").run()
    assert not at.exception
    assert any("not available" in e.value and "half-written" in e.value for e in at.error)
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    assert any("half-written" in w.value for w in at.warning)


def test_a_corrupt_cache_is_an_error_message_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "stats.sqlite").write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("SSNR_CACHE_DIR", str(tmp_path))
    at = fresh_app()
    assert any("not a database" in e.value for e in at.error)
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    assert any("cannot read the cache" in e.value for e in at.error)


def test_compare_reference_table_is_the_reproduce_table(cache_dir: Path):
    naslib_archs = evaluation.sample("nb201", "cifar10", 6, 0, "naslib")
    scoring.score(SETUP, naslib_archs, Cache())
    at = fresh_app()
    at.switch_page("pages/compare.py").run()
    assert not at.exception and not at.error
    expected = reproduce.to_markdown(
        reproduce.reproduce("synflow", n_boot=200, compute=False), "synflow"
    )
    shown = [m.value.strip() for m in at.markdown if "| column | n |" in m.value]
    assert shown == [expected.strip()]
    assert "| NB201 CIFAR-10 | 6 |" in expected and "(0.5549)" in expected
    assert "not computed (0.3392)" in expected  # NB301: nothing cached
