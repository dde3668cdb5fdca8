"""The Explorer's research section in AppTest: size baselines, paired verdicts and init
seeds show what `evaluation.run(..., compute=False)` computes on the same archs."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
from conftest import LOCAL, SAMPLE, SETUP
from streamlit.testing.v1 import AppTest
from test_app import app_env, cache, fresh_app, settings  # noqa: F401 (app_env: autouse fixture)

from ssnr_app import loaders, panels
from ssnr_core import benchmarks
from ssnr_core.runs import scoring
from ssnr_core.runs.threads import one_thread
from ssnr_core.studies import baselines, evaluation

LABEL = "NB201 mean 200-epoch test accuracy"


def core(seeds: tuple[int, ...] = (SETUP.seed,)) -> evaluation.Evaluation:
    archs = evaluation.sample(SETUP.space, SETUP.task, SAMPLE, SETUP.seed)
    truth = benchmarks.truth(SETUP.space, SETUP.task)
    label = benchmarks.source_label(SETUP.space, SETUP.task, "test200")
    return evaluation.run(
        SETUP,
        cache(),
        archs,
        truth,
        truth_label=label,
        settings=LOCAL,
        study=evaluation.Study(
            seeds=tuple(seeds),
            n_boot=loaders.n_boot_for(SAMPLE),
            pairs=loaders.RESEARCH_PAIRS,
            compute=False,
        ),
    )


def research_frame(at: AppTest, row: str) -> pd.DataFrame:
    for frame in at.dataframe:
        if row in frame.value.index and "kendall_lo" in frame.value.columns:
            return frame.value
    raise AssertionError(f"no research table with row {row!r}")


def at_sample() -> AppTest:
    at = fresh_app()
    at.sidebar.number_input(key="sample").set_value(SAMPLE).run()
    at.toggle(key="research").set_value(True).run()
    assert not at.exception and not at.error
    return at


def test_baselines_are_counted_on_request_and_match_the_core(cache_dir: Path):
    at = at_sample()
    count = [b for b in at.button if b.label.startswith("Count params and FLOPs of 24")]
    assert count, [b.label for b in at.button]
    # Nothing counted yet: no row of empty cells and no "nan" verdict, but why.
    assert "params" not in research_frame(at, "layerwise_ssnr").index
    assert any("Not shown: params, flops" in c.value for c in at.caption)
    texts = [m.value for m in at.markdown]
    assert not any("nan" in t for t in texts)
    assert any("no verdict (params not counted for these architectures" in t for t in texts)
    count[0].click().run()
    assert not at.exception and not at.error
    assert not any(b.label.startswith("Count params") for b in at.button)
    expected = core()
    shown = research_frame(at, "params")
    for name in ("params", "flops", "layerwise_ssnr", "sum"):
        assert shown.loc[name, "n"] == expected.summaries[name].n == SAMPLE
        assert shown.loc[name, "spearman"] == expected.summaries[name].spearman
        assert shown.loc[name, "kendall_lo"] == expected.summaries[name].kendall_ci95[0]
    texts = [m.value for m in at.markdown]
    sentences = [*expected.verdicts("kendall").values(), *expected.verdicts("spearman").values()]
    assert len(sentences) == 6
    for sentence in sentences:
        assert sentence in texts
    assert any(f"n = {SAMPLE} architectures" in c.value and LABEL in c.value for c in at.caption)
    # NASLib's proxies only beside NASLib's own ground truth (its archs, its accuracy).
    assert not any("spearman with NASLib" in f.value.columns for f in at.dataframe)


def test_seeds_show_per_seed_correlations_and_offer_the_missing_seed(cache_dir: Path):
    at = at_sample()
    at.text_input(key="init_seeds").set_value("0,1").run()
    assert not at.exception and not at.error
    assert at.query_params["seeds"] == ["0,1"] or at.query_params["seeds"] == "0,1"
    (compute,) = [
        b for b in at.button if b.label.startswith("Compute") and "init seed 1" in b.label
    ]
    compute.click().run()  # one background job for seed 1, on the page's 24 archs
    assert not at.exception
    archs = evaluation.sample(SETUP.space, SETUP.task, SAMPLE, SETUP.seed)
    seed1 = replace(SETUP, seed=1)
    deadline = time.monotonic() + 90
    while len(cache().get(seed1, archs)) < SAMPLE and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(cache().get(seed1, archs)) == SAMPLE, "the seed-1 job did not finish in time"
    while panels.running_jobs(settings()) and time.monotonic() < deadline:
        time.sleep(0.2)  # the job has written its last row: wait for it to exit
    at.run()
    assert not at.exception and not at.error
    assert not any("init seed 1" in b.label for b in at.button)
    expected = core((0, 1))
    mean, sd = expected.seed_stats("kendall")
    (table,) = [f.value for f in at.dataframe if "seed 1" in f.value.index][:1]
    for name in ("sum", "ssnr", "layerwise_ssnr"):
        assert table.loc["mean", name] == mean[name]
        assert table.loc["sd", name] == sd[name]
        assert table.loc["seed-averaged score", name] == expected.summaries[name].kendall
        assert table.loc["seed 1", name] == expected.per_seed[1][name].kendall


def test_bad_seeds_are_one_error(cache_dir: Path):
    at = at_sample()
    at.text_input(key="init_seeds").set_value("0,x").run()
    assert not at.exception
    assert len(at.error) == 1 and "Init seeds" in at.error[0].value


def test_compare_has_baseline_rows_from_the_baseline_cache_only(cache_dir: Path):
    at = fresh_app()
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception and not at.error
    grid = at.dataframe[0].value
    assert grid.loc["baseline · params", "nb201/cifar10"] == "not counted"
    assert grid.loc["baseline · flops", "nb201/cifar10"] == "not counted"
    archs = evaluation.sample(SETUP.space, SETUP.task, SAMPLE, SETUP.seed)
    counts = baselines.cache_for(cache().path)
    baselines.table(SETUP.space, SETUP.task, archs[:12], counts)
    at.run()
    assert not at.exception and not at.error
    grid = at.dataframe[0].value
    truth = benchmarks.truth(SETUP.space, SETUP.task)
    table = baselines.table(
        SETUP.space, SETUP.task, [a for a in truth.index if a in archs[:12]], counts
    )
    expected = evaluation.correlate(table, truth, loaders.n_boot_for(len(table)), SETUP.seed)
    for name in ("params", "flops"):
        s = expected[name]
        text = f"{panels.fmt(s.kendall)} {panels.fmt_range(s.kendall_ci95)} · n=12 ⚠ small n"
        assert grid.loc[f"baseline · {name}", "nb201/cifar10"] == text
    assert grid.loc["baseline · params", "nb201/cifar100"] == "not counted"


def test_naslib_truth_shows_naslibs_stored_proxies_and_the_agreement(cache_dir: Path):
    archs = evaluation.sample(SETUP.space, SETUP.task, SAMPLE, SETUP.seed, "naslib")
    with one_thread():
        scoring.score(SETUP, archs, cache(), settings=LOCAL)
    at = fresh_app({"truth": "naslib", "sample": str(SAMPLE), "seeds": "0"})
    assert not at.exception and not at.error
    assert at.text_input(key="init_seeds").value == "0"
    truth = benchmarks.truth(SETUP.space, SETUP.task, "naslib")
    label = benchmarks.source_label(SETUP.space, SETUP.task, "naslib")
    expected = evaluation.run(
        SETUP,
        cache(),
        archs,
        truth,
        truth_label=label,
        settings=LOCAL,
        study=evaluation.Study(n_boot=loaders.n_boot_for(SAMPLE), compute=False),
    )
    assert expected.naslib and expected.agreement
    (proxies,) = [f.value for f in at.dataframe if "synflow" in f.value.index and "n" in f.value]
    for name, s in expected.naslib.items():
        assert proxies.loc[name, "spearman"] == s.spearman
        assert proxies.loc[name, "kendall"] == s.kendall
        assert proxies.loc[name, "n"] == s.n
    (agree,) = [f.value for f in at.dataframe if "spearman with NASLib" in f.value.columns]
    rho, n = expected.agreement["sum"]
    assert agree.loc["sum (S_n)", "spearman with NASLib"] == rho
    assert agree.loc["sum (S_n)", "n"] == n == SAMPLE


def test_a_seed_beyond_sqlites_integers_in_the_url_is_one_error(cache_dir: Path):
    at = fresh_app({"seeds": "0,99999999999999999999", "sample": str(SAMPLE)})
    assert not at.exception
    assert len(at.error) == 1 and "Init seeds" in at.error[0].value
    assert "0..9,223,372,036,854,775,807" in at.error[0].value
