"""Any PyTorch model in, per-layer saliency statistics and the three scores out.

`score_model(model, input_shape)` is the library call a researcher makes about their own
network (or VGG-16): the same saliency registry (`saliency.py`), the same per-layer
statistics and aggregations with the same documented edge values (`aggregation.py`) as a
benchmark architecture, without a search space. `load("torchvision:vgg16")` names a
model for the command line: torchvision's builder (`weights=None`, nothing downloaded)
when torchvision imports, else the same architecture from `spaces.zoo`; `zoo:NAME` asks for
that copy; `package.module:function` calls your own builder with no arguments.

Scoring does not change the model: it runs on a copy when the dtype differs (synflow:
float64 by default), synflow restores the weights' signs, and Dropout / stochastic depth are
switched off while it runs (they would make a saliency random); BatchNorm is left as the
saliency prescribes (synflow bypasses it, the others see the batch's statistics).
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from ssnr_core.proxies import aggregation, batches
from ssnr_core.proxies import saliency as registry
from ssnr_core.spaces import zoo

Batch = tuple[torch.Tensor, torch.Tensor]
MAX_INPUT = 4096  # pixels per side (or features) accepted in an input shape


@dataclass(frozen=True)
class ModelScore:
    """What `score_model` found: per weight layer (Conv2d / Linear, in module order) its
    name, a short description and the (count, sum, M2) statistics; the three scores; and
    what they were computed on."""

    name: str
    saliency: str
    input_shape: tuple[int, ...]
    batch: str  # what the saliency saw, for every report
    dtype: str
    layers: tuple[str, ...]
    kinds: tuple[str, ...]
    stats: np.ndarray = field(repr=False)  # (L, 3) float64

    @property
    def scores(self) -> dict[str, float]:
        """sum, overall SSNR and layer-wise SSNR (NaN if any statistic is not finite)."""
        return {k: float(v[0]) for k, v in aggregation.aggregate_all([self.stats]).items()}

    def table(self) -> pd.DataFrame:
        """One row per layer: kind, weights (count), S_n^l, σ^l and S_n^l / σ^l."""
        cols = aggregation.per_layer(self.stats)
        out = pd.DataFrame({"kind": self.kinds, **cols}, index=pd.Index(self.layers, name="layer"))
        out["count"] = out["count"].astype(np.int64)
        return out

    def dead_layers(self) -> list[str]:
        """Layers whose saliency is zero everywhere (nothing flows through them)."""
        return [n for n, (c, s, m2) in zip(self.layers, self.stats) if c and s == 0 and m2 == 0]

    def to_json(self) -> dict:
        return {
            "model": self.name,
            "saliency": self.saliency,
            "input_shape": list(self.input_shape),
            "batch": self.batch,
            "dtype": self.dtype,
            "scores": self.scores,
            "layers": [
                {"layer": name, **{k: _plain(v) for k, v in row.items()}}
                for name, row in self.table().iterrows()
            ],
        }


def _plain(v: object) -> object:
    return v.item() if isinstance(v, np.generic) else v


def score_model(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    saliency: str = "synflow",
    batch: Batch | None = None,
    dtype: torch.dtype | None = None,
    seed: int = 0,
    name: str | None = None,
    batch_label: str | None = None,
) -> ModelScore:
    """Per-layer saliency statistics and the three aggregations of any model.

    `input_shape` is one sample's shape, e.g. (3, 224, 224). Synflow needs nothing else;
    a data-dependent saliency (snip, grasp, fisher, grad_norm) uses `batch` = (images,
    labels), by default a synthetic noise batch of 64 (seeded by `seed`) with as many
    classes as the model has outputs (`batch_label` says what a given batch is). `dtype`
    defaults to the saliency's (synflow float64). ValueError, with what to do, for a bad
    shape, a model with no Conv2d/Linear layer or statistics that are not finite (synflow
    overflowing float64)."""
    shape = _check_shape(input_shape)
    spec = registry.get(saliency)
    dtype = dtype or spec.dtype
    layers = registry.weight_layers(model)
    if not layers:
        raise ValueError("the model has no Conv2d or Linear layer to score")
    work = model if _dtype_of(model) == dtype else copy.deepcopy(model).to(dtype)
    if spec.needs_data:
        x, y = batch if batch is not None else synthetic_batch(work, shape, seed, dtype)
        described = batch_label or "the given batch"
        if batch is None:
            described = batches.describe("synthetic", seed)
    else:
        x, y = torch.zeros((1, *shape), dtype=dtype), torch.zeros(1, dtype=torch.long)
        described = batches.describe(batches.NONE)
    with _no_dropout(work):
        try:
            found = registry.compute(spec.name, work, x.to(dtype), y)
        except RuntimeError as exc:  # shape mismatches and the like, from the model itself
            raise ValueError(f"the model cannot take a {_shape_text(shape)} input: {exc}") from None
    stats = aggregation.layer_stats(found)
    if not np.isfinite(stats).all():
        bad = [n for (n, _), row in zip(layers, stats) if not np.isfinite(row).all()]
        raise ValueError(_overflow_message(spec.name, dtype, bad))
    kinds = tuple(_kind(m) for _, m in layers)
    return ModelScore(
        name or type(model).__name__,
        spec.name,
        shape,
        described,
        str(dtype).removeprefix("torch."),
        tuple(n for n, _ in layers),
        kinds,
        stats,
    )


def _overflow_message(name: str, dtype: torch.dtype, layers: list[str]) -> str:
    where = ", ".join(layers[:3]) + (f" and {len(layers) - 3} more" if len(layers) > 3 else "")
    if name == "synflow":
        return (
            f"synflow overflows {str(dtype).removeprefix('torch.')} for this model (layers "
            f"{where}): the product of |weights| along its paths exceeds the largest "
            "float. Score it in float64 (the default), on a smaller input, or rescale the "
            "weights; no score is given rather than an infinite one"
        )
    return f"{name} gave non-finite saliency in layers {where}; check the model and batch"


def _check_shape(shape: object) -> tuple[int, ...]:
    try:
        if not isinstance(shape, (tuple, list)):
            raise TypeError
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise ValueError(f"input shape must be integers like 3,224,224, got {shape!r}") from None
    if not dims or len(dims) > 4 or any(d < 1 or d > MAX_INPUT for d in dims):
        raise ValueError(
            f"input shape must be 1 to 4 sizes in 1..{MAX_INPUT} (one sample, no batch "
            f"axis), e.g. 3,224,224; got {_shape_text(dims)}"
        )
    return dims


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _dtype_of(model: nn.Module) -> torch.dtype | None:
    return next((p.dtype for p in model.parameters()), None)


def num_outputs(model: nn.Module, shape: tuple[int, ...]) -> int:
    """The number of class logits the model gives for one input (ValueError if it does
    not give batch x classes, which data-dependent saliencies need)."""
    dtype = _dtype_of(model) or torch.float32
    with torch.no_grad(), _no_dropout(model):
        try:
            out = model(torch.zeros((1, *shape), dtype=dtype))
        except RuntimeError as exc:
            raise ValueError(f"the model cannot take a {_shape_text(shape)} input: {exc}") from None
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        found = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(
            f"a data-dependent saliency needs class logits (batch x classes); this model "
            f"outputs {found}: use synflow, or pass a batch"
        )
    return int(out.shape[1])


def synthetic_batch(
    model: nn.Module, shape: tuple[int, ...], seed: int, dtype: torch.dtype
) -> Batch:
    """The project's synthetic noise batch, labelled for the model's number of outputs."""
    x, y = batches.make_batch("synthetic", shape, num_outputs(model, shape), seed)
    return x.to(dtype), y


@contextmanager
def _no_dropout(model: nn.Module) -> Iterator[None]:
    """Dropout and stochastic depth in eval mode while inside; restored afterwards."""
    random = [
        m
        for m in model.modules()
        if m.training
        and (isinstance(m, nn.modules.dropout._DropoutNd) or type(m).__name__ == "StochasticDepth")
    ]
    for m in random:
        m.eval()
    try:
        yield
    finally:
        for m in random:
            m.train()


def _kind(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        k = "x".join(map(str, m.kernel_size))
        group = f", groups {m.groups}" if m.groups > 1 else ""
        return f"Conv2d {k} {m.in_channels}->{m.out_channels}{group}"
    assert isinstance(m, nn.Linear)
    return f"Linear {m.in_features}->{m.out_features}"


# ---------------------------------------------------------------- named models


def load(spec: str, seed: int = 0) -> tuple[nn.Module, tuple[int, ...], str]:
    """(model, its usual input shape, a note on where it came from) for `torchvision:NAME`,
    `zoo:NAME` or `package.module:function` (your builder, called with no arguments;
    the input shape is then 3x224x224 unless you give one). Weights are seeded by `seed`."""
    source, sep, what = spec.strip().partition(":")
    if not sep or not what:
        raise ValueError(
            f"name a model as torchvision:NAME, zoo:NAME or package.module:function, got {spec!r}"
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if source == "zoo":
            return zoo.build(what), zoo.INPUT_SHAPE, f"{what} from ssnr_core's model zoo"
        if source == "torchvision":
            return _torchvision(what)
        return _callable(source, what), zoo.INPUT_SHAPE, f"{source}:{what}()"


def torchvision_error() -> str | None:
    """Why torchvision cannot be used here, or None when it imports."""
    try:
        importlib.import_module("torchvision.models")
    except Exception as exc:  # the CUDA wheel beside a CPU torch raises RuntimeError
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return None


def _torchvision(name: str) -> tuple[nn.Module, tuple[int, ...], str]:
    problem = torchvision_error()
    if problem is None:
        models = importlib.import_module("torchvision.models")
        try:
            model = models.get_model(name, weights=None)
        except ValueError:
            raise ValueError(f"torchvision has no model {name!r}") from None
        return model, zoo.INPUT_SHAPE, f"torchvision.models.{name}(weights=None)"
    if name not in zoo.BUILDERS:
        raise ValueError(
            f"torchvision does not import here ({problem}), and {name!r} is not in the "
            f"model zoo ({', '.join(zoo.BUILDERS)}); install the CPU wheel of torchvision "
            "0.28.0 (https://download.pytorch.org/whl/cpu)"
        )
    note = (
        f"torchvision does not import here ({problem}); {name} is ssnr_core's copy of "
        "torchvision's architecture (same layers, parameters and init)"
    )
    return zoo.build(name), zoo.INPUT_SHAPE, note


def _callable(module: str, attr: str) -> nn.Module:
    try:
        found = getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        raise ValueError(f"cannot import {module!r}: {exc}") from None
    except AttributeError:
        raise ValueError(f"{module} has no {attr!r}") from None
    model = found() if callable(found) and not isinstance(found, nn.Module) else found
    if not isinstance(model, nn.Module):
        raise ValueError(f"{module}:{attr} is not an nn.Module or a function returning one")
    return model
