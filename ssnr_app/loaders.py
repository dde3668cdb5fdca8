"""Cached reads of `ssnr_core`: settings, ground truth, samples, cached scores, correlations.

Each loader is a thin `st.cache_data` wrapper keyed cheaply (an architecture list by
its digest, the cache by its row count), so a rerun re-reads nothing that did not
change and a new result from a background job shows up on the next read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from ssnr_app.text import plain
from ssnr_core import benchmarks
from ssnr_core.proxies import Setup, aggregation, batches, network
from ssnr_core.runs import Cache, Settings, timings
from ssnr_core.spaces import get_space
from ssnr_core.studies import (
    Summary,
    baselines,
    correlation,
    evaluation,
    explain,
    figures,
    lecture,
    naslib,
    pack,
    pruning,
)

# What reading ground truth or the cache can raise (DataError is a ValueError, CacheError
# an OSError): shown with st.error, never as a traceback.
READ_ERRORS = (ValueError, OSError)


@st.cache_resource
def settings() -> Settings:
    """The process's settings, read from the environment once (the app's edge)."""
    return Settings.from_env()


def cache(settings: Settings) -> Cache:
    """The score cache; CacheError (an OSError) when it cannot be opened."""
    return Cache(settings.cache_file)


class Archs(tuple):
    """A tuple of architecture strings carrying a digest, so that st.cache_data hashes
    15,625 names in microseconds (see `HASH_FUNCS`)."""

    digest: str

    def __new__(cls, items: Sequence[str]) -> Archs:
        obj = super().__new__(cls, items)
        obj.digest = hashlib.blake2b("\n".join(items).encode(), digest_size=16).hexdigest()
        return obj


# Typed as st.cache_data takes it (dict is invariant in its key type).
HASH_FUNCS: dict[str | type[Any], Callable[[Any], Any]] = {Archs: lambda a: a.digest}


def space_problem(name: str) -> str | None:
    """None when the search space imports, else a message for st.error. Any exception
    counts: a half-finished space module can raise anything at import."""
    try:
        get_space(name)
    except Exception as exc:  # shown to the user instead of a traceback
        return (
            f"The {name} search space is not available in this installation "
            f"({type(exc).__name__}: {exc}). Pick another benchmark."
        )
    return None


def space_label(name: str) -> str:
    try:
        return f"{get_space(name).label} ({name})"
    except Exception:  # an unavailable space is still listed, by its short name
        return name


@st.cache_data(show_spinner=False, max_entries=16)
def truth(space_name: str, task: str, source: str | None, data_dir: Path) -> pd.Series:
    """Ground truth (the data folder is part of the key: its copy wins over the bundled)."""
    return benchmarks.truth(space_name, task, source, data_dir)


@st.cache_data(show_spinner=False, max_entries=16, hash_funcs=HASH_FUNCS)
def sample(
    space_name: str, task: str, n: int | None, seed: int, source: str | None, data_dir: Path
) -> Archs:
    """`evaluation.sample`: the seeded sample the CLI and the jobs draw."""
    return Archs(evaluation.sample(space_name, task, n, seed, source, data_dir))


def sample_from(values: pd.Series, n: int | None, seed: int) -> Archs:
    """`evaluation.draw` applied to an uploaded ground truth."""
    return Archs(evaluation.draw(values.index.tolist(), n, seed))


def version(setup: Setup, settings: Settings) -> int:
    """The setup's row count in the cache: a cheap key that moves when a job adds rows."""
    return cache(settings).count(setup)


@st.cache_data(show_spinner=False, max_entries=16, hash_funcs=HASH_FUNCS)
def scores(setup: Setup, archs: Archs, cache_file: Path, rows: int) -> pd.DataFrame:
    """Scores of the cached networks among `archs`, in their order (`rows`, the setup's
    count, re-keys this as a job adds results; otherwise it is read once)."""
    found = Cache(cache_file).get(setup, archs)
    return evaluation.score_table(found, setup.saliency, weights=True)


@st.cache_resource(show_spinner=False)
def bundled_pack() -> pack.Pack | None:
    """The pack shipped with the package (`studies.pack`), read once per server; None
    when it is missing or damaged (the app then reads the cache alone)."""
    try:
        return pack.read()
    except pack.PackError:
        return None


def packed(setup: Setup) -> bool:
    """Whether the bundled pack holds this setup's scores (all its cells, no computing)."""
    found = bundled_pack() if settings().pack else None
    return found is not None and found.covers(setup)


@st.cache_resource(show_spinner=False, max_entries=16, hash_funcs=HASH_FUNCS)
def pack_scores(setup: Setup, archs: Archs) -> pd.DataFrame:
    """The pack's rows of `archs`, in their order (shared, not copied: never modified)."""
    found = bundled_pack()
    assert found is not None and found.covers(setup)
    table = found.tables[setup.task]
    return table.loc[[a for a in archs if a in table.index]]


def cached_scores(setup: Setup, archs: Archs, settings: Settings) -> pd.DataFrame:
    """The pack's scores when it holds the setup, else `scores`, keyed by the cache's
    current row count for the setup."""
    if packed(setup):
        return pack_scores(setup, archs)
    rows = version(setup, settings)
    if not rows:
        return evaluation.score_table({}, setup.saliency, weights=True)
    return scores(setup, archs, settings.cache_file, rows)


def scored_count(setup: Setup, archs: Archs, settings: Settings) -> int:
    """How many of `archs` are scored (packed or cached)."""
    return len(cached_scores(setup, archs, settings))


@st.cache_data(show_spinner=False, max_entries=16, hash_funcs=HASH_FUNCS)
def _cached_prefix(setup: Setup, ordered: Archs, cache_file: Path, rows: int) -> int:
    have = Cache(cache_file).get(setup, ordered)
    return next((i for i, a in enumerate(ordered) if a not in have), len(ordered))


def largest_cached_sample(setup: Setup, source: str | None, settings: Settings) -> int:
    """The largest n whose seeded sample is wholly cached (or packed): the sample of n
    is cached exactly when the first n of `evaluation.draw_order` are."""
    all_archs = truth(setup.space, setup.task, source, settings.data_dir).index.tolist()
    if packed(setup):
        return len(all_archs)
    rows = version(setup, settings)
    if not rows:
        return 0
    order = evaluation.draw_order(len(all_archs), setup.seed)
    ordered = Archs([all_archs[i] for i in order])
    return _cached_prefix(setup, ordered, settings.cache_file, rows)


n_boot_for = correlation.n_boot_for


@st.cache_data(show_spinner=False, max_entries=64)
def correlate(scores: pd.Series, values: pd.Series, n_boot: int, seed: int) -> Summary:
    """`evaluation.correlate` for one score column (cached per column and sample)."""
    name = str(scores.name)
    return evaluation.correlate(scores.to_frame(name), values, n_boot, seed)[name]


@st.cache_data(show_spinner=False, max_entries=32)
def summaries(
    key: tuple, _table: pd.DataFrame, _values: pd.Series, n_boot: int, seed: int
) -> dict[str, Summary]:
    """`evaluation.correlate` of every score column of `_table` (the aggregations, or a
    measure's score and components), cached under `key`, which
    must name the table and the truth (e.g. `View.key`): hashing 15,625 scores and arch
    names on every rerun would cost more than a switch may."""
    names = [c for c in _table.columns if c != evaluation.WEIGHTS]
    return evaluation.correlate(_table[names], _values, n_boot, seed)


def pack_summaries(
    setup: Setup, source: str | None, n: int, n_boot: int
) -> dict[str, Summary] | None:
    """The pack's stored correlations, when they are exactly what would be computed: the
    packed setup, all its cells, the task's default truth and the same bootstrap."""
    found = bundled_pack()
    default = benchmarks.get_task(setup.space, setup.task).sources[0]
    if found is None or not packed(setup) or (source or default) != default or n != found.n:
        return None
    return found.summaries(setup.task, n_boot, setup.seed)


def digest(values: pd.Series) -> str:
    """A short digest of a Series (index and values), to key what is computed from it."""
    hashed = pd.util.hash_pandas_object(values, index=True).to_numpy()
    return hashlib.blake2b(hashed.tobytes(), digest_size=16).hexdigest()


@st.cache_resource(show_spinner=False, max_entries=48)
def figure(key: tuple, _build: Callable[[], Any]) -> Any:
    """A figure built once per `key` (which must name everything it shows) and shared:
    a switch back to a figure shown before costs its serialisation only. Callers that
    change a figure (e.g. marking a selection) change a copy."""
    return _build()


@st.cache_data(show_spinner=False, max_entries=16)
def ranks(scores: pd.Series, values: pd.Series) -> pd.DataFrame:
    """`figures.ranks`: score rank and true rank of each architecture."""
    return figures.ranks(scores, values)


@st.cache_data(show_spinner=False, max_entries=16)
def top_k(scores: pd.Series, values: pd.Series) -> dict[str, np.ndarray]:
    """`correlation.top_k_curve` of one score column, k from 1% to 100%."""
    y = values.reindex(scores.index).to_numpy(float)
    return correlation.top_k_curve(scores.to_numpy(float), y)


@st.cache_data(show_spinner=False)
def op_names(space: str) -> tuple[str, ...]:
    """`Space.op_names`, or none when the space does not import (the page says why)."""
    try:
        return get_space(space).op_names()
    except Exception:  # an unavailable space: no colouring to offer
        return ()


@st.cache_data(show_spinner=False, max_entries=8, hash_funcs=HASH_FUNCS)
def op_mix(space: str, archs: Archs) -> pd.DataFrame:
    """`figures.op_mix`: op counts per architecture, to colour points by."""
    return figures.op_mix(space, list(archs))


@st.cache_data(show_spinner=False, max_entries=16, hash_funcs=HASH_FUNCS)
def group_table(setup: Setup, archs: Archs, cache_file: Path) -> pd.DataFrame:
    """`figures.group_table` of cached architectures: layer-wise SSNR per layer group.
    The pack holds no per-layer statistics: for a packed setup the few archs the cache
    lacks (a heatmap's 30 or 40) are scored here, in this process."""
    stats = Cache(cache_file).get(setup, archs)
    missing = [a for a in archs if a not in stats]
    if missing and packed(setup):
        stats |= dict(zip(missing, network.many_stats(setup, missing), strict=True))
    return figures.group_table(setup, {a: stats[a] for a in archs if a in stats})


@st.cache_data(show_spinner=False, max_entries=16)
def explanation(setup: Setup, arch: str, data_dir: Path) -> explain.Explanation:
    """`explain.explain`: one network scored live, every intermediate quantity."""
    return explain.explain(setup, arch, data_dir)


# Seconds one network takes to score on one busy CPU core, said while it runs (NB201
# CIFAR-10, first network of a session; measured: synflow 0.5, snip, grad_norm and
# fisher 3.1; grasp about 28).
EXPECTED_S = {"grasp": 30, "snip": 3, "grad_norm": 3, "fisher": 3, "synflow": 1}


def scoring_message(setup: Setup, arch: str) -> str:
    seconds = EXPECTED_S.get(setup.saliency, 3)
    return f"Scoring `{arch}` with {setup.saliency} (about {seconds} s on CPU)…"


def estimate(setup: Setup, archs: int, device: str, settings: Settings) -> timings.Estimate:
    """How long `archs` new architectures of `setup` take here, at the recorded rate
    (`runs.timings`; a small file, read afresh so a finished job counts at once)."""
    found = timings.read(settings.cache_file)
    return timings.estimate(found, setup, archs, device=device)


@st.cache_data(show_spinner=False, max_entries=16)
def naslib_stored(space: str, task: str, saliency: str, data_dir: Path) -> naslib.Stored | None:
    """`naslib.stored` with bootstrap intervals (NASLib's ~725 architectures)."""
    return naslib.stored(space, task, saliency, n_boot_for(725), data_dir)


@dataclass(frozen=True)
class Network:
    """One scored network: per-layer saliencies and what the page shows of them."""

    arch: str
    names: list[str]
    raw: list[np.ndarray]  # per-parameter saliencies, signed
    params: int

    @property
    def stats(self) -> np.ndarray:
        return aggregation.layer_stats(self.raw)

    def figures(self) -> dict[str, object]:
        """The whole-network figures, for the cards or the side-by-side table."""
        stats = self.stats
        return {
            "params": self.params,
            "weight layers": len(self.names),
            **{aggregation.LABELS[n]: fn(stats) for n, fn in aggregation.AGGREGATIONS.items()},
        }

    def table(self) -> pd.DataFrame:
        cols = aggregation.per_layer(self.stats)
        return pd.DataFrame(
            {
                "layer": self.names,
                "count": cols["count"].astype(int),
                "S_n^l": cols["sum"],
                "sigma^l": cols["sigma"],
                "S_n^l/sigma^l": cols["snr"],
                "zeros": [int((v == 0).sum()) for v in self.raw],
            }
        )


@st.cache_data(show_spinner=False, max_entries=16)
def one_network(setup: Setup, arch: str) -> Network:
    """`network.saliencies` of one network (the cached scores' weights and batch)."""
    names, tensors = network.saliencies(setup, arch)
    params = sum(p.numel() for p in network.build_network(setup, arch).parameters())
    return Network(arch, names, [t.numpy().reshape(-1) for t in tensors], params)


@st.cache_data(show_spinner=False, max_entries=4)
def lecture_facts(task: str, data_dir: Path) -> lecture.Facts:
    """`lecture.facts` of the bundled pack's table for one task (all 15,625 cells)."""
    found = bundled_pack()
    if found is None:
        raise pack.PackError(f"the bundled pack is missing or damaged: `{pack.COMMAND}`")
    values = truth(pack.SPACE, task, None, data_dir)
    n_boot = n_boot_for(found.n)
    stored = found.summaries(task, n_boot, 0)
    return lecture.facts(found.tables[task], values, n_boot=n_boot, summaries=stored)


@st.cache_resource(show_spinner=False, max_entries=2)
def pruning_curve(seed: int = 0) -> pd.DataFrame:
    """`pruning.prune_curve` with its defaults (synflow, magnitude, global), once per
    server (training the small CNN takes seconds)."""
    return pruning.prune_curve(seed=seed)


def truth_label(setup: Setup, source: str | None = None) -> str:
    """What a setup's ground truth is (its task's default source unless named)."""
    source = source or benchmarks.get_task(setup.space, setup.task).sources[0]
    return benchmarks.source_label(setup.space, setup.task, source)


def command(setup: Setup, n: int | None, truth_source: str | None) -> str:
    """The CLI command that reproduces a view's numbers (`evaluate`, same sample)."""
    parts = [
        "python -m ssnr_core evaluate",
        f"--benchmark {setup.space} --task {setup.task} --saliency {setup.saliency}",
        f"--seed {setup.seed} --init {setup.init}",
    ]
    if n is not None:
        parts.append(f"--sample {n}")
    if truth_source:
        parts.append(f"--truth {truth_source}")
    return " ".join([*parts, "--json"])


def about(setup: Setup, truth_label: str, n: int, reproduce: str) -> dict[str, object]:
    """What an export was computed on, for its metadata header."""
    return {
        "benchmark": setup.space,
        "task": setup.task,
        "saliency": setup.saliency,
        "truth": truth_label,
        "batch": batches.describe(setup.batch, setup.seed),
        "seed": setup.seed,
        "init": setup.init,
        "dtype": setup.dtype,
        "code version": setup.version,
        "n": n,
        "digits": f"{aggregation.SIGNIFICANT} significant",
        "reproduce": reproduce,
    }


@dataclass(frozen=True)
class Provenance:
    """What a figure was computed on: said under every card and chart."""

    n: int
    truth: str
    batch: str
    seed: int

    @classmethod
    def of(cls, setup: Setup, n: int, truth: str) -> Provenance:
        return cls(n, truth, batches.describe(setup.batch, setup.seed), setup.seed)

    def text(self) -> str:
        """For Markdown (a caption): the ground truth, possibly a user's file, escaped."""
        return (
            f"n = {self.n:,} architectures · ground truth: {plain(self.truth)} · "
            f"batch: {self.batch} · seed {self.seed}"
        )


# ---------------------------------------------------------------- research

RESEARCH_PAIRS = (
    ("layerwise_ssnr", "sum"),
    ("layerwise_ssnr", "params"),
    ("layerwise_ssnr", "flops"),
)


def baseline_count(space: str, task: str, settings: Settings) -> int:
    """Rows of baselines.sqlite for the space and task: a key that moves as counts land."""
    found = baselines.cache_for(settings.cache_file)
    return len(found.get(space, task)) if found else 0


def uncounted(space: str, task: str, archs: Sequence[str], settings: Settings) -> list[str]:
    """The archs whose params/flops baselines.sqlite lacks."""
    found = baselines.cache_for(settings.cache_file)
    have = found.get(space, task) if found else {}
    return [a for a in archs if a not in have]


@st.cache_data(show_spinner=False, max_entries=16, hash_funcs=HASH_FUNCS)
def _research(
    setup: Setup,
    archs: Archs,
    values: pd.Series,
    label: str,
    seeds: tuple[int, ...],
    n_boot: int,
    cache_file: Path,
    data_dir: Path,
    key: tuple[int, ...],
) -> evaluation.Evaluation:
    return evaluation.run(
        setup,
        Cache(cache_file),
        list(archs),
        values,
        truth_label=label,
        settings=Settings(data_dir=data_dir, cache_dir=cache_file.parent, workers=1),
        study=evaluation.Study(seeds=seeds, n_boot=n_boot, pairs=RESEARCH_PAIRS, compute=False),
    )


def research(
    setup: Setup,
    archs: Archs,
    values: pd.Series,
    label: str,
    seeds: tuple[int, ...],
    n_boot: int,
    settings: Settings,
) -> evaluation.Evaluation:
    """`evaluation.run(..., compute=False)` on what the caches hold (the archs cached for
    every seed), keyed by each seed's row count and the baseline count."""
    key = (
        *(version(replace(setup, seed=s), settings) for s in seeds),
        baseline_count(setup.space, setup.task, settings),
    )
    return _research(
        setup, archs, values, label, seeds, n_boot, settings.cache_file, settings.data_dir, key
    )


@st.cache_data(show_spinner=False, max_entries=32)
def _counted(space: str, task: str, cache_file: Path, rows: int) -> pd.DataFrame:
    found = baselines.cache_for(cache_file)
    have = found.get(space, task) if found else {}
    return pd.DataFrame.from_dict(have, orient="index", columns=list(baselines.NAMES))


def counted_baselines(space: str, task: str, settings: Settings) -> pd.DataFrame:
    """params and flops of every arch baselines.sqlite holds for the space and task (no
    counting here), one row per arch."""
    rows = baseline_count(space, task, settings)
    return _counted(space, task, settings.cache_file, rows)
