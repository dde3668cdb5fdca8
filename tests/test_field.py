"""The field's table (every proxy against the field's tasks, published figures beside
ours), Compare's chart at different n, and the measured caveats of the aggregations."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SAMPLE, SETUP
from test_app import app_env, fresh_app  # noqa: F401  (the app's fixture and helper)

from ssnr_app.charts import compare as compare_charts
from ssnr_core import benchmarks, cli
from ssnr_core.proxies import saliency, zero_cost
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.settings import Settings
from ssnr_core.spaces import nb201
from ssnr_core.spaces.modules import SeededModules
from ssnr_core.studies import caveats, compare, correlation, pack, references


def test_references_hold_the_published_figures_once_with_their_source():
    def one(proxy: str, score: str, space: str, task: str, metric: str) -> references.Reference:
        [ref] = references.find(proxy, score, space, task, metric)
        return ref

    az = one("az_nas", "az_nas", "nb201", "cifar10", "kendall")  # AZ-NAS, CVPR 2024
    assert az.value == 0.7409 and "CVPR 2024" in az.source and az.protocol == "default"
    assert one("az_nas", "az_nas", "nb201", "cifar10", "spearman").value == 0.9127
    meco = one("meco", "meco", "nb201", "cifar10", "spearman")
    assert meco.approximate and meco.text() == "~0.89" and "NeurIPS 2023" in meco.source
    lw = one("synflow", "layerwise_ssnr", "nb201", "cifar10", "spearman")
    assert (lw.value, lw.protocol) == (0.8178, "default")
    paper = {  # the paper's Kendall table, NASLib's samples: sum, SSNR, layer-wise
        ("nb201", "cifar100"): (0.5615, 0.5252, 0.5943),
        ("nb301", "cifar10"): (0.1199, 0.2072, 0.3392),
        ("tnb101", "class_scene"): (0.5408, 0.5995, 0.5794),
    }
    for (space, task), want in paper.items():
        got = [one("synflow", a, space, task, "kendall") for a in ("sum", "ssnr", "layerwise_ssnr")]
        assert tuple(r.value for r in got) == want and {r.protocol for r in got} == {"naslib"}
    cell = pd.DataFrame(
        [{"saliency": "synflow", "aggregation": "layerwise_ssnr", "benchmark": "nb201"}]
    ).assign(task="cifar10")
    assert compare.with_references(cell, "naslib")["published_kendall"].item() == 0.5549
    assert np.isnan(compare.with_references(cell, "default")["published_kendall"].item())
    for m in zero_cost.MEASURES.values():  # every measure's reference text is understood
        assert not m.reference or references.parse(m.name, m.reference, "x"), m.name


def test_the_field_table_marks_the_best_says_what_does_not_apply_and_how_to_compute(
    cache_dir: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
):
    for m in list(zero_cost.MEASURES.values()):  # as if written for NB201 only
        monkeypatch.setitem(zero_cost.MEASURES, m.name, replace(m, spaces=("nb201",)))
    long, problems = compare.field(Cache(settings.cache_file), settings=settings)
    assert not problems
    assert set(long["column"]) == {compare.column_name(*c) for c in compare.FIELD_COLUMNS}
    assert set(long["saliency"]) == {*saliency.REGISTRY, compare.BASELINE}
    cells = long.set_index(["column", "saliency", "aggregation"])
    for m in zero_cost.MEASURES:  # NB201-only measures on NB301
        row = cells.loc[("nb301/cifar10", m, zero_cost.score_names(m)[0])]
        assert row["status"] == compare.DOES_NOT_APPLY and not isinstance(row["command"], str)
    row = cells.loc[("nb201/cifar100", "snip", "sum")]
    assert row["status"] == compare.NOT_COMPUTED
    assert row["command"] == (
        "python -m ssnr_core evaluate --benchmark nb201 --task cifar100 --saliency snip --seed 0"
    )
    args = cli.parser(settings).parse_args(row["command"].split()[3:])  # a valid command
    assert (args.benchmark, args.task, args.saliency) == ("nb201", "cifar100", "snip")
    lw = cells.loc[("nb201/cifar10", "synflow", "layerwise_ssnr")]
    assert lw["n"] == SAMPLE and lw["published_spearman"] == 0.8178
    assert np.isnan(lw["published_kendall"])  # the paper's Kendall is on NASLib's sample
    assert cells.loc[("nb201/cifar10", "az_nas", "az_nas"), "published_kendall"] == 0.7409
    # NB301 has only NASLib's truth: the paper's figure stands beside ours under both
    assert cells.loc[("nb301/cifar10", "synflow", "layerwise_ssnr"), "published_kendall"] == 0.3392
    best = long[compare.best(long, "kendall")]
    ok = long[(long["status"] == "ok") & (long["saliency"] != compare.BASELINE)]
    assert best["kendall"].tolist() == [ok[ok["column"] == "nb201/cifar10"]["kendall"].max()]
    text = compare.to_text(long, "spearman")
    assert "★" in text and "published 0.8178" in text and compare.DOES_NOT_APPLY in text
    assert "0.3392 (the layer-wise SSNR paper" in text  # NB301: not computed, so listed
    assert row["command"] in text


def test_cli_compare_field_plain_and_json(
    cache_dir: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
):
    assert cli.main(["compare", "--field", "--json"], settings) == 0
    records = json.loads(capsys.readouterr().out)
    long, _ = compare.field(Cache(settings.cache_file), settings=settings)
    assert len(records) == len(long)
    [lw] = [
        r
        for r in records
        if (r["column"], r["saliency"], r["aggregation"])
        == ("nb201/cifar10", "synflow", "layerwise_ssnr")
    ]
    assert lw["n"] == SAMPLE and lw["published_spearman"] == 0.8178
    assert cli.main(["compare", "--field", "--metric", "spearman"], settings) == 0
    out = capsys.readouterr().out
    assert "published 0.8178" in out and "caveat: " in out and "grasp" in out
    assert cli.main(["compare", "--field", "--benchmarks", "nb201"], settings) == 2


def test_compare_bars_mark_different_and_small_n():
    rows = [
        {"column": "a", "saliency": "synflow", "aggregation": agg, "n": n, "status": "ok"}
        for agg, n in (("sum", 15625), ("ssnr", 24), ("layerwise_ssnr", 500))
    ]
    long = pd.DataFrame(rows).assign(kendall=0.5, kendall_lo=0.4, kendall_hi=0.6)
    fig = compare_charts.compare_bars(long, "kendall", "τ", {"text": "t"}, small_n=100)
    patterns = {t.name: list(t.marker.pattern.shape) for t in fig.data}
    assert patterns == {
        "synflow · sum (S_n)": [""],
        "synflow · overall SSNR": [compare_charts.SMALL],
        "synflow · layer-wise SSNR": [compare_charts.FEWER],
    }
    assert [list(t.text) for t in fig.data] == [["n=15,625"], ["n=24"], ["n=500"]]


def test_the_field_button_and_the_small_n_chart_warning_in_the_app(cache_dir: Path):
    at = fresh_app()
    at.switch_page("app_pages/compare.py").run()
    at.sidebar.button(key="field_setup").click().run()
    assert not at.exception and not at.error
    grid = at.dataframe[0].value
    assert list(grid.columns) == [compare.column_name(*c) for c in compare.FIELD_COLUMNS]
    assert grid.loc["az_nas · az_nas", "nb301/cifar10"] == compare.NOT_COMPUTED  # it runs there
    assert "published 0.5549" not in " ".join(grid["nb201/cifar10"])  # NASLib's, not ours
    assert any("fewer than 100 architectures" in w.value for w in at.warning)
    assert any("evaluate --benchmark nb201 --task cifar100" in c.value for c in at.code)
    said = " ".join(c.value for c in at.caption)
    assert "top-10% precision" in said and "signed" in said  # synflow's and grasp's caveats


def test_the_synflow_caveat_figures_are_what_the_pack_gives():
    found = pack.read()
    checked = 0
    for caveat in caveats.CAVEATS:
        for m in [m for m in caveat.figures if m.saliency == pack.SALIENCY]:
            table = found.tables[m.task]
            truth = benchmarks.truth(m.space, m.task, m.source)
            assert truth.index.isin(table.index).all() and len(truth) == m.n
            y = truth.to_numpy()
            for score, value in m.values:
                x = table.loc[truth.index, score].to_numpy()
                stat = correlation.kendall if m.metric == "kendall" else correlation.top_k_precision
                assert stat(x, y) == pytest.approx(value, abs=6e-5), (caveat.key, m, score)
                checked += 1
    assert checked >= 12


def test_caveats_follow_the_scores_offered_and_the_saliency_sign(
    cache_dir: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
):
    keys = {name: [c.key for c in caveats.for_saliency(name)] for name in saliency.REGISTRY}
    assert "signed" in keys["grasp"] and "signed" not in keys["synflow"]
    assert "top10" in keys["snip"] and keys["az_nas"] == []  # a measure: no aggregations
    assert [c.key for c in caveats.for_saliency("synflow", ["sum"])] == []
    # `signed` is a fact of each saliency: grasp has negative values, the others none
    arch = nb201.SPACE.examples[0]
    model = nb201.Network(nb201.parse(arch), 10, SeededModules(0, share=False), c=4).train()
    x, y = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0)), torch.arange(8)
    for name, sal in saliency.REGISTRY.items():
        if sal.per_network:
            continue
        values = torch.cat([s.flatten() for s in saliency.compute(name, model, x, y)])
        assert bool((values < 0).any()) == sal.signed, name
    args = ["evaluate", "--benchmark", "nb201", "--task", "cifar10", "--saliency", "synflow"]
    assert cli.main([*args, "--sample", str(SAMPLE), "--baselines", "no"], settings) == 0
    out = capsys.readouterr().out
    assert "caveat: A better rank correlation" in out and "signed" not in out
    assert cli.main([*args, "--sample", str(SAMPLE), "--baselines", "no", "--json"], settings) == 0
    said = json.loads(capsys.readouterr().out)["caveats"]
    assert said == [c.text() for c in caveats.for_saliency("synflow")]


def test_the_explorer_shows_the_caveats_of_the_aggregation_on_screen(cache_dir: Path):
    at = fresh_app({"saliency": SETUP.saliency, "aggregation": "layerwise_ssnr"})
    said = " ".join(c.value for c in at.caption)
    top10 = next(c for c in caveats.CAVEATS if c.key == "top10")
    assert f"Caveat: {top10.claim}" in said and "The sum can beat overall SSNR" not in said
    assert any(top10.text() in m.value for m in at.markdown)  # its figures, one click away
    at = fresh_app({"saliency": SETUP.saliency, "aggregation": "sum"})
    assert not any("Caveat" in c.value for c in at.caption)
