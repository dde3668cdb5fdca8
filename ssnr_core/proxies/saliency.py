"""Per-parameter saliency of the Conv2d/Linear weights of a network.

Each saliency is a small function `fn(model, x, y) -> one tensor per weight layer`,
registered by name; `compute` runs one and returns float64 tensors in the order of
`weight_layers`. Add a saliency by decorating a function with `@register(...)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ssnr_core.proxies import zero_cost

SaliencyFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], list[torch.Tensor]]


@dataclass(frozen=True)
class Saliency:
    name: str
    fn: SaliencyFn
    needs_data: bool  # False: only the input shape matters (synflow)
    dtype: torch.dtype  # what the network should be in for this saliency
    doc: str
    # Non-empty for a per-network measure (`zero_cost`): its statistics rows are these
    # components, one value each, and the sum / SSNR aggregations do not apply.
    components: tuple[str, ...] = ()
    protocol: str = ""  # a per-network measure's protocol key (part of `Setup.batch`)
    head_free: bool = False  # a measure that reads neither classifier nor labels (`Setup.stored`)
    # True: values of both signs (grasp), which cancel in a layer's sum and swell its σ,
    # so the SSNR aggregations of it carry little signal (`studies.caveats`)
    signed: bool = False

    @property
    def per_network(self) -> bool:
        return bool(self.components)


REGISTRY: dict[str, Saliency] = {}


def register(
    name: str, needs_data: bool = True, dtype: torch.dtype = torch.float32, signed: bool = False
) -> Callable[[SaliencyFn], SaliencyFn]:
    def wrap(fn: SaliencyFn) -> SaliencyFn:
        doc = (fn.__doc__ or "").strip()
        REGISTRY[name] = Saliency(name, fn, needs_data, dtype, doc, signed=signed)
        return fn

    return wrap


def get(name: str) -> Saliency:
    if name not in REGISTRY:
        raise ValueError(f"unknown saliency {name!r}; choose from {', '.join(REGISTRY)}")
    return REGISTRY[name]


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d | nn.Linear]]:
    """The layers whose weights are scored: every Conv2d and Linear, in module order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def compute(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """Per-parameter saliency of each weight layer, as float64 tensors."""
    return [s.detach().to(torch.float64) for s in get(name).fn(model, x, y)]


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [m.weight for _, m in weight_layers(model)]


def _grads(
    loss: torch.Tensor, weights: list[torch.Tensor], create_graph: bool = False
) -> list[torch.Tensor]:
    """dL/dw, with zeros for weights the loss does not reach (dead edges)."""
    grads = torch.autograd.grad(loss, weights, allow_unused=True, create_graph=create_graph)
    return [torch.zeros_like(w) if g is None else g for w, g in zip(weights, grads)]


@contextmanager
def batchnorm_bypassed(model: nn.Module) -> Iterator[None]:
    """Swap every BatchNorm for Identity while inside, as synflow prescribes."""
    swapped = []
    identity = nn.Identity()  # one stateless stand-in for all: building one each costs time
    for parent in model.modules():
        for key, child in parent.named_children():
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                swapped.append((parent, key, child))
                setattr(parent, key, identity)
    try:
        yield
    finally:
        for parent, key, child in swapped:
            setattr(parent, key, child)


# The input of synflow's scaled retry (see `synflow`); the NB201 engine always uses it.
SYNFLOW_INPUT_EXP = -70


@register("synflow", needs_data=False, dtype=torch.float64)
def synflow(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """|dR/dθ · θ| with R the summed output for an all-ones input, absolute weights and
    BatchNorm bypassed (Tanaka et al. 2020), in the model's dtype. Data-free: only x's
    shape is used. R reaches 1e48 on NB201, float32 ends at 3e38: the backward is seeded
    with 2^-e (e: R's binary exponent), so gradients stay near 1, and if the forward
    overflows, it is rerun on an input of 2^-70 (with |θ| every ReLU sees x >= 0, so the
    network is positively homogeneous in its input and R scales by 2^-70). Both are
    powers of two, undone exactly in float64. A network that is not homogeneous and
    overflows inside while R stays finite (TNB101 autoencoder/normal: a tanh head
    saturates) has no float32 answer: its statistics come out NaN; use float64 there."""
    params: list[torch.Tensor] = list(model.parameters())
    with torch.no_grad():
        signs = torch._foreach_sign(params)
        torch._foreach_abs_(params)
    try:
        with batchnorm_bypassed(model):
            weights = _weights(model)
            for input_exp in (0, SYNFLOW_INPUT_EXP):
                shape = (1, *x.shape[1:])
                ones = torch.full(shape, 2.0**input_exp, dtype=params[0].dtype, device=x.device)
                r = model(ones).sum()
                if torch.isfinite(r):
                    break
            exponent = int(torch.frexp(r.detach()).exponent) if torch.isfinite(r) else 0
            grads = _grads(r * 2.0**-exponent, weights)
            undo = 2.0 ** (exponent - input_exp)
            # in place after the product: a VGG-16 has 138M weights (1.1 GB a float64 copy)
            return [torch.mul(g, w).abs_().double().mul_(undo) for g, w in zip(grads, weights)]
    finally:
        with torch.no_grad():
            torch._foreach_mul_(params, signs)


@register("snip")
def snip(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """|dL/dθ · θ| for a cross-entropy loss on a labelled batch (Lee et al. 2019)."""
    weights = _weights(model)
    grads = _grads(F.cross_entropy(model(x), y), weights)
    return [(g * w).abs() for g, w in zip(grads, weights)]


@register("grasp", signed=True)
def grasp(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """-(H dL/dθ) · θ, the Hessian-gradient product of GraSP (Wang et al. 2020)."""
    weights = _weights(model)
    g = [t.detach() for t in _grads(F.cross_entropy(model(x), y), weights)]
    g_graph = _grads(F.cross_entropy(model(x), y), weights, create_graph=True)
    z = sum((a * b).sum() for a, b in zip(g_graph, g))
    if isinstance(z, torch.Tensor) and z.requires_grad:  # z is the int 0 with no weights
        hg = _grads(z, weights)
    else:
        hg = [torch.zeros_like(w) for w in weights]
    return [-(h * w) for h, w in zip(hg, weights)]


@register("grad_norm")
def grad_norm(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """|dL/dθ| per weight; its layer sums are L1 gradient norms (NASLib sums L2 norms)."""
    weights = _weights(model)
    return [g.abs() for g in _grads(F.cross_entropy(model(x), y), weights)]


@register("fisher")
def fisher(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """0.5 · mean over the batch of (Σ_spatial a·dL/da)² per output channel a of each layer
    (Turner et al. 2020): one value per channel, not per weight."""
    layers = [m for _, m in weight_layers(model)]
    acts: dict[nn.Module, torch.Tensor] = {}

    def keep(module: nn.Module, _inp: tuple, out: torch.Tensor) -> None:
        acts[module] = out

    hooks = [m.register_forward_hook(keep) for m in layers]
    try:
        loss = F.cross_entropy(model(x), y)
    finally:
        for h in hooks:
            h.remove()
    reached = [m for m in layers if m in acts and acts[m].requires_grad]
    grads = torch.autograd.grad(loss, [acts[m] for m in reached], allow_unused=True)
    by_layer = dict(zip(reached, grads))
    out = []
    for m in layers:
        a, g = acts.get(m), by_layer.get(m)
        channels = m.weight.shape[0]
        if a is None or g is None:
            out.append(torch.zeros(channels, dtype=torch.float64))
            continue
        prod = (a * g).double()
        per_sample = prod.sum(dim=(2, 3)) if prod.dim() == 4 else prod
        out.append(0.5 * per_sample.pow(2).mean(0))
    return out


def _register_measures() -> None:
    """Every per-network measure of `zero_cost` in this registry too, after the saliencies."""
    for m in zero_cost.MEASURES.values():
        dtype = torch.float32  # the authors' network precision; their linear algebra is float64
        REGISTRY[m.name] = Saliency(
            m.name, m.fn, m.protocol.data, dtype, m.doc, m.components, m.protocol.key(), m.head_free
        )


_register_measures()
