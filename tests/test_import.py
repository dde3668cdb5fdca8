"""`import-nb201` on tiny benchmark files built with the benchmarks' own classes, checked
against the official APIs' own answers (mean over seeds, 200 and 12 epochs)."""

from __future__ import annotations

import bz2
import json
import math
import pickle
from pathlib import Path

import nas_201_api
import nats_bench
import numpy as np
import pandas as pd
import pytest
import torch

from ssnr_core import benchmarks, cli
from ssnr_core.data import nb201_import, pinned

ARCHS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
    "|none~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|nor_conv_3x3~2|",
    "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|none~2|",
]
SEEDS = {0: [777, 888], 1: [777], 2: [777, 888, 999]}
# dataset -> the evaluation sets NAS-Bench-201 stores for it
EVAL_SETS = {
    "cifar10-valid": ("x-valid", "ori-test"),
    "cifar10": ("ori-test",),
    "cifar100": ("x-valid", "x-test", "ori-test"),
    "ImageNet16-120": ("x-valid", "x-test", "ori-test"),
}


def _arch_results(pkg, index: int, epochs: int, datasets=EVAL_SETS) -> dict:
    """One architecture's ArchResults state for one schedule, with seeded fake accuracies."""
    rng = np.random.default_rng(1000 * index + epochs)
    res = pkg.ArchResults(index, ARCHS[index])
    for dataset, sets in datasets.items():
        for seed in SEEDS[index]:
            train = {e: float(rng.uniform(10, 100)) for e in range(epochs)}
            count = pkg.ResultsCount(
                dataset,
                None,
                train,
                {e: 1.0 for e in range(epochs)},
                1.0,
                10.0,
                {"arch_str": ARCHS[index]},
                seed,
                epochs,
                None,
            )
            keys = [f"{s}@{e}" for s in sets for e in range(epochs)]
            count.update_eval(
                {k: float(rng.uniform(10, 100)) for k in keys},
                {k: 1.0 for k in keys},
                {k: 0.1 for k in keys},
            )
            res.update(dataset, seed, count)
    return res.state_dict()


@pytest.fixture(scope="module")
def nb201_file(tmp_path_factory) -> Path:
    """A NAS-Bench-201 v1_0-like .pth: 12-epoch results only on CIFAR-10-valid."""
    pkg = nas_201_api.api_utils
    data = {
        "meta_archs": ARCHS,
        "arch2infos": {
            i: {
                "less": _arch_results(pkg, i, 12, {"cifar10-valid": EVAL_SETS["cifar10-valid"]}),
                "full": _arch_results(pkg, i, 200),
            }
            for i in range(len(ARCHS))
        },
        "evaluated_indexes": list(range(len(ARCHS))),
    }
    path = tmp_path_factory.mktemp("nb201") / "NAS-Bench-201-v1_0-e61699.pth"
    torch.save(data, path)
    return path


@pytest.fixture(scope="module")
def nats_dir(tmp_path_factory) -> Path:
    """A NATS-tss-v1_0-3ffb9-simple-like folder: meta plus one file per architecture."""
    pkg = nats_bench.api_utils
    root = tmp_path_factory.mktemp("nats") / "NATS-tss-v1_0-3ffb9-simple"
    root.mkdir()
    nats_bench.pickle_save({"meta_archs": ARCHS}, str(root / "meta.pickle"))
    for i in range(len(ARCHS)):
        hps = {"12": _arch_results(pkg, i, 12), "200": _arch_results(pkg, i, 200)}
        nats_bench.pickle_save(hps, str(root / f"{i:06d}.pickle"))
    return root


def _official(api, index: int, task: str, split: str, hp: str, seed: int | bool = False):
    """What the official API's get_more_info answers for our column."""
    dataset = "cifar10-valid" if (task, split) == ("cifar10", "valid") else task
    info = api.get_more_info(index, dataset, hp=hp, is_random=seed)
    key = {"train": "train-accuracy", "valid": "valid-accuracy", "test": "test-accuracy"}[split]
    return info.get(key, math.nan)


def _check_against(api, table: pd.DataFrame, hps=("200", "12")) -> int:
    checked = 0
    for row in table.to_dict("records"):
        for task in nb201_import.TASKS:
            for split in nb201_import.SPLITS:
                for hp in hps:
                    name = nb201_import.column(task, split, hp)
                    try:
                        want = _official(api, row["index"], task, split, hp)
                    except (KeyError, ValueError):
                        assert math.isnan(row[name]), name
                        continue
                    assert row[name] == pytest.approx(want, rel=1e-5), name
                    checked += 1
    return checked


def test_import_nb201_pth_matches_the_official_api(nb201_file, tmp_path, capsys):
    assert cli.main(["import-nb201", str(nb201_file), "--out", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "unpickling" not in err
    table = nb201_import.load_table(tmp_path / "official_nb201.csv.gz")
    assert table["index"].tolist() == [0, 1, 2] and table["arch"].tolist() == ARCHS
    assert set(nb201_import.COLUMNS) <= set(table.columns)
    api = nas_201_api.NASBench201API(torch.load(nb201_file, weights_only=False), verbose=False)
    assert _check_against(api, table) >= 3 * 9 + 3  # every 200-epoch cell, 12-epoch valid
    assert table["cifar100_test_12ep"].isna().all()  # v1_0: no 12-epoch CIFAR-100 runs
    # per-seed values: as the API gives for that seed; absent seeds are NaN
    want = _official(api, 0, "cifar10", "test", "200", 888)
    assert table.loc[0, "cifar10_test_200ep_seed888"] == pytest.approx(want, rel=1e-5)
    assert math.isnan(table.loc[1, "cifar10_test_200ep_seed888"])
    mean = table.loc[2, [f"cifar100_valid_200ep_seed{s}" for s in (777, 888, 999)]].mean()
    assert table.loc[2, "cifar100_valid_200ep"] == pytest.approx(mean, rel=1e-5)


def test_import_nats_simple_folder_matches_the_official_api(nats_dir, tmp_path):
    out = nb201_import.import_benchmark(nats_dir, tmp_path / "t.csv.gz")
    table = nb201_import.load_table(out)
    api = nats_bench.create(str(nats_dir), "tss", fast_mode=True, verbose=False)
    assert _check_against(api, table) == 3 * 9 * 2  # both schedules, every task and split
    # the 200-epoch mean, not the API's default (a random seed's 12-epoch result)
    assert table.loc[2, "cifar10_test_200ep"] != pytest.approx(
        table.loc[2, "cifar10_test_12ep"], rel=1e-6
    )


def test_import_nats_single_file(nats_dir, tmp_path):
    infos = {i: nats_bench.pickle_load(str(nats_dir / f"{i:06d}.pickle.pbz2")) for i in range(3)}
    data = {"meta_archs": ARCHS, "arch2infos": infos, "evaluated_indexes": [0, 1, 2]}
    nats_bench.pickle_save(data, str(tmp_path / "NATS-tss-v1_0-3ffb9.pickle"))
    a = nb201_import.import_benchmark(tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2", tmp_path / "a")
    b = nb201_import.import_benchmark(nats_dir, tmp_path / "b")
    pd.testing.assert_frame_equal(nb201_import.load_table(a), nb201_import.load_table(b))


def test_bad_inputs_are_one_line(tmp_path, capsys):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a pickle")
    listed = tmp_path / "list.pth"
    torch.save([1, 2, 3], listed)
    for path in (junk, listed, tmp_path / "missing.pth"):
        assert cli.main(["import-nb201", str(path), "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and str(path) in err[0]


def test_missing_package_says_how_to_install(tmp_path, monkeypatch, nb201_file):
    import sys

    monkeypatch.setitem(sys.modules, "nas_201_api", None)
    with pytest.raises(ValueError, match="pip install --no-deps nas-bench-201"):
        nb201_import.import_benchmark(nb201_file, tmp_path / "x.csv.gz")


def test_load_table_checks_columns(tmp_path):
    with pytest.raises(ValueError, match="import-nb201"):
        nb201_import.load_table(tmp_path / "none.csv.gz")
    bad = tmp_path / "bad.csv.gz"
    pd.DataFrame({"index": [0], "arch": ["x"]}).to_csv(bad, index=False, compression="gzip")
    with pytest.raises(ValueError, match="lacks columns"):
        nb201_import.load_table(bad)


def test_an_imported_table_is_offered_as_ground_truth(settings, capsys):
    """Every accuracy column with values becomes a source `official:<split>_<N>ep`."""
    strings = pinned.nb201_cell_strings()[:40]
    table = pd.DataFrame({"index": range(40), "arch": strings})
    for name in nb201_import.COLUMNS:
        table[name] = float("nan")
    table["cifar10_valid_200ep"] = np.linspace(50, 90, 40)
    table.loc[3, "cifar10_valid_200ep"] = float("nan")  # not evaluated: left out, not zero
    out = settings.data_dir / nb201_import.TABLE
    out.parent.mkdir(parents=True)
    table.to_csv(out, index=False, compression="gzip")
    assert benchmarks.sources("nb201", "cifar10", settings.data_dir) == [
        "test200",
        "naslib",
        "official:valid_200ep",
    ]
    assert benchmarks.sources("nb201", "cifar100", settings.data_dir) == ["test200", "naslib"]
    truth = benchmarks.truth("nb201", "cifar10", "official:valid_200ep", settings.data_dir)
    assert len(truth) == 39 and truth.iloc[0] == 50.0 and strings[3] not in truth.index
    args = ["evaluate", "--sample", "5", "--n-boot", "0", "--truth", "official:valid_200ep"]
    assert cli.main([*args, "--json"]) == 0
    out_json = json.loads(capsys.readouterr().out)
    assert out_json["n"] == 5 and "validation accuracy" in out_json["truth"]


class _Payload:
    """Unpickled by a loader that runs code, this creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_crafted_file_runs_no_code_and_is_refused_naming_the_official_files(tmp_path, capsys):
    marker = tmp_path / "ran"
    crafted = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    torch.save({"meta_archs": ARCHS, "arch2infos": {0: _Payload(marker)}}, crafted)
    plain = tmp_path / "plain.pth"  # a plain pickle, not a torch file
    plain.write_bytes(pickle.dumps({"meta_archs": ARCHS, "x": _Payload(marker)}))
    nats = tmp_path / "NATS-tss-v1_0-3ffb9.pickle.pbz2"
    nats.write_bytes(bz2.compress(pickle.dumps({"meta_archs": ARCHS, "x": _Payload(marker)})))
    for path in (crafted, plain, nats):
        assert cli.main(["import-nb201", str(path), "--out", str(tmp_path / "out")]) == 2
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(f"error: {path}:") and "never runs code" in line, line
        assert "NAS-Bench-201-v1_1-096897.pth" in line and "NATS-tss-v1_0-3ffb9-simple" in line
        assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_a_good_table_is_never_replaced_by_an_empty_or_partial_import(nb201_file, tmp_path, capsys):
    out = tmp_path / "official_nb201.csv.gz"
    nb201_import.import_benchmark(nb201_file, out)
    good = out.read_bytes()
    no_accuracy = tmp_path / "empty.pth"  # records, but no accuracy in any
    torch.save({"meta_archs": ARCHS, "arch2infos": {0: {"less": None, "full": None}}}, no_accuracy)
    partial = tmp_path / "partial.pth"
    data = torch.load(nb201_file, weights_only=True)
    data["arch2infos"] = {0: data["arch2infos"][0]}
    torch.save(data, partial)
    not_dicts = tmp_path / "records.pth"
    torch.save({"meta_archs": ARCHS, "arch2infos": {0: "x", 1: [1, 2]}}, not_dicts)
    expected = {
        no_accuracy: "no accuracy records",
        partial: "kept the existing table",
        not_dicts: "not a dict of ArchResults states",
        tmp_path: "not a NATS-Bench folder (no meta.pickle.pbz2 in it)",
    }
    for path, message in expected.items():
        assert cli.main(["import-nb201", str(path), "--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        (line,) = [x for x in err.splitlines() if x.startswith("error:")]
        assert "Traceback" not in err and message in line and ".pbz2.pbz2" not in line, err
        assert out.read_bytes() == good
    fresh = tmp_path / "fresh"  # the same partial import where no table is: written
    assert cli.main(["import-nb201", str(partial), "--out", str(fresh)]) == 0
    assert len(nb201_import.load_table(fresh / out.name)) == 1
