"""Published figures to set beside ours: one table, each figure with its source and protocol.

Three kinds, each kept where it was first written and gathered here: the layer-wise SSNR
paper's Kendall table on NASLib's samples (`reproduce.REFERENCE`), its Spearman figures
on all 15,625 NB201 CIFAR-10 cells (below), and each per-network measure's own published
figure (`zero_cost.Measure.reference`, a short text such as "NB201 CIFAR-10, all 15,625
cells: Kendall 0.7409, Spearman 0.9127", parsed here). A reference is a fact about
someone else's run: `protocol` says which of the Compare grid's protocols it was made
under, so a view on another protocol can say that the two differ.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ssnr_core import benchmarks
from ssnr_core.proxies import zero_cost
from ssnr_core.studies import reproduce

METRICS = ("kendall", "spearman")
PAPER = "the layer-wise SSNR paper"
PAPER_SAMPLE = "NASLib's NAS-Bench-Suite-Zero sample, val_accuracy"
ALL_CELLS = "all 15,625 cells, 200-epoch test accuracy"
SPACE_LABELS = {"nb201": "NB201", "nb301": "NB301", "tnb101": "TNB101", "nb101": "NB101"}
SPACE_LABELS |= {"tnb101_macro": "TNB101-macro"}


@dataclass(frozen=True)
class Reference:
    """One published correlation: `proxy` (a saliency or measure) and its `score` column
    (an aggregation, the measure, or a component) against `space`/`task`."""

    proxy: str
    score: str
    space: str
    task: str
    metric: str  # "kendall" or "spearman"
    value: float
    source: str  # who published it
    protocol: str  # a key of `compare.PROTOCOLS`: "default" (all cells) or "naslib"
    sample: str  # which architectures and ground truth, in the source's words
    approximate: bool = False  # reported as "~0.89"

    def text(self) -> str:
        """The value as published: "0.7409", or "~0.89"."""
        return f"~{self.value:.2f}" if self.approximate else f"{self.value:.4f}"

    def label(self) -> str:
        """e.g. "0.7409 (AZ-NAS (Lee & Ham, CVPR 2024); all 15,625 cells)"."""
        return f"{self.text()} ({self.source}; {self.sample})"


def column_label(space: str, task: str) -> str:
    """How the references name a column, e.g. "NB201 CIFAR-10" (as `reproduce` does)."""
    for label, bench, t, _ in reproduce.COLUMNS:
        if (bench, t) == (space, task):
            return label
    return f"{SPACE_LABELS.get(space, space.upper())} {task}"


_FIGURE = re.compile(r"(Kendall|Spearman)\s+(~?)(-?[0-9.]+)", re.IGNORECASE)


def parse(proxy: str, text: str, source: str) -> list[Reference]:
    """The figures of a measure's reference text "<column>[, sample]: Kendall x,
    Spearman ~y" (every score of the measure itself); [] when it names no known column
    or no figure, which `tests` refuse for every registered measure."""
    where, _, figures = text.partition(":")
    labels = {column_label(s, t): (s, t) for s, t in benchmarks.TASKS}
    known = [label for label in labels if where.startswith(label)]
    if not known:
        return []
    label = max(known, key=len)
    space, task = labels[label]
    sample = where[len(label) :].strip(" ,") or "as published"
    protocol = "naslib" if "naslib" in sample.lower() else "default"
    return [
        Reference(
            proxy,
            proxy,
            space,
            task,
            metric.lower(),
            float(value),
            source,
            protocol,
            sample,
            approximate=bool(approx),
        )
        for metric, approx, value in _FIGURE.findall(figures)
    ]


def cited(measure: zero_cost.Measure) -> str:
    """The citation a measure's docstring opens with, e.g. "AZ-NAS (Lee & Ham, CVPR 2024)"."""
    found = re.match(r"^([^()]*\([^()]*\))", measure.doc)
    return " ".join(found.group(1).split()) if found else f"{measure.name}'s authors"


def _paper() -> list[Reference]:
    rows = [
        Reference("synflow", agg, bench, task, "kendall", value, PAPER, "naslib", PAPER_SAMPLE)
        for _, bench, task, values in reproduce.REFERENCE
        for agg, value in zip(reproduce.AGGS, values, strict=True)
    ]
    spearman = (0.7754, 0.7785, 0.8178)  # the paper's Figure 2 panels, all NB201 cells
    for agg, value in zip(reproduce.AGGS, spearman, strict=True):
        rows.append(
            Reference(
                "synflow", agg, "nb201", "cifar10", "spearman", value, PAPER, "default", ALL_CELLS
            )
        )
    return rows


def _measures() -> list[Reference]:
    return [
        ref
        for m in zero_cost.MEASURES.values()
        if m.reference
        for ref in parse(m.name, m.reference, cited(m))
    ]


REFERENCES: tuple[Reference, ...] = (*_paper(), *_measures())


def find(proxy: str, score: str, space: str, task: str, metric: str) -> list[Reference]:
    """The published figures of one cell of the Compare grid under one metric."""
    return [
        r
        for r in REFERENCES
        if (r.proxy, r.score, r.space, r.task, r.metric) == (proxy, score, space, task, metric)
    ]
