"""The cross-benchmark reproduction on a small sample of every space."""

import numpy as np
import pytest
from conftest import LOCAL

from ssnr_core import benchmarks, cli
from ssnr_core.proxies.setup import Setup
from ssnr_core.studies import correlation, evaluation, reproduce


def test_reproduce_small_sample_every_space(empty_cache, tmp_path, capsys):
    code = cli.main(
        ["reproduce", "--sample", "4", "--n-boot", "20", "--out", str(tmp_path), "--json"]
    )
    assert code == 0
    table = reproduce.reproduce(
        empty_cache,
        Setup("nb201", "cifar10", "synflow"),
        settings=LOCAL,
        sample=4,
        study=evaluation.Study(n_boot=20),
    )  # all cached now
    assert list(table["column"]) == [row[0] for row in reproduce.COLUMNS]
    assert (table["n"] == 4).all()
    refs = [r[3][2] for r in reproduce.COLUMNS]
    assert table["layerwise_ssnr_ref"].tolist() == pytest.approx(refs, nan_ok=True)
    assert table["layerwise_ssnr_ref"].isna().sum() == len(reproduce.EXTRA)
    # every figure is the Kendall tau of the cached scores against NASLib's val_accuracy
    for _, row in table.iterrows():
        setup = Setup(row["benchmark"], row["task"], "synflow")
        archs = evaluation.sample(setup.space, setup.task, 4, 0, "naslib")
        scores = evaluation.score_table(empty_cache.get(setup, archs))
        truth = benchmarks.truth(setup.space, setup.task, "naslib").reindex(scores.index)
        expect = correlation.kendall(scores["layerwise_ssnr"].to_numpy(), truth.to_numpy())
        assert row["layerwise_ssnr"] == pytest.approx(expect, nan_ok=True)
    assert table["params"].notna().all() and table["flops"].notna().all()
    assert table["naslib_best"].str.len().gt(0).all()  # every file has some proxy
    d, lo, hi = table.loc[
        0, ["layerwise_ssnr-sum", "layerwise_ssnr-sum_lo", "layerwise_ssnr-sum_hi"]
    ]
    assert lo <= hi and d == pytest.approx(table.loc[0, "layerwise_ssnr"] - table.loc[0, "sum"])
    md = (tmp_path / "reproduce_synflow.md").read_text()
    assert "TNB101 jigsaw" in md and "(0.3392)" in md
    assert "| FLOPs | best NASLib proxy | Δτ layer-wise − sum [95%] |" in md
    assert "No reference figure exists for NB101 CIFAR-10, TNB101-macro jigsaw" in md
    assert "| NB101 CIFAR-10 | 4 |" in md
    csv_text = (tmp_path / "reproduce_synflow.csv").read_text()
    assert csv_text.count("\n") == len(reproduce.COLUMNS) + 1


def test_data_dependent_saliency_refuses_non_classification_tasks(empty_cache):
    setup = Setup("tnb101", "room_layout", "snip")
    arch = evaluation.sample("tnb101", "room_layout", 1, 0)
    with pytest.raises(ValueError, match="needs class labels"):
        evaluation.evaluate(setup, empty_cache, settings=LOCAL, n=1)
    assert arch and np.isfinite(benchmarks.truth("tnb101", "room_layout")).all()


def test_a_measure_reproduces_as_its_score_and_components(empty_cache):
    """A per-network measure has no aggregations: its score and components stand in their
    place, paired against the FLOPs baseline, and a space it cannot run on says so."""
    table = reproduce.reproduce(
        empty_cache,
        Setup("nb201", "cifar10", "az_nas"),
        settings=LOCAL,
        sample=5,
        columns=("NB201 CIFAR-10", "NB101 CIFAR-10"),
        study=evaluation.Study(n_boot=20),
    )
    assert {"az_nas", "expressivity", "complexity"} <= set(table.columns)
    assert "layerwise_ssnr" not in table.columns
    nb201_row, nb101_row = table.iloc[0], table.iloc[1]
    assert nb201_row["n"] == 5 and nb201_row["az_nas-flops"] == pytest.approx(
        nb201_row["az_nas"] - nb201_row["flops"]
    )
    assert not nb101_row["applies"] and nb101_row["n"] == 0
    md = reproduce.to_markdown(table, "az_nas")
    assert "Δτ az_nas − FLOPs [95%]" in md and "| NB101 CIFAR-10 | 0 | does not apply |" in md
    assert "az_nas (one number per network)" in md
