"""Per-arch scores in NASLib's zero-cost JSON shape: written by `export` and `evaluate
--json`, read back the way NASLib's predictors read their files."""

from __future__ import annotations

import ast
import json

import numpy as np
import pytest
from conftest import SAMPLE, SETUP, naslib_json
from scipy import stats as st

from ssnr_core import benchmarks, cli
from ssnr_core.proxies import aggregation
from ssnr_core.runs.cache import Cache
from ssnr_core.spaces import get_space, nb201
from ssnr_core.studies import evaluation

PROXIES = ("synflow_sum", "synflow_ssnr", "synflow_layerwise_ssnr")


def read_naslib_shape(path) -> dict:
    """What NASLib's `get_zc_benchmark_api` + `zc_api[str(arch)][proxy]["score"]` do."""
    data = json.loads(path.read_text())
    assert isinstance(data, dict)
    for task, recs in data.items():
        for key, rec in recs.items():
            assert str(tuple(ast.literal_eval(key))) == key  # str() of NASLib's tuple
            for name, v in rec.items():
                if name != "val_accuracy":
                    assert set(v) == {"score", "time"}, (task, key, name)
    return data


def test_export_writes_the_cached_scores_under_naslibs_keys(cache_dir, tmp_path, capsys):
    out = tmp_path / "zc_ours.json"
    argv = ["export", "--sample", str(SAMPLE), "--truth", "test200", "--out", str(out)]
    assert cli.main(argv) == 0
    assert "NASLib zero-cost JSON shape" in capsys.readouterr().err
    data = read_naslib_shape(out)
    archs = evaluation.sample("nb201", "cifar10", SAMPLE, 0)
    stats = Cache(cache_dir / "stats.sqlite").get(SETUP, archs)
    truth = benchmarks.truth("nb201", "cifar10", "test200")
    assert list(data) == ["cifar10"] and len(data["cifar10"]) == SAMPLE
    for arch in archs:
        rec = data["cifar10"][nb201.to_naslib(nb201.parse(arch))]
        expect = aggregation.aggregate_all([stats[arch]])
        for agg, name in zip(aggregation.AGGREGATIONS, PROXIES, strict=True):
            assert rec[name] == {"score": float(expect[agg][0]), "time": None}
        assert rec["val_accuracy"] == truth[arch]


def test_exported_keys_are_naslibs_own_for_its_sample(settings, tmp_path, capsys):
    out = tmp_path / "zc.json"
    argv = ["export", "--task", "cifar10,cifar100", "--truth", "naslib", "--sample", "6"]
    assert cli.main([*argv, "--out", str(out), "--workers", "1"]) == 0
    data = read_naslib_shape(out)
    theirs = naslib_json("zc_nasbench201.json")
    assert set(data) == {"cifar10", "cifar100"}
    for task, recs in data.items():
        assert len(recs) == 6
        for key, rec in recs.items():
            assert key in theirs[task]  # NASLib's zc_api[str(arch)] finds it
            assert rec["val_accuracy"] == theirs[task][key]["val_accuracy"]
            assert all(np.isfinite(rec[p]["score"]) for p in PROXIES)


def test_evaluate_json_carries_the_per_arch_scores_it_correlated(cache_dir, capsys):
    argv = ["evaluate", "--sample", str(SAMPLE), "--n-boot", "20", "--baselines", "no"]
    assert cli.main([*argv, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    recs = found["per_arch"]["cifar10"]
    assert len(recs) == found["n"] == SAMPLE
    y = [r["val_accuracy"] for r in recs.values()]
    for agg, name in zip(aggregation.AGGREGATIONS, PROXIES, strict=True):
        x = [r[name]["score"] for r in recs.values()]
        assert st.kendalltau(x, y).statistic == pytest.approx(found["kendall"][agg], abs=1e-12)


def test_every_space_maps_naslib_keys_both_ways():
    files = {
        "nb201": "zc_nasbench201.json",
        "nb301": "zc_nasbench301.json",
        "tnb101": "zc_transbench101_micro.json",
    }
    for space, name in files.items():
        sp = get_space(space)
        for task, recs in naslib_json(name).items():
            for key in list(recs)[:50]:
                assert sp.naslib_key(sp.canonical(key)) == key, (space, task, key)
