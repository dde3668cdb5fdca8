"""Several seeds, the init protocol, combinations and the evaluate JSON."""

import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from conftest import LOCAL
from scipy import stats

from ssnr_core import benchmarks, cli
from ssnr_core.proxies import network
from ssnr_core.proxies.setup import Setup
from ssnr_core.runs import scoring
from ssnr_core.runs.cache import Cache
from ssnr_core.runs.threads import one_thread
from ssnr_core.studies import correlation, evaluation

ARCHS = evaluation.sample("nb201", "cifar10", 6, 0)


def test_seed_average_is_the_mean_of_per_seed_ranks_and_keeps_seed_free_columns():
    idx = pd.Index(list("abcd"), name="arch")
    t0 = pd.DataFrame({"sum": [1.0, 5.0, 3.0, 2.0], "params": [4.0, 3.0, 2.0, 1.0]}, idx)
    t1 = pd.DataFrame({"sum": [10.0, 20.0, 40.0, 30.0], "params": [4.0, 3.0, 2.0, 1.0]}, idx)
    avg = evaluation.seed_average([t0, t1])
    assert avg["sum"].tolist() == [1.0, 3.0, 3.5, 2.5]  # ranks (1,4,3,2) and (1,2,4,3)
    assert avg["params"].tolist() == t0["params"].tolist()  # same for every seed: kept
    assert evaluation.seed_average([t0]) is t0


def test_combination_is_a_mean_of_ranks():
    t = pd.DataFrame({"sum": [3.0, 1.0, 2.0], "params": [1.0, 2.0, 3.0]})
    got = evaluation.with_combinations(t, [("sum", "params")])["sum+params"]
    assert got.tolist() == [2.0, 1.5, 2.5]
    with pytest.raises(ValueError, match="combine"):
        evaluation.parse_combine("sum,bogus")


def test_fresh_init_is_per_arch_and_cached_apart_from_slot(empty_cache):
    with one_thread():  # as the CLI: two spinning threads make this 10x slower here
        _check_fresh_init(empty_cache)


def _check_fresh_init(empty_cache: Cache) -> None:
    slot = Setup("nb201", "cifar10", "synflow")
    fresh = Setup("nb201", "cifar10", "synflow", init="fresh")
    a, b = ARCHS[:2]
    # slot: the same module slot has the same weights in every arch; fresh: it does not
    w = {
        (s.init, arch): network.build_network(s, arch).stem[0].weight.detach().clone()
        for s in (slot, fresh)
        for arch in (a, b)
    }
    assert torch_equal(w["slot", a], w["slot", b])
    assert not torch_equal(w["fresh", a], w["fresh", b])
    assert torch_equal(w["fresh", a], network.build_network(fresh, a).stem[0].weight)
    assert not torch_equal(w["fresh", a], w["slot", a])
    scoring.score(slot, [a], empty_cache, settings=LOCAL)
    scoring.score(fresh, [a], empty_cache, settings=LOCAL)
    assert not np.array_equal(empty_cache.get(slot)[a], empty_cache.get(fresh)[a])
    assert {s.init for s, _ in empty_cache.setups()} == {"slot", "fresh"}


def torch_equal(x, y) -> bool:
    return bool((x == y).all())


def test_a_cache_from_before_the_init_field_keeps_its_rows_as_slot(tmp_path):
    path = tmp_path / "stats.sqlite"
    con = sqlite3.connect(path)
    con.execute(
        "CREATE TABLE stats (space TEXT, task TEXT, saliency TEXT, seed INTEGER, batch TEXT, "
        "dtype TEXT, version TEXT, arch TEXT, layers BLOB NOT NULL, PRIMARY KEY (space, task, "
        "saliency, seed, batch, dtype, version, arch))"
    )
    setup = Setup("nb201", "cifar10", "synflow")
    row = np.arange(6.0).reshape(2, 3)
    old = (*list(vars(setup).values())[:7], ARCHS[0], row.astype("<f8").tobytes())
    con.execute("INSERT INTO stats VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", old)
    con.commit()
    con.close()
    cache = Cache(path)
    assert np.array_equal(cache.get(setup)[ARCHS[0]], row)
    assert cache.get(Setup("nb201", "cifar10", "synflow", init="fresh")) == {}


def test_evaluate_json_names_seeds_init_and_pairs(settings, capsys):
    argv = ["evaluate", "--sample", "6", "--seeds", "0,1", "--n-boot", "30", "--json"]
    assert cli.main([*argv, "--combine", "layerwise_ssnr,params"], settings) == 0
    out = json.loads(capsys.readouterr().out)
    names = {"sum", "ssnr", "layerwise_ssnr", "params", "flops", "layerwise_ssnr+params"}
    for key in ("spearman", "kendall", "ci95", "top10%_precision", "dropped", "metrics"):
        assert set(out[key]) == names, key
    assert out["n"] == 6 and out["seeds"] == [0, 1] and out["init"] == "slot"
    assert out["batch"] == "none" and "200-epoch" in out["truth"] and out["batch_label"]
    assert [r["seed"] for r in out["per_seed"]] == [0, 1]
    assert set(out["paired"]) >= {"layerwise_ssnr-sum", "layerwise_ssnr-ssnr", "ssnr-sum"}
    delta, lo, hi = out["paired"]["layerwise_ssnr-sum"]["kendall"]
    assert lo <= delta <= hi or delta == pytest.approx(lo) or delta == pytest.approx(hi)
    # each seed's figures and the seed average, recomputed from the cache
    cache = Cache(settings.cache_file)
    truth = benchmarks.truth("nb201", "cifar10").reindex(ARCHS).to_numpy()
    tables = [
        evaluation.score_table(cache.get(Setup("nb201", "cifar10", "synflow", s), ARCHS))
        for s in (0, 1)
    ]
    for run, table in zip(out["per_seed"], tables, strict=True):
        expect = correlation.kendall(table["layerwise_ssnr"].to_numpy(), truth)
        assert run["kendall"]["layerwise_ssnr"] == pytest.approx(expect)
    ranks = np.mean([stats.rankdata(t["sum"]) for t in tables], axis=0)
    assert out["spearman"]["sum"] == pytest.approx(correlation.spearman(ranks, truth))
    taus = [r["kendall"]["ssnr"] for r in out["per_seed"]]
    assert out["seed_mean"]["kendall"]["ssnr"] == pytest.approx(np.mean(taus))
    assert out["seed_sd"]["kendall"]["ssnr"] == pytest.approx(np.std(taus, ddof=1))
    assert out["seed_sd"]["kendall"]["params"] == 0.0  # params do not depend on the seed


def test_bad_seeds_and_init_are_one_line_errors(settings, capsys):
    assert cli.main(["evaluate", "--seeds", "0,x"], settings) == 2
    assert cli.main(["evaluate", "--init", "lazy"], settings) == 2
    assert cli.main(["evaluate", "--combine", "sum"], settings) == 2
    assert capsys.readouterr().err.count("\n") == 3


def test_baselines_are_counted_only_when_cheap_or_asked(settings, capsys):
    """FLOPs need a forward pass per arch: `--baselines no` (as `auto` beyond 2,000
    missing archs) leaves them out entirely rather than correlating a counted subset."""
    from ssnr_core import cli

    args = ["evaluate", "--sample", "6", "--n-boot", "0", "--json"]
    assert cli.main([*args, "--baselines", "no"], settings) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["spearman"]["params"] is None and "--baselines yes" in out.err
    assert cli.main(args, settings) == 0  # auto: 6 missing, counted
    assert json.loads(capsys.readouterr().out)["spearman"]["params"] is not None


def test_an_uncounted_baseline_does_not_void_the_other_pairs():
    import numpy as np
    import pandas as pd

    from ssnr_core.studies import evaluation

    rng = np.random.default_rng(0)
    y = pd.Series(rng.normal(size=50), index=[f"a{i}" for i in range(50)])
    table = pd.DataFrame(
        {"sum": y + rng.normal(size=50), "layerwise_ssnr": y, "params": np.nan}, index=y.index
    )
    found = evaluation.paired(table, y, [("layerwise_ssnr", "sum"), ("sum", "params")], 200)
    delta, lo, hi = found["layerwise_ssnr-sum"]["kendall"]
    assert lo < delta < hi and lo > 0
    assert all(np.isnan(found["sum-params"]["kendall"]))
