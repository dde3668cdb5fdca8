"""The Compare grid as a core study: the CLI's `compare` and the app's page show it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import SAMPLE, SETUP

from ssnr_core import benchmarks, cli
from ssnr_core.proxies import aggregation
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.settings import Settings
from ssnr_core.studies import compare, correlation, evaluation


def test_every_cell_is_the_correlation_of_what_the_cache_holds(cache_dir: Path, settings: Settings):
    long, problems = compare.grid(
        Cache(settings.cache_file),
        settings=settings,
        columns=[("nb201", "cifar10"), ("nb301", "cifar10")],
        saliencies=["synflow", "snip"],
    )
    assert not problems
    cells = long.set_index(["column", "saliency", "aggregation"])
    truth = benchmarks.truth("nb201", "cifar10")
    table = evaluation.score_table(Cache(settings.cache_file).get(SETUP, truth.index.tolist()))
    n_boot = correlation.n_boot_for(SAMPLE)
    for agg in aggregation.AGGREGATIONS:  # each column alone, as the app's page did
        expected = evaluation.correlate(table[[agg]], truth, n_boot, 0)
        row = cells.loc[("nb201/cifar10", "synflow", agg)]
        assert row["status"] == "ok" and row["n"] == SAMPLE and row["n_boot"] == n_boot
        assert row["kendall"] == expected[agg].kendall
        assert row["spearman_lo"] == expected[agg].spearman_ci95[0]
        assert cells.loc[("nb201/cifar10", "snip", agg), "status"] == compare.NOT_COMPUTED
        assert cells.loc[("nb301/cifar10", "synflow", agg), "n"] == 0
    assert cells.loc[("nb201/cifar10", compare.BASELINE, "params"), "status"] == "not counted"


def test_an_unknown_benchmark_is_one_problem_not_a_crash(settings: Settings):
    long, problems = compare.grid(
        Cache(settings.cache_file), settings=settings, columns=[("nb999", "x")], saliencies=[]
    )
    assert long.empty and "unknown" in problems["nb999/x"]


def test_cli_compare_prints_the_same_grid(
    cache_dir: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
):
    args = ["compare", "--benchmarks", "nb201", "--saliencies", "synflow"]
    assert cli.main([*args, "--json"], settings) == 0
    records = json.loads(capsys.readouterr().out)
    long, _ = compare.grid(
        Cache(settings.cache_file),
        settings=settings,
        columns=[("nb201", t) for t in benchmarks.tasks_of("nb201")],
        saliencies=["synflow"],
    )
    assert len(records) == len(long)
    ok = [r for r in records if r["status"] == "ok"]
    assert [r["kendall"] for r in ok] == long[long["status"] == "ok"]["kendall"].tolist()
    assert cli.main(args, settings) == 0
    text = capsys.readouterr().out
    assert "synflow · layer-wise SSNR" in text and f"n={SAMPLE}" in text
    assert "not computed" in text  # CIFAR-100 has nothing cached
    assert cli.main([*args[:3], "--saliencies", "nope"], settings) == 2
