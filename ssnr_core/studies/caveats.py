"""What the aggregations do not promise: caveats measured beyond the paper's headline.

Each caveat is about some scores (`scores`: shown wherever one of them is offered), for
every saliency or only a signed one (grasp: values of both signs), and carries the
figures that back it (`Measured`: saliency, space, task, ground truth, sample, metric,
one value per score, n) and the command that made them. The Explorer, the Compare page
and `python -m ssnr_core evaluate` / `compare` all show these texts, written once here.

The figures come from `evaluate --json` runs (seed 0, slot init, 1,000 bootstrap
resamples for the paired intervals); the synflow ones are recomputed from the bundled
pack by the tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ssnr_core.proxies import aggregation, saliency, zero_cost

SSNR_SCORES = ("ssnr", "layerwise_ssnr")
ALL_CELLS = "all 15,625 cells, 200-epoch test accuracy"
NASLIB = "NASLib's sample, val_accuracy"
SIGNED = ", ".join(n for n, s in saliency.REGISTRY.items() if s.signed)
METRIC_LABELS = {"kendall": "Kendall", "top10%_precision": "top-10% precision"}


@dataclass(frozen=True)
class Measured:
    """One measured comparison: `values` per score of `saliency` on space/task."""

    saliency: str
    space: str
    task: str
    source: str  # the ground-truth source ("test200", "naslib")
    metric: str  # "kendall" or "top10%_precision"
    values: tuple[tuple[str, float], ...]  # (score, value), in the order shown
    n: int
    sample: str = ""  # which archs, truth and batch, where not all cells or NASLib's sample

    def text(self) -> str:
        sample = self.sample or (ALL_CELLS if self.source == "test200" else NASLIB)
        shown = ", ".join(f"{aggregation.LABELS.get(s, s)} {v:.3f}" for s, v in self.values)
        return (
            f"{self.saliency} {self.space} {self.task} ({sample}, n = {self.n:,}): "
            f"{METRIC_LABELS[self.metric]} {shown}"
        )


@dataclass(frozen=True)
class Caveat:
    key: str
    scores: tuple[str, ...]  # shown wherever one of these aggregations is offered
    signed_only: bool  # only for a saliency with values of both signs
    claim: str
    figures: tuple[Measured, ...]
    note: str  # what the figures leave out, or the paired interval
    command: str  # what made the figures (or checks the claim)

    def text(self) -> str:
        measured = "; ".join(f.text() for f in self.figures)
        parts = [self.claim]
        if measured:
            parts.append(f"Measured: {measured}.")
        if self.note:
            parts.append(self.note)
        how = "made by" if self.figures else "check"
        return " ".join(parts) + f" ({how}: `{self.command}`)"


def _top10(space: str, task: str, source: str, n: int, sum_: float, lw: float) -> Measured:
    pairs = (("sum", sum_), ("layerwise_ssnr", lw))
    return Measured("synflow", space, task, source, "top10%_precision", pairs, n)


CAVEATS = (
    Caveat(
        "sum_can_win",
        ("ssnr",),
        False,
        "The sum can beat overall SSNR: on NB201 CIFAR-100 and ImageNet16-120 the sum "
        "ranks architectures better.",
        (
            Measured(
                "synflow",
                "nb201",
                "cifar100",
                "test200",
                "kendall",
                (("sum", 0.5696), ("ssnr", 0.5253)),
                15625,
            ),
            Measured(
                "synflow",
                "nb201",
                "ImageNet16-120",
                "test200",
                "kendall",
                (("sum", 0.5628), ("ssnr", 0.4979)),
                15625,
            ),
        ),
        "Paired Δτ overall SSNR − sum: CIFAR-100 −0.044 [−0.051, −0.038], ImageNet16-120 "
        "−0.065 [−0.072, −0.058].",
        "python -m ssnr_core evaluate --benchmark nb201 --task ImageNet16-120 --saliency "
        "synflow --json",
    ),
    Caveat(
        "top10",
        ("layerwise_ssnr",),
        False,
        "A better rank correlation is not a better pick of the best architectures: "
        "layer-wise SSNR's top-10% precision can be lower than the sum's.",
        (
            _top10("nb201", "ImageNet16-120", "test200", 15625, 0.4398, 0.3969),
            _top10("nb201", "cifar10", "naslib", 725, 0.5000, 0.4444),
            _top10("nb201", "cifar100", "naslib", 725, 0.5417, 0.5000),
            _top10("nb201", "ImageNet16-120", "naslib", 724, 0.5417, 0.4028),
        ),
        "On all cells of CIFAR-10 and CIFAR-100 layer-wise SSNR's is higher (0.554 vs "
        "0.522, 0.534 vs 0.509).",
        "python -m ssnr_core evaluate --benchmark nb201 --task ImageNet16-120 --saliency "
        "synflow --truth naslib --json",
    ),
    Caveat(
        "twelve_epochs",
        ("layerwise_ssnr",),
        False,
        "Layer-wise SSNR beats the sum's Kendall τ on all three NB201 tasks' 200-epoch "
        "accuracy (Δτ +0.043, +0.029, +0.031, all cells), but on the 12-epoch ground "
        "truth the sum was reported to beat it; that is not measured here, since only the "
        "official NB201 file holds 12-epoch results.",
        (),
        "The check needs the file imported first: `python -m ssnr_core import-nb201 FILE`.",
        "python -m ssnr_core evaluate --benchmark nb201 --task cifar10 --saliency synflow "
        "--truth official:valid_12ep --json",
    ),
    Caveat(
        "signed",
        SSNR_SCORES,
        True,
        f"A signed saliency ({SIGNED}: values of both signs): positive and negative "
        "saliency cancel in each layer's S_n^l while σ^l grows, so its layer-wise SSNR "
        "carries almost no signal and its overall SSNR less than its sum; use its sum.",
        (
            Measured(
                "grasp",
                "nb201",
                "cifar10",
                "test200",
                "kendall",
                (("sum", 0.4805), ("ssnr", 0.3402), ("layerwise_ssnr", 0.0213)),
                200,
                "the seed-0 sample of 200 cells, 200-epoch test accuracy, synthetic noise "
                "batch of 64",
            ),
        ),
        "95% intervals: sum [0.413, 0.550], overall SSNR [0.262, 0.414], layer-wise SSNR "
        "[−0.075, 0.117]; paired Δτ layer-wise SSNR − sum −0.459 [−0.600, −0.317].",
        "python -m ssnr_core evaluate --benchmark nb201 --task cifar10 --saliency grasp "
        "--sample 200 --seed 0 --json",
    ),
)


def for_saliency(name: str, scores: Iterable[str] | None = None) -> list[Caveat]:
    """The caveats of saliency `name` where `scores` (default: all it offers) are shown;
    none for a per-network measure, which offers no aggregations."""
    if zero_cost.get(name) is not None or name not in saliency.REGISTRY:
        return []
    offered = set(scores) if scores is not None else set(SSNR_SCORES)
    signed = saliency.REGISTRY[name].signed
    return [c for c in CAVEATS if offered & set(c.scores) and (signed or not c.signed_only)]


def for_saliencies(names: Iterable[str]) -> list[Caveat]:
    """The caveats of several saliencies, each once, in `CAVEATS` order."""
    found = {c.key for name in names for c in for_saliency(str(name))}
    return [c for c in CAVEATS if c.key in found]
